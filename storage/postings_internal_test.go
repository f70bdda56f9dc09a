// postings_internal_test.go checks the logs projection's posting lists (one key per value and
// second, stale entries never returned, restarts) and the upgrades of older store layouts.
package storage

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"log/slog"
	"math/rand"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/dgraph-io/badger/v4"
	json "github.com/goccy/go-json"
	"github.com/oklog/ulid/v2"
	"github.com/switchyard/switchyard/events"
)

// keysUnder counts the store's keys under each of the prefixes.
func keysUnder(t *testing.T, s *Store, prefixes ...string) map[string]int {
	t.Helper()
	out := map[string]int{}
	err := s.db.View(func(txn *badger.Txn) error {
		for _, pre := range prefixes {
			opts := badger.DefaultIteratorOptions
			opts.PrefetchValues = false
			opts.Prefix = []byte(pre)
			it := txn.NewIterator(opts)
			for it.Rewind(); it.Valid(); it.Next() {
				out[pre]++
			}
			it.Close()
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// finishedAt is a request.finished event of gateway gw at time at, as one message.
func finishedAt(t testing.TB, seq uint64, id, gw, provider string, success bool, at time.Time) events.Msg {
	t.Helper()
	f := events.RequestFinished{LogID: id, AccountID: "acc", GatewayID: gw, Provider: provider, Model: "m",
		Status: 200, Success: success, StartedAt: at, EventID: "ev-" + id}
	b, err := events.Encode(events.TypeRequestFinished, events.VersionRequestFinished, id+".request.finished", at, f)
	if err != nil {
		t.Fatal(err)
	}
	return events.Msg{Seq: seq, Data: b}
}

func openInternal(tb testing.TB) (*Store, *Logs) {
	tb.Helper()
	s, err := Open(Options{InMemory: true})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { s.Close() })
	l, err := NewLogs(s)
	if err != nil {
		tb.Fatal(err)
	}
	return s, l
}

func total(t *testing.T, l *Logs, q LogQuery) int {
	t.Helper()
	_, n, err := l.List(q)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// A thousand requests in a few seconds add one key each (the record, its facts in front),
// not one per indexed value: the posting lists are one key per value and second.
func TestPostingListsAreOneKeyPerValueAndSecond(t *testing.T) {
	s, l := openInternal(t)
	rng := rand.New(rand.NewSource(1))
	start := time.Date(2026, 12, 4, 10, 0, 0, 0, time.UTC)
	var batch []events.Msg
	for i := 0; i < 1000; i++ {
		at := start.Add(time.Duration(i) * 4 * time.Millisecond) // 4 seconds
		batch = append(batch, finishedAt(t, uint64(i+1), ulid.MustNew(ulid.Timestamp(at), rng).String(), "gw",
			[]string{"openai", "anthropic"}[i%2], i%10 != 0, at))
	}
	if err := l.Apply(batch); err != nil {
		t.Fatal(err)
	}
	if err := l.flushPostings(); err != nil {
		t.Fatal(err)
	}
	n := keysUnder(t, s, "r"+sep, "f"+sep, "p"+sep, "x"+sep)
	if n["r"+sep] != 1000 || n["f"+sep] != 0 || n["x"+sep] != 0 {
		t.Fatalf("keys %v, want 1000 records, no facts key, no per-record index key", n)
	}
	// provider ×2, model, success ×2, cached, feedback, rtype over 4 seconds, and the
	// 1000 distinct event ids (one list each).
	if p := n["p"+sep]; p > 9*4+1000 {
		t.Errorf("%d posting keys for 1000 records in 4 seconds", p)
	}
	q := LogQuery{AccountID: "acc", GatewayID: "gw"}
	for _, c := range []struct {
		name string
		q    func(LogQuery) LogQuery
		want int
	}{
		{"provider", func(q LogQuery) LogQuery { q.Provider = "openai"; return q }, 500},
		{"failed", func(q LogQuery) LogQuery { f := false; q.Success = &f; return q }, 100},
		{"failed openai", func(q LogQuery) LogQuery { f := false; q.Success = &f; q.Provider = "openai"; return q }, 100},
		{"failed anthropic", func(q LogQuery) LogQuery { f := false; q.Success = &f; q.Provider = "anthropic"; return q }, 0},
		{"second two", func(q LogQuery) LogQuery {
			q.Provider, q.Since, q.Until = "anthropic", start.Add(2*time.Second), start.Add(2999*time.Millisecond)
			return q
		}, 125},
	} {
		if got := total(t, l, c.q(q)); got != c.want {
			t.Errorf("%s: total %d, want %d", c.name, got, c.want)
		}
	}
}

// The posting lists trail the records by up to a second: after a restart that lost the
// ones in memory, the projection resumes from their checkpoint and re-adds them.
func TestRestartReAddsPostingListsNotWritten(t *testing.T) {
	s, l := openInternal(t)
	start := time.Date(2026, 12, 4, 10, 0, 0, 0, time.UTC)
	rng := rand.New(rand.NewSource(2))
	var batch []events.Msg
	for i := 0; i < 50; i++ {
		at := start.Add(time.Duration(i) * time.Millisecond)
		batch = append(batch, finishedAt(t, uint64(i+1), ulid.MustNew(ulid.Timestamp(at), rng).String(), "gw", "openai", true, at))
	}
	if err := l.Apply(batch); err != nil {
		t.Fatal(err)
	}
	// A crash now: the records are written, the posting lists are not (not due yet).
	again, err := NewLogs(s)
	if err != nil {
		t.Fatal(err)
	}
	if got := again.Applied(); got != 0 {
		t.Fatalf("Applied() after the restart = %d, want 0 (the posting lists' checkpoint)", got)
	}
	if got := again.records(); got != 50 {
		t.Fatalf("records' checkpoint %d, want 50", got)
	}
	if err := again.Apply(batch); err != nil { // what the consumer delivers again
		t.Fatal(err)
	}
	if got := total(t, again, LogQuery{AccountID: "acc", GatewayID: "gw", Provider: "openai"}); got != 50 {
		t.Errorf("provider filter finds %d records after the restart, want 50", got)
	}
	if got := total(t, again, LogQuery{AccountID: "acc", GatewayID: "gw"}); got != 50 {
		t.Errorf("%d records after the redo, want 50 (none counted twice)", got)
	}
	if got := again.Applied(); got != 50 {
		t.Errorf("Applied() = %d, want 50", got)
	}
}

// DELETE_OLDEST drops the posting lists of the seconds it emptied, so a gateway at its
// limit does not grow its lists for ever.
func TestDeleteOldestPrunesPostingLists(t *testing.T) {
	s, l := openInternal(t)
	l.Limits = func(string, string) (int64, string) { return 20, StrategyDeleteOldest }
	start := time.Date(2026, 12, 4, 10, 0, 0, 0, time.UTC)
	rng := rand.New(rand.NewSource(3))
	for i := 0; i < 400; i++ {
		at := start.Add(time.Duration(i) * 250 * time.Millisecond) // 100 seconds
		m := finishedAt(t, uint64(i+1), ulid.MustNew(ulid.Timestamp(at), rng).String(), "gw", "openai", true, at)
		if err := l.Apply([]events.Msg{m}); err != nil {
			t.Fatal(err)
		}
		if i%7 == 0 {
			if err := l.flushPostings(); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := l.flushPostings(); err != nil {
		t.Fatal(err)
	}
	// 20 records span 5 seconds: 6 lists of each of the 7 shared values at most, plus
	// one list per event id left.
	if p := keysUnder(t, s, postingPrefix("acc", "gw", "provider", "openai"))[postingPrefix("acc", "gw", "provider", "openai")]; p > 12 {
		t.Errorf("%d posting lists for provider openai with 20 records over 5 seconds", p)
	}
	if got := total(t, l, LogQuery{AccountID: "acc", GatewayID: "gw", Provider: "openai"}); got != 20 {
		t.Errorf("provider filter finds %d, want 20", got)
	}
}

// thirtyRequests is a store holding 30 requests of gateway gw a second apart, to openai,
// groq and mistral in turn, the i-th successful when success(i).
func thirtyRequests(t *testing.T, seed int64, success func(i int) bool) (*Store, *Logs) {
	t.Helper()
	s, l := openInternal(t)
	start := time.Date(2026, 12, 4, 10, 0, 0, 0, time.UTC)
	rng := rand.New(rand.NewSource(seed))
	var batch []events.Msg
	for i := 0; i < 30; i++ {
		at := start.Add(time.Duration(i) * time.Second)
		batch = append(batch, finishedAt(t, uint64(i+1), ulid.MustNew(ulid.Timestamp(at), rng).String(), "gw",
			[]string{"openai", "groq", "mistral"}[i%3], success(i), at))
	}
	if err := l.Apply(batch); err != nil {
		t.Fatal(err)
	}
	return s, l
}

// A store of layout 2 (an index key per record and value) is upgraded when opened: its
// index keys are dropped and its posting lists built from the records.
func TestUpgradeFromIndexKeys(t *testing.T) {
	s, _ := thirtyRequests(t, 4, func(int) bool { return true })
	// Make it look like layout 2: no posting lists, an index key per record, version 2.
	if err := s.db.DropPrefix([]byte("p" + sep)); err != nil {
		t.Fatal(err)
	}
	err := s.db.Update(func(txn *badger.Txn) error {
		for i := 0; i < 30; i++ {
			k := fmt.Sprintf("x%sacc%sgw%sprovider%sopenai%s%02d", sep, sep, sep, sep, sep, i)
			if err := txn.Set([]byte(k), nil); err != nil {
				return err
			}
		}
		if err := txn.Delete(checkpointKey(PostingsProjection)); err != nil {
			return err
		}
		return txn.Set(layoutKey, u64(2))
	})
	if err != nil {
		t.Fatal(err)
	}
	up, err := NewLogs(s)
	if err != nil {
		t.Fatal(err)
	}
	if n := keysUnder(t, s, "x"+sep)["x"+sep]; n != 0 {
		t.Errorf("%d index keys of layout 2 left", n)
	}
	if got := total(t, up, LogQuery{AccountID: "acc", GatewayID: "gw", Provider: "groq"}); got != 10 {
		t.Errorf("provider filter after the upgrade finds %d, want 10", got)
	}
	if got := up.Applied(); got != 30 {
		t.Errorf("Applied() after the upgrade = %d, want 30", got)
	}
}

// A store of layout 3 (each record's facts a key of its own, the record compressed
// without them) answers filters before its upgrade and is upgraded when opened: every
// record is written again with its facts in front and the facts keys are dropped, the
// records unchanged.
func TestUpgradeMovesFactsIntoRecords(t *testing.T) {
	s, l := thirtyRequests(t, 6, func(i int) bool { return i%5 != 0 })
	if err := l.flushPostings(); err != nil {
		t.Fatal(err)
	}
	before, err := l.Dump()
	if err != nil {
		t.Fatal(err)
	}
	// Make it look like layout 3: records compressed without facts, a facts key each.
	err = s.db.Update(func(txn *badger.Txn) error {
		for i := range before {
			r := &before[i]
			plain, err := json.Marshal(r)
			if err != nil {
				return err
			}
			if err := txn.Set(recordKey(r.AccountID, r.GatewayID, r.ID), append([]byte{recordDictV1}, recordDict1.Encode(nil, plain)...)); err != nil {
				return err
			}
			if err := txn.Set([]byte("f"+sep+r.AccountID+sep+r.GatewayID+sep+r.ID), appendFacts(nil, r)); err != nil {
				return err
			}
		}
		return txn.Set(layoutKey, u64(3))
	})
	if err != nil {
		t.Fatal(err)
	}
	notOpenAI := LogQuery{AccountID: "acc", GatewayID: "gw", Filters: []events.LogFilter{{Key: "provider", Operator: OpNeq, Values: []string{"openai"}}}}
	failedGroq := LogQuery{AccountID: "acc", GatewayID: "gw", Provider: "groq", Filters: []events.LogFilter{{Key: "success", Operator: OpNeq, Values: []string{"true"}}}}
	if got := total(t, l, notOpenAI); got != 20 {
		t.Errorf("provider neq before the upgrade finds %d, want 20", got)
	}
	var said bytes.Buffer
	s.log = slog.New(slog.NewTextHandler(&said, nil))
	up, err := NewLogs(s)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(said.String(), `msg="logs store: upgraded" layout=4 records=30`) {
		t.Errorf("the upgrade said %q, want how many records it wrote again", said.String())
	}
	said.Reset()
	if _, err := NewLogs(s); err != nil || said.Len() > 0 {
		t.Errorf("opening an upgraded store: %v, said %q", err, said.String())
	}
	if n := keysUnder(t, s, "f"+sep, "r"+sep); n["f"+sep] != 0 || n["r"+sep] != 30 {
		t.Errorf("keys after the upgrade %v, want 30 records and no facts key", n)
	}
	err = s.db.View(func(txn *badger.Txn) error {
		for i := range before {
			item, err := txn.Get(recordKey("acc", "gw", before[i].ID))
			if err != nil {
				return err
			}
			if err := item.Value(func(v []byte) error {
				if facts, ok := storedFacts(v); !ok || string(facts) != string(appendFacts(nil, &before[i])) {
					t.Errorf("record %d stored without its facts in front", i)
				}
				return nil
			}); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	after, err := up.Dump()
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(after, before) {
		t.Errorf("the upgrade changed the records")
	}
	if got := total(t, up, notOpenAI); got != 20 {
		t.Errorf("provider neq after the upgrade finds %d, want 20", got)
	}
	if got := total(t, up, failedGroq); got != 2 {
		t.Errorf("failed groq after the upgrade finds %d, want 2", got)
	}
}

// Posting lists keep the ids of records deleted by filter and of values PATCH replaced;
// a walk never returns them.
func TestStaleListEntriesAreNotReturned(t *testing.T) {
	_, l := openInternal(t)
	start := time.Date(2026, 12, 4, 10, 0, 0, 0, time.UTC)
	rng := rand.New(rand.NewSource(5))
	var batch []events.Msg
	var ids []string
	for i := 0; i < 40; i++ {
		at := start.Add(time.Duration(i) * 100 * time.Millisecond)
		id := ulid.MustNew(ulid.Timestamp(at), rng).String()
		ids = append(ids, id)
		m := finishedAt(t, uint64(i+1), id, "gw", "openai", i%2 == 0, at)
		f, _ := m.Finished()
		f.Metadata = events.Metadata{"team": "a"}
		b, err := events.Encode(events.TypeRequestFinished, events.VersionRequestFinished, id+".request.finished", at, f)
		if err != nil {
			t.Fatal(err)
		}
		batch = append(batch, events.Msg{Seq: uint64(i + 1), Data: b})
	}
	if err := l.Apply(batch); err != nil {
		t.Fatal(err)
	}
	q := LogQuery{AccountID: "acc", GatewayID: "gw", Provider: "openai"}
	if got := total(t, l, q); got != 40 {
		t.Fatalf("provider filter finds %d, want 40", got)
	}
	del := func(seq uint64, v any, typ events.Type, ver int) events.Msg {
		b, err := events.Encode(typ, ver, fmt.Sprint("e", seq), start, v)
		if err != nil {
			t.Fatal(err)
		}
		return events.Msg{Seq: seq, Data: b}
	}
	// Delete the 20 failed ones by filter: the provider list still names them.
	if err := l.Apply([]events.Msg{del(41, events.LogsDeleted{AccountID: "acc", GatewayID: "gw",
		Filters: []events.LogFilter{{Key: "success", Operator: "eq", Values: []string{"false"}}}},
		events.TypeLogsDeleted, events.VersionLogsDeleted)}); err != nil {
		t.Fatal(err)
	}
	if got := total(t, l, q); got != 20 {
		t.Errorf("provider filter after deleting the failed: %d, want 20", got)
	}
	// Move one record from team a to team b: the pair list of a still names it.
	fb := 1
	if err := l.Apply([]events.Msg{del(42, events.LogFeedback{AccountID: "acc", GatewayID: "gw", LogID: ids[0],
		Feedback: &fb, Metadata: events.Metadata{"team": "b"}}, events.TypeLogFeedback, events.VersionLogFeedback)}); err != nil {
		t.Fatal(err)
	}
	pair := func(v string) LogQuery {
		return LogQuery{AccountID: "acc", GatewayID: "gw", Filters: []events.LogFilter{
			{Key: "metadata.key", Operator: "eq", Values: []string{"team"}}, {Key: "metadata.value", Operator: "eq", Values: []string{v}}}}
	}
	if a, b := total(t, l, pair("a")), total(t, l, pair("b")); a != 19 || b != 1 {
		t.Errorf("team a %d, team b %d after the PATCH; want 19 and 1", a, b)
	}
	feedback := func(v string) LogQuery {
		return LogQuery{AccountID: "acc", GatewayID: "gw", Filters: []events.LogFilter{{Key: "feedback", Operator: "eq", Values: []string{v}}}}
	}
	if none, up := total(t, l, feedback("0")), total(t, l, feedback("1")); none != 19 || up != 1 {
		t.Errorf("feedback 0: %d, 1: %d; want 19 and 1", none, up)
	}
}

// A record whose event id is a ULID of its log id's millisecond (as the gateway makes
// them) gets no posting list of its own, and an event_id filter still finds it, next to
// records of the same millisecond; records whose ids were made apart (older versions, an
// event id that is not a ULID) are listed under their event id and found through it.
func TestEventIDFilterFindsRecordsWithoutAListPerEvent(t *testing.T) {
	s, l := openInternal(t)
	rng := rand.New(rand.NewSource(3))
	start := time.Date(2026, 12, 4, 10, 0, 0, 0, time.UTC)
	ulidAtTime := func(at time.Time) string { return ulid.MustNew(ulid.Timestamp(at), rng).String() }
	type req struct{ log, ev string }
	var reqs []req
	var batch []events.Msg
	add := func(r req, at time.Time) {
		reqs = append(reqs, r)
		m := finishedAt(t, uint64(len(batch)+1), r.log, "gw", "openai", true, at)
		f, err := m.Finished()
		if err != nil {
			t.Fatal(err)
		}
		f.EventID = r.ev
		b, err := events.Encode(events.TypeRequestFinished, events.VersionRequestFinished, r.log+".request.finished", at, f)
		if err != nil {
			t.Fatal(err)
		}
		batch = append(batch, events.Msg{Seq: m.Seq, Data: b})
	}
	for i := 0; i < 300; i++ { // three to a millisecond, ids of one millisecond
		at := start.Add(time.Duration(i/3) * time.Millisecond)
		add(req{ulidAtTime(at), ulidAtTime(at)}, at)
	}
	apart := start.Add(time.Second)
	add(req{ulidAtTime(apart), ulidAtTime(apart.Add(time.Millisecond))}, apart) // 300: the next millisecond
	add(req{ulidAtTime(apart), ulidAtTime(apart.Add(-time.Hour))}, apart)       // 301: far apart
	add(req{ulidAtTime(apart), "evt-not-a-ulid"}, apart)                        // 302
	if err := l.Apply(batch); err != nil {
		t.Fatal(err)
	}
	if err := l.flushPostings(); err != nil {
		t.Fatal(err)
	}
	evLists := postingPrefix("acc", "gw", "event", "")
	evLists = evLists[:len(evLists)-len(sep)] // every event's lists
	if n := keysUnder(t, s, evLists)[evLists]; n != 3 {
		t.Errorf("%d event posting lists, want 3 (only the records whose ids were made apart)", n)
	}
	ids := func(fs ...events.LogFilter) []string {
		t.Helper()
		recs, _, err := l.List(LogQuery{AccountID: "acc", GatewayID: "gw", Filters: fs, PerPage: 50, Ascending: true})
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, r := range recs {
			out = append(out, r.ID)
		}
		return out
	}
	ev := func(vals ...string) events.LogFilter {
		return events.LogFilter{Key: "event_id", Operator: OpEq, Values: vals}
	}
	for _, c := range []struct {
		name string
		fs   []events.LogFilter
		want []int
	}{
		{"same millisecond, first of three", []events.LogFilter{ev(reqs[30].ev)}, []int{30}},
		{"same millisecond, last of three", []events.LogFilter{ev(reqs[32].ev)}, []int{32}},
		{"ids a millisecond apart", []events.LogFilter{ev(reqs[300].ev)}, []int{300}},
		{"ids an hour apart", []events.LogFilter{ev(reqs[301].ev)}, []int{301}},
		{"event id not a ULID", []events.LogFilter{ev("evt-not-a-ulid")}, []int{302}},
		{"either of three", []events.LogFilter{ev(reqs[5].ev, reqs[301].ev, reqs[200].ev)}, []int{5, 200, 301}},
		{"a log id is not an event id", []events.LogFilter{ev(reqs[7].log)}, nil},
		{"unknown ULID", []events.LogFilter{ev(ulidAtTime(start.Add(time.Minute)))}, nil},
		{"and the id", []events.LogFilter{ev(reqs[5].ev, reqs[6].ev), {Key: "id", Operator: OpEq, Values: []string{reqs[6].log}}}, []int{6}},
		{"two event filters must both hold", []events.LogFilter{ev(reqs[5].ev, reqs[6].ev), ev(reqs[6].ev, reqs[8].ev)}, []int{6}},
		{"and another provider", []events.LogFilter{ev(reqs[5].ev), {Key: "provider", Operator: OpEq, Values: []string{"anthropic"}}}, nil},
	} {
		var want []string
		for _, i := range c.want {
			want = append(want, reqs[i].log)
		}
		if got := ids(c.fs...); fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("%s: ids %v, want %v", c.name, got, want)
		}
	}
}

// A posting list is stored in about 12 bytes per id the gateway makes (ULIDs of one
// second share their time), any other id as it is, and reads back in order; lists written
// before the compact form still read.
func TestPostingListCodec(t *testing.T) {
	rng := rand.New(rand.NewSource(7))
	at := time.Date(2026, 12, 7, 21, 0, 0, 0, time.UTC)
	var ulids []string
	for i := 0; i < 500; i++ { // 500 requests in one second, several per millisecond
		ulids = append(ulids, ulid.MustNew(ulid.Timestamp(at.Add(time.Duration(i)*2*time.Millisecond)), rng).String())
	}
	slices.Sort(ulids)
	mixed := append(slices.Clone(ulids[:3]), "ev-1", strings.ToLower(ulids[3]), "", strings.Repeat("z", 300), ulids[4])
	for name, ids := range map[string][]string{"ulids": ulids, "mixed": mixed, "one": {ulids[0]}, "none": nil, "zero ulid": {"00000000000000000000000000"}} {
		v := appendPosting(nil, ids)
		var back []string
		decodePosting(v, func(id string) { back = append(back, id) })
		if !slices.Equal(back, ids) && !(len(back) == 0 && len(ids) == 0) {
			t.Errorf("%s: read back %q, want %q", name, back, ids)
		}
	}
	if v := appendPosting(nil, ulids); len(v) > 13*len(ulids) {
		t.Errorf("%d ids of one second stored in %d bytes, want at most 13 each", len(ulids), len(v))
	} else {
		t.Logf("%d ids of one second in %d bytes", len(ulids), len(v))
	}
	var old []byte // the form written before
	for _, id := range mixed {
		if id == "" {
			continue
		}
		old = binary.AppendUvarint(old, uint64(len(id)))
		old = append(old, id...)
	}
	var back []string
	decodePosting(old, func(id string) { back = append(back, id) })
	if want := slices.DeleteFunc(slices.Clone(mixed), func(id string) bool { return id == "" }); !slices.Equal(back, want) {
		t.Errorf("a list written before read back %q, want %q", back, want)
	}
}

// FuzzDecodePosting: a damaged posting list ends the ids early, never panics.
func FuzzDecodePosting(f *testing.F) {
	rng := rand.New(rand.NewSource(8))
	f.Add(appendPosting(nil, []string{ulid.MustNew(1, rng).String(), "raw", ulid.MustNew(2, rng).String()}))
	f.Add([]byte{3, 'a', 'b', 'c'})
	f.Fuzz(func(t *testing.T, v []byte) {
		n := 0
		decodePosting(v, func(string) { n++ })
		if n > len(v) {
			t.Fatalf("%d ids from %d bytes", n, len(v))
		}
	})
}
