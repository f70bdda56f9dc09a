// export_test.go checks the exporters' shared position: forward only, kept across a
// restart, and placed at the log's end only on the very first start.
package export

import (
	"testing"

	"github.com/switchyard/switchyard/storage"
)

func TestPosition(t *testing.T) {
	store, err := storage.Open(storage.Options{InMemory: true})
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	p, err := OpenPosition(store, "x")
	if err != nil {
		t.Fatal(err)
	}
	// First start on an empty log: stays at 0, and a restart must not skip ahead.
	if err := p.StartAt(0); err != nil || p.Applied() != 0 {
		t.Fatalf("first start: %d %v", p.Applied(), err)
	}
	q, _ := OpenPosition(store, "x")
	if err := q.StartAt(10); err != nil || q.Applied() != 0 {
		t.Fatalf("restart moved to %d: %v", q.Applied(), err)
	}
	if err := q.Advance(7); err != nil || q.Advance(3) != nil || q.Applied() != 7 {
		t.Fatalf("advance: %d", q.Applied())
	}
	if r, _ := OpenPosition(store, "x"); r.Applied() != 7 {
		t.Fatalf("kept position %d", r.Applied())
	}
	// A store where it never ran: placed at the log's end.
	fresh, _ := OpenPosition(store, "y")
	if err := fresh.StartAt(10); err != nil || fresh.Applied() != 10 {
		t.Fatalf("first start at the end: %d %v", fresh.Applied(), err)
	}
}
