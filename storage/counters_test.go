// counters_test.go checks the counters projection: sums per limiter bucket, an event
// stored twice or delivered again counted once, buckets kept only while they can count
// (their Badger expiry) and ignored once past it, and a replay giving the same state.
package storage

import (
	"bytes"
	"fmt"
	"math/rand"
	"reflect"
	"testing"
	"time"

	"github.com/dgraph-io/badger/v4"
	"github.com/switchyard/switchyard/events"
)

func openCounters(tb testing.TB) (*Store, *Counters) {
	tb.Helper()
	s, err := Open(Options{InMemory: true})
	if err != nil {
		tb.Fatalf("open store: %v", err)
	}
	tb.Cleanup(func() {
		if err := s.Close(); err != nil {
			tb.Errorf("close store: %v", err)
		}
	})
	c, err := NewCounters(s)
	if err != nil {
		tb.Fatalf("new counters: %v", err)
	}
	return s, c
}

// usage builds a limiter event adding amount at time at, bucketed the way the limiter
// actors bucket it: the whole window when fixed, bucket seconds when sliding.
func usage(id string, cost, sliding bool, interval, bucket int64, at time.Time, amount float64, eventID string) events.LimitUsage {
	if !sliding {
		bucket = interval
	}
	w := time.Duration(bucket) * time.Second
	return events.LimitUsage{
		EventID: eventID, LimiterID: id, Key: "key/" + id, Cost: cost, Sliding: sliding,
		IntervalSeconds: interval, BucketStart: at.Truncate(w), BucketSeconds: bucket,
		Amount: amount, Limit: 100, At: at,
	}
}

func usageMsg(tb testing.TB, seq uint64, u events.LimitUsage) events.Msg {
	tb.Helper()
	t, v := events.TypeLimitConsumed, events.VersionLimitConsumed
	if u.Cost {
		t, v = events.TypeLimitCharged, events.VersionLimitCharged
	}
	b, err := events.Encode(t, v, u.EventID, u.At, u)
	if err != nil {
		tb.Fatal(err)
	}
	return events.Msg{Seq: seq, Data: b}
}

func buckets(tb testing.TB, c *Counters, id string, from time.Time) []events.LimitBucket {
	tb.Helper()
	got, err := c.Buckets(id, from)
	if err != nil {
		tb.Fatalf("buckets of %s: %v", id, err)
	}
	return got
}

// dumpCounters lists every bucket key with its value and expiry, in key order.
func dumpCounters(tb testing.TB, s *Store) []string {
	tb.Helper()
	var out []string
	err := s.db.View(func(txn *badger.Txn) error {
		opts := badger.DefaultIteratorOptions
		opts.Prefix = []byte(counterBucketPrefix)
		it := txn.NewIterator(opts)
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			v, err := it.Item().ValueCopy(nil)
			if err != nil {
				return err
			}
			out = append(out, fmt.Sprintf("%q=%x@%d", it.Item().Key(), v, it.Item().ExpiresAt()))
		}
		return nil
	})
	if err != nil {
		tb.Fatal(err)
	}
	return out
}

func lb(start time.Time, units int64) events.LimitBucket {
	return events.LimitBucket{Start: start, Units: units}
}

func TestCountersSums(t *testing.T) {
	// The start of the current 10-minute window: every bucket below is still live.
	now := time.Now().UTC().Truncate(10 * time.Minute)
	at := func(d time.Duration) time.Time { return now.Add(d) }
	s, p := openCounters(t)
	var seq uint64
	msg := func(u events.LimitUsage) events.Msg { seq++; return usageMsg(t, seq, u) }
	batch := []events.Msg{
		msg(usage("fixed", false, false, 600, 0, at(9*time.Minute), 1, "e1")),
		msg(usage("fixed", false, false, 600, 0, at(9*time.Minute+30*time.Second), 1, "e2")),
		msg(usage("fixed", false, false, 600, 0, at(11*time.Minute), 1, "e3")),
		msg(usage("sliding", true, true, 600, 10, at(time.Minute+time.Second), 0.25, "e4")),
		msg(usage("sliding", true, true, 600, 10, at(time.Minute+9*time.Second), 0.0000000001, "e5")),
		msg(usage("sliding", true, true, 600, 10, at(2*time.Minute), 1.5, "e6")),
		msg(usage("fixed\x00\x00", false, false, 600, 0, at(0), 1, "e7")),
	}
	if err := p.Apply(batch[:4]); err != nil {
		t.Fatal(err)
	}
	if err := p.Apply(batch[4:]); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		id   string
		from time.Time
		want []events.LimitBucket
	}{
		{"fixed windows", "fixed", time.Time{}, []events.LimitBucket{lb(at(0), 2), lb(at(10*time.Minute), 1)}},
		{"fixed from the second window", "fixed", at(time.Minute), []events.LimitBucket{lb(at(10*time.Minute), 1)}},
		{"sliding buckets in cost units", "sliding", time.Time{}, []events.LimitBucket{lb(at(time.Minute), 2500000001), lb(at(2*time.Minute), 15000000000)}},
		{"an id extending another is its own limiter", "fixed\x00\x00", time.Time{}, []events.LimitBucket{lb(at(0), 1)}},
		{"unknown limiter", "nobody", time.Time{}, nil},
		{"nothing after the last bucket", "sliding", at(2*time.Minute + time.Second), nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := buckets(t, p, tc.id, tc.from); !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("buckets = %v, want %v", got, tc.want)
			}
		})
	}
	if p.Applied() != seq {
		t.Fatalf("Applied() = %d, want %d", p.Applied(), seq)
	}
	if cp, err := s.Checkpoint(CountersProjection); err != nil || cp != seq {
		t.Fatalf("stored checkpoint %d (%v), want %d", cp, err, seq)
	}
	// a reopened projection starts from the stored checkpoint
	again, err := NewCounters(s)
	if err != nil || again.Applied() != seq {
		t.Fatalf("reopened at %d (%v), want %d", again.Applied(), err, seq)
	}
}

func TestCountersAppliesEachEventOnce(t *testing.T) {
	now := time.Now().UTC().Truncate(time.Minute)
	first := usage("lim", false, true, 60, 1, now, 1, "same-event")
	other := usage("lim", false, true, 60, 1, now, 1, "other-event")
	noID := usage("lim", false, true, 60, 1, now, 1, "")
	for _, tc := range []struct {
		name    string
		batches [][]events.Msg
		want    int64
	}{
		{"stored twice in one batch", [][]events.Msg{{usageMsg(t, 1, first), usageMsg(t, 2, first)}}, 1},
		{"stored twice in two batches", [][]events.Msg{{usageMsg(t, 1, first)}, {usageMsg(t, 2, first)}}, 1},
		{"a batch delivered again", [][]events.Msg{{usageMsg(t, 1, first), usageMsg(t, 2, other)}, {usageMsg(t, 1, first), usageMsg(t, 2, other)}}, 2},
		{"re-delivered with a new event after it", [][]events.Msg{{usageMsg(t, 1, first)}, {usageMsg(t, 1, first), usageMsg(t, 2, other)}}, 2},
		{"events without an id are not deduplicated", [][]events.Msg{{usageMsg(t, 1, noID), usageMsg(t, 2, noID)}}, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, p := openCounters(t)
			for _, b := range tc.batches {
				if err := p.Apply(b); err != nil {
					t.Fatal(err)
				}
			}
			got := buckets(t, p, "lim", time.Time{})
			if len(got) != 1 || got[0].Units != tc.want {
				t.Fatalf("buckets = %v, want one of %d", got, tc.want)
			}
		})
	}
}

func TestCountersExpiry(t *testing.T) {
	now := time.Now().UTC()
	s, p := openCounters(t)
	live := usage("live", false, true, 600, 10, now, 1, "live")
	// A fixed hourly window that ended two hours ago can count nowhere any more.
	old := usage("old", false, false, 3600, 0, now.Add(-3*time.Hour), 1, "old")
	batch := []events.Msg{usageMsg(t, 1, live), usageMsg(t, 2, old), {Seq: 3, Data: []byte(`not an event`)}}
	finished, err := events.Encode(events.TypeRequestFinished, 1, "f", now, events.RequestFinished{LogID: "f"})
	if err != nil {
		t.Fatal(err)
	}
	batch = append(batch, events.Msg{Seq: 4, Data: finished})
	if err := p.Apply(batch); err != nil {
		t.Fatal(err)
	}
	if p.Applied() != 4 {
		t.Fatalf("Applied() = %d: skipped events must still move the checkpoint", p.Applied())
	}
	if got := buckets(t, p, "old", time.Time{}); got != nil {
		t.Fatalf("an expired bucket was kept: %v", got)
	}
	dump := dumpCounters(t, s)
	if len(dump) != 1 {
		t.Fatalf("stored buckets %v, want the live one only", dump)
	}
	// The live bucket expires when it can no longer count: its end plus the interval
	// plus the margin.
	wantExpiry := live.BucketEnd().Add(600*time.Second + counterMargin).Unix()
	err = s.db.View(func(txn *badger.Txn) error {
		it, err := txn.Get(counterBucketKey("live", live.BucketStart))
		if err != nil {
			return err
		}
		if got := int64(it.ExpiresAt()); got != wantExpiry {
			return fmt.Errorf("expires at %d, want %d", got, wantExpiry)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	// A bucket already past its expiry in the store reads as absent.
	err = s.db.Update(func(txn *badger.Txn) error {
		e := badger.NewEntry(counterBucketKey("stale", now.Add(-time.Hour)), []byte{2})
		e.ExpiresAt = uint64(now.Add(-time.Minute).Unix())
		return txn.SetEntry(e)
	})
	if err != nil {
		t.Fatal(err)
	}
	if got := buckets(t, p, "stale", time.Time{}); got != nil {
		t.Fatalf("a bucket past its expiry was read: %v", got)
	}
}

func TestCountersReplayIsEqual(t *testing.T) {
	now := time.Now().UTC().Truncate(time.Minute)
	rng := rand.New(rand.NewSource(7))
	ids := []string{"a", "b", "c/with/slashes", "d"}
	var msgs []events.Msg
	for i := range 2000 {
		id := ids[rng.Intn(len(ids))]
		cost, sliding := id == "b" || id == "d", id != "a"
		amount := 1.0
		if cost {
			amount = float64(rng.Intn(100000)) / 1e7
		}
		at := now.Add(time.Duration(rng.Intn(1200)) * time.Second)
		u := usage(id, cost, sliding, 900, 15, at, amount, fmt.Sprintf("ev%d", i))
		msgs = append(msgs, usageMsg(t, uint64(len(msgs)+1), u))
		if rng.Intn(20) == 0 { // stored twice
			msgs = append(msgs, usageMsg(t, uint64(len(msgs)+1), u))
		}
	}
	sA, a := openCounters(t)
	for i := 0; i < len(msgs); i += 7 {
		if err := a.Apply(msgs[i:min(i+7, len(msgs))]); err != nil {
			t.Fatal(err)
		}
	}
	sB, b := openCounters(t)
	if err := b.Apply(msgs); err != nil {
		t.Fatal(err)
	}
	for _, id := range ids {
		if ga, gb := buckets(t, a, id, time.Time{}), buckets(t, b, id, time.Time{}); !reflect.DeepEqual(ga, gb) || len(ga) == 0 {
			t.Fatalf("limiter %s: batched %v, replayed %v", id, ga, gb)
		}
	}
	da, db := dumpCounters(t, sA), dumpCounters(t, sB)
	if !reflect.DeepEqual(da, db) {
		t.Fatalf("stores differ:\n%v\n%v", da, db)
	}
	if !bytes.Contains([]byte(fmt.Sprint(da)), []byte("c/with/slashes")) {
		t.Fatal("dump misses a limiter")
	}
}

func BenchmarkCountersApply(b *testing.B) {
	_, p := openCounters(b)
	now := time.Now().UTC()
	batch := make([]events.Msg, 512)
	var seq uint64
	b.ReportAllocs()
	for i := 0; i < b.N; i += len(batch) {
		for j := range batch {
			seq++
			u := usage(fmt.Sprintf("lim%d", seq%64), false, true, 600, 10, now, 1, fmt.Sprint("ev", seq))
			batch[j] = usageMsg(b, seq, u)
		}
		if err := p.Apply(batch); err != nil {
			b.Fatal(err)
		}
	}
}

// TestCountersCheckpointWithoutLimiterEvents: a batch with no limiter event writes
// nothing (the checkpoint waits for the next write, a second, or Flush), the position
// still moves, and a restart from the older checkpoint counts nothing twice.
func TestCountersCheckpointWithoutLimiterEvents(t *testing.T) {
	s, c := openCounters(t)
	now := time.Now().UTC().Truncate(time.Minute)
	if err := c.Apply([]events.Msg{usageMsg(t, 1, usage("lim", false, false, 60, 0, now, 2, "e1"))}); err != nil {
		t.Fatal(err)
	}
	finished, err := events.Encode(events.TypeRequestFinished, events.VersionRequestFinished, "L.request.finished", now,
		events.RequestFinished{LogID: "L", AccountID: "a", GatewayID: "g"})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Apply([]events.Msg{{Seq: 2, Data: finished}, {Seq: 3, Data: finished}}); err != nil {
		t.Fatal(err)
	}
	stored := func() uint64 {
		seq, err := s.Checkpoint(CountersProjection)
		if err != nil {
			t.Fatal(err)
		}
		return seq
	}
	if c.Applied() != 3 || stored() != 1 {
		t.Fatalf("applied %d, stored %d; want 3 and 1 (nothing written for request events)", c.Applied(), stored())
	}
	again, err := NewCounters(s) // a restart before the checkpoint was written
	if err != nil {
		t.Fatal(err)
	}
	if err := again.Apply([]events.Msg{{Seq: 2, Data: finished}, {Seq: 3, Data: finished}}); err != nil {
		t.Fatal(err)
	}
	if got := buckets(t, again, "lim", time.Time{}); len(got) != 1 || got[0].Units != 2 {
		t.Fatalf("after the restart: %v", got)
	}
	if err := again.Flush(); err != nil || stored() != 3 {
		t.Fatalf("flush: %v, stored %d, want 3", err, stored())
	}
	again.lastWrite = time.Now().Add(-counterCheckpointEvery) // a second later, the next batch writes it
	if err := again.Apply([]events.Msg{{Seq: 4, Data: finished}}); err != nil || stored() != 4 {
		t.Fatalf("apply: %v, stored %d, want 4", err, stored())
	}
}
