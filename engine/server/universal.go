// universal.go parses the universal endpoint, POST /v1/{account_id}/{gateway_id}: a JSON
// array of steps (or one step object), each {provider, endpoint, headers, authorization,
// query, config}, into a request whose Steps the engine tries in order. Every step is
// validated before anything is sent; a bad field is a 400 that names it, e.g.
// "[1].config.maxAttempts". The non-realtime WebSocket API builds its requests here too.
package server

import (
	"bytes"
	"strconv"
	"strings"

	json "github.com/goccy/go-json"
	"github.com/switchyard/switchyard/engine"
	"github.com/switchyard/switchyard/storage/config"
	"github.com/tidwall/gjson"
	"github.com/valyala/fasthttp"
)

// maxSteps bounds the steps of one universal request: each may retry five times.
const maxSteps = 10

// universalStep is one step as sent.
type universalStep struct {
	Provider      string
	Endpoint      string
	Headers       map[string]string // keys lower case
	Authorization string
	Query         json.RawMessage
	Config        engine.StepConfig
}

// parseUniversal builds a universal-endpoint request. retry is the request's and the
// gateway's request handling (fail: a malformed cf-aig-* header).
func (s *Server) parseUniversal(ctx *fasthttp.RequestCtx, snap *config.Snapshot, g *config.Gateway, req *engine.Request,
	retry engine.RetrySettings, fail *engine.GatewayError) *engine.Request {
	if req.Method != fasthttp.MethodPost {
		req.Fail = engine.Errorf(405, engine.CodeBadRequest, "the universal endpoint /v1/{account_id}/{gateway_id} takes POST with a JSON array of steps (or a WebSocket upgrade)")
		return req
	}
	body, rfail := s.readWhole(ctx)
	// the steps carry their own bodies; the request's is the log's copy, without credentials
	req.Body, req.BodySize = redactSteps(body), int64(len(body))
	switch {
	case rfail != nil:
		req.BodySize = int64(ctx.Request.Header.ContentLength())
		req.Fail = rfail
		return req
	case fail != nil:
		req.Fail = fail
		return req
	}
	raw, fail := splitSteps(body)
	if fail != nil {
		req.Fail = fail
		return req
	}
	steps := make([]*engine.Target, len(raw))
	for i, r := range raw {
		prefix := "[" + strconv.Itoa(i) + "]"
		st, fail := decodeStep(prefix, r)
		if fail == nil {
			steps[i], fail = s.stepTarget(snap, g, req, prefix, st, retry, clientHeader(ctx))
		}
		if fail != nil {
			req.Fail = fail
			return req
		}
	}
	req.Steps = steps
	req.Target = *steps[0]
	return req
}

// splitSteps reads the body as a JSON array of step objects, or one step object.
func splitSteps(body []byte) ([]json.RawMessage, *engine.GatewayError) {
	body = bytes.TrimSpace(body)
	var raw []json.RawMessage
	switch {
	case len(body) > 0 && body[0] == '[':
		if err := json.Unmarshal(body, &raw); err != nil {
			return nil, engine.Errorf(400, engine.CodeBadRequest, "the body is not a valid JSON array of steps: "+err.Error())
		}
	case len(body) > 0 && body[0] == '{':
		raw = []json.RawMessage{body}
	default:
		return nil, engine.Errorf(400, engine.CodeBadRequest, "the universal endpoint takes a JSON array of steps {provider, endpoint, headers, query, config}, or one step object")
	}
	switch {
	case len(raw) == 0:
		return nil, engine.Errorf(400, engine.CodeBadRequest, "the array of steps is empty")
	case len(raw) > maxSteps:
		return nil, engine.Errorf(400, engine.CodeBadRequest, "at most "+strconv.Itoa(maxSteps)+" steps per request, got "+strconv.Itoa(len(raw)))
	}
	return raw, nil
}

// decodeStep reads one step object; a wrong field is named after prefix.
func decodeStep(prefix string, raw json.RawMessage) (universalStep, *engine.GatewayError) {
	var st universalStep
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(raw, &fields); err != nil || fields == nil {
		return st, engine.Errorf(400, engine.CodeBadRequest, prefix+" must be an object {provider, endpoint, headers, query, config}")
	}
	str := func(name string, required bool) (string, *engine.GatewayError) {
		v, ok := fields[name]
		if !ok || string(v) == "null" {
			if required {
				return "", engine.Errorf(400, engine.CodeBadRequest, prefix+"."+name+" is required")
			}
			return "", nil
		}
		var out string
		if err := json.Unmarshal(v, &out); err != nil || (required && out == "") {
			return "", engine.Errorf(400, engine.CodeBadRequest, prefix+"."+name+" must be a non-empty string")
		}
		return out, nil
	}
	var fail *engine.GatewayError
	if st.Provider, fail = str("provider", true); fail != nil {
		return st, fail
	}
	if st.Endpoint, fail = str("endpoint", true); fail != nil {
		return st, fail
	}
	if st.Authorization, fail = str("authorization", false); fail != nil {
		return st, fail
	}
	st.Headers = map[string]string{}
	if v, ok := fields["headers"]; ok && string(v) != "null" {
		var hs map[string]json.RawMessage
		if err := json.Unmarshal(v, &hs); err != nil {
			return st, engine.Errorf(400, engine.CodeBadRequest, prefix+".headers must be an object of header names to values")
		}
		for k, hv := range hs {
			val, ok := headerValue(hv)
			if !ok {
				return st, engine.Errorf(400, engine.CodeBadRequest, prefix+".headers."+k+" must be a string, number or boolean")
			}
			st.Headers[strings.ToLower(k)] = val
		}
	}
	if v, ok := fields["query"]; ok && string(v) != "null" {
		st.Query = v
	}
	if v, ok := fields["config"]; ok && string(v) != "null" {
		if err := json.Unmarshal(v, &st.Config); err != nil {
			return st, engine.Errorf(400, engine.CodeBadRequest, prefix+".config must be an object {requestTimeout, maxAttempts, retryDelay, backoff} of numbers and a backoff name: "+err.Error())
		}
	}
	return st, nil
}

// headerValue accepts a header value given as a JSON string, number or boolean.
func headerValue(v json.RawMessage) (string, bool) {
	r := gjson.ParseBytes(v)
	switch r.Type {
	case gjson.String:
		return r.Str, true
	case gjson.Number, gjson.True, gjson.False:
		return r.Raw, true
	}
	return "", false
}

// stepTarget validates one step and turns it into a target: its provider (or the unified
// API for provider "compat"), upstream path and query, headers, stored key, request
// handling (the step's config over its cf-aig-* headers over retry, the request's and
// gateway's) and options (caching, custom cost, metadata, logging: the step's cf-aig-*
// headers over the request's over the gateway's). client reads the request-level headers.
func (s *Server) stepTarget(snap *config.Snapshot, g *config.Gateway, req *engine.Request, prefix string, st universalStep,
	retry engine.RetrySettings, client func(string) string) (*engine.Target, *engine.GatewayError) {
	own := func(name string) string {
		name = strings.ToLower(name)
		if name == "authorization" && st.Headers[name] == "" {
			return st.Authorization
		}
		return st.Headers[name]
	}
	// gateway headers (cf-aig-*) a step does not set come from the request
	header := func(name string) string {
		if v := own(name); v != "" {
			return v
		}
		if strings.HasPrefix(strings.ToLower(name), "cf-aig-") {
			return client(name)
		}
		return ""
	}
	cfg, fail := st.Config.Settings(prefix + ".config")
	if fail != nil {
		return nil, fail
	}
	hdr, fail := engine.RetryHeaders(prefix+".headers.", own)
	if fail != nil {
		return nil, fail
	}
	t := &engine.Target{Retry: cfg.Over(hdr).Over(retry).Policy()}
	if fail := requestOptions(header, g, &t.Options); fail != nil {
		fail.Message = prefix + ".headers: " + fail.Message
		return nil, fail
	}
	path, query, _ := strings.Cut(strings.TrimPrefix(st.Endpoint, "/"), "?")
	slug := strings.ToLower(st.Provider)

	if slug == unifiedSlug {
		if path != "chat/completions" && path != "v1/chat/completions" {
			return nil, engine.Errorf(400, engine.CodeBadRequest, prefix+`.endpoint: provider "compat" serves "chat/completions", not `+strconv.Quote(st.Endpoint))
		}
		return stepRefusal(t, s.planUnified(snap, req, t, st.Query, header))
	}
	p, fail := s.resolveProvider(snap, req.AccountID, slug)
	if fail != nil {
		fail.Message = prefix + ".provider: " + fail.Message
		return nil, fail
	}
	t.Provider, t.Slug, t.Rest, t.Query = p, slug, "/"+path, query
	t.Send = []byte{}
	if st.Query != nil {
		t.Send = st.Query
		r := gjson.GetManyBytes(st.Query, "model", "stream")
		t.Model, t.Stream = r[0].String(), r[1].Bool()
	}
	for k, v := range st.Headers {
		if engine.ForwardRequestHeader(k) {
			t.Header = append(t.Header, engine.Header{Key: k, Value: v})
		}
	}
	if st.Authorization != "" && st.Headers["authorization"] == "" {
		t.Header = append(t.Header, engine.Header{Key: "Authorization", Value: st.Authorization})
	}
	if st.Headers["content-type"] == "" && st.Query != nil {
		t.Header = append(t.Header, engine.Header{Key: "Content-Type", Value: "application/json"})
	}
	return stepRefusal(t, s.attachKey(snap, req, t, header))
}

// stepRefusal decides what a step's gateway refusal does: a stored key over its rate
// limit fails only that step (the next one is tried); anything else is a bad request.
func stepRefusal(t *engine.Target, fail *engine.GatewayError) (*engine.Target, *engine.GatewayError) {
	switch {
	case fail == nil:
		return t, nil
	case fail.Status == 429:
		t.Refused = fail
		return t, nil
	}
	return nil, fail
}

// redactSteps is the steps body as the log keeps it: credentials in a step's
// authorization, in its headers and in its endpoint's query are replaced, so the
// provider keys a client puts in the body never reach the log or the event stream.
func redactSteps(body []byte) []byte {
	trimmed := bytes.TrimSpace(body)
	if len(trimmed) > 0 && trimmed[0] == '{' {
		return redactStep(trimmed)
	}
	var steps []json.RawMessage
	if json.Unmarshal(trimmed, &steps) != nil {
		return body
	}
	for i, st := range steps {
		steps[i] = redactStep(st)
	}
	out, err := json.Marshal(steps)
	if err != nil {
		return body
	}
	return out
}

const redacted = `"[redacted]"`

func redactStep(raw json.RawMessage) json.RawMessage {
	var fields map[string]json.RawMessage
	if json.Unmarshal(raw, &fields) != nil || fields == nil {
		return raw
	}
	if _, ok := fields["authorization"]; ok {
		fields["authorization"] = json.RawMessage(redacted)
	}
	var hs map[string]json.RawMessage
	if json.Unmarshal(fields["headers"], &hs) == nil && hs != nil {
		for k := range hs {
			if secretName(k) {
				hs[k] = json.RawMessage(redacted)
			}
		}
		fields["headers"], _ = json.Marshal(hs)
	}
	var endpoint string
	if json.Unmarshal(fields["endpoint"], &endpoint) == nil {
		if path, query, ok := strings.Cut(endpoint, "?"); ok {
			params := strings.Split(query, "&")
			for i, p := range params {
				if name, _, _ := strings.Cut(p, "="); secretName(name) {
					params[i] = name + "=[redacted]"
				}
			}
			fields["endpoint"], _ = json.Marshal(path + "?" + strings.Join(params, "&"))
		}
	}
	out, err := json.Marshal(fields)
	if err != nil {
		return raw
	}
	return out
}

// secretName reports whether a header or query parameter name carries a credential.
func secretName(name string) bool {
	n := strings.ToLower(name)
	for _, s := range []string{"auth", "key", "token", "secret", "signature", "cookie", "password"} {
		if strings.Contains(n, s) {
			return true
		}
	}
	return n == "sig"
}
