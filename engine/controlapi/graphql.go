// graphql.go is the GraphQL analytics API at /client/v4/graphql, in the hosted
// shape: viewer.accounts(filter: {accountTag}).aiGatewayRequestsAdaptiveGroups with its
// limit, filter and orderBy, the count, sum and dimensions blocks, answered from the
// analytics rollups (storage/analytics_groups.go) with graph-gophers/graphql-go. The
// dimensions selected decide the grouping. As a leniency the hosted documentation's
// own example needs, variables the request provides but the operation does not declare
// are declared for it (declareVariables).
package controlapi

import (
	"context"
	"fmt"
	"math"
	"reflect"
	"slices"
	"strings"
	"sync"
	"time"

	json "github.com/goccy/go-json"
	graphql "github.com/graph-gophers/graphql-go"
	"github.com/graph-gophers/graphql-go/ast"
	gqlerrors "github.com/graph-gophers/graphql-go/errors"
	"github.com/switchyard/switchyard/storage"
	"github.com/switchyard/switchyard/storage/config"
	"github.com/valyala/fasthttp"
)

// gqlSchemaText is the schema served. The scalar names are the hosted API's (string,
// bool, uint64, float64, Time, Date), so queries that declare their variables with them run
// unchanged; the orderBy enum and the time filters are filled in by gqlSchemaSource.
const gqlSchemaText = `
schema { query: Query }

scalar string
scalar bool
scalar uint64
scalar float64
scalar Time
scalar Date

type Query {
  viewer: Viewer!
}

type Viewer {
  "The accounts the filter names; an account the token may not read is an error."
  accounts(filter: AccountFilter_InputObject!): [Account!]!
}

input AccountFilter_InputObject {
  accountTag: string!
}

type Account {
  "Requests of the account's AI gateways, one group per distinct combination of the selected dimensions."
  aiGatewayRequestsAdaptiveGroups(limit: uint64!, filter: AccountAiGatewayRequestsAdaptiveGroupsFilter_InputObject, orderBy: [AccountAiGatewayRequestsAdaptiveGroupsOrderBy!]): [AccountAiGatewayRequestsAdaptiveGroups!]!
}

type AccountAiGatewayRequestsAdaptiveGroups {
  count: uint64!
  sum: AccountAiGatewayRequestsAdaptiveGroupsSum
  dimensions: AccountAiGatewayRequestsAdaptiveGroupsDimensions
}

type AccountAiGatewayRequestsAdaptiveGroupsSum {
  cost: float64!
  cachedTokensIn: uint64!
  cachedTokensOut: uint64!
  uncachedTokensIn: uint64!
  uncachedTokensOut: uint64!
  erroredRequests: uint64!
  cachedRequests: uint64!
}

type AccountAiGatewayRequestsAdaptiveGroupsDimensions {
  date: Date!
  datetimeMinute: Time!
  datetimeFiveMinutes: Time!
  datetimeFifteenMinutes: Time!
  datetimeHour: Time!
  gateway: string!
  provider: string!
  model: string!
}

input AccountAiGatewayRequestsAdaptiveGroupsFilter_InputObject {
%s
  gateway: string
  gateway_neq: string
  gateway_in: [string!]
  provider: string
  provider_neq: string
  provider_in: [string!]
  model: string
  model_neq: string
  model_in: [string!]
  cached: bool
  error: bool
}

enum AccountAiGatewayRequestsAdaptiveGroupsOrderBy {
%s
}
`

// gqlTimeDims are the time filters' dimensions: "datetime" is a request's start itself,
// compared at minute precision (the finest the rollups keep).
var gqlTimeDims = []string{"datetime", storage.DimMinute, storage.DimFive, storage.DimFifteen, storage.DimHour, storage.DimDate}

var gqlOps = []string{"geq", "gt", "leq", "lt"}

func gqlSchemaSource() string {
	var filter, order []string
	for _, d := range gqlTimeDims {
		typ := "Time"
		if d == storage.DimDate {
			typ = "Date"
		}
		for _, op := range gqlOps {
			filter = append(filter, fmt.Sprintf("  %s_%s: %s", d, op, typ))
		}
	}
	keys := []string{"count", storage.DimDate, storage.DimMinute, storage.DimFive, storage.DimFifteen, storage.DimHour,
		storage.DimGateway, storage.DimProvider, storage.DimModel}
	for _, f := range storage.GroupSumFields {
		keys = append(keys, "sum_"+f)
	}
	for _, k := range keys {
		order = append(order, "  "+k+"_ASC", "  "+k+"_DESC")
	}
	return fmt.Sprintf(gqlSchemaText, strings.Join(filter, "\n"), strings.Join(order, "\n"))
}

var gqlOnce = sync.OnceValues(func() (*graphql.Schema, map[string]string) {
	s := graphql.MustParseSchema(gqlSchemaSource(), &gqlQuery{},
		graphql.MaxDepth(12), graphql.MaxQueryLength(64<<10), graphql.MaxParallelism(4))
	return s, gqlPositionTypes(s.AST())
})

// ---- scalars ----

type gqlString string

func (gqlString) ImplementsGraphQLType(name string) bool { return name == "string" }
func (s *gqlString) UnmarshalGraphQL(in any) error {
	v, ok := in.(string)
	if !ok {
		return fmt.Errorf("a string is expected, not %v", in)
	}
	*s = gqlString(v)
	return nil
}
func (s gqlString) MarshalJSON() ([]byte, error) { return json.Marshal(string(s)) }

type gqlBool bool

func (gqlBool) ImplementsGraphQLType(name string) bool { return name == "bool" }
func (b *gqlBool) UnmarshalGraphQL(in any) error {
	v, ok := in.(bool)
	if !ok {
		return fmt.Errorf("true or false is expected, not %v", in)
	}
	*b = gqlBool(v)
	return nil
}
func (b gqlBool) MarshalJSON() ([]byte, error) { return json.Marshal(bool(b)) }

type gqlUint64 uint64

func (gqlUint64) ImplementsGraphQLType(name string) bool { return name == "uint64" }
func (u *gqlUint64) UnmarshalGraphQL(in any) error {
	var f float64
	switch v := in.(type) {
	case int32:
		f = float64(v)
	case int64:
		f = float64(v)
	case int:
		f = float64(v)
	case float64:
		f = v
	case json.Number:
		var err error
		if f, err = v.Float64(); err != nil {
			return err
		}
	default:
		return fmt.Errorf("an unsigned integer is expected, not %v", in)
	}
	if f < 0 || f != math.Trunc(f) || f > 1<<53 {
		return fmt.Errorf("an unsigned integer is expected, not %v", in)
	}
	*u = gqlUint64(f)
	return nil
}
func (u gqlUint64) MarshalJSON() ([]byte, error) { return json.Marshal(uint64(u)) }

type gqlFloat float64

func (gqlFloat) ImplementsGraphQLType(name string) bool { return name == "float64" }
func (f *gqlFloat) UnmarshalGraphQL(in any) error {
	switch v := in.(type) {
	case float64:
		*f = gqlFloat(v)
	case int32:
		*f = gqlFloat(v)
	default:
		return fmt.Errorf("a number is expected, not %v", in)
	}
	return nil
}
func (f gqlFloat) MarshalJSON() ([]byte, error) { return json.Marshal(float64(f)) }

// gqlTime is an RFC 3339 time (fractions allowed), shown in UTC.
type gqlTime struct{ time.Time }

func (gqlTime) ImplementsGraphQLType(name string) bool { return name == "Time" }
func (t *gqlTime) UnmarshalGraphQL(in any) error {
	s, ok := in.(string)
	if !ok {
		return fmt.Errorf("an RFC 3339 time is expected, not %v", in)
	}
	v, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return fmt.Errorf("an RFC 3339 time is expected (2025-03-01T10:00:00Z), not %q", s)
	}
	t.Time = v.UTC()
	return nil
}
func (t gqlTime) MarshalJSON() ([]byte, error) { return json.Marshal(t.UTC().Format(time.RFC3339)) }

// gqlDate is a UTC day, 2006-01-02.
type gqlDate struct{ time.Time }

func (gqlDate) ImplementsGraphQLType(name string) bool { return name == "Date" }
func (d *gqlDate) UnmarshalGraphQL(in any) error {
	s, ok := in.(string)
	if !ok {
		return fmt.Errorf("a date (2006-01-02) is expected, not %v", in)
	}
	v, err := time.Parse(time.DateOnly, s)
	if err != nil {
		return fmt.Errorf("a date (2006-01-02) is expected, not %q", s)
	}
	d.Time = v
	return nil
}
func (d gqlDate) MarshalJSON() ([]byte, error) { return json.Marshal(d.Format(time.DateOnly)) }

// ---- resolvers ----

// gqlCall is what the resolvers need of the request, carried in the context.
type gqlCall struct {
	s   *API
	who config.Principal
}

type gqlCallKey struct{}

func callOf(ctx context.Context) *gqlCall { c, _ := ctx.Value(gqlCallKey{}).(*gqlCall); return c }

// gqlError is a resolver error with the hosted API's extensions.code.
type gqlError struct{ msg, code string }

func (e *gqlError) Error() string                  { return e.msg }
func (e *gqlError) Extensions() map[string]any     { return map[string]any{"code": e.code} }
func gqlErrorf(code, f string, a ...any) *gqlError { return &gqlError{fmt.Sprintf(f, a...), code} }

type gqlQuery struct{}

func (gqlQuery) Viewer() gqlViewer { return gqlViewer{} }

type gqlViewer struct{}

func (gqlViewer) Accounts(ctx context.Context, args struct {
	Filter struct{ AccountTag gqlString }
}) ([]gqlAccount, error) {
	c := callOf(ctx)
	acct := string(args.Filter.AccountTag)
	if c == nil || !config.ValidID(acct) || !c.who.Can(config.PermRead, acct, "") {
		return nil, gqlErrorf("authz", "not authorized for that account")
	}
	return []gqlAccount{{acct}}, nil
}

type gqlAccount struct{ id string }

// gqlGroupsFilter is the dataset's filter. The time fields carry their dimension and
// operator in tags; they are read by reflection (timeRange).
type gqlGroupsFilter struct {
	DatetimeGeq               *gqlTime `dim:"datetime" op:"geq"`
	DatetimeGt                *gqlTime `dim:"datetime" op:"gt"`
	DatetimeLeq               *gqlTime `dim:"datetime" op:"leq"`
	DatetimeLt                *gqlTime `dim:"datetime" op:"lt"`
	DatetimeMinuteGeq         *gqlTime `dim:"datetimeMinute" op:"geq"`
	DatetimeMinuteGt          *gqlTime `dim:"datetimeMinute" op:"gt"`
	DatetimeMinuteLeq         *gqlTime `dim:"datetimeMinute" op:"leq"`
	DatetimeMinuteLt          *gqlTime `dim:"datetimeMinute" op:"lt"`
	DatetimeFiveMinutesGeq    *gqlTime `dim:"datetimeFiveMinutes" op:"geq"`
	DatetimeFiveMinutesGt     *gqlTime `dim:"datetimeFiveMinutes" op:"gt"`
	DatetimeFiveMinutesLeq    *gqlTime `dim:"datetimeFiveMinutes" op:"leq"`
	DatetimeFiveMinutesLt     *gqlTime `dim:"datetimeFiveMinutes" op:"lt"`
	DatetimeFifteenMinutesGeq *gqlTime `dim:"datetimeFifteenMinutes" op:"geq"`
	DatetimeFifteenMinutesGt  *gqlTime `dim:"datetimeFifteenMinutes" op:"gt"`
	DatetimeFifteenMinutesLeq *gqlTime `dim:"datetimeFifteenMinutes" op:"leq"`
	DatetimeFifteenMinutesLt  *gqlTime `dim:"datetimeFifteenMinutes" op:"lt"`
	DatetimeHourGeq           *gqlTime `dim:"datetimeHour" op:"geq"`
	DatetimeHourGt            *gqlTime `dim:"datetimeHour" op:"gt"`
	DatetimeHourLeq           *gqlTime `dim:"datetimeHour" op:"leq"`
	DatetimeHourLt            *gqlTime `dim:"datetimeHour" op:"lt"`
	DateGeq                   *gqlDate `dim:"date" op:"geq"`
	DateGt                    *gqlDate `dim:"date" op:"gt"`
	DateLeq                   *gqlDate `dim:"date" op:"leq"`
	DateLt                    *gqlDate `dim:"date" op:"lt"`

	Gateway, GatewayNeq, Provider, ProviderNeq, Model, ModelNeq *gqlString
	GatewayIn, ProviderIn, ModelIn                              *[]gqlString
	Cached, Error                                               *gqlBool
}

// timeRange turns the time filters into one range [start, end) of request start times
// (zero: unbounded). A filter on a dimension compares the request's time truncated to it:
// datetimeHour_leq: 10:00 keeps requests up to 10:59:59.
func (f *gqlGroupsFilter) timeRange() (start, end time.Time) {
	ceil := func(t time.Time, w time.Duration) time.Time {
		if u := t.Truncate(w); u.Before(t) {
			return u.Add(w)
		}
		return t
	}
	v := reflect.ValueOf(f).Elem()
	for i := range v.NumField() {
		sf := v.Type().Field(i)
		dim, op := sf.Tag.Get("dim"), sf.Tag.Get("op")
		if dim == "" || v.Field(i).IsNil() {
			continue
		}
		var t time.Time
		switch x := v.Field(i).Interface().(type) {
		case *gqlTime:
			t = x.Time
		case *gqlDate:
			t = x.Time
		}
		w := storage.GroupTimeDims[dim]
		var lo, hi time.Time
		switch {
		case w == 0 && op == "geq": // datetime: the range is moved out to whole minutes
			lo = t
		case w == 0 && op == "gt":
			lo = t.Add(time.Nanosecond)
		case w == 0 && op == "leq":
			hi = t.Add(time.Nanosecond)
		case w == 0 && op == "lt":
			hi = t
		case op == "geq":
			lo = ceil(t, w)
		case op == "gt":
			lo = t.Truncate(w).Add(w)
		case op == "leq":
			hi = t.Truncate(w).Add(w)
		case op == "lt":
			hi = ceil(t, w)
		}
		if !lo.IsZero() && lo.After(start) {
			start = lo
		}
		if !hi.IsZero() && (end.IsZero() || hi.Before(end)) {
			end = hi
		}
	}
	if start.IsZero() && !end.IsZero() && !end.After(time.Unix(0, 0)) {
		start = end // nothing before 1970
	}
	return start, end
}

// matcher combines the eq, neq and in filters of one dimension (nil: all).
func matcher(eq, neq *gqlString, in *[]gqlString) func(string) bool {
	if eq == nil && neq == nil && in == nil {
		return nil
	}
	return func(s string) bool {
		return (eq == nil || s == string(*eq)) && (neq == nil || s != string(*neq)) &&
			(in == nil || slices.Contains(*in, gqlString(s)))
	}
}

// GroupsReader answers the adaptive-groups queries (storage.Analytics); the node's
// AnalyticsReader provides it.
type GroupsReader interface {
	Groups(q storage.GroupsQuery) ([]storage.Group, error)
}

type gqlGroupsArgs struct {
	Limit   gqlUint64
	Filter  *gqlGroupsFilter
	OrderBy *[]string
}

func (a gqlAccount) AiGatewayRequestsAdaptiveGroups(ctx context.Context, args gqlGroupsArgs) ([]gqlGroup, error) {
	c := callOf(ctx)
	reader, _ := c.s.opts.Analytics.(GroupsReader)
	if reader == nil {
		return nil, gqlErrorf("unavailable", "analytics are not available on this node")
	}
	if args.Limit > storage.MaxGroups {
		return nil, gqlErrorf("invalid", "limit must be at most %d", storage.MaxGroups)
	}
	q := storage.GroupsQuery{AccountID: a.id, Limit: int(args.Limit),
		Gateways: func(gw string) bool { return c.who.Can(config.PermRead, a.id, gw) }}
	if args.Limit == 0 {
		return []gqlGroup{}, nil
	}
	if f := args.Filter; f != nil {
		q.Start, q.End = f.timeRange()
		if !q.End.IsZero() && !q.End.After(q.Start) {
			return []gqlGroup{}, nil
		}
		q.Gateway = matcher(f.Gateway, f.GatewayNeq, f.GatewayIn)
		q.Provider = matcher(f.Provider, f.ProviderNeq, f.ProviderIn)
		q.Model = matcher(f.Model, f.ModelNeq, f.ModelIn)
		if f.Cached != nil {
			q.Cached = (*bool)(f.Cached)
		}
		if f.Error != nil {
			q.Error = (*bool)(f.Error)
		}
	}
	for _, name := range graphql.SelectedFieldNames(ctx) {
		if d, ok := strings.CutPrefix(name, "dimensions."); ok && !slices.Contains(q.Dims, d) {
			q.Dims = append(q.Dims, d)
		}
	}
	if args.OrderBy != nil {
		for _, o := range *args.OrderBy {
			field, desc := strings.CutSuffix(o, "_DESC")
			field = strings.TrimSuffix(field, "_ASC")
			q.OrderBy = append(q.OrderBy, storage.GroupOrder{Field: field, Desc: desc})
		}
	}
	groups, err := reader.Groups(q)
	if err != nil {
		if qe, ok := err.(*storage.QueryError); ok {
			return nil, gqlErrorf("invalid", "%s", qe.Message)
		}
		c.s.opts.Logger.Error("graphql analytics", "err", err)
		return nil, gqlErrorf("internal", "the analytics store could not be read")
	}
	out := make([]gqlGroup, len(groups))
	for i := range groups {
		out[i] = gqlGroup{&groups[i]}
	}
	return out, nil
}

type gqlGroup struct{ g *storage.Group }

func (g gqlGroup) Count() gqlUint64              { return gqlUint64(g.g.Count) }
func (g gqlGroup) Sum() *gqlGroupSum             { return &gqlGroupSum{&g.g.Sum} }
func (g gqlGroup) Dimensions() *gqlGroupDims     { return &gqlGroupDims{g.g} }
func (g gqlGroupDims) dim(name string) gqlString { return gqlString(g.g.Dim(name)) }

type gqlGroupSum struct{ s *storage.GroupSums }

func (s gqlGroupSum) Cost() gqlFloat               { return gqlFloat(s.s.Cost) }
func (s gqlGroupSum) CachedTokensIn() gqlUint64    { return gqlUint64(s.s.CachedTokensIn) }
func (s gqlGroupSum) CachedTokensOut() gqlUint64   { return gqlUint64(s.s.CachedTokensOut) }
func (s gqlGroupSum) UncachedTokensIn() gqlUint64  { return gqlUint64(s.s.UncachedTokensIn) }
func (s gqlGroupSum) UncachedTokensOut() gqlUint64 { return gqlUint64(s.s.UncachedTokensOut) }
func (s gqlGroupSum) ErroredRequests() gqlUint64   { return gqlUint64(s.s.ErroredRequests) }
func (s gqlGroupSum) CachedRequests() gqlUint64    { return gqlUint64(s.s.CachedRequests) }

type gqlGroupDims struct{ g *storage.Group }

func (g gqlGroupDims) t(w time.Duration) gqlTime { return gqlTime{g.g.Time.Truncate(w)} }
func (g gqlGroupDims) Date() gqlDate             { return gqlDate{g.g.Time.Truncate(24 * time.Hour)} }
func (g gqlGroupDims) DatetimeMinute() gqlTime   { return g.t(time.Minute) }
func (g gqlGroupDims) DatetimeFiveMinutes() gqlTime {
	return g.t(5 * time.Minute)
}
func (g gqlGroupDims) DatetimeFifteenMinutes() gqlTime { return g.t(15 * time.Minute) }
func (g gqlGroupDims) DatetimeHour() gqlTime           { return g.t(time.Hour) }
func (g gqlGroupDims) Gateway() gqlString              { return g.dim(storage.DimGateway) }
func (g gqlGroupDims) Provider() gqlString             { return g.dim(storage.DimProvider) }
func (g gqlGroupDims) Model() gqlString                { return g.dim(storage.DimModel) }

// ---- HTTP ----

type gqlResponse struct {
	Data   json.RawMessage         `json:"data"`
	Errors []*gqlerrors.QueryError `json:"errors"`
}

func gqlFail(ctx *fasthttp.RequestCtx, status int, msg string) {
	writeJSON(ctx, status, gqlResponse{Errors: []*gqlerrors.QueryError{{Message: msg}}})
}

// graphqlEndpoint answers POST /client/v4/graphql (a JSON body with query, variables and
// operationName) and GET with the same as query parameters (variables as JSON). Errors in
// the query are answered with 200 and "errors", as GraphQL servers do.
func (s *API) graphqlEndpoint(ctx *fasthttp.RequestCtx, who config.Principal) {
	var req struct {
		Query         string         `json:"query"`
		OperationName string         `json:"operationName"`
		Variables     map[string]any `json:"variables"`
	}
	switch string(ctx.Method()) {
	case "POST":
		if len(ctx.Request.Body()) > maxControlBody {
			gqlFail(ctx, 413, "request body is larger than 1 MB")
			return
		}
		if err := json.Unmarshal(ctx.Request.Body(), &req); err != nil {
			gqlFail(ctx, 400, "the body must be a JSON object with query, variables and operationName: "+err.Error())
			return
		}
	case "GET":
		args := ctx.QueryArgs()
		req.Query, req.OperationName = string(args.Peek("query")), string(args.Peek("operationName"))
		if v := args.Peek("variables"); len(v) > 0 {
			if err := json.Unmarshal(v, &req.Variables); err != nil {
				gqlFail(ctx, 400, "variables must be a JSON object: "+err.Error())
				return
			}
		}
	default:
		ctx.Response.Header.Set("Allow", "GET, POST")
		gqlFail(ctx, 405, "use POST (or GET) on /client/v4/graphql")
		return
	}
	if strings.TrimSpace(req.Query) == "" {
		gqlFail(ctx, 400, "a query is required")
		return
	}
	schema, types := gqlOnce()
	query := declareVariables(req.Query, req.Variables, types)
	c := context.WithValue(context.Background(), gqlCallKey{}, &gqlCall{s: s, who: who})
	res := schema.Exec(c, query, req.OperationName, req.Variables)
	out := gqlResponse{Data: res.Data, Errors: res.Errors}
	if len(out.Data) == 0 {
		out.Data = json.RawMessage("null")
	}
	writeJSON(ctx, 200, out)
}

// ---- undeclared variables ----

// gqlPositionTypes maps every argument and input field name of the schema to its type,
// for declareVariables. A name with different types in different places maps to "".
func gqlPositionTypes(s *ast.Schema) map[string]string {
	m := map[string]string{}
	add := func(name, typ string) {
		if old, seen := m[name]; seen && old != typ {
			typ = ""
		}
		m[name] = typ
	}
	for _, t := range s.Types {
		switch t := t.(type) {
		case *ast.ObjectTypeDefinition:
			for _, f := range t.Fields {
				for _, a := range f.Arguments {
					add(a.Name.Name, a.Type.String())
				}
			}
		case *ast.InputObject:
			for _, v := range t.Values {
				add(v.Name.Name, v.Type.String())
			}
		}
	}
	return m
}

type gqlToken struct {
	text     string // a name, a punctuator ("...", "$", "{"...), or a value's text
	name     bool
	pos, end int
}

// gqlLex splits a GraphQL document into tokens, dropping white space, commas and
// comments. It reports false on a character GraphQL does not have.
func gqlLex(src string) ([]gqlToken, bool) {
	var toks []gqlToken
	isName := func(c byte, first bool) bool {
		return c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || !first && c >= '0' && c <= '9'
	}
	for i := 0; i < len(src); {
		c := src[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == ',':
			i++
		case strings.HasPrefix(src[i:], "\ufeff"):
			i += 3
		case c == '#':
			for i < len(src) && src[i] != '\n' && src[i] != '\r' {
				i++
			}
		case strings.HasPrefix(src[i:], "..."):
			toks = append(toks, gqlToken{text: "...", pos: i, end: i + 3})
			i += 3
		case strings.IndexByte("!$&():=@[]{}|", c) >= 0:
			toks = append(toks, gqlToken{text: string(c), pos: i, end: i + 1})
			i++
		case isName(c, true):
			j := i + 1
			for j < len(src) && isName(src[j], false) {
				j++
			}
			toks = append(toks, gqlToken{text: src[i:j], name: true, pos: i, end: j})
			i = j
		case c == '-' || c >= '0' && c <= '9':
			j := i + 1
			for j < len(src) && (src[j] >= '0' && src[j] <= '9' || strings.IndexByte(".eE+-", src[j]) >= 0) {
				j++
			}
			toks = append(toks, gqlToken{text: src[i:j], pos: i, end: j})
			i = j
		case strings.HasPrefix(src[i:], `"""`):
			j := i + 3
			for j < len(src) && !strings.HasPrefix(src[j:], `"""`) {
				if strings.HasPrefix(src[j:], `\"""`) {
					j += 4
					continue
				}
				j++
			}
			if j >= len(src) {
				return nil, false
			}
			toks = append(toks, gqlToken{text: src[i : j+3], pos: i, end: j + 3})
			i = j + 3
		case c == '"':
			j := i + 1
			for j < len(src) && src[j] != '"' && src[j] != '\n' {
				if src[j] == '\\' {
					j++
				}
				j++
			}
			if j >= len(src) || src[j] != '"' {
				return nil, false
			}
			toks = append(toks, gqlToken{text: src[i : j+1], pos: i, end: j + 1})
			i = j + 1
		default:
			return nil, false
		}
	}
	return toks, true
}

// declareVariables is a leniency for the hosted documentation's example query, which
// uses $limit, $start and $end without declaring them. For each operation it declares
// every variable that the operation (or a fragment it spreads) uses without declaring
// and that variables provides. The type is the one of the argument or input field the
// variable is the value of (types maps names to types; the element type in a list), or,
// when that is unknown, one inferred from the JSON value (Int, Float, String, Boolean, or
// a list of those). A document it cannot read is returned unchanged: the parser then
// reports what is wrong with it.
func declareVariables(query string, variables map[string]any, types map[string]string) string {
	if len(variables) == 0 || !strings.Contains(query, "$") {
		return query
	}
	toks, ok := gqlLex(query)
	if !ok {
		return query
	}
	// matching finds the token closing the bracket opened at toks[i].
	matching := func(i int) int {
		open, depth := toks[i].text, 0
		close := map[string]string{"{": "}", "(": ")", "[": "]"}[open]
		for j := i; j < len(toks); j++ {
			switch toks[j].text {
			case open:
				depth++
			case close:
				if depth--; depth == 0 {
					return j
				}
			}
		}
		return -1
	}
	type use struct {
		name, typ string
	}
	// uses lists the variables used in toks[from:to] with the type of their position,
	// and the fragments spread there.
	uses := func(from, to int) (vars []use, spreads []string) {
		for k := from; k < to; k++ {
			switch {
			case toks[k].text == "$" && k+1 < to && toks[k+1].name:
				vars = append(vars, use{toks[k+1].text, positionType(toks, k, types)})
				k++
			case toks[k].text == "..." && k+1 < to && toks[k+1].name && toks[k+1].text != "on":
				spreads = append(spreads, toks[k+1].text)
			}
		}
		return vars, spreads
	}
	type op struct {
		keyword            int // index of query/mutation/subscription, -1 for the shorthand
		name, defOpen      int // indexes, -1 when absent
		defClose, bodyOpen int
		declared           map[string]bool
		vars               []use
		spreads            []string
	}
	var ops []op
	fragVars := map[string][]use{}
	fragSpreads := map[string][]string{}
	for i := 0; i < len(toks); {
		t := toks[i]
		switch {
		case t.text == "{":
			end := matching(i)
			if end < 0 {
				return query
			}
			o := op{keyword: -1, name: -1, defOpen: -1, defClose: -1, bodyOpen: i, declared: map[string]bool{}}
			o.vars, o.spreads = uses(i, end)
			ops = append(ops, o)
			i = end + 1
		case t.name && (t.text == "query" || t.text == "mutation" || t.text == "subscription"):
			o := op{keyword: i, name: -1, defOpen: -1, defClose: -1, declared: map[string]bool{}}
			j := i + 1
			if j < len(toks) && toks[j].name {
				o.name = j
				j++
			}
			if j < len(toks) && toks[j].text == "(" {
				o.defOpen, o.defClose = j, matching(j)
				if o.defClose < 0 {
					return query
				}
				for k := j; k < o.defClose; k++ {
					if toks[k].text == "$" && toks[k+1].name {
						o.declared[toks[k+1].text] = true
					}
				}
				j = o.defClose + 1
			}
			for j < len(toks) && toks[j].text != "{" { // directives
				j++
			}
			if j >= len(toks) {
				return query
			}
			end := matching(j)
			if end < 0 {
				return query
			}
			o.bodyOpen = j
			o.vars, o.spreads = uses(j, end)
			// Directives on the operation may use variables too.
			dv, _ := uses(max(o.defClose, o.name, i)+1, j)
			o.vars = append(o.vars, dv...)
			ops = append(ops, o)
			i = end + 1
		case t.name && t.text == "fragment" && i+1 < len(toks) && toks[i+1].name:
			j := i + 2
			for j < len(toks) && toks[j].text != "{" {
				j++
			}
			if j >= len(toks) {
				return query
			}
			end := matching(j)
			if end < 0 {
				return query
			}
			fragVars[toks[i+1].text], fragSpreads[toks[i+1].text] = uses(i+2, end)
			i = end + 1
		default:
			return query
		}
	}
	type edit struct {
		at   int
		text string
	}
	var edits []edit
	for _, o := range ops {
		all := slices.Clone(o.vars)
		seen := map[string]bool{}
		for queue := slices.Clone(o.spreads); len(queue) > 0; queue = queue[1:] {
			f := queue[0]
			if seen[f] {
				continue
			}
			seen[f] = true
			all = append(all, fragVars[f]...)
			queue = append(queue, fragSpreads[f]...)
		}
		var decls []string
		done := map[string]bool{}
		for _, u := range all {
			if o.declared[u.name] || done[u.name] {
				continue
			}
			v, provided := variables[u.name]
			if !provided {
				continue
			}
			typ := u.typ
			for _, w := range all { // another use may know the position's type
				if typ == "" && w.name == u.name {
					typ = w.typ
				}
			}
			if typ == "" {
				typ = jsonType(v)
			}
			if typ == "" {
				continue
			}
			done[u.name] = true
			decls = append(decls, "$"+u.name+": "+typ)
		}
		if len(decls) == 0 {
			continue
		}
		list := strings.Join(decls, ", ")
		switch {
		case o.defOpen >= 0:
			edits = append(edits, edit{toks[o.defClose].pos, ", " + list})
		case o.keyword < 0:
			edits = append(edits, edit{toks[o.bodyOpen].pos, "query (" + list + ") "})
		case o.name >= 0:
			edits = append(edits, edit{toks[o.name].end, "(" + list + ")"})
		default:
			edits = append(edits, edit{toks[o.keyword].end, " (" + list + ")"})
		}
	}
	for i := len(edits) - 1; i >= 0; i-- {
		e := edits[i]
		query = query[:e.at] + e.text + query[e.at:]
	}
	return query
}

// positionType is the type expected where the variable at toks[k] ("$") stands: the type
// of the argument or input field "name: $v", or the element type of "name: [..., $v]".
func positionType(toks []gqlToken, k int, types map[string]string) string {
	if k >= 2 && toks[k-1].text == ":" && toks[k-2].name {
		return types[toks[k-2].text]
	}
	j := k - 1
	for j >= 0 && toks[j].text != "[" && toks[j].text != ":" && toks[j].text != "{" && toks[j].text != "(" && toks[j].text != "]" {
		j--
	}
	if j >= 2 && toks[j].text == "[" && toks[j-1].text == ":" && toks[j-2].name {
		t := types[toks[j-2].text]
		if strings.HasPrefix(t, "[") {
			inner := strings.TrimSuffix(t, "!")
			return strings.TrimSuffix(strings.TrimPrefix(inner, "["), "]")
		}
	}
	return ""
}

// jsonType is the GraphQL type of a JSON value, "" for objects and nulls.
func jsonType(v any) string {
	switch x := v.(type) {
	case bool:
		return "Boolean"
	case string:
		return "String"
	case float64:
		if x == math.Trunc(x) && math.Abs(x) < 1<<31 {
			return "Int"
		}
		return "Float"
	case json.Number:
		if _, err := x.Int64(); err == nil {
			return "Int"
		}
		return "Float"
	case []any:
		if len(x) == 0 {
			return "[String]"
		}
		if t := jsonType(x[0]); t != "" {
			return "[" + t + "]"
		}
	}
	return ""
}
