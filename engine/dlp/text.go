// text.go: Text, the extraction of what a DLP check looks at from a request or response body:
// the string values of JSON, the per-path concatenation of SSE/NDJSON stream events, the text
// parts of multipart forms, plain text as is; base64 payloads are dropped, never decoded.
package dlp

import (
	"bytes"
	"io"
	"mime"
	"mime/multipart"
	"strconv"
	"strings"
	"unicode/utf16"
	"unicode/utf8"
)

// MinBase64Run is the length from which an unbroken run of base64 characters
// ([A-Za-z0-9+/=_-]) inside a value is treated as encoded data and skipped. API keys (up to
// ~200 characters) stay well below it.
const MinBase64Run = 512

// maxDepth bounds JSON nesting; deeper documents are scanned as raw text.
const maxDepth = 512

// Text extracts the text a DLP check looks at from a body:
//   - JSON (application/json, */*+json): every string value (decoded, unescaped; object keys,
//     numbers, booleans are not included), tool-call arguments and results included, each value
//     followed by "\n". A body that does not parse is returned as is (minus base64 runs).
//   - text/event-stream (OpenAI, Anthropic, Gemini, Workers AI, Cohere, ...) and NDJSON
//     (application/x-ndjson, application/jsonl): each event's data is parsed as JSON and the
//     string values at the same JSON path (array indexes included, e.g. choices.0.delta.content)
//     are concatenated across events in order, so a card number split across chunks is found. A
//     path whose value is the same in every event (ids, model names) is output once. Non-JSON
//     data is kept as is; "[DONE]" is dropped. Paths are output in order of first appearance,
//     each followed by "\n".
//   - multipart/form-data: the text parts only (no Content-Type, text/*, JSON, XML, form); file
//     parts with another type are skipped. A JSON part is extracted as JSON.
//   - text/*, XML, application/x-www-form-urlencoded: as is.
//   - no Content-Type: JSON if it parses as JSON, else as is if it is valid UTF-8 without NUL.
//   - anything else (binary): nothing.
//
// Values that are base64 data (a data: URL's payload, or an unbroken base64 run of at least
// MinBase64Run characters) are skipped, never decoded. Text never panics and never modifies
// body; the result is a new slice (or nil), never aliasing body.
func Text(body []byte, contentType string) []byte {
	if len(body) == 0 {
		return nil
	}
	mt := strings.ToLower(strings.TrimSpace(contentType))
	if i := strings.IndexByte(mt, ';'); i >= 0 {
		mt = strings.TrimSpace(mt[:i])
	}
	switch {
	case mt == "text/event-stream":
		return sseText(body, false)
	case mt == "application/x-ndjson" || mt == "application/jsonl" || mt == "application/json-seq" || mt == "application/stream+json":
		return sseText(body, true)
	case mt == "application/json" || strings.HasSuffix(mt, "+json"):
		return jsonText(body)
	case mt == "multipart/form-data" || mt == "multipart/mixed":
		return multipartText(body, contentType)
	case strings.HasPrefix(mt, "text/") || mt == "application/xml" || strings.HasSuffix(mt, "+xml") ||
		mt == "application/x-www-form-urlencoded" || mt == "application/javascript":
		return appendFiltered(nil, body)
	case mt == "":
		if b := bytes.TrimSpace(body); len(b) > 0 && (b[0] == '{' || b[0] == '[') {
			var w jsonWalker
			if w.parse(body, nil) {
				return w.out
			}
		}
		if utf8.Valid(body) && bytes.IndexByte(body, 0) < 0 {
			return appendFiltered(nil, body)
		}
	}
	return nil
}

func jsonText(body []byte) []byte {
	w := jsonWalker{out: make([]byte, 0, len(body))}
	if w.parse(body, nil) {
		return w.out
	}
	return appendFiltered(nil, body)
}

// jsonWalker is a tolerant JSON reader that collects decoded string values. With a path sink it
// reports each value with its dotted path instead.
type jsonWalker struct {
	data  []byte
	pos   int
	depth int
	out   []byte
	path  []byte
	sink  func(path, value []byte)
	tmp   []byte
}

// parse walks data; it returns false when data is not a single valid JSON value.
func (w *jsonWalker) parse(data []byte, sink func(path, value []byte)) bool {
	w.data, w.pos, w.sink = data, 0, sink
	w.skipWS()
	if !w.value() {
		return false
	}
	w.skipWS()
	return w.pos == len(w.data)
}

func (w *jsonWalker) skipWS() {
	for w.pos < len(w.data) {
		switch w.data[w.pos] {
		case ' ', '\t', '\n', '\r':
			w.pos++
		default:
			return
		}
	}
}

func (w *jsonWalker) value() bool {
	if w.pos >= len(w.data) {
		return false
	}
	switch c := w.data[w.pos]; {
	case c == '{':
		return w.object()
	case c == '[':
		return w.array()
	case c == '"':
		s, ok := w.str()
		if !ok {
			return false
		}
		if w.sink != nil {
			w.sink(w.path, s)
		} else {
			w.out = appendFiltered(w.out, s)
			w.out = append(w.out, '\n')
		}
		return true
	case c == 't':
		return w.lit("true")
	case c == 'f':
		return w.lit("false")
	case c == 'n':
		return w.lit("null")
	case c == '-' || isDigit(c):
		p := w.pos + 1
		for p < len(w.data) && (isDigit(w.data[p]) || strings.IndexByte(".eE+-", w.data[p]) >= 0) {
			p++
		}
		w.pos = p
		return true
	}
	return false
}

func (w *jsonWalker) lit(s string) bool {
	if !hasPrefix(w.data[w.pos:], s) {
		return false
	}
	w.pos += len(s)
	return true
}

func (w *jsonWalker) enter() bool {
	w.depth++
	return w.depth <= maxDepth
}

func (w *jsonWalker) object() bool {
	if !w.enter() {
		return false
	}
	defer func() { w.depth-- }()
	w.pos++ // {
	w.skipWS()
	if w.pos < len(w.data) && w.data[w.pos] == '}' {
		w.pos++
		return true
	}
	base := len(w.path)
	for {
		w.skipWS()
		if w.pos >= len(w.data) || w.data[w.pos] != '"' {
			return false
		}
		key, ok := w.str()
		if !ok {
			return false
		}
		if w.sink != nil {
			if base > 0 {
				w.path = append(w.path, '.')
			}
			w.path = append(w.path, key...)
		}
		w.skipWS()
		if w.pos >= len(w.data) || w.data[w.pos] != ':' {
			return false
		}
		w.pos++
		w.skipWS()
		if !w.value() {
			return false
		}
		w.path = w.path[:base]
		w.skipWS()
		if w.pos >= len(w.data) {
			return false
		}
		switch w.data[w.pos] {
		case ',':
			w.pos++
		case '}':
			w.pos++
			return true
		default:
			return false
		}
	}
}

func (w *jsonWalker) array() bool {
	if !w.enter() {
		return false
	}
	defer func() { w.depth-- }()
	w.pos++ // [
	w.skipWS()
	if w.pos < len(w.data) && w.data[w.pos] == ']' {
		w.pos++
		return true
	}
	base := len(w.path)
	for i := 0; ; i++ {
		if w.sink != nil {
			if base > 0 {
				w.path = append(w.path, '.')
			}
			w.path = strconv.AppendInt(w.path, int64(i), 10)
		}
		w.skipWS()
		if !w.value() {
			return false
		}
		w.path = w.path[:base]
		w.skipWS()
		if w.pos >= len(w.data) {
			return false
		}
		switch w.data[w.pos] {
		case ',':
			w.pos++
		case ']':
			w.pos++
			return true
		default:
			return false
		}
	}
}

// str decodes the string at w.pos (which is '"'). The result is valid until the next call.
func (w *jsonWalker) str() ([]byte, bool) {
	d := w.data
	p := w.pos + 1
	start := p
	// fast path: no escapes
	for p < len(d) && d[p] != '"' && d[p] != '\\' {
		p++
	}
	if p < len(d) && d[p] == '"' {
		w.pos = p + 1
		return d[start:p], true
	}
	b := append(w.tmp[:0], d[start:p]...)
	for p < len(d) {
		q := p
		for q < len(d) && d[q] != '"' && d[q] != '\\' {
			q++
		}
		b = append(b, d[p:q]...)
		p = q
		if p >= len(d) {
			break
		}
		switch d[p] {
		case '"':
			w.pos = p + 1
			w.tmp = b
			return b, true
		case '\\':
			if p+1 >= len(d) {
				return nil, false
			}
			p++
			switch d[p] {
			case '"', '\\', '/':
				b = append(b, d[p])
			case 'b':
				b = append(b, '\b')
			case 'f':
				b = append(b, '\f')
			case 'n':
				b = append(b, '\n')
			case 'r':
				b = append(b, '\r')
			case 't':
				b = append(b, '\t')
			case 'u':
				r, ok := hex4(d, p+1)
				if !ok {
					return nil, false
				}
				p += 4
				if utf16.IsSurrogate(r) {
					if r2, ok2 := hex4(d, p+3); ok2 && p+2 < len(d) && d[p+1] == '\\' && d[p+2] == 'u' {
						if dec := utf16.DecodeRune(r, r2); dec != utf8.RuneError {
							r = dec
							p += 6
						} else {
							r = utf8.RuneError
						}
					} else {
						r = utf8.RuneError
					}
				}
				b = utf8.AppendRune(b, r)
			default:
				return nil, false
			}
			p++
		}
	}
	return nil, false
}

func hex4(d []byte, p int) (rune, bool) {
	if p+4 > len(d) {
		return 0, false
	}
	var r rune
	for _, c := range d[p : p+4] {
		switch {
		case isDigit(c):
			r = r*16 + rune(c-'0')
		case c|0x20 >= 'a' && c|0x20 <= 'f':
			r = r*16 + rune(c|0x20-'a'+10)
		default:
			return 0, false
		}
	}
	return r, true
}

// stream accumulates the string values of a stream's events per JSON path.
type stream struct {
	index map[string]int
	paths []*pathAcc
}

type pathAcc struct {
	buf      []byte
	first    []byte
	constant bool // every value so far equals first
	reps     int  // how many values equal to first were seen while constant
}

func (s *stream) add(path, value []byte) {
	i, ok := s.index[string(path)]
	if !ok {
		i = len(s.paths)
		s.index[string(path)] = i
		v := append([]byte(nil), value...)
		s.paths = append(s.paths, &pathAcc{buf: append([]byte(nil), v...), first: v, constant: true, reps: 1})
		return
	}
	a := s.paths[i]
	if a.constant {
		if bytes.Equal(value, a.first) {
			a.reps++
			return
		}
		// the path varies after all: restore the repeats held back
		for j := 1; j < a.reps; j++ {
			a.buf = append(a.buf, a.first...)
		}
		a.constant = false
	}
	a.buf = append(a.buf, value...)
}

// sseText handles text/event-stream (ndjson: one event per line).
func sseText(body []byte, ndjson bool) []byte {
	st := stream{index: map[string]int{}}
	var raw []byte
	var data []byte
	var w jsonWalker
	flush := func() {
		d := bytes.TrimSpace(data)
		data = data[:0]
		if len(d) == 0 || string(d) == "[DONE]" {
			return
		}
		w = jsonWalker{tmp: w.tmp}
		if !w.parse(d, st.add) {
			raw = appendFiltered(raw, d)
			raw = append(raw, '\n')
		}
	}
	for len(body) > 0 {
		var line []byte
		if i := bytes.IndexByte(body, '\n'); i >= 0 {
			line, body = body[:i], body[i+1:]
		} else {
			line, body = body, nil
		}
		line = bytes.TrimSuffix(line, []byte("\r"))
		if ndjson {
			data = append(data[:0], line...)
			flush()
			continue
		}
		if len(line) == 0 {
			flush()
			continue
		}
		if bytes.HasPrefix(line, []byte("data:")) {
			v := line[5:]
			if len(v) > 0 && v[0] == ' ' {
				v = v[1:]
			}
			if len(data) > 0 {
				data = append(data, '\n')
			}
			data = append(data, v...)
		}
		// event:, id:, retry: and comments carry no content
	}
	flush()
	var out []byte
	for _, a := range st.paths {
		out = appendFiltered(out, a.buf)
		out = append(out, '\n')
	}
	return append(out, raw...)
}

func multipartText(body []byte, contentType string) (out []byte) {
	_, params, err := mime.ParseMediaType(contentType)
	if err != nil || params["boundary"] == "" {
		return nil
	}
	defer func() {
		if recover() != nil { // belt and braces: a malformed body must never take the caller down
			out = nil
		}
	}()
	r := multipart.NewReader(bytes.NewReader(body), params["boundary"])
	for {
		part, err := r.NextRawPart()
		if err != nil {
			return out
		}
		b, err := io.ReadAll(io.LimitReader(part, int64(len(body))+1))
		if err != nil {
			return out
		}
		ct := part.Header.Get("Content-Type")
		if ct == "" {
			if part.FileName() != "" && (!utf8.Valid(b) || bytes.IndexByte(b, 0) >= 0) {
				continue
			}
			ct = "text/plain"
		}
		if mt, _, _ := mime.ParseMediaType(ct); strings.HasPrefix(mt, "multipart/") {
			continue // no nested multipart
		}
		out = append(out, Text(b, ct)...)
		if len(out) > 0 && out[len(out)-1] != '\n' {
			out = append(out, '\n')
		}
	}
}

// appendFiltered appends s to dst without base64 payloads: the payload of a data: URL
// ("data:<type>;base64,<payload>") and any unbroken base64 run of MinBase64Run characters or
// more. Text is copied in as few pieces as possible.
func appendFiltered(dst, s []byte) []byte {
	last := 0 // start of the part not copied yet
	i := 0
	for i < len(s) {
		if !b64Any[s[i]] {
			i++
			continue
		}
		j := i
		for j < len(s) && b64Any[s[j]] {
			j++
		}
		// a data: URL: data:<mime>;base64,<payload>
		if j < len(s) && s[j] == ':' && j-i >= 4 && bytes.EqualFold(s[j-4:j], []byte("data")) {
			if c := bytes.IndexByte(s[j:min(len(s), j+128)], ','); c > 0 && containsFold(s[j:j+c], ";base64") {
				p := j + c + 1
				dst = append(dst, s[last:p]...)
				for p < len(s) && b64Any[s[p]] {
					p++
				}
				last, i = p, p
				continue
			}
		}
		if j-i >= MinBase64Run {
			dst = append(dst, s[last:i]...)
			last = j
		}
		i = j
	}
	return append(dst, s[last:]...)
}

func containsFold(s []byte, sub string) bool {
	for i := 0; i+len(sub) <= len(s); i++ {
		if bytes.EqualFold(s[i:i+len(sub)], []byte(sub)) {
			return true
		}
	}
	return false
}

// b64Any: characters of standard and URL-safe base64, padding included.
var b64Any = func() (t [256]bool) {
	for c := 0; c < 256; c++ {
		b := byte(c)
		t[c] = isAlnum(b) || b == '+' || b == '/' || b == '=' || b == '_' || b == '-'
	}
	return
}()
