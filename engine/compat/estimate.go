// estimate.go counts tokens with a tokenizer (tiktoken's o200k_base, loaded from the
// library's embedded files, no network) for the rare answer that carries no usage, so
// spend is never recorded as 0. Estimated counts are flagged as such in the log.
package compat

import (
	"sync"

	"github.com/pkoukk/tiktoken-go"
	tiktoken_loader "github.com/pkoukk/tiktoken-go-loader"
)

var tokenizer struct {
	once sync.Once
	enc  *tiktoken.Tiktoken
}

// countTokens counts the tokens of a text; about 4 bytes a token if the tokenizer cannot load.
func countTokens(text string) int64 {
	if text == "" {
		return 0
	}
	tokenizer.once.Do(func() {
		tiktoken.SetBpeLoader(tiktoken_loader.NewOfflineLoader())
		tokenizer.enc, _ = tiktoken.GetEncoding(tiktoken.MODEL_O200K_BASE)
	})
	if tokenizer.enc == nil {
		return int64(len(text)+3) / 4
	}
	return int64(len(tokenizer.enc.EncodeOrdinary(text)))
}

// promptTokens estimates the prompt as OpenAI counts it: each message's text, tool calls
// and a few tokens of framing, plus the tool declarations.
func (c *Call) promptTokens() int64 {
	var n int64 = 3
	for i := range c.req.Messages {
		m := &c.req.Messages[i]
		n += 3 + countTokens(m.Role) + countTokens(m.Text())
		for _, tc := range m.ToolCalls {
			n += countTokens(tc.Function.Name) + countTokens(tc.Function.Arguments)
		}
	}
	for _, t := range c.req.Tools {
		n += countTokens(t.Function.Name) + countTokens(t.Function.Description) + countTokens(string(t.Function.Parameters))
	}
	return n
}

// estimateStream is the estimated usage of an answer whose generated text is text.
func (c *Call) estimateStream(text []byte) *Usage {
	u := &Usage{PromptTokens: c.promptTokens(), CompletionTokens: countTokens(string(text)), Estimated: true}
	u.total()
	return u
}

// estimate is the estimated usage of a whole completion.
func (c *Call) estimate(comp *Completion) *Usage {
	var text []byte
	for _, ch := range comp.Choices {
		if ch.Message.Content != nil {
			text = append(text, *ch.Message.Content...)
		}
		for _, tc := range ch.Message.ToolCalls {
			text = append(text, tc.Function.Name...)
			text = append(text, tc.Function.Arguments...)
		}
	}
	return c.estimateStream(text)
}
