// cohere.go is a mock of api.cohere.com: the v2 Chat API, POST /v2/chat, as JSON and as
// its SSE stream (message-start, content-*, tool-plan-delta, tool-call-*, message-end).
package mock

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
)

// Cohere token counts of every answer (the same in usage.billed_units and usage.tokens).
const (
	CohereInputTokens  = 17
	CohereOutputTokens = 8
)

// CohereToolPlan is the tool_plan of a tool-calling answer.
const CohereToolPlan = "I will call the tools to answer the question."

// Cohere is the mock. A bearer key is required. Models "error-401", "error-404",
// "error-429" (Retry-After: 7), "error-500" answer with Cohere's {"message"} error bodies;
// the rest follows the shared script (script.go) with finish reasons "COMPLETE",
// "TOOL_CALL" and "MAX_TOKENS" ("safety" answers normally).
type Cohere struct {
	*httptest.Server
	recorder
	// AcceptKey, when set, decides which bearer keys are valid; others get Cohere's 401.
	AcceptKey func(key string) bool
}

// NewCohere starts the mock.
func NewCohere() *Cohere {
	m := &Cohere{}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v2/chat", m.chat)
	m.Server = httptest.NewServer(mux)
	return m
}

func cohereError(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, map[string]any{"message": msg})
}

// cohereText is a message content's text: a string, or text (and document) parts.
func cohereText(raw json.RawMessage) (string, bool) {
	if len(raw) == 0 || string(raw) == "null" {
		return "", true
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s, true
	}
	var parts []struct {
		Type     string `json:"type"`
		Text     string `json:"text"`
		ImageURL *struct {
			URL string `json:"url"`
		} `json:"image_url"`
		Document *struct {
			Data json.RawMessage `json:"data"`
		} `json:"document"`
	}
	if json.Unmarshal(raw, &parts) != nil {
		return "", false
	}
	var b strings.Builder
	for _, p := range parts {
		switch p.Type {
		case "text":
			b.WriteString(p.Text)
		case "document":
			if p.Document == nil {
				return "", false
			}
			var s string
			if json.Unmarshal(p.Document.Data, &s) == nil {
				b.WriteString(s)
			} else {
				b.WriteString(compactJSON(p.Document.Data))
			}
		case "image_url":
			if p.ImageURL == nil || p.ImageURL.URL == "" {
				return "", false
			}
		default:
			return "", false
		}
	}
	return b.String(), true
}

func (m *Cohere) chat(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	m.record(r, body)
	key, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok || key == "" {
		cohereError(w, 401, "no api key supplied")
		return
	}
	if m.AcceptKey != nil && !m.AcceptKey(key) {
		cohereError(w, 401, "invalid api token")
		return
	}
	var req struct {
		Model    string `json:"model"`
		Stream   bool   `json:"stream"`
		Messages []struct {
			Role       string          `json:"role"`
			Content    json.RawMessage `json:"content"`
			ToolCallID string          `json:"tool_call_id"`
			ToolPlan   string          `json:"tool_plan"`
			ToolCalls  []struct {
				ID       string `json:"id"`
				Type     string `json:"type"`
				Function struct {
					Name      string `json:"name"`
					Arguments string `json:"arguments"`
				} `json:"function"`
			} `json:"tool_calls"`
		} `json:"messages"`
		Tools []struct {
			Type     string `json:"type"`
			Function struct {
				Name       string          `json:"name"`
				Parameters json.RawMessage `json:"parameters"`
			} `json:"function"`
		} `json:"tools"`
		ToolChoice string `json:"tool_choice"` // REQUIRED | NONE
	}
	if err := json.Unmarshal(body, &req); err != nil {
		cohereError(w, 400, "invalid request: json: "+err.Error())
		return
	}
	if req.Model == "" {
		cohereError(w, 400, "invalid request: model must be specified")
		return
	}
	if len(req.Messages) == 0 {
		cohereError(w, 400, "invalid request: messages must not be empty")
		return
	}
	switch req.Model {
	case "error-401":
		cohereError(w, 401, "invalid api token")
		return
	case "error-404":
		cohereError(w, 404, "model 'error-404' not found, make sure the correct model ID was used and that you have access to the model.")
		return
	case "error-429":
		w.Header().Set("Retry-After", RetryAfter)
		cohereError(w, 429, "You are using a Trial key, which is limited to 20 API calls / minute. You can continue to use the Trial key for free or upgrade to a Production key with higher rate limits at 'https://dashboard.cohere.com/api-keys'. Contact us on 'https://discord.gg/XW44jPfYJu' or email us at support@cohere.com with any questions")
		return
	case "error-500":
		cohereError(w, 500, "internal server error, this has been reported to our developers. id 6f1e2d3c-mock")
		return
	}
	conv := conversation{model: req.Model, none: strings.EqualFold(req.ToolChoice, "NONE")}
	if req.ToolChoice != "" && !strings.EqualFold(req.ToolChoice, "NONE") && !strings.EqualFold(req.ToolChoice, "REQUIRED") {
		cohereError(w, 400, "invalid request: tool_choice must be one of REQUIRED, NONE")
		return
	}
	for i, t := range req.Tools {
		if t.Type != "function" || t.Function.Name == "" {
			cohereError(w, 400, fmt.Sprintf("invalid request: tools[%d]: type must be 'function' and function.name must be set", i))
			return
		}
		conv.tools = append(conv.tools, t.Function.Name)
	}
	for i, msg := range req.Messages {
		text, ok := cohereText(msg.Content)
		if !ok {
			cohereError(w, 400, fmt.Sprintf("invalid request: messages[%d].content is invalid", i))
			return
		}
		switch msg.Role {
		case "system", "user", "assistant":
		case "tool":
			if msg.ToolCallID == "" {
				cohereError(w, 400, fmt.Sprintf("invalid request: messages[%d]: tool_call_id is required for tool messages", i))
				return
			}
		default:
			cohereError(w, 400, fmt.Sprintf("invalid request: messages[%d].role must be one of system, user, assistant, tool", i))
			return
		}
		if i == len(req.Messages)-1 {
			switch msg.Role {
			case "user":
				conv.lastUser, conv.lastText = true, text
			case "tool":
				conv.lastToolResult, conv.toolText = true, compactText(text)
			}
		}
	}
	ans := play(conv)
	finish := map[stop]string{stopEnd: "COMPLETE", stopMaxTokens: "MAX_TOKENS", stopSafety: "COMPLETE", stopToolUse: "TOOL_CALL"}[ans.stop]
	if ans.stop == stopSafety {
		ans.text = Answer
	}
	units := map[string]any{"input_tokens": CohereInputTokens, "output_tokens": CohereOutputTokens}
	usage := map[string]any{"billed_units": units, "tokens": units}
	const id = "c14c80c3-18eb-4519-9460-6c92edd8cfb4"
	var calls []any
	for _, tc := range ans.calls {
		calls = append(calls, map[string]any{"id": tc.ID, "type": "function", "function": map[string]any{"name": tc.Name, "arguments": tc.Args}})
	}
	if !req.Stream {
		msg := map[string]any{"role": "assistant"}
		if len(calls) > 0 {
			msg["tool_plan"] = CohereToolPlan
			msg["tool_calls"] = calls
		} else {
			msg["content"] = []any{map[string]any{"type": "text", "text": ans.text}}
		}
		writeJSON(w, 200, map[string]any{"id": id, "finish_reason": finish, "message": msg, "usage": usage})
		return
	}
	out := startSSE(w, "text/event-stream")
	event := func(typ string, data map[string]any) {
		data["type"] = typ
		b, _ := json.Marshal(data)
		out.write(fmt.Sprintf("event: %s\ndata: %s\n\n", typ, b))
	}
	msgDelta := func(v map[string]any) map[string]any { return map[string]any{"message": v} }
	event("message-start", map[string]any{"id": id, "delta": msgDelta(map[string]any{"role": "assistant", "content": []any{},
		"tool_plan": "", "tool_calls": []any{}, "citations": []any{}})})
	if len(calls) > 0 {
		for _, word := range words(CohereToolPlan) {
			event("tool-plan-delta", map[string]any{"delta": msgDelta(map[string]any{"tool_plan": word})})
		}
		for i, tc := range ans.calls {
			event("tool-call-start", map[string]any{"index": i, "delta": msgDelta(map[string]any{"tool_calls": map[string]any{
				"id": tc.ID, "type": "function", "function": map[string]any{"name": tc.Name, "arguments": ""}}})})
			for _, frag := range fragments(tc.Args) {
				event("tool-call-delta", map[string]any{"index": i, "delta": msgDelta(map[string]any{"tool_calls": map[string]any{
					"function": map[string]any{"arguments": frag}}})})
			}
			event("tool-call-end", map[string]any{"index": i})
		}
	} else {
		event("content-start", map[string]any{"index": 0, "delta": msgDelta(map[string]any{"content": map[string]any{"type": "text", "text": ""}})})
		for _, word := range words(ans.text) {
			event("content-delta", map[string]any{"index": 0, "delta": msgDelta(map[string]any{"content": map[string]any{"text": word}})})
		}
		event("content-end", map[string]any{"index": 0})
	}
	event("message-end", map[string]any{"delta": map[string]any{"finish_reason": finish, "usage": usage}})
}
