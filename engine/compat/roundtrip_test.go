// roundtrip_test.go is the round-trip property: for random OpenAI requests (system and
// developer messages, text and images, parallel tool calls and results, tools, tool_choice
// and every sampling parameter the provider takes), translating to the provider's native
// request and reading that back (with a decoder written here, from the native side)
// gives the same conversation and parameters. Nothing supported is lost or changed.
package compat

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"
)

// canon is a request reduced to what must survive translation.
type canon struct {
	System []string
	Items  []item
	Tools  []string // name|description|parameters
	Params map[string]any
}

type item struct {
	Role, Kind, Text, ID, Name, Args string
}

// fromOpenAI is the canonical form of the request the client sent. byName: the provider
// matches tool results by function name, not id (Gemini).
func fromOpenAI(r *ChatRequest, byName bool) canon {
	c := canon{Params: map[string]any{}}
	names := toolNames(r.Messages)
	for _, m := range r.Messages {
		switch m.Role {
		case "system", "developer":
			c.System = append(c.System, m.Text())
		case "tool":
			it := item{Role: "tool", Kind: "result", ID: m.ToolCallID, Text: m.Text()}
			if byName {
				it.ID, it.Name = "", names[m.ToolCallID]
			}
			c.Items = append(c.Items, it)
		default:
			for _, p := range m.Parts {
				if p.Type == "image_url" {
					c.Items = append(c.Items, item{Role: m.Role, Kind: "image", Text: p.ImageURL.URL})
				} else {
					c.Items = append(c.Items, item{Role: m.Role, Kind: "text", Text: p.Text})
				}
			}
			for _, tc := range m.ToolCalls {
				it := item{Role: "assistant", Kind: "call", ID: tc.ID, Name: tc.Function.Name, Args: tc.Function.Arguments}
				if byName {
					it.ID = ""
				}
				c.Items = append(c.Items, it)
			}
		}
	}
	for _, t := range r.Tools {
		c.Tools = append(c.Tools, t.Function.Name+"|"+t.Function.Description+"|"+compact(t.Function.Parameters))
	}
	tc, _ := r.toolChoice()
	if tc.Mode != "" {
		c.Params["tool_choice"] = strings.TrimSuffix(tc.Mode+":"+tc.Name, ":")
	}
	put := func(k string, v any, ok bool) {
		if ok {
			c.Params[k] = v
		}
	}
	if r.Temperature != nil {
		c.Params["temperature"] = *r.Temperature
	}
	if r.TopP != nil {
		c.Params["top_p"] = *r.TopP
	}
	if mt := r.maxTokens(); mt != nil {
		c.Params["max_tokens"] = *mt
	}
	put("stop", strings.Join(r.Stop, "\x00"), len(r.Stop) > 0)
	if r.Seed != nil {
		c.Params["seed"] = *r.Seed
	}
	if r.N != nil {
		c.Params["n"] = int64(*r.N)
	}
	if r.PresencePenalty != nil {
		c.Params["presence_penalty"] = *r.PresencePenalty
	}
	if r.FrequencyPenalty != nil {
		c.Params["frequency_penalty"] = *r.FrequencyPenalty
	}
	put("user", r.User, r.User != "")
	if r.ParallelToolCalls != nil && !*r.ParallelToolCalls {
		c.Params["parallel_tool_calls"] = false
	}
	if rf := r.ResponseFormat; rf != nil && rf.Type != "text" {
		c.Params["response_format"] = rf.Type
		if rf.JSONSchema != nil {
			c.Params["response_format"] = "json_schema:" + compact(rf.JSONSchema.Schema)
		}
	}
	return c
}

// nativeToCanon reads each provider's native request back.
var nativeToCanon = map[string]func(t *testing.T, body []byte) canon{
	"anthropic": func(t *testing.T, body []byte) canon {
		var r anthropicRequest
		mustUnmarshal(t, body, &r)
		c := canon{Params: map[string]any{"max_tokens": r.MaxTokens}}
		for _, s := range r.System {
			c.System = append(c.System, s.Text)
		}
		for _, m := range r.Messages {
			for _, b := range m.Content {
				switch b.Type {
				case "text":
					c.Items = append(c.Items, item{Role: m.Role, Kind: "text", Text: b.Text})
				case "image":
					u := b.Source.URL
					if b.Source.Type == "base64" {
						u = "data:" + b.Source.MediaType + ";base64," + b.Source.Data
					}
					c.Items = append(c.Items, item{Role: m.Role, Kind: "image", Text: u})
				case "tool_use":
					c.Items = append(c.Items, item{Role: "assistant", Kind: "call", ID: b.ID, Name: b.Name, Args: compact(b.Input)})
				case "tool_result":
					c.Items = append(c.Items, item{Role: "tool", Kind: "result", ID: b.ToolUseID, Text: b.Content})
				}
			}
		}
		for _, tl := range r.Tools {
			c.Tools = append(c.Tools, tl.Name+"|"+tl.Description+"|"+compact(tl.InputSchema))
		}
		if tc := r.ToolChoice; tc != nil {
			mode := map[string]string{"auto": "auto", "none": "none", "any": "required", "tool": "function:" + tc.Name}[tc.Type]
			c.Params["tool_choice"] = mode
			if tc.DisableParallelToolUse {
				c.Params["parallel_tool_calls"] = false
			}
		}
		setF(c.Params, "temperature", r.Temperature)
		setF(c.Params, "top_p", r.TopP)
		setStop(c.Params, r.StopSequences)
		if r.Metadata != nil {
			c.Params["user"] = r.Metadata.UserID
		}
		if r.OutputFormat != nil {
			c.Params["response_format"] = "json_schema:" + compact(r.OutputFormat.Schema)
		}
		return c
	},
	"google-ai-studio": func(t *testing.T, body []byte) canon {
		var r geminiRequest
		mustUnmarshal(t, body, &r)
		c := canon{Params: map[string]any{}}
		if r.SystemInstruction != nil {
			for _, p := range r.SystemInstruction.Parts {
				c.System = append(c.System, p.Text)
			}
		}
		for _, m := range r.Contents {
			role := map[string]string{"user": "user", "model": "assistant"}[m.Role]
			for _, p := range m.Parts {
				switch {
				case p.FunctionCall != nil:
					c.Items = append(c.Items, item{Role: "assistant", Kind: "call", Name: p.FunctionCall.Name, Args: compact(p.FunctionCall.Args)})
				case p.FunctionResponse != nil:
					var resp struct{ Content string }
					mustUnmarshal(t, p.FunctionResponse.Response, &resp)
					c.Items = append(c.Items, item{Role: "tool", Kind: "result", Name: p.FunctionResponse.Name, Text: resp.Content})
				case p.InlineData != nil:
					c.Items = append(c.Items, item{Role: role, Kind: "image", Text: "data:" + p.InlineData.MimeType + ";base64," + p.InlineData.Data})
				case p.FileData != nil:
					c.Items = append(c.Items, item{Role: role, Kind: "image", Text: p.FileData.FileURI})
				default:
					c.Items = append(c.Items, item{Role: role, Kind: "text", Text: p.Text})
				}
			}
		}
		for _, tl := range r.Tools {
			for _, f := range tl.FunctionDeclarations {
				c.Tools = append(c.Tools, f.Name+"|"+f.Description+"|"+compact(f.Parameters))
			}
		}
		if tc := r.ToolConfig; tc != nil {
			mode := map[string]string{"AUTO": "auto", "NONE": "none", "ANY": "required"}[tc.FunctionCallingConfig.Mode]
			if len(tc.FunctionCallingConfig.AllowedFunctionNames) == 1 {
				mode = "function:" + tc.FunctionCallingConfig.AllowedFunctionNames[0]
			}
			c.Params["tool_choice"] = mode
		}
		if g := r.GenerationConfig; g != nil {
			setF(c.Params, "temperature", g.Temperature)
			setF(c.Params, "top_p", g.TopP)
			setF(c.Params, "presence_penalty", g.PresencePenalty)
			setF(c.Params, "frequency_penalty", g.FrequencyPenalty)
			setI(c.Params, "max_tokens", g.MaxOutputTokens)
			setI(c.Params, "seed", g.Seed)
			if g.CandidateCount != nil {
				c.Params["n"] = int64(*g.CandidateCount)
			}
			setStop(c.Params, g.StopSequences)
			if g.ResponseMimeType == "application/json" {
				c.Params["response_format"] = "json_object"
				if g.ResponseJSONSchema != nil {
					c.Params["response_format"] = "json_schema:" + compact(g.ResponseJSONSchema)
				}
			}
		}
		return c
	},
	"cohere": func(t *testing.T, body []byte) canon {
		var r struct {
			cohereRequest
			Messages []struct {
				Role       string          `json:"role"`
				Content    json.RawMessage `json:"content"`
				ToolCalls  []ToolCall      `json:"tool_calls"`
				ToolCallID string          `json:"tool_call_id"`
			} `json:"messages"`
		}
		mustUnmarshal(t, body, &r)
		c := canon{Params: map[string]any{}}
		for _, m := range r.Messages {
			msg := Message{Role: m.Role, Content: m.Content, ToolCallID: m.ToolCallID}
			if err := decodeContent(&msg, 0); err != nil {
				t.Fatal(err)
			}
			switch m.Role {
			case "system":
				c.System = append(c.System, msg.Text())
			case "tool":
				c.Items = append(c.Items, item{Role: "tool", Kind: "result", ID: m.ToolCallID, Text: msg.Text()})
			default:
				for _, p := range msg.Parts {
					if p.Type == "image_url" {
						c.Items = append(c.Items, item{Role: m.Role, Kind: "image", Text: p.ImageURL.URL})
					} else {
						c.Items = append(c.Items, item{Role: m.Role, Kind: "text", Text: p.Text})
					}
				}
				for _, tc := range m.ToolCalls {
					c.Items = append(c.Items, item{Role: "assistant", Kind: "call", ID: tc.ID, Name: tc.Function.Name, Args: tc.Function.Arguments})
				}
			}
		}
		for _, tl := range r.Tools {
			c.Tools = append(c.Tools, tl.Function.Name+"|"+tl.Function.Description+"|"+compact(tl.Function.Parameters))
		}
		if r.ToolChoice != "" {
			c.Params["tool_choice"] = strings.ToLower(r.ToolChoice)
		}
		setF(c.Params, "temperature", r.Temperature)
		setF(c.Params, "top_p", r.P)
		setF(c.Params, "presence_penalty", r.PresencePenalty)
		setF(c.Params, "frequency_penalty", r.FrequencyPenalty)
		setI(c.Params, "max_tokens", r.MaxTokens)
		setI(c.Params, "seed", r.Seed)
		setStop(c.Params, r.StopSequences)
		if rf := r.ResponseFormat; rf != nil {
			c.Params["response_format"] = "json_object"
			if rf.JSONSchema != nil {
				c.Params["response_format"] = "json_schema:" + compact(rf.JSONSchema)
			}
		}
		return c
	},
	"aws-bedrock": func(t *testing.T, body []byte) canon {
		var r bedrockRequest
		mustUnmarshal(t, body, &r)
		c := canon{Params: map[string]any{}}
		for _, s := range r.System {
			c.System = append(c.System, s.Text)
		}
		formats := map[string]string{"png": "image/png", "jpeg": "image/jpeg", "gif": "image/gif", "webp": "image/webp"}
		for _, m := range r.Messages {
			for _, b := range m.Content {
				switch {
				case b.ToolUse != nil:
					c.Items = append(c.Items, item{Role: "assistant", Kind: "call", ID: b.ToolUse.ToolUseID, Name: b.ToolUse.Name, Args: compact(b.ToolUse.Input)})
				case b.ToolResult != nil:
					c.Items = append(c.Items, item{Role: "tool", Kind: "result", ID: b.ToolResult.ToolUseID, Text: b.ToolResult.Content[0].Text})
				case b.Image != nil:
					c.Items = append(c.Items, item{Role: m.Role, Kind: "image", Text: "data:" + formats[b.Image.Format] + ";base64," + b.Image.Source.Bytes})
				default:
					c.Items = append(c.Items, item{Role: m.Role, Kind: "text", Text: b.Text})
				}
			}
		}
		if tc := r.ToolConfig; tc != nil {
			for _, tl := range tc.Tools {
				c.Tools = append(c.Tools, tl.ToolSpec.Name+"|"+tl.ToolSpec.Description+"|"+compact(tl.ToolSpec.InputSchema.JSON))
			}
			if ch := tc.ToolChoice; ch != nil {
				switch {
				case ch.Auto != nil:
					c.Params["tool_choice"] = "auto"
				case ch.Any != nil:
					c.Params["tool_choice"] = "required"
				case ch.Tool != nil:
					c.Params["tool_choice"] = "function:" + ch.Tool.Name
				}
			}
		}
		if inf := r.InferenceConfig; inf != nil {
			setF(c.Params, "temperature", inf.Temperature)
			setF(c.Params, "top_p", inf.TopP)
			setI(c.Params, "max_tokens", inf.MaxTokens)
			setStop(c.Params, inf.StopSequences)
		}
		return c
	},
}

func setF(m map[string]any, k string, v *float64) {
	if v != nil {
		m[k] = *v
	}
}

func setI(m map[string]any, k string, v *int64) {
	if v != nil {
		m[k] = *v
	}
}

func setStop(m map[string]any, s []string) {
	if len(s) > 0 {
		m["stop"] = strings.Join(s, "\x00")
	}
}

func mustUnmarshal(t *testing.T, b []byte, v any) {
	t.Helper()
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("native body does not decode: %v\n%s", err, b)
	}
}

// providerTraits says what the generator may use for each provider.
type providerTraits struct {
	model       string
	urlImages   bool
	choices     []string // tool_choice modes
	params      []string
	byName      bool
	stopIsArray bool
}

var roundTripProviders = map[string]providerTraits{
	"anthropic": {model: "anthropic/claude-sonnet-4-5", urlImages: true, choices: []string{"auto", "none", "required", "function"},
		params: []string{"temperature", "top_p", "max_tokens", "max_completion_tokens", "stop", "user", "parallel_tool_calls", "json_schema"}},
	"google-ai-studio": {model: "google-ai-studio/gemini-2.5-flash", urlImages: true, byName: true, choices: []string{"auto", "none", "required", "function"},
		params: []string{"temperature", "top_p", "max_tokens", "stop", "seed", "n", "presence_penalty", "frequency_penalty", "json_object", "json_schema"}},
	"cohere": {model: "cohere/command-a-03-2025", urlImages: true, choices: []string{"none", "required"},
		params: []string{"temperature", "top_p", "max_completion_tokens", "stop", "seed", "presence_penalty", "frequency_penalty", "json_object", "json_schema"}},
	"aws-bedrock": {model: "aws-bedrock/amazon.nova-pro-v1:0", choices: []string{"auto", "required", "function"},
		params: []string{"temperature", "top_p", "max_tokens", "stop"}},
}

// randomRequest builds a random, valid OpenAI request within a provider's traits.
func randomRequest(rng *rand.Rand, tr providerTraits) []byte {
	word := func() string {
		w := []string{"alpha", "beta", "gamma", "delta", "paris", "tokyo", "rain", "sun", "é", "\"q\"", "line\nbreak"}
		return w[rng.IntN(len(w))]
	}
	text := func() string {
		n := 1 + rng.IntN(5)
		parts := make([]string, n)
		for i := range parts {
			parts[i] = word()
		}
		return strings.Join(parts, " ")
	}
	var msgs []map[string]any
	for i := rng.IntN(3); i > 0; i-- {
		msgs = append(msgs, map[string]any{"role": []string{"system", "developer"}[rng.IntN(2)], "content": text()})
	}
	tools := []map[string]any{}
	for i := 1 + rng.IntN(3); i > 0; i-- {
		tools = append(tools, map[string]any{"type": "function", "function": map[string]any{"name": fmt.Sprintf("tool_%d", len(tools)),
			"description": text(), "parameters": map[string]any{"type": "object", "properties": map[string]any{"x": map[string]any{"type": "integer"}}}}})
	}
	callN := 0
	for round := 1 + rng.IntN(3); round > 0; round-- {
		parts := []map[string]any{{"type": "text", "text": text()}}
		if rng.IntN(2) == 0 {
			u := "data:image/png;base64,iVBORw0KGgo" + fmt.Sprint(rng.IntN(100)) + "="
			if tr.urlImages && rng.IntN(2) == 0 {
				u = "https://example.com/img" + fmt.Sprint(rng.IntN(100)) + ".jpg"
			}
			parts = append(parts, map[string]any{"type": "image_url", "image_url": map[string]any{"url": u}})
		}
		msgs = append(msgs, map[string]any{"role": "user", "content": parts})
		if rng.IntN(2) == 0 {
			msgs = append(msgs, map[string]any{"role": "assistant", "content": text()})
			continue
		}
		var calls []map[string]any
		for k := 1 + rng.IntN(3); k > 0; k-- {
			callN++
			calls = append(calls, map[string]any{"id": fmt.Sprintf("call_%d", callN), "type": "function", "function": map[string]any{
				"name": fmt.Sprintf("tool_%d", rng.IntN(len(tools))), "arguments": fmt.Sprintf(`{"x":%d,"w":%q}`, rng.IntN(1000), word())}})
		}
		msgs = append(msgs, map[string]any{"role": "assistant", "content": nil, "tool_calls": calls})
		for _, c := range calls {
			msgs = append(msgs, map[string]any{"role": "tool", "tool_call_id": c["id"], "content": text()})
		}
	}
	msgs = append(msgs, map[string]any{"role": "user", "content": text()})
	req := map[string]any{"model": tr.model, "messages": msgs, "tools": tools}
	if rng.IntN(3) > 0 {
		switch mode := tr.choices[rng.IntN(len(tr.choices))]; mode {
		case "function":
			req["tool_choice"] = map[string]any{"type": "function", "function": map[string]any{"name": "tool_0"}}
		default:
			req["tool_choice"] = mode
		}
	}
	for _, p := range tr.params {
		if rng.IntN(2) == 0 {
			continue
		}
		switch p {
		case "temperature", "top_p", "presence_penalty", "frequency_penalty":
			req[p] = float64(rng.IntN(100)) / 100
		case "max_tokens", "max_completion_tokens":
			req[p] = 1 + rng.IntN(4000)
		case "stop":
			req[p] = []string{word(), "END"}
		case "seed":
			req[p] = rng.IntN(1 << 20)
		case "n":
			req[p] = 1 + rng.IntN(3)
		case "user":
			req[p] = "user-" + word()
		case "parallel_tool_calls":
			req[p] = false
		case "json_object":
			req["response_format"] = map[string]any{"type": "json_object"}
		case "json_schema":
			req["response_format"] = map[string]any{"type": "json_schema", "json_schema": map[string]any{"name": "s",
				"schema": map[string]any{"type": "object", "properties": map[string]any{"v": map[string]any{"type": "string"}}}}}
		}
	}
	if req["tool_choice"] == "none" && req["parallel_tool_calls"] == false {
		delete(req, "parallel_tool_calls") // "none" already means no calls at all
	}
	b, _ := json.Marshal(req)
	return b
}

func TestRoundTripKeepsEverySupportedField(t *testing.T) {
	for name, tr := range roundTripProviders {
		t.Run(name, func(t *testing.T) {
			rng := rand.New(rand.NewPCG(42, uint64(len(name))))
			for i := 0; i < 300; i++ {
				body := randomRequest(rng, tr)
				plan, err := Parse(body)
				if err != nil {
					t.Fatalf("Parse: %v\n%s", err, body)
				}
				c, err := plan.Build(Credential{Key: "AKIDTEST:secret"}, nil)
				if err != nil {
					if name == "aws-bedrock" && err.Param == "tool_choice" {
						continue // "none" after tool calls is refused on purpose
					}
					t.Fatalf("Build: %v\n%s", err, body)
				}
				want := fromOpenAI(plan.Req, tr.byName)
				if name == "anthropic" { // the two things Anthropic requires spelled out
					if _, ok := want.Params["max_tokens"]; !ok {
						want.Params["max_tokens"] = int64(AnthropicDefaultMaxTokens)
					}
					if _, ok := want.Params["tool_choice"]; !ok && want.Params["parallel_tool_calls"] == false {
						want.Params["tool_choice"] = "auto"
					}
				}
				got := nativeToCanon[name](t, c.Body)
				if !reflect.DeepEqual(jsonRound(t, want), jsonRound(t, got)) {
					t.Fatalf("round trip %d differs\nrequest: %s\nnative: %s\nwant %+v\ngot  %+v", i, body, c.Body, want, got)
				}
			}
		})
	}
}

// jsonRound normalises numbers (int64 vs float64) by a JSON round trip.
func jsonRound(t *testing.T, c canon) any {
	b, _ := json.Marshal(c)
	var v any
	_ = json.Unmarshal(b, &v)
	return v
}
