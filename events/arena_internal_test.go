// arena_internal_test.go: a consumer's Arena holds a batch's decompressed messages and
// decoded events; reused batch after batch it costs no new memory, and it never mixes one
// batch's events with the next.
package events

import (
	"fmt"
	"testing"

	"github.com/klauspost/compress/s2"
)

// readLogIDs reads every event of batch the way the projections do and returns their
// log ids.
func readLogIDs(t *testing.T, batch []Msg) []string {
	t.Helper()
	var ids []string
	for _, m := range batch {
		f, err := m.Finished()
		if err != nil {
			t.Fatalf("seq %d: %v", m.Seq, err)
		}
		ids = append(ids, f.LogID)
	}
	return ids
}

func wantLogIDs(from, n int) []string {
	var ids []string
	for i := range n {
		ids = append(ids, fmt.Sprintf("01KBX%021d", from+i))
	}
	return ids
}

func TestArenaReusedBatchAfterBatch(t *testing.T) {
	small, large := benchMessage(t, 4), benchMessage(t, 64)
	var a Arena
	var batch []Msg

	// A batch whose second message does not fit the room the first left: the arena takes
	// new memory, and the first message's events still read as they were.
	batch = a.Expand(batch, 1, small)
	batch = a.Expand(batch, 2, large)
	got := readLogIDs(t, batch)
	if want := append(wantLogIDs(0, 4), wantLogIDs(0, 64)...); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("first batch read %v", got)
	}

	// The next batch reuses the memory: what the events decode to is theirs, not the
	// cached decode of the event that sat there before.
	a.Reset()
	other := benchMessageFrom(t, 1000, 4)
	batch = a.Expand(batch[:0], 3, other)
	if got := readLogIDs(t, batch); fmt.Sprint(got) != fmt.Sprint(wantLogIDs(1000, 4)) {
		t.Fatalf("second batch read %v, want the new events", got)
	}

	// Once grown to a batch's size, a batch costs no new memory.
	for range 3 {
		a.Reset()
		batch = a.Expand(batch[:0], 1, small)
		batch = a.Expand(batch, 2, large)
	}
	allocs := testing.AllocsPerRun(50, func() {
		a.Reset()
		batch = a.Expand(batch[:0], 1, small)
		batch = a.Expand(batch, 2, large)
	})
	if allocs != 0 {
		t.Errorf("%.1f allocations to expand a batch into a warm arena, want 0", allocs)
	}
	if len(batch) != 68 || !batch[0].Batched {
		t.Fatalf("%d events, batched %v", len(batch), batch[0].Batched)
	}

	// A batch of many messages, megabytes in all (streamed answers' bodies), costs no new
	// memory either once the arena has held one like it.
	var big [][]byte
	for i := range 15 {
		big = append(big, benchMessageFrom(t, i*64, 64)) // about 100 KB each
	}
	expandBig := func() {
		a.Reset()
		batch = batch[:0]
		for i, m := range big {
			batch = a.Expand(batch, uint64(i+1), m)
		}
	}
	expandBig()
	if got := readLogIDs(t, batch); fmt.Sprint(got) != fmt.Sprint(wantLogIDs(0, 15*64)) {
		t.Fatalf("batch of 15 messages read %d events", len(got))
	}
	if held(a.plain) < 1<<20 {
		t.Fatalf("test batch too small: %d bytes", held(a.plain))
	}
	if allocs := testing.AllocsPerRun(10, expandBig); allocs != 0 {
		t.Errorf("%.1f allocations to expand a %d-byte batch into a warm arena, want 0", allocs, held(a.plain))
	}

	// A burst's batch (a consumer catching up) is not kept once the next batch begins.
	burst := benchMessage(t, 2000)
	batch = a.Expand(batch[:0], 4, burst)
	if got := readLogIDs(t, batch); len(got) != 2000 || got[1999] != wantLogIDs(1999, 1)[0] {
		t.Fatalf("burst read %d events", len(got))
	}
	a.Reset()
	if held(a.plain) > arenaKeepBytes || held(a.decs) > arenaKeepEvents {
		t.Errorf("arena keeps %d bytes and %d events after a burst", held(a.plain), held(a.decs))
	}
}

// held is how many values the blocks hold, in use or not.
func held[T any](b blocks[T]) int {
	n := 0
	for _, blk := range b.list {
		n += cap(blk)
	}
	return n
}

// benchMessageFrom is benchMessage with log ids counted from first (stored compressed).
func benchMessageFrom(t *testing.T, first, n int) []byte {
	t.Helper()
	msg := benchMessage(t, first+n)
	var evs [][]byte
	if err := Split(msg, func(ev []byte) { evs = append(evs, ev) }); err != nil {
		t.Fatal(err)
	}
	joined := evs[first]
	for _, ev := range evs[first+1:] {
		joined = append(append(append([]byte(nil), joined...), '\n'), ev...)
	}
	return append([]byte(compressedMagic), s2.Encode(nil, joined)...)
}
