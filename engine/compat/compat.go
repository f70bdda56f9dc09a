// Package compat is the unified API: an OpenAI chat-completions request whose model is
// "{provider}/{model}" is translated into the provider's native request, and the native
// answer (whole or streamed) back into an OpenAI chat completion. It does no network I/O
// of its own except the Vertex AI token exchange (auth.go); the engine sends what it plans.
//
// Flow: Parse decodes the request and finds the provider; Plan.Build turns it into the
// native path, body and credentials; the Call it returns translates the answer
// (Call.Response, Call.Error) or the stream (Call.NewStream).
package compat

import (
	"bytes"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	json "github.com/goccy/go-json"
	"github.com/tidwall/gjson"
)

// Error is a refusal of the unified API, answered in the OpenAI error shape.
type Error struct {
	Status  int
	Type    string
	Code    string
	Param   string
	Message string
}

func (e *Error) Error() string { return e.Message }

// JSON renders the OpenAI error body.
func (e *Error) JSON() []byte {
	d := ErrorDetail{Message: e.Message, Type: e.Type}
	if e.Param != "" {
		d.Param = &e.Param
	}
	if e.Code != "" {
		d.Code = &e.Code
	}
	b, _ := json.Marshal(ErrorBody{Error: d})
	return b
}

// invalid is a 400 for a malformed request, naming the parameter.
func invalid(param, format string, args ...any) *Error {
	return &Error{Status: 400, Type: "invalid_request_error", Code: "invalid_value", Param: param, Message: fmt.Sprintf(format, args...)}
}

// unsupported is the 400 for a parameter the provider cannot honour.
func unsupported(param, provider, why string) *Error {
	msg := param + " is not supported by " + provider
	if why != "" {
		msg += ": " + why
	}
	return &Error{Status: 400, Type: "invalid_request_error", Code: "unsupported_parameter", Param: param, Message: msg}
}

// Prefix kinds the engine resolves itself.
const (
	CustomPrefix  = "custom-"
	DynamicPrefix = "dynamic"
)

// Plan is a decoded unified-API request, its provider known.
type Plan struct {
	Req *ChatRequest
	// Prefix is the provider part of the model string as sent ("anthropic", "custom-acme",
	// "dynamic"); Model is the rest, the provider's own model name (or the route name).
	Prefix string
	Model  string
	// Slug is the provider registry slug the call goes to ("" for custom and dynamic,
	// which the engine resolves from the configuration).
	Slug   string
	target *target
}

// Custom reports whether the model names a custom provider of the account.
func (p *Plan) Custom() bool { return strings.HasPrefix(p.Prefix, CustomPrefix) }

// Dynamic reports whether the model names a dynamic route.
func (p *Plan) Dynamic() bool { return p.Prefix == DynamicPrefix }

// Parse decodes an OpenAI chat-completions body and resolves the model's provider prefix.
func Parse(body []byte) (*Plan, *Error) {
	req, err := decodeRequest(body)
	if err != nil {
		return nil, err
	}
	prefix, model, ok := strings.Cut(req.Model, "/")
	if !ok || prefix == "" || model == "" {
		return nil, &Error{Status: 400, Type: "invalid_request_error", Code: "model_not_found", Param: "model",
			Message: "model must be {provider}/{model}, e.g. openai/gpt-5-mini; supported providers: " + strings.Join(Prefixes(), ", ")}
	}
	p := &Plan{Req: req, Prefix: prefix, Model: model}
	if err := p.resolve(); err != nil {
		return nil, err
	}
	return p, nil
}

// Retarget is the plan for the same request sent to model on provider (a prefix as in
// "provider/model"): a dynamic route's model node. A route cannot lead to another route.
func (p *Plan) Retarget(provider, model string) (*Plan, *Error) {
	q := &Plan{Req: p.Req, Prefix: provider, Model: model}
	if provider == DynamicPrefix {
		return nil, &Error{Status: 400, Type: "invalid_request_error", Code: "unknown_provider", Param: "model",
			Message: "a dynamic route's model node cannot name another dynamic route"}
	}
	if err := q.resolve(); err != nil {
		return nil, err
	}
	return q, nil
}

// resolve finds the provider the plan's prefix names.
func (p *Plan) resolve() *Error {
	switch {
	case p.Prefix == DynamicPrefix:
		return nil
	case strings.HasPrefix(p.Prefix, CustomPrefix) && len(p.Prefix) > len(CustomPrefix):
		p.target = customTarget
		return nil
	}
	t, ok := targets[p.Prefix]
	if !ok {
		return &Error{Status: 400, Type: "invalid_request_error", Code: "unknown_provider", Param: "model",
			Message: "unknown provider " + strconv.Quote(p.Prefix) + " in model; supported providers: " + strings.Join(Prefixes(), ", ")}
	}
	p.target, p.Slug = t, t.slug
	return nil
}

// Prefixes lists the model prefixes the unified API accepts, sorted.
func Prefixes() []string {
	out := make([]string, 0, len(targets)+2)
	for k, t := range targets {
		if !t.alias {
			out = append(out, k)
		}
	}
	sort.Strings(out)
	return append(out, CustomPrefix+"{slug}", DynamicPrefix+"/{route}")
}

// decodeRequest decodes the body, normalises message content into parts and checks the
// shapes every provider relies on.
func decodeRequest(body []byte) (*ChatRequest, *Error) {
	if len(bytes.TrimSpace(body)) == 0 {
		return nil, invalid("", "the request body is empty; expected an OpenAI chat completions JSON object")
	}
	var req ChatRequest
	if err := json.Unmarshal(body, &req); err != nil {
		return nil, invalid(fieldOf(err), "the request body is not an OpenAI chat completions object: %s", jsonErr(err))
	}
	req.raw = body
	if req.Model == "" {
		return nil, invalid("model", "model is required, as {provider}/{model}")
	}
	if len(req.Messages) == 0 {
		return nil, invalid("messages", "messages must hold at least one message")
	}
	for i := range req.Messages {
		if err := decodeContent(&req.Messages[i], i); err != nil {
			return nil, err
		}
	}
	for i, t := range req.Tools {
		if t.Type != "function" || t.Function.Name == "" {
			return nil, invalid(fmt.Sprintf("tools[%d]", i), "tools[%d] must be {\"type\":\"function\",\"function\":{\"name\":...}}", i)
		}
	}
	if _, err := req.toolChoice(); err != nil {
		return nil, err
	}
	if req.N != nil && *req.N < 1 {
		return nil, invalid("n", "n must be at least 1")
	}
	if rf := req.ResponseFormat; rf != nil {
		switch rf.Type {
		case "text", "json_object":
		case "json_schema":
			if rf.JSONSchema == nil || len(rf.JSONSchema.Schema) == 0 {
				return nil, invalid("response_format.json_schema", "response_format json_schema needs json_schema.schema")
			}
		default:
			return nil, invalid("response_format.type", "response_format.type must be text, json_object or json_schema")
		}
	}
	return &req, nil
}

func decodeContent(m *Message, i int) *Error {
	switch m.Role {
	case "system", "developer", "user", "assistant", "tool":
	default:
		return invalid(fmt.Sprintf("messages[%d].role", i), "messages[%d].role %q is not one of system, developer, user, assistant, tool", i, m.Role)
	}
	if m.Role == "tool" && m.ToolCallID == "" {
		return invalid(fmt.Sprintf("messages[%d].tool_call_id", i), "messages[%d] has role tool but no tool_call_id", i)
	}
	c := bytes.TrimSpace(m.Content)
	switch {
	case len(c) == 0 || string(c) == "null":
	case c[0] == '"':
		var s string
		if err := json.Unmarshal(c, &s); err != nil {
			return invalid(fmt.Sprintf("messages[%d].content", i), "messages[%d].content: %s", i, jsonErr(err))
		}
		m.Parts = []Part{{Type: "text", Text: s}}
	case c[0] == '[':
		if err := json.Unmarshal(c, &m.Parts); err != nil {
			return invalid(fmt.Sprintf("messages[%d].content", i), "messages[%d].content: %s", i, jsonErr(err))
		}
		for j, p := range m.Parts {
			param := fmt.Sprintf("messages[%d].content[%d]", i, j)
			switch {
			case p.Type == "text":
			case p.Type == "image_url" && p.ImageURL != nil && p.ImageURL.URL != "":
				if m.Role != "user" {
					return invalid(param, "%s: images are only allowed in user messages", param)
				}
			case p.Type == "image_url":
				return invalid(param+".image_url.url", "%s: image_url.url is required", param)
			default:
				return &Error{Status: 400, Type: "invalid_request_error", Code: "unsupported_parameter", Param: param + ".type",
					Message: fmt.Sprintf("%s: content part type %q is not supported by the unified API (text and image_url are)", param, p.Type)}
			}
		}
	default:
		return invalid(fmt.Sprintf("messages[%d].content", i), "messages[%d].content must be a string or a list of parts", i)
	}
	return nil
}

// jsonErr shortens encoding/json's messages to what a client can act on.
func jsonErr(err error) string {
	if te, ok := errors.AsType[*json.UnmarshalTypeError](err); ok {
		return fmt.Sprintf("%s must be %s, not %s", te.Field, te.Type.String(), te.Value)
	}
	return err.Error()
}

func fieldOf(err error) string {
	if te, ok := errors.AsType[*json.UnmarshalTypeError](err); ok {
		return te.Field
	}
	return ""
}

// toolChoice decodes tool_choice: "auto", "none", "required" or {"type":"function","function":{"name":...}}.
func (r *ChatRequest) toolChoice() (ToolChoice, *Error) {
	raw := bytes.TrimSpace(r.ToolChoice)
	if len(raw) == 0 || string(raw) == "null" {
		return ToolChoice{}, nil
	}
	if raw[0] == '"' {
		var s string
		_ = json.Unmarshal(raw, &s)
		switch s {
		case "auto", "none", "required":
			return ToolChoice{Mode: s}, nil
		}
		return ToolChoice{}, invalid("tool_choice", "tool_choice must be auto, none, required or a named function")
	}
	var named struct {
		Type     string `json:"type"`
		Function struct {
			Name string `json:"name"`
		} `json:"function"`
	}
	if err := json.Unmarshal(raw, &named); err != nil || named.Type != "function" || named.Function.Name == "" {
		return ToolChoice{}, invalid("tool_choice", "tool_choice object must be {\"type\":\"function\",\"function\":{\"name\":...}}")
	}
	return ToolChoice{Mode: "function", Name: named.Function.Name}, nil
}

// maxTokens is max_completion_tokens, or max_tokens when that is all that was sent.
func (r *ChatRequest) maxTokens() *int64 {
	if r.MaxCompletionTokens != nil {
		return r.MaxCompletionTokens
	}
	return r.MaxTokens
}

// checkFields refuses every top-level parameter not in supported: the never-silently-dropped rule.
// The top-level keys are read from the body here, where a translation needs them, not when
// it is decoded: an OpenAI-family passthrough never lists them.
func (r *ChatRequest) checkFields(provider string, supported map[string]bool) *Error {
	var keys []string
	// The body is valid JSON (decodeRequest); gjson lists its keys without a second decode.
	gjson.ParseBytes(r.raw).ForEach(func(k, v gjson.Result) bool {
		if v.Type != gjson.Null { // an explicit null means "not set"
			keys = append(keys, k.String())
		}
		return true
	})
	sort.Strings(keys)
	for _, k := range keys {
		if !supported[k] && !always[k] {
			return unsupported(k, provider, "")
		}
	}
	if r.N != nil && *r.N > 1 && !supported["n"] {
		return unsupported("n", provider, "only one choice per request")
	}
	return nil
}

// always are the parameters every translation honours.
var always = map[string]bool{"model": true, "messages": true, "stream": true, "stream_options": true, "n": true}

// set builds a lookup table from names.
func set(names ...string) map[string]bool {
	m := make(map[string]bool, len(names))
	for _, n := range names {
		m[n] = true
	}
	return m
}

// dataURL splits "data:image/png;base64,AAAA" into its media type and base64 data.
func dataURL(u string) (mediaType, data string, ok bool) {
	rest, found := strings.CutPrefix(u, "data:")
	if !found {
		return "", "", false
	}
	meta, data, found := strings.Cut(rest, ",")
	if !found {
		return "", "", false
	}
	mediaType, isB64 := strings.CutSuffix(meta, ";base64")
	if !isB64 || mediaType == "" {
		return "", "", false
	}
	return mediaType, data, true
}

// guessImageType names the media type of an image URL by its extension.
func guessImageType(u string) string {
	p := strings.ToLower(u)
	if i := strings.IndexAny(p, "?#"); i >= 0 {
		p = p[:i]
	}
	switch {
	case strings.HasSuffix(p, ".png"):
		return "image/png"
	case strings.HasSuffix(p, ".gif"):
		return "image/gif"
	case strings.HasSuffix(p, ".webp"):
		return "image/webp"
	default:
		return "image/jpeg"
	}
}

// toolNames maps tool call ids to function names over the conversation, for providers
// whose tool results are matched by name.
func toolNames(msgs []Message) map[string]string {
	m := map[string]string{}
	for _, msg := range msgs {
		for _, tc := range msg.ToolCalls {
			m[tc.ID] = tc.Function.Name
		}
	}
	return m
}

// rawOrObject parses a JSON arguments string into a raw JSON object ({} when empty or
// not an object, wrapped as {"value":...} when it is another JSON value).
func rawOrObject(args, param string) (json.RawMessage, *Error) {
	a := strings.TrimSpace(args)
	if a == "" {
		return json.RawMessage("{}"), nil
	}
	if !json.Valid([]byte(a)) {
		return nil, invalid(param, "%s is not valid JSON", param)
	}
	if a[0] != '{' {
		return nil, invalid(param, "%s must be a JSON object", param)
	}
	return json.RawMessage(a), nil
}

// compact returns a JSON value as a compact string (for tool arguments).
func compact(raw json.RawMessage) string {
	if len(raw) == 0 {
		return "{}"
	}
	var b bytes.Buffer
	if err := json.Compact(&b, raw); err != nil {
		return string(raw)
	}
	return b.String()
}

// now is the clock for created timestamps.
var now = time.Now
