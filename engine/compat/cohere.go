// cohere.go translates the unified API to Cohere's v2 chat API and back. Cohere v2 is
// close to OpenAI (same tool declarations and tool_calls) but names things its own way:
// p for top_p, stop_sequences, upper-case tool_choice and finish reasons, typed stream events.
package compat

import (
	"errors"
	"fmt"
	"strings"

	json "github.com/goccy/go-json"
	"github.com/tidwall/gjson"
)

type cohere struct{}

var cohereParams = set("tools", "tool_choice", "parallel_tool_calls", "response_format", "temperature", "top_p",
	"max_tokens", "max_completion_tokens", "stop", "seed", "frequency_penalty", "presence_penalty")

type cohereRequest struct {
	Model            string          `json:"model"`
	Messages         []cohereMessage `json:"messages"`
	Tools            []Tool          `json:"tools,omitempty"`
	ToolChoice       string          `json:"tool_choice,omitempty"`
	ResponseFormat   *cohereFormat   `json:"response_format,omitempty"`
	Temperature      *float64        `json:"temperature,omitempty"`
	P                *float64        `json:"p,omitempty"`
	MaxTokens        *int64          `json:"max_tokens,omitempty"`
	StopSequences    []string        `json:"stop_sequences,omitempty"`
	Seed             *int64          `json:"seed,omitempty"`
	FrequencyPenalty *float64        `json:"frequency_penalty,omitempty"`
	PresencePenalty  *float64        `json:"presence_penalty,omitempty"`
	Stream           bool            `json:"stream,omitempty"`
}

type cohereMessage struct {
	Role       string     `json:"role"`
	Content    any        `json:"content,omitempty"`
	ToolCalls  []ToolCall `json:"tool_calls,omitempty"`
	ToolCallID string     `json:"tool_call_id,omitempty"`
}

type cohereFormat struct {
	Type       string          `json:"type"`
	JSONSchema json.RawMessage `json:"json_schema,omitempty"`
}

func (cohere) request(c *Call, r *ChatRequest) ([]byte, *Error) {
	if err := r.checkFields("cohere", cohereParams); err != nil {
		return nil, err
	}
	if r.ParallelToolCalls != nil && !*r.ParallelToolCalls {
		return nil, unsupported("parallel_tool_calls", "cohere", "Cohere cannot be kept to one call per turn")
	}
	out := cohereRequest{Model: c.Model, Tools: r.Tools, Temperature: r.Temperature, P: r.TopP, MaxTokens: r.maxTokens(),
		StopSequences: r.Stop, Seed: r.Seed, FrequencyPenalty: r.FrequencyPenalty, PresencePenalty: r.PresencePenalty, Stream: r.Stream}
	for i := range r.Messages {
		m := &r.Messages[i]
		cm := cohereMessage{Role: m.Role, ToolCallID: m.ToolCallID}
		if m.Role == "developer" {
			cm.Role = "system"
		}
		switch {
		case m.Role == "user" && hasImage(m.Parts):
			cm.Content = m.Parts // Cohere v2 takes OpenAI's text and image_url parts as they are
		case len(m.Parts) > 0:
			cm.Content = m.Text()
		}
		for j, tc := range m.ToolCalls {
			if _, err := rawOrObject(tc.Function.Arguments, fmt.Sprintf("messages[%d].tool_calls[%d].function.arguments", i, j)); err != nil {
				return nil, err
			}
			cm.ToolCalls = append(cm.ToolCalls, ToolCall{ID: tc.ID, Type: "function", Function: tc.Function})
		}
		out.Messages = append(out.Messages, cm)
	}
	tc, err := r.toolChoice()
	if err != nil {
		return nil, err
	}
	switch tc.Mode {
	case "none":
		out.ToolChoice = "NONE"
	case "required":
		out.ToolChoice = "REQUIRED"
	case "function":
		return nil, unsupported("tool_choice", "cohere", "Cohere cannot be made to call one named function (auto, none and required are supported)")
	}
	if rf := r.ResponseFormat; rf != nil && rf.Type != "text" {
		out.ResponseFormat = &cohereFormat{Type: "json_object"}
		if rf.Type == "json_schema" {
			out.ResponseFormat.JSONSchema = rf.JSONSchema.Schema
		}
	}
	b, _ := json.Marshal(out)
	return b, nil
}

func hasImage(parts []Part) bool {
	for _, p := range parts {
		if p.Type == "image_url" {
			return true
		}
	}
	return false
}

// cohereFinish maps Cohere's finish_reason.
func cohereFinish(r string) string {
	switch r {
	case "MAX_TOKENS":
		return "length"
	case "TOOL_CALL":
		return "tool_calls"
	case "ERROR_TOXIC":
		return "content_filter"
	default: // COMPLETE, STOP_SEQUENCE, ERROR, TIMEOUT
		return "stop"
	}
}

// cohereUsage reads usage: billed units when given (what Cohere charges), else tokens.
func cohereUsage(u gjson.Result) *Usage {
	if !u.IsObject() {
		return nil
	}
	src := u.Get("billed_units")
	if !src.Get("input_tokens").Exists() {
		src = u.Get("tokens")
	}
	out := &Usage{PromptTokens: src.Get("input_tokens").Int(), CompletionTokens: src.Get("output_tokens").Int()}
	if v := u.Get("cached_tokens"); v.Exists() {
		out.PromptTokensDetails = &PromptTokensDetails{CachedTokens: v.Int()}
	}
	out.total()
	return out
}

func (cohere) response(c *Call, body []byte) (*Completion, error) {
	doc := gjson.ParseBytes(body)
	if !doc.Get("message").IsObject() {
		return nil, errors.New("not a v2 chat response")
	}
	var text strings.Builder
	for _, p := range doc.Get("message.content").Array() {
		if p.Get("type").String() == "text" {
			text.WriteString(p.Get("text").String())
		}
	}
	var calls []ToolCall
	for _, tc := range doc.Get("message.tool_calls").Array() {
		calls = append(calls, ToolCall{ID: tc.Get("id").String(), Type: "function",
			Function: FunctionCall{Name: tc.Get("function.name").String(), Arguments: tc.Get("function.arguments").String()}})
	}
	msg := assistantMessage(text.String(), calls)
	return &Completion{ID: c.ID, Model: c.Model, Usage: cohereUsage(doc.Get("usage")),
		Choices: []Choice{{Message: msg, FinishReason: cohereFinish(doc.Get("finish_reason").String())}}}, nil
}

func (cohere) errorDetail(body []byte) (string, string, string) {
	return gjson.GetBytes(body, "message").String(), "", ""
}

func (cohere) decoder() streamDecoder { return &cohereStream{} }

// cohereStream reads v2 chat stream events (message-start, content-delta, tool-call-*, message-end).
type cohereStream struct{ sse sseReader }

func (cs *cohereStream) feed(p []byte, s *Stream) error {
	return cs.sse.feed(p, func(_ string, data []byte) error { return cs.event(data, s) })
}

func (cs *cohereStream) end(s *Stream) {
	_ = cs.sse.flush(func(_ string, data []byte) error { return cs.event(data, s) })
}

func (cs *cohereStream) event(data []byte, s *Stream) error {
	doc := gjson.ParseBytes(data)
	idx := int(doc.Get("index").Int())
	switch doc.Get("type").String() {
	case "message-start":
		s.role(0)
	case "content-delta":
		s.content(0, doc.Get("delta.message.content.text").String())
	case "tool-call-start":
		tc := doc.Get("delta.message.tool_calls")
		s.toolStart(0, idx, tc.Get("id").String(), tc.Get("function.name").String())
		s.toolArgs(0, idx, tc.Get("function.arguments").String())
	case "tool-call-delta":
		s.toolArgs(0, idx, doc.Get("delta.message.tool_calls.function.arguments").String())
	case "message-end":
		if u := cohereUsage(doc.Get("delta.usage")); u != nil {
			s.setUsage(u)
		}
		s.finish(0, cohereFinish(doc.Get("delta.finish_reason").String()))
		s.ended = true
	case "":
		if m := doc.Get("message"); m.Type == gjson.String {
			s.fail(502, "api_error", "cohere: "+m.String())
			return nil
		}
		return errors.New("an event has no type")
	}
	return nil
}
