// analytics_memo_internal_test.go checks that the buckets an event adds to, when found
// from an earlier event of the same dimensions (Analytics.seen), are exactly the buckets
// rollupKeys names for it, including across flushes in the middle of a batch.
package storage

import (
	"reflect"
	"strconv"
	"testing"
	"time"

	"github.com/switchyard/switchyard/events"
)

func TestRollupMemoAddsToTheBucketsOfItsKeys(t *testing.T) {
	s, err := Open(Options{InMemory: true})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	a, err := NewAnalytics(s)
	if err != nil {
		t.Fatal(err)
	}

	base := time.Date(2026, 3, 1, 10, 59, 58, 0, time.UTC)
	metas := []events.Metadata{nil, {"team": "search"}, {"team": "ads"}, {"tier": 1.0}, {"tier": "1"}, {"team": "ads", "tier": 2.0}, {"": ""}}
	var batch []events.Msg
	want := map[string]*rollup{}
	for i := range 400 {
		at := base.Add(time.Duration(i%7) * 700 * time.Millisecond) // from 10:59:58: crosses a minute and an hour
		if i%50 == 49 {
			at = at.Add(24 * time.Hour)
		}
		model := []string{"gpt-4o", "gpt-4o-mini"}[i%2]
		f := events.RequestFinished{LogID: "log" + strconv.Itoa(i), AccountID: "acc", GatewayID: []string{"gw", "gw", "gw2"}[i%3],
			Provider: "openai", Model: model, Status: 200, Success: i%5 != 0, Cached: i%9 == 0, StartedAt: at,
			DurationMs: float64(10 + i), TokensIn: int64(i), TokensOut: 3, Metadata: metas[i%len(metas)]}
		b, err := events.Encode(events.TypeRequestFinished, events.VersionRequestFinished, f.LogID, at, f)
		if err != nil {
			t.Fatal(err)
		}
		batch = append(batch, events.Msg{Seq: uint64(i + 1), Data: b})
		r := eventRollup(f)
		for _, k := range rollupKeys(nil, f, at) {
			if want[k] == nil {
				want[k] = &rollup{}
			}
			want[k].add(r)
		}
	}
	for i := 0; i < len(batch); i += 64 {
		if i >= len(batch)/2 {
			a.maxDirty = 20 // flushes (and forgets what it has seen) part way through a batch
		}
		if err := a.Apply(batch[i:min(i+64, len(batch))]); err != nil {
			t.Fatal(err)
		}
	}
	if err := a.Flush(); err != nil {
		t.Fatal(err)
	}
	txn := s.db.NewTransaction(false)
	defer txn.Discard()
	for k, w := range want {
		got, err := readRollup(txn, []byte(k))
		if err != nil {
			t.Fatal(err)
		}
		if got.Hist == nil {
			got.Hist = []histBin{}
		}
		if w.Hist == nil {
			w.Hist = []histBin{}
		}
		if !reflect.DeepEqual(got, w) {
			t.Errorf("bucket %q: got %+v, want %+v", k, got, w)
		}
	}
}
