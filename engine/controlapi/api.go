// Package controlapi is the control API under /client/v4/: gateways, provider keys,
// custom providers, API tokens, logs, analytics (REST and GraphQL), datasets and
// evaluations, dynamic routes and DLP profiles, in the hosted API's envelope and field
// names (cloudflare-go v7 ai_gateway types). The data plane's front end (engine/server)
// hands it every /client/v4/ request. It reads the configuration snapshot and the
// projections, and writes through storage/config; it never touches a request in flight.
//
// api.go: the API type, who may call what (tokens and permissions) and the routing table.
// The configuration resources are in resources.go, the logs in logs.go.
package controlapi

import (
	"context"
	"errors"
	"log/slog"
	"strconv"
	"strings"
	"time"

	json "github.com/goccy/go-json"
	"github.com/switchyard/switchyard/engine/providers"
	"github.com/switchyard/switchyard/storage"
	"github.com/switchyard/switchyard/storage/config"
	"github.com/valyala/fasthttp"
)

// LogReader is what the control API reads logs from (storage.Logs).
type LogReader interface {
	List(q storage.LogQuery) ([]storage.LogRecord, int, error)
	Get(acct, gw, id string) (storage.LogRecord, error)
	KeyLastUsed(keyID string) (time.Time, bool)
}

// PayloadSource reads request bodies back from the event log: the event at a stream
// sequence, and bodies kept in the payload object store.
type PayloadSource interface {
	EventAt(ctx context.Context, seq uint64) ([]byte, error)
	GetPayload(ctx context.Context, name string) ([]byte, error)
}

// Options configures the control API.
type Options struct {
	// Config is the configuration: its snapshot to read, its service to write.
	Config *config.Service
	// AdminToken is the bootstrap admin token (all permissions on every account).
	AdminToken string
	// Providers are the built-in providers (the gateway URL endpoint checks a slug).
	Providers providers.Table
	Logs      LogReader
	Payloads  PayloadSource
	// Events appends the control API's log events (log.feedback, logs.deleted);
	// LogsApplied waits until the logs projection has applied a sequence (read your writes).
	Events      EventPublisher
	LogsApplied func(ctx context.Context, seq uint64) error
	// LogsCaughtUp waits until the logs projection has applied every event in the log (a
	// log id another node answered with is then readable here); nil: no wait.
	LogsCaughtUp func(ctx context.Context) error
	// Analytics answers the analytics API from the rollup projection (storage.Analytics).
	Analytics AnalyticsReader
	Logger    *slog.Logger
}

// API is the control API's handler.
type API struct {
	opts Options
}

// New builds the control API.
func New(o Options) *API {
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	return &API{opts: o}
}

// Handle answers one /client/v4/ request.
func (s *API) Handle(ctx *fasthttp.RequestCtx) {
	s.control(ctx, string(ctx.URI().PathOriginal()))
}

// Control-plane error codes: the hosted API's 10000 (authentication) and 9109 (not
// allowed), the custom-provider codes of storage/config, and our 7xxx.
const (
	codeAuth       = 10000
	codeForbidden  = 9109
	codeNotFound   = config.CodeNotFound
	codeBadRequest = config.CodeInvalid
	codeInternal   = config.CodeWriteFailed
	maxControlBody = 1 << 20
)

type apiError struct {
	Code    int      `json:"code"`
	Message string   `json:"message"`
	Path    []string `json:"path,omitempty"`
}

// apiMessage is one entry of the envelope's messages, in the hosted shape (cloudflare-go's
// shared.ResponseInfo: code and message): something the caller should know about a call
// that succeeded.
type apiMessage struct {
	Code    int    `json:"code"`
	Message string `json:"message"`
}

// Codes of the envelope's messages (documented in the README, control plane).
const (
	msgNotActedOn = 7101 // a setting is stored but this gateway does not act on it (yet)
	msgAdjusted   = 7102 // a value the hosted API takes is accepted, and means less here
	msgDraft      = 7103 // a route version is kept as a draft: its problems follow
)

type envelope struct {
	Success    bool         `json:"success"`
	Errors     []apiError   `json:"errors"`
	Messages   []apiMessage `json:"messages"`
	Result     any          `json:"result"`
	ResultInfo *resultInfo  `json:"result_info,omitempty"`
}

type resultInfo struct {
	Page       int `json:"page"`
	PerPage    int `json:"per_page"`
	Count      int `json:"count"`
	TotalCount int `json:"total_count"`
	TotalPages int `json:"total_pages"`
}

func newResultInfo(page, perPage, count, total int) *resultInfo {
	return &resultInfo{Page: page, PerPage: perPage, Count: count, TotalCount: total, TotalPages: (total + perPage - 1) / perPage}
}

func writeJSON(ctx *fasthttp.RequestCtx, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		status, b = 500, []byte(`{"success":false,"errors":[{"code":7500,"message":"encoding failed"}],"messages":[],"result":null}`)
	}
	ctx.SetStatusCode(status)
	ctx.SetContentType("application/json")
	ctx.SetBody(b)
}

func ok(ctx *fasthttp.RequestCtx, result any) {
	okWith(ctx, result, nil)
}

// okWith answers a result with messages (none: an empty list, as hosted).
func okWith(ctx *fasthttp.RequestCtx, result any, messages []apiMessage) {
	if messages == nil {
		messages = []apiMessage{}
	}
	writeJSON(ctx, 200, envelope{Success: true, Errors: []apiError{}, Messages: messages, Result: result})
}

func apiFail(ctx *fasthttp.RequestCtx, status, code int, msg string, path ...string) {
	writeJSON(ctx, status, envelope{Errors: []apiError{{Code: code, Message: msg, Path: path}}, Messages: []apiMessage{}})
}

// fail answers a service error (with the field at fault) or an internal one.
func (s *API) fail(ctx *fasthttp.RequestCtx, err error) {
	var ce *config.Error
	if errors.As(err, &ce) {
		if ce.Status >= 500 {
			s.opts.Logger.Error("control api write failed", "err", err)
		}
		apiFail(ctx, ce.Status, ce.Code, ce.Message, ce.Path...)
		return
	}
	s.opts.Logger.Error("control api error", "err", err)
	apiFail(ctx, 500, codeInternal, "internal error")
}

// route is one control endpoint: the permission it needs and whether it is about one gateway.
type route struct {
	perm    string // the permission it needs; permAnyToken: any token of the account
	gateway string // the gateway the call is about, for gateway-scoped tokens
	handle  func()
}

// permAnyToken marks an endpoint any token of the account may call (tokens/verify).
const permAnyToken = "any"

// control authenticates the caller, finds the endpoint and checks the permission.
func (s *API) control(ctx *fasthttp.RequestCtx, path string) {
	snap := s.opts.Config.Projection().Current()
	v, hasBearer := config.Bearer(ctx.Request.Header.Peek("Authorization"))
	who, known := snap.Identify(s.opts.AdminToken, v)
	if !hasBearer || !known {
		apiFail(ctx, 401, codeAuth, "Authentication error: a valid Authorization: Bearer <api token> header is required", "header", "Authorization")
		return
	}
	p := strings.Split(strings.Trim(strings.TrimPrefix(path, "/client/v4/"), "/"), "/")
	if len(p) == 1 && p[0] == "graphql" {
		s.graphqlEndpoint(ctx, who) // graphql.go: the account is in the query
		return
	}
	if len(p) < 3 || p[0] != "accounts" || !config.ValidID(p[1]) {
		apiFail(ctx, 404, codeNotFound, "no route for "+path, "path")
		return
	}
	if ctx.Request.Header.ContentLength() > maxControlBody {
		apiFail(ctx, 413, codeBadRequest, "request body is larger than 1 MB", "body")
		return
	}
	acct := p[1]
	r := s.routeFor(ctx, who, acct, p[2:])
	if r == nil {
		apiFail(ctx, 404, codeNotFound, "no route for "+string(ctx.Method())+" "+path, "path")
		return
	}
	if r.perm == permAnyToken {
		if !who.Admin && who.Token.AccountID != acct {
			apiFail(ctx, 403, codeForbidden, "Unauthorized to access requested resource: the token belongs to another account", "header", "Authorization")
			return
		}
	} else if !who.Can(r.perm, acct, r.gateway) {
		apiFail(ctx, 403, codeForbidden, "Unauthorized to access requested resource: the token needs "+r.perm+" permission on this account"+scopeNote(r.gateway), "header", "Authorization")
		return
	}
	r.handle()
}

func scopeNote(gw string) string {
	if gw == "" {
		return ""
	}
	return " and gateway " + gw
}

// routeFor maps method and path (after accounts/{acct}/) onto an endpoint.
func (s *API) routeFor(ctx *fasthttp.RequestCtx, who config.Principal, acct string, p []string) *route {
	m := string(ctx.Method())
	body := func() []byte { return ctx.Request.Body() }
	read := func(gw string, h func()) *route { return &route{perm: config.PermRead, gateway: gw, handle: h} }
	edit := func(gw string, h func()) *route { return &route{perm: config.PermEdit, gateway: gw, handle: h} }
	admin := func(h func()) *route { return &route{perm: config.PermAdmin, handle: h} }
	switch {
	case len(p) == 1 && p[0] == "tokens":
		switch m {
		case "GET":
			return admin(func() { s.listTokens(ctx, acct) })
		case "POST":
			return admin(func() { s.createToken(ctx, who, acct, body()) })
		}
	case len(p) == 2 && p[0] == "tokens" && p[1] == "verify":
		if m == "GET" {
			return &route{perm: permAnyToken, handle: func() { s.verifyToken(ctx, who) }}
		}
	case len(p) == 2 && p[0] == "tokens":
		if m == "DELETE" {
			return admin(func() { s.revokeToken(ctx, who, acct, p[1]) })
		}
	case len(p) == 1 && p[0] == "audit_logs":
		if m == "GET" {
			return admin(func() { s.auditLogs(ctx, acct) })
		}
	case p[0] == "dlp":
		return s.dlpRoute(ctx, who, acct, p) // dlp.go
	case len(p) < 2 || p[0] != "ai-gateway":
		return nil
	case p[1] == "custom-providers" && len(p) <= 3:
		if len(p) == 2 {
			switch m {
			case "GET":
				return read("", func() { s.listCustomProviders(ctx, acct) })
			case "POST":
				return edit("", func() { s.writeCustom(ctx, who, acct, "", body()) })
			}
			return nil
		}
		id := p[2]
		switch m {
		case "GET":
			return read("", func() { s.getCustomProvider(ctx, acct, id) })
		case "PATCH", "PUT":
			return edit("", func() { s.writeCustom(ctx, who, acct, id, body()) })
		case "DELETE":
			return edit("", func() { s.deleteCustom(ctx, who, acct, id) })
		}
	case p[1] == "evaluation-types" && len(p) == 2:
		if m == "GET" {
			return read("", func() { s.listEvaluationTypes(ctx) })
		}
	case p[1] == "analytics" && len(p) == 2:
		if m == "GET" {
			return read("", func() { s.accountAnalytics(ctx, who, acct) })
		}
	case p[1] == "gateways" && len(p) == 2:
		switch m {
		case "GET":
			return read("", func() { s.listGateways(ctx, who, acct) })
		case "POST":
			// A gateway-scoped token may only create gateways it covers.
			return edit(gatewayIDIn(body()), func() { s.createGateway(ctx, who, acct, body()) })
		}
	case p[1] == "gateways" && config.ValidID(p[2]):
		gw := p[2]
		switch {
		case len(p) == 3:
			switch m {
			case "GET":
				return read(gw, func() { s.getGateway(ctx, acct, gw) })
			case "PUT", "PATCH":
				return edit(gw, func() { s.updateGateway(ctx, who, acct, gw, body()) })
			case "DELETE":
				return edit(gw, func() { s.deleteGateway(ctx, who, acct, gw) })
			}
		case (p[3] == "datasets" || p[3] == "evaluations") && len(p) <= 5:
			return s.evalRoute(ctx, who, acct, gw, p[3:])
		case p[3] == "routes" && len(p) <= 7:
			return s.dynRouteEndpoint(ctx, who, acct, gw, p[3:])
		case len(p) == 5 && p[3] == "url" && m == "GET":
			return read(gw, func() { s.gatewayURL(ctx, acct, gw, p[4]) })
		case p[3] == "provider_configs" && len(p) == 4:
			switch m {
			case "GET":
				return read(gw, func() { s.listProviderKeys(ctx, acct, gw) })
			case "POST":
				return edit(gw, func() { s.writeProviderKey(ctx, who, acct, gw, "", body()) })
			}
		case p[3] == "provider_configs" && len(p) == 5:
			id := p[4]
			switch m {
			case "GET":
				return read(gw, func() { s.getProviderKey(ctx, acct, gw, id) })
			case "PUT", "PATCH":
				return edit(gw, func() { s.writeProviderKey(ctx, who, acct, gw, id, body()) })
			case "DELETE":
				return edit(gw, func() { s.deleteProviderKey(ctx, who, acct, gw, id) })
			}
		case len(p) == 4 && p[3] == "analytics" && m == "GET":
			return read(gw, func() { s.gatewayAnalytics(ctx, acct, gw) })
		case p[3] == "logs":
			switch {
			case len(p) == 4 && m == "GET":
				return read(gw, func() { s.listLogs(ctx, acct, gw) })
			case len(p) == 4 && m == "DELETE":
				return edit(gw, func() { s.deleteLogs(ctx, acct, gw) })
			case len(p) == 5 && m == "GET":
				return read(gw, func() { s.getLog(ctx, acct, gw, p[4]) })
			case len(p) == 5 && m == "PATCH":
				return edit(gw, func() { s.editLog(ctx, acct, gw, p[4], body()) })
			case len(p) == 6 && m == "GET" && (p[5] == "request" || p[5] == "response"):
				return read(gw, func() { s.payload(ctx, acct, gw, p[4], p[5]) })
			}
		}
	}
	return nil
}

// gatewayScoped builds endpoints of gateway gw that need read and edit permission.
func gatewayScoped(gw string) (read, edit func(handle func()) *route) {
	return func(h func()) *route { return &route{perm: config.PermRead, gateway: gw, handle: h} },
		func(h func()) *route { return &route{perm: config.PermEdit, gateway: gw, handle: h} }
}

// writeCtx bounds a control-plane write (ack plus projection).
func writeCtx() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), 30*time.Second)
}

// pageArgs reads page and per_page (per_page at most 100).
func pageArgs(ctx *fasthttp.RequestCtx, defPerPage int) (int, int, *apiError) {
	page, perPage := 1, defPerPage
	for _, k := range []string{"page", "per_page"} {
		v := ctx.QueryArgs().Peek(k)
		if v == nil {
			continue
		}
		n, err := strconv.Atoi(string(v))
		if err != nil || n < 1 {
			return 0, 0, &apiError{Code: codeBadRequest, Message: k + " must be a positive integer", Path: []string{"query", k}}
		}
		if k == "page" {
			page = n
		} else {
			perPage = min(n, 100)
		}
	}
	return page, perPage, nil
}

// pageOf cuts one page out of a list.
func pageOf[T any](all []T, page, perPage int) []T {
	from := (page - 1) * perPage
	if from >= len(all) {
		return []T{}
	}
	return all[from:min(from+perPage, len(all))]
}

func (s *API) storeFail(ctx *fasthttp.RequestCtx, err error, what string) {
	if errors.Is(err, storage.ErrNotFound) {
		apiFail(ctx, 404, codeNotFound, what+" not found")
		return
	}
	s.opts.Logger.Error("control api store error", "err", err)
	apiFail(ctx, 500, codeInternal, "store error")
}
