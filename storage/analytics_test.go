// analytics_test.go checks the analytics projection against a known set of synthetic
// request.finished events: every point of every query is compared with the same figures
// worked out directly from the events (counts, sums, cache hit ratio, percentiles within
// the documented bound), for each step, grouping and filter, plus re-delivery, spend
// totals and refused queries.
package storage_test

import (
	"errors"
	"fmt"
	"math"
	"math/rand"
	"reflect"
	"sort"
	"testing"
	"time"

	"github.com/switchyard/switchyard/events"
	"github.com/switchyard/switchyard/storage"
)

func openAnalytics(tb testing.TB) (*storage.Store, *storage.Analytics) {
	tb.Helper()
	s, _ := openLogs(tb)
	a, err := storage.NewAnalytics(s)
	if err != nil {
		tb.Fatalf("new analytics: %v", err)
	}
	return s, a
}

var pairs = [][2]string{{"openai", "gpt-4o-mini"}, {"openai", "gpt-4o"}, {"anthropic", "claude-sonnet-4-5"}}

// synthetic makes n events over the span after t0, on gateways gw1 and gw2 of acc1 (and
// a few on acc2), with failures, cache hits, unknown prices, NoLog and metadata.
func synthetic(n int, span time.Duration, seed int64) []events.RequestFinished {
	rng := rand.New(rand.NewSource(seed))
	out := make([]events.RequestFinished, 0, n)
	for i := range n {
		at := t0.Add(time.Duration(rng.Int63n(int64(span))))
		p := pairs[rng.Intn(len(pairs))]
		acct, gw := "acc1", "gw1"
		switch rng.Intn(10) {
		case 0, 1, 2:
			gw = "gw2"
		case 3:
			acct = "acc2"
		}
		f := finished(newID(at, rng), acct, gw, p[0], p[1], rng.Intn(7) != 0, at)
		f.Cached = rng.Intn(4) == 0
		f.NoLog = rng.Intn(5) == 0
		if k := rng.Intn(9); k < 3 {
			f.DLP = &events.DLPResult{Action: []string{"FLAG", "REDACT", "BLOCK"}[k]}
		}
		f.DurationMs = math.Exp(rng.Float64() * math.Log(30000)) // 1 ms to 30 s, log-uniform
		f.TokensIn, f.TokensOut = int64(rng.Intn(2000)), int64(rng.Intn(500))
		if rng.Intn(6) != 0 {
			c := float64(f.TokensIn)*2.5e-7 + float64(f.TokensOut)*1e-6
			f.Cost = &c
		}
		switch rng.Intn(4) {
		case 0:
		case 1:
			f.Metadata = events.Metadata{"team": "search"}
		case 2:
			f.Metadata = events.Metadata{"team": "ads", "tier": float64(rng.Intn(3)), "beta": rng.Intn(2) == 0}
		case 3:
			f.Metadata = events.Metadata{"tier": 2.0, "user": fmt.Sprintf("u%d", i%7)}
		}
		out = append(out, f)
	}
	return out
}

func applyAll(tb testing.TB, a *storage.Analytics, evs []events.RequestFinished, batch int) {
	tb.Helper()
	for i := 0; i < len(evs); i += batch {
		var msgs []events.Msg
		for j := i; j < min(i+batch, len(evs)); j++ {
			msgs = append(msgs, msgOf(tb, uint64(j+1), evs[j]))
		}
		if err := a.Apply(msgs); err != nil {
			tb.Fatalf("apply: %v", err)
		}
	}
}

// expect works a point's figures out from the events themselves.
type expect struct {
	requests, errors, cached, tin, tout, priced uint64
	flagged, blocked                            uint64
	cost                                        float64
	durations                                   []float64
}

func (e *expect) add(f events.RequestFinished) {
	e.requests++
	if !f.Success {
		e.errors++
	}
	if f.Cached {
		e.cached++
	}
	if f.DLP != nil && f.DLP.Action == "BLOCK" {
		e.blocked++
	} else if f.DLP != nil {
		e.flagged++
	}
	e.tin += uint64(f.TokensIn)
	e.tout += uint64(f.TokensOut)
	if f.Cost != nil {
		e.priced++
		e.cost += *f.Cost
	}
	e.durations = append(e.durations, f.DurationMs)
}

func nearestRank(d []float64, p float64) float64 {
	s := append([]float64(nil), d...)
	sort.Float64s(s)
	return s[max(int(math.Ceil(p*float64(len(s)))), 1)-1]
}

// within is the documented bound: 4.9 % of the exact value plus 0.05 ms of rounding
// (under 0.1 ms below 0.1 ms).
func within(got, exact float64) bool {
	return math.Abs(got-exact) <= 0.049*exact+0.05 || (exact < 0.1 && got <= 0.1)
}

func checkStats(t *testing.T, what string, got storage.AnalyticsStats, e expect) {
	t.Helper()
	if got.Requests != e.requests || got.Errors != e.errors || got.Cached != e.cached ||
		got.TokensIn != e.tin || got.TokensOut != e.tout || got.PricedRequests != e.priced {
		t.Errorf("%s: got requests %d errors %d cached %d tokens %d/%d priced %d, want %d %d %d %d/%d %d", what,
			got.Requests, got.Errors, got.Cached, got.TokensIn, got.TokensOut, got.PricedRequests,
			e.requests, e.errors, e.cached, e.tin, e.tout, e.priced)
	}
	if got.DLPFlagged != e.flagged || got.DLPBlocked != e.blocked {
		t.Errorf("%s: DLP flagged %d blocked %d, want %d %d", what, got.DLPFlagged, got.DLPBlocked, e.flagged, e.blocked)
	}
	if math.Abs(got.Cost-e.cost) > 1e-9*float64(e.requests)+1e-12 {
		t.Errorf("%s: cost %.12f, want %.12f", what, got.Cost, e.cost)
	}
	if e.requests == 0 {
		if got.DurationP50 != nil || got.DurationP95 != nil || got.CacheHitRatio != 0 {
			t.Errorf("%s: empty point has p50 %v p95 %v ratio %v", what, got.DurationP50, got.DurationP95, got.CacheHitRatio)
		}
		return
	}
	if want := float64(e.cached) / float64(e.requests); math.Abs(got.CacheHitRatio-want) > 1e-12 {
		t.Errorf("%s: cache hit ratio %v, want %v", what, got.CacheHitRatio, want)
	}
	for _, pc := range []struct {
		p   float64
		got *float64
	}{{0.5, got.DurationP50}, {0.95, got.DurationP95}} {
		exact := nearestRank(e.durations, pc.p)
		if pc.got == nil || !within(*pc.got, exact) {
			t.Errorf("%s: p%.0f = %v, want %.3f within 4.9%%", what, pc.p*100, pc.got, exact)
		}
	}
}

func TestAnalyticsAgainstKnownEvents(t *testing.T) {
	evs := synthetic(3000, 50*time.Hour, 7)
	_, a := openAnalytics(t)
	applyAll(t, a, evs, 137)
	const acct = "acc1"
	groupOf := func(f events.RequestFinished, by string) (string, bool) {
		switch by {
		case "":
			return "", true
		case "provider":
			return f.Provider, true
		case "model":
			return f.Model, true
		case "gateway":
			return f.GatewayID, true
		}
		v, ok := f.Metadata[by[len("metadata."):]]
		if !ok {
			return "", true // requests without the key are the "" group
		}
		return storage.MetadataString(v), true
	}
	cases := []struct {
		name string
		q    storage.AnalyticsQuery
	}{
		{"minute, one series", storage.AnalyticsQuery{GatewayID: "gw1", Start: t0.Add(3 * time.Hour), End: t0.Add(5 * time.Hour), Step: storage.StepMinute}},
		{"hour by provider", storage.AnalyticsQuery{GatewayID: "gw1", Start: t0, End: t0.Add(50 * time.Hour), Step: storage.StepHour, GroupBy: "provider"}},
		{"day by model", storage.AnalyticsQuery{GatewayID: "gw1", Start: t0, End: t0.Add(50 * time.Hour), Step: storage.StepDay, GroupBy: "model"}},
		{"hour by metadata team", storage.AnalyticsQuery{GatewayID: "gw1", Start: t0, End: t0.Add(30 * time.Hour), Step: storage.StepHour, GroupBy: "metadata.team"}},
		{"hour by numeric metadata, openai only", storage.AnalyticsQuery{GatewayID: "gw1", Start: t0, End: t0.Add(30 * time.Hour), Step: storage.StepHour, GroupBy: "metadata.tier", Provider: "openai"}},
		{"day by boolean metadata, one model", storage.AnalyticsQuery{GatewayID: "gw2", Start: t0, End: t0.Add(72 * time.Hour), Step: storage.StepDay, GroupBy: "metadata.beta", Model: "gpt-4o"}},
		{"minute, filtered by model", storage.AnalyticsQuery{GatewayID: "gw2", Start: t0.Add(10 * time.Hour), End: t0.Add(11*time.Hour + 30*time.Second), Step: storage.StepMinute, Model: "claude-sonnet-4-5"}},
		{"all gateways by gateway", storage.AnalyticsQuery{Start: t0, End: t0.Add(50 * time.Hour), Step: storage.StepDay, GroupBy: "gateway"}},
		{"all gateways, filtered, one series", storage.AnalyticsQuery{Start: t0, End: t0.Add(50 * time.Hour), Step: storage.StepHour, Provider: "anthropic"}},
		{"user ids past the limit", storage.AnalyticsQuery{GatewayID: "gw1", Start: t0, End: t0.Add(50 * time.Hour), Step: storage.StepDay, GroupBy: "metadata.user", Limit: 3}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			q := tc.q
			q.AccountID = acct
			res, err := a.Query(q)
			if err != nil {
				t.Fatalf("query: %v", err)
			}
			w := map[string]time.Duration{storage.StepMinute: time.Minute, storage.StepHour: time.Hour, storage.StepDay: 24 * time.Hour}[q.Step]
			if !res.Start.Equal(q.Start.Truncate(w)) || res.End.Before(q.End) || res.End.Sub(res.Start)%w != 0 {
				t.Fatalf("range %v..%v for %v..%v", res.Start, res.End, q.Start, q.End)
			}
			wantPoints := int(res.End.Sub(res.Start) / w)
			match := func(f events.RequestFinished) bool {
				return f.AccountID == acct && (q.GatewayID == "" || f.GatewayID == q.GatewayID) &&
					(q.Provider == "" || f.Provider == q.Provider) && (q.Model == "" || f.Model == q.Model) &&
					!f.StartedAt.Before(res.Start) && f.StartedAt.Before(res.End)
			}
			var total expect
			byGroup := map[string]*expect{}
			for _, f := range evs {
				if !match(f) {
					continue
				}
				total.add(f)
				g, _ := groupOf(f, q.GroupBy)
				if byGroup[g] == nil {
					byGroup[g] = &expect{}
				}
				byGroup[g].add(f)
			}
			checkStats(t, "totals", res.Totals, total)
			limit := q.Limit
			if limit == 0 {
				limit = 10
			}
			if want := min(len(byGroup), limit) + map[bool]int{true: 1}[len(byGroup) > limit]; len(res.Series) != max(want, 1) {
				t.Fatalf("%d series, want %d (groups %v)", len(res.Series), want, len(byGroup))
			}
			shown := map[string]bool{}
			for _, s := range res.Series {
				if !s.Others {
					shown[s.Group] = true
				}
			}
			for si, s := range res.Series {
				if len(s.Points) != wantPoints {
					t.Fatalf("series %q has %d points, want %d", s.Group, len(s.Points), wantPoints)
				}
				in := func(f events.RequestFinished) bool {
					g, _ := groupOf(f, q.GroupBy)
					if s.Others {
						return !shown[g]
					}
					return g == s.Group
				}
				if si > 0 && !s.Others && s.Totals.Requests > res.Series[si-1].Totals.Requests {
					t.Errorf("series not ordered by requests: %q after %q", s.Group, res.Series[si-1].Group)
				}
				var st expect
				for pi, p := range s.Points {
					if want := res.Start.Add(time.Duration(pi) * w); !p.Time.Equal(want) {
						t.Fatalf("point %d at %v, want %v", pi, p.Time, want)
					}
					var e expect
					for _, f := range evs {
						if match(f) && in(f) && !f.StartedAt.Before(p.Time) && f.StartedAt.Before(p.Time.Add(w)) {
							e.add(f)
							st.add(f)
						}
					}
					checkStats(t, fmt.Sprintf("series %q point %v", s.Group, p.Time), p.AnalyticsStats, e)
				}
				checkStats(t, fmt.Sprintf("series %q totals", s.Group), s.Totals, st)
			}
		})
	}
}

// TestAnalyticsStepsAgree: the same range read at minute, hour and day steps has the
// same totals, costs included to the last unit.
func TestAnalyticsStepsAgree(t *testing.T) {
	evs := synthetic(2000, 40*time.Hour, 11)
	_, a := openAnalytics(t)
	applyAll(t, a, evs, 500)
	start, end := t0.Truncate(24*time.Hour), t0.Truncate(24*time.Hour).Add(24*time.Hour)
	var totals []storage.AnalyticsStats
	for _, step := range []string{storage.StepMinute, storage.StepHour, storage.StepDay} {
		res, err := a.Query(storage.AnalyticsQuery{AccountID: "acc1", GatewayID: "gw1", Start: start, End: end, Step: step, GroupBy: "model"})
		if err != nil {
			t.Fatal(err)
		}
		if res.Totals.Requests == 0 {
			t.Fatal("no requests in range")
		}
		totals = append(totals, res.Totals)
		// The series of one step add up to the totals.
		var sum uint64
		for _, s := range res.Series {
			for _, p := range s.Points {
				sum += p.Requests
			}
		}
		if sum != res.Totals.Requests {
			t.Errorf("%s: points add up to %d requests, totals say %d", step, sum, res.Totals.Requests)
		}
	}
	for i := 1; i < len(totals); i++ {
		if !reflect.DeepEqual(totals[i], totals[0]) {
			t.Errorf("step %d totals %+v differ from minute totals %+v", i, totals[i], totals[0])
		}
	}
}

// TestAnalyticsRedelivery: batches delivered twice, overlapping or one event at a time
// give the state of a single delivery; big batches are split between events.
func TestAnalyticsRedelivery(t *testing.T) {
	evs := synthetic(1200, 30*24*time.Hour, 3) // spread out: most events touch fresh keys
	q := storage.AnalyticsQuery{AccountID: "acc1", GatewayID: "gw1", Start: t0, End: t0.Add(31 * 24 * time.Hour), Step: storage.StepDay, GroupBy: "metadata.user"}
	_, once := openAnalytics(t)
	applyAll(t, once, evs, len(evs))
	want, err := once.Query(q)
	if err != nil {
		t.Fatal(err)
	}
	if once.Applied() != uint64(len(evs)) {
		t.Fatalf("applied %d, want %d", once.Applied(), len(evs))
	}
	msgs := make([]events.Msg, len(evs))
	for i, f := range evs {
		msgs[i] = msgOf(t, uint64(i+1), f)
	}
	cases := []struct {
		name    string
		batches [][]events.Msg
	}{
		{"same batch twice", [][]events.Msg{msgs, msgs}},
		{"overlapping batches", [][]events.Msg{msgs[:700], msgs[300:900], msgs[850:], msgs[:10]}},
		{"one by one, each twice", func() [][]events.Msg {
			var b [][]events.Msg
			for i := range msgs {
				b = append(b, msgs[i:i+1], msgs[i:i+1])
			}
			return b
		}()},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s, a := openAnalytics(t)
			for _, b := range tc.batches {
				if err := a.Apply(b); err != nil {
					t.Fatal(err)
				}
			}
			got, err := a.Query(q)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("state differs from a single delivery:\n got totals %+v\nwant totals %+v", got.Totals, want.Totals)
			}
			if cp, _ := s.Checkpoint(storage.AnalyticsProjection); cp != uint64(len(evs)) {
				t.Errorf("checkpoint %d, want %d", cp, len(evs))
			}
			// Reopening reads the checkpoint: nothing is applied again.
			again, err := storage.NewAnalytics(s)
			if err != nil {
				t.Fatal(err)
			}
			if err := again.Apply(msgs[len(msgs)-5:]); err != nil {
				t.Fatal(err)
			}
			if got, _ := again.Query(q); !reflect.DeepEqual(got, want) {
				t.Error("a reopened projection applied old events again")
			}
		})
	}
}

func TestAnalyticsSkipsForeignEvents(t *testing.T) {
	_, a := openAnalytics(t)
	fb, err := events.Encode(events.TypeLogFeedback, events.VersionLogFeedback, "x", t0, events.LogFeedback{AccountID: "acc1", GatewayID: "gw1", LogID: "l"})
	if err != nil {
		t.Fatal(err)
	}
	noGW := finished("id", "acc1", "", "openai", "m", true, t0)
	ok := finished("id2", "acc1", "gw1", "openai", "m", true, t0)
	ok.NoLog = true
	if err := a.Apply([]events.Msg{{Seq: 1, Data: []byte("not json")}, {Seq: 2, Data: fb}, msgOf(t, 3, noGW), msgOf(t, 4, ok)}); err != nil {
		t.Fatal(err)
	}
	if a.Applied() != 4 {
		t.Errorf("applied %d, want 4", a.Applied())
	}
	res, err := a.Query(storage.AnalyticsQuery{AccountID: "acc1", GatewayID: "gw1", Start: t0, End: t0.Add(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	if res.Totals.Requests != 1 || res.Step != storage.StepMinute {
		t.Errorf("requests %d step %s, want the one NoLog request at minute step", res.Totals.Requests, res.Step)
	}
}

func TestSpend(t *testing.T) {
	evs := synthetic(4000, 9*24*time.Hour, 5)
	_, a := openAnalytics(t)
	applyAll(t, a, evs, 1000)
	exact := func(gw string, from, to time.Time) float64 {
		from = from.Truncate(time.Minute)
		var s float64
		for _, f := range evs {
			if f.AccountID == "acc1" && f.GatewayID == gw && f.Cost != nil && !f.StartedAt.Before(from) && f.StartedAt.Before(to) {
				s += *f.Cost
			}
		}
		return s
	}
	ceilMin := func(x time.Time) time.Time {
		if y := x.Truncate(time.Minute); y.Before(x) {
			return y.Add(time.Minute)
		}
		return x
	}
	cases := []struct {
		name     string
		gw       string
		from, to time.Time
	}{
		{"inside one minute", "gw1", t0.Add(90 * time.Second), t0.Add(100 * time.Second)},
		{"inside one hour", "gw1", t0.Add(5*time.Minute + 7*time.Second), t0.Add(47 * time.Minute)},
		{"across hours", "gw1", t0.Add(37 * time.Minute), t0.Add(5*time.Hour + 13*time.Minute)},
		{"across days", "gw1", t0.Add(-3*time.Hour - 17*time.Minute), t0.Add(6*24*time.Hour + 3*time.Hour + 41*time.Minute + 5*time.Second)},
		{"whole days", "gw2", t0.Truncate(24 * time.Hour), t0.Truncate(24 * time.Hour).Add(5 * 24 * time.Hour)},
		{"calendar month so far", "gw2", time.Date(2025, 3, 1, 0, 0, 0, 0, time.UTC), t0.Add(8*24*time.Hour + 59*time.Second)},
		{"empty range", "gw1", t0.Add(time.Hour), t0.Add(time.Hour)},
		{"reversed range", "gw1", t0.Add(2 * time.Hour), t0.Add(time.Hour)},
		{"unknown gateway", "nope", t0, t0.Add(48 * time.Hour)},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := a.Spend("acc1", tc.gw, tc.from, tc.to)
			want := 0.0
			if tc.to.After(tc.from) {
				want = exact(tc.gw, tc.from, ceilMin(tc.to))
			}
			if math.Abs(got-want) > 1e-9 {
				t.Errorf("spend %.10f, want %.10f", got, want)
			}
		})
	}
	// The same figure as the analytics totals for an aligned range.
	res, err := a.Query(storage.AnalyticsQuery{AccountID: "acc1", GatewayID: "gw1", Start: t0, End: t0.Add(48 * time.Hour), Step: storage.StepHour})
	if err != nil {
		t.Fatal(err)
	}
	if got := a.Spend("acc1", "gw1", t0, t0.Add(48*time.Hour)); got != res.Totals.Cost || got == 0 {
		t.Errorf("spend %v, analytics cost %v", got, res.Totals.Cost)
	}
}

func TestAnalyticsRefusedQueries(t *testing.T) {
	_, a := openAnalytics(t)
	cases := []struct {
		name  string
		q     storage.AnalyticsQuery
		field string
	}{
		{"unknown step", storage.AnalyticsQuery{GatewayID: "gw1", Start: t0, End: t0.Add(time.Hour), Step: "week"}, "step"},
		{"end before start", storage.AnalyticsQuery{GatewayID: "gw1", Start: t0, End: t0.Add(-time.Hour)}, "end"},
		{"too many points", storage.AnalyticsQuery{GatewayID: "gw1", Start: t0, End: t0.Add(26 * time.Hour), Step: storage.StepMinute}, "step"},
		{"unknown grouping", storage.AnalyticsQuery{GatewayID: "gw1", Start: t0, End: t0.Add(time.Hour), GroupBy: "path"}, "group_by"},
		{"gateway grouping of one gateway", storage.AnalyticsQuery{GatewayID: "gw1", Start: t0, End: t0.Add(time.Hour), GroupBy: "gateway"}, "group_by"},
		{"metadata without key", storage.AnalyticsQuery{GatewayID: "gw1", Start: t0, End: t0.Add(time.Hour), GroupBy: "metadata."}, "group_by"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tc.q.AccountID = "acc1"
			_, err := a.Query(tc.q)
			var qe *storage.QueryError
			if !errors.As(err, &qe) || qe.Field != tc.field {
				t.Errorf("error %v, want a QueryError on %s", err, tc.field)
			}
		})
	}
}

func TestDefaultStep(t *testing.T) {
	for _, tc := range []struct {
		d    time.Duration
		want string
	}{{time.Hour, storage.StepMinute}, {24 * time.Hour, storage.StepMinute}, {25 * time.Hour, storage.StepHour},
		{60 * 24 * time.Hour, storage.StepHour}, {90 * 24 * time.Hour, storage.StepDay}} {
		if got := storage.DefaultStep(t0, t0.Add(tc.d)); got != tc.want {
			t.Errorf("DefaultStep(%v) = %s, want %s", tc.d, got, tc.want)
		}
	}
}

// Rollups wait in memory and are written about once a second with their checkpoint; a
// restart before that write loses nothing: the projection resumes from the stored
// checkpoint and redoes exactly what memory held, so the sums stay exact.
func TestAnalyticsRollupsWrittenInBatchesAndExactAfterRestart(t *testing.T) {
	evs := synthetic(400, time.Hour, 21)
	q := storage.AnalyticsQuery{AccountID: "acc1", GatewayID: "gw1", Start: t0, End: t0.Add(time.Hour), Step: storage.StepMinute, GroupBy: "model"}
	_, ref := openAnalytics(t)
	applyAll(t, ref, evs, 50)
	want, err := ref.Query(q)
	if err != nil {
		t.Fatal(err)
	}

	s, a := openAnalytics(t)
	applyAll(t, a, evs[:300], 50)
	stored, err := s.Checkpoint(storage.AnalyticsProjection)
	if err != nil {
		t.Fatal(err)
	}
	if a.Applied() != 300 || stored >= 300 {
		t.Fatalf("applied %d, stored checkpoint %d: want 300 applied and the write still waiting", a.Applied(), stored)
	}
	// "Restart": a new projection over the same store, fed from its stored checkpoint on.
	again, err := storage.NewAnalytics(s)
	if err != nil {
		t.Fatal(err)
	}
	if again.Applied() != stored {
		t.Fatalf("reopened at %d, want the stored checkpoint %d", again.Applied(), stored)
	}
	var rest []events.Msg
	for i := int(stored); i < len(evs); i++ {
		rest = append(rest, msgOf(t, uint64(i+1), evs[i]))
	}
	if err := again.Apply(rest); err != nil {
		t.Fatal(err)
	}
	got, err := again.Query(q)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("after a restart before the write: %d requests, want %d", got.Totals.Requests, want.Totals.Requests)
	}
	if c, _ := s.Checkpoint(storage.AnalyticsProjection); c != uint64(len(evs)) {
		t.Errorf("a query wrote checkpoint %d, want %d (it flushes first)", c, len(evs))
	}
}
