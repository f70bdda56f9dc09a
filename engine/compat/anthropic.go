// anthropic.go translates the unified API to Anthropic's Messages API and back: system
// and developer messages into system blocks, images into image blocks, tools and tool
// results into tool_use / tool_result blocks, and the Messages SSE events into chunks.
package compat

import (
	"errors"
	"fmt"

	json "github.com/goccy/go-json"
	"github.com/tidwall/gjson"
)

// AnthropicVersion is the anthropic-version header sent with every call.
const AnthropicVersion = "2023-06-01"

// AnthropicDefaultMaxTokens is max_tokens when the client sets neither max_tokens nor
// max_completion_tokens (Anthropic requires one).
const AnthropicDefaultMaxTokens = 4096

// anthropicStructuredBeta enables output_format (JSON schema answers).
const anthropicStructuredBeta = "structured-outputs-2025-11-13"

type anthropic struct{}

var anthropicParams = set("tools", "tool_choice", "parallel_tool_calls", "response_format", "temperature", "top_p",
	"max_tokens", "max_completion_tokens", "stop", "user")

type anthropicRequest struct {
	Model         string              `json:"model"`
	MaxTokens     int64               `json:"max_tokens"`
	System        []anthropicBlock    `json:"system,omitempty"`
	Messages      []anthropicMessage  `json:"messages"`
	Tools         []anthropicTool     `json:"tools,omitempty"`
	ToolChoice    *anthropicChoice    `json:"tool_choice,omitempty"`
	Temperature   *float64            `json:"temperature,omitempty"`
	TopP          *float64            `json:"top_p,omitempty"`
	StopSequences []string            `json:"stop_sequences,omitempty"`
	Stream        bool                `json:"stream,omitempty"`
	Metadata      *anthropicMetadata  `json:"metadata,omitempty"`
	OutputFormat  *anthropicOutFormat `json:"output_format,omitempty"`
}

type anthropicMetadata struct {
	UserID string `json:"user_id"`
}

type anthropicOutFormat struct {
	Type   string          `json:"type"`
	Schema json.RawMessage `json:"schema"`
}

type anthropicMessage struct {
	Role    string           `json:"role"`
	Content []anthropicBlock `json:"content"`
}

type anthropicBlock struct {
	Type      string           `json:"type"`
	Text      string           `json:"text,omitempty"`
	Source    *anthropicSource `json:"source,omitempty"`
	ID        string           `json:"id,omitempty"`
	Name      string           `json:"name,omitempty"`
	Input     json.RawMessage  `json:"input,omitempty"`
	ToolUseID string           `json:"tool_use_id,omitempty"`
	Content   string           `json:"content,omitempty"`
}

type anthropicSource struct {
	Type      string `json:"type"`
	MediaType string `json:"media_type,omitempty"`
	Data      string `json:"data,omitempty"`
	URL       string `json:"url,omitempty"`
}

type anthropicTool struct {
	Name        string          `json:"name"`
	Description string          `json:"description,omitempty"`
	InputSchema json.RawMessage `json:"input_schema"`
}

type anthropicChoice struct {
	Type                   string `json:"type"`
	Name                   string `json:"name,omitempty"`
	DisableParallelToolUse bool   `json:"disable_parallel_tool_use,omitempty"`
}

func (anthropic) request(c *Call, r *ChatRequest) ([]byte, *Error) {
	if err := r.checkFields("anthropic", anthropicParams); err != nil {
		return nil, err
	}
	out := anthropicRequest{Model: c.Model, MaxTokens: AnthropicDefaultMaxTokens, Temperature: r.Temperature, TopP: r.TopP,
		StopSequences: r.Stop, Stream: r.Stream}
	if mt := r.maxTokens(); mt != nil {
		out.MaxTokens = *mt
	}
	if r.User != "" {
		out.Metadata = &anthropicMetadata{UserID: r.User}
	}
	for i := range r.Messages {
		m := &r.Messages[i]
		switch m.Role {
		case "system", "developer":
			for _, p := range m.Parts {
				if p.Text != "" {
					out.System = append(out.System, anthropicBlock{Type: "text", Text: p.Text})
				}
			}
			continue
		case "tool":
			out.Messages = appendTurn(out.Messages, "user", anthropicBlock{Type: "tool_result", ToolUseID: m.ToolCallID, Content: m.Text()})
			continue
		}
		var blocks []anthropicBlock
		for j, p := range m.Parts {
			switch p.Type {
			case "text":
				if p.Text != "" {
					blocks = append(blocks, anthropicBlock{Type: "text", Text: p.Text})
				}
			case "image_url":
				src := &anthropicSource{Type: "url", URL: p.ImageURL.URL}
				if mt, data, ok := dataURL(p.ImageURL.URL); ok {
					src = &anthropicSource{Type: "base64", MediaType: mt, Data: data}
				} else if len(p.ImageURL.URL) > 5 && p.ImageURL.URL[:5] == "data:" {
					return nil, invalid(fmt.Sprintf("messages[%d].content[%d].image_url.url", i, j), "a data: image URL must be data:{media type};base64,{data}")
				}
				blocks = append(blocks, anthropicBlock{Type: "image", Source: src})
			}
		}
		for j, tc := range m.ToolCalls {
			input, err := rawOrObject(tc.Function.Arguments, fmt.Sprintf("messages[%d].tool_calls[%d].function.arguments", i, j))
			if err != nil {
				return nil, err
			}
			blocks = append(blocks, anthropicBlock{Type: "tool_use", ID: tc.ID, Name: tc.Function.Name, Input: input})
		}
		if len(blocks) == 0 {
			continue // Anthropic refuses empty turns; an empty message adds nothing
		}
		out.Messages = appendTurn(out.Messages, m.Role, blocks...)
	}
	if len(out.Messages) == 0 {
		return nil, invalid("messages", "anthropic needs at least one user or assistant message with content")
	}
	for _, t := range r.Tools {
		schema := t.Function.Parameters
		if len(schema) == 0 {
			schema = json.RawMessage(`{"type":"object","properties":{}}`)
		}
		out.Tools = append(out.Tools, anthropicTool{Name: t.Function.Name, Description: t.Function.Description, InputSchema: schema})
	}
	tc, err := r.toolChoice()
	if err != nil {
		return nil, err
	}
	switch tc.Mode {
	case "auto":
		out.ToolChoice = &anthropicChoice{Type: "auto"}
	case "none":
		out.ToolChoice = &anthropicChoice{Type: "none"}
	case "required":
		out.ToolChoice = &anthropicChoice{Type: "any"}
	case "function":
		out.ToolChoice = &anthropicChoice{Type: "tool", Name: tc.Name}
	}
	if r.ParallelToolCalls != nil && !*r.ParallelToolCalls {
		if out.ToolChoice == nil {
			out.ToolChoice = &anthropicChoice{Type: "auto"}
		}
		if out.ToolChoice.Type != "none" {
			out.ToolChoice.DisableParallelToolUse = true
		}
	}
	if rf := r.ResponseFormat; rf != nil {
		switch rf.Type {
		case "json_object":
			return nil, unsupported("response_format", "anthropic", "Anthropic has no JSON-object mode; send response_format json_schema with a schema")
		case "json_schema":
			out.OutputFormat = &anthropicOutFormat{Type: "json_schema", Schema: rf.JSONSchema.Schema}
			c.Headers = append(c.Headers, Header{"anthropic-beta", anthropicStructuredBeta})
		}
	}
	b, _ := json.Marshal(out)
	return b, nil
}

// appendTurn adds blocks to the conversation, merging into the last turn when it has the
// same role (Anthropic requires user and assistant turns to alternate).
func appendTurn(msgs []anthropicMessage, role string, blocks ...anthropicBlock) []anthropicMessage {
	if n := len(msgs); n > 0 && msgs[n-1].Role == role {
		msgs[n-1].Content = append(msgs[n-1].Content, blocks...)
		return msgs
	}
	return append(msgs, anthropicMessage{Role: role, Content: blocks})
}

// anthropicFinish maps stop_reason to finish_reason.
func anthropicFinish(r string) string {
	switch r {
	case "max_tokens", "model_context_window_exceeded":
		return "length"
	case "tool_use":
		return "tool_calls"
	case "refusal":
		return "content_filter"
	default: // end_turn, stop_sequence, pause_turn
		return "stop"
	}
}

// anthropicUsage reads a usage object: prompt tokens include cache reads and writes.
func anthropicUsage(u gjson.Result) *Usage {
	if !u.IsObject() {
		return nil
	}
	return cachedUsage(u.Get("input_tokens").Int(), u.Get("cache_read_input_tokens").Int(), u.Get("cache_creation_input_tokens").Int(),
		u.Get("output_tokens").Int(), u.Get("cache_read_input_tokens").Exists())
}

func (anthropic) response(c *Call, body []byte) (*Completion, error) {
	doc := gjson.ParseBytes(body)
	if doc.Get("type").String() != "message" {
		return nil, errors.New("not a Messages API message")
	}
	var text string
	var calls []ToolCall
	for _, b := range doc.Get("content").Array() {
		switch b.Get("type").String() {
		case "text":
			text += b.Get("text").String()
		case "tool_use":
			calls = append(calls, ToolCall{ID: b.Get("id").String(), Type: "function",
				Function: FunctionCall{Name: b.Get("name").String(), Arguments: compact(json.RawMessage(b.Get("input").Raw))}})
		}
	}
	msg := assistantMessage(text, calls)
	return &Completion{ID: c.ID, Model: doc.Get("model").String(), Usage: anthropicUsage(doc.Get("usage")),
		Choices: []Choice{{Index: 0, Message: msg, FinishReason: anthropicFinish(doc.Get("stop_reason").String())}}}, nil
}

func (anthropic) errorDetail(body []byte) (string, string, string) {
	e := gjson.GetBytes(body, "error")
	typ := e.Get("type").String()
	oaType := typ
	if typ == "overloaded_error" {
		oaType = "api_error"
	}
	return e.Get("message").String(), oaType, typ
}

func (anthropic) decoder() streamDecoder { return &anthropicStream{} }

// anthropicStream reads Messages API SSE events.
type anthropicStream struct {
	sse   sseReader
	usage *Usage
}

func (a *anthropicStream) feed(p []byte, s *Stream) error {
	return a.sse.feed(p, func(_ string, data []byte) error { return a.event(data, s) })
}

func (a *anthropicStream) end(s *Stream) {
	_ = a.sse.flush(func(_ string, data []byte) error { return a.event(data, s) })
}

func (a *anthropicStream) event(data []byte, s *Stream) error {
	doc := gjson.ParseBytes(data)
	switch doc.Get("type").String() {
	case "message_start":
		s.setModel(doc.Get("message.model").String())
		a.usage = anthropicUsage(doc.Get("message.usage"))
		s.role(0)
	case "content_block_start":
		if b := doc.Get("content_block"); b.Get("type").String() == "tool_use" {
			s.toolStart(0, int(doc.Get("index").Int()), b.Get("id").String(), b.Get("name").String())
		}
	case "content_block_delta":
		d := doc.Get("delta")
		switch d.Get("type").String() {
		case "text_delta":
			s.content(0, d.Get("text").String())
		case "input_json_delta":
			s.toolArgs(0, int(doc.Get("index").Int()), d.Get("partial_json").String())
		}
	case "message_delta":
		if u := doc.Get("usage"); u.IsObject() {
			if a.usage == nil {
				a.usage = &Usage{}
			}
			a.usage.CompletionTokens = u.Get("output_tokens").Int()
			if v := u.Get("input_tokens"); v.Exists() && v.Int() > 0 {
				fresh := anthropicUsage(u)
				a.usage.PromptTokens, a.usage.PromptTokensDetails = fresh.PromptTokens, fresh.PromptTokensDetails
			}
			s.setUsage(a.usage)
		}
		if r := doc.Get("delta.stop_reason"); r.Type == gjson.String {
			s.finish(0, anthropicFinish(r.String()))
		}
	case "message_stop":
		s.ended = true
	case "error":
		s.fail(502, "api_error", "anthropic: "+doc.Get("error.message").String())
	case "":
		return errors.New("an event has no type")
	}
	return nil
}
