// stream.go writes OpenAI chat.completion.chunk SSE for a translated stream: role delta
// first, content and tool-call argument deltas with stable indices, one finish chunk per
// choice, the usage chunk when the client asked for it, then [DONE]. Each native family
// has a streamDecoder that reads its framing and drives a Stream.
package compat

import (
	"bytes"
	"errors"

	json "github.com/goccy/go-json"
)

// streamDecoder reads one native stream format.
type streamDecoder interface {
	// feed takes the next bytes of the upstream body, in any split.
	feed(p []byte, s *Stream) error
	// end runs at the upstream EOF. Decoders set s.ended when the native stream carried
	// its final event (an answer without it was cut short).
	end(s *Stream)
}

// Stream translates one streamed answer. Feed and Close return the bytes to send to the
// client; the slice is valid until the next call.
type Stream struct {
	c         *Call
	dec       streamDecoder
	out       []byte
	model     string
	choices   map[int]*choiceState
	usage     *Usage
	text      []byte // answer text, kept only to estimate usage when the provider gives none
	failed    bool
	closed    bool
	ended     bool // the upstream stream carried its final event
	decEnded  bool // dec.end has run
	usageSent bool
}

type choiceState struct {
	roleSent bool
	finished bool
	tools    map[int]int // native tool key → OpenAI tool index
	pending  string      // finish reason seen before the last deltas (Gemini puts both on a chunk)
}

// NewStream starts the translation of a streamed answer.
func (c *Call) NewStream() *Stream {
	return &Stream{c: c, dec: c.tr.decoder(), model: c.Model, choices: map[int]*choiceState{}}
}

// maxFrame bounds one native event (an SSE line or an event-stream message).
const maxFrame = 16 << 20

var errFrameTooLarge = errors.New("a stream event is larger than 16 MiB")

// Feed translates the next upstream bytes.
func (s *Stream) Feed(p []byte) []byte {
	s.out = s.out[:0]
	if s.failed || s.closed {
		return nil
	}
	if err := s.dec.feed(p, s); err != nil {
		s.fail(502, "api_error", s.c.Provider+" stream could not be read: "+err.Error())
	}
	return s.out
}

// Close ends the stream: finish chunks still owed, the usage chunk if asked, [DONE].
func (s *Stream) Close() []byte {
	s.out = s.out[:0]
	if s.closed {
		return nil
	}
	s.endDecoder()
	s.closed = true
	if s.failed {
		s.out = append(s.out, "data: [DONE]\n\n"...)
		return s.out
	}
	for i := 0; i < len(s.choices); i++ {
		if st := s.choices[i]; st != nil && !st.finished {
			reason := st.pending
			if reason == "" {
				reason = "stop"
			}
			s.finish(i, reason)
		}
	}
	if s.usage == nil {
		s.usage = s.c.estimateStream(s.text)
	} else {
		s.usage.total()
	}
	if s.c.IncludeUsage && !s.usageSent {
		s.emit(Chunk{Choices: []ChunkChoice{}, Usage: s.usage})
	}
	s.out = append(s.out, "data: [DONE]\n\n"...)
	return s.out
}

// Abort ends a stream whose upstream broke off: an error event, then [DONE]. Usage is
// estimated from what was received.
func (s *Stream) Abort(msg string) []byte {
	s.out = s.out[:0]
	if s.closed {
		return nil
	}
	s.fail(502, "api_error", msg)
	s.closed = true
	if s.usage == nil {
		s.usage = s.c.estimateStream(s.text)
	}
	s.out = append(s.out, "data: [DONE]\n\n"...)
	return s.out
}

func (s *Stream) endDecoder() {
	if !s.failed && !s.decEnded {
		s.decEnded = true
		s.dec.end(s)
	}
}

// Complete runs at the upstream EOF, before Close or Abort: it reports whether the native
// stream ended with its final event (or an error event). false means the answer was cut.
func (s *Stream) Complete() bool {
	s.out = s.out[:0]
	s.endDecoder()
	return s.ended || s.failed
}

// Usage is the usage of the stream once closed (estimated when the provider gave none).
func (s *Stream) Usage() *Usage { return s.usage }

// Failed reports whether the stream ended on an upstream error event.
func (s *Stream) Failed() bool { return s.failed }

func (s *Stream) choice(i int) *choiceState {
	st := s.choices[i]
	if st == nil {
		st = &choiceState{}
		s.choices[i] = st
	}
	if !st.roleSent {
		st.roleSent = true
		empty := ""
		s.emit(Chunk{Choices: []ChunkChoice{{Index: i, Delta: Delta{Role: "assistant", Content: &empty}}}})
	}
	return st
}

func (s *Stream) emit(ch Chunk) {
	ch.ID, ch.Object, ch.Created, ch.Model = s.c.ID, "chat.completion.chunk", s.c.Created, s.model
	b, _ := json.Marshal(ch)
	s.out = append(s.out, "data: "...)
	s.out = append(s.out, b...)
	s.out = append(s.out, "\n\n"...)
}

// setModel records the model the provider reports.
func (s *Stream) setModel(m string) {
	if m != "" {
		s.model = m
	}
}

// role makes sure choice i has had its role delta.
func (s *Stream) role(i int) { s.choice(i) }

// text sends a content delta.
func (s *Stream) content(i int, t string) {
	if t == "" {
		return
	}
	s.choice(i)
	s.text = append(s.text, t...)
	s.emit(Chunk{Choices: []ChunkChoice{{Index: i, Delta: Delta{Content: &t}}}})
}

// toolStart opens a tool call; key is the native block index (or any id unique in the choice).
func (s *Stream) toolStart(i, key int, id, name string) {
	st := s.choice(i)
	if st.tools == nil {
		st.tools = map[int]int{}
	}
	idx := len(st.tools)
	st.tools[key] = idx
	s.text = append(s.text, name...)
	s.emit(Chunk{Choices: []ChunkChoice{{Index: i, Delta: Delta{ToolCalls: []ToolCallDelta{{Index: idx, ID: id, Type: "function",
		Function: FunctionCallDelta{Name: name}}}}}}})
}

// toolArgs sends a piece of a tool call's arguments.
func (s *Stream) toolArgs(i, key int, frag string) {
	if frag == "" {
		return
	}
	st := s.choice(i)
	idx, ok := st.tools[key]
	if !ok {
		return
	}
	s.text = append(s.text, frag...)
	s.emit(Chunk{Choices: []ChunkChoice{{Index: i, Delta: Delta{ToolCalls: []ToolCallDelta{{Index: idx, Function: FunctionCallDelta{Arguments: frag}}}}}}})
}

// hasTools reports whether choice i made tool calls.
func (s *Stream) hasTools(i int) bool {
	st := s.choices[i]
	return st != nil && len(st.tools) > 0
}

// finish sends choice i's finish chunk, once.
func (s *Stream) finish(i int, reason string) {
	st := s.choice(i)
	if st.finished {
		return
	}
	st.finished = true
	s.emit(Chunk{Choices: []ChunkChoice{{Index: i, Delta: Delta{}, FinishReason: &reason}}})
}

// setUsage records the provider's usage (the last report wins).
func (s *Stream) setUsage(u *Usage) { s.usage = u }

// fail ends the stream with an OpenAI error event, as OpenAI's own streams do.
func (s *Stream) fail(status int, typ, msg string) {
	if s.failed {
		return
	}
	s.failed = true
	e := &Error{Status: status, Type: typ, Message: msg}
	s.out = append(s.out, "data: "...)
	s.out = append(s.out, e.JSON()...)
	s.out = append(s.out, "\n\n"...)
}

// sseReader splits an SSE byte stream into events (event name and joined data lines).
type sseReader struct {
	line  []byte
	event string
	data  []byte
}

// feed calls on for each complete event in p (and earlier leftovers).
func (r *sseReader) feed(p []byte, on func(event string, data []byte) error) error {
	for len(p) > 0 {
		i := bytes.IndexByte(p, '\n')
		if i < 0 {
			if len(r.line)+len(p) > maxFrame {
				return errFrameTooLarge
			}
			r.line = append(r.line, p...)
			return nil
		}
		var l []byte
		if len(r.line) > 0 {
			r.line = append(r.line, p[:i]...)
			l = r.line
		} else {
			l = p[:i]
		}
		p = p[i+1:]
		if err := r.onLine(bytes.TrimSuffix(l, []byte{'\r'}), on); err != nil {
			return err
		}
		r.line = r.line[:0]
	}
	return nil
}

// flush handles an event not followed by a blank line at EOF.
func (r *sseReader) flush(on func(event string, data []byte) error) error {
	if len(r.line) > 0 {
		if err := r.onLine(bytes.TrimSuffix(r.line, []byte{'\r'}), on); err != nil {
			return err
		}
		r.line = r.line[:0]
	}
	return r.onLine(nil, on)
}

func (r *sseReader) onLine(l []byte, on func(event string, data []byte) error) error {
	switch {
	case len(l) == 0:
		if len(r.data) == 0 {
			r.event = ""
			return nil
		}
		err := on(r.event, r.data)
		r.event, r.data = "", r.data[:0]
		return err
	case bytes.HasPrefix(l, []byte("data:")):
		v := bytes.TrimPrefix(l[5:], []byte{' '})
		if len(r.data) > 0 {
			r.data = append(r.data, '\n')
		}
		if len(r.data)+len(v) > maxFrame {
			return errFrameTooLarge
		}
		r.data = append(r.data, v...)
	case bytes.HasPrefix(l, []byte("event:")):
		r.event = string(bytes.TrimSpace(l[6:]))
	}
	return nil
}
