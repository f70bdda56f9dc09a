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
	doc := readSteps(body)
	// the steps carry their own bodies; the request's is the log's copy, without credentials
	req.Body, req.BodySize = doc.redacted(body), int64(len(body))
	switch {
	case rfail != nil:
		req.BodySize = int64(ctx.Request.Header.ContentLength())
		req.Fail = rfail
		return req
	case fail != nil:
		req.Fail = fail
		return req
	}
	if fail := doc.checkCount(); fail != nil {
		req.Fail = fail
		return req
	}
	client := gatewayHeader(ctx) // a step's own headers win; the request's cf-aig-* ones fill in
	steps := make([]*engine.Target, len(doc.steps))
	for i := range doc.steps {
		prefix := "[" + strconv.Itoa(i) + "]"
		st, fail := doc.step(prefix, i)
		if fail == nil {
			steps[i], fail = s.stepTarget(snap, g, req, prefix, st, retry, client)
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

// stepsDoc is a universal body (or one WebSocket step) read in one walk: checked as JSON,
// then each step's members found and the edits that redact it listed, without decoding
// the body into maps or encoding it again.
type stepsDoc struct {
	src   []byte // the body without the space around it
	valid bool   // src is one valid JSON value
	steps []stepMembers
	edits []edit // in the order of src
}

// stepMembers are the members of one step that decoding reads (the last of a name given
// twice, as a JSON object decoder reads it); object is false for a step that is not an
// object. Their strings are a copy of the body, never the body itself.
type stepMembers struct {
	object                                                    bool
	provider, endpoint, authorization, headers, query, config gjson.Result
}

// readSteps reads body. An invalid body is refused by checkCount and step, and kept whole by
// redacted.
func readSteps(body []byte) stepsDoc {
	d := stepsDoc{src: bytes.TrimSpace(body)}
	if len(d.src) == 0 || !gjson.ValidBytes(d.src) {
		return d
	}
	d.valid = true
	root := gjson.Parse(string(d.src))
	switch d.src[0] {
	case '[':
		root.ForEach(func(_, st gjson.Result) bool {
			d.steps = append(d.steps, d.members(st))
			return true
		})
	case '{':
		d.steps = []stepMembers{d.members(root)}
	}
	return d
}

// members reads one step and lists the edits that redact it: the value of its
// authorization, of its headers that carry a credential, and of its endpoint's query
// parameters that do.
func (d *stepsDoc) members(st gjson.Result) stepMembers {
	m := stepMembers{object: st.IsObject()}
	if !m.object {
		return m
	}
	replace := func(v gjson.Result, with string) {
		d.edits = append(d.edits, edit{from: v.Index, to: v.Index + len(v.Raw), with: with})
	}
	st.ForEach(func(k, v gjson.Result) bool {
		switch k.Str {
		case "provider":
			m.provider = v
		case "endpoint":
			m.endpoint = v
			if v.Type == gjson.String {
				if ep, changed := redactQuery(v.Str); changed {
					b, _ := json.Marshal(ep)
					replace(v, string(b))
				}
			}
		case "authorization":
			m.authorization = v
			replace(v, redacted)
		case "headers":
			m.headers = v
			if v.IsObject() {
				v.ForEach(func(name, hv gjson.Result) bool {
					if secretName(name.Str) {
						replace(hv, redacted)
					}
					return true
				})
			}
		case "query":
			m.query = v
		case "config":
			m.config = v
		}
		return true
	})
	return m
}

// checkCount checks the number of steps: an array of 1 to maxSteps, or one object.
func (d stepsDoc) checkCount() *engine.GatewayError {
	switch {
	case len(d.src) == 0 || d.src[0] != '[' && d.src[0] != '{':
		return engine.Errorf(400, engine.CodeBadRequest, "the universal endpoint takes a JSON array of steps {provider, endpoint, headers, query, config}, or one step object")
	case d.src[0] == '{' && !d.valid:
		return notAnObject("[0]")
	case d.src[0] == '{':
		return nil
	case !d.valid:
		return engine.Errorf(400, engine.CodeBadRequest, "the body is not a valid JSON array of steps")
	case len(d.steps) == 0:
		return engine.Errorf(400, engine.CodeBadRequest, "the array of steps is empty")
	case len(d.steps) > maxSteps:
		return engine.Errorf(400, engine.CodeBadRequest, "at most "+strconv.Itoa(maxSteps)+" steps per request, got "+strconv.Itoa(len(d.steps)))
	}
	return nil
}

// notAnObject refuses a step that is not a JSON object.
func notAnObject(prefix string) *engine.GatewayError {
	return engine.Errorf(400, engine.CodeBadRequest, prefix+" must be an object {provider, endpoint, headers, query, config}")
}

// step decodes step i (0 for a body that is one object); a wrong field is named after
// prefix.
func (d stepsDoc) step(prefix string, i int) (universalStep, *engine.GatewayError) {
	var st universalStep
	if i >= len(d.steps) || !d.steps[i].object {
		return st, notAnObject(prefix)
	}
	m := d.steps[i]
	given := func(v gjson.Result) bool { return v.Exists() && v.Type != gjson.Null }
	str := func(name string, v gjson.Result, required bool) (string, *engine.GatewayError) {
		switch {
		case !given(v) && required:
			return "", engine.Errorf(400, engine.CodeBadRequest, prefix+"."+name+" is required")
		case !given(v):
			return "", nil
		case v.Type != gjson.String || (required && v.Str == ""):
			return "", engine.Errorf(400, engine.CodeBadRequest, prefix+"."+name+" must be a non-empty string")
		}
		return v.Str, nil
	}
	var fail *engine.GatewayError
	if st.Provider, fail = str("provider", m.provider, true); fail != nil {
		return st, fail
	}
	if st.Endpoint, fail = str("endpoint", m.endpoint, true); fail != nil {
		return st, fail
	}
	if st.Authorization, fail = str("authorization", m.authorization, false); fail != nil {
		return st, fail
	}
	st.Headers = map[string]string{}
	if given(m.headers) {
		if !m.headers.IsObject() {
			return st, engine.Errorf(400, engine.CodeBadRequest, prefix+".headers must be an object of header names to values")
		}
		m.headers.ForEach(func(k, v gjson.Result) bool {
			val, ok := headerValue(v)
			if !ok {
				fail = engine.Errorf(400, engine.CodeBadRequest, prefix+".headers."+k.Str+" must be a string, number or boolean")
				return false
			}
			st.Headers[strings.ToLower(k.Str)] = val
			return true
		})
		if fail != nil {
			return st, fail
		}
	}
	if given(m.query) {
		st.Query = json.RawMessage(m.query.Raw)
	}
	if given(m.config) {
		if err := json.Unmarshal([]byte(m.config.Raw), &st.Config); err != nil {
			return st, engine.Errorf(400, engine.CodeBadRequest, prefix+".config must be an object {requestTimeout, maxAttempts, retryDelay, backoff} of numbers and a backoff name: "+err.Error())
		}
	}
	return st, nil
}

// headerValue accepts a header value given as a JSON string, number or boolean.
func headerValue(r gjson.Result) (string, bool) {
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

// redacted is the body as the log keeps it: credentials in a step's authorization, in its
// headers and in its endpoint's query are replaced by "[redacted]", so the provider keys
// a client puts in the body never reach the log or the event stream. Everything else is
// kept as sent; a body that is not valid JSON is kept whole.
func (d stepsDoc) redacted(body []byte) []byte {
	if len(d.edits) == 0 {
		return body
	}
	out := make([]byte, 0, len(d.src)+len(d.edits)*len(redacted))
	at := 0
	for _, e := range d.edits {
		out = append(append(out, d.src[at:e.from]...), e.with...)
		at = e.to
	}
	return append(out, d.src[at:]...)
}

// An edit replaces src[from:to] with with.
type edit struct {
	from, to int
	with     string
}

const redacted = `"[redacted]"`

// redactQuery replaces the values of an endpoint's query parameters that carry a
// credential; changed says whether there was one.
func redactQuery(endpoint string) (string, bool) {
	path, query, ok := strings.Cut(endpoint, "?")
	if !ok {
		return endpoint, false
	}
	params := strings.Split(query, "&")
	changed := false
	for i, p := range params {
		if name, _, _ := strings.Cut(p, "="); secretName(name) {
			params[i], changed = name+"=[redacted]", true
		}
	}
	return path + "?" + strings.Join(params, "&"), changed
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
