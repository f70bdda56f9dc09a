// Package usage reads token counts out of provider responses — whole JSON bodies and SSE
// streams — by scanning for the few fields that matter instead of decoding the body.
package usage

import (
	"bytes"
	"strings"

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
	var m keyMemo
	if v := first(doc, c.Format.In, &m); v > 0 {
		c.In = v
	}
	if v := first(doc, c.Format.Out, &m); v > 0 {
		c.Out = v
	}
}

// keyMemo remembers, for one document, which first keys hold an object.
type keyMemo struct {
	n    int
	keys [8]string
	has  [8]bool
}

func (m *keyMemo) holdsObject(doc []byte, key string) bool {
	for i := range m.n {
		if m.keys[i] == key {
			return m.has[i]
		}
	}
	h := keyHoldsObject(doc, key)
	if m.n < len(m.keys) {
		m.keys[m.n], m.has[m.n] = key, h
		m.n++
	}
	return h
}

func first(doc []byte, paths []string, m *keyMemo) int64 {
	for _, p := range paths {
		// Most stream chunks carry "usage":null or no usage at all: a path is only
		// looked up when its first key holds an object somewhere in the document, so
		// such a chunk costs a few byte searches instead of a JSON walk per path.
		if !m.holdsObject(doc, firstKey(p)) {
			continue
		}
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

// firstKey is the first key of a gjson path ("usage" of "usage.prompt_tokens").
func firstKey(path string) string {
	if i := strings.IndexByte(path, '.'); i >= 0 {
		return path[:i]
	}
	return path
}

// keyHoldsObject reports whether "key" appears in doc followed by a colon and an object.
// It may say yes for a match inside a string (the lookup then finds nothing), never no
// where the key holds an object.
func keyHoldsObject(doc []byte, key string) bool {
	for off := 0; off < len(doc); {
		i := bytes.Index(doc[off:], []byte(key))
		if i < 0 {
			return false
		}
		i += off
		off = i + 1
		if i == 0 || doc[i-1] != '"' {
			continue
		}
		j := i + len(key)
		if j >= len(doc) || doc[j] != '"' {
			continue
		}
		j = skipSpace(doc, j+1)
		if j >= len(doc) || doc[j] != ':' {
			continue
		}
		j = skipSpace(doc, j+1)
		if j < len(doc) && doc[j] == '{' {
			return true
		}
	}
	return false
}

func skipSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}
