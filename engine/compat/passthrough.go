// passthrough.go serves the providers that already speak OpenAI chat completions (OpenAI,
// Groq, Mistral, DeepSeek, xAI, Workers AI, Azure OpenAI, custom providers...): the body
// goes through with only the model rewritten, and streams always ask for usage so every
// response is priced; the usage chunk reaches the client only if it asked for it.
package compat

import (
	"bytes"
	"errors"
	"unsafe"

	json "github.com/goccy/go-json"
	"github.com/tidwall/gjson"
	"github.com/tidwall/sjson"
)

// passthrough is the OpenAI-compatible family.
type passthrough struct {
	provider  string
	seedAs    string // the provider's name for seed (Mistral: random_seed)
	dropModel bool   // the model is in the URL (Azure deployments)
}

func (p passthrough) request(c *Call, r *ChatRequest) ([]byte, *Error) {
	body := c.req.raw
	var err error
	if p.dropModel {
		body, err = sjson.DeleteBytes(body, "model")
	} else {
		body, err = sjson.SetBytes(body, "model", c.Model)
	}
	if err == nil && c.Stream {
		body, err = sjson.SetBytes(body, "stream_options.include_usage", true)
	}
	if err == nil && p.seedAs != "" && r.Seed != nil {
		if body, err = sjson.DeleteBytes(body, "seed"); err == nil {
			body, err = sjson.SetBytes(body, p.seedAs, *r.Seed)
		}
	}
	if err != nil {
		return nil, invalid("", "the request body cannot be rewritten: %v", err)
	}
	return body, nil
}

// rawResponse keeps the provider's answer byte for byte (extra fields included) and
// reads its usage.
func (p passthrough) rawResponse(c *Call, body []byte) ([]byte, *Usage, error) {
	if !gjson.ValidBytes(body) {
		return nil, nil, errors.New("not a chat completion")
	}
	_, choices, usage := openAIMembers(body)
	if !choices.IsArray() {
		return nil, nil, errors.New("not a chat completion")
	}
	if u := openAIUsage(usage); u != nil {
		return body, u, nil
	}
	var text []byte
	for _, ch := range choices.Array() {
		text = append(text, ch.Get("message.content").String()...)
		for _, tc := range ch.Get("message.tool_calls").Array() {
			text = append(text, tc.Get("function.name").String()...)
			text = append(text, tc.Get("function.arguments").String()...)
		}
	}
	return body, c.estimateStream(text), nil
}

func (p passthrough) response(c *Call, body []byte) (*Completion, error) {
	var comp Completion
	err := json.Unmarshal(body, &comp)
	return &comp, err
}

func (p passthrough) decoder() streamDecoder { return &openAIStream{} }

func (p passthrough) errorDetail(body []byte) (string, string, string) {
	e := gjson.GetBytes(body, "error")
	if e.Type == gjson.String {
		return e.String(), "", ""
	}
	if m := gjson.GetBytes(body, "message"); m.Type == gjson.String {
		return m.String(), "", ""
	}
	return e.Get("message").String(), e.Get("type").String(), e.Get("code").String()
}

// openAIMembers reads what the gateway needs of an OpenAI answer or stream chunk (its
// error, choices and usage members) in one walk of its top level, the first of a name
// given twice (as gjson.Get finds it). data must be valid JSON; it is read in place, so
// the results must not outlive it.
func openAIMembers(data []byte) (errv, choices, usage gjson.Result) {
	gjson.Parse(unsafe.String(unsafe.SliceData(data), len(data))).ForEach(func(k, v gjson.Result) bool {
		switch {
		case k.Str == "error" && !errv.Exists():
			errv = v
		case k.Str == "choices" && !choices.Exists():
			choices = v
		case k.Str == "usage" && !usage.Exists():
			usage = v
		}
		return true
	})
	return errv, choices, usage
}

// openAIUsage reads an OpenAI usage object; nil when absent or null.
func openAIUsage(u gjson.Result) *Usage {
	if !u.IsObject() {
		return nil
	}
	out := &Usage{PromptTokens: u.Get("prompt_tokens").Int(), CompletionTokens: u.Get("completion_tokens").Int(), TotalTokens: u.Get("total_tokens").Int()}
	if v := u.Get("prompt_tokens_details.cached_tokens"); v.Exists() {
		out.PromptTokensDetails = &PromptTokensDetails{CachedTokens: v.Int()}
	}
	if v := u.Get("completion_tokens_details.reasoning_tokens"); v.Exists() {
		out.CompletionTokensDetails = &CompletionTokensDetails{ReasoningTokens: v.Int()}
	}
	if out.TotalTokens == 0 {
		out.total()
	}
	return out
}

// openAIStream forwards OpenAI chunks as they are, reading usage on the way and holding
// back the usage-only chunk the client did not ask for, and [DONE] (Close sends it).
type openAIStream struct{ sse sseReader }

func (o *openAIStream) feed(p []byte, s *Stream) error {
	return o.sse.feed(p, func(_ string, data []byte) error { return o.event(data, s) })
}

func (o *openAIStream) end(s *Stream) {
	_ = o.sse.flush(func(_ string, data []byte) error { return o.event(data, s) })
	for i := range s.choices {
		s.choices[i].finished = true // the provider sent its own finish chunks
	}
}

func (o *openAIStream) event(data []byte, s *Stream) error {
	data = bytes.TrimSpace(data)
	if string(data) == "[DONE]" {
		s.ended = true
		return nil
	}
	if !gjson.ValidBytes(data) {
		return errors.New("an event is not JSON")
	}
	if bytes.IndexByte(data, '\n') >= 0 || bytes.IndexByte(data, '\r') >= 0 { // not ContainsAny: it builds a set per call
		// JSON spread over several data lines (or holding a CR, which ends an SSE line):
		// relayed as it is, the client's SSE parser would cut it; one line instead.
		var one bytes.Buffer
		if err := json.Compact(&one, data); err != nil {
			return errors.New("an event is not JSON")
		}
		data = one.Bytes()
	}
	errv, choices, usage := openAIMembers(data)
	if errv.Exists() {
		s.failed = true
		s.out = append(s.out, "data: "...)
		s.out = append(s.out, data...)
		s.out = append(s.out, "\n\n"...)
		return nil
	}
	u := openAIUsage(usage)
	if u != nil {
		s.usage = u
	}
	n := 0 // choices, as gjson's Array counts them (a value that is not an array is one)
	choice := func(ch gjson.Result) {
		n++
		delta := ch.Get("delta")
		s.text = append(s.text, delta.Get("content").String()...)
		for _, tc := range delta.Get("tool_calls").Array() {
			s.text = append(s.text, tc.Get("function.name").String()...)
			s.text = append(s.text, tc.Get("function.arguments").String()...)
		}
		i := int(ch.Get("index").Int())
		if s.choices[i] == nil {
			s.choices[i] = &choiceState{roleSent: true}
		}
	}
	if choices.IsArray() {
		choices.ForEach(func(_, ch gjson.Result) bool { choice(ch); return true })
	} else {
		for _, ch := range choices.Array() {
			choice(ch)
		}
	}
	if u != nil && n == 0 && !s.c.IncludeUsage {
		return nil // asked for by the gateway, not by the client
	}
	if u != nil && s.c.IncludeUsage && n == 0 {
		s.usageSent = true // forwarded as the provider sent it; Close adds none
	}
	s.out = append(s.out, "data: "...)
	s.out = append(s.out, data...)
	s.out = append(s.out, "\n\n"...)
	return nil
}
