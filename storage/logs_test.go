package storage_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand"
	"reflect"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/oklog/ulid/v2"
	"github.com/switchyard/switchyard/events"
	"github.com/switchyard/switchyard/storage"
)

// safety is the bound on waits that should finish at once; it only stops a broken test.
const safety = 10 * time.Second

var t0 = time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)

func openLogs(tb testing.TB) (*storage.Store, *storage.Logs) {
	tb.Helper()
	s, err := storage.Open(storage.Options{InMemory: true})
	if err != nil {
		tb.Fatalf("open store: %v", err)
	}
	tb.Cleanup(func() {
		if err := s.Close(); err != nil {
			tb.Errorf("close store: %v", err)
		}
	})
	l, err := storage.NewLogs(s)
	if err != nil {
		tb.Fatalf("new logs: %v", err)
	}
	return s, l
}

// newID makes a log id the way the data plane does: a ULID at the request's time.
func newID(at time.Time, rng *rand.Rand) string {
	return ulid.MustNew(ulid.Timestamp(at), rng).String()
}

// finished builds a complete request.finished event at time at.
func finished(id, acct, gw, provider, model string, success bool, at time.Time) events.RequestFinished {
	status := 200
	if !success {
		status = 500
	}
	return events.RequestFinished{
		LogID: id, EventID: "ev-" + id, AccountID: acct, GatewayID: gw,
		Provider: provider, Model: model, Method: "POST", Path: "/chat/completions",
		Status: status, Success: success, StartedAt: at, DurationMs: 120.4, TTFBMs: 40.5,
		TokensIn: 10, TokensOut: 20, RequestSize: 100, ResponseSize: 200,
		RequestCType: "application/json", ResponseCType: "application/json",
	}
}

func msgOf(tb testing.TB, seq uint64, f events.RequestFinished) events.Msg {
	tb.Helper()
	b, err := events.Encode(events.TypeRequestFinished, events.VersionRequestFinished,
		f.LogID+"."+string(events.TypeRequestFinished), f.StartedAt, f)
	if err != nil {
		tb.Fatalf("encode: %v", err)
	}
	return events.Msg{Seq: seq, Data: b}
}

func apply(tb testing.TB, l *storage.Logs, batch ...events.Msg) {
	tb.Helper()
	if err := l.Apply(batch); err != nil {
		tb.Fatalf("apply: %v", err)
	}
}

func checkpoint(tb testing.TB, s *storage.Store, l *storage.Logs, want uint64) {
	tb.Helper()
	if got := l.Applied(); got != want {
		tb.Errorf("Applied() = %d, want %d", got, want)
	}
	got, err := s.Checkpoint(storage.LogsProjection)
	if err != nil {
		tb.Fatalf("checkpoint: %v", err)
	}
	if got != want {
		tb.Errorf("stored checkpoint = %d, want %d", got, want)
	}
}

func dump(tb testing.TB, l *storage.Logs) []storage.LogRecord {
	tb.Helper()
	d, err := l.Dump()
	if err != nil {
		tb.Fatalf("dump: %v", err)
	}
	return d
}

// hosted renders a record as the API does and keeps the hosted API's field names.
func hosted(tb testing.TB, r storage.LogRecord) map[string]any {
	tb.Helper()
	b, err := json.Marshal(r)
	if err != nil {
		tb.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		tb.Fatal(err)
	}
	return m
}

func TestRecordFields(t *testing.T) {
	rng := rand.New(rand.NewSource(1))
	at := time.Date(2025, 3, 1, 13, 14, 15, 123_000_000, time.FixedZone("CET", 3600))
	withTokens := events.RequestFinished{
		LogID: newID(at, rng), EventID: "evt-1", AccountID: "acc1", GatewayID: "gw1",
		Provider: "openai", Model: "gpt-4o-mini", Method: "POST", Path: "/chat/completions",
		RequestType: "chat", Step: 0, Status: 200, Success: true, Stream: true, Cached: false,
		StartedAt: at, DurationMs: 123.6, TTFBMs: 45.25, TokensIn: 12, TokensOut: 7,
		RequestSize: 321, ResponseSize: 4567, RequestCType: "application/json",
		ResponseCType: "text/event-stream",
	}
	noTokens := events.RequestFinished{
		LogID: newID(at.Add(time.Second), rng), EventID: "evt-2", AccountID: "acc1", GatewayID: "gw1",
		Provider: "workers-ai", Model: "@cf/meta/llama-3.1-8b-instruct", Method: "POST", Path: "/@cf/meta/llama-3.1-8b-instruct",
		Status: 429, Success: false, StartedAt: at.Add(time.Second), DurationMs: 9.4,
		RequestSize: 10, ErrorCode: 2003, ErrorMessage: "rate limited", Step: 1, Cached: true,
	}
	cases := []struct {
		name string
		ev   events.RequestFinished
		seq  uint64
		want map[string]any
	}{
		{"with tokens", withTokens, 7, map[string]any{
			"id": withTokens.LogID, "created_at": "2025-03-01T12:14:15.123Z", "cached": false,
			"duration": 124.0, "model": "gpt-4o-mini", "path": "/chat/completions", "provider": "openai",
			"success": true, "tokens_in": 12.0, "tokens_out": 7.0, "status_code": 200.0, "step": 0.0,
			"request_type": "chat", "request_content_type": "application/json",
			"response_content_type": "text/event-stream", "request_size": 321.0, "response_size": 4567.0,
			"event_id": "evt-1", "account_id": "acc1", "gateway_id": "gw1", "method": "POST",
			"stream": true, "ttfb_ms": 45.25, "event_seq": 7.0,
		}},
		{"without tokens", noTokens, 8, map[string]any{
			"id": noTokens.LogID, "created_at": "2025-03-01T12:14:16.123Z", "cached": true,
			"duration": 9.0, "model": "@cf/meta/llama-3.1-8b-instruct", "provider": "workers-ai",
			"success": false, "tokens_in": nil, "tokens_out": nil, "status_code": 429.0, "step": 1.0,
			"error_code": 2003.0, "error_message": "rate limited", "event_seq": 8.0,
		}},
	}
	_, l := openLogs(t)
	for _, tc := range cases {
		apply(t, l, msgOf(t, tc.seq, tc.ev))
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r, err := l.Get("acc1", "gw1", tc.ev.LogID)
			if err != nil {
				t.Fatalf("get: %v", err)
			}
			if !r.CreatedAt.Equal(tc.ev.StartedAt) {
				t.Errorf("created_at %v, want %v", r.CreatedAt, tc.ev.StartedAt)
			}
			m := hosted(t, r)
			for k, want := range tc.want {
				got, present := m[k]
				if !present {
					t.Errorf("field %q missing from %v", k, m)
					continue
				}
				if !reflect.DeepEqual(got, want) {
					t.Errorf("%s = %#v, want %#v", k, got, want)
				}
			}
		})
	}
}

func TestApplyIdempotent(t *testing.T) {
	rng := rand.New(rand.NewSource(2))
	s, l := openLogs(t)
	var evs []events.RequestFinished
	for i := 0; i < 6; i++ {
		at := t0.Add(time.Duration(i) * time.Minute)
		evs = append(evs, finished(newID(at, rng), "acc1", "gw1", "openai", "gpt-4o", true, at))
	}
	batch := func(from, to int, mutate func(*events.RequestFinished)) []events.Msg {
		var out []events.Msg
		for i := from; i <= to; i++ {
			f := evs[i-1]
			if mutate != nil {
				mutate(&f)
			}
			out = append(out, msgOf(t, uint64(i), f))
		}
		return out
	}

	apply(t, l, batch(1, 4, nil)...)
	checkpoint(t, s, l, 4)
	first := dump(t, l)
	if len(first) != 4 {
		t.Fatalf("%d records after the first batch, want 4", len(first))
	}

	// The same batch again, delivered as-is: nothing changes.
	apply(t, l, batch(1, 4, nil)...)
	checkpoint(t, s, l, 4)
	if again := dump(t, l); !reflect.DeepEqual(again, first) {
		t.Fatalf("records changed by a repeated batch:\n%v\nwant\n%v", again, first)
	}

	// A redelivery of already applied sequences, even with different content, is ignored.
	apply(t, l, batch(1, 4, func(f *events.RequestFinished) { f.Model, f.Success = "changed", false })...)
	if again := dump(t, l); !reflect.DeepEqual(again, first) {
		t.Fatalf("records changed by a redelivered batch")
	}

	// An overlapping batch: 3 and 4 are skipped, 5 and 6 are added.
	apply(t, l, batch(3, 6, func(f *events.RequestFinished) {
		if f.LogID == evs[2].LogID || f.LogID == evs[3].LogID {
			f.Model = "changed"
		}
	})...)
	checkpoint(t, s, l, 6)
	all := dump(t, l)
	if len(all) != 6 {
		t.Fatalf("%d records after the overlapping batch, want 6", len(all))
	}
	if !reflect.DeepEqual(all[:4], first) {
		t.Errorf("overlapping batch changed earlier records")
	}
	recs, total, err := l.List(storage.LogQuery{AccountID: "acc1", GatewayID: "gw1", Model: "changed"})
	if err != nil || total != 0 || len(recs) != 0 {
		t.Errorf("records with the skipped content: %d (%v)", total, err)
	}
	no := false
	recs, total, err = l.List(storage.LogQuery{AccountID: "acc1", GatewayID: "gw1", Success: &no})
	if err != nil || total != 0 || len(recs) != 0 {
		t.Errorf("stale success index from a skipped redelivery: %d (%v)", total, err)
	}

	// An empty batch and a batch entirely in the past are no-ops.
	apply(t, l)
	apply(t, l, batch(2, 2, nil)...)
	checkpoint(t, s, l, 6)

	// A projection reopened on the same store resumes at its checkpoint.
	l2, err := storage.NewLogs(s)
	if err != nil {
		t.Fatal(err)
	}
	if l2.Applied() != 6 {
		t.Errorf("reopened projection at %d, want 6", l2.Applied())
	}
	apply(t, l2, batch(1, 6, nil)...)
	if got := dump(t, l2); !reflect.DeepEqual(got, all) {
		t.Errorf("reopened projection re-applied old events")
	}
}

func TestApplySkipsForeignEvents(t *testing.T) {
	rng := rand.New(rand.NewSource(3))
	s, l := openLogs(t)
	id := newID(t0, rng)
	started, err := events.Encode(events.TypeRequestStarted, events.VersionRequestStarted, id+".request.started", t0,
		events.RequestStarted{LogID: id, AccountID: "acc1", GatewayID: "gw1", Provider: "openai", StartedAt: t0})
	if err != nil {
		t.Fatal(err)
	}
	futureVersion, err := events.Encode(events.TypeRequestFinished, 99, "x", t0, finished(newID(t0, rng), "acc1", "gw1", "openai", "m", true, t0))
	if err != nil {
		t.Fatal(err)
	}
	noGateway := finished(newID(t0, rng), "acc1", "", "openai", "m", true, t0)
	noLogID := finished("", "acc1", "gw1", "openai", "m", true, t0)
	cases := []struct {
		name string
		msg  events.Msg
	}{
		{"request.started", events.Msg{Seq: 1, Data: started}},
		{"not json", events.Msg{Seq: 2, Data: []byte("not json at all")}},
		{"empty", events.Msg{Seq: 3, Data: nil}},
		{"finished with undecodable data", events.Msg{Seq: 4, Data: []byte(`{"type":"request.finished","v":1,"id":"x","data":"oops"}`)}},
		{"unknown version", events.Msg{Seq: 5, Data: futureVersion}},
		{"no gateway", msgOf(t, 6, noGateway)},
		{"no log id", msgOf(t, 7, noLogID)},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if err := l.Apply([]events.Msg{tc.msg}); err != nil {
				t.Fatalf("apply: %v (a foreign event must not wedge the projection)", err)
			}
			checkpoint(t, s, l, tc.msg.Seq)
			if d := dump(t, l); len(d) != 0 {
				t.Errorf("record created: %+v", d)
			}
		})
	}
	// Mixed in one batch with a real event, only the real one is recorded.
	good := finished(newID(t0.Add(time.Hour), rng), "acc1", "gw1", "openai", "gpt-4o", true, t0.Add(time.Hour))
	apply(t, l, events.Msg{Seq: 8, Data: started}, msgOf(t, 9, good), events.Msg{Seq: 10, Data: []byte("{")})
	checkpoint(t, s, l, 10)
	if d := dump(t, l); len(d) != 1 || d[0].ID != good.LogID {
		t.Errorf("records = %+v, want only %s", d, good.LogID)
	}
}

// A batch larger than one Badger transaction is split and still applied completely.
func TestApplyLargeBatch(t *testing.T) {
	rng := rand.New(rand.NewSource(4))
	s, l := openLogs(t)
	const n = 3000
	batch := make([]events.Msg, 0, n)
	for i := 0; i < n; i++ {
		at := t0.Add(time.Duration(i) * time.Second)
		batch = append(batch, msgOf(t, uint64(i+1), finished(newID(at, rng), "acc1", "gw1", "openai", "gpt-4o", i%2 == 0, at)))
	}
	apply(t, l, batch...)
	checkpoint(t, s, l, n)
	if d := dump(t, l); len(d) != n {
		t.Fatalf("%d records, want %d", len(d), n)
	}
	yes := true
	// A page that holds every match is counted exactly, however slow the machine (a full
	// page stops counting after storage.CountBudget).
	_, total, err := l.List(storage.LogQuery{AccountID: "acc1", GatewayID: "gw1", Success: &yes, PerPage: n})
	if err != nil || total != n/2 {
		t.Errorf("success=true total %d (%v), want %d", total, err, n/2)
	}
}

// corpus is the data set of the List tests.
type corpus struct {
	recs []events.RequestFinished // gw1 of acc1, in time order
	at   []time.Time
}

var (
	listProviders = []string{"openai", "anthropic", "workers-ai"}
	listModels    = map[string][2]string{
		"openai":     {"gpt-4o", "gpt-4o-mini"},
		"anthropic":  {"claude-sonnet-4", "claude-haiku-4"},
		"workers-ai": {"@cf/meta/llama-3.1-8b-instruct", "@cf/qwen/qwq-32b"},
	}
)

// loadCorpus stores 24 records of acc1/gw1 one minute apart, plus records of a second
// gateway of acc1 and of gw1 of another account (all openai/gpt-4o, successful, at the
// same times, so any leak shows in every query).
func loadCorpus(t *testing.T, l *storage.Logs) corpus {
	rng := rand.New(rand.NewSource(5))
	var c corpus
	var batch []events.Msg
	seq := uint64(0)
	for i := 0; i < 24; i++ {
		at := t0.Add(time.Duration(i) * time.Minute)
		p := listProviders[i%3]
		f := finished(newID(at, rng), "acc1", "gw1", p, listModels[p][(i/3)%2], i%4 != 3, at)
		c.recs = append(c.recs, f)
		c.at = append(c.at, at)
		seq++
		batch = append(batch, msgOf(t, seq, f))
		for _, other := range [][2]string{{"acc1", "gw2"}, {"acc2", "gw1"}} {
			if i%5 == 0 {
				seq++
				batch = append(batch, msgOf(t, seq, finished(newID(at, rng), other[0], other[1], "openai", "gpt-4o", true, at)))
			}
		}
	}
	// Deliver in two batches in stream order.
	apply(t, l, batch[:len(batch)/2]...)
	apply(t, l, batch[len(batch)/2:]...)
	return c
}

func ids(recs []storage.LogRecord) []string {
	out := make([]string, len(recs))
	for i, r := range recs {
		out[i] = r.ID
	}
	return out
}

func TestList(t *testing.T) {
	_, l := openLogs(t)
	c := loadCorpus(t, l)
	yes, no := true, false
	// expect selects the acc1/gw1 records a query must return, in ascending order.
	expect := func(keep func(i int, f events.RequestFinished) bool) []string {
		var out []string
		for i, f := range c.recs {
			if keep(i, f) {
				out = append(out, f.LogID)
			}
		}
		return out
	}
	all := func(int, events.RequestFinished) bool { return true }
	cases := []struct {
		name  string
		q     storage.LogQuery
		want  []string // ascending; reversed for newest-first queries
		total int
	}{
		{"all", storage.LogQuery{PerPage: 50}, expect(all), 24},
		{"default page size is 20", storage.LogQuery{}, expect(all), 24},
		{"provider", storage.LogQuery{Provider: "openai", PerPage: 50},
			expect(func(_ int, f events.RequestFinished) bool { return f.Provider == "openai" }), 8},
		{"model with slashes", storage.LogQuery{Model: "@cf/meta/llama-3.1-8b-instruct", PerPage: 50},
			expect(func(_ int, f events.RequestFinished) bool { return f.Model == "@cf/meta/llama-3.1-8b-instruct" }), 4},
		{"success true", storage.LogQuery{Success: &yes, PerPage: 50},
			expect(func(_ int, f events.RequestFinished) bool { return f.Success }), 18},
		{"success false", storage.LogQuery{Success: &no, PerPage: 50},
			expect(func(_ int, f events.RequestFinished) bool { return !f.Success }), 6},
		{"provider and success", storage.LogQuery{Provider: "anthropic", Success: &no, PerPage: 50},
			expect(func(_ int, f events.RequestFinished) bool { return f.Provider == "anthropic" && !f.Success }), 2},
		{"provider and model", storage.LogQuery{Provider: "openai", Model: "gpt-4o-mini", PerPage: 50},
			expect(func(_ int, f events.RequestFinished) bool { return f.Model == "gpt-4o-mini" }), 4},
		{"provider, model and success", storage.LogQuery{Provider: "openai", Model: "gpt-4o", Success: &yes, PerPage: 50},
			expect(func(_ int, f events.RequestFinished) bool { return f.Model == "gpt-4o" && f.Success }), 4},
		{"model of another provider", storage.LogQuery{Provider: "openai", Model: "claude-haiku-4", PerPage: 50}, nil, 0},
		{"unknown provider", storage.LogQuery{Provider: "mistral"}, nil, 0},
		{"since (inclusive)", storage.LogQuery{Since: c.at[20], PerPage: 50},
			expect(func(i int, _ events.RequestFinished) bool { return i >= 20 }), 4},
		{"until (inclusive)", storage.LogQuery{Until: c.at[2], PerPage: 50},
			expect(func(i int, _ events.RequestFinished) bool { return i <= 2 }), 3},
		{"since and until", storage.LogQuery{Since: c.at[5], Until: c.at[10], PerPage: 50},
			expect(func(i int, _ events.RequestFinished) bool { return i >= 5 && i <= 10 }), 6},
		{"range between records", storage.LogQuery{Since: c.at[5].Add(time.Second), Until: c.at[10].Add(-time.Second), PerPage: 50},
			expect(func(i int, _ events.RequestFinished) bool { return i >= 6 && i <= 9 }), 4},
		{"range and filter", storage.LogQuery{Since: c.at[5], Until: c.at[10], Provider: "workers-ai", Success: &yes, PerPage: 50},
			expect(func(i int, f events.RequestFinished) bool {
				return i >= 5 && i <= 10 && f.Provider == "workers-ai" && f.Success
			}), 2},
		{"range before everything", storage.LogQuery{Until: t0.Add(-time.Hour)}, nil, 0},
		{"range after everything", storage.LogQuery{Since: t0.Add(time.Hour)}, nil, 0},
		{"empty range", storage.LogQuery{Since: c.at[10], Until: c.at[5]}, nil, 0},
	}
	for _, tc := range cases {
		for _, asc := range []bool{false, true} {
			name := tc.name + "/newest first"
			if asc {
				name = tc.name + "/ascending"
			}
			t.Run(name, func(t *testing.T) {
				q := tc.q
				q.AccountID, q.GatewayID, q.Ascending = "acc1", "gw1", asc
				got, total, err := l.List(q)
				if err != nil {
					t.Fatalf("list: %v", err)
				}
				if total != tc.total {
					t.Errorf("total = %d, want %d", total, tc.total)
				}
				want := append([]string(nil), tc.want...)
				if !asc {
					sort.Sort(sort.Reverse(sort.StringSlice(want)))
				}
				per := q.PerPage
				if per == 0 {
					per = 20
				}
				if len(want) > per {
					want = want[:per]
				}
				if len(got) == 0 && len(want) == 0 {
					return
				}
				if g := ids(got); !reflect.DeepEqual(g, want) {
					t.Errorf("ids =\n%v\nwant\n%v", g, want)
				}
				for _, r := range got {
					if r.AccountID != "acc1" || r.GatewayID != "gw1" {
						t.Errorf("record of %s/%s in acc1/gw1 results", r.AccountID, r.GatewayID)
					}
				}
			})
		}
	}
}

func TestListDefaultOrderIsNewestFirst(t *testing.T) {
	_, l := openLogs(t)
	c := loadCorpus(t, l)
	got, _, err := l.List(storage.LogQuery{AccountID: "acc1", GatewayID: "gw1", PerPage: 3})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{c.recs[23].LogID, c.recs[22].LogID, c.recs[21].LogID}
	if !reflect.DeepEqual(ids(got), want) {
		t.Errorf("first page %v, want the three newest %v", ids(got), want)
	}
	for i := 1; i < len(got); i++ {
		if !got[i-1].CreatedAt.After(got[i].CreatedAt) {
			t.Errorf("created_at not descending: %v then %v", got[i-1].CreatedAt, got[i].CreatedAt)
		}
	}
}

func TestListPagination(t *testing.T) {
	_, l := openLogs(t)
	loadCorpus(t, l)
	yes := true
	cases := []struct {
		name    string
		q       storage.LogQuery
		per     int
		total   int
		lastLen int // records on the last non-empty page
	}{
		{"all newest first", storage.LogQuery{}, 5, 24, 4},
		{"all ascending", storage.LogQuery{Ascending: true}, 5, 24, 4},
		{"exact pages", storage.LogQuery{}, 6, 24, 6},
		{"one per page", storage.LogQuery{Provider: "openai"}, 1, 8, 1},
		{"filtered", storage.LogQuery{Success: &yes}, 7, 18, 4},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			q := tc.q
			q.AccountID, q.GatewayID = "acc1", "gw1"
			q.PerPage = tc.total + 10
			whole, total, err := l.List(q)
			if err != nil || total != tc.total || len(whole) != tc.total {
				t.Fatalf("one big page: %d records, total %d, err %v; want %d", len(whole), total, err, tc.total)
			}
			pages := (tc.total + tc.per - 1) / tc.per
			var joined []string
			for p := 1; p <= pages+1; p++ {
				q.Page, q.PerPage = p, tc.per
				got, total, err := l.List(q)
				if err != nil {
					t.Fatal(err)
				}
				if total != tc.total {
					t.Errorf("page %d: total %d, want %d", p, total, tc.total)
				}
				switch {
				case p < pages && len(got) != tc.per, p == pages && len(got) != tc.lastLen, p > pages && len(got) != 0:
					t.Errorf("page %d of %d has %d records", p, pages, len(got))
				}
				joined = append(joined, ids(got)...)
			}
			if !reflect.DeepEqual(joined, ids(whole)) {
				t.Errorf("pages joined differ from the whole list:\n%v\n%v", joined, ids(whole))
			}
		})
	}
	// Page 0 is page 1.
	q := storage.LogQuery{AccountID: "acc1", GatewayID: "gw1", PerPage: 4}
	p1, _, _ := l.List(q)
	q.Page = 0
	p0, _, _ := l.List(q)
	if !reflect.DeepEqual(ids(p0), ids(p1)) {
		t.Errorf("page 0 = %v, want page 1 = %v", ids(p0), ids(p1))
	}
}

func TestListAndGetIsolation(t *testing.T) {
	_, l := openLogs(t)
	c := loadCorpus(t, l)
	cases := []struct {
		acct, gw string
		total    int
	}{
		{"acc1", "gw1", 24},
		{"acc1", "gw2", 5},
		{"acc2", "gw1", 5},
		{"acc2", "gw2", 0},
		{"acc1", "gw", 0},
		{"acc", "1gw1", 0},
	}
	for _, tc := range cases {
		t.Run(tc.acct+"/"+tc.gw, func(t *testing.T) {
			for _, q := range []storage.LogQuery{
				{AccountID: tc.acct, GatewayID: tc.gw, PerPage: 100},
				{AccountID: tc.acct, GatewayID: tc.gw, PerPage: 100, Provider: "openai", Model: "gpt-4o"},
			} {
				got, total, err := l.List(q)
				if err != nil {
					t.Fatal(err)
				}
				if q.Provider == "" && total != tc.total {
					t.Errorf("total %d, want %d", total, tc.total)
				}
				if len(got) != total {
					t.Errorf("%d records for total %d", len(got), total)
				}
				for _, r := range got {
					if r.AccountID != tc.acct || r.GatewayID != tc.gw {
						t.Errorf("record of %s/%s listed for %s/%s", r.AccountID, r.GatewayID, tc.acct, tc.gw)
					}
				}
			}
		})
	}
	id := c.recs[0].LogID
	if r, err := l.Get("acc1", "gw1", id); err != nil || r.ID != id {
		t.Errorf("get own record: %+v, %v", r, err)
	}
	for _, other := range [][2]string{{"acc1", "gw2"}, {"acc2", "gw1"}} {
		if _, err := l.Get(other[0], other[1], id); !errors.Is(err, storage.ErrNotFound) {
			t.Errorf("get acc1/gw1 record through %s/%s: err %v, want ErrNotFound", other[0], other[1], err)
		}
	}
}

func TestGetUnknown(t *testing.T) {
	_, l := openLogs(t)
	loadCorpus(t, l)
	for _, id := range []string{newID(t0, rand.New(rand.NewSource(99))), "", "not-a-ulid"} {
		if _, err := l.Get("acc1", "gw1", id); !errors.Is(err, storage.ErrNotFound) {
			t.Errorf("Get(%q): err %v, want ErrNotFound", id, err)
		}
	}
}

func TestWaitFor(t *testing.T) {
	rng := rand.New(rand.NewSource(6))
	_, l := openLogs(t)
	ev := func(seq uint64) events.Msg {
		at := t0.Add(time.Duration(seq) * time.Second)
		return msgOf(t, seq, finished(newID(at, rng), "acc1", "gw1", "openai", "gpt-4o", true, at))
	}

	// Already applied (nothing yet asked): returns at once.
	if err := l.WaitFor(context.Background(), 0); err != nil {
		t.Fatalf("WaitFor(0) on a fresh projection: %v", err)
	}

	ctx, cancel := context.WithTimeout(context.Background(), safety)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- l.WaitFor(ctx, 5) }()

	apply(t, l, ev(1), ev(2))
	select {
	case err := <-done:
		t.Fatalf("WaitFor(5) returned (%v) with only 2 applied", err)
	default:
	}
	apply(t, l, ev(3), ev(4), ev(5))
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("WaitFor(5): %v", err)
		}
	case <-time.After(safety):
		t.Fatal("WaitFor(5) did not return after seq 5 was applied")
	}
	// The record is readable once WaitFor returned (read your writes).
	if _, total, err := l.List(storage.LogQuery{AccountID: "acc1", GatewayID: "gw1"}); err != nil || total != 5 {
		t.Errorf("after WaitFor: %d records (%v), want 5", total, err)
	}
	if err := l.WaitFor(context.Background(), 3); err != nil {
		t.Errorf("WaitFor(3) after 5 applied: %v", err)
	}

	// A skipped event (foreign type) also satisfies a wait for its seq.
	go func() { done <- l.WaitFor(ctx, 6) }()
	apply(t, l, events.Msg{Seq: 6, Data: []byte("garbage")})
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("WaitFor(6): %v", err)
		}
	case <-time.After(safety):
		t.Fatal("WaitFor(6) did not return after seq 6 was applied")
	}

	// The context ends the wait.
	cctx, ccancel := context.WithCancel(context.Background())
	go func() { done <- l.WaitFor(cctx, 100) }()
	ccancel()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("WaitFor with a cancelled context: %v, want context.Canceled", err)
		}
	case <-time.After(safety):
		t.Fatal("WaitFor ignored its context")
	}
	dctx, dcancel := context.WithDeadline(context.Background(), time.Now().Add(-time.Second))
	defer dcancel()
	if err := l.WaitFor(dctx, 100); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("WaitFor past deadline: %v, want DeadlineExceeded", err)
	}
}

func TestWaitForManyWaiters(t *testing.T) {
	rng := rand.New(rand.NewSource(7))
	_, l := openLogs(t)
	ctx, cancel := context.WithTimeout(context.Background(), safety)
	defer cancel()
	const n = 20
	errs := make(chan error, n)
	for i := 1; i <= n; i++ {
		go func(seq uint64) {
			if err := l.WaitFor(ctx, seq); err != nil {
				errs <- fmt.Errorf("WaitFor(%d): %w", seq, err)
				return
			}
			if l.Applied() < seq {
				errs <- fmt.Errorf("WaitFor(%d) returned at %d", seq, l.Applied())
				return
			}
			errs <- nil
		}(uint64(i))
	}
	for seq := uint64(1); seq <= n; seq++ {
		at := t0.Add(time.Duration(seq) * time.Second)
		apply(t, l, msgOf(t, seq, finished(newID(at, rng), "acc1", "gw1", "openai", "gpt-4o", true, at)))
	}
	for i := 0; i < n; i++ {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
}

// benchBatch encodes a batch of 256 request.finished events starting at seq.
func benchBatch(b *testing.B, rng *rand.Rand, seq uint64) []events.Msg {
	batch := make([]events.Msg, 256)
	for i := range batch {
		s := seq + uint64(i)
		at := t0.Add(time.Duration(s) * time.Millisecond)
		p := listProviders[s%3]
		batch[i] = msgOf(b, s, finished(newID(at, rng), "acc1", "gw1", p, listModels[p][s%2], s%5 != 0, at))
	}
	return batch
}

func BenchmarkApply(b *testing.B) {
	rng := rand.New(rand.NewSource(8))
	// A fresh store every rotate batches keeps the in-memory store's footprint bounded.
	const rotate = 200
	var l *storage.Logs
	var closeStore func()
	defer func() {
		if closeStore != nil {
			closeStore()
		}
	}()
	seq := uint64(1)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		if i%rotate == 0 {
			if closeStore != nil {
				closeStore()
			}
			s, err := storage.Open(storage.Options{InMemory: true})
			if err != nil {
				b.Fatal(err)
			}
			if l, err = storage.NewLogs(s); err != nil {
				b.Fatal(err)
			}
			closeStore = func() { _ = s.Close() }
			seq = 1
		}
		batch := benchBatch(b, rng, seq)
		seq += uint64(len(batch))
		b.StartTimer()
		if err := l.Apply(batch); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N)*256/b.Elapsed().Seconds(), "events/s")
}

func BenchmarkListFiltered(b *testing.B) {
	_, l := openLogs(b)
	rng := rand.New(rand.NewSource(9))
	const records = 10_000
	for seq := uint64(1); seq <= records; seq += 256 {
		batch := benchBatch(b, rng, seq)
		if rem := records - int(seq) + 1; rem < len(batch) {
			batch = batch[:rem]
		}
		if err := l.Apply(batch); err != nil {
			b.Fatal(err)
		}
	}
	if l.Applied() != records {
		b.Fatalf("applied %d, want %d", l.Applied(), records)
	}
	yes := true
	q := storage.LogQuery{AccountID: "acc1", GatewayID: "gw1", Provider: "anthropic", Success: &yes, Page: 1, PerPage: 20}
	_, total, err := l.List(q)
	if err != nil || total == 0 {
		b.Fatalf("list: %d, %v", total, err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		recs, _, err := l.List(q)
		if err != nil || len(recs) != 20 {
			b.Fatalf("list: %d records, %v", len(recs), err)
		}
	}
}

// An event stored twice in the stream (a republish after a lost ack) shows once in the log.
func TestSameEventAtTwoSequencesIsOneRecord(t *testing.T) {
	_, l := openLogs(t)
	rng := rand.New(rand.NewSource(7))
	at := time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)
	f := finished(newID(at, rng), "acct", "gw", "openai", "gpt-4o", true, at)
	apply(t, l, msgOf(t, 1, f))
	apply(t, l, msgOf(t, 2, f))
	recs, total, err := l.List(storage.LogQuery{AccountID: "acct", GatewayID: "gw", Provider: "openai", Success: &f.Success})
	if err != nil || total != 1 || len(recs) != 1 {
		t.Fatalf("want one record, got %d (total %d, %v)", len(recs), total, err)
	}
	if all := dump(t, l); len(all) != 1 {
		t.Fatalf("want one record in the store, got %d", len(all))
	}
}

// ---- issue 6: filters, feedback, deletes, log limits ----

func eventMsg(tb testing.TB, seq uint64, t events.Type, v int, data any) events.Msg {
	tb.Helper()
	b, err := events.Encode(t, v, fmt.Sprintf("%s.%d", t, seq), t0, data)
	if err != nil {
		tb.Fatal(err)
	}
	return events.Msg{Seq: seq, Data: b}
}

func lf(key, op string, v ...string) events.LogFilter {
	return events.LogFilter{Key: key, Operator: op, Values: v}
}

// richCorpus stores 30 requests in acct/gw, one a minute: provider openai on even i,
// anthropic on odd; failed on multiples of 3; cached on multiples of 4; cost i/100 except
// none on multiples of 5; metadata {"team": "red"|"blue", "i": i} on i < 10.
func richCorpus(t *testing.T, l *storage.Logs) []string {
	t.Helper()
	rng := rand.New(rand.NewSource(3))
	var ids []string
	var batch []events.Msg
	for i := 0; i < 30; i++ {
		at := t0.Add(time.Duration(i) * time.Minute)
		p := []string{"openai", "anthropic"}[i%2]
		f := finished(newID(at, rng), "acct", "gw", p, p+"-m", i%3 != 0, at)
		f.Cached = i%4 == 0
		f.TokensIn, f.TokensOut, f.DurationMs = int64(i), int64(2*i), float64(10*i)
		f.RequestType = []string{"", "universal"}[min(i/20, 1)]
		if i%5 != 0 {
			c := float64(i) / 100
			f.Cost = &c
		}
		if i < 10 {
			f.Metadata = events.Metadata{"team": []string{"red", "blue"}[i%2], "i": float64(i)}
		}
		if i%7 == 1 {
			f.DLP = &events.DLPResult{Action: []string{"FLAG", "BLOCK"}[i%2], Findings: []events.DLPFinding{{Check: "REQUEST",
				PolicyIDs: []string{"p"}, Profile: events.DLPProfileMatch{ProfileID: "prof", EntryIDs: []string{"e"}}}}}
		}
		ids = append(ids, f.LogID)
		batch = append(batch, msgOf(t, uint64(i+1), f))
	}
	apply(t, l, batch...)
	return ids
}

func want(ids []string, keep func(i int) bool) []string {
	var out []string
	for i := len(ids) - 1; i >= 0; i-- {
		if keep(i) {
			out = append(out, ids[i])
		}
	}
	return out
}

func TestListFilters(t *testing.T) {
	_, l := openLogs(t)
	all := richCorpus(t, l)
	cases := []struct {
		name string
		fs   []events.LogFilter
		keep func(i int) bool
	}{
		{"provider eq", []events.LogFilter{lf("provider", "eq", "anthropic")}, func(i int) bool { return i%2 == 1 }},
		{"provider neq", []events.LogFilter{lf("provider", "neq", "anthropic")}, func(i int) bool { return i%2 == 0 }},
		{"provider eq either", []events.LogFilter{lf("provider", "eq", "anthropic", "openai")}, func(int) bool { return true }},
		{"success and cached", []events.LogFilter{lf("success", "eq", "false"), lf("cached", "eq", "true")}, func(i int) bool { return i%12 == 0 }},
		{"cost gt, unknown cost never matches", []events.LogFilter{lf("cost", "gt", "0.2")}, func(i int) bool { return i > 20 && i%5 != 0 }},
		{"cost lt", []events.LogFilter{lf("cost", "lt", "0.05")}, func(i int) bool { return i < 5 && i != 0 }},
		{"cost neq", []events.LogFilter{lf("cost", "neq", "0.01")}, func(i int) bool { return i != 1 }},
		{"tokens total", []events.LogFilter{lf("tokens", "gt", "80")}, func(i int) bool { return 3*i > 80 }},
		{"tokens_out lt", []events.LogFilter{lf("tokens_out", "lt", "6")}, func(i int) bool { return 2*i < 6 }},
		{"duration gt", []events.LogFilter{lf("duration", "gt", "250")}, func(i int) bool { return 10*i > 250 }},
		{"request type", []events.LogFilter{lf("request_type", "eq", "universal")}, func(i int) bool { return i >= 20 }},
		{"model contains", []events.LogFilter{lf("model", "contains", "OPENAI")}, func(i int) bool { return i%2 == 0 }},
		{"metadata key", []events.LogFilter{lf("metadata.key", "eq", "team")}, func(i int) bool { return i < 10 }},
		{"metadata key neq", []events.LogFilter{lf("metadata.key", "neq", "team")}, func(i int) bool { return i >= 10 }},
		{"metadata pair", []events.LogFilter{lf("metadata.key", "eq", "team"), lf("metadata.value", "eq", "blue")}, func(i int) bool { return i < 10 && i%2 == 1 }},
		{"metadata pair wrong key", []events.LogFilter{lf("metadata.key", "eq", "i"), lf("metadata.value", "eq", "blue")}, func(int) bool { return false }},
		{"metadata number", []events.LogFilter{lf("metadata.value", "eq", "7")}, func(i int) bool { return i == 7 }},
		{"metadata value contains", []events.LogFilter{lf("metadata.value", "contains", "RE")}, func(i int) bool { return i < 10 && i%2 == 0 }},
		{"id", []events.LogFilter{lf("id", "eq", all[4], all[9], "nosuch")}, func(i int) bool { return i == 4 || i == 9 }},
		{"id neq", []events.LogFilter{lf("id", "neq", all[4])}, func(i int) bool { return i != 4 }},
		{"event id", []events.LogFilter{lf("event_id", "eq", "ev-"+all[6])}, func(i int) bool { return i == 6 }},
		{"created_at range", []events.LogFilter{lf("created_at", "gt", t0.Add(9*time.Minute).Format(time.RFC3339)),
			lf("created_at", "lt", t0.Add(12*time.Minute).Format(time.RFC3339))}, func(i int) bool { return i == 10 || i == 11 }},
		{"created_at eq", []events.LogFilter{lf("created_at", "eq", t0.Add(7*time.Minute).Format(time.RFC3339))}, func(i int) bool { return i == 7 }},
		{"created_at eq either", []events.LogFilter{lf("created_at", "eq", t0.Add(3*time.Minute).Format(time.RFC3339Nano),
			t0.Add(12*time.Minute).Format(time.RFC3339), t0.Add(3*time.Minute).Format(time.RFC3339))}, func(i int) bool { return i == 3 || i == 12 }},
		{"created_at eq is at the millisecond", []events.LogFilter{lf("created_at", "eq", t0.Add(7*time.Minute+time.Millisecond).Format(time.RFC3339Nano))}, func(int) bool { return false }},
		{"created_at eq and a range", []events.LogFilter{lf("created_at", "eq", t0.Add(3*time.Minute).Format(time.RFC3339), t0.Add(12*time.Minute).Format(time.RFC3339)),
			lf("created_at", "gt", t0.Add(5*time.Minute).Format(time.RFC3339))}, func(i int) bool { return i == 12 }},
		{"dlp action", []events.LogFilter{lf("dlp_action", "eq", "FLAG")}, func(i int) bool { return i%7 == 1 && i%2 == 0 }},
		{"dlp action either", []events.LogFilter{lf("dlp_action", "eq", "FLAG", "BLOCK")}, func(i int) bool { return i%7 == 1 }},
		{"dlp action neq", []events.LogFilter{lf("dlp_action", "neq", "BLOCK")}, func(i int) bool { return i%7 != 1 || i%2 == 0 }},
		{"no dlp action", []events.LogFilter{lf("dlp_action", "eq", "")}, func(i int) bool { return i%7 != 1 }},
		{"feedback none", []events.LogFilter{lf("feedback", "eq", "0")}, func(int) bool { return true }},
		{"everything at once", []events.LogFilter{lf("provider", "eq", "openai"), lf("success", "eq", "true"),
			lf("metadata.key", "eq", "team"), lf("cost", "gt", "0.03")}, func(i int) bool { return i%2 == 0 && i%3 != 0 && i < 10 && i > 3 && i%5 != 0 }},
	}
	for _, c := range cases {
		for _, asc := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s asc=%v", c.name, asc), func(t *testing.T) {
				page, err := l.ListPage(storage.LogQuery{AccountID: "acct", GatewayID: "gw", Filters: c.fs, PerPage: 100, Ascending: asc})
				if err != nil {
					t.Fatal(err)
				}
				w := want(all, c.keep)
				if asc {
					slices.Reverse(w)
				}
				if got := ids(page.Records); !slices.Equal(got, w) || page.Total != len(w) || !page.Exact {
					t.Fatalf("got %v (total %d exact %v), want %v", got, page.Total, page.Exact, w)
				}
			})
		}
	}
}

func TestFilterErrorsNameTheKey(t *testing.T) {
	for _, c := range []struct {
		f   events.LogFilter
		msg string
	}{
		{lf("user_agent", "eq", "x"), `"user_agent" is not supported`},
		{lf("provider", "gt", "x"), `operator "gt" is not supported on provider`},
		{lf("success", "eq", "yes"), "success takes true or false"},
		{lf("cost", "lt", "cheap"), "cost takes a number"},
		{lf("created_at", "gt", "today"), "RFC 3339"},
		{lf("model", "eq"), "has no value"},
	} {
		err := storage.ValidateLogFilters([]events.LogFilter{c.f})
		var fe *storage.FilterError
		if !errors.As(err, &fe) || fe.Key != c.f.Key || !strings.Contains(fe.Message, c.msg) {
			t.Errorf("%+v: got %v, want %q", c.f, err, c.msg)
		}
	}
}

func TestFeedbackAndNoLog(t *testing.T) {
	s, l := openLogs(t)
	all := richCorpus(t, l)
	up, score := 1, 92.5
	apply(t, l,
		eventMsg(t, 31, events.TypeLogFeedback, events.VersionLogFeedback, events.LogFeedback{AccountID: "acct", GatewayID: "gw", LogID: all[2],
			Feedback: &up, Score: &score, Metadata: events.Metadata{"reviewer": "kim", "team": "green"}}),
		eventMsg(t, 32, events.TypeLogFeedback, events.VersionLogFeedback, events.LogFeedback{AccountID: "acct", GatewayID: "gw", LogID: "nosuch", Feedback: &up}))
	checkpoint(t, s, l, 32)
	r, err := l.Get("acct", "gw", all[2])
	if err != nil {
		t.Fatal(err)
	}
	if r.Feedback == nil || *r.Feedback != 1 || r.Score == nil || *r.Score != 92.5 || r.Metadata != `{"i":2,"reviewer":"kim","team":"green"}` {
		t.Fatalf("after feedback: %+v %v %s", r.Feedback, r.Score, r.Metadata)
	}
	for _, c := range []struct {
		fs   []events.LogFilter
		want []string
	}{
		{[]events.LogFilter{lf("feedback", "eq", "1")}, []string{all[2]}},
		{[]events.LogFilter{lf("metadata.key", "eq", "team"), lf("metadata.value", "eq", "green")}, []string{all[2]}},
		{[]events.LogFilter{lf("metadata.key", "eq", "team"), lf("metadata.value", "eq", "red"), lf("id", "eq", all[2])}, nil},
	} {
		recs, _, err := l.List(storage.LogQuery{AccountID: "acct", GatewayID: "gw", Filters: c.fs})
		if err != nil || !slices.Equal(ids(recs), c.want) {
			t.Errorf("%v: got %v (%v), want %v", c.fs, ids(recs), err, c.want)
		}
	}
	// A request asked not to be logged leaves no record (but still moves the checkpoint).
	f := finished(newID(t0.Add(time.Hour), rand.New(rand.NewSource(1))), "acct", "gw", "openai", "m", true, t0.Add(time.Hour))
	f.NoLog = true
	apply(t, l, msgOf(t, 33, f))
	checkpoint(t, s, l, 33)
	if _, err := l.Get("acct", "gw", f.LogID); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("no-log request stored: %v", err)
	}
	if _, total, _ := l.List(storage.LogQuery{AccountID: "acct", GatewayID: "gw"}); total != 30 {
		t.Fatalf("total %d, want 30", total)
	}
}

func TestDeleteByFilter(t *testing.T) {
	cases := []struct {
		name string
		d    events.LogsDeleted
		gone func(i int) bool
	}{
		{"failed anthropic", events.LogsDeleted{Filters: []events.LogFilter{lf("provider", "eq", "anthropic"), lf("success", "eq", "false")}},
			func(i int) bool { return i%2 == 1 && i%3 == 0 }},
		{"costly, at most 3, oldest first", events.LogsDeleted{Filters: []events.LogFilter{lf("cost", "gt", "0.1")}, Limit: 3, Ascending: true},
			func(i int) bool { return i == 11 || i == 12 || i == 13 }},
		{"at most 2 newest", events.LogsDeleted{Limit: 2}, func(i int) bool { return i >= 28 }},
		{"all", events.LogsDeleted{}, func(int) bool { return true }},
		{"metadata pair", events.LogsDeleted{Filters: []events.LogFilter{lf("metadata.key", "eq", "team"), lf("metadata.value", "eq", "red")}},
			func(i int) bool { return i < 10 && i%2 == 0 }},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, l := openLogs(t)
			all := richCorpus(t, l)
			c.d.AccountID, c.d.GatewayID = "acct", "gw"
			apply(t, l, eventMsg(t, 31, events.TypeLogsDeleted, events.VersionLogsDeleted, c.d))
			page, err := l.ListPage(storage.LogQuery{AccountID: "acct", GatewayID: "gw", PerPage: 100})
			if err != nil {
				t.Fatal(err)
			}
			w := want(all, func(i int) bool { return !c.gone(i) })
			if got := ids(page.Records); !slices.Equal(got, w) || page.Total != len(w) {
				t.Fatalf("left %v (total %d), want %v", got, page.Total, w)
			}
			// No index entry of a deleted record is left: every index query agrees.
			for _, f := range []events.LogFilter{lf("provider", "eq", "openai", "anthropic"), lf("success", "eq", "true", "false"),
				lf("cached", "eq", "true", "false"), lf("feedback", "eq", "0"), lf("request_type", "eq", "", "universal")} {
				recs, total, _ := l.List(storage.LogQuery{AccountID: "acct", GatewayID: "gw", PerPage: 100, Filters: []events.LogFilter{f}})
				if total != len(w) || len(recs) != len(w) {
					t.Fatalf("%v: %d (total %d), want %d", f, len(recs), total, len(w))
				}
			}
		})
	}
}

// A delete larger than one step (256 records) commits in steps yet removes exactly its
// limit, oldest first; a redelivered event changes nothing more.
func TestDeleteLimitOverSeveralSteps(t *testing.T) {
	_, l := openLogs(t)
	rng := rand.New(rand.NewSource(5))
	var batch []events.Msg
	var all []string
	for i := 0; i < 1000; i++ {
		at := t0.Add(time.Duration(i) * time.Second)
		f := finished(newID(at, rng), "acct", "gw", "openai", "m", true, at)
		all = append(all, f.LogID)
		batch = append(batch, msgOf(t, uint64(i+1), f))
	}
	apply(t, l, batch...)
	msg := eventMsg(t, 1001, events.TypeLogsDeleted, events.VersionLogsDeleted,
		events.LogsDeleted{AccountID: "acct", GatewayID: "gw", Limit: 700, Ascending: true})
	apply(t, l, msg)
	apply(t, l, msg) // at or below the checkpoint: skipped
	left := dump(t, l)
	if len(left) != 300 || left[0].ID != all[700] {
		t.Fatalf("%d left, want the newest 300", len(left))
	}
	if _, total, _ := l.List(storage.LogQuery{AccountID: "acct", GatewayID: "gw"}); total != 300 {
		t.Fatalf("count %d, want 300", total)
	}
}

func TestLogLimits(t *testing.T) {
	cases := []struct {
		strategy string
		keep     func(i int) bool
	}{
		{storage.StrategyStopInserting, func(i int) bool { return i < 5 }},
		{storage.StrategyDeleteOldest, func(i int) bool { return i >= 7 }},
	}
	for _, c := range cases {
		t.Run(c.strategy, func(t *testing.T) {
			_, l := openLogs(t)
			l.Limits = func(acct, gw string) (int64, string) {
				if gw == "small" {
					return 5, c.strategy
				}
				return 0, ""
			}
			rng := rand.New(rand.NewSource(2))
			var small []string
			for i := 0; i < 12; i++ {
				at := t0.Add(time.Duration(i) * time.Second)
				f := finished(newID(at, rng), "acct", "small", "openai", "m", true, at)
				g := finished(newID(at, rng), "acct", "big", "openai", "m", true, at)
				small = append(small, f.LogID)
				apply(t, l, msgOf(t, uint64(2*i+1), f), msgOf(t, uint64(2*i+2), g))
			}
			recs, total, err := l.List(storage.LogQuery{AccountID: "acct", GatewayID: "small", PerPage: 100})
			if err != nil {
				t.Fatal(err)
			}
			if w := want(small, c.keep); !slices.Equal(ids(recs), w) || total != 5 {
				t.Fatalf("kept %v (total %d), want %v", ids(recs), total, w)
			}
			if _, total, _ := l.List(storage.LogQuery{AccountID: "acct", GatewayID: "big"}); total != 12 {
				t.Fatalf("unlimited gateway has %d, want 12", total)
			}
			// Deleting makes room again under STOP_INSERTING; the count follows deletes.
			apply(t, l, eventMsg(t, 100, events.TypeLogsDeleted, events.VersionLogsDeleted, events.LogsDeleted{AccountID: "acct", GatewayID: "small", Limit: 2}))
			at := t0.Add(time.Minute)
			f := finished(newID(at, rng), "acct", "small", "openai", "m", true, at)
			apply(t, l, msgOf(t, 101, f))
			if _, err := l.Get("acct", "small", f.LogID); err != nil {
				t.Fatalf("no room after a delete: %v", err)
			}
			if _, total, _ := l.List(storage.LogQuery{AccountID: "acct", GatewayID: "small"}); total != 4 {
				t.Fatalf("total %d after delete 2 and insert 1, want 4", total)
			}
		})
	}
}

// Lowering the limit a lot trims many records in steps at the next insert.
func TestDeleteOldestTrimsInSteps(t *testing.T) {
	_, l := openLogs(t)
	rng := rand.New(rand.NewSource(4))
	var batch []events.Msg
	for i := 0; i < 1200; i++ {
		at := t0.Add(time.Duration(i) * time.Second)
		batch = append(batch, msgOf(t, uint64(i+1), finished(newID(at, rng), "acct", "gw", "openai", "m", true, at)))
	}
	apply(t, l, batch...)
	l.Limits = func(string, string) (int64, string) { return 10, storage.StrategyDeleteOldest }
	at := t0.Add(time.Hour)
	f := finished(newID(at, rng), "acct", "gw", "openai", "m", true, at)
	apply(t, l, msgOf(t, 1201, f))
	if all := dump(t, l); len(all) != 10 || all[9].ID != f.LogID {
		t.Fatalf("%d records left", len(all))
	}
	if _, total, _ := l.List(storage.LogQuery{AccountID: "acct", GatewayID: "gw", Provider: "openai"}); total != 10 {
		t.Fatalf("index total %d, want 10", total)
	}
}

// Replaying the whole log (inserts, feedback, deletes) into a fresh store gives the same
// records, in whatever batches it comes.
func TestReplayDeterministic(t *testing.T) {
	var log []events.Msg
	rng := rand.New(rand.NewSource(9))
	seq := uint64(0)
	next := func() uint64 { seq++; return seq }
	var ids []string
	var fins []events.Msg
	for i := 0; i < 300; i++ {
		at := t0.Add(time.Duration(i) * time.Second)
		f := finished(newID(at, rng), "acct", "gw", []string{"openai", "anthropic", "groq"}[i%3], "m", i%4 != 0, at)
		if i%2 == 0 {
			f.Metadata = events.Metadata{"team": fmt.Sprint(i % 5)}
		}
		ids = append(ids, f.LogID)
		fins = append(fins, msgOf(t, next(), f))
		log = append(log, fins[i])
		if i%10 == 9 {
			fb := i % 3
			log = append(log, eventMsg(t, next(), events.TypeLogFeedback, 1, events.LogFeedback{AccountID: "acct", GatewayID: "gw",
				LogID: ids[rng.Intn(len(ids))], Feedback: &fb, Metadata: events.Metadata{"seen": true}}))
		}
		if i%50 == 49 {
			log = append(log, eventMsg(t, next(), events.TypeLogsDeleted, 1, events.LogsDeleted{AccountID: "acct", GatewayID: "gw",
				Filters: []events.LogFilter{lf("success", "eq", "false"), lf("metadata.key", "eq", "team")}, Limit: 7}))
		}
		if i%37 == 36 { // feedback on a record, then its event stored twice: one record, feedback kept
			fb := 1
			log = append(log, eventMsg(t, next(), events.TypeLogFeedback, 1, events.LogFeedback{AccountID: "acct", GatewayID: "gw",
				LogID: ids[i-5], Feedback: &fb, Metadata: events.Metadata{"dup": "yes"}}))
			log = append(log, events.Msg{Seq: next(), Data: fins[i-5].Data})
		}
	}
	limits := func(string, string) (int64, string) { return 200, storage.StrategyDeleteOldest }
	// prepare: records made ahead by Logs.Prepare, as switchyard replay does.
	run := func(batchSize int, prepare bool) []storage.LogRecord {
		_, l := openLogs(t)
		l.Limits = limits
		for i := 0; i < len(log); i += batchSize {
			var batch []events.Msg
			for _, m := range log[i:min(i+batchSize, len(log))] {
				batch = events.Expand(batch, m.Seq, m.Data)
			}
			if prepare {
				l.Prepare(batch)
				if batch[0].Ahead() == nil && strings.Contains(string(batch[0].Data), string(events.TypeRequestFinished)) {
					t.Fatal("Prepare left a request.finished event unprepared")
				}
			}
			apply(t, l, batch...)
		}
		return dump(t, l)
	}
	a, b, c := run(1, false), run(64, false), run(64, true)
	if len(a) == 0 || len(a) > 200 || !reflect.DeepEqual(a, b) || !reflect.DeepEqual(a, c) {
		t.Fatalf("replays differ or exceed the limit: %d vs %d vs %d (prepared) records", len(a), len(b), len(c))
	}
}
