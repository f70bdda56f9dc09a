// guard.go is a mock of Workers AI's run endpoint (POST {base}/run/{model}, also under
// /accounts/{id}/ai/run/…): a guard model (a name holding "guard", such as
// @cf/meta/llama-guard-3-8b) answers {"result":{"response":…},"success":true} from keywords
// in the last message; any other model is a chat model answering Answer, as JSON or, with
// "stream": true, as Workers AI's server-sent events.
package mock

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
)

// Guard is the mock guard model. In the last message: "[violent]" → "unsafe\nS1",
// "[hate]" → "unsafe\nS10", "[crime]" → "unsafe\nS2,S10" (text form); "[weapons]" →
// {"safe":false,"categories":["S9"]} (object form); "[guard-500]" → Workers AI's 500;
// "[guard-hang]" never answers (until the client gives up or the mock closes); "[guard-junk]"
// answers text that is not a verdict; anything else "safe". The model "@cf/meta/broken-guard"
// always answers 500.
type Guard struct {
	*httptest.Server
	recorder
	closed chan struct{}
}

// GuardSeen is one guard call as the mock read it.
type GuardSeen struct {
	Model    string
	Messages []struct{ Role, Content string }
}

// NewGuard starts the mock.
func NewGuard() *Guard {
	m := &Guard{closed: make(chan struct{})}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /run/{model...}", m.run)
	mux.HandleFunc("POST /accounts/{account}/ai/run/{model...}", m.run)
	m.Server = httptest.NewServer(mux)
	return m
}

// Close releases hanging calls and stops the mock.
func (m *Guard) Close() {
	close(m.closed)
	m.Server.Close()
}

// Calls decodes the calls received so far.
func (m *Guard) Calls() []GuardSeen {
	var out []GuardSeen
	for _, r := range m.Requests() {
		var s GuardSeen
		_ = json.Unmarshal(r.Body, &s)
		s.Model = strings.TrimPrefix(r.Path[strings.Index(r.Path, "/run/"):], "/run/")
		out = append(out, s)
	}
	return out
}

func (m *Guard) run(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	m.record(r, body)
	var req struct {
		Messages []struct{ Role, Content string } `json:"messages"`
		Prompt   string                           `json:"prompt"`
		Stream   bool                             `json:"stream"`
	}
	if err := json.Unmarshal(body, &req); err != nil || len(req.Messages) == 0 && req.Prompt == "" {
		workersAIError(w, 400, 5006, "Error: required properties at '/' are 'messages'")
		return
	}
	if !strings.Contains(r.PathValue("model"), "guard") {
		workersAIChat(w, req.Stream)
		return
	}
	last := req.Messages[len(req.Messages)-1].Content
	var resp any
	switch {
	case r.PathValue("model") == "@cf/meta/broken-guard" || strings.Contains(last, "[guard-500]"):
		workersAIError(w, 500, 3043, "Internal server error")
		return
	case strings.Contains(last, "[guard-hang]"):
		select {
		case <-r.Context().Done():
		case <-m.closed:
		}
		return
	case strings.Contains(last, "[guard-junk]"):
		resp = "I am not sure about this one."
	case strings.Contains(last, "[weapons]"):
		resp = map[string]any{"safe": false, "categories": []string{"S9"}}
	case strings.Contains(last, "[crime]"):
		resp = "unsafe\nS2,S10"
	case strings.Contains(last, "[violent]"):
		resp = "unsafe\nS1"
	case strings.Contains(last, "[hate]"):
		resp = "unsafe\nS10"
	default:
		resp = "safe"
	}
	writeJSON(w, 200, map[string]any{"result": map[string]any{"response": resp, "usage": map[string]any{"prompt_tokens": 200, "completion_tokens": 3, "total_tokens": 203}},
		"success": true, "errors": []any{}, "messages": []any{}})
}

func workersAIError(w http.ResponseWriter, status, code int, msg string) {
	writeJSON(w, status, map[string]any{"result": nil, "success": false, "errors": []any{map[string]any{"code": code, "message": msg}}, "messages": []any{}})
}

// workersAIChat answers a chat model's call: {"result":{"response","usage"}} or, streamed,
// one event per word, a last event with the usage, then [DONE].
func workersAIChat(w http.ResponseWriter, stream bool) {
	usage := map[string]any{"prompt_tokens": 12, "completion_tokens": 12, "total_tokens": 24}
	if !stream {
		writeJSON(w, 200, map[string]any{"result": map[string]any{"response": Answer, "usage": usage},
			"success": true, "errors": []any{}, "messages": []any{}})
		return
	}
	w.Header().Set("Content-Type", "text/event-stream")
	fl, _ := w.(http.Flusher)
	words := strings.SplitAfter(Answer, " ")
	for _, word := range words {
		b, _ := json.Marshal(map[string]any{"response": word, "p": "abcdef"})
		w.Write([]byte("data: " + string(b) + "\n\n"))
		if fl != nil {
			fl.Flush()
		}
	}
	b, _ := json.Marshal(map[string]any{"response": "", "usage": usage})
	w.Write([]byte("data: " + string(b) + "\n\ndata: [DONE]\n\n"))
}
