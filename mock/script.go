// script.go is the "scripted model" every mock shares: the model name and the request's
// conversation decide the answer, so gateway tests can expect the same behaviour from each
// provider whatever its wire format.
package mock

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strings"
	"sync"
	"unicode/utf8"
)

// RetryAfter is the Retry-After header value every mock sends with its "error-429"
// answer, except OpenAI, which keeps its historical "20".
const RetryAfter = "7"

// recorder keeps what a mock received.
type recorder struct {
	mu       sync.Mutex
	requests []Seen
}

// Requests returns what the mock received so far.
func (rc *recorder) Requests() []Seen {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([]Seen(nil), rc.requests...)
}

func (rc *recorder) record(r *http.Request, body []byte) {
	rc.mu.Lock()
	rc.requests = append(rc.requests, Seen{Method: r.Method, Path: r.URL.Path, Query: r.URL.RawQuery, Header: r.Header.Clone(), Body: body})
	rc.mu.Unlock()
}

// stop is how a scripted answer ends, before each provider names it.
type stop int

const (
	stopEnd stop = iota
	stopMaxTokens
	stopSafety
	stopToolUse
)

// conversation is what the script needs from a request, extracted by each mock.
type conversation struct {
	model string
	tools []string // declared function tools, in order
	// forced names the only tool the request allows ("tool_choice" naming one);
	// none is true when the request forbids tool calls.
	forced string
	none   bool
	// single: the request disables parallel tool calls, so only the first is made.
	single bool
	// lastUser: the last message is a user message that is not a tool result.
	lastUser bool
	lastText string // text of that user message
	// lastToolResult: the last message carries tool results; toolText is the last one.
	lastToolResult bool
	toolText       string
}

type toolCall struct {
	ID, Name, Args string // Args: a JSON object
}

type answer struct {
	text  string
	calls []toolCall
	stop  stop
}

// play runs the script over a conversation (error models are each mock's business).
func play(c conversation) answer {
	text := Answer
	if c.lastToolResult {
		text = "Tool said: " + c.toolText
	}
	switch c.model {
	case "max-tokens":
		return answer{text: text, stop: stopMaxTokens}
	case "safety":
		return answer{stop: stopSafety}
	}
	if c.lastUser && !c.none && len(c.tools) > 0 {
		args := marshalNoEscape(map[string]string{"query": c.lastText})
		var a answer
		for _, name := range c.tools {
			if c.forced != "" && name != c.forced {
				continue
			}
			if c.single && len(a.calls) == 1 {
				break
			}
			a.calls = append(a.calls, toolCall{ID: "call_mock_" + itoa(len(a.calls)), Name: name, Args: args})
		}
		if len(a.calls) > 0 {
			a.stop = stopToolUse
			return a
		}
	}
	return answer{text: text, stop: stopEnd}
}

func itoa(n int) string {
	b, _ := json.Marshal(n)
	return string(b)
}

// marshalNoEscape marshals v without HTML escaping, the way the providers answer.
func marshalNoEscape(v any) string {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.Encode(v)
	return strings.TrimSuffix(buf.String(), "\n")
}

// compactText is a tool result's text, compacted when it is JSON.
func compactText(s string) string {
	var buf bytes.Buffer
	if json.Valid([]byte(s)) && json.Compact(&buf, []byte(s)) == nil {
		return buf.String()
	}
	return s
}

// compactJSON is raw JSON in compact form.
func compactJSON(raw json.RawMessage) string {
	var buf bytes.Buffer
	if json.Compact(&buf, raw) != nil {
		return string(raw)
	}
	return buf.String()
}

// words splits a streamed text into its deltas.
func words(text string) []string {
	if text == "" {
		return nil
	}
	return strings.SplitAfter(text, " ")
}

// fragments splits tool-call arguments into at least two pieces on rune boundaries.
func fragments(args string) []string {
	if len(args) < 2 {
		return []string{args}
	}
	cut := func(s string, i int) int {
		for i > 0 && i < len(s) && !utf8.RuneStart(s[i]) {
			i--
		}
		return i
	}
	first := cut(args, min(9, len(args)/2)) // `{"query":`
	if first == 0 {
		first = cut(args, len(args)-1)
	}
	rest := args[first:]
	out := []string{args[:first]}
	if mid := cut(rest, len(rest)/2); mid > 0 {
		out = append(out, rest[:mid], rest[mid:])
	} else {
		out = append(out, rest)
	}
	return out
}

// flushWriter writes one event and flushes it.
type flushWriter struct {
	w  http.ResponseWriter
	fl http.Flusher
}

func startSSE(w http.ResponseWriter, contentType string) flushWriter {
	w.Header().Set("Content-Type", contentType)
	w.Header().Set("Cache-Control", "no-cache")
	w.WriteHeader(200)
	return flushWriter{w, w.(http.Flusher)}
}

func (f flushWriter) write(s string) {
	f.w.Write([]byte(s))
	f.fl.Flush()
}
