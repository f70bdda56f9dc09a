// Package usage reads token counts out of provider responses — whole JSON bodies and SSE
// streams — by scanning for the few fields that matter instead of decoding the body, and
// tells a stream that reached its final event from one that was cut short.
package usage

import (
	"bytes"
	"strings"
	"unsafe"

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
	// Endings tell a complete stream from a cut one (see Counter.Cut).
	Endings []Ending
}

// An Ending describes one kind of stream of a format: once an SSE "data:" or "event:"
// line contains Marker, the stream must carry a line containing one of Final before it
// closes, or it was cut. A stream of no known kind is never called cut.
type Ending struct {
	Marker []byte
	Final  [][]byte
}

func ending(marker string, final ...string) Ending {
	e := Ending{Marker: []byte(marker)}
	for _, f := range final {
		e.Final = append(e.Final, []byte(f))
	}
	return e
}

// The formats in use.
var (
	None   = &Format{Name: "none"}
	OpenAI = &Format{Name: "openai",
		In:  []string{"usage.prompt_tokens", "usage.input_tokens", "response.usage.input_tokens", "result.usage.prompt_tokens"},
		Out: []string{"usage.completion_tokens", "usage.output_tokens", "response.usage.output_tokens", "result.usage.completion_tokens"},
		// Chat and text completions end with [DONE]; the Responses API with its final
		// response event.
		Endings: []Ending{
			ending(`"chat.completion.chunk"`, "[DONE]"),
			ending(`"text_completion"`, "[DONE]"),
			ending(`"response.created"`, `"response.completed"`, `"response.incomplete"`, `"response.failed"`),
		}}
	Anthropic = &Format{Name: "anthropic",
		In:      []string{"usage.input_tokens", "message.usage.input_tokens"},
		Out:     []string{"usage.output_tokens", "message.usage.output_tokens"},
		Endings: []Ending{ending("message_start", "message_stop", "event: error")}}
	Google = &Format{Name: "google",
		In:  []string{"usageMetadata.promptTokenCount", "response.usageMetadata.promptTokenCount"},
		Out: []string{"usageMetadata.candidatesTokenCount", "response.usageMetadata.candidatesTokenCount"},
		// The last chunk of a generateContent stream carries the finish reason.
		Endings: []Ending{ending(`"candidates"`, `"finishReason"`)}}
	Cohere = &Format{Name: "cohere",
		In:      []string{"usage.billed_units.input_tokens", "usage.tokens.input_tokens", "meta.billed_units.input_tokens", "response.meta.billed_units.input_tokens", "delta.usage.billed_units.input_tokens"},
		Out:     []string{"usage.billed_units.output_tokens", "usage.tokens.output_tokens", "meta.billed_units.output_tokens", "response.meta.billed_units.output_tokens", "delta.usage.billed_units.output_tokens"},
		Endings: []Ending{ending("message-start", "message-end")}}
	Bedrock = &Format{Name: "bedrock",
		In:  []string{"usage.inputTokens", "usage.input_tokens", "amazon-bedrock-invocationMetrics.inputTokenCount"},
		Out: []string{"usage.outputTokens", "usage.output_tokens", "amazon-bedrock-invocationMetrics.outputTokenCount"}}
)

// Counter accumulates token counts for one response.
type Counter struct {
	Format *Format
	In     int64
	Out    int64
	line   []byte  // an SSE line split across writes
	ending *Ending // the kind of stream seen, nil until a marker appears
	ended  bool    // the stream carried its kind's final line
}

// Cut reports whether the stream fed to Write is of a known kind and ended (Close)
// without its final event: the provider's answer was cut short.
func (c *Counter) Cut() bool { return c.ending != nil && !c.ended }

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
	if len(doc) == 0 {
		return
	}
	// Read as a string without a copy: gjson's results then point into doc, and none
	// outlives this call (only the counts are kept).
	m := keyMemo{doc: unsafe.String(&doc[0], len(doc))}
	if v := first(&m, c.Format.In); v > 0 {
		c.In = v
	}
	if v := first(&m, c.Format.Out); v > 0 {
		c.Out = v
	}
}

// keyMemo remembers, for one document, which keys hold an object and, once looked up,
// the first key's object: "usage.prompt_tokens" then "usage.completion_tokens" walk the
// document to "usage" once and the small usage object twice.
type keyMemo struct {
	doc  string
	n    int
	keys [8]string // no format has more keys on its paths than this; more are looked up each time
	has  [8]bool   // the key holds an object somewhere in the document
	got  [8]bool   // objs looked up
	objs [8]string // the top-level member's raw value, when has
}

// slot is key's entry, made when there is room (-1 when there is none), and whether key
// holds an object somewhere in the document.
func (m *keyMemo) slot(key string) (int, bool) {
	for i := range m.n {
		if m.keys[i] == key {
			return i, m.has[i]
		}
	}
	// Most stream chunks carry "usage":null or no usage at all: a few byte searches
	// rule the key out before any JSON walk.
	ok := keyHoldsObject(m.doc, key)
	if m.n == len(m.keys) {
		return -1, ok
	}
	m.keys[m.n], m.has[m.n] = key, ok
	m.n++
	return m.n - 1, ok
}

// object reports whether key holds an object somewhere in the document (ok) and, if so,
// the raw value of its top-level member ("" when there is none).
func (m *keyMemo) object(key string) (obj string, ok bool) {
	i, ok := m.slot(key)
	switch {
	case !ok:
		return "", false
	case i < 0:
		return gjson.Get(m.doc, key).Raw, true
	case !m.got[i]:
		m.objs[i], m.got[i] = gjson.Get(m.doc, key).Raw, true
	}
	return m.objs[i], true
}

// mayHold reports whether every member p names on the way to its value (all but the
// last) holds an object somewhere in the document: when one holds none, p is not there.
// The innermost is looked at first, so "response.usage.input_tokens" is ruled out by
// "usage" alone (already looked up for "usage.prompt_tokens"), without a walk of the
// document for "response".
func (m *keyMemo) mayHold(p string) bool {
	for end := strings.LastIndexByte(p, '.'); end > 0; {
		start := strings.LastIndexByte(p[:end], '.') + 1
		if _, ok := m.slot(p[start:end]); !ok {
			return false
		}
		end = start - 1
	}
	return true
}

func first(m *keyMemo, paths []string) int64 {
	for _, p := range paths {
		if !m.mayHold(p) {
			continue
		}
		key, rest, nested := strings.Cut(p, ".")
		obj, ok := m.object(key)
		if !ok {
			continue
		}
		var r gjson.Result
		if nested && strings.HasPrefix(obj, "{") {
			r = gjson.Get(obj, rest)
		}
		if !r.Exists() {
			// Not in the first member of that name (a repeated key, a key that holds
			// null there and an object further on): the whole path, as gjson reads it.
			r = gjson.Get(m.doc, p)
		}
		if r.Exists() {
			if v := r.Int(); v > 0 {
				return v
			}
		}
	}
	return 0
}

// Write feeds a piece of an SSE stream (any split). It never fails.
func (c *Counter) Write(p []byte) (int, error) {
	if c.Format == nil || len(c.Format.In) == 0 && len(c.Format.Endings) == 0 {
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

var (
	dataPrefix  = []byte("data:")
	eventPrefix = []byte("event:")
)

func (c *Counter) sseLine(l []byte) {
	data := bytes.HasPrefix(l, dataPrefix)
	if !c.ended && len(c.Format.Endings) > 0 && (data || bytes.HasPrefix(l, eventPrefix)) {
		c.watchEnd(l)
	}
	if !data || len(c.Format.In) == 0 || !bytes.Contains(l, usageMark) {
		return
	}
	c.scan(bytes.TrimSpace(l[len(dataPrefix):]))
}

// watchEnd notes the kind of stream from its first marker, then its final line.
func (c *Counter) watchEnd(l []byte) {
	if c.ending == nil {
		for i := range c.Format.Endings {
			if bytes.Contains(l, c.Format.Endings[i].Marker) {
				c.ending = &c.Format.Endings[i]
				break
			}
		}
		if c.ending == nil {
			return
		}
	}
	for _, f := range c.ending.Final {
		if bytes.Contains(l, f) {
			c.ended = true
			return
		}
	}
}

// keyHoldsObject reports whether "key" appears in doc followed by a colon and an object.
// It may say yes for a match inside a string (the lookup then finds nothing), never no
// where the key holds an object.
func keyHoldsObject(doc, key string) bool {
	for off := 0; off < len(doc); {
		i := strings.Index(doc[off:], key)
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

func skipSpace(b string, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}
