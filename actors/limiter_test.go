// limiter_test.go checks the limiter actors with an injected clock: the reference's
// fixed and sliding example, exact admission under 64 concurrent callers, windows rebuilt
// from the counters (a fake projection fed by the events, and the real Badger one) after a
// restart and after an idle stop, a message sent to an actor that had just stopped, limit
// identity, and the window arithmetic on its own.
package actors

import (
	"context"
	"io"
	"log/slog"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/switchyard/switchyard/engine"
	"github.com/switchyard/switchyard/events"
	"github.com/switchyard/switchyard/storage"
)

// limitFeed is a Publisher keeping the limit events, and a CounterReader summing them
// the way the counters projection does (each event id once, per limiter and bucket).
type limitFeed struct {
	mu      sync.Mutex
	usages  []events.LimitUsage
	raw     [][]byte
	types   []events.Type
	seen    map[string]bool
	buckets map[string]map[int64]int64
	reads   atomic.Int32
}

func newLimitFeed() *limitFeed {
	return &limitFeed{seen: map[string]bool{}, buckets: map[string]map[int64]int64{}}
}

// PublishEventAsync: limiter actors publish encoded events only.
func (f *limitFeed) PublishEventAsync(t events.Type, v int, id string, at time.Time, data any) error {
	b, err := events.Encode(t, v, id, at, data)
	if err != nil {
		return err
	}
	return f.PublishAsync(t, id, b)
}

func (f *limitFeed) PublishAsync(t events.Type, _ string, b []byte) error {
	env, err := events.Decode(b)
	if err != nil {
		return err
	}
	u, err := events.DecodeLimitUsage(env)
	if err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.usages = append(f.usages, u)
	f.raw = append(f.raw, b)
	f.types = append(f.types, t)
	if f.seen[u.EventID] {
		return nil
	}
	f.seen[u.EventID] = true
	if f.buckets[u.LimiterID] == nil {
		f.buckets[u.LimiterID] = map[int64]int64{}
	}
	f.buckets[u.LimiterID][u.BucketStart.Unix()] += u.Units()
	return nil
}

func (f *limitFeed) Publish(_ context.Context, t events.Type, id string, b []byte) (uint64, error) {
	return 0, f.PublishAsync(t, id, b)
}

func (f *limitFeed) PutPayload(context.Context, string, []byte) error { return nil }

func (f *limitFeed) Buckets(limiterID string, from time.Time) ([]events.LimitBucket, error) {
	f.reads.Add(1)
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []events.LimitBucket
	for start, units := range f.buckets[limiterID] {
		if start >= from.Unix() {
			out = append(out, events.LimitBucket{Start: time.Unix(start, 0), Units: units})
		}
	}
	return out, nil
}

func (f *limitFeed) count(t events.Type) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := 0
	for _, x := range f.types {
		if x == t {
			n++
		}
	}
	return n
}

var quietLog = slog.New(slog.NewTextHandler(io.Discard, nil))

// startLimiters starts an actor system and its limiters; the system is shut down by the
// returned stop, or when the test ends.
func startLimiters(tb testing.TB, o LimiterOptions) (stop func(), ls *Limiters, s *System) {
	tb.Helper()
	s = New(Options{Logger: quietLog})
	var once sync.Once
	stop = func() { once.Do(s.Shutdown) }
	tb.Cleanup(stop)
	o.Logger = quietLog
	return stop, NewLimiters(s, o), s
}

var noon = time.Date(2026, 11, 21, 12, 0, 0, 0, time.UTC)

func clock(hms string) time.Time {
	d, err := time.ParseDuration(hms)
	if err != nil {
		panic(err)
	}
	return noon.Add(d)
}

// The reference: ten requests per ten minutes, ten at 12:09 and ten at 12:11. Fixed
// windows (12:00-12:10, 12:10-12:20) admit all twenty; a sliding window refuses the
// second ten and admits again once the 12:09 bucket (10 s wide) has left, at 12:19:10.
func TestReferenceExample(t *testing.T) {
	type step struct {
		at         string
		n          int
		admitted   int
		retryAfter time.Duration // of the refusals
		used       float64       // after the last decision
	}
	for _, c := range []struct {
		name    string
		sliding bool
		steps   []step
	}{
		{"fixed", false, []step{
			{at: "9m", n: 10, admitted: 10, used: 10},
			{at: "11m", n: 10, admitted: 10, used: 10},
			{at: "11m", n: 1, admitted: 0, retryAfter: 9 * time.Minute, used: 10},
			{at: "19m59.999s", n: 1, admitted: 0, retryAfter: time.Millisecond, used: 10},
			{at: "20m", n: 1, admitted: 1, used: 1},
		}},
		{"sliding", true, []step{
			{at: "9m", n: 10, admitted: 10, used: 10},
			{at: "11m", n: 10, admitted: 0, retryAfter: 8*time.Minute + 10*time.Second, used: 10},
			{at: "19m", n: 1, admitted: 0, retryAfter: 10 * time.Second, used: 10},
			{at: "19m9.999s", n: 1, admitted: 0, retryAfter: time.Millisecond, used: 10},
			{at: "19m10s", n: 10, admitted: 10, used: 10},
			{at: "19m10s", n: 1, admitted: 0, retryAfter: 10*time.Minute + 10*time.Second, used: 10},
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, ls, _ := startLimiters(t, LimiterOptions{})
			l := engine.Limit{Key: "route/acc/gw/r1/e1/user-1", Limit: 10, Interval: 10 * time.Minute, Sliding: c.sliding}
			for _, s := range c.steps {
				admitted := 0
				var last engine.LimitDecision
				for range s.n {
					last = ls.Take(l, clock(s.at))
					if last.Admitted {
						admitted++
					} else if last.RetryAfter != s.retryAfter {
						t.Fatalf("at %s: Retry-After %v, want %v", s.at, last.RetryAfter, s.retryAfter)
					}
				}
				if admitted != s.admitted || last.Used != s.used {
					t.Fatalf("at %s: admitted %d of %d (used %v), want %d (used %v)", s.at, admitted, s.n, last.Used, s.admitted, s.used)
				}
			}
		})
	}
}

func TestConcurrentCallersAdmitExactlyTheLimit(t *testing.T) {
	for _, c := range []struct {
		name    string
		sliding bool
		limit   float64
	}{{"fixed", false, 25}, {"sliding", true, 25}, {"fractional limit", true, 25.5}} {
		t.Run(c.name, func(t *testing.T) {
			feed := newLimitFeed()
			_, ls, _ := startLimiters(t, LimiterOptions{Publisher: feed})
			l := engine.Limit{Key: "gw/acc/gw", Limit: c.limit, Interval: time.Hour, Sliding: c.sliding}
			if admitted := admitConcurrently(func(g int) *Limiters { return ls }, l); admitted != 25 {
				t.Fatalf("admitted %d of 640, want exactly 25", admitted)
			}
			waitFor(t, func() bool { return feed.count(events.TypeLimitConsumed) == 25 }, "25 limit.consumed events")
		})
	}
}

// admitConcurrently has 64 callers take l ten times each, all at once, caller g through
// the limiters on(g), and counts the admissions.
func admitConcurrently(on func(g int) *Limiters, l engine.Limit) int64 {
	var admitted atomic.Int64
	var wg sync.WaitGroup
	start := make(chan struct{})
	for g := range 64 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			for i := range 10 {
				if on(g).Take(l, noon.Add(time.Duration(g*10+i)*time.Millisecond)).Admitted {
					admitted.Add(1)
				}
			}
		}()
	}
	close(start)
	wg.Wait()
	return admitted.Load()
}

// waitFor polls cond until it holds; the bound only stops a broken test.
func waitFor(t *testing.T, cond func() bool, what string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

func TestWindowRebuiltAfterRestart(t *testing.T) {
	for _, c := range []struct {
		name   string
		limit  engine.Limit
		charge float64 // per admitted request, for cost limits
	}{
		{"count fixed", engine.Limit{Key: "k", Limit: 5, Interval: time.Minute}, 0},
		{"count sliding", engine.Limit{Key: "k", Limit: 5, Interval: time.Minute, Sliding: true}, 0},
		{"cost sliding", engine.Limit{Key: "k", Cost: true, Limit: 0.05, Interval: time.Hour, Sliding: true}, 0.02},
		{"cost fixed", engine.Limit{Key: "k", Cost: true, Limit: 0.05, Interval: time.Hour}, 0.02},
	} {
		t.Run(c.name, func(t *testing.T) {
			feed := newLimitFeed()
			stopFirst, first, _ := startLimiters(t, LimiterOptions{Publisher: feed})
			at := noon.Add(5 * time.Second)
			admitted := 0
			var refused engine.LimitDecision
			for i := range 20 {
				d := first.Take(c.limit, at.Add(time.Duration(i)*time.Second))
				if !d.Admitted {
					refused = d
					break
				}
				admitted++
				first.Charge(c.limit, c.charge, at.Add(time.Duration(i)*time.Second))
			}
			if admitted == 0 || admitted == 20 {
				t.Fatalf("admitted %d: the limit never held", admitted)
			}
			stopFirst()

			var caughtUp atomic.Int32
			_, second, _ := startLimiters(t, LimiterOptions{Publisher: feed, Counters: feed,
				CaughtUp: func(context.Context) error { caughtUp.Add(1); return nil }})
			d := second.Take(c.limit, at.Add(time.Duration(admitted)*time.Second))
			if d.Admitted || d.Used != refused.Used || d.RetryAfter != refused.RetryAfter {
				t.Fatalf("after restart: %+v, before: %+v", d, refused)
			}
			if caughtUp.Load() != 1 || feed.reads.Load() != 1 {
				t.Fatalf("caught up %d times, read counters %d times: want once each", caughtUp.Load(), feed.reads.Load())
			}
		})
	}
}

// The same restart over the real counters projection in Badger, fed with the events the
// first limiters published (each twice, as a retried publish may store it).
func TestWindowRebuiltFromCountersProjection(t *testing.T) {
	store, err := storage.Open(storage.Options{InMemory: true})
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	counters, err := storage.NewCounters(store)
	if err != nil {
		t.Fatal(err)
	}
	feed := newLimitFeed()
	stopFirst, first, _ := startLimiters(t, LimiterOptions{Publisher: feed})
	// Badger expires buckets on the wall clock: this test's clock is the real one.
	now := time.Now().UTC()
	l := engine.Limit{Key: "route/acc/gw/r/e/u", Limit: 7, Interval: 10 * time.Minute, Sliding: true}
	for first.Take(l, now).Admitted {
	}
	cost := engine.Limit{Key: "route/acc/gw/r/e/u", Cost: true, Limit: 1, Interval: time.Hour}
	first.Charge(cost, 0.6, now)
	first.Charge(cost, 0.6, now)
	stopFirst()
	waitFor(t, func() bool {
		return feed.count(events.TypeLimitConsumed) == 7 && feed.count(events.TypeLimitCharged) == 2
	}, "events")
	var batch []events.Msg
	for _, b := range feed.raw {
		batch = append(batch, events.Msg{Seq: uint64(len(batch) + 1), Data: b}, events.Msg{Seq: uint64(len(batch) + 2), Data: b})
	}
	last := uint64(len(batch))
	go func() {
		for i := range batch { // delivered one by one, as a live consumer might
			if err := counters.Apply(batch[i : i+1]); err != nil {
				t.Error(err)
				return
			}
		}
	}()
	_, second, _ := startLimiters(t, LimiterOptions{Counters: counters,
		CaughtUp: func(ctx context.Context) error { return counters.WaitFor(ctx, last) }})
	if d := second.Take(l, now.Add(time.Second)); d.Admitted || d.Used != 7 {
		t.Fatalf("count limit after restart: %+v", d)
	}
	if d := second.Take(cost, now.Add(time.Second)); d.Admitted || d.Used != 1.2 {
		t.Fatalf("cost limit after restart: %+v", d)
	}
}

func TestIdleActorStopsAndRespawnsWithItsWindow(t *testing.T) {
	feed := newLimitFeed()
	_, ls, _ := startLimiters(t, LimiterOptions{Publisher: feed, Counters: feed, Idle: 20 * time.Millisecond})
	l := engine.Limit{Key: "gw/a/g", Limit: 5, Interval: time.Minute, Sliding: true}
	for i := range 3 {
		if d := ls.Take(l, noon.Add(time.Duration(i)*time.Second)); !d.Admitted || d.Used != float64(i+1) {
			t.Fatalf("take %d: %+v", i, d)
		}
	}
	waitFor(t, func() bool { return ls.active() == 0 }, "the idle limiter actor to stop")
	if d := ls.Take(l, noon.Add(4*time.Second)); !d.Admitted || d.Used != 4 {
		t.Fatalf("after the idle stop: %+v, want the 4th request of the same window", d)
	}
	if ls.active() != 1 {
		t.Fatalf("%d live actors, want the respawned one", ls.active())
	}
	if feed.reads.Load() != 2 {
		t.Fatalf("counters read %d times, want once per spawn (2)", feed.reads.Load())
	}
}

// A caller that took an actor's PID just before the actor stopped gets a dead letter; the
// message is sent again to a new actor, which rebuilt the window.
func TestMessageToStoppedActorIsRetried(t *testing.T) {
	feed := newLimitFeed()
	_, ls, s := startLimiters(t, LimiterOptions{Publisher: feed, Counters: feed})
	l := engine.Limit{Key: "k", Limit: 3, Interval: time.Minute}
	ls.Take(l, noon)
	e := ls.acquire(LimiterID(l), l)
	if err := s.sys.Root.StopFuture(e.pid).Wait(); err != nil {
		t.Fatal(err)
	}
	e.users.Add(-1)
	if d := ls.Take(l, noon); !d.Admitted || d.Used != 2 {
		t.Fatalf("after the actor stopped: %+v", d)
	}
	if feed.reads.Load() != 2 {
		t.Fatalf("counters read %d times, want 2 (a new actor rebuilt)", feed.reads.Load())
	}
}

func TestLimiterIdentity(t *testing.T) {
	_, ls, _ := startLimiters(t, LimiterOptions{})
	base := engine.Limit{Key: "k", Limit: 2, Interval: time.Minute}
	ls.Take(base, noon)
	ls.Take(base, noon)
	for _, c := range []struct {
		name  string
		limit engine.Limit
		want  engine.LimitDecision
	}{
		{"same limit: refused", base, engine.LimitDecision{Used: 2, RetryAfter: time.Minute}},
		{"raised limit keeps the count", engine.Limit{Key: "k", Limit: 3, Interval: time.Minute}, engine.LimitDecision{Admitted: true, Used: 3}},
		{"another interval is a fresh window", engine.Limit{Key: "k", Limit: 2, Interval: 2 * time.Minute}, engine.LimitDecision{Admitted: true, Used: 1}},
		{"sliding is another limiter", engine.Limit{Key: "k", Limit: 2, Interval: time.Minute, Sliding: true}, engine.LimitDecision{Admitted: true, Used: 1}},
		{"cost is another limiter", engine.Limit{Key: "k", Cost: true, Limit: 2, Interval: time.Minute}, engine.LimitDecision{Admitted: true, Used: 0}},
		{"another key", engine.Limit{Key: "k2", Limit: 2, Interval: time.Minute}, engine.LimitDecision{Admitted: true, Used: 1}},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got := ls.Take(c.limit, noon); got != c.want {
				t.Fatalf("got %+v, want %+v", got, c.want)
			}
		})
	}
}

func TestLimitEvents(t *testing.T) {
	feed := newLimitFeed()
	_, ls, _ := startLimiters(t, LimiterOptions{Publisher: feed})
	count := engine.Limit{Key: "route/a/g/r/e/u1", Limit: 1, Interval: 10 * time.Minute, Sliding: true}
	cost := engine.Limit{Key: "gw/a/g", Cost: true, Limit: 1, Interval: time.Hour}
	at := clock("9m3.5s")
	ls.Take(count, at)
	ls.Take(count, at) // refused: no event
	ls.Take(cost, at)  // a cost check consumes nothing: no event
	ls.Charge(cost, 0.0042, at)
	ls.Charge(count, 1, at) // a charge on a count limit changes nothing
	ls.Charge(cost, 0, at)  // nor does a zero or negative charge
	ls.Charge(cost, -1, at)
	waitFor(t, func() bool { return feed.count(events.TypeLimitConsumed)+feed.count(events.TypeLimitCharged) >= 2 }, "two events")
	// An actor handles its messages one at a time, publishing before the next: once these
	// (eventless) answers are back, every earlier event has been published.
	ls.Take(count, at)
	ls.Take(cost, at)
	feed.mu.Lock()
	defer feed.mu.Unlock()
	want := []events.LimitUsage{
		{LimiterID: "count/sliding/600s/route/a/g/r/e/u1", Key: count.Key, Sliding: true, IntervalSeconds: 600,
			BucketStart: clock("9m"), BucketSeconds: 10, Amount: 1, Limit: 1, At: at},
		{LimiterID: "cost/fixed/3600s/gw/a/g", Key: cost.Key, Cost: true, IntervalSeconds: 3600,
			BucketStart: noon, BucketSeconds: 3600, Amount: 0.0042, Limit: 1, At: at},
	}
	if len(feed.usages) != len(want) || feed.types[0] != events.TypeLimitConsumed || feed.types[1] != events.TypeLimitCharged {
		t.Fatalf("events %v %+v", feed.types, feed.usages)
	}
	for i, u := range feed.usages {
		env, _ := events.Decode(feed.raw[i])
		if u.EventID == "" || env.ID != u.EventID || !env.Time.Equal(at) {
			t.Fatalf("event %d: id %q, envelope %q at %v", i, u.EventID, env.ID, env.Time)
		}
		u.EventID = ""
		if u != want[i] {
			t.Fatalf("event %d:\n got %+v\nwant %+v", i, u, want[i])
		}
	}
	if feed.usages[0].EventID == feed.usages[1].EventID {
		t.Fatal("two events share an id")
	}
}

func TestBucketSizes(t *testing.T) {
	for _, c := range []struct {
		interval time.Duration
		sliding  bool
		seconds  int64 // interval in whole seconds
		bucket   int64
	}{
		{0, true, 1, 1},
		{time.Millisecond, false, 1, 1},
		{1500 * time.Millisecond, true, 2, 1},
		{time.Second, true, 1, 1},
		{59 * time.Second, true, 59, 1},
		{60 * time.Second, true, 60, 1},
		{61 * time.Second, true, 61, 2},
		{90 * time.Second, true, 90, 2},
		{10 * time.Minute, true, 600, 10},
		{10 * time.Minute, false, 600, 600},
		{time.Hour, true, 3600, 60},
		{24 * time.Hour, true, 86400, 1440},
	} {
		s := intervalSeconds(c.interval)
		if b := bucketSeconds(s, c.sliding); s != c.seconds || b != c.bucket {
			t.Errorf("interval %v sliding %v: %d s in buckets of %d s, want %d in %d", c.interval, c.sliding, s, b, c.seconds, c.bucket)
		}
	}
}

func TestWindow(t *testing.T) {
	sec := int64(time.Second)
	type op struct {
		at    int64 // seconds after the epoch
		add   int64 // units added before reading
		used  int64 // then the units counting
		retry time.Duration
	}
	for _, c := range []struct {
		name     string
		interval int64
		sliding  bool
		room     limitRoom
		ops      []op
	}{
		{"fixed windows align on the epoch, not on the first request", 7, false, limitRoom{limit: 2}, []op{
			{at: 15, add: 1, used: 1},
			{at: 20, add: 1, used: 2, retry: time.Second}, // the window is [14 s, 21 s)
			{at: 21, used: 0},
		}},
		{"sliding retry waits for enough buckets to leave", 60, true, limitRoom{limit: 3}, []op{
			{at: 100, add: 1, used: 1},
			{at: 110, add: 1, used: 2},
			{at: 120, add: 1, used: 3, retry: 41 * time.Second}, // the bucket at 100 leaves at 161
			{at: 161, used: 2},
			{at: 161, add: 1, used: 3, retry: 10 * time.Second},
			{at: 171, used: 2},
		}},
		{"sliding needs two buckets to leave for a large request room", 60, true, limitRoom{limit: 2}, []op{
			{at: 0, add: 1, used: 1},
			{at: 30, add: 2, used: 3, retry: 61 * time.Second}, // 3+1 ≤ 2 needs both buckets gone: 30+1+60
		}},
		{"time going back still counts what came later", 60, true, limitRoom{limit: 10}, []op{
			{at: 200, add: 4, used: 4},
			{at: 190, add: 1, used: 5},
			{at: 250, used: 5},
			{at: 251, used: 4},
		}},
		{"cost room: under the limit, not at it", 3600, false, limitRoom{cost: true, limit: 1}, []op{
			{at: 10, add: 9999999999, used: 9999999999},
			{at: 11, add: 1, used: 1e10, retry: 3589 * time.Second},
		}},
		{"a limit below one never fits", 60, true, limitRoom{limit: 0.5}, []op{
			{at: 0, used: 0, retry: time.Minute},
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			w := newWindow(c.interval, bucketSeconds(c.interval, c.sliding), c.sliding)
			for i, o := range c.ops {
				at := o.at * sec
				if o.add != 0 {
					w.add(at, o.add)
				}
				used := w.used(at)
				var retry time.Duration
				if !c.room.fits(used) {
					retry = w.retryAfter(at, c.room)
				}
				if used != o.used || retry != o.retry {
					t.Fatalf("op %d at %ds: used %d retry %v, want %d and %v", i, o.at, used, retry, o.used, o.retry)
				}
			}
		})
	}
}

// panickyCounters fails the way a bug would.
type panickyCounters struct{}

func (panickyCounters) Buckets(string, time.Time) ([]events.LimitBucket, error) {
	panic("counters bug")
}

// A panic inside a limiter actor is answered at once with a refusal, and the actor goes on.
func TestLimiterPanicIsAnswered(t *testing.T) {
	_, ls, _ := startLimiters(t, LimiterOptions{Counters: panickyCounters{}})
	l := engine.Limit{Key: "k", Limit: 5, Interval: time.Minute}
	started := time.Now()
	if d := ls.Take(l, noon); d.Admitted || d.RetryAfter != failedRetryAfter {
		t.Fatalf("after a panic: %+v", d)
	}
	if waited := time.Since(started); waited >= askTimeout {
		t.Fatalf("the caller waited %v for a panicked actor", waited)
	}
	if d := ls.Take(l, noon); !d.Admitted || d.Used != 1 {
		t.Fatalf("the actor did not go on: %+v", d)
	}
}

// sharedWindows is the cluster's window store as events.LimitWindows behaves: a
// compare-and-set per limiter.
type sharedWindows struct {
	mu   sync.Mutex
	data map[string][]byte
	revs map[string]uint64
	seq  uint64
	puts atomic.Int64
}

func newSharedWindows() *sharedWindows {
	return &sharedWindows{data: map[string][]byte{}, revs: map[string]uint64{}}
}

func (s *sharedWindows) Get(_ context.Context, id string) ([]byte, uint64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.data[id], s.revs[id], nil
}

func (s *sharedWindows) Put(_ context.Context, id string, data []byte, rev uint64) (uint64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.revs[id] != rev {
		return 0, events.ErrWindowMoved
	}
	s.puts.Add(1)
	s.seq++
	s.data[id], s.revs[id] = append([]byte(nil), data...), s.seq
	return s.seq, nil
}

// Three nodes (three actor systems with their own limiter actors) sharing the cluster's
// windows admit exactly the limit under 64 concurrent callers spread over them; a cost
// budget reached on one node refuses on the others; a node started later (or whose actor
// went idle) decides on the cluster's window, not on an empty one.
func TestSharedWindowsAcrossNodes(t *testing.T) {
	for _, c := range []struct {
		name    string
		sliding bool
	}{{"fixed", false}, {"sliding", true}} {
		t.Run(c.name, func(t *testing.T) {
			shared := newSharedWindows()
			var nodes []*Limiters
			for range 3 {
				_, ls, _ := startLimiters(t, LimiterOptions{Shared: shared, Publisher: newLimitFeed()})
				nodes = append(nodes, ls)
			}
			l := engine.Limit{Key: "gw/acc/gw", Limit: 25, Interval: time.Hour, Sliding: c.sliding}
			if admitted := admitConcurrently(func(g int) *Limiters { return nodes[g%3] }, l); admitted != 25 {
				t.Fatalf("admitted %d of 640 over three nodes, want exactly 25", admitted)
			}
			if n := shared.puts.Load(); n < 1 || n > 25 {
				t.Fatalf("%d windows stored, want at most one per admitted request (takes waiting together share one)", n)
			}
			_, late, _ := startLimiters(t, LimiterOptions{Shared: shared})
			if d := late.Take(l, noon.Add(time.Second)); d.Admitted || d.Used != 25 {
				t.Fatalf("a fourth node admitted %v with %v used, want a refusal at 25", d.Admitted, d.Used)
			}
		})
	}
	t.Run("cost", func(t *testing.T) {
		shared := newSharedWindows()
		var nodes []*Limiters
		for range 3 {
			_, ls, _ := startLimiters(t, LimiterOptions{Shared: shared})
			nodes = append(nodes, ls)
		}
		l := engine.Limit{Key: "spend/acc/gw", Limit: 1, Interval: 24 * time.Hour, Cost: true}
		if !nodes[0].Take(l, noon).Admitted {
			t.Fatal("first request refused")
		}
		nodes[0].Charge(l, 0.6, noon)
		if d := nodes[1].Take(l, noon); !d.Admitted || d.Used != 0.6 {
			t.Fatalf("node 2: admitted %v, used %v; want admitted with 0.6 spent", d.Admitted, d.Used)
		}
		nodes[1].Charge(l, 0.6, noon)
		if d := nodes[2].Take(l, noon); d.Admitted || d.Used != 1.2 {
			t.Fatalf("node 3: admitted %v, used %v; want refused with 1.2 spent", d.Admitted, d.Used)
		}
		if d := nodes[0].Take(l, noon); d.Admitted {
			t.Fatal("node 1 admitted on its own stale window after node 2's charge")
		}
	})
	t.Run("rebuilt from counters when the cluster has no window", func(t *testing.T) {
		feed := newLimitFeed()
		l := engine.Limit{Key: "gw/acc/old", Limit: 3, Interval: time.Hour}
		_, single, _ := startLimiters(t, LimiterOptions{Publisher: feed})
		for range 2 {
			single.Take(l, noon)
		}
		waitFor(t, func() bool { return feed.count(events.TypeLimitConsumed) == 2 }, "2 events")
		_, ls, _ := startLimiters(t, LimiterOptions{Shared: newSharedWindows(), Counters: feed})
		if d := ls.Take(l, noon.Add(time.Minute)); !d.Admitted || d.Used != 3 {
			t.Fatalf("admitted %v with %v used, want the third request admitted", d.Admitted, d.Used)
		}
		if ls.Take(l, noon.Add(time.Minute)).Admitted {
			t.Fatal("fourth request admitted")
		}
	})
}

func TestWindowEncoding(t *testing.T) {
	w := newWindow(3600, 60, true)
	w.add(noon.UnixNano(), 3)
	w.add(noon.Add(time.Minute).UnixNano(), -2) // negative units never happen, but round-trip
	var got window
	if err := got.decode(w.encode()); err != nil || len(got.buckets) != 2 || got.buckets[0] != w.buckets[0] || got.buckets[1] != w.buckets[1] {
		t.Fatalf("decode(encode) = %v, %v; want %v", got.buckets, err, w.buckets)
	}
	for _, bad := range [][]byte{nil, {0}, {windowFormat, 0x80}, {windowFormat, 2}, {windowFormat, 4, 2, 2, 2}} {
		if err := got.decode(bad); err == nil {
			t.Fatalf("decode(%v) accepted", bad)
		}
	}
}
