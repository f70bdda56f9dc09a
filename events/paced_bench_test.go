//go:build unix

// paced_bench_test.go measures the publish path at a gateway's pace: the CPU time the
// whole process (batcher, client, embedded server) spends per event when events arrive
// spread out, as they do from requests, rather than back to back (docs/performance.md).
package events_test

import (
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/switchyard/switchyard/events"
)

// BenchmarkPublishPaced publishes request.finished events from 16 goroutines, each 1.6 ms
// apart (about 7,000 events/s in all with the timers' slack), the way a busy gateway does
// rather than as fast as one loop can. It reports the process's CPU time per event: the
// batcher, the client and the embedded server that stores them, and what waking the
// batcher costs.
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
