// batcher.go gathers the events published on the request path into few JetStream
// messages: events arriving within a millisecond of each other travel as one message of
// newline-separated envelopes, S2-compressed (see Split), acknowledged once. A message of
// one event is exactly that event's envelope, so logs written before batching read the
// same way.
package events

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	json "github.com/goccy/go-json"
	"github.com/klauspost/compress/s2"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Batching limits. A batch closes after batchLinger, or at batchMaxEvents events or
// batchMaxBytes bytes, whichever comes first; a batch with a waiter (a durable publish)
// closes as soon as the events already queued are in it.
const (
	batchLinger    = time.Millisecond
	batchMaxEvents = 256
	batchMaxBytes  = 256 << 10
	batchQueue     = 8192
	batchInFlight  = 256
	// compressFrom: a batch of several events this large or larger is stored compressed.
	compressFrom = 1 << 10
	// BatchSubject is the subject of a message holding more than one event.
	BatchSubject = SubjectPrefix + "batch"
)

// Ack is what a waiting publisher learns: the stream sequence of the message holding
// its event, or why it could not be stored.
type Ack struct {
	Seq uint64
	Err error
}

// queued is one event waiting for its batch, encoded (data) or to be encoded by the
// batcher (ev); done, when set, receives the batch's Ack. An entry with neither is a
// flush marker.
type queued struct {
	subject string
	data    []byte
	ev      *unencoded
	done    chan Ack
}

// unencoded is an event handed over as a value: the batcher encodes it, off the request
// path (and on a goroutine whose stack has grown once, not once per request).
type unencoded struct {
	t       Type
	version int
	id      string
	at      time.Time
	data    any
}

// sent is a batch handed to JetStream, waiting for its acknowledgement.
type sent struct {
	msg     *nats.Msg
	future  jetstream.PubAckFuture
	waiters []chan Ack
	err     error // the publish itself failed
}

// batcher owns the publishing goroutines: gather (queue → batches) and confirm (acks →
// waiters, retries).
type batcher struct {
	js       jetstream.JetStream
	log      *slog.Logger
	in       chan queued
	acks     chan sent
	idPrefix string
	next     atomic.Uint64
	stopped  chan struct{}
	mu       sync.RWMutex // add holds it shared, close exclusively: no send on a closed queue
	closed   bool
}

func newBatcher(js jetstream.JetStream, log *slog.Logger) *batcher {
	raw := make([]byte, 8)
	_, _ = rand.Read(raw)
	b := &batcher{js: js, log: log, in: make(chan queued, batchQueue), acks: make(chan sent, batchInFlight),
		idPrefix: hex.EncodeToString(raw) + "-", stopped: make(chan struct{})}
	go b.gather()
	go b.confirm()
	return b
}

var (
	errClosed    = errors.New("events: publisher closed")
	errQueueFull = errors.New("events: publish queue full (is JetStream answering?); event dropped")
)

// queueWait is how long an asynchronous publish waits for room in a full queue before it
// gives up: a JetStream that stopped answering must not stall every request behind it.
const queueWait = 100 * time.Millisecond

// add queues an event. A waiting publish (done set) waits for room; an asynchronous one
// waits at most queueWait, then fails (the caller logs the loss).
func (b *batcher) add(q queued) error {
	b.mu.RLock()
	defer b.mu.RUnlock()
	if b.closed {
		return errClosed
	}
	select {
	case b.in <- q:
		return nil
	default:
	}
	if q.done != nil {
		b.in <- q
		return nil
	}
	t := time.NewTimer(queueWait)
	defer t.Stop()
	select {
	case b.in <- q:
		return nil
	case <-t.C:
		return errQueueFull
	}
}

// gather turns the queue into batches until the queue is closed.
func (b *batcher) gather() {
	defer close(b.acks)
	linger := time.NewTimer(time.Hour)
	linger.Stop()
	var (
		buf     bytes.Buffer
		enc     = json.NewEncoder(&buf) // events handed over unencoded are written into buf as they come
		subject string
		n       int
		waiters []chan Ack
	)
	for {
		first, ok := <-b.in
		if !ok {
			return
		}
		buf.Reset()
		n, waiters, subject = 0, nil, ""
		take := func(q queued) {
			if q.done != nil {
				waiters = append(waiters, q.done)
			}
			if q.data == nil && q.ev == nil {
				return
			}
			mark := buf.Len()
			if n > 0 {
				buf.WriteByte('\n')
			}
			if q.ev != nil {
				if err := AppendEncoded(&buf, enc, q.ev.t, q.ev.version, q.ev.id, q.ev.at, q.ev.data); err != nil {
					buf.Truncate(mark)
					b.log.Error("encode event", "type", q.ev.t, "id", q.ev.id, "err", err)
					return
				}
			} else {
				buf.Write(q.data)
			}
			if n > 0 {
				subject = BatchSubject
			} else {
				subject = q.subject
			}
			n++
		}
		take(first)
		urgent := first.done != nil
		if !urgent {
			linger.Reset(batchLinger)
		}
	fill:
		for n < batchMaxEvents && buf.Len() < batchMaxBytes {
			if urgent { // take what is queued already, then go
				select {
				case q, ok := <-b.in:
					if !ok {
						break fill
					}
					take(q)
				default:
					break fill
				}
				continue
			}
			select {
			case q, ok := <-b.in:
				if !ok {
					break fill
				}
				take(q)
				urgent = q.done != nil
			case <-linger.C:
				break fill
			}
		}
		if !linger.Stop() {
			select {
			case <-linger.C:
			default:
			}
		}
		b.send(subject, &buf, n, waiters)
	}
}

// send publishes one batch asynchronously and passes it on to confirm.
func (b *batcher) send(subject string, buf *bytes.Buffer, n int, waiters []chan Ack) {
	if n == 0 { // only flush markers: nothing to store, answer once what came before is
		b.acks <- sent{waiters: waiters}
		return
	}
	msg := nats.NewMsg(subject)
	if n > 1 && buf.Len() >= compressFrom {
		// JSON events compress about fourfold: fewer bytes in JetStream's write cache,
		// on disk and on the wire to every consumer.
		out := messageBuffer(len(compressedMagic) + s2.MaxEncodedLen(buf.Len()))
		copy(out, compressedMagic)
		enc := s2.Encode(out[len(compressedMagic):], buf.Bytes()) // written in place: out is large enough
		msg.Data = out[:len(compressedMagic)+len(enc)]
	} else {
		msg.Data = append(messageBuffer(buf.Len())[:0], buf.Bytes()...)
	}
	// The message id lets JetStream drop the copy a retry sends after a lost ack.
	msg.Header.Set(jetstream.MsgIDHeader, b.idPrefix+strconv.FormatUint(b.next.Add(1), 36))
	f, err := b.js.PublishMsgAsync(msg)
	b.acks <- sent{msg: msg, future: f, waiters: waiters, err: err}
}

// confirm waits for each batch's acknowledgement in order, republishing a batch whose
// asynchronous publish failed, and tells its waiters.
func (b *batcher) confirm() {
	defer close(b.stopped)
	for s := range b.acks {
		ack := Ack{}
		switch {
		case s.msg == nil:
		case s.err != nil:
			ack = b.retry(s.msg, s.err)
		default:
			select {
			case pa := <-s.future.Ok():
				ack.Seq = pa.Sequence
			case err := <-s.future.Err():
				ack = b.retry(s.msg, err)
			}
		}
		for _, w := range s.waiters {
			w <- ack
		}
		if s.msg != nil {
			// Acknowledged (or given up on): neither JetStream's client, which copied the
			// data into its write buffer when publishing, nor a retry reads it again.
			messageBuffers.Put(s.msg.Data[:0:cap(s.msg.Data)])
		}
	}
}

// messageBuffers holds the data buffers of acknowledged batches for the next ones.
var messageBuffers = sync.Pool{New: func() any { return []byte(nil) }}

// messageBuffer is a buffer of length n, reused when one big enough is pooled.
func messageBuffer(n int) []byte {
	b := messageBuffers.Get().([]byte)
	if cap(b) < n {
		if cap(b) > 0 {
			messageBuffers.Put(b) // too small for this batch; a smaller one may use it
		}
		return make([]byte, n)
	}
	return b[:n]
}

// retry sends a batch again synchronously, under the same message id, so a transient
// failure never loses a record and a batch stored twice is kept once.
func (b *batcher) retry(msg *nats.Msg, first error) Ack {
	var err error
	// Within JetStream's duplicate window, so a copy stored by an unanswered try is kept
	// once; long enough for a cluster to elect a new leader after a server died.
	deadline := time.Now().Add(retryFor)
	for attempt := 1; ; attempt++ {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		var pa *jetstream.PubAck
		pa, err = b.js.PublishMsg(ctx, msg)
		cancel()
		if err == nil {
			return Ack{Seq: pa.Sequence}
		}
		if time.Now().After(deadline) {
			break
		}
		time.Sleep(min(time.Duration(attempt)*100*time.Millisecond, time.Second))
	}
	b.log.Error("events lost after retries", "subject", msg.Subject, "events", bytes.Count(msg.Data, []byte{'\n'})+1,
		"first_error", first, "last_error", err)
	return Ack{Err: err}
}

// retryFor is how long a batch whose publish failed is sent again (dedupWindow is a minute).
const retryFor = 40 * time.Second

// flush waits until every event queued before it is stored (or ctx ends).
func (b *batcher) flush(ctx context.Context) error {
	done := make(chan Ack, 1)
	if err := b.add(queued{done: done}); err != nil {
		return err
	}
	select {
	case a := <-done:
		return a.Err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// close flushes and stops the goroutines; later publishes fail.
func (b *batcher) close(ctx context.Context) {
	_ = b.flush(ctx)
	b.mu.Lock()
	if !b.closed {
		b.closed = true
		close(b.in)
	}
	b.mu.Unlock()
	select {
	case <-b.stopped:
	case <-ctx.Done():
	}
}

// compressedMagic starts a compressed batch: a byte no JSON text starts with, then "s2".
const compressedMagic = "\x00s2"

// Split calls fn with each event envelope of a stored message, in order: a message
// holds one envelope, or several separated by newlines (JSON encodes a newline inside a
// string as \n, so a raw newline only ever separates events), S2-compressed after
// compressedMagic. A compressed message that does not decode is an error.
func Split(data []byte, fn func(event []byte)) error {
	return splitInto(nil, data, fn)
}

// splitInto is Split decompressing into the arena's memory (a nil arena allocates).
func splitInto(a *Arena, data []byte, fn func(event []byte)) error {
	if len(data) >= len(compressedMagic) && string(data[:len(compressedMagic)]) == compressedMagic {
		src := data[len(compressedMagic):]
		n, err := s2.DecodedLen(src)
		if err != nil {
			return fmt.Errorf("events: compressed batch: %w", err)
		}
		plain, err := s2.Decode(a.room(n), src)
		if err != nil {
			return fmt.Errorf("events: compressed batch: %w", err)
		}
		data = plain
	}
	for len(data) > 0 {
		i := bytes.IndexByte(data, '\n')
		if i < 0 {
			fn(data)
			return nil
		}
		if i > 0 {
			fn(data[:i])
		}
		data = data[i+1:]
	}
	return nil
}
