package events

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// deliveredMsg is a message as a consumer hands it over: its data and stream sequence.
type deliveredMsg struct {
	jetstream.Msg // not called: only Metadata and Data are
	seq           uint64
	data          []byte
}

func (m deliveredMsg) Metadata() (*jetstream.MsgMetadata, error) {
	return &jetstream.MsgMetadata{Sequence: jetstream.SequencePair{Stream: m.seq}}, nil
}
func (m deliveredMsg) Data() []byte                    { return m.data }
func (m deliveredMsg) Headers() nats.Header            { return nil }
func (m deliveredMsg) Subject() string                 { return SubjectPrefix + "x" }
func (m deliveredMsg) Ack() error                      { return nil }
func (m deliveredMsg) Term() error                     { return nil }
func (m deliveredMsg) InProgress() error               { return nil }
func (m deliveredMsg) Nak() error                      { return nil }
func (m deliveredMsg) Reply() string                   { return "" }
func (m deliveredMsg) DoubleAck(context.Context) error { return nil }

// A consumer that skips messages (seen once in a three-server cluster) must not cost the
// projections their events: appendInOrder reads what was skipped from the stream, leaves
// out what the stream no longer holds, and drops a message delivered twice.
func TestAppendInOrderFillsGaps(t *testing.T) {
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
	stored := map[uint64][]byte{}
	for i := 1; i <= 5; i++ {
		data := []byte(fmt.Sprintf(`{"type":"test.event","id":"e%d"}`, i))
		seq, err := bus.Publish(ctx, "test.event", fmt.Sprint("e", i), data)
		if err != nil {
			t.Fatal(err)
		}
		stored[seq] = data
	}
	if len(stored) != 5 {
		t.Fatalf("five events stored at %d sequences, want five", len(stored))
	}
	s, err := bus.js.Stream(ctx, RequestsStream)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteMsg(ctx, 3); err != nil { // gone from the stream: nothing to read
		t.Fatal(err)
	}

	// Sequence 1 arrives, then 5: 2 and 4 are read from the stream, 3 is left out.
	batch, next, err := bus.appendInOrder(ctx, nil, nil, 1, deliveredMsg{seq: 1, data: stored[1]})
	if err != nil || next != 2 {
		t.Fatalf("first message: next %d, err %v", next, err)
	}
	batch, next, err = bus.appendInOrder(ctx, nil, batch, next, deliveredMsg{seq: 5, data: stored[5]})
	if err != nil || next != 6 {
		t.Fatalf("message after a gap: next %d, err %v", next, err)
	}
	// Sequence 4 delivered again: already in the batch.
	batch, next, err = bus.appendInOrder(ctx, nil, batch, next, deliveredMsg{seq: 4, data: stored[4]})
	if err != nil || next != 6 {
		t.Fatalf("message delivered twice: next %d, err %v", next, err)
	}
	var seqs []uint64
	for _, m := range batch {
		seqs = append(seqs, m.Seq)
		if string(m.Data) != string(stored[m.Seq]) {
			t.Errorf("event at %d is %q, want %q", m.Seq, m.Data, stored[m.Seq])
		}
	}
	if fmt.Sprint(seqs) != "[1 2 4 5]" {
		t.Errorf("batch holds sequences %v, want [1 2 4 5]", seqs)
	}
}
