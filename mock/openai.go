// Package mock holds upstream providers for end-to-end tests. They speak each provider's
// documented wire format — JSON bodies, SSE framing, error bodies and status codes — on a
// loopback port, since tests have no internet.
package mock

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// OpenAI is a mock of api.openai.com/v1: chat completions, responses and embeddings.
// The model name picks the behaviour: "error-400", "error-401", "error-404", "error-429"
// (Retry-After: 20), "error-500" answer with OpenAI's error bodies; "gated" streams its
// first chunk and then waits until Release is called; "no-usage" never sends usage, like
// a compatible provider that ignores stream_options.include_usage. Chat completions also
// follow the shared script (script.go): tool calls, tool results, "max-tokens" (finish
// "length"), "safety" (finish "content_filter"). For fallback and retry tests: "hang"
// never answers (until the client gives up or the mock closes); "slow" sends its first
// byte after SlowFirstByte and then streams (or answers) with SlowGap between chunks;
// "flaky-N" answers OpenAI's 503 to its first N calls and then succeeds.
type OpenAI struct {
	*httptest.Server
	recorder
	gate   chan struct{}
	closed chan struct{}
	flaky  sync.Map // model -> *atomic.Int32 calls so far
	// SlowFirstByte and SlowGap pace the "slow" model (defaults 300 ms and 300 ms).
	SlowFirstByte, SlowGap time.Duration
	// AcceptKey, when set, decides which bearer keys are valid; others get OpenAI's 401
	// invalid_api_key answer (with the key masked, as OpenAI masks it).
	AcceptKey func(key string) bool
}

// Seen is one request the mock received.
type Seen struct {
	Method, Path, Query string
	Header              http.Header
	Body                []byte
}

// NewOpenAI starts the mock.
func NewOpenAI() *OpenAI {
	m := &OpenAI{gate: make(chan struct{}), closed: make(chan struct{}), SlowFirstByte: 300 * time.Millisecond, SlowGap: 300 * time.Millisecond}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /chat/completions", m.chat)
	mux.HandleFunc("POST /responses", m.responses)
	mux.HandleFunc("POST /embeddings", m.embeddings)
	// Azure OpenAI serves the same API per deployment: /openai/deployments/{d}/…?api-version=…
	mux.HandleFunc("POST /openai/deployments/{deployment}/chat/completions", m.chat)
	mux.HandleFunc("POST /openai/deployments/{deployment}/embeddings", m.embeddings)
	mux.HandleFunc("GET /models", func(w http.ResponseWriter, r *http.Request) {
		m.record(r, nil)
		writeJSON(w, 200, map[string]any{"object": "list", "data": []any{map[string]any{"id": "gpt-4o-mini", "object": "model", "created": 1700000000, "owned_by": "openai"}}})
	})
	m.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if m.AcceptKey != nil {
			key := strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")
			if !m.AcceptKey(key) {
				m.record(r, nil)
				writeJSON(w, 401, map[string]any{"error": map[string]any{"message": "Incorrect API key provided: " + maskKey(key) +
					". You can find your API key at https://platform.openai.com/account/api-keys.", "type": "invalid_request_error", "param": nil, "code": "invalid_api_key"}})
				return
			}
		}
		mux.ServeHTTP(w, r)
	}))
	return m
}

// maskKey shows a key the way OpenAI's errors do: a few first and last characters.
func maskKey(k string) string {
	if len(k) < 12 {
		return "********"
	}
	return k[:3] + strings.Repeat("*", len(k)-7) + k[len(k)-4:]
}

// Release lets a "gated" stream continue.
func (m *OpenAI) Release() { close(m.gate) }

// Close releases hanging requests and stops the mock.
func (m *OpenAI) Close() {
	close(m.closed)
	m.Server.Close()
}

// pace plays the models that test timeouts and retries. It reports whether it answered.
func (m *OpenAI) pace(w http.ResponseWriter, r *http.Request, model string) bool {
	switch {
	case model == "hang":
		select {
		case <-r.Context().Done():
		case <-m.closed:
		}
		return true
	case model == "slow":
		time.Sleep(m.SlowFirstByte)
	case strings.HasPrefix(model, "flaky-"):
		n, _ := strconv.Atoi(strings.TrimPrefix(model, "flaky-"))
		c, _ := m.flaky.LoadOrStore(model, new(atomic.Int32))
		if int(c.(*atomic.Int32).Add(1)) <= n {
			writeJSON(w, 503, map[string]any{"error": map[string]any{"message": "The engine is currently overloaded, please try again later.",
				"type": "server_error", "param": nil, "code": nil}})
			return true
		}
	}
	return false
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, _ := json.Marshal(v)
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("x-request-id", "req_mock123")
	w.WriteHeader(status)
	w.Write(b)
}

// openAIError answers like OpenAI does for a failed call.
func openAIError(w http.ResponseWriter, model string) bool {
	type e struct {
		status         int
		typ, code, msg string
	}
	var x e
	switch model {
	case "error-400":
		x = e{400, "invalid_request_error", "invalid_value", "Invalid value for 'temperature': must be between 0 and 2."}
	case "error-401":
		x = e{401, "invalid_request_error", "invalid_api_key", "Incorrect API key provided: sk-bad. You can find your API key at https://platform.openai.com/account/api-keys."}
	case "error-404":
		x = e{404, "invalid_request_error", "model_not_found", "The model `error-404` does not exist or you do not have access to it."}
	case "error-429":
		x = e{429, "requests", "rate_limit_exceeded", "Rate limit reached for gpt-4o-mini on requests per min (RPM): Limit 3, Used 3, Requested 1."}
		w.Header().Set("Retry-After", "20")
	case "error-500":
		x = e{500, "server_error", "", "The server had an error while processing your request. Sorry about that!"}
	default:
		return false
	}
	var code any
	if x.code != "" {
		code = x.code
	}
	writeJSON(w, x.status, map[string]any{"error": map[string]any{"message": x.msg, "type": x.typ, "param": nil, "code": code}})
	return true
}

type chatRequest struct {
	Model         string `json:"model"`
	Stream        bool   `json:"stream"`
	StreamOptions *struct {
		IncludeUsage bool `json:"include_usage"`
	} `json:"stream_options"`
	Messages []struct {
		Role       string          `json:"role"`
		Content    json.RawMessage `json:"content"` // string, array of parts or null
		ToolCallID string          `json:"tool_call_id"`
		ToolCalls  []struct {
			ID string `json:"id"`
		} `json:"tool_calls"`
	} `json:"messages"`
	Tools []struct {
		Type     string `json:"type"`
		Function struct {
			Name string `json:"name"`
		} `json:"function"`
	} `json:"tools"`
	ToolChoice        json.RawMessage `json:"tool_choice"` // "none" | "auto" | "required" | {"type":"function","function":{"name"}}
	ParallelToolCalls *bool           `json:"parallel_tool_calls"`
}

// Canned answer and its token counts.
const (
	Answer           = "Hello from the mock upstream. How can I help you today?"
	PromptTokens     = 13
	CompletionTokens = 11
)

// openAIText is the text of a chat message's content: a string or text parts.
func openAIText(raw json.RawMessage) string {
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s
	}
	var parts []struct {
		Type string `json:"type"`
		Text string `json:"text"`
	}
	json.Unmarshal(raw, &parts)
	var b strings.Builder
	for _, p := range parts {
		if p.Type == "text" {
			b.WriteString(p.Text)
		}
	}
	return b.String()
}

// conversation extracts what the script needs; a non-empty string is a 400 message.
func (req *chatRequest) conversation() (conversation, string) {
	c := conversation{model: req.Model, single: req.ParallelToolCalls != nil && !*req.ParallelToolCalls}
	for _, t := range req.Tools {
		if t.Type == "function" || t.Type == "" {
			c.tools = append(c.tools, t.Function.Name)
		}
	}
	var choice string
	if json.Unmarshal(req.ToolChoice, &choice) == nil {
		c.none = choice == "none"
	} else if len(req.ToolChoice) > 0 {
		var named struct {
			Function struct {
				Name string `json:"name"`
			} `json:"function"`
		}
		json.Unmarshal(req.ToolChoice, &named)
		c.forced = named.Function.Name
	}
	ids := map[string]bool{}
	for i, msg := range req.Messages {
		switch msg.Role {
		case "assistant":
			for _, tc := range msg.ToolCalls {
				ids[tc.ID] = true
			}
		case "tool":
			if !ids[msg.ToolCallID] {
				return c, fmt.Sprintf("messages.[%d].role", i)
			}
		}
	}
	if n := len(req.Messages); n > 0 {
		last := req.Messages[n-1]
		switch last.Role {
		case "user":
			c.lastUser, c.lastText = true, openAIText(last.Content)
		case "tool":
			c.lastToolResult, c.toolText = true, compactText(openAIText(last.Content))
		}
	}
	return c, ""
}

func (m *OpenAI) chat(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	m.record(r, body)
	var req chatRequest
	if err := json.Unmarshal(body, &req); err != nil {
		writeJSON(w, 400, map[string]any{"error": map[string]any{"message": "We could not parse the JSON body of your request.", "type": "invalid_request_error", "param": nil, "code": nil}})
		return
	}
	if openAIError(w, req.Model) || m.pace(w, r, req.Model) {
		return
	}
	conv, badParam := req.conversation()
	if badParam != "" {
		writeJSON(w, 400, map[string]any{"error": map[string]any{"message": "Invalid parameter: messages with role 'tool' must be a response to a preceeding message with 'tool_calls'.",
			"type": "invalid_request_error", "param": badParam, "code": nil}})
		return
	}
	ans := play(conv)
	finish := map[stop]string{stopEnd: "stop", stopMaxTokens: "length", stopSafety: "content_filter", stopToolUse: "tool_calls"}[ans.stop]
	usage := map[string]any{"prompt_tokens": PromptTokens, "completion_tokens": CompletionTokens, "total_tokens": PromptTokens + CompletionTokens,
		"prompt_tokens_details": map[string]any{"cached_tokens": 0}, "completion_tokens_details": map[string]any{"reasoning_tokens": 0}}
	wantUsage := req.StreamOptions != nil && req.StreamOptions.IncludeUsage && req.Model != "no-usage"
	if !req.Stream {
		msg := map[string]any{"role": "assistant", "content": ans.text, "refusal": nil}
		if len(ans.calls) > 0 {
			msg["content"] = nil
			var calls []any
			for _, tc := range ans.calls {
				calls = append(calls, map[string]any{"id": tc.ID, "type": "function", "function": map[string]any{"name": tc.Name, "arguments": tc.Args}})
			}
			msg["tool_calls"] = calls
		}
		resp := map[string]any{
			"id": "chatcmpl-mock1", "object": "chat.completion", "created": 1731000000, "model": req.Model,
			"system_fingerprint": "fp_mock",
			"choices":            []any{map[string]any{"index": 0, "message": msg, "logprobs": nil, "finish_reason": finish}},
		}
		if req.Model != "no-usage" {
			resp["usage"] = usage
		}
		writeJSON(w, 200, resp)
		return
	}
	out := startSSE(w, "text/event-stream; charset=utf-8")
	chunk := func(delta map[string]any, finish any, u any) {
		c := map[string]any{"id": "chatcmpl-mock1", "object": "chat.completion.chunk", "created": 1731000000, "model": req.Model, "system_fingerprint": "fp_mock",
			"choices": []any{map[string]any{"index": 0, "delta": delta, "logprobs": nil, "finish_reason": finish}}}
		if u != nil {
			c["choices"] = []any{}
			c["usage"] = u
		} else if wantUsage {
			c["usage"] = nil
		}
		b, _ := json.Marshal(c)
		out.write("data: " + string(b) + "\n\n")
	}
	chunk(map[string]any{"role": "assistant", "content": "", "refusal": nil}, nil, nil)
	if req.Model == "gated" {
		<-m.gate
	}
	for _, word := range words(ans.text) {
		if req.Model == "slow" {
			time.Sleep(m.SlowGap)
		}
		chunk(map[string]any{"content": word}, nil, nil)
	}
	for i, tc := range ans.calls {
		chunk(map[string]any{"tool_calls": []any{map[string]any{"index": i, "id": tc.ID, "type": "function",
			"function": map[string]any{"name": tc.Name, "arguments": ""}}}}, nil, nil)
		for _, frag := range fragments(tc.Args) {
			chunk(map[string]any{"tool_calls": []any{map[string]any{"index": i, "function": map[string]any{"arguments": frag}}}}, nil, nil)
		}
	}
	chunk(map[string]any{}, finish, nil)
	if wantUsage {
		chunk(nil, nil, usage)
	}
	out.write("data: [DONE]\n\n")
}

func (m *OpenAI) responses(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	m.record(r, body)
	var req struct {
		Model  string `json:"model"`
		Stream bool   `json:"stream"`
	}
	if err := json.Unmarshal(body, &req); err != nil {
		writeJSON(w, 400, map[string]any{"error": map[string]any{"message": "We could not parse the JSON body of your request.", "type": "invalid_request_error", "param": nil, "code": nil}})
		return
	}
	if openAIError(w, req.Model) {
		return
	}
	resp := map[string]any{
		"id": "resp_mock1", "object": "response", "created_at": 1731000000, "status": "completed", "model": req.Model,
		"output": []any{map[string]any{"type": "message", "id": "msg_mock1", "status": "completed", "role": "assistant",
			"content": []any{map[string]any{"type": "output_text", "text": Answer, "annotations": []any{}}}}},
		"usage": map[string]any{"input_tokens": PromptTokens, "output_tokens": CompletionTokens, "total_tokens": PromptTokens + CompletionTokens,
			"input_tokens_details": map[string]any{"cached_tokens": 0}, "output_tokens_details": map[string]any{"reasoning_tokens": 0}},
	}
	if !req.Stream {
		writeJSON(w, 200, resp)
		return
	}
	w.Header().Set("Content-Type", "text/event-stream; charset=utf-8")
	w.WriteHeader(200)
	fl := w.(http.Flusher)
	seq := 0
	event := func(typ string, data map[string]any) {
		data["type"] = typ
		data["sequence_number"] = seq
		seq++
		b, _ := json.Marshal(data)
		fmt.Fprintf(w, "event: %s\ndata: %s\n\n", typ, b)
		fl.Flush()
	}
	inProgress := map[string]any{"id": "resp_mock1", "object": "response", "created_at": 1731000000, "status": "in_progress", "model": req.Model, "output": []any{}}
	event("response.created", map[string]any{"response": inProgress})
	for _, word := range strings.SplitAfter(Answer, " ") {
		event("response.output_text.delta", map[string]any{"item_id": "msg_mock1", "output_index": 0, "content_index": 0, "delta": word})
	}
	event("response.completed", map[string]any{"response": resp})
}

func (m *OpenAI) embeddings(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	m.record(r, body)
	var req struct {
		Model string `json:"model"`
	}
	if err := json.Unmarshal(body, &req); err != nil {
		writeJSON(w, 400, map[string]any{"error": map[string]any{"message": "We could not parse the JSON body of your request.", "type": "invalid_request_error", "param": nil, "code": nil}})
		return
	}
	if openAIError(w, req.Model) {
		return
	}
	writeJSON(w, 200, map[string]any{"object": "list", "model": req.Model,
		"data":  []any{map[string]any{"object": "embedding", "index": 0, "embedding": []float64{0.0023, -0.0091, 0.0152}}},
		"usage": map[string]any{"prompt_tokens": 8, "total_tokens": 8}})
}
