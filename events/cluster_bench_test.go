// cluster_bench_test.go measures what a cluster costs the event log: request events
// published through the batcher (a millisecond's events per message) on one server and on
// a three-server cluster with three replicas, and the compare-and-set write a shared limit
// window takes per admitted request. The README's "Running a cluster" quotes them.
package events_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/switchyard/switchyard/events"
)

func benchEvents(b *testing.B, bus *events.Bus) {
	f := events.RequestFinished{LogID: "01KB00000000000000000000BE", AccountID: "acc1", GatewayID: "gw1", Provider: "openai",
		Model: "gpt-4o-mini", Method: "POST", Path: "/chat/completions", Status: 200, Success: true, StartedAt: t0, TokensIn: 12}
	data, err := events.Encode(events.TypeRequestFinished, events.VersionRequestFinished, f.LogID, t0, f)
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(data)))
	b.ResetTimer()
	start := time.Now()
	for i := range b.N {
		if err := bus.PublishAsync(events.TypeRequestFinished, fmt.Sprint(i), data); err != nil {
			b.Fatal(err)
		}
	}
	flushAndReport(b, bus, start)
}

// flushAndReport waits until every event published since start is stored and reports the
// rate.
func flushAndReport(b *testing.B, bus *events.Bus, start time.Time) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := bus.Flush(ctx); err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "events/s")
}

// singleServerBus is a bus on one embedded server, stopped with the benchmark.
func singleServerBus(b *testing.B) *events.Bus {
	emb, err := events.StartEmbedded(events.EmbeddedOptions{StoreDir: b.TempDir()})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(emb.Shutdown)
	bus, err := events.Connect(context.Background(), events.ConnectOptions{Embedded: emb, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(bus.Close)
	return bus
}

func BenchmarkPublishSingleServer(b *testing.B) {
	benchEvents(b, singleServerBus(b))
}

func BenchmarkPublishThreeReplicas(b *testing.B) {
	nodes := startCluster(b)
	benchEvents(b, nodes[0].bus)
}

// One admitted request's shared-window write on a three-replica cluster (no contention).
func BenchmarkSharedWindowPut(b *testing.B) {
	nodes := startCluster(b)
	ctx := context.Background()
	w, err := nodes[1].bus.LimitWindows(ctx)
	if err != nil {
		b.Fatal(err)
	}
	var rev uint64
	b.ResetTimer()
	for range b.N {
		if rev, err = w.Put(ctx, "count/fixed/60s/gw/a/g", []byte{1, 2, 3, 4}, rev); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkPublishEventAsync: a request.finished event with both bodies inline, handed to
// the batcher unencoded (as the request path does), encoded, batched and compressed there,
// stored by one embedded server. Its allocations are the batcher's per event.
func BenchmarkPublishEventAsync(b *testing.B) {
	bus := singleServerBus(b)
	req := []byte(`{"model":"gpt-4o-mini","messages":[{"role":"user","content":"` + strings.Repeat("hello ", 90) + `"}]}`)
	resp := []byte(`{"id":"chatcmpl-1","object":"chat.completion","choices":[{"index":0,"message":{"role":"assistant","content":"` +
		strings.Repeat("hi there ", 55) + `"}}],"usage":{"prompt_tokens":12,"completion_tokens":11}}`)
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	for i := range b.N {
		f := events.RequestFinished{LogID: "01KB00000000000000000000BE", AccountID: "acc1", GatewayID: "gw1", Provider: "openai",
			Model: "gpt-4o-mini", Method: "POST", Path: "/chat/completions", Status: 200, Success: true, StartedAt: t0, TokensIn: 12,
			RequestPayload: events.InlinePayload(req, int64(len(req)), false), ResponsePayload: events.InlinePayload(resp, int64(len(resp)), false)}
		if err := bus.PublishEventAsync(events.TypeRequestFinished, events.VersionRequestFinished, fmt.Sprint(i), t0, &f); err != nil {
			b.Fatal(err)
		}
	}
	flushAndReport(b, bus, start)
}
