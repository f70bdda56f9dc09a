// cluster_bench_test.go measures what a cluster costs the event log: request events
// published through the batcher (a millisecond's events per message) on one server and on
// a three-server cluster with three replicas, and the compare-and-set write a shared limit
// window takes per admitted request. The README's "Running a cluster" quotes them. It also
// measures the publish path on its own: as fast as one loop can, and at a gateway's pace
// (the CPU time per event, docs/performance.md).
package events_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"syscall"
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

// BenchmarkPublishPaced publishes request.finished events from 16 goroutines at about
// 10,000 events/s in all, the way a busy gateway does (not as fast as one loop can), and
// reports the process's CPU time per event: the batcher, the client and the embedded
// server that stores them, and what waking the batcher costs.
func BenchmarkPublishPaced(b *testing.B) {
	bus := singleServerBus(b)
	f := events.RequestFinished{LogID: "01KB00000000000000000000BE", AccountID: "acc1", GatewayID: "gw1", Provider: "openai",
		Model: "gpt-4o-mini", Method: "POST", Path: "/chat/completions", Status: 200, Success: true, StartedAt: t0, TokensIn: 12}
	const publishers, gap = 16, 1600 * time.Microsecond
	b.ReportAllocs()
	b.ResetTimer()
	start, cpu0 := time.Now(), processCPU(b)
	var wg sync.WaitGroup
	for p := range publishers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := p; i < b.N; i += publishers {
				if err := bus.PublishEventAsync(events.TypeRequestFinished, events.VersionRequestFinished, strconv.Itoa(i), t0, &f); err != nil {
					b.Error(err)
					return
				}
				time.Sleep(gap)
			}
		}()
	}
	wg.Wait()
	flushAndReport(b, bus, start)
	b.ReportMetric(float64(processCPU(b)-cpu0)/float64(time.Microsecond)/float64(b.N), "cpu-µs/event")
}

// processCPU is the user and system CPU time this process has used.
func processCPU(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
