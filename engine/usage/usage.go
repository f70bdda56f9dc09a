// Package usage reads token counts out of provider responses — whole JSON bodies and SSE
// streams — by scanning for the few fields that matter instead of decoding the body.
package usage

import (
	"bytes"

	"github.com/tidwall/gjson"
)

// Format lists where one family of APIs reports input and output tokens. Paths are gjson
// paths tried in order; for streams the last non-zero value seen wins, which is how
// OpenAI (final usage chunk), Anthropic (message_start then cumulative message_delta) and
// Google (usageMetadata on every chunk) all report.
type Format struct {
	Name string
	In   []string
	Out  []string
}

// The formats in use.
var (
	None   = &Format{Name: "none"}
	OpenAI = &Format{Name: "openai",
		In:  []string{"usage.prompt_tokens", "usage.input_tokens", "response.usage.input_tokens", "result.usage.prompt_tokens"},
		Out: []string{"usage.completion_tokens", "usage.output_tokens", "response.usage.output_tokens", "result.usage.completion_tokens"}}
	Anthropic = &Format{Name: "anthropic",
		In:  []string{"usage.input_tokens", "message.usage.input_tokens"},
		Out: []string{"usage.output_tokens", "message.usage.output_tokens"}}
	Google = &Format{Name: "google",
		In:  []string{"usageMetadata.promptTokenCount", "response.usageMetadata.promptTokenCount"},
		Out: []string{"usageMetadata.candidatesTokenCount", "response.usageMetadata.candidatesTokenCount"}}
	Cohere = &Format{Name: "cohere",
		In:  []string{"usage.billed_units.input_tokens", "usage.tokens.input_tokens", "meta.billed_units.input_tokens", "response.meta.billed_units.input_tokens", "delta.usage.billed_units.input_tokens"},
		Out: []string{"usage.billed_units.output_tokens", "usage.tokens.output_tokens", "meta.billed_units.output_tokens", "response.meta.billed_units.output_tokens", "delta.usage.billed_units.output_tokens"}}
	Bedrock = &Format{Name: "bedrock",
		In:  []string{"usage.inputTokens", "usage.input_tokens", "amazon-bedrock-invocationMetrics.inputTokenCount"},
		Out: []string{"usage.outputTokens", "usage.output_tokens", "amazon-bedrock-invocationMetrics.outputTokenCount"}}
)

// Counter accumulates token counts for one response.
type Counter struct {
	Format *Format
	In     int64
	Out    int64
	line   []byte // an SSE line split across writes
}

// maxLine bounds the carry buffer: a longer SSE line is skipped, not buffered without end.
const maxLine = 1 << 20

var usageMark = []byte("sage") // matches "usage" and "usageMetadata"

// ScanJSON reads the counts from a complete JSON body.
func (c *Counter) ScanJSON(body []byte) {
	if c.Format == nil || len(c.Format.In) == 0 || !bytes.Contains(body, usageMark) {
		return
	}
	c.scan(body)
}

func (c *Counter) scan(doc []byte) {
	if v := first(doc, c.Format.In); v > 0 {
		c.In = v
	}
	if v := first(doc, c.Format.Out); v > 0 {
		c.Out = v
	}
}

func first(doc []byte, paths []string) int64 {
	for _, p := range paths {
		if r := gjson.GetBytes(doc, p); r.Exists() {
			if v := r.Int(); v > 0 {
				return v
			}
		}
	}
	return 0
}

// Write feeds a piece of an SSE stream (any split). It never fails.
func (c *Counter) Write(p []byte) (int, error) {
	if c.Format == nil || len(c.Format.In) == 0 {
		return len(p), nil
	}
	n := len(p)
	for len(p) > 0 {
		i := bytes.IndexByte(p, '\n')
		if i < 0 {
			if len(c.line)+len(p) <= maxLine {
				c.line = append(c.line, p...)
			} else {
				c.line = c.line[:0]
			}
			break
		}
		if len(c.line) > 0 {
			c.line = append(c.line, p[:i]...)
			c.sseLine(c.line)
			c.line = c.line[:0]
		} else {
			c.sseLine(p[:i])
		}
		p = p[i+1:]
	}
	return n, nil
}

// Close handles a last line that had no newline.
func (c *Counter) Close() {
	if len(c.line) > 0 {
		c.sseLine(c.line)
		c.line = c.line[:0]
	}
}

var dataPrefix = []byte("data:")

func (c *Counter) sseLine(l []byte) {
	if !bytes.HasPrefix(l, dataPrefix) || !bytes.Contains(l, usageMark) {
		return
	}
	c.scan(bytes.TrimSpace(l[len(dataPrefix):]))
}
