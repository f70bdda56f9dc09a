// anthropic.go is a mock of api.anthropic.com: POST /v1/messages as JSON and as the
// documented SSE event stream (message_start, content_block_*, message_delta, message_stop).
package mock

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
)

// Anthropic token counts of the canned answer.
const (
	AnthropicInputTokens  = 21
	AnthropicOutputTokens = 12
)

// Anthropic is the mock. Model "error-401" / "error-529" answer with Anthropic's error bodies.
type Anthropic struct {
	*httptest.Server
	mu       sync.Mutex
	requests []Seen
}

// NewAnthropic starts the mock.
func NewAnthropic() *Anthropic {
	m := &Anthropic{}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v1/messages", m.messages)
	m.Server = httptest.NewServer(mux)
	return m
}

// Requests returns what the mock received so far.
func (m *Anthropic) Requests() []Seen {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]Seen(nil), m.requests...)
}

func (m *Anthropic) messages(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	m.mu.Lock()
	m.requests = append(m.requests, Seen{Method: r.Method, Path: r.URL.Path, Header: r.Header.Clone(), Body: body})
	m.mu.Unlock()
	var req struct {
		Model  string `json:"model"`
		Stream bool   `json:"stream"`
	}
	if err := json.Unmarshal(body, &req); err != nil {
		anthropicError(w, 400, "invalid_request_error", "messages: invalid JSON body")
		return
	}
	if r.Header.Get("x-api-key") == "" {
		anthropicError(w, 401, "authentication_error", "x-api-key header is required")
		return
	}
	switch req.Model {
	case "error-401":
		anthropicError(w, 401, "authentication_error", "invalid x-api-key")
		return
	case "error-529":
		anthropicError(w, 529, "overloaded_error", "Overloaded")
		return
	}
	msg := map[string]any{"id": "msg_mock01", "type": "message", "role": "assistant", "model": req.Model,
		"stop_reason": "end_turn", "stop_sequence": nil}
	if !req.Stream {
		msg["content"] = []any{map[string]any{"type": "text", "text": Answer}}
		msg["usage"] = map[string]any{"input_tokens": AnthropicInputTokens, "output_tokens": AnthropicOutputTokens,
			"cache_creation_input_tokens": 0, "cache_read_input_tokens": 0}
		b, _ := json.Marshal(msg)
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("request-id", "req_mock01")
		w.Write(b)
		return
	}
	w.Header().Set("Content-Type", "text/event-stream; charset=utf-8")
	w.Header().Set("Cache-Control", "no-cache")
	w.WriteHeader(200)
	fl := w.(http.Flusher)
	event := func(typ string, data map[string]any) {
		data["type"] = typ
		b, _ := json.Marshal(data)
		fmt.Fprintf(w, "event: %s\ndata: %s\n\n", typ, b)
		fl.Flush()
	}
	start := map[string]any{"id": "msg_mock01", "type": "message", "role": "assistant", "model": req.Model, "content": []any{},
		"stop_reason": nil, "stop_sequence": nil, "usage": map[string]any{"input_tokens": AnthropicInputTokens, "output_tokens": 1}}
	event("message_start", map[string]any{"message": start})
	event("content_block_start", map[string]any{"index": 0, "content_block": map[string]any{"type": "text", "text": ""}})
	event("ping", map[string]any{})
	for _, word := range strings.SplitAfter(Answer, " ") {
		event("content_block_delta", map[string]any{"index": 0, "delta": map[string]any{"type": "text_delta", "text": word}})
	}
	event("content_block_stop", map[string]any{"index": 0})
	event("message_delta", map[string]any{"delta": map[string]any{"stop_reason": "end_turn", "stop_sequence": nil},
		"usage": map[string]any{"output_tokens": AnthropicOutputTokens}})
	event("message_stop", map[string]any{})
}

func anthropicError(w http.ResponseWriter, status int, typ, msg string) {
	b, _ := json.Marshal(map[string]any{"type": "error", "error": map[string]any{"type": typ, "message": msg}})
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	w.Write(b)
}
