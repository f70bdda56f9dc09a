// analytics_groups_test.go checks the adaptive-groups query: a table of hand-made cases
// with their expected groups, and random queries over synthetic events compared with the
// groups worked out directly from the events.
package storage_test

import (
	"errors"
	"fmt"
	"math"
	"math/rand"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/switchyard/switchyard/events"
	"github.com/switchyard/switchyard/storage"
)

func ptr[T any](v T) *T { return &v }

func eq(v string) func(string) bool { return func(s string) bool { return s == v } }

// groupLine is a compact, comparable form of a group.
func groupLine(g storage.Group, dims []string) string {
	var b strings.Builder
	for _, d := range dims {
		fmt.Fprintf(&b, "%s=%s ", d, g.Dim(d))
	}
	s := g.Sum
	fmt.Fprintf(&b, "n=%d cost=%.4f ct=%d/%d ut=%d/%d err=%d cached=%d", g.Count, s.Cost,
		s.CachedTokensIn, s.CachedTokensOut, s.UncachedTokensIn, s.UncachedTokensOut, s.ErroredRequests, s.CachedRequests)
	return b.String()
}

func TestAnalyticsGroupsTable(t *testing.T) {
	_, a := openAnalytics(t)
	cost := func(f events.RequestFinished, c float64) events.RequestFinished { f.Cost = &c; return f }
	evs := []events.RequestFinished{
		cost(finished("a", "acc1", "gw1", "openai", "gpt-4o-mini", true, t0), 0.01),                     // 12:00
		cost(finished("b", "acc1", "gw1", "openai", "gpt-4o-mini", true, t0.Add(30*time.Second)), 0.02), // 12:00
		cost(finished("c", "acc1", "gw1", "anthropic", "claude", false, t0.Add(90*time.Second)), 0.005), // 12:01, failed
		cost(finished("d", "acc1", "gw2", "openai", "gpt-4o", true, t0.Add(61*time.Minute)), 0.03),      // 13:01
		cost(finished("e", "acc2", "gw1", "openai", "gpt-4o-mini", true, t0.Add(2*time.Minute)), 1),     // other account
		cost(finished("f", "acc1", "gw1", "openai", "gpt-4o-mini", true, t0.Add(25*time.Hour)), 0.04),   // next day 13:00
		finished("g", "acc1", "gw1", "openai", "gpt-4o-mini", true, t0.Add(10*time.Second)),             // 12:00, cached
	}
	evs[6].Cached, evs[6].TokensIn, evs[6].TokensOut = true, 7, 3
	applyAll(t, a, evs, 3)

	day := t0.Truncate(24 * time.Hour)
	cases := []struct {
		name string
		q    storage.GroupsQuery
		want []string
		err  string
	}{
		{name: "minute, model, provider, gateway (the reference's query)",
			q: storage.GroupsQuery{Start: t0, End: t0.Add(2 * time.Hour), Dims: []string{"model", "provider", "gateway", "datetimeMinute"},
				OrderBy: []storage.GroupOrder{{Field: "datetimeMinute"}}},
			want: []string{
				"model=gpt-4o-mini provider=openai gateway=gw1 datetimeMinute=2025-03-01T12:00:00Z n=3 cost=0.0300 ct=7/3 ut=20/40 err=0 cached=1",
				"model=claude provider=anthropic gateway=gw1 datetimeMinute=2025-03-01T12:01:00Z n=1 cost=0.0050 ct=0/0 ut=10/20 err=1 cached=0",
				"model=gpt-4o provider=openai gateway=gw2 datetimeMinute=2025-03-01T13:01:00Z n=1 cost=0.0300 ct=0/0 ut=10/20 err=0 cached=0",
			}},
		{name: "no dimension: one group of everything",
			q:    storage.GroupsQuery{Start: day, End: day.Add(48 * time.Hour)},
			want: []string{"n=6 cost=0.1050 ct=7/3 ut=50/100 err=1 cached=1"}},
		{name: "unbounded range",
			q:    storage.GroupsQuery{},
			want: []string{"n=6 cost=0.1050 ct=7/3 ut=50/100 err=1 cached=1"}},
		{name: "hour and date, by count desc",
			q: storage.GroupsQuery{Start: day, End: day.Add(48 * time.Hour), Dims: []string{"datetimeHour", "date"},
				OrderBy: []storage.GroupOrder{{Field: "count", Desc: true}}},
			want: []string{
				"datetimeHour=2025-03-01T12:00:00Z date=2025-03-01 n=4 cost=0.0350 ct=7/3 ut=30/60 err=1 cached=1",
				"datetimeHour=2025-03-01T13:00:00Z date=2025-03-01 n=1 cost=0.0300 ct=0/0 ut=10/20 err=0 cached=0",
				"datetimeHour=2025-03-02T13:00:00Z date=2025-03-02 n=1 cost=0.0400 ct=0/0 ut=10/20 err=0 cached=0",
			}},
		{name: "five minutes from minute edges",
			q:    storage.GroupsQuery{Start: t0.Add(time.Minute), End: t0.Add(62 * time.Minute), Dims: []string{"datetimeFiveMinutes"}},
			want: []string{"datetimeFiveMinutes=2025-03-01T12:00:00Z n=1 cost=0.0050 ct=0/0 ut=10/20 err=1 cached=0", "datetimeFiveMinutes=2025-03-01T13:00:00Z n=1 cost=0.0300 ct=0/0 ut=10/20 err=0 cached=0"}},
		{name: "end is exclusive and moved up to a whole minute",
			q:    storage.GroupsQuery{Start: t0, End: t0.Add(61*time.Minute + time.Second), Dims: []string{"gateway"}},
			want: []string{"gateway=gw1 n=4 cost=0.0350 ct=7/3 ut=30/60 err=1 cached=1", "gateway=gw2 n=1 cost=0.0300 ct=0/0 ut=10/20 err=0 cached=0"}},
		{name: "gateway admitted by the caller",
			q:    storage.GroupsQuery{Gateways: eq("gw2"), Dims: []string{"gateway"}},
			want: []string{"gateway=gw2 n=1 cost=0.0300 ct=0/0 ut=10/20 err=0 cached=0"}},
		{name: "provider filter, by sum_cost desc",
			q: storage.GroupsQuery{Provider: eq("openai"), Dims: []string{"model"},
				OrderBy: []storage.GroupOrder{{Field: "sum_cost", Desc: true}}},
			want: []string{"model=gpt-4o-mini n=4 cost=0.0700 ct=7/3 ut=30/60 err=0 cached=1", "model=gpt-4o n=1 cost=0.0300 ct=0/0 ut=10/20 err=0 cached=0"}},
		{name: "cached only",
			q:    storage.GroupsQuery{Cached: ptr(true), Dims: []string{"model"}},
			want: []string{"model=gpt-4o-mini n=1 cost=0.0000 ct=7/3 ut=0/0 err=0 cached=1"}},
		{name: "not cached",
			q:    storage.GroupsQuery{Cached: ptr(false), Dims: []string{"model"}},
			want: []string{"model=claude n=1 cost=0.0050 ct=0/0 ut=10/20 err=1 cached=0", "model=gpt-4o n=1 cost=0.0300 ct=0/0 ut=10/20 err=0 cached=0", "model=gpt-4o-mini n=3 cost=0.0700 ct=0/0 ut=30/60 err=0 cached=0"}},
		{name: "errors only",
			q:    storage.GroupsQuery{Error: ptr(true), Dims: []string{"provider"}},
			want: []string{"provider=anthropic n=1 cost=0.0050 ct=0/0 ut=10/20 err=1 cached=0"}},
		{name: "successes that were not cached, limit 1",
			q:    storage.GroupsQuery{Error: ptr(false), Cached: ptr(false), Dims: []string{"gateway"}, Limit: 1},
			want: []string{"gateway=gw1 n=3 cost=0.0700 ct=0/0 ut=30/60 err=0 cached=0"}},
		{name: "model filter matching nothing", q: storage.GroupsQuery{Model: eq("nope"), Dims: []string{"model"}}, want: []string{}},
		{name: "empty range", q: storage.GroupsQuery{Start: t0, End: t0}, want: []string{}},
		{name: "unknown dimension", q: storage.GroupsQuery{Dims: []string{"colour"}}, err: "unknown dimension"},
		{name: "order by an unselected dimension", q: storage.GroupsQuery{Dims: []string{"provider"}, OrderBy: []storage.GroupOrder{{Field: "model"}}}, err: "needs the dimension model"},
		{name: "order by a finer time than selected", q: storage.GroupsQuery{Dims: []string{"datetimeHour"}, OrderBy: []storage.GroupOrder{{Field: "datetimeMinute"}}}, err: "needs the dimension datetimeMinute"},
		{name: "unknown order", q: storage.GroupsQuery{OrderBy: []storage.GroupOrder{{Field: "sum_colour"}}}, err: "cannot order"},
		{name: "limit too large", q: storage.GroupsQuery{Limit: storage.MaxGroups + 1}, err: "limit"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			q := c.q
			if q.AccountID == "" {
				q.AccountID = "acc1"
			}
			got, err := a.Groups(q)
			if c.err != "" {
				var qe *storage.QueryError
				if !errors.As(err, &qe) || !strings.Contains(err.Error(), c.err) {
					t.Fatalf("err %v, want a QueryError with %q", err, c.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			lines := []string{}
			for _, g := range got {
				lines = append(lines, groupLine(g, q.Dims))
			}
			if !reflect.DeepEqual(lines, c.want) {
				t.Errorf("got\n  %s\nwant\n  %s", strings.Join(lines, "\n  "), strings.Join(c.want, "\n  "))
			}
		})
	}
}

// TestAnalyticsGroupsRandom compares random queries with the groups worked out from the events.
func TestAnalyticsGroupsRandom(t *testing.T) {
	_, a := openAnalytics(t)
	evs := synthetic(3000, 3*24*time.Hour, 7)
	for i := range evs {
		if evs[i].Cached { // a cache hit is a success, priced at zero (engine/cost.go)
			evs[i].Success, evs[i].Status = true, 200
		}
	}
	applyAll(t, a, evs, 500)
	rng := rand.New(rand.NewSource(3))
	allDims := []string{"gateway", "provider", "model", "date", "datetimeHour", "datetimeFifteenMinutes", "datetimeFiveMinutes", "datetimeMinute"}
	for n := range 60 {
		var q storage.GroupsQuery
		q.AccountID = "acc1"
		for _, d := range allDims {
			if rng.Intn(3) == 0 {
				q.Dims = append(q.Dims, d)
			}
		}
		units := []time.Duration{time.Minute, time.Hour, 24 * time.Hour}
		u := units[rng.Intn(3)]
		q.Start = t0.Truncate(u).Add(time.Duration(rng.Intn(3)) * u)
		q.End = q.Start.Add(time.Duration(1+rng.Intn(80)) * u)
		if rng.Intn(4) == 0 {
			q.Start = q.Start.Add(17 * time.Second) // moved down to its minute
		}
		switch rng.Intn(4) {
		case 0:
			q.Provider = eq("openai")
		case 1:
			q.Model = eq("gpt-4o")
		case 2:
			q.Gateway = eq("gw2")
		}
		if rng.Intn(3) == 0 {
			q.Cached = ptr(rng.Intn(2) == 0)
		}
		if rng.Intn(3) == 0 {
			q.Error = ptr(rng.Intn(2) == 0)
		}
		got, err := a.Groups(q)
		if err != nil {
			t.Fatalf("query %d: %v", n, err)
		}
		// Worked out from the events.
		want := map[string]*storage.Group{}
		lo := q.Start.Truncate(time.Minute)
		for _, f := range evs {
			at := f.StartedAt.UTC()
			if f.AccountID != "acc1" || at.Before(lo) || !at.Before(q.End) ||
				(q.Provider != nil && !q.Provider(f.Provider)) || (q.Model != nil && !q.Model(f.Model)) ||
				(q.Gateway != nil && !q.Gateway(f.GatewayID)) ||
				(q.Cached != nil && *q.Cached != f.Cached) || (q.Error != nil && *q.Error == f.Success) {
				continue
			}
			g := storage.Group{Time: at.Truncate(time.Minute)}
			var k []string
			for _, d := range q.Dims {
				switch d {
				case "gateway":
					g.Gateway = f.GatewayID
				case "provider":
					g.Provider = f.Provider
				case "model":
					g.Model = f.Model
				}
				k = append(k, g.Dim(d))
			}
			key := strings.Join(k, "|")
			w := want[key]
			if w == nil {
				w = &g
				want[key] = w
			}
			w.Count++
			if f.Cost != nil { // summed in units of 10⁻¹⁰ USD, as the rollups do
				w.Sum.Cost = (math.Round(w.Sum.Cost*1e10) + math.Round(*f.Cost*1e10)) / 1e10
			}
			if f.Cached {
				w.Sum.CachedRequests++
				w.Sum.CachedTokensIn += uint64(f.TokensIn)
				w.Sum.CachedTokensOut += uint64(f.TokensOut)
			} else {
				w.Sum.UncachedTokensIn += uint64(f.TokensIn)
				w.Sum.UncachedTokensOut += uint64(f.TokensOut)
			}
			if !f.Success {
				w.Sum.ErroredRequests++
			}
		}
		gotLines := []string{}
		for _, g := range got {
			gotLines = append(gotLines, groupLine(g, q.Dims))
			if math.IsNaN(g.Sum.Cost) {
				t.Fatalf("NaN cost")
			}
		}
		wantLines := []string{}
		for _, g := range want {
			wantLines = append(wantLines, groupLine(*g, q.Dims))
		}
		slices.Sort(gotLines)
		slices.Sort(wantLines)
		if !reflect.DeepEqual(gotLines, wantLines) {
			var diff []string
			for _, l := range gotLines {
				if !slices.Contains(wantLines, l) {
					diff = append(diff, "+ "+l)
				}
			}
			for _, l := range wantLines {
				if !slices.Contains(gotLines, l) {
					diff = append(diff, "- "+l)
				}
			}
			t.Fatalf("query %d %+v: %d groups, want %d:\n%s", n, q, len(gotLines), len(wantLines), strings.Join(diff, "\n"))
		}
	}
}
