package events_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/switchyard/switchyard/events"
)

// safety bounds waits that should end at once; it only stops a broken test.
const safety = 15 * time.Second

func ctxT(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), safety)
	t.Cleanup(cancel)
	return ctx
}

// startBus starts an embedded server over dir and connects to it; both are shut down
// when the test ends.
func startBus(t *testing.T, dir string) *events.Bus {
	t.Helper()
	emb, err := events.StartEmbedded(events.EmbeddedOptions{StoreDir: dir})
	if err != nil {
		t.Fatalf("start embedded: %v", err)
	}
	bus, err := events.Connect(ctxT(t), events.ConnectOptions{
		Embedded: emb, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err != nil {
		emb.Shutdown()
		t.Fatalf("connect: %v", err)
	}
	var once sync.Once
	stop := func() { once.Do(func() { bus.Close(); emb.Shutdown() }) }
	t.Cleanup(stop)
	return bus
}

var t0 = time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)

// event encodes the i-th request.finished event of a test; its message id is derived
// from the log id the way the request actor derives it.
func event(t *testing.T, i int) (string, []byte) {
	t.Helper()
	f := events.RequestFinished{
		LogID: fmt.Sprintf("LOG%06d", i), AccountID: "acc1", GatewayID: "gw1", Provider: "openai",
		Model: "gpt-4o", Method: "POST", Path: "/chat/completions", Status: 200, Success: true,
		StartedAt: t0.Add(time.Duration(i) * time.Millisecond), TokensIn: int64(i),
	}
	id := f.LogID + "." + string(events.TypeRequestFinished)
	b, err := events.Encode(events.TypeRequestFinished, events.VersionRequestFinished, id, f.StartedAt, f)
	if err != nil {
		t.Fatalf("encode: %v", err)
	}
	return id, b
}

// publishAsync appends events from..to (inclusive) asynchronously, then flushes.
func publishAsync(t *testing.T, bus *events.Bus, from, to int) [][]byte {
	t.Helper()
	var out [][]byte
	for i := from; i <= to; i++ {
		id, b := event(t, i)
		if err := bus.PublishAsync(events.TypeRequestFinished, id, b); err != nil {
			t.Fatalf("publish async %d: %v", i, err)
		}
		out = append(out, b)
	}
	if err := bus.Flush(ctxT(t)); err != nil {
		t.Fatalf("flush: %v", err)
	}
	return out
}

// publishSync appends events from..to (inclusive) one at a time, each waiting for its
// acknowledgement, so each is a message of its own: the i-th lands at sequence i on a new stream.
func publishSync(t *testing.T, bus *events.Bus, from, to int) [][]byte {
	t.Helper()
	var out [][]byte
	for i := from; i <= to; i++ {
		id, b := event(t, i)
		if _, err := bus.Publish(ctxT(t), events.TypeRequestFinished, id, b); err != nil {
			t.Fatalf("publish %d: %v", i, err)
		}
		out = append(out, b)
	}
	return out
}

// checkEvents checks that got holds exactly want, in order, with sequences that never go
// down (events batched in one message share its sequence).
func checkEvents(t *testing.T, got []events.Msg, want [][]byte) {
	t.Helper()
	if len(got) != len(want) {
		t.Errorf("got %d events, want %d", len(got), len(want))
	}
	for i := range min(len(got), len(want)) {
		if !bytes.Equal(got[i].Data, want[i]) {
			t.Fatalf("event %d = %s, want %s (dropped, repeated or out of order)", i, got[i].Data, want[i])
		}
		if i > 0 && got[i].Seq < got[i-1].Seq {
			t.Fatalf("event %d has seq %d after %d", i, got[i].Seq, got[i-1].Seq)
		}
	}
}

func lastSeq(t *testing.T, bus *events.Bus) uint64 {
	t.Helper()
	s, err := bus.LastSeq(ctxT(t))
	if err != nil {
		t.Fatalf("last seq: %v", err)
	}
	return s
}

// collector is a BatchHandler that keeps what it is given and signals when it has seen
// the sequence until.
type collector struct {
	mu      sync.Mutex
	msgs    []events.Msg
	batches int
	until   uint64
	done    chan struct{}
	once    sync.Once
}

func newCollector(until uint64) *collector {
	return &collector{until: until, done: make(chan struct{})}
}

func (c *collector) handle(batch []events.Msg) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.batches++
	for _, m := range batch {
		c.msgs = append(c.msgs, events.Msg{Seq: m.Seq, Data: append([]byte(nil), m.Data...)})
		if m.Seq >= c.until {
			c.once.Do(func() { close(c.done) })
		}
	}
	return nil
}

func (c *collector) got() []events.Msg {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]events.Msg(nil), c.msgs...)
}

// consume runs Consume until the handler has seen until (running during() once the
// consumer is started), then cancels it and checks it stopped cleanly.
func consume(t *testing.T, bus *events.Bus, name string, after, until uint64, during func()) []events.Msg {
	t.Helper()
	c := newCollector(until)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ret := make(chan error, 1)
	go func() { ret <- bus.Consume(ctx, name, after, c.handle) }()
	if during != nil {
		during()
	}
	select {
	case <-c.done:
	case err := <-ret:
		t.Fatalf("consume stopped early: %v (got %d events)", err, len(c.got()))
	case <-time.After(safety):
		t.Fatalf("consume: seq %d not reached; got %d events", until, len(c.got()))
	}
	cancel()
	select {
	case err := <-ret:
		if err != nil {
			t.Fatalf("consume returned %v after cancel, want nil", err)
		}
	case <-time.After(safety):
		t.Fatal("consume did not return after its context was cancelled")
	}
	return c.got()
}

func checkRun(t *testing.T, got []events.Msg, from, to uint64, want func(seq uint64) []byte) {
	t.Helper()
	if n := to - from + 1; uint64(len(got)) != n {
		t.Errorf("got %d events, want %d (seq %d..%d)", len(got), n, from, to)
	}
	for i, m := range got {
		if m.Seq != from+uint64(i) {
			t.Fatalf("event %d has seq %d, want %d (dropped, repeated or out of order)", i, m.Seq, from+uint64(i))
		}
		if w := want(m.Seq); w != nil && !bytes.Equal(m.Data, w) {
			t.Fatalf("seq %d data = %s, want %s", m.Seq, m.Data, w)
		}
	}
}

func TestConsumeResume(t *testing.T) {
	bus := startBus(t, t.TempDir())
	const n = 300
	sent := publishSync(t, bus, 1, n)
	if got := lastSeq(t, bus); got != n {
		t.Fatalf("last seq after %d publishes = %d", n, got)
	}
	byseq := func(seq uint64) []byte {
		if seq >= 1 && seq <= uint64(len(sent)) {
			return sent[seq-1]
		}
		return nil
	}

	cases := []struct {
		name  string
		after uint64
	}{
		{"from the start", 0},
		{"resume mid-stream", 120},
		{"resume behind the server-side consumer", 1},
		{"resume at the end", n - 1},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			// The same durable name every time: the caller's checkpoint, not the
			// server's consumer state, decides where delivery resumes.
			got := consume(t, bus, "logs-test", tc.after, n, nil)
			checkRun(t, got, tc.after+1, n, byseq)
		})
	}

	// Events appended while the consumer runs arrive after the backlog, once each.
	var extraSeq uint64
	got := consume(t, bus, "logs-test", n-5, n+1, func() {
		id, b := event(t, n+1)
		seq, err := bus.Publish(ctxT(t), events.TypeRequestFinished, id, b)
		if err != nil {
			t.Errorf("publish: %v", err)
		}
		sent = append(sent, b)
		extraSeq = seq
	})
	if extraSeq != n+1 {
		t.Fatalf("publish while consuming returned seq %d, want %d", extraSeq, n+1)
	}
	checkRun(t, got, n-4, n+1, byseq)
}

func TestConsumeHandlerErrorStops(t *testing.T) {
	bus := startBus(t, t.TempDir())
	publishAsync(t, bus, 1, 3)
	boom := errors.New("boom")
	ret := make(chan error, 1)
	go func() {
		ret <- bus.Consume(context.Background(), "failing", 0, func([]events.Msg) error { return boom })
	}()
	select {
	case err := <-ret:
		if !errors.Is(err, boom) {
			t.Fatalf("consume returned %v, want the handler's error", err)
		}
	case <-time.After(safety):
		t.Fatal("consume kept running after the handler failed")
	}
}

func TestPublishSync(t *testing.T) {
	bus := startBus(t, t.TempDir())
	publishSync(t, bus, 1, 10)
	cases := []struct {
		name    string
		i       int
		wantSeq uint64
	}{
		{"after async events", 11, 11},
		{"next", 12, 12},
		{"another new one", 13, 13},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			id, b := event(t, tc.i)
			seq, err := bus.Publish(ctxT(t), events.TypeRequestFinished, id, b)
			if err != nil {
				t.Fatalf("publish: %v", err)
			}
			if seq != tc.wantSeq {
				t.Errorf("publish returned seq %d, want %d", seq, tc.wantSeq)
			}
			stored, err := bus.EventAt(ctxT(t), seq)
			if err != nil || !bytes.Equal(stored, b) {
				t.Errorf("event at %d = %s, %v; want %s", seq, stored, err, b)
			}
		})
	}
	if got := lastSeq(t, bus); got != 13 {
		t.Errorf("last seq %d, want 13", got)
	}
}

func replay(t *testing.T, bus *events.Bus) (*collector, uint64) {
	t.Helper()
	c := newCollector(^uint64(0))
	type result struct {
		seq uint64
		err error
	}
	ret := make(chan result, 1)
	go func() {
		seq, err := bus.Replay(ctxT(t), c.handle)
		ret <- result{seq, err}
	}()
	select {
	case r := <-ret:
		if r.err != nil {
			t.Fatalf("replay: %v", r.err)
		}
		return c, r.seq
	case <-time.After(safety):
		t.Fatalf("replay did not finish; got %d events", len(c.got()))
	}
	return nil, 0
}

func TestReplay(t *testing.T) {
	cases := []struct {
		name string
		n    int
	}{
		{"empty stream", 0},
		{"one event", 1},
		{"one batch", 100},
		{"several batches", 1100},
		// More than two handler batches of 4096: the reader fills each batch buffer again
		// while the handler applies the other.
		{"three handler batches", 9000},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			bus := startBus(t, t.TempDir())
			var sent [][]byte
			if tc.n > 0 {
				sent = publishAsync(t, bus, 1, tc.n)
			}
			c, last := replay(t, bus)
			got := c.got()
			if tc.n == 0 {
				if c.batches != 0 || len(got) != 0 {
					t.Errorf("replay of an empty stream called the handler %d times", c.batches)
				}
				return
			}
			if last != lastSeq(t, bus) {
				t.Errorf("replay returned last seq %d, want the stream's %d", last, lastSeq(t, bus))
			}
			checkEvents(t, got, sent)
			// Replay twice gives the same events: it does not consume them.
			c2, last2 := replay(t, bus)
			if last2 != last || !reflect.DeepEqual(c2.got(), got) {
				t.Errorf("second replay differs: %d events up to %d", len(c2.got()), last2)
			}
		})
	}
}

func TestPayloadRoundTrip(t *testing.T) {
	bus := startBus(t, t.TempDir())
	big := make([]byte, 200<<10)
	if _, err := rand.Read(big); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		key  string
		body []byte
	}{
		{"200 KB body", "01JD0000000000000000000001/request", big},
		{"small body", "01JD0000000000000000000001/response", []byte(`{"ok":true}`)},
		{"empty body", "01JD0000000000000000000002/response", []byte{}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if err := bus.PutPayload(ctxT(t), tc.key, tc.body); err != nil {
				t.Fatalf("put: %v", err)
			}
			got, err := bus.GetPayload(ctxT(t), tc.key)
			if err != nil {
				t.Fatalf("get: %v", err)
			}
			if !bytes.Equal(got, tc.body) {
				t.Fatalf("got %d bytes back, want %d identical bytes", len(got), len(tc.body))
			}
		})
	}
	// The bodies are kept apart, and an overwrite replaces the body.
	if got, _ := bus.GetPayload(ctxT(t), "01JD0000000000000000000001/request"); !bytes.Equal(got, big) {
		t.Error("200 KB body changed after other puts")
	}
	if err := bus.PutPayload(ctxT(t), "01JD0000000000000000000001/response", []byte("v2")); err != nil {
		t.Fatal(err)
	}
	if got, _ := bus.GetPayload(ctxT(t), "01JD0000000000000000000001/response"); string(got) != "v2" {
		t.Errorf("after overwrite got %q", got)
	}
	if _, err := bus.GetPayload(ctxT(t), "missing"); err == nil {
		t.Error("get of a missing payload succeeded")
	}
}

func TestEventAt(t *testing.T) {
	bus := startBus(t, t.TempDir())
	sent := publishSync(t, bus, 1, 20)
	for _, seq := range []uint64{1, 2, 10, 20} {
		got, err := bus.EventAt(ctxT(t), seq)
		if err != nil {
			t.Fatalf("event at %d: %v", seq, err)
		}
		if !bytes.Equal(got, sent[seq-1]) {
			t.Errorf("event at %d = %s, want %s", seq, got, sent[seq-1])
		}
		env, err := events.Decode(got)
		if err != nil {
			t.Fatal(err)
		}
		f, err := events.DecodeRequestFinished(env)
		if err != nil || f.TokensIn != int64(seq) {
			t.Errorf("event at %d decodes to tokens_in %d (%v)", seq, f.TokensIn, err)
		}
	}
	for _, seq := range []uint64{21, 1000} {
		if got, err := bus.EventAt(ctxT(t), seq); err == nil {
			t.Errorf("event at %d (past the end) = %s, want an error", seq, got)
		}
	}
}

// The log survives a restart of the embedded server over the same directory.
func TestRestartKeepsEvents(t *testing.T) {
	dir := t.TempDir()
	emb, err := events.StartEmbedded(events.EmbeddedOptions{StoreDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	bus, err := events.Connect(ctxT(t), events.ConnectOptions{Embedded: emb})
	if err != nil {
		emb.Shutdown()
		t.Fatal(err)
	}
	sent := publishSync(t, bus, 1, 25)
	if err := bus.PutPayload(ctxT(t), "body", []byte("kept")); err != nil {
		t.Fatal(err)
	}
	bus.Close()
	emb.Shutdown()

	bus = startBus(t, dir)
	if got := lastSeq(t, bus); got != 25 {
		t.Fatalf("last seq after restart %d, want 25", got)
	}
	if got, err := bus.EventAt(ctxT(t), 7); err != nil || !bytes.Equal(got, sent[6]) {
		t.Errorf("event 7 after restart: %s, %v", got, err)
	}
	if got, err := bus.GetPayload(ctxT(t), "body"); err != nil || string(got) != "kept" {
		t.Errorf("payload after restart: %q, %v", got, err)
	}
	// Publishing goes on after the last sequence.
	id, b := event(t, 26)
	if seq, err := bus.Publish(ctxT(t), events.TypeRequestFinished, id, b); err != nil || seq != 26 {
		t.Errorf("publish after restart: seq %d, %v; want 26", seq, err)
	}
}

func TestConnectNeedsAServer(t *testing.T) {
	if _, err := events.Connect(context.Background(), events.ConnectOptions{}); err == nil {
		t.Fatal("connect with neither an embedded server nor a URL succeeded")
	}
}

func TestEncodeDecode(t *testing.T) {
	at := time.Date(2025, 3, 1, 13, 14, 15, 123456789, time.FixedZone("CET", 3600))
	fin := events.RequestFinished{
		LogID: "01JN0000000000000000000000", EventID: "01JN0000000000000000000001", AccountID: "acc1",
		GatewayID: "gw1", Provider: "workers-ai", Model: "@cf/meta/llama-3.1-8b-instruct", Method: "POST",
		Path: "/@cf/meta/llama-3.1-8b-instruct", RequestType: "chat", Step: 1, Status: 200, Success: true,
		Stream: true, Cached: true, StartedAt: t0, DurationMs: 12.5, TTFBMs: 3.25, TokensIn: 11,
		TokensOut: 22, RequestSize: 33, ResponseSize: 44, RequestCType: "application/json",
		ResponseCType: "text/event-stream", ErrorCode: 7, ErrorMessage: "quote \" backslash \\ <html> é 日本",
		RequestPayload:  &events.Payload{Inline: []byte("{\"a\":1}\x00\xff"), Size: 9},
		ResponsePayload: &events.Payload{Ref: "LOG.response", Size: 1 << 20, Truncated: true},
	}
	started := events.RequestStarted{
		LogID: "01JN0000000000000000000000", AccountID: "acc1", GatewayID: "gw1", Provider: "openai",
		Method: "POST", Path: "/chat/completions", RequestSize: 5, StartedAt: t0,
	}
	cases := []struct {
		name string
		typ  events.Type
		ver  int
		id   string
		data any
	}{
		{"finished", events.TypeRequestFinished, events.VersionRequestFinished, "01JN0000000000000000000000.request.finished", fin},
		{"finished, empty", events.TypeRequestFinished, events.VersionRequestFinished, "x", events.RequestFinished{}},
		{"started", events.TypeRequestStarted, events.VersionRequestStarted, "01JN0000000000000000000000.request.started", started},
		{"id needing escapes", events.TypeRequestFinished, events.VersionRequestFinished, `a"b\c/é`, fin},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			b, err := events.Encode(tc.typ, tc.ver, tc.id, at, tc.data)
			if err != nil {
				t.Fatalf("encode: %v", err)
			}
			env, err := events.Decode(b)
			if err != nil {
				t.Fatalf("decode %s: %v", b, err)
			}
			if env.Type != tc.typ || env.Version != tc.ver || env.ID != tc.id || !env.Time.Equal(at) {
				t.Errorf("envelope = %s v%d %q %v; want %s v%d %q %v", env.Type, env.Version, env.ID, env.Time, tc.typ, tc.ver, tc.id, at)
			}
			var got any
			switch tc.typ {
			case events.TypeRequestFinished:
				got, err = events.DecodeRequestFinished(env)
				if _, err2 := events.DecodeRequestStarted(env); err2 == nil {
					t.Error("a request.finished event decoded as request.started")
				}
			case events.TypeRequestStarted:
				got, err = events.DecodeRequestStarted(env)
				if _, err2 := events.DecodeRequestFinished(env); err2 == nil {
					t.Error("a request.started event decoded as request.finished")
				}
			}
			if err != nil {
				t.Fatalf("decode data: %v", err)
			}
			if !reflect.DeepEqual(got, tc.data) {
				t.Errorf("round trip:\n got %+v\nwant %+v", got, tc.data)
			}
		})
	}
}

func TestDecodeErrors(t *testing.T) {
	mk := func(typ events.Type, v int) events.Envelope {
		b, err := events.Encode(typ, v, "id", t0, map[string]any{"log_id": "L"})
		if err != nil {
			t.Fatal(err)
		}
		env, err := events.Decode(b)
		if err != nil {
			t.Fatal(err)
		}
		return env
	}
	cases := []struct {
		name string
		run  func() error
	}{
		{"finished v2", func() error { _, err := events.DecodeRequestFinished(mk(events.TypeRequestFinished, 2)); return err }},
		{"finished v0", func() error { _, err := events.DecodeRequestFinished(mk(events.TypeRequestFinished, 0)); return err }},
		{"started v2", func() error { _, err := events.DecodeRequestStarted(mk(events.TypeRequestStarted, 2)); return err }},
		{"finished of another type", func() error { _, err := events.DecodeRequestFinished(mk("request.other", 1)); return err }},
		{"finished with bad data", func() error {
			env, err := events.Decode([]byte(`{"type":"request.finished","v":1,"id":"x","data":[1,2]}`))
			if err != nil {
				return nil // must decode the envelope; fail below
			}
			_, err = events.DecodeRequestFinished(env)
			return err
		}},
		{"envelope not json", func() error { _, err := events.Decode([]byte("nope")); return err }},
		{"envelope empty", func() error { _, err := events.Decode(nil); return err }},
		{"encode of unencodable data", func() error {
			_, err := events.Encode(events.TypeRequestFinished, 1, "id", t0, make(chan int))
			return err
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if err := tc.run(); err == nil {
				t.Fatal("no error")
			}
		})
	}
	if _, err := events.DecodeRequestFinished(mk(events.TypeRequestFinished, 1)); err != nil {
		t.Errorf("known version rejected: %v", err)
	}
}

// Encode must produce an envelope Decode can read for any id string.
func TestEncodeIDWithControlCharacters(t *testing.T) {
	for _, id := range []string{"a\x01b", "del\x7f", "bad utf8 \xff", "tab\tnl\n"} {
		b, err := events.Encode(events.TypeRequestFinished, 1, id, t0, events.RequestFinished{LogID: "L"})
		if err != nil {
			t.Fatalf("encode %q: %v", id, err)
		}
		env, err := events.Decode(b)
		if err != nil {
			t.Errorf("id %q: envelope %s does not decode: %v", id, b, err)
			continue
		}
		if env.ID != id && id != "bad utf8 \xff" {
			t.Errorf("id %q came back as %q", id, env.ID)
		}
	}
}

// A replay stops when its context ends (switchyard replay runs under a signal context,
// so this is what makes Ctrl-C stop it).
func TestReplayStopsOnCancel(t *testing.T) {
	bus := startBus(t, t.TempDir())
	publishSync(t, bus, 1, 5000) // several handler batches
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	calls := 0
	ret := make(chan error, 1)
	go func() {
		_, err := bus.Replay(ctx, func([]events.Msg) error { calls++; cancel(); return nil })
		ret <- err
	}()
	select {
	case err := <-ret:
		if calls != 1 {
			t.Errorf("handler called %d times after the context was cancelled in the first call", calls)
		}
		if !errors.Is(err, context.Canceled) {
			t.Errorf("replay returned %v, want context.Canceled", err)
		}
	case <-time.After(safety):
		t.Fatal("replay did not return")
	}
}

// Closing the bus after a consumer stopped with a backlog still buffered must not hang.
func TestCloseAfterConsumerStoppedWithBacklog(t *testing.T) {
	emb, err := events.StartEmbedded(events.EmbeddedOptions{StoreDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer emb.Shutdown()
	bus, err := events.Connect(ctxT(t), events.ConnectOptions{Embedded: emb})
	if err != nil {
		t.Fatal(err)
	}
	publishAsync(t, bus, 1, 4000)
	boom := errors.New("projection failed")
	err = bus.Consume(context.Background(), "stopping", 0, func([]events.Msg) error {
		// Give the client time to buffer the backlog; only needed to reproduce the bug.
		time.Sleep(200 * time.Millisecond)
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("consume returned %v", err)
	}
	closed := make(chan struct{})
	go func() { bus.Close(); close(closed) }()
	select {
	case <-closed:
	case <-time.After(10 * time.Second):
		t.Fatal("Close still blocked 10 s after the consumer stopped")
	}
}

func TestRetentionDropsOldRequestEvents(t *testing.T) {
	emb, err := events.StartEmbedded(events.EmbeddedOptions{StoreDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer emb.Shutdown()
	bus, err := events.Connect(ctxT(t), events.ConnectOptions{Embedded: emb, Retention: time.Second,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	defer bus.Close()
	id, data := event(t, 1)
	seq, err := bus.Publish(ctxT(t), events.TypeRequestFinished, id, data)
	if err != nil {
		t.Fatal(err)
	}
	if err := bus.PutPayload(ctxT(t), "old/response", []byte("body")); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		_, evErr := bus.EventAt(ctxT(t), seq)
		_, plErr := bus.GetPayload(ctxT(t), "old/response")
		if evErr != nil && plErr != nil {
			return // both aged out
		}
		if time.Now().After(deadline) {
			t.Fatalf("after 30 s the event (err %v) or the payload (err %v) is still kept with a 1 s retention", evErr, plErr)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// Replay runs its ahead functions on each batch before the handler gets it: what they keep
// with an event (Msg.SetAhead) is there when the handler applies it.
func TestReplayPreparesAhead(t *testing.T) {
	bus := startBus(t, t.TempDir())
	sent := publishAsync(t, bus, 1, 5000)
	var mu sync.Mutex
	prepared, unprepared := 0, 0
	_, err := bus.Replay(ctxT(t), func(batch []events.Msg) error {
		mu.Lock()
		defer mu.Unlock()
		for _, m := range batch {
			if seq, ok := m.Ahead().(uint64); ok && seq == m.Seq {
				prepared++
			} else {
				unprepared++
			}
		}
		return nil
	}, func(batch []events.Msg) {
		for _, m := range batch {
			m.SetAhead(m.Seq)
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	if prepared != len(sent) || unprepared != 0 {
		t.Fatalf("%d events prepared, %d not, of %d", prepared, unprepared, len(sent))
	}
}

// The requests stream is written in blocks of at most 4 MB (nats-server's default for it
// is 8 MB): a block's cache is held in memory while it is written and read.
func TestRequestsStreamBlocksAreSmall(t *testing.T) {
	dir := t.TempDir()
	bus := startBus(t, dir)
	// About 12 MB stored: random hex does not compress below half.
	raw := make([]byte, 8<<10)
	for i := range 1500 {
		_, _ = rand.Read(raw)
		data := fmt.Appendf(nil, `{"type":"request.finished","v":1,"id":"b%d","data":{"x":"%x"}}`, i, raw)
		if err := bus.PublishAsync(events.TypeRequestFinished, fmt.Sprint(i), data); err != nil {
			t.Fatal(err)
		}
	}
	id, b := event(t, 1)
	if _, err := bus.Publish(ctxT(t), events.TypeRequestFinished, id, b); err != nil { // after the async ones
		t.Fatal(err)
	}
	blocks, err := filepath.Glob(filepath.Join(dir, "jetstream", "*", "streams", events.RequestsStream, "msgs", "*.blk"))
	if err != nil {
		t.Fatal(err)
	}
	if len(blocks) < 3 {
		t.Fatalf("%d blocks for about 12 MB, want at least 3 of at most 4 MB", len(blocks))
	}
	for _, f := range blocks {
		st, err := os.Stat(f)
		if err != nil {
			t.Fatal(err)
		}
		if st.Size() > 4<<20 {
			t.Errorf("block %s holds %d bytes, more than 4 MB", filepath.Base(f), st.Size())
		}
	}
}
