// gemini.go translates the unified API to Google's generateContent (AI Studio and Vertex
// AI share the body) and back: system messages into systemInstruction, assistant turns
// into "model" turns, tools into functionDeclarations, tool results into functionResponse
// parts, and streamGenerateContent's SSE into chunks.
package compat

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	json "github.com/goccy/go-json"
	"github.com/tidwall/gjson"
)

type gemini struct{ provider string }

var geminiParams = set("tools", "tool_choice", "parallel_tool_calls", "response_format", "temperature", "top_p",
	"max_tokens", "max_completion_tokens", "stop", "seed", "n", "frequency_penalty", "presence_penalty")

type geminiRequest struct {
	Contents          []geminiContent   `json:"contents"`
	SystemInstruction *geminiContent    `json:"systemInstruction,omitempty"`
	Tools             []geminiTool      `json:"tools,omitempty"`
	ToolConfig        *geminiToolConfig `json:"toolConfig,omitempty"`
	GenerationConfig  *geminiGenConfig  `json:"generationConfig,omitempty"`
}

type geminiContent struct {
	Role  string       `json:"role,omitempty"`
	Parts []geminiPart `json:"parts"`
}

type geminiPart struct {
	Text             string          `json:"text,omitempty"`
	InlineData       *geminiBlob     `json:"inlineData,omitempty"`
	FileData         *geminiFile     `json:"fileData,omitempty"`
	FunctionCall     *geminiCall     `json:"functionCall,omitempty"`
	FunctionResponse *geminiResponse `json:"functionResponse,omitempty"`
}

type geminiBlob struct {
	MimeType string `json:"mimeType"`
	Data     string `json:"data"`
}

type geminiFile struct {
	MimeType string `json:"mimeType"`
	FileURI  string `json:"fileUri"`
}

type geminiCall struct {
	Name string          `json:"name"`
	Args json.RawMessage `json:"args"`
}

type geminiResponse struct {
	Name     string          `json:"name"`
	Response json.RawMessage `json:"response"`
}

type geminiTool struct {
	FunctionDeclarations []geminiFunc `json:"functionDeclarations"`
}

type geminiFunc struct {
	Name        string          `json:"name"`
	Description string          `json:"description,omitempty"`
	Parameters  json.RawMessage `json:"parametersJsonSchema,omitempty"`
}

type geminiToolConfig struct {
	FunctionCallingConfig geminiCallingConfig `json:"functionCallingConfig"`
}

type geminiCallingConfig struct {
	Mode                 string   `json:"mode"`
	AllowedFunctionNames []string `json:"allowedFunctionNames,omitempty"`
}

type geminiGenConfig struct {
	Temperature        *float64        `json:"temperature,omitempty"`
	TopP               *float64        `json:"topP,omitempty"`
	MaxOutputTokens    *int64          `json:"maxOutputTokens,omitempty"`
	StopSequences      []string        `json:"stopSequences,omitempty"`
	Seed               *int64          `json:"seed,omitempty"`
	CandidateCount     *int            `json:"candidateCount,omitempty"`
	PresencePenalty    *float64        `json:"presencePenalty,omitempty"`
	FrequencyPenalty   *float64        `json:"frequencyPenalty,omitempty"`
	ResponseMimeType   string          `json:"responseMimeType,omitempty"`
	ResponseJSONSchema json.RawMessage `json:"responseJsonSchema,omitempty"`
}

func (g gemini) request(c *Call, r *ChatRequest) ([]byte, *Error) {
	if err := r.checkFields(g.provider, geminiParams); err != nil {
		return nil, err
	}
	if r.ParallelToolCalls != nil && !*r.ParallelToolCalls {
		return nil, unsupported("parallel_tool_calls", g.provider, "Gemini cannot be kept to one call per turn")
	}
	var out geminiRequest
	names := toolNames(r.Messages)
	for i := range r.Messages {
		m := &r.Messages[i]
		switch m.Role {
		case "system", "developer":
			if out.SystemInstruction == nil {
				out.SystemInstruction = &geminiContent{}
			}
			for _, p := range m.Parts {
				if p.Text != "" {
					out.SystemInstruction.Parts = append(out.SystemInstruction.Parts, geminiPart{Text: p.Text})
				}
			}
			continue
		case "tool":
			name, ok := names[m.ToolCallID]
			if !ok {
				return nil, invalid(fmt.Sprintf("messages[%d].tool_call_id", i), "messages[%d].tool_call_id %q matches no earlier assistant tool call (Gemini matches results by function name)", i, m.ToolCallID)
			}
			resp, _ := json.Marshal(map[string]string{"content": m.Text()})
			out.Contents = appendGemini(out.Contents, "user", geminiPart{FunctionResponse: &geminiResponse{Name: name, Response: resp}})
			continue
		}
		role := "user"
		if m.Role == "assistant" {
			role = "model"
		}
		var parts []geminiPart
		for _, p := range m.Parts {
			switch p.Type {
			case "text":
				if p.Text != "" {
					parts = append(parts, geminiPart{Text: p.Text})
				}
			case "image_url":
				if mt, data, ok := dataURL(p.ImageURL.URL); ok {
					parts = append(parts, geminiPart{InlineData: &geminiBlob{MimeType: mt, Data: data}})
				} else {
					parts = append(parts, geminiPart{FileData: &geminiFile{MimeType: guessImageType(p.ImageURL.URL), FileURI: p.ImageURL.URL}})
				}
			}
		}
		for j, tc := range m.ToolCalls {
			args, err := rawOrObject(tc.Function.Arguments, fmt.Sprintf("messages[%d].tool_calls[%d].function.arguments", i, j))
			if err != nil {
				return nil, err
			}
			parts = append(parts, geminiPart{FunctionCall: &geminiCall{Name: tc.Function.Name, Args: args}})
		}
		if len(parts) > 0 {
			out.Contents = appendGemini(out.Contents, role, parts...)
		}
	}
	if len(out.Contents) == 0 {
		return nil, invalid("messages", "%s needs at least one user or assistant message with content", g.provider)
	}
	if len(r.Tools) > 0 {
		decls := make([]geminiFunc, len(r.Tools))
		for i, t := range r.Tools {
			decls[i] = geminiFunc{Name: t.Function.Name, Description: t.Function.Description, Parameters: t.Function.Parameters}
		}
		out.Tools = []geminiTool{{FunctionDeclarations: decls}}
	}
	tc, err := r.toolChoice()
	if err != nil {
		return nil, err
	}
	switch tc.Mode {
	case "auto":
		out.ToolConfig = &geminiToolConfig{geminiCallingConfig{Mode: "AUTO"}}
	case "none":
		out.ToolConfig = &geminiToolConfig{geminiCallingConfig{Mode: "NONE"}}
	case "required":
		out.ToolConfig = &geminiToolConfig{geminiCallingConfig{Mode: "ANY"}}
	case "function":
		out.ToolConfig = &geminiToolConfig{geminiCallingConfig{Mode: "ANY", AllowedFunctionNames: []string{tc.Name}}}
	}
	gc := geminiGenConfig{Temperature: r.Temperature, TopP: r.TopP, MaxOutputTokens: r.maxTokens(), StopSequences: r.Stop,
		Seed: r.Seed, CandidateCount: r.N, PresencePenalty: r.PresencePenalty, FrequencyPenalty: r.FrequencyPenalty}
	if rf := r.ResponseFormat; rf != nil && rf.Type != "text" {
		gc.ResponseMimeType = "application/json"
		if rf.Type == "json_schema" {
			gc.ResponseJSONSchema = rf.JSONSchema.Schema
		}
	}
	if b, _ := json.Marshal(gc); string(b) != "{}" {
		out.GenerationConfig = &gc
	}
	b, _ := json.Marshal(out)
	return b, nil
}

// appendGemini adds parts, merging consecutive turns of one role (parallel function
// responses must share a turn).
func appendGemini(cs []geminiContent, role string, parts ...geminiPart) []geminiContent {
	if n := len(cs); n > 0 && cs[n-1].Role == role {
		cs[n-1].Parts = append(cs[n-1].Parts, parts...)
		return cs
	}
	return append(cs, geminiContent{Role: role, Parts: parts})
}

// geminiFinish maps finishReason to finish_reason.
func geminiFinish(r string, toolCalls bool) string {
	switch r {
	case "MAX_TOKENS":
		return "length"
	case "SAFETY", "RECITATION", "BLOCKLIST", "PROHIBITED_CONTENT", "SPII", "IMAGE_SAFETY", "LANGUAGE":
		return "content_filter"
	}
	if toolCalls {
		return "tool_calls"
	}
	return "stop"
}

// geminiUsage reads usageMetadata; thoughts count as completion (reasoning) tokens, as
// OpenAI counts reasoning.
func geminiUsage(u gjson.Result) *Usage {
	if !u.IsObject() {
		return nil
	}
	thoughts := u.Get("thoughtsTokenCount").Int()
	out := &Usage{PromptTokens: u.Get("promptTokenCount").Int(), CompletionTokens: u.Get("candidatesTokenCount").Int() + thoughts}
	if v := u.Get("cachedContentTokenCount"); v.Exists() {
		out.PromptTokensDetails = &PromptTokensDetails{CachedTokens: v.Int()}
	}
	if thoughts > 0 {
		out.CompletionTokensDetails = &CompletionTokensDetails{ReasoningTokens: thoughts}
	}
	out.total()
	return out
}

// geminiCallID is a function call's id: Gemini's own when it gives one.
func geminiCallID(c *Call, fc gjson.Result, choice, n int) string {
	if id := fc.Get("id").String(); id != "" {
		return id
	}
	return "call_" + strings.TrimPrefix(c.ID, "chatcmpl-") + "_" + strconv.Itoa(choice) + "_" + strconv.Itoa(n)
}

func (g gemini) response(c *Call, body []byte) (*Completion, error) {
	doc := gjson.ParseBytes(body)
	if !doc.IsObject() {
		return nil, errors.New("not a GenerateContentResponse")
	}
	comp := &Completion{ID: c.ID, Model: doc.Get("modelVersion").String(), Usage: geminiUsage(doc.Get("usageMetadata"))}
	for k, cand := range doc.Get("candidates").Array() {
		var text strings.Builder
		var calls []ToolCall
		for _, p := range cand.Get("content.parts").Array() {
			if fc := p.Get("functionCall"); fc.Exists() {
				calls = append(calls, ToolCall{ID: geminiCallID(c, fc, k, len(calls)), Type: "function",
					Function: FunctionCall{Name: fc.Get("name").String(), Arguments: compact(json.RawMessage(fc.Get("args").Raw))}})
			} else if !p.Get("thought").Bool() {
				text.WriteString(p.Get("text").String())
			}
		}
		msg := assistantMessage(text.String(), calls)
		idx := k
		if v := cand.Get("index"); v.Exists() {
			idx = int(v.Int())
		}
		comp.Choices = append(comp.Choices, Choice{Index: idx, Message: msg, FinishReason: geminiFinish(cand.Get("finishReason").String(), len(msg.ToolCalls) > 0)})
	}
	if len(comp.Choices) == 0 { // the prompt itself was blocked (promptFeedback.blockReason)
		empty := ""
		comp.Choices = []Choice{{Message: ResponseMessage{Role: "assistant", Content: &empty}, FinishReason: "content_filter"}}
	}
	return comp, nil
}

func (g gemini) errorDetail(body []byte) (string, string, string) {
	doc := gjson.ParseBytes(body)
	if doc.IsArray() { // streamGenerateContent without alt=sse wraps errors in a list
		doc = doc.Get("0")
	}
	e := doc.Get("error")
	return e.Get("message").String(), "", e.Get("status").String()
}

func (g gemini) decoder() streamDecoder { return &geminiStream{} }

// geminiStream reads streamGenerateContent?alt=sse: each event is a GenerateContentResponse.
type geminiStream struct {
	sse   sseReader
	calls map[int]int // function calls seen per candidate
}

func (g *geminiStream) feed(p []byte, s *Stream) error {
	return g.sse.feed(p, func(_ string, data []byte) error { return g.event(data, s) })
}

// end: Gemini has no closing event; the stream is complete when every candidate it
// started carried a finish reason.
func (g *geminiStream) end(s *Stream) {
	_ = g.sse.flush(func(_ string, data []byte) error { return g.event(data, s) })
	s.ended = true
	for _, st := range s.choices {
		if !st.finished {
			s.ended = false
		}
	}
}

func (g *geminiStream) event(data []byte, s *Stream) error {
	doc := gjson.ParseBytes(data)
	if !doc.IsObject() {
		return errors.New("an event is not a JSON object")
	}
	if e := doc.Get("error"); e.Exists() {
		s.fail(502, "api_error", "gemini: "+e.Get("message").String())
		return nil
	}
	if g.calls == nil {
		g.calls = map[int]int{}
	}
	s.setModel(doc.Get("modelVersion").String())
	for k, cand := range doc.Get("candidates").Array() {
		i := k
		if v := cand.Get("index"); v.Exists() {
			i = int(v.Int())
		}
		s.role(i)
		for _, p := range cand.Get("content.parts").Array() {
			if fc := p.Get("functionCall"); fc.Exists() {
				n := g.calls[i]
				g.calls[i] = n + 1
				s.toolStart(i, n, geminiCallID(s.c, fc, i, n), fc.Get("name").String())
				s.toolArgs(i, n, compact(json.RawMessage(fc.Get("args").Raw)))
			} else if !p.Get("thought").Bool() {
				s.content(i, p.Get("text").String())
			}
		}
		if r := cand.Get("finishReason").String(); r != "" && r != "FINISH_REASON_UNSPECIFIED" {
			s.finish(i, geminiFinish(r, s.hasTools(i)))
		}
	}
	if u := geminiUsage(doc.Get("usageMetadata")); u != nil {
		s.setUsage(u)
	}
	return nil
}
