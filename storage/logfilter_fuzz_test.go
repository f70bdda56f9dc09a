// logfilter_fuzz_test.go fuzzes the log filters a control-API client sends (key, operator,
// value) against a small store: a query answers or refuses, never panics or hangs.
package storage

import (
	"errors"
	"math/rand"
	"testing"
	"time"

	"github.com/oklog/ulid/v2"
	"github.com/switchyard/switchyard/events"
)

func FuzzLogFilters(f *testing.F) {
	_, l := openInternal(f)
	rng := rand.New(rand.NewSource(4))
	start := time.Date(2026, 12, 4, 10, 0, 0, 0, time.UTC)
	var batch []events.Msg
	var evs []string
	for i := 0; i < 20; i++ {
		at := start.Add(time.Duration(i/2) * time.Millisecond)
		m := finishedAt(f, uint64(i+1), ulid.MustNew(ulid.Timestamp(at), rng).String(), "gw", "openai", i%3 != 0, at)
		fin, err := m.Finished()
		if err != nil {
			f.Fatal(err)
		}
		fin.EventID = ulid.MustNew(ulid.Timestamp(at), rng).String()
		evs = append(evs, fin.EventID)
		b, err := events.Encode(events.TypeRequestFinished, events.VersionRequestFinished, fin.LogID+".request.finished", at, fin)
		if err != nil {
			f.Fatal(err)
		}
		batch = append(batch, events.Msg{Seq: m.Seq, Data: b})
	}
	if err := l.Apply(batch); err != nil {
		f.Fatal(err)
	}
	f.Add("event_id", "eq", evs[3])
	f.Add("event_id", "eq", "01JF0000000000000000000000")
	f.Add("event_id", "eq", "7ZZZZZZZZZZZZZZZZZZZZZZZZZ")
	f.Add("event_id", "neq", evs[3])
	f.Add("id", "eq", "not-an-id")
	f.Add("created_at", "gt", "2026-12-04T10:00:00Z")
	f.Add("cost", "lt", "NaN")
	f.Add("metadata.value", "contains", "")
	f.Fuzz(func(t *testing.T, key, op, value string) {
		recs, total, err := l.List(LogQuery{AccountID: "acc", GatewayID: "gw", PerPage: 50,
			Filters: []events.LogFilter{{Key: key, Operator: op, Values: []string{value}}}})
		var fe *FilterError
		if err != nil && !errors.As(err, &fe) {
			t.Fatalf("%s %s %q: %v", key, op, value, err)
		}
		if err == nil && (total < len(recs) || len(recs) > 20) {
			t.Fatalf("%s %s %q: %d records, total %d", key, op, value, len(recs), total)
		}
		if err == nil && key == "event_id" && op == OpEq {
			for _, r := range recs {
				if r.EventID != value {
					t.Fatalf("event_id eq %q returned the log of event %q", value, r.EventID)
				}
			}
		}
	})
}
