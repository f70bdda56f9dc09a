package events_test

import (
	"context"
	"fmt"
	"reflect"
	"sync"
	"testing"

	"github.com/switchyard/switchyard/events"
)

// Events published together travel in few messages; every event still arrives once, in
// order, and events of one message share its sequence.
func TestAsyncEventsAreBatched(t *testing.T) {
	bus := startBus(t, t.TempDir())
	const n = 2000
	sent := publishAsync(t, bus, 1, n)
	last := lastSeq(t, bus)
	if last >= n/4 {
		t.Errorf("%d async events took %d messages; want them batched into far fewer", n, last)
	}
	got := consume(t, bus, "batched", 0, last, nil)
	checkEvents(t, got, sent)
	c, _ := replay(t, bus)
	checkEvents(t, c.got(), sent)
	// Each stored message splits into the events delivered with its sequence.
	bySeq := map[uint64][][]byte{}
	for _, m := range got {
		bySeq[m.Seq] = append(bySeq[m.Seq], m.Data)
	}
	for seq, want := range bySeq {
		raw, err := bus.EventAt(ctxT(t), seq)
		if err != nil {
			t.Fatalf("event at %d: %v", seq, err)
		}
		var split [][]byte
		if err := events.Split(raw, func(ev []byte) { split = append(split, ev) }); err != nil {
			t.Fatalf("split message %d: %v", seq, err)
		}
		if !reflect.DeepEqual(split, want) {
			t.Fatalf("message %d splits into %d events, want %d", seq, len(split), len(want))
		}
	}
}

// Durable publishes from many goroutines each learn the sequence of the message holding
// their event, and each event is found there.
func TestConcurrentPublishReturnsItsMessage(t *testing.T) {
	bus := startBus(t, t.TempDir())
	const n = 200
	seqs := make([]uint64, n+1)
	var wg sync.WaitGroup
	for i := 1; i <= n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			id, b := event(t, i)
			seq, err := bus.Publish(ctxT(t), events.TypeRequestFinished, id, b)
			if err != nil {
				t.Errorf("publish %d: %v", i, err)
			}
			seqs[i] = seq
		}()
	}
	wg.Wait()
	for i := 1; i <= n; i++ {
		raw, err := bus.EventAt(ctxT(t), seqs[i])
		if err != nil {
			t.Fatalf("event at %d: %v", seqs[i], err)
		}
		logID := fmt.Sprintf("LOG%06d", i)
		f, ok := events.FindFinished(raw, logID)
		if !ok || f.TokensIn != int64(i) {
			t.Errorf("request.finished of %s not in message %d", logID, seqs[i])
		}
	}
}

func TestPublishAfterCloseFails(t *testing.T) {
	bus := startBus(t, t.TempDir())
	publishAsync(t, bus, 1, 3)
	bus.Close()
	id, b := event(t, 4)
	if err := bus.PublishAsync(events.TypeRequestFinished, id, b); err == nil {
		t.Error("publish after close: no error")
	}
	if err := bus.Flush(context.Background()); err == nil {
		t.Error("flush after close: no error")
	}
}

func TestSplit(t *testing.T) {
	cases := []struct {
		name string
		in   string
		want []string
	}{
		{"empty", "", nil},
		{"one event", `{"a":1}`, []string{`{"a":1}`}},
		{"two events", "{\"a\":1}\n{\"b\":2}", []string{`{"a":1}`, `{"b":2}`}},
		{"escaped newline stays inside", "{\"a\":\"x\\ny\"}\n{\"b\":2}", []string{`{"a":"x\ny"}`, `{"b":2}`}},
		{"blank lines skipped", "\n{\"a\":1}\n\n{\"b\":2}\n", []string{`{"a":1}`, `{"b":2}`}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var got []string
			if err := events.Split([]byte(tc.in), func(ev []byte) { got = append(got, string(ev)) }); err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("Split(%q) = %q, want %q", tc.in, got, tc.want)
			}
		})
	}
	// A compressed batch that does not decode is an error, not a silent empty message.
	if err := events.Split([]byte("\x00s2 not s2 at all"), func([]byte) { t.Error("event from a corrupt batch") }); err == nil {
		t.Error("corrupt compressed batch: no error")
	}
}

// Large batches are stored compressed: the stored message is much smaller than its events.
func TestBatchesAreCompressed(t *testing.T) {
	bus := startBus(t, t.TempDir())
	sent := publishAsync(t, bus, 1, 500)
	plain, stored := 0, 0
	for _, b := range sent {
		plain += len(b) + 1
	}
	for seq := uint64(1); seq <= lastSeq(t, bus); seq++ {
		raw, err := bus.EventAt(ctxT(t), seq)
		if err != nil {
			t.Fatal(err)
		}
		stored += len(raw)
	}
	if stored*2 > plain {
		t.Errorf("500 events stored in %d bytes for %d bytes of JSON; want them compressed", stored, plain)
	}
}

func TestWhole(t *testing.T) {
	batch := func(seqs ...uint64) []events.Msg {
		out := make([]events.Msg, len(seqs))
		for i, s := range seqs {
			out[i] = events.Msg{Seq: s}
		}
		return out
	}
	cases := []struct {
		name  string
		batch []events.Msg
		n     int
		want  int
	}{
		{"all fit", batch(1, 2, 3), 5, 3},
		{"cut between messages", batch(1, 2, 3), 2, 2},
		{"cut moved back to a message's start", batch(1, 2, 2, 2, 3), 3, 1},
		{"first message longer than n", batch(4, 4, 4, 5), 2, 3},
		{"one message only", batch(4, 4, 4), 1, 3},
		{"n of zero still makes progress", batch(1, 2), 0, 1},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := events.Whole(tc.batch, tc.n); got != tc.want {
				t.Errorf("Whole(n=%d) = %d, want %d", tc.n, got, tc.want)
			}
		})
	}
}

// FuzzSplit: any bytes split without a panic, into pieces with no newline, that are the
// input's non-empty lines.
func FuzzSplit(f *testing.F) {
	f.Add([]byte("{\"a\":1}\n{\"b\":2}"))
	f.Add([]byte("\n\n"))
	f.Add([]byte("\x00s2\x01\x00"))
	f.Fuzz(func(t *testing.T, in []byte) {
		total := 0
		err := events.Split(in, func(ev []byte) {
			if len(ev) == 0 {
				t.Fatal("empty piece")
			}
			for _, c := range ev {
				if c == '\n' {
					t.Fatal("piece holds a newline")
				}
			}
			total += len(ev)
		})
		if len(in) >= 3 && string(in[:3]) == "\x00s2" {
			return // compressed: decoded or refused (err), never a panic
		}
		if err != nil {
			t.Fatalf("plain input refused: %v", err)
		}
		nl := 0
		for _, c := range in {
			if c == '\n' {
				nl++
			}
		}
		if total != len(in)-nl {
			t.Fatalf("pieces hold %d bytes of %d non-newline bytes", total, len(in)-nl)
		}
	})
}

// Projections read a request.finished event without its bodies; everything else is there.
func TestFinishedWithoutBodies(t *testing.T) {
	f := events.RequestFinished{LogID: "L1", AccountID: "a", GatewayID: "g", Provider: "openai", Status: 200, TokensIn: 7,
		RequestPayload:  events.InlinePayload([]byte(`{"model":"m"}`), 13, false),
		ResponsePayload: events.InlinePayload([]byte("data: {\"x\":1}\n\n"), 15, false),
		Metadata:        events.Metadata{"team": "a"}}
	b, err := events.Encode(events.TypeRequestFinished, events.VersionRequestFinished, "L1.request.finished", t0, f)
	if err != nil {
		t.Fatal(err)
	}
	batch := events.Expand(nil, 1, b)
	got, err := batch[0].Finished()
	if err != nil {
		t.Fatal(err)
	}
	want := f
	want.RequestPayload, want.ResponsePayload = nil, nil
	want.StartedAt = got.StartedAt
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %+v\nwant %+v", got, want)
	}
	full, ok := events.FindFinished(b, "L1")
	if !ok || full.ResponsePayload == nil || string(full.ResponsePayload.Body()) != "data: {\"x\":1}\n\n" {
		t.Errorf("FindFinished lost the bodies: %+v", full.ResponsePayload)
	}
}

// An event handed over as a value is stored exactly as Encode writes it.
func TestPublishEventAsyncEncodes(t *testing.T) {
	bus := startBus(t, t.TempDir())
	var want [][]byte
	for i := 1; i <= 50; i++ {
		f := events.RequestFinished{LogID: fmt.Sprintf("LOG%06d", i), AccountID: "acc1", GatewayID: "gw1", Status: 200}
		id := f.LogID + ".request.finished"
		b, err := events.Encode(events.TypeRequestFinished, events.VersionRequestFinished, id, t0, f)
		if err != nil {
			t.Fatal(err)
		}
		want = append(want, b)
		if err := bus.PublishEventAsync(events.TypeRequestFinished, events.VersionRequestFinished, id, t0, f); err != nil {
			t.Fatal(err)
		}
	}
	// A value that cannot be encoded is dropped (and logged), not stored half-written.
	if err := bus.PublishEventAsync(events.TypeRequestFinished, 1, "bad", t0, map[string]any{"f": func() {}}); err != nil {
		t.Fatal(err)
	}
	if err := bus.Flush(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	c, _ := replay(t, bus)
	checkEvents(t, c.got(), want)
}
