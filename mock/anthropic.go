// anthropic.go is a mock of api.anthropic.com: POST /v1/messages as JSON and as the
// documented SSE event stream (message_start, content_block_*, message_delta, message_stop).
package mock

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
)

// Anthropic token counts of the canned answer; cache_read_input_tokens is
// AnthropicCacheReadTokens for model "cached", else 0.
const (
	AnthropicInputTokens     = 21
	AnthropicOutputTokens    = 12
	AnthropicCacheReadTokens = 3
)

// Anthropic is the mock. Requests need x-api-key and anthropic-version headers, and
// max_tokens. Models "error-401", "error-404", "error-429" (Retry-After: 7), "error-500"
// and "error-529" answer with Anthropic's error bodies; "cached" reports cache reads; the
// rest follows the shared script (script.go), with stop reasons "end_turn", "tool_use",
// "max_tokens" and "refusal" (no content).
type Anthropic struct {
	*httptest.Server
	recorder
	// AcceptKey, when set, decides which x-api-key values are valid; others get
	// Anthropic's 401 authentication_error.
	AcceptKey func(key string) bool
}

// NewAnthropic starts the mock.
func NewAnthropic() *Anthropic {
	m := &Anthropic{}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v1/messages", m.messages)
	m.Server = httptest.NewServer(mux)
	return m
}

type anthropicBlock struct {
	Type      string          `json:"type"`
	Text      string          `json:"text"`
	ID        string          `json:"id"`
	Name      string          `json:"name"`
	Input     json.RawMessage `json:"input"`
	ToolUseID string          `json:"tool_use_id"`
	Content   json.RawMessage `json:"content"` // tool_result: string or blocks
	Source    *struct {
		Type      string `json:"type"`
		MediaType string `json:"media_type"`
		Data      string `json:"data"`
		URL       string `json:"url"`
	} `json:"source"`
}

// anthropicContent parses a string-or-blocks content; ok is false when it is neither.
func anthropicContent(raw json.RawMessage) (blocks []anthropicBlock, ok bool) {
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return []anthropicBlock{{Type: "text", Text: s}}, true
	}
	if json.Unmarshal(raw, &blocks) != nil {
		return nil, false
	}
	return blocks, true
}

// checkBlocks validates content blocks the way the API does; it returns the error message.
func checkBlocks(where string, blocks []anthropicBlock) string {
	for i, b := range blocks {
		at := fmt.Sprintf("%s.%d", where, i)
		switch b.Type {
		case "text", "thinking", "redacted_thinking", "document", "search_result", "server_tool_use", "web_search_tool_result":
		case "image":
			if b.Source == nil {
				return at + ".source: Field required"
			}
			switch b.Source.Type {
			case "base64":
				switch b.Source.MediaType {
				case "image/jpeg", "image/png", "image/gif", "image/webp":
				default:
					return at + ".source.base64.media_type: Input should be 'image/jpeg', 'image/png', 'image/gif' or 'image/webp'"
				}
				if _, err := base64.StdEncoding.DecodeString(b.Source.Data); err != nil {
					return at + ".source.base64.data: The image data is not valid base64"
				}
			case "url", "file":
			default:
				return at + ".source: Input tag '" + b.Source.Type + "' found using 'type' does not match any of the expected tags: 'base64', 'url', 'file'"
			}
		case "tool_use":
			if b.ID == "" || b.Name == "" {
				return at + ".tool_use: id and name are required"
			}
		case "tool_result":
			if b.ToolUseID == "" {
				return at + ".tool_result.tool_use_id: Field required"
			}
		case "":
			return at + ".type: Field required"
		default:
			return at + ".type: Input tag '" + b.Type + "' found using 'type' does not match any of the expected tags"
		}
	}
	return ""
}

// toolResultText is a tool_result's text: its string content or its text blocks.
func toolResultText(raw json.RawMessage) string {
	blocks, _ := anthropicContent(raw)
	var sb strings.Builder
	for _, b := range blocks {
		if b.Type == "text" {
			sb.WriteString(b.Text)
		}
	}
	return compactText(sb.String())
}

func (m *Anthropic) messages(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	m.record(r, body)
	key := r.Header.Get("x-api-key")
	if key == "" {
		anthropicError(w, 401, "authentication_error", "x-api-key header is required")
		return
	}
	if m.AcceptKey != nil && !m.AcceptKey(key) {
		anthropicError(w, 401, "authentication_error", "invalid x-api-key")
		return
	}
	if r.Header.Get("anthropic-version") == "" {
		anthropicError(w, 400, "invalid_request_error", "anthropic-version header is required")
		return
	}
	var req struct {
		Model     string          `json:"model"`
		Stream    bool            `json:"stream"`
		MaxTokens *int            `json:"max_tokens"`
		System    json.RawMessage `json:"system"`
		Messages  []struct {
			Role    string          `json:"role"`
			Content json.RawMessage `json:"content"`
		} `json:"messages"`
		Tools []struct {
			Type        string          `json:"type"`
			Name        string          `json:"name"`
			InputSchema json.RawMessage `json:"input_schema"`
		} `json:"tools"`
		ToolChoice *struct {
			Type                   string `json:"type"` // auto | any | tool | none
			Name                   string `json:"name"`
			DisableParallelToolUse bool   `json:"disable_parallel_tool_use"`
		} `json:"tool_choice"`
	}
	if err := json.Unmarshal(body, &req); err != nil {
		anthropicError(w, 400, "invalid_request_error", "messages: invalid JSON body")
		return
	}
	if req.MaxTokens == nil {
		anthropicError(w, 400, "invalid_request_error", "max_tokens: Field required")
		return
	}
	if req.Messages == nil {
		anthropicError(w, 400, "invalid_request_error", "messages: Field required")
		return
	}
	if len(req.System) > 0 && string(req.System) != "null" {
		blocks, ok := anthropicContent(req.System)
		if !ok {
			anthropicError(w, 400, "invalid_request_error", "system: Input should be a valid string or a list of text blocks")
			return
		}
		for i, b := range blocks {
			if b.Type != "text" {
				anthropicError(w, 400, "invalid_request_error", fmt.Sprintf("system.%d.type: Input should be 'text'", i))
				return
			}
		}
	}
	conv := conversation{model: req.Model}
	for i, t := range req.Tools {
		if t.Type == "" || t.Type == "custom" {
			if t.Name == "" || len(t.InputSchema) == 0 {
				anthropicError(w, 400, "invalid_request_error", fmt.Sprintf("tools.%d.custom.input_schema: Field required", i))
				return
			}
			conv.tools = append(conv.tools, t.Name)
		}
	}
	if tc := req.ToolChoice; tc != nil {
		conv.none = tc.Type == "none"
		conv.single = tc.DisableParallelToolUse
		if tc.Type == "tool" {
			conv.forced = tc.Name
		}
	}
	for i, msg := range req.Messages {
		if msg.Role != "user" && msg.Role != "assistant" {
			anthropicError(w, 400, "invalid_request_error", fmt.Sprintf("messages.%d.role: Input should be 'user' or 'assistant'", i))
			return
		}
		blocks, ok := anthropicContent(msg.Content)
		if !ok {
			anthropicError(w, 400, "invalid_request_error", fmt.Sprintf("messages.%d.content: Input should be a valid list", i))
			return
		}
		if e := checkBlocks(fmt.Sprintf("messages.%d.content", i), blocks); e != "" {
			anthropicError(w, 400, "invalid_request_error", e)
			return
		}
		if i < len(req.Messages)-1 || msg.Role != "user" {
			continue
		}
		var text strings.Builder
		for _, b := range blocks {
			switch b.Type {
			case "tool_result":
				conv.lastToolResult, conv.toolText = true, toolResultText(b.Content)
			case "text":
				text.WriteString(b.Text)
			}
		}
		conv.lastUser, conv.lastText = !conv.lastToolResult, text.String()
	}
	switch req.Model {
	case "error-401":
		anthropicError(w, 401, "authentication_error", "invalid x-api-key")
		return
	case "error-404":
		anthropicError(w, 404, "not_found_error", "model: error-404")
		return
	case "error-429":
		w.Header().Set("Retry-After", RetryAfter)
		anthropicError(w, 429, "rate_limit_error", "This request would exceed the rate limit for your organization of 50 requests per minute. For details, refer to: https://docs.claude.com/en/api/rate-limits.")
		return
	case "error-500":
		anthropicError(w, 500, "api_error", "Internal server error")
		return
	case "error-529":
		anthropicError(w, 529, "overloaded_error", "Overloaded")
		return
	}
	ans := play(conv)
	stopReason := map[stop]string{stopEnd: "end_turn", stopMaxTokens: "max_tokens", stopSafety: "refusal", stopToolUse: "tool_use"}[ans.stop]
	cacheRead := 0
	if req.Model == "cached" {
		cacheRead = AnthropicCacheReadTokens
	}
	w.Header().Set("request-id", "req_mock01")
	msg := map[string]any{"id": "msg_mock01", "type": "message", "role": "assistant", "model": req.Model,
		"stop_reason": stopReason, "stop_sequence": nil}
	if !req.Stream {
		content := []any{}
		if ans.text != "" {
			content = append(content, map[string]any{"type": "text", "text": ans.text})
		}
		for _, tc := range ans.calls {
			content = append(content, map[string]any{"type": "tool_use", "id": tc.ID, "name": tc.Name, "input": json.RawMessage(tc.Args)})
		}
		msg["content"] = content
		msg["usage"] = map[string]any{"input_tokens": AnthropicInputTokens, "output_tokens": AnthropicOutputTokens,
			"cache_creation_input_tokens": 0, "cache_read_input_tokens": cacheRead, "service_tier": "standard"}
		b, _ := json.Marshal(msg)
		w.Header().Set("Content-Type", "application/json")
		w.Write(b)
		return
	}
	out := startSSE(w, "text/event-stream; charset=utf-8")
	event := func(typ string, data map[string]any) {
		data["type"] = typ
		b, _ := json.Marshal(data)
		out.write(fmt.Sprintf("event: %s\ndata: %s\n\n", typ, b))
	}
	start := map[string]any{"id": "msg_mock01", "type": "message", "role": "assistant", "model": req.Model, "content": []any{},
		"stop_reason": nil, "stop_sequence": nil, "usage": map[string]any{"input_tokens": AnthropicInputTokens, "output_tokens": 1,
			"cache_creation_input_tokens": 0, "cache_read_input_tokens": cacheRead}}
	event("message_start", map[string]any{"message": start})
	index := 0
	pinged := false
	ping := func() {
		if !pinged {
			event("ping", map[string]any{})
			pinged = true
		}
	}
	if ans.text != "" {
		event("content_block_start", map[string]any{"index": index, "content_block": map[string]any{"type": "text", "text": ""}})
		ping()
		for _, word := range words(ans.text) {
			event("content_block_delta", map[string]any{"index": index, "delta": map[string]any{"type": "text_delta", "text": word}})
		}
		event("content_block_stop", map[string]any{"index": index})
		index++
	}
	for _, tc := range ans.calls {
		event("content_block_start", map[string]any{"index": index, "content_block": map[string]any{"type": "tool_use", "id": tc.ID, "name": tc.Name, "input": map[string]any{}}})
		ping()
		for _, frag := range fragments(tc.Args) {
			event("content_block_delta", map[string]any{"index": index, "delta": map[string]any{"type": "input_json_delta", "partial_json": frag}})
		}
		event("content_block_stop", map[string]any{"index": index})
		index++
	}
	ping()
	event("message_delta", map[string]any{"delta": map[string]any{"stop_reason": stopReason, "stop_sequence": nil},
		"usage": map[string]any{"output_tokens": AnthropicOutputTokens}})
	event("message_stop", map[string]any{})
}

func anthropicError(w http.ResponseWriter, status int, typ, msg string) {
	b, _ := json.Marshal(map[string]any{"type": "error", "error": map[string]any{"type": typ, "message": msg}, "request_id": "req_mock01"})
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("request-id", "req_mock01")
	w.WriteHeader(status)
	w.Write(b)
}
