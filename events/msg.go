// msg.go turns stored messages into the events projections apply: Expand splits a
// message into its events, and Msg decodes each event once however many projections
// read it.
package events

import (
	"bytes"
	"fmt"
	"sync"

	json "github.com/goccy/go-json"
)

// decoded caches what was decoded of one event. A batch is applied by one goroutine at a
// time, so it needs no lock.
type decoded struct {
	envDone bool
	env     Envelope
	envErr  error
	finDone bool
	fin     RequestFinished
	finErr  error
	ahead   any // what a projection prepared ahead of applying the event (SetAhead)
}

// Expand appends the events of the message stored at seq to batch, each as a Msg with
// that sequence.
func Expand(batch []Msg, seq uint64, data []byte) []Msg {
	return (*Arena)(nil).Expand(batch, seq, data)
}

// Arena holds what the events of one batch are made of: the decompressed messages and
// what the events decode to. A consumer expands every message of a batch into its arena and
// Resets it before the next batch, so a batch costs no new memory once the arena has grown
// to a batch's size. After Reset, the Msgs of the batch before must no longer be read.
type Arena struct {
	plain blocks[byte]    // decompressed messages
	decs  blocks[decoded] // what the events decode to
}

// How an arena's memory is cut, and what it keeps across batches: a burst's batch (a
// consumer catching up reads up to consumeEventsMax events at once, megabytes of them) is
// not held for good, and costs only the blocks past what is kept.
const (
	arenaBlockBytes  = 256 << 10
	arenaKeepBytes   = 2 << 20
	arenaBlockEvents = 256 // of 632 bytes each
	arenaKeepEvents  = 1024
)

// Reset makes the arena's memory free for the next batch, and lets go of memory grown
// past what it keeps.
func (a *Arena) Reset() {
	a.plain.reset(arenaKeepBytes)
	a.decs.reset(arenaKeepEvents)
}

// room returns n bytes of the arena for a decompressed message (a nil arena allocates).
func (a *Arena) room(n int) []byte {
	if a == nil {
		return make([]byte, n)
	}
	return a.plain.take(n, arenaBlockBytes)
}

// Expand is the package's Expand, in the arena's memory (a nil arena allocates).
func (a *Arena) Expand(batch []Msg, seq uint64, data []byte) []Msg {
	from := len(batch)
	err := splitInto(a, data, func(ev []byte) {
		batch = append(batch, Msg{Seq: seq, Data: ev})
	})
	if err != nil { // handed on as it is: projections skip what they cannot decode
		batch = append(batch, Msg{Seq: seq, Data: data})
	}
	// One allocation (or none, from the arena) holds what the message's events decode to.
	decs := a.decoded(len(batch) - from)
	for i := from; i < len(batch); i++ {
		batch[i].dec = &decs[i-from]
		batch[i].Batched = len(decs) > 1 && err == nil
	}
	return batch
}

// decoded returns n zeroed decoded values, cut from the arena.
func (a *Arena) decoded(n int) []decoded {
	if a == nil {
		return make([]decoded, n)
	}
	d := a.decs.take(n, arenaBlockEvents)
	clear(d)
	return d
}

// blocks hands out pieces of memory cut from a list of blocks and takes them all back at
// once (reset). A piece never moves once handed out, so the pieces of a batch stay valid
// while more are cut, and a batch that outgrows the blocks costs new blocks, not a copy.
type blocks[T any] struct {
	list [][]T // list[cur] is being cut; the blocks after it are empty
	cur  int
}

// take returns a piece of n values from the block being cut, the next one with room, or
// a new block of size values (or n, if larger).
func (b *blocks[T]) take(n, size int) []T {
	for ; b.cur < len(b.list); b.cur++ {
		if blk := b.list[b.cur]; cap(blk)-len(blk) >= n {
			b.list[b.cur] = blk[:len(blk)+n]
			return blk[len(blk) : len(blk)+n : len(blk)+n]
		}
	}
	blk := make([]T, n, max(n, size))
	b.list = append(b.list, blk)
	b.cur = len(b.list) - 1
	return blk[:n:n]
}

// reset empties the blocks, keeping the first ones up to keep values in all.
func (b *blocks[T]) reset(keep int) {
	kept := b.list[:0]
	for _, blk := range b.list {
		if keep < cap(blk) {
			break
		}
		keep -= cap(blk)
		kept = append(kept, blk[:0])
	}
	clear(b.list[len(kept):]) // the blocks not kept are let go
	b.list, b.cur = kept, 0
}

// Envelope decodes the event's envelope (once, for a Msg made by Expand).
func (m Msg) Envelope() (Envelope, error) {
	if m.dec == nil {
		return Decode(m.Data)
	}
	if !m.dec.envDone {
		m.dec.env, m.dec.envErr = Decode(m.Data)
		m.dec.envDone = true
	}
	return m.dec.env, m.dec.envErr
}

// Finished decodes a request.finished event without its bodies (once, for a Msg made by
// Expand): projections never read them, and a streamed answer's body is base64 that would
// be decoded for nothing. Other events are an error. DecodeRequestFinished reads it all.
func (m Msg) Finished() (RequestFinished, error) {
	if m.dec != nil && m.dec.finDone {
		return m.dec.fin, m.dec.finErr
	}
	env, err := m.Envelope()
	var f RequestFinished
	if err == nil {
		f, err = decodeFinishedNoBodies(env)
	}
	if m.dec != nil {
		m.dec.fin, m.dec.finErr, m.dec.finDone = f, err, true
	}
	return f, err
}

// Ahead is what a projection prepared for this event ahead of applying it (SetAhead), or
// nil. One projection uses it: the logs, for their records (storage.Logs.Prepare).
func (m Msg) Ahead() any {
	if m.dec == nil {
		return nil
	}
	return m.dec.ahead
}

// SetAhead keeps v with the event (for a Msg made by Expand; otherwise it is dropped).
func (m Msg) SetAhead(v any) {
	if m.dec != nil {
		m.dec.ahead = v
	}
}

// Predecode decodes now what a projection would decode later (the envelope, and a
// request.finished without its bodies), so another goroutine can do it ahead.
func (m Msg) Predecode() {
	if env, err := m.Envelope(); err == nil && env.Type == TypeRequestFinished {
		_, _ = m.Finished()
	}
}

// Whole is the length of the longest head of batch of at most n events that ends where
// a message ends, so a part committed on its own never holds half a message; it is at
// least the first message whole, even when that is longer than n.
func Whole(batch []Msg, n int) int {
	if n >= len(batch) {
		return len(batch)
	}
	n = max(n, 1)
	for i := n; i > 0; i-- {
		if batch[i].Seq != batch[i-1].Seq {
			return i
		}
	}
	for i := n; i < len(batch); i++ { // the first message alone is longer than n
		if batch[i].Seq != batch[i-1].Seq {
			return i
		}
	}
	return len(batch)
}

// FindFinished reads the request.finished event of a log id from a stored message.
func FindFinished(data []byte, logID string) (RequestFinished, bool) {
	var out RequestFinished
	found := false
	_ = Split(data, func(ev []byte) {
		if found || !bytes.Contains(ev, []byte(logID)) {
			return
		}
		m := Msg{Data: ev}
		env, err := m.Envelope()
		if err != nil || env.Type != TypeRequestFinished {
			return
		}
		if f, err := DecodeRequestFinished(env); err == nil && f.LogID == logID {
			out, found = f, true
		}
	})
	return out, found
}

// skipped is a JSON value read past and not kept.
type skipped struct{}

func (*skipped) UnmarshalJSON([]byte) error { return nil }

// finishedNoBodies is RequestFinished with its payload fields shadowed (a field of the
// outer struct wins over the embedded one of the same JSON name).
type finishedNoBodies struct {
	RequestFinished
	RequestPayload  skipped `json:"request_payload"`
	ResponsePayload skipped `json:"response_payload"`
}

func decodeFinishedNoBodies(e Envelope) (RequestFinished, error) {
	if e.Type != TypeRequestFinished {
		return RequestFinished{}, fmt.Errorf("event %s is not %s", e.Type, TypeRequestFinished)
	}
	switch e.Version {
	case 1:
		if cut, ok := bodiesAt(e.Data); ok {
			return decodeHead(e.Data[:cut])
		}
		var f finishedNoBodies
		err := json.Unmarshal(e.Data, &f)
		return f.RequestFinished, err
	default:
		return RequestFinished{}, fmt.Errorf("%s: unknown version %d", e.Type, e.Version)
	}
}

// bodiesAt is where the bodies of a request.finished event's data begin (the comma before
// the first payload member) when the event says they come last (bodies_last, written
// before them); ok is false for an event that does not say so, or has no bodies. It reads
// only up to the bodies, a string at a time: a raw quote only ever opens or closes one.
func bodiesAt(data []byte) (cut int, ok bool) {
	marked, depth := false, 0
	for i := 0; i < len(data); i++ {
		switch data[i] {
		case '{', '[':
			depth++
		case '}', ']':
			depth--
		case '"':
			end := stringEnd(data, i)
			if end < 0 {
				return 0, false
			}
			if depth == 1 && end+1 < len(data) && data[end+1] == ':' { // a member's name
				switch string(data[i+1 : end]) {
				case "bodies_last":
					marked = bytes.HasPrefix(data[end+2:], []byte("true"))
				case "request_payload", "response_payload":
					return i - 1, marked && data[i-1] == ','
				}
			}
			i = end
		}
	}
	return 0, false
}

// stringEnd is the index of the quote that closes the JSON string opened at data[open],
// or -1.
func stringEnd(data []byte, open int) int {
	for j := open + 1; ; j++ {
		k := bytes.IndexByte(data[j:], '"')
		if k < 0 {
			return -1
		}
		j += k
		escapes := 0
		for p := j - 1; p > open && data[p] == '\\'; p-- {
			escapes++
		}
		if escapes%2 == 0 {
			return j
		}
	}
}

// headBufs holds the buffers decodeHead closes a head into.
var headBufs = sync.Pool{New: func() any { b := make([]byte, 0, 1024); return &b }}

// decodeHead decodes the members of a request.finished before its bodies (head is the
// data up to them, without its closing brace).
func decodeHead(head []byte) (RequestFinished, error) {
	bp := headBufs.Get().(*[]byte)
	*bp = append(append((*bp)[:0], head...), '}') // the decoder copies its input: the buffer can be reused
	defer func() {
		if cap(*bp) <= 64<<10 { // an odd huge head (a long error message) is not kept
			headBufs.Put(bp)
		}
	}()
	var f RequestFinished
	err := json.Unmarshal(*bp, &f)
	return f, err
}
