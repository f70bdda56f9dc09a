// control.go is the control API under /client/v4/accounts/{account_id}/..., in the
// hosted API's envelope and field names (cloudflare-go v7 ai_gateway types): who may call
// what (tokens and permissions), the routing table, and the logs of a gateway. The
// configuration resources are in control_config.go.
package server

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"time"

	json "github.com/goccy/go-json"
	"github.com/switchyard/switchyard/events"
	"github.com/switchyard/switchyard/storage"
	"github.com/switchyard/switchyard/storage/config"
	"github.com/valyala/fasthttp"
)

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

type envelope struct {
	Success    bool        `json:"success"`
	Errors     []apiError  `json:"errors"`
	Messages   []string    `json:"messages"`
	Result     any         `json:"result"`
	ResultInfo *resultInfo `json:"result_info,omitempty"`
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
	writeJSON(ctx, 200, envelope{Success: true, Errors: []apiError{}, Messages: []string{}, Result: result})
}

func apiFail(ctx *fasthttp.RequestCtx, status, code int, msg string, path ...string) {
	writeJSON(ctx, status, envelope{Errors: []apiError{{Code: code, Message: msg, Path: path}}, Messages: []string{}})
}

// fail answers a service error (with the field at fault) or an internal one.
func (s *Server) fail(ctx *fasthttp.RequestCtx, err error) {
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
	perm    string
	gateway string // the gateway the call is about, for gateway-scoped tokens
	handle  func()
}

// control authenticates the caller, finds the endpoint and checks the permission.
func (s *Server) control(ctx *fasthttp.RequestCtx, path string) {
	snap := s.opts.Config.Projection().Current()
	v, hasBearer := bearer(ctx.Request.Header.Peek("Authorization"))
	who, known := s.identify(snap, v)
	if !hasBearer || !known {
		apiFail(ctx, 401, codeAuth, "Authentication error: a valid Authorization: Bearer <api token> header is required", "header", "Authorization")
		return
	}
	p := strings.Split(strings.Trim(strings.TrimPrefix(path, "/client/v4/"), "/"), "/")
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
	if !who.can(r.perm, acct, r.gateway) {
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
func (s *Server) routeFor(ctx *fasthttp.RequestCtx, who principal, acct string, p []string) *route {
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
	case len(p) == 2 && p[0] == "tokens":
		if m == "DELETE" {
			return admin(func() { s.revokeToken(ctx, who, acct, p[1]) })
		}
	case len(p) == 1 && p[0] == "audit_logs":
		if m == "GET" {
			return admin(func() { s.auditLogs(ctx, acct) })
		}
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
		case p[3] == "logs" && m == "GET":
			switch len(p) {
			case 4:
				return read(gw, func() { s.listLogs(ctx, acct, gw) })
			case 5:
				return read(gw, func() { s.getLog(ctx, acct, gw, p[4]) })
			case 6:
				if p[5] == "request" || p[5] == "response" {
					return read(gw, func() { s.payload(ctx, acct, gw, p[4], p[5]) })
				}
			}
		}
	}
	return nil
}

func (s *Server) getLog(ctx *fasthttp.RequestCtx, acct, gw, id string) {
	rec, err := s.opts.Logs.Get(acct, gw, id)
	if err != nil {
		s.storeFail(ctx, err, "log "+id)
		return
	}
	ok(ctx, rec)
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

func (s *Server) storeFail(ctx *fasthttp.RequestCtx, err error, what string) {
	if errors.Is(err, storage.ErrNotFound) {
		apiFail(ctx, 404, codeNotFound, what+" not found")
		return
	}
	s.opts.Logger.Error("control api store error", "err", err)
	apiFail(ctx, 500, codeInternal, "store error")
}

// payload answers the stored body itself (not wrapped), with its content type, as the
// hosted API does. Bodies live in the request.finished event (inline) or in the payload
// object store (larger ones); the log record points at the event.
func (s *Server) payload(ctx *fasthttp.RequestCtx, acct, gw, id, which string) {
	rec, err := s.opts.Logs.Get(acct, gw, id)
	if err != nil {
		s.storeFail(ctx, err, "log "+id)
		return
	}
	c, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	raw, err := s.opts.Payloads.EventAt(c, rec.EventSeq)
	if err != nil {
		s.opts.Logger.Error("read event for payload", "seq", rec.EventSeq, "err", err)
		apiFail(ctx, 404, codeNotFound, "the event holding the "+which+" body of log "+id+" is no longer in the log")
		return
	}
	env, err := events.Decode(raw)
	var f events.RequestFinished
	if err == nil {
		f, err = events.DecodeRequestFinished(env)
	}
	if err != nil {
		s.opts.Logger.Error("decode event for payload", "seq", rec.EventSeq, "err", err)
		apiFail(ctx, 500, codeInternal, "stored "+which+" body could not be read")
		return
	}
	p, ct := f.RequestPayload, f.RequestCType
	if which == "response" {
		p, ct = f.ResponsePayload, f.ResponseCType
	}
	if p == nil {
		apiFail(ctx, 404, codeNotFound, "no "+which+" body stored for log "+id)
		return
	}
	body := p.Body()
	if p.Ref != "" {
		if body, err = s.opts.Payloads.GetPayload(c, p.Ref); err != nil {
			s.opts.Logger.Error("payload fetch", "ref", p.Ref, "err", err)
			apiFail(ctx, 500, codeInternal, "stored "+which+" body could not be read")
			return
		}
	}
	if ct == "" {
		ct = "application/octet-stream"
	}
	ctx.SetContentType(ct)
	if p.Truncated {
		ctx.Response.Header.Set("x-switchyard-payload-truncated", "true")
	}
	ctx.SetBody(body)
}

// listLogs serves the list call with the hosted query parameters (page, per_page,
// provider, model, success, start_date, end_date, direction / order_by_direction,
// and eq filters on provider, model and success in the filters.key/operator/value form).
func (s *Server) listLogs(ctx *fasthttp.RequestCtx, acct, gw string) {
	q := storage.LogQuery{AccountID: acct, GatewayID: gw, Page: 1, PerPage: 20}
	args := ctx.QueryArgs()
	var bad, badAt string
	setField := func(key, val string) {
		switch key {
		case "provider":
			q.Provider = val
		case "model":
			q.Model = val
		case "success":
			b, err := strconv.ParseBool(val)
			if err != nil {
				badAt, bad = key, "success must be true or false"
				return
			}
			q.Success = &b
		default:
			badAt, bad = "filters.key", "filter on "+key+" is not supported"
		}
	}
	var fkeys, fops, fvals []string
	for k, v := range args.All() {
		key, val := string(k), string(v)
		switch key {
		case "page", "per_page":
			n, err := strconv.Atoi(val)
			if err != nil || n < 1 {
				badAt, bad = key, key+" must be a positive integer"
				continue
			}
			if key == "page" {
				q.Page = n
			} else {
				q.PerPage = min(n, 100)
			}
		case "provider", "model", "success":
			setField(key, val)
		case "start_date", "end_date":
			t, err := time.Parse(time.RFC3339, val)
			if err != nil {
				badAt, bad = key, key+" must be an RFC 3339 time"
				continue
			}
			if key == "start_date" {
				q.Since = t
			} else {
				q.Until = t
			}
		case "direction", "order_by_direction":
			switch val {
			case "asc":
				q.Ascending = true
			case "desc":
				q.Ascending = false
			default:
				badAt, bad = key, key+" must be asc or desc"
			}
		case "order_by":
			if val != "created_at" {
				badAt, bad = key, "order_by "+val+" is not supported (created_at only)"
			}
		case "meta_info":
		case "filters.key":
			fkeys = append(fkeys, val)
		case "filters.operator":
			fops = append(fops, val)
		case "filters.value":
			fvals = append(fvals, val)
		default:
			badAt, bad = key, "query parameter "+key+" is not supported"
		}
	}
	if len(fkeys) != len(fops) || len(fkeys) != len(fvals) {
		badAt, bad = "filters", "filters need one key, one operator and one value each"
	}
	for i := range fkeys {
		if bad != "" {
			break
		}
		if fops[i] != "eq" {
			badAt, bad = "filters.operator", "filter operator "+fops[i]+" is not supported (eq only)"
			break
		}
		setField(fkeys[i], fvals[i])
	}
	if bad != "" {
		apiFail(ctx, 400, codeBadRequest, bad, "query", badAt)
		return
	}
	recs, total, err := s.opts.Logs.List(q)
	if err != nil {
		s.storeFail(ctx, err, "logs")
		return
	}
	writeJSON(ctx, 200, envelope{Success: true, Errors: []apiError{}, Messages: []string{}, Result: recs,
		ResultInfo: newResultInfo(q.Page, q.PerPage, len(recs), total)})
}
