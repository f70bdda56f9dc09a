// analytics_bench_test.go times the analytics projection on three months of traffic: one
// request a minute for each of three provider/model pairs (388,800 request.finished events,
// each with one metadata entry), applied through Apply as the consumer does, then the
// queries the API answers and a month's spend; and the cost of Apply per event under live
// traffic. Loading three months takes a while, so that part runs only with
// SWITCHYARD_BENCH_ANALYTICS=1:
//
//	SWITCHYARD_BENCH_ANALYTICS=1 go test ./storage/ -run '^$' -bench Analytics -benchtime 2s
package storage_test

import (
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/switchyard/switchyard/events"
	"github.com/switchyard/switchyard/storage"
)

func BenchmarkAnalytics(b *testing.B) {
	if os.Getenv("SWITCHYARD_BENCH_ANALYTICS") == "" {
		b.Skip("set SWITCHYARD_BENCH_ANALYTICS=1 to load three months of events")
	}
	s, err := storage.Open(storage.Options{Dir: b.TempDir()})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	a, err := storage.NewAnalytics(s)
	if err != nil {
		b.Fatal(err)
	}
	const days = 90
	start := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	end := start.Add(days * 24 * time.Hour)
	teams := []string{"search", "ads", "support", "growth"}
	loadStart := time.Now()
	var seq uint64
	var inApply time.Duration
	batch := make([]events.Msg, 0, 1000)
	for m := 0; m < days*24*60; m++ {
		at := start.Add(time.Duration(m)*time.Minute + 17*time.Second)
		for i, p := range pairs {
			seq++
			f := finished(strconv.FormatUint(seq, 10), "acc1", "gw1", p[0], p[1], m%50 != 0, at)
			f.Cached = m%4 == 0
			f.DurationMs = float64(200 + (m*7+i*13)%900)
			f.TokensIn, f.TokensOut = int64(100+m%300), int64(20+m%90)
			c := float64(f.TokensIn)*1.5e-7 + float64(f.TokensOut)*6e-7
			f.Cost = &c
			f.Metadata = events.Metadata{"team": teams[(m+i)%len(teams)]}
			batch = append(batch, msgOf(b, seq, f))
			if len(batch) == cap(batch) {
				t := time.Now()
				if err := a.Apply(batch); err != nil {
					b.Fatal(err)
				}
				inApply += time.Since(t)
				batch = batch[:0]
			}
		}
	}
	if err := a.Apply(batch); err != nil {
		b.Fatal(err)
	}
	load := time.Since(loadStart)
	b.Logf("loaded %d events in %v, of which %v in Apply (%.1f µs/event; the rest is encoding them)", seq,
		load.Round(time.Millisecond), inApply.Round(time.Millisecond), float64(inApply.Microseconds())/float64(seq))

	last24 := end.Add(-24 * time.Hour)
	queries := []struct {
		name string
		q    storage.AnalyticsQuery
	}{
		{"3 months, day step", storage.AnalyticsQuery{Start: start, End: end, Step: storage.StepDay}},
		{"3 months, day step, by model", storage.AnalyticsQuery{Start: start, End: end, Step: storage.StepDay, GroupBy: "model"}},
		{"3 months, day step, by metadata", storage.AnalyticsQuery{Start: start, End: end, Step: storage.StepDay, GroupBy: "metadata.team"}},
		{"60 days, hour step, openai", storage.AnalyticsQuery{Start: end.Add(-60 * 24 * time.Hour), End: end, Step: storage.StepHour, Provider: "openai"}},
		{"24 h, minute step", storage.AnalyticsQuery{Start: last24, End: end, Step: storage.StepMinute}},
		{"24 h, minute step, by provider", storage.AnalyticsQuery{Start: last24, End: end, Step: storage.StepMinute, GroupBy: "provider"}},
	}
	for _, tc := range queries {
		b.Run(tc.name, func(b *testing.B) {
			q := tc.q
			q.AccountID, q.GatewayID = "acc1", "gw1"
			for b.Loop() {
				res, err := a.Query(q)
				if err != nil {
					b.Fatal(err)
				}
				if res.Totals.Requests == 0 {
					b.Fatal("no requests")
				}
			}
		})
	}
	b.Run("spend, one month at minute edges", func(b *testing.B) {
		from := start.Add(31*24*time.Hour + 7*time.Hour + 13*time.Minute)
		to := from.Add(30*24*time.Hour + 9*time.Hour + 51*time.Minute)
		for b.Loop() {
			if a.Spend("acc1", "gw1", from, to) == 0 {
				b.Fatal("no spend")
			}
		}
	})
}

// BenchmarkAnalyticsApply is the projection's cost per event under live traffic: 1,000
// requests a second over three provider/model pairs and four metadata values, in batches
// of 256 (many events share their minute's buckets). Only Apply is timed.
func BenchmarkAnalyticsApply(b *testing.B) {
	s, err := storage.Open(storage.Options{Dir: b.TempDir()})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	a, err := storage.NewAnalytics(s)
	if err != nil {
		b.Fatal(err)
	}
	teams := []string{"search", "ads", "support", "growth"}
	start := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	batch := make([]events.Msg, 0, 256)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; {
		b.StopTimer()
		batch = batch[:0]
		for ; len(batch) < cap(batch) && i < b.N; i++ {
			p := pairs[i%len(pairs)]
			f := finished(strconv.Itoa(i), "acc1", "gw1", p[0], p[1], i%50 != 0, start.Add(time.Duration(i)*time.Millisecond))
			f.DurationMs = float64(200 + i%900)
			c := 1e-4
			f.Cost = &c
			f.Metadata = events.Metadata{"team": teams[i%len(teams)]}
			batch = append(batch, msgOf(b, uint64(i+1), f))
		}
		b.StartTimer()
		if err := a.Apply(batch); err != nil {
			b.Fatal(err)
		}
	}
}
