package storage

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/switchyard/switchyard/events"
)

// batchMessage encodes request.finished events for log ids as one batched message.
func batchMessage(t *testing.T, ids ...string) []byte {
	t.Helper()
	var out []byte
	for i, id := range ids {
		f := events.RequestFinished{LogID: id, AccountID: "acc", GatewayID: "gw", Provider: "openai", Model: "m",
			Status: 200, Success: true, StartedAt: time.Date(2026, 12, 4, 10, 0, i, 0, time.UTC)}
		b, err := events.Encode(events.TypeRequestFinished, events.VersionRequestFinished, id+".request.finished", f.StartedAt, f)
		if err != nil {
			t.Fatal(err)
		}
		if i > 0 {
			out = append(out, '\n')
		}
		out = append(out, b...)
	}
	return out
}

// A crash after a commit part way through a batched message makes the next start apply
// that message again: its records are found, not counted twice.
func TestRestartRedoesAPartlyCommittedMessageOnce(t *testing.T) {
	s, l := openInternal(t)
	msg := events.Expand(nil, 7, batchMessage(t, "01A", "01B", "01C"))
	if !msg[0].Batched {
		t.Fatal("a message of three events is not marked batched")
	}
	if err := l.Apply(msg); err != nil {
		t.Fatal(err)
	}
	// What a crash after a mid-message flush leaves: the records, the checkpoint before
	// the message.
	txn := s.db.NewTransaction(true)
	if err := putCheckpoint(txn, LogsProjection, 6); err != nil {
		t.Fatal(err)
	}
	if err := txn.Commit(); err != nil {
		t.Fatal(err)
	}
	again, err := NewLogs(s)
	if err != nil {
		t.Fatal(err)
	}
	if err := again.Apply(events.Expand(nil, 7, batchMessage(t, "01A", "01B", "01C"))); err != nil {
		t.Fatal(err)
	}
	recs, total, err := again.List(LogQuery{AccountID: "acc", GatewayID: "gw", PerPage: 10})
	if err != nil {
		t.Fatal(err)
	}
	if total != 3 || len(recs) != 3 {
		t.Errorf("after the redo: total %d, %d records; want 3", total, len(recs))
	}
	// Later batches are new events: they are added without a lookup.
	if err := again.Apply(events.Expand(nil, 8, batchMessage(t, "01D", "01E"))); err != nil {
		t.Fatal(err)
	}
	if _, total, _ := again.List(LogQuery{AccountID: "acc", GatewayID: "gw"}); total != 5 {
		t.Errorf("total %d, want 5", total)
	}
}

func BenchmarkLogsApplyBatched(b *testing.B) {
	// 8 events per batch is the consumer at c16 on this bench; 64 under heavier load.
	for _, per := range []int{8, 64} {
		b.Run(fmt.Sprintf("per-batch-%d", per), func(b *testing.B) {
			_, l := openInternal(b)
			t := &testing.T{}
			seq := uint64(0)
			b.ReportAllocs()
			for b.Loop() {
				seq++
				ids := make([]string, per)
				for i := range ids {
					ids[i] = fmt.Sprintf("01J%010d%03d", seq, i)
				}
				if err := l.Apply(events.Expand(nil, seq, batchMessage(t, ids...))); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*per), "ns/event")
		})
	}
}

// On disk, records sit in Badger's value log (they are over the value threshold); they
// read back whole after the store is closed and opened again.
func TestDiskStoreRecordsInValueLog(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(Options{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	l, err := NewLogs(s)
	if err != nil {
		t.Fatal(err)
	}
	ids := make([]string, 300)
	for i := range ids {
		ids[i] = fmt.Sprintf("01K%023d", i)
	}
	if err := l.Apply(events.Expand(nil, 1, batchMessage(t, ids...))); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s, err = Open(Options{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	l, err = NewLogs(s)
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{ids[0], ids[150], ids[299]} {
		r, err := l.Get("acc", "gw", id)
		if err != nil || r.ID != id || r.Provider != "openai" || r.StatusCode != 200 {
			t.Errorf("record %s after reopen: %+v, %v", id, r, err)
		}
	}
	if _, total, _ := l.List(LogQuery{AccountID: "acc", GatewayID: "gw"}); total != 300 {
		t.Errorf("total %d after reopen, want 300", total)
	}
}

// Apply hands its batch to Badger and returns: the records' checkpoint (WaitFor) moves
// once the write lands, Settle waits for it, and a failed write stops the projection:
// every Apply after it fails rather than build on records that are not there.
func TestApplyCommitsAsynchronously(t *testing.T) {
	_, l := openInternal(t)
	if err := l.Apply(events.Expand(nil, 1, batchMessage(t, "01A", "01B"))); err != nil {
		t.Fatal(err)
	}
	if l.Applied() != 1 {
		t.Fatalf("applied %d, want 1", l.Applied())
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := l.WaitFor(ctx, 1); err != nil {
		t.Fatal(err)
	}
	if err := l.Settle(); err != nil || l.records() != 1 {
		t.Fatalf("settle: %v, records' checkpoint %d", err, l.records())
	}
	if _, total, err := l.List(LogQuery{AccountID: "acc", GatewayID: "gw"}); err != nil || total != 2 {
		t.Fatalf("total %d (%v), want 2", total, err)
	}

	failed := make(chan error, 1) // what a commit that failed leaves
	failed <- errors.New("disk full")
	l.post.mu.Lock()
	l.inflight = failed
	l.post.mu.Unlock()
	for i := range 2 {
		err := l.Apply(events.Expand(nil, uint64(2+i), batchMessage(t, fmt.Sprintf("01C%d", i))))
		if err == nil || !strings.Contains(err.Error(), "disk full") {
			t.Fatalf("apply %d after a failed write: %v", i, err)
		}
	}
	if err := l.Settle(); err == nil {
		t.Fatal("Settle reports no error after a failed write")
	}
}
