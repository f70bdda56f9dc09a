// unified.go serves /v1/{account_id}/{gateway_id}/compat/...: the model list, and chat
// completions planned with engine/compat — the model's provider (built in, custom-{slug},
// or dynamic/{route}), its credentials (the client's bearer key or the gateway's stored
// key) and the translated native call. Refusals use the OpenAI error shape.
package server

import (
	"io"
	"strconv"

	json "github.com/goccy/go-json"
	"github.com/oklog/ulid/v2"
	"github.com/switchyard/switchyard/engine"
	"github.com/switchyard/switchyard/engine/compat"
	"github.com/switchyard/switchyard/storage/config"
	"github.com/valyala/fasthttp"
)

// unifiedSlug is the path segment of the unified API.
const unifiedSlug = "compat"

// unifiedFail makes req fail with a unified-API refusal.
func unifiedFail(req *engine.Request, code int, e *compat.Error) *engine.Request {
	req.Fail = unifiedError(code, e)
	return req
}

// unifiedGatewayFail carries a gateway error to a unified-API client in the OpenAI shape.
func unifiedGatewayFail(req *engine.Request, g *engine.GatewayError) *engine.Request {
	unifiedFail(req, g.Code, openAIShape(g))
	req.Fail.RetryAfter = g.RetryAfter
	return req
}

// openAIShape is a gateway error as an OpenAI error.
func openAIShape(g *engine.GatewayError) *compat.Error {
	return &compat.Error{Status: g.Status, Type: compat.ErrorType(g.Status), Code: strconv.Itoa(g.Code), Message: g.Message}
}

// parseUnified builds a unified-API request. It returns nil when it answered itself (the
// model list, which is not a provider call and is not logged).
func (s *Server) parseUnified(ctx *fasthttp.RequestCtx, snap *config.Snapshot, req *engine.Request) *engine.Request {
	switch req.Rest {
	case "/models", "/v1/models":
		if req.Method == fasthttp.MethodGet {
			s.writeModels(ctx)
			return nil
		}
		return unifiedFail(req, engine.CodeBadRequest, &compat.Error{Status: 405, Type: "invalid_request_error", Code: "method_not_allowed",
			Message: "the model list is read with GET"})
	case "/chat/completions", "/v1/chat/completions":
	default:
		return unifiedFail(req, engine.CodeMalformedPath, &compat.Error{Status: 404, Type: "invalid_request_error", Code: "unknown_url",
			Message: "the unified API serves POST .../compat/chat/completions and GET .../compat/models, not " + strconv.Quote(req.Rest)})
	}
	if req.Method != fasthttp.MethodPost {
		return unifiedFail(req, engine.CodeBadRequest, &compat.Error{Status: 405, Type: "invalid_request_error", Code: "method_not_allowed",
			Message: "chat completions are created with POST"})
	}
	body, fail := s.readWhole(ctx)
	req.Body, req.BodySize = body, int64(len(body))
	if fail != nil {
		req.BodySize = int64(ctx.Request.Header.ContentLength())
		return unifiedGatewayFail(req, fail)
	}
	req.Fail = s.planUnified(snap, req, &req.Target, body, clientHeader(ctx))
	return req
}

// unifiedError is a unified-API refusal as a gateway error with the OpenAI-shaped body.
func unifiedError(code int, e *compat.Error) *engine.GatewayError {
	return &engine.GatewayError{Status: e.Status, Code: code, Message: e.Message, Body: e.JSON()}
}

// planUnified turns a chat completion request body into t: the model's provider, its
// credentials (the bearer key in header, or the gateway's stored key) and the translated
// native call. Refusals come back in the OpenAI error shape.
func (s *Server) planUnified(snap *config.Snapshot, req *engine.Request, t *engine.Target, body []byte, header func(string) string) *engine.GatewayError {
	plan, perr := compat.Parse(body)
	if perr != nil {
		code := engine.CodeBadRequest
		if perr.Code == "unknown_provider" {
			code = engine.CodeUnknownProvider
		}
		return unifiedError(code, perr)
	}
	t.Model, t.Stream = plan.Req.Model, plan.Req.Stream
	if plan.Dynamic() {
		return s.dynamicRoute(snap, req, t, plan, body, header)
	}
	return s.planCall(snap, req, t, plan, header)
}

// planCall plans the native call of a unified-API plan whose provider is known: the
// provider, the credentials and the translated request.
func (s *Server) planCall(snap *config.Snapshot, req *engine.Request, t *engine.Target, plan *compat.Plan, header func(string) string) *engine.GatewayError {
	slug := plan.Slug
	if plan.Custom() {
		slug = plan.Prefix
	}
	p, gfail := s.resolveProvider(snap, req.AccountID, slug)
	if gfail != nil {
		return unifiedError(gfail.Code, openAIShape(gfail))
	}
	t.Provider, t.Slug = p, slug

	cred := compat.Credential{}
	if v, ok := config.Bearer([]byte(header("Authorization"))); ok && v != "" && !s.isGatewayToken(snap, v) {
		cred.Key = v
	}
	if alias := header("cf-aig-byok-alias"); cred.Key == "" || alias != "" {
		k, kfail := s.storedKey(snap, req, t, slug, alias)
		if kfail != nil {
			return unifiedError(kfail.Code, openAIShape(kfail))
		}
		if k != nil {
			cred = compat.Credential{Key: k.Secret(), Stored: true}
		}
	}
	call, cerr := plan.Build(cred, s.opts.Compat)
	if cerr != nil {
		return unifiedError(engine.CodeBadRequest, cerr)
	}
	if plan.Custom() {
		call.Rest = compat.CustomRest(p.Base)
	}
	t.Compat = call
	t.Rest, t.Query, t.Model = call.Rest, call.Query, call.Model
	return nil
}

// isGatewayToken reports whether a bearer value is one of the gateway's own tokens: an
// OpenAI SDK must send some API key, and with stored keys users give it their gateway token.
func (s *Server) isGatewayToken(snap *config.Snapshot, v string) bool {
	_, ok := snap.Identify(s.opts.AdminToken, v)
	return ok
}

// readWhole reads the request body whole, within MaxBody.
func (s *Server) readWhole(ctx *fasthttp.RequestCtx) ([]byte, *engine.GatewayError) {
	cl := ctx.Request.Header.ContentLength()
	if cl > s.opts.MaxBody {
		return nil, refuseLargeBody(ctx)
	}
	if cl >= 0 && cl <= wholeBody {
		return append([]byte(nil), ctx.Request.Body()...), nil
	}
	rs := ctx.RequestBodyStream()
	if rs == nil {
		return append([]byte(nil), ctx.Request.Body()...), nil
	}
	body, err := io.ReadAll(io.LimitReader(rs, int64(s.opts.MaxBody)+1))
	if err != nil {
		return nil, engine.Errorf(400, engine.CodeBadRequest, "the request body could not be read")
	}
	if len(body) > s.opts.MaxBody {
		ctx.SetConnectionClose()
		return nil, engine.Errorf(413, engine.CodeBodyTooLarge, "request body is larger than the gateway maximum")
	}
	return body, nil
}

// writeModels answers the model list.
func (s *Server) writeModels(ctx *fasthttp.RequestCtx) {
	b, _ := json.Marshal(compat.Models())
	setIDs(ctx, ulid.Make().String(), ulid.Make().String(), 0)
	ctx.SetContentType("application/json")
	ctx.SetBody(b)
}
