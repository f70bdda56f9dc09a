// evals_bench_test.go measures creating an evaluation over a real Badger logs
// projection: 50,000 logs, a dataset of the 25,000 OpenAI ones (capped at the newest
// 10,000 read) with and without a residual cost filter.
//
//	go test ./engine/controlapi/ -run '^$' -bench CreateEvaluation -benchtime 10x
package controlapi

import (
	"context"
	"fmt"
	"math/rand"
	"testing"
	"time"

	"github.com/oklog/ulid/v2"
	"github.com/switchyard/switchyard/engine/providers"
	"github.com/switchyard/switchyard/events"
	"github.com/switchyard/switchyard/storage"
)

func BenchmarkCreateEvaluation(b *testing.B) {
	st, err := storage.Open(storage.Options{Dir: b.TempDir()})
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	logs, err := storage.NewLogs(st)
	if err != nil {
		b.Fatal(err)
	}
	rng := rand.New(rand.NewSource(7))
	start := time.Now().Add(-24 * time.Hour)
	var batch []events.Msg
	for i := 1; i <= 50000; i++ {
		at := start.Add(time.Duration(i) * time.Second)
		f := events.RequestFinished{LogID: ulid.MustNew(ulid.Timestamp(at), rng).String(), AccountID: "acc", GatewayID: "gw",
			Provider: []string{"openai", "anthropic"}[i%2], Model: "m", Method: "POST", Path: "/chat/completions",
			Status: 200, Success: true, StartedAt: at, DurationMs: float64(50 + rng.Intn(2000))}
		if i%5 != 0 {
			c := rng.Float64() / 100
			f.Cost = &c
		}
		raw, err := events.Encode(events.TypeRequestFinished, events.VersionRequestFinished, f.LogID, at, f)
		if err != nil {
			b.Fatal(err)
		}
		batch = append(batch, events.Msg{Seq: uint64(i), Data: raw})
		if len(batch) == 1000 {
			if err := logs.Apply(batch); err != nil {
				b.Fatal(err)
			}
			batch = batch[:0]
		}
	}
	cfg := testConfig(b)
	s := New(Options{Providers: providers.NewTable(func(string) string { return "" }),
		Config: cfg, Logs: logs, AdminToken: adminTok})
	for _, c := range []struct{ name, filters string }{
		{"provider", `[{"key":"provider","operator":"eq","value":["openai"]}]`},
		{"provider_cost_gt", `[{"key":"provider","operator":"eq","value":["openai"]},{"key":"cost","operator":"gt","value":[0.005]}]`},
	} {
		d, err := cfg.CreateDataset(context.Background(), testActor, "acc", "gw", []byte(`{"name":"`+c.name+`","filters":`+c.filters+`}`))
		if err != nil {
			b.Fatal(err)
		}
		b.Run(c.name, func(b *testing.B) {
			for i := 0; b.Loop(); i++ {
				body := fmt.Sprintf(`{"name":"%s-%d","dataset_ids":["%s"],"evaluation_type_ids":["human-feedback"]}`, c.name, i, d.ID)
				e, err := cfg.CreateEvaluation(context.Background(), testActor, "acc", "gw", []byte(body), s.evalLogs("acc", "gw", time.Now()))
				if err != nil || e.TotalLogs != 10000 {
					b.Fatalf("evaluation: %v %+v", err, e)
				}
			}
		})
	}
}
