// limiter_bench_test.go measures one limiter decision through its actor (a protoactor
// future to the limiter actor and back, the event encoded and handed to a publisher that
// drops it), from one caller and from many, and the window arithmetic on its own.
package actors

import (
	"context"
	"testing"
	"time"

	"github.com/switchyard/switchyard/engine"
	"github.com/switchyard/switchyard/events"
)

// dropPublisher accepts every event and keeps none.
type dropPublisher struct{}

func (dropPublisher) PublishAsync(events.Type, string, []byte) error { return nil }

// PublishEventAsync encodes the event as the real publisher's goroutine would, and drops it.
func (dropPublisher) PublishEventAsync(t events.Type, v int, id string, at time.Time, data any) error {
	_, err := events.Encode(t, v, id, at, data)
	return err
}
func (dropPublisher) Publish(context.Context, events.Type, string, []byte) (uint64, error) {
	return 0, nil
}
func (dropPublisher) PutPayload(context.Context, string, []byte) error { return nil }

// benchLimit never refuses, so every decision consumes and publishes.
var benchLimit = engine.Limit{Key: "route/acc/gw/route-1/rate-1/user-42", Limit: 1e15, Interval: 10 * time.Minute, Sliding: true}

func BenchmarkLimiterTake(b *testing.B) {
	_, ls, _ := startLimiters(b, LimiterOptions{Publisher: dropPublisher{}})
	ls.Take(benchLimit, time.Now()) // spawn the actor outside the measurement
	b.ReportAllocs()
	for b.Loop() {
		if !ls.Take(benchLimit, time.Now()).Admitted {
			b.Fatal("refused")
		}
	}
}

func BenchmarkLimiterTakeParallel(b *testing.B) {
	_, ls, _ := startLimiters(b, LimiterOptions{Publisher: dropPublisher{}})
	ls.Take(benchLimit, time.Now())
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if !ls.Take(benchLimit, time.Now()).Admitted {
				b.Fatal("refused")
			}
		}
	})
}

func BenchmarkLimiterWindow(b *testing.B) {
	w := newWindow(600, bucketSeconds(600, true), true)
	room := limitRoom{limit: 1e15}
	t := time.Now().UnixNano()
	b.ReportAllocs()
	for b.Loop() {
		t += int64(time.Millisecond)
		if used := w.used(t); room.fits(used) {
			w.add(t, 1)
		}
	}
}
