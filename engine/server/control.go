// control.go is the control API under /client/v4/accounts/{account_id}/ai-gateway/...,
// in the hosted API's envelope and field names (cloudflare-go v7 ai_gateway types):
// for now the logs of a gateway: list, get, and the stored request and response bodies.
package server

import (
	"context"
	"crypto/subtle"
	"errors"
	"strconv"
	"strings"
	"time"

	json "github.com/goccy/go-json"
	"github.com/switchyard/switchyard/events"
	"github.com/switchyard/switchyard/storage"
	"github.com/valyala/fasthttp"
)

// Control-plane error codes (the hosted API's 10000 for authentication; the rest ours).
const (
	codeAuth       = 10000
	codeNotFound   = 7003
	codeBadRequest = 7400
	codeInternal   = 7500
)

type apiError struct {
	Code    int    `json:"code"`
	Message string `json:"message"`
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

func apiFail(ctx *fasthttp.RequestCtx, status, code int, msg string) {
	writeJSON(ctx, status, envelope{Errors: []apiError{{Code: code, Message: msg}}, Messages: []string{}})
}

func (s *Server) authorized(ctx *fasthttp.RequestCtx) bool {
	h := string(ctx.Request.Header.Peek("Authorization"))
	tok, ok := strings.CutPrefix(h, "Bearer ")
	if !ok || s.opts.AdminToken == "" {
		return false
	}
	return subtle.ConstantTimeCompare([]byte(tok), []byte(s.opts.AdminToken)) == 1
}

// control routes /client/v4/accounts/{acct}/ai-gateway/gateways/{gw}/logs[/{id}[/request|/response]].
func (s *Server) control(ctx *fasthttp.RequestCtx, path string) {
	if !s.authorized(ctx) {
		apiFail(ctx, 401, codeAuth, "Authentication error")
		return
	}
	p := strings.Split(strings.Trim(strings.TrimPrefix(path, "/client/v4/"), "/"), "/")
	// accounts {acct} ai-gateway gateways {gw} logs [id] [request|response]
	if len(p) < 6 || p[0] != "accounts" || p[2] != "ai-gateway" || p[3] != "gateways" || p[5] != "logs" || len(p) > 8 {
		apiFail(ctx, 404, codeNotFound, "no route for "+path)
		return
	}
	acct, gw := p[1], p[4]
	if !ValidID(acct) || !ValidID(gw) {
		apiFail(ctx, 404, codeNotFound, "no route for "+path)
		return
	}
	if !ctx.IsGet() {
		apiFail(ctx, 405, codeBadRequest, "method "+string(ctx.Method())+" not allowed on "+path)
		return
	}
	switch len(p) {
	case 6:
		s.listLogs(ctx, acct, gw)
	case 7:
		rec, err := s.opts.Logs.Get(acct, gw, p[6])
		if err != nil {
			s.storeFail(ctx, err, "log "+p[6])
			return
		}
		writeJSON(ctx, 200, envelope{Success: true, Errors: []apiError{}, Messages: []string{}, Result: rec})
	case 8:
		if p[7] != "request" && p[7] != "response" {
			apiFail(ctx, 404, codeNotFound, "no route for "+path)
			return
		}
		s.payload(ctx, acct, gw, p[6], p[7])
	}
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
	var bad string
	setField := func(key, val string) {
		switch key {
		case "provider":
			q.Provider = val
		case "model":
			q.Model = val
		case "success":
			b, err := strconv.ParseBool(val)
			if err != nil {
				bad = "success must be true or false"
				return
			}
			q.Success = &b
		default:
			bad = "filter on " + key + " is not supported"
		}
	}
	var fkeys, fops, fvals []string
	for k, v := range args.All() {
		key, val := string(k), string(v)
		switch key {
		case "page", "per_page":
			n, err := strconv.Atoi(val)
			if err != nil || n < 1 {
				bad = key + " must be a positive integer"
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
				bad = key + " must be an RFC 3339 time"
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
				bad = key + " must be asc or desc"
			}
		case "order_by":
			if val != "created_at" {
				bad = "order_by " + val + " is not supported (created_at only)"
			}
		case "meta_info":
		case "filters.key":
			fkeys = append(fkeys, val)
		case "filters.operator":
			fops = append(fops, val)
		case "filters.value":
			fvals = append(fvals, val)
		default:
			bad = "query parameter " + key + " is not supported"
		}
	}
	if len(fkeys) != len(fops) || len(fkeys) != len(fvals) {
		bad = "filters need one key, one operator and one value each"
	}
	for i := range fkeys {
		if bad != "" {
			break
		}
		if fops[i] != "eq" {
			bad = "filter operator " + fops[i] + " is not supported (eq only)"
			break
		}
		setField(fkeys[i], fvals[i])
	}
	if bad != "" {
		apiFail(ctx, 400, codeBadRequest, bad)
		return
	}
	recs, total, err := s.opts.Logs.List(q)
	if err != nil {
		s.storeFail(ctx, err, "logs")
		return
	}
	writeJSON(ctx, 200, envelope{Success: true, Errors: []apiError{}, Messages: []string{}, Result: recs,
		ResultInfo: &resultInfo{Page: q.Page, PerPage: q.PerPage, Count: len(recs), TotalCount: total}})
}
