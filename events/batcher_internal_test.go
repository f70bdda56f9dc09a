package events

import (
	"context"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// A batch sent again after a lost acknowledgement (same message id) is stored once, so
// projections never see its events twice.
func TestRetriedBatchIsStoredOnce(t *testing.T) {
	emb, err := StartEmbedded(EmbeddedOptions{StoreDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer emb.Shutdown()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	bus, err := Connect(ctx, ConnectOptions{Embedded: emb})
	if err != nil {
		t.Fatal(err)
	}
	defer bus.Close()
	msg := nats.NewMsg(BatchSubject)
	msg.Data = []byte("{\"type\":\"x\"}\n{\"type\":\"y\"}")
	msg.Header.Set(jetstream.MsgIDHeader, "batch-1")
	first := bus.batches.retry(msg, nil)
	second := bus.batches.retry(msg, nil)
	if first.Err != nil || second.Err != nil {
		t.Fatalf("retries failed: %v, %v", first.Err, second.Err)
	}
	if first.Seq != second.Seq {
		t.Errorf("the same batch was stored at %d and again at %d", first.Seq, second.Seq)
	}
	if last, _ := bus.LastSeq(ctx); last != first.Seq {
		t.Errorf("last seq %d, want %d", last, first.Seq)
	}
}

// When JetStream stops answering and the queue fills, an asynchronous publish gives up
// after queueWait instead of stalling the request that made it.
func TestFullQueueDropsAsyncEvents(t *testing.T) {
	b := &batcher{in: make(chan queued, 1)} // nothing drains it
	if err := b.add(queued{data: []byte(`{}`)}); err != nil {
		t.Fatalf("first event: %v", err)
	}
	start := time.Now()
	if err := b.add(queued{data: []byte(`{}`)}); err != errQueueFull {
		t.Fatalf("second event into a full queue: %v, want errQueueFull", err)
	}
	if waited := time.Since(start); waited < queueWait {
		t.Errorf("gave up after %s, want a wait of %s for room", waited, queueWait)
	}
}
