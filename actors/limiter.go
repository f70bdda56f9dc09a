// limiter.go runs rate limits and budgets as actors: one limiter actor per limiter
// identity (key, interval, technique, count or cost), spawned on demand, stopped when idle,
// its window rebuilt from the counters projection when it starts. Limiters implements
// engine.Limiter: it asks the limiter's actor with a protoactor future; the actor decides,
// answers, then publishes the consume or charge as an event (limit.consumed, limit.charged)
// that the counters projection sums, so the limit holds across restarts.
package actors

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"hash/fnv"
	"log/slog"
	"math"
	"runtime/debug"
	"sort"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/switchyard/switchyard/engine"
	"github.com/switchyard/switchyard/events"
)

// CounterReader is what a limiter actor rebuilds its window from: the counters projection
// (storage.Counters satisfies it). Buckets returns the limiter's buckets starting at or
// after from, oldest first.
type CounterReader interface {
	Buckets(limiterID string, from time.Time) ([]events.LimitBucket, error)
}

// LimiterOptions configures the limiter actors.
type LimiterOptions struct {
	// Counters is read when a limiter actor starts (nil: windows start empty).
	Counters CounterReader
	// CaughtUp waits until the counters projection has applied every limit event in the
	// stream; an actor waits for it, at most rebuildWait, before reading Counters. Nil:
	// Counters is read at once.
	CaughtUp func(ctx context.Context) error
	// Idle stops a limiter actor after this long without messages (DefaultLimiterIdle
	// when zero); the next request for its limiter starts a new one, which rebuilds.
	Idle time.Duration
	// Publisher receives the limit.consumed and limit.charged events (nil: none are
	// published, for tests and benchmarks).
	Publisher Publisher
	Logger    *slog.Logger
	// Shared, when set, is the cluster's store of limiter windows (events.LimitWindows):
	// every node's actor for a limiter decides against it, so the limit holds across
	// nodes. Nil: each node's actor owns its window alone (a single node).
	Shared SharedWindows
}

// SharedWindows stores limiter windows for a cluster with compare-and-set: Put replaces a
// window only if its revision is still rev (0: none yet), else fails with
// events.ErrWindowMoved. Get returns revision 0 and no data when there is none.
type SharedWindows interface {
	Get(ctx context.Context, limiterID string) ([]byte, uint64, error)
	Put(ctx context.Context, limiterID string, data []byte, rev uint64) (uint64, error)
}

// DefaultLimiterIdle is how long an unused limiter actor lives.
const DefaultLimiterIdle = 2 * time.Minute

const (
	// rebuildWait bounds how long a starting actor waits for the counters projection.
	rebuildWait = 2 * time.Second
	// askTimeout bounds one decision; it is only reached when the actor system is gone
	// or stuck, and the request is then refused.
	askTimeout = 10 * time.Second
	// askAttempts is how many times a message is sent at most while it keeps reaching
	// actors that had stopped (dead letters).
	askAttempts = 3
	// failedRetryAfter is the Retry-After of a refusal made because no actor answered.
	failedRetryAfter = time.Second
	// sharedTimeout bounds the shared-window reads and writes of one decision (below
	// askTimeout, so the caller gets the actor's answer, not a timeout): long enough for a
	// cluster to elect a new leader for the windows after a server died.
	sharedTimeout = 8 * time.Second
)

// Limiters is the registry of limiter actors and the engine's Limiter.
type Limiters struct {
	root *actor.RootContext
	o    LimiterOptions
	log  *slog.Logger
	// dispatch runs the actors' mailboxes on reused goroutines.
	dispatch *workerDispatcher

	mu   sync.RWMutex
	live map[string]*limiterEntry

	// eventPrefix and eventSeq make event ids unique: a random prefix per Limiters (per
	// process) and a counter.
	eventPrefix string
	eventSeq    atomic.Uint64
}

// limiterEntry is one live limiter actor. users counts the callers that hold its PID and
// wait for an answer: an idle actor stops only when there is none, so no message is ever
// left in the mailbox of a stopped actor.
type limiterEntry struct {
	pid   *actor.PID
	users atomic.Int32
}

var _ engine.Limiter = (*Limiters)(nil)

// NewLimiters starts the limiter registry on the actor system s.
func NewLimiters(s *System, o LimiterOptions) *Limiters {
	if o.Idle <= 0 {
		o.Idle = DefaultLimiterIdle
	}
	o.Idle = max(o.Idle, time.Millisecond) // protoactor ignores shorter receive timeouts
	if o.Logger == nil {
		o.Logger = s.opts.Logger
	}
	var r [6]byte
	_, _ = rand.Read(r[:])
	return &Limiters{root: s.sys.Root, o: o, log: o.Logger, live: map[string]*limiterEntry{}, dispatch: newWorkerDispatcher(),
		eventPrefix: "lim-" + hex.EncodeToString(r[:]) + "-"}
}

// Take decides one request against l at now: on a count limit it consumes one request
// when used+1 ≤ limit; on a cost limit it admits while the window's spend is under the
// limit and consumes nothing.
func (ls *Limiters) Take(l engine.Limit, now time.Time) engine.LimitDecision {
	res, err := ls.ask(l, &limitTake{limit: l, now: now})
	if err != nil {
		ls.log.Error("limiter did not answer; request refused", limiterAttrs(l, err)...)
		return engine.LimitDecision{RetryAfter: failedRetryAfter}
	}
	return res.(engine.LimitDecision)
}

// Charge adds a request's real cost in USD to a cost limit's window. Charges on a count
// limit, and amounts that are not positive numbers, change nothing.
func (ls *Limiters) Charge(l engine.Limit, amount float64, now time.Time) {
	if !l.Cost || !(amount > 0) || math.IsInf(amount, 0) {
		return
	}
	if _, err := ls.ask(l, &limitCharge{limit: l, amount: amount, now: now}); err != nil {
		ls.log.Error("limiter did not take a charge", limiterAttrs(l, err)...)
	}
}

// limiterAttrs describes a limiter for a log line without its key, which may hold a
// request's value (a header, a user id): a hash of the key stands in for it.
func limiterAttrs(l engine.Limit, err error) []any {
	h := fnv.New64a()
	h.Write([]byte(l.Key))
	return []any{"limiter_key_hash", fmt.Sprintf("%016x", h.Sum64()), "cost", l.Cost, "sliding", l.Sliding,
		"interval_s", intervalSeconds(l.Interval), "err", err}
}

// ask sends msg to the limiter's actor and waits for its answer. A message that reached
// an actor which had stopped (a dead letter) was not acted on, so it is sent again to a
// new actor; a timeout is not retried, since the actor may have acted.
func (ls *Limiters) ask(l engine.Limit, msg any) (any, error) {
	id := LimiterID(l)
	var err error
	for range askAttempts {
		e := ls.acquire(id, l)
		var res any
		res, err = ls.root.RequestFuture(e.pid, msg, askTimeout).Result()
		e.users.Add(-1)
		if err == nil {
			return res, nil
		}
		if !errors.Is(err, actor.ErrDeadLetter) {
			return nil, err
		}
		ls.forget(id, e)
	}
	return nil, err
}

// acquire returns the live actor of a limiter, spawning it if there is none, and counts
// the caller as one of its users.
func (ls *Limiters) acquire(id string, l engine.Limit) *limiterEntry {
	ls.mu.RLock()
	if e := ls.live[id]; e != nil {
		e.users.Add(1)
		ls.mu.RUnlock()
		return e
	}
	ls.mu.RUnlock()
	ls.mu.Lock()
	defer ls.mu.Unlock()
	e := ls.live[id]
	if e == nil {
		e = &limiterEntry{}
		props := actor.PropsFromProducer(func() actor.Actor { return newLimiterActor(ls, id, e, l) },
			actor.WithDispatcher(ls.dispatch))
		e.pid = ls.root.Spawn(props)
		ls.live[id] = e
	}
	e.users.Add(1)
	return e
}

// retire removes an idle actor from the registry unless a caller holds it; it reports
// whether the actor may stop.
func (ls *Limiters) retire(id string, e *limiterEntry) bool {
	ls.mu.Lock()
	defer ls.mu.Unlock()
	if ls.live[id] != e {
		return true
	}
	if e.users.Load() > 0 {
		return false
	}
	delete(ls.live, id)
	return true
}

// forget drops an actor found stopped, so the next acquire spawns a new one.
func (ls *Limiters) forget(id string, e *limiterEntry) {
	ls.mu.Lock()
	if ls.live[id] == e {
		delete(ls.live, id)
	}
	ls.mu.Unlock()
}

// active is how many limiter actors are live.
func (ls *Limiters) active() int {
	ls.mu.RLock()
	defer ls.mu.RUnlock()
	return len(ls.live)
}

func (ls *Limiters) nextEventID() string {
	return ls.eventPrefix + strconv.FormatUint(ls.eventSeq.Add(1), 36)
}

// LimiterID names a limiter: kind, technique, interval in seconds and key, e.g.
// "count/sliding/600s/route/acc/gw/r1/e1/user-42". Two limits with the same id share one
// window: raising a limit keeps its count, changing its interval or technique starts anew.
func LimiterID(l engine.Limit) string {
	kind, technique := "count", "fixed"
	if l.Cost {
		kind = "cost"
	}
	if l.Sliding {
		technique = "sliding"
	}
	return kind + "/" + technique + "/" + strconv.FormatInt(intervalSeconds(l.Interval), 10) + "s/" + l.Key
}

// intervalSeconds is a limit's interval in whole seconds, rounded up, at least one.
func intervalSeconds(d time.Duration) int64 {
	s := int64(d / time.Second)
	if d%time.Second > 0 {
		s++
	}
	return max(s, 1)
}

// bucketSeconds is the width of a limiter's buckets: the whole interval for fixed
// windows; for sliding ones a sixtieth of it rounded up to a whole second, at least one
// second and at most the interval.
func bucketSeconds(interval int64, sliding bool) int64 {
	if !sliding {
		return interval
	}
	return min(max((interval+59)/60, 1), interval)
}

// The messages a limiter actor handles, and its answer to a charge.
type (
	limitTake struct {
		limit engine.Limit
		now   time.Time
	}
	limitCharge struct {
		limit  engine.Limit
		amount float64
		now    time.Time
	}
	limitCharged struct{}
	// limitFlush tells a limiter actor with shared windows to decide the takes it gathered.
	limitFlush struct{}
)

// pendingTake is a take gathered for the next flush, with whom to answer.
type pendingTake struct {
	m      *limitTake
	sender *actor.PID
}

// limiterActor owns one limiter's window.
type limiterActor struct {
	ls      *Limiters
	id      string
	entry   *limiterEntry
	limit   engine.Limit // the limit it was spawned for: its key, interval and kind
	cost    bool
	sliding bool
	win     window
	built   bool
	// With shared windows: rev is the revision of the cluster's window that win equals
	// (or precedes), synced whether win was read at all.
	rev    uint64
	synced bool
	// pending are the takes gathered for the flush message in the mailbox (flushing).
	pending  []pendingTake
	flushing bool
}

func newLimiterActor(ls *Limiters, id string, e *limiterEntry, l engine.Limit) *limiterActor {
	interval := intervalSeconds(l.Interval)
	return &limiterActor{ls: ls, id: id, entry: e, limit: l, cost: l.Cost, sliding: l.Sliding,
		win: newWindow(interval, bucketSeconds(interval, l.Sliding), l.Sliding)}
}

func (a *limiterActor) Receive(ctx actor.Context) {
	answered := false
	defer func() {
		// A bug must not leave a caller waiting askTimeout: it is logged and answered.
		if r := recover(); r != nil {
			a.ls.log.Error("limiter actor panicked", append(limiterAttrs(a.limit, fmt.Errorf("%v", r)), "stack", string(debug.Stack()))...)
			if !answered {
				switch ctx.Message().(type) {
				case *limitTake:
					ctx.Respond(engine.LimitDecision{RetryAfter: failedRetryAfter})
				case *limitCharge:
					ctx.Respond(limitCharged{})
				case limitFlush:
					for _, p := range a.pending {
						ctx.Send(p.sender, engine.LimitDecision{RetryAfter: failedRetryAfter})
					}
					a.pending, a.flushing = nil, false
				}
			}
		}
	}()
	switch m := ctx.Message().(type) {
	case *actor.Started:
		ctx.SetReceiveTimeout(a.ls.o.Idle)
	case *actor.ReceiveTimeout:
		if a.ls.retire(a.id, a.entry) {
			ctx.Stop(ctx.Self())
		} else {
			ctx.SetReceiveTimeout(a.ls.o.Idle) // a caller is on its way: wait for it
		}
	case *limitTake:
		if a.ls.o.Shared != nil {
			// Gathered and decided together with the takes that arrive while this one
			// waits its turn (group commit): one shared write for all of them.
			a.pending = append(a.pending, pendingTake{m, ctx.Sender()})
			if !a.flushing {
				a.flushing = true
				ctx.Send(ctx.Self(), limitFlush{})
			}
			answered = true
			return
		}
		a.rebuild(m.now)
		d, start := a.take(m.limit, m.now)
		ctx.Respond(d)
		answered = true
		if d.Admitted && !a.cost {
			a.publish(events.TypeLimitConsumed, events.VersionLimitConsumed, m.limit, start, 1, m.now)
		}
	case limitFlush:
		batch := a.pending
		ds, starts, err := a.takeShared(batch)
		if err != nil {
			a.ls.log.Error("shared limit window unavailable; requests refused", append(limiterAttrs(a.limit, err), "requests", len(batch))...)
		}
		for i, p := range batch {
			d := engine.LimitDecision{RetryAfter: failedRetryAfter}
			if err == nil {
				d = ds[i]
			}
			ctx.Send(p.sender, d)
			if d.Admitted && !a.cost {
				a.publish(events.TypeLimitConsumed, events.VersionLimitConsumed, p.m.limit, starts[i], 1, p.m.now)
			}
		}
		a.pending, a.flushing = a.pending[:0], false
		answered = true
	case *limitCharge:
		units := events.LimitUnits(true, m.amount)
		var start int64
		if a.ls.o.Shared != nil {
			var err error
			if start, err = a.addShared(m.now, units); err != nil {
				a.ls.log.Error("shared limit window unavailable; charge not counted", limiterAttrs(a.limit, err)...)
			}
		} else {
			a.rebuild(m.now)
			start = a.win.add(m.now.UnixNano(), units)
		}
		ctx.Respond(limitCharged{})
		answered = true
		a.publish(events.TypeLimitCharged, events.VersionLimitCharged, m.limit, start, m.amount, m.now)
	}
}

// takeShared decides a batch of requests against the cluster's window, in arrival order. A
// count is admitted only once the window holding every admission of the batch is stored
// with nothing stored since the version they were decided on, so every node together
// admits exactly the limit; on a conflict the whole batch is decided again on the newest
// window. Refusals may be decided on the window this actor last saw: the cluster's holds as
// much or more. A cost limit, which admits without writing, always reads the newest window.
func (a *limiterActor) takeShared(batch []pendingTake) ([]engine.LimitDecision, []int64, error) {
	ctx, cancel := context.WithTimeout(context.Background(), sharedTimeout)
	defer cancel()
	if a.cost || !a.synced {
		if err := a.load(ctx, batch[0].m.now); err != nil {
			return nil, nil, err
		}
	}
	ds, starts := make([]engine.LimitDecision, len(batch)), make([]int64, len(batch))
	for {
		prev := a.win.clone()
		consumed := false
		for i, p := range batch {
			ds[i], starts[i] = a.take(p.m.limit, p.m.now)
			consumed = consumed || ds[i].Admitted && !a.cost
		}
		if !consumed {
			return ds, starts, nil
		}
		err := a.store(ctx, prev)
		if err == nil {
			return ds, starts, nil
		}
		if !errors.Is(err, events.ErrWindowMoved) {
			return nil, nil, err
		}
		if err := a.load(ctx, batch[0].m.now); err != nil {
			return nil, nil, err
		}
	}
}

// addShared adds units at now to the cluster's window (a cost limit's charge), reading the
// newest window again whenever another node wrote first; it returns the bucket's start.
func (a *limiterActor) addShared(now time.Time, units int64) (int64, error) {
	ctx, cancel := context.WithTimeout(context.Background(), sharedTimeout)
	defer cancel()
	if !a.synced {
		if err := a.load(ctx, now); err != nil {
			return 0, err
		}
	}
	for {
		prev := a.win.clone()
		start := a.win.add(now.UnixNano(), units)
		err := a.store(ctx, prev)
		if err == nil {
			return start, nil
		}
		if !errors.Is(err, events.ErrWindowMoved) {
			return 0, err
		}
		if err := a.load(ctx, now); err != nil {
			return 0, err
		}
	}
}

// store writes win as the revision after a.rev; on failure win goes back to prev.
func (a *limiterActor) store(ctx context.Context, prev window) error {
	rev, err := sharedRetry(ctx, func() (uint64, error) { return a.ls.o.Shared.Put(ctx, a.id, a.win.encode(), a.rev) })
	if err != nil {
		a.win = prev
		if !errors.Is(err, events.ErrWindowMoved) {
			a.synced = false // unknown whether it was stored: read it next time
		}
		return err
	}
	a.rev = rev
	return nil
}

// sharedRetry calls fn until it succeeds, fails with events.ErrWindowMoved, or ctx ends:
// other errors are the cluster electing a leader or a server going away, which pass.
func sharedRetry(ctx context.Context, fn func() (uint64, error)) (uint64, error) {
	for wait := 50 * time.Millisecond; ; wait = min(wait*2, time.Second) {
		rev, err := fn()
		if err == nil || errors.Is(err, events.ErrWindowMoved) || ctx.Err() != nil {
			return rev, err
		}
		select {
		case <-ctx.Done():
			return rev, err
		case <-time.After(wait):
		}
	}
}

// load reads the cluster's window. When the cluster has none yet (the limiter's first use
// since the cluster formed) or it cannot be decoded, the window is rebuilt from the
// counters projection, to be stored by the next write.
func (a *limiterActor) load(ctx context.Context, now time.Time) error {
	var data []byte
	rev, err := sharedRetry(ctx, func() (r uint64, err error) { data, r, err = a.ls.o.Shared.Get(ctx, a.id); return r, err })
	if err != nil {
		a.synced = false
		return err
	}
	a.rev, a.synced = rev, true
	if rev != 0 {
		if err := a.win.decode(data); err == nil {
			return nil
		}
		a.ls.log.Error("shared limit window unreadable; rebuilt from the counters projection", limiterAttrs(a.limit, err)...)
	}
	a.win.buckets = a.win.buckets[:0]
	a.fill(now)
	return nil
}

// take decides a request and returns the decision and, when it consumed, the bucket.
func (a *limiterActor) take(l engine.Limit, now time.Time) (engine.LimitDecision, int64) {
	t := now.UnixNano()
	used := a.win.used(t)
	room := limitRoom{cost: a.cost, limit: l.Limit}
	if !room.fits(used) {
		return engine.LimitDecision{Used: events.LimitAmount(a.cost, used), RetryAfter: a.win.retryAfter(t, room)}, 0
	}
	if a.cost {
		return engine.LimitDecision{Admitted: true, Used: events.LimitAmount(true, used)}, 0
	}
	start := a.win.add(t, 1)
	return engine.LimitDecision{Admitted: true, Used: float64(used + 1)}, start
}

// limitRoom says whether a window holding some units has room for one more request: a
// count limit admits while used+1 ≤ limit, a cost limit while the spend is under it.
type limitRoom struct {
	cost  bool
	limit float64
}

func (r limitRoom) fits(units int64) bool {
	if r.cost {
		return events.LimitAmount(true, units) < r.limit
	}
	return float64(units+1) <= r.limit
}

// rebuild fills the window from the counters projection, once, before the first decision
// (whose clock says which buckets can still count).
func (a *limiterActor) rebuild(now time.Time) {
	if a.built {
		return
	}
	a.built = true
	a.fill(now)
}

// fill adds the counters projection's buckets that can still count at now to the window.
func (a *limiterActor) fill(now time.Time) {
	o := a.ls.o
	if o.Counters == nil {
		return
	}
	if o.CaughtUp != nil {
		ctx, cancel := context.WithTimeout(context.Background(), rebuildWait)
		err := o.CaughtUp(ctx)
		cancel()
		if err != nil {
			a.ls.log.Warn("counters projection not caught up; limiter rebuilt from what it has",
				limiterAttrs(a.limit, err)...)
		}
	}
	from := time.Unix(0, a.win.oldestCounting(now.UnixNano()))
	buckets, err := o.Counters.Buckets(a.id, from)
	if err != nil {
		a.ls.log.Error("limiter window not rebuilt", limiterAttrs(a.limit, err)...)
		return
	}
	for _, b := range buckets {
		a.win.addAt(b.Start.UnixNano(), b.Units)
	}
}

// publish appends the event of a consume or charge, without waiting for its ack.
func (a *limiterActor) publish(t events.Type, v int, l engine.Limit, start int64, amount float64, now time.Time) {
	pub := a.ls.o.Publisher
	if pub == nil {
		return
	}
	id := a.ls.nextEventID()
	at := now.UTC()
	u := events.LimitUsage{
		EventID: id, LimiterID: a.id, Key: l.Key, Cost: a.cost, Sliding: a.sliding,
		IntervalSeconds: a.win.interval / int64(time.Second), BucketStart: time.Unix(0, start).UTC(),
		BucketSeconds: a.win.width / int64(time.Second), Amount: amount, Limit: l.Limit, At: at,
	}
	if err := pub.PublishAsync(t, id, events.EncodeLimitUsage(t, v, u)); err != nil {
		a.ls.log.Error("publish limit event", limiterAttrs(l, err)...)
	}
}

// window is one limiter's recent sums in buckets of width nanoseconds aligned on the Unix
// epoch, oldest first. A fixed window has one bucket per window (width = interval) and
// counts the bucket holding now. A sliding window counts every bucket that overlaps the
// trailing interval (now-interval, now]: an amount leaves at most one bucket late, never
// early, so the limit is never exceeded.
type window struct {
	interval, width int64 // nanoseconds
	sliding         bool
	buckets         []windowBucket
}

type windowBucket struct {
	start int64 // Unix nanoseconds
	units int64
}

func newWindow(intervalSeconds, bucketSeconds int64, sliding bool) window {
	return window{interval: intervalSeconds * int64(time.Second), width: bucketSeconds * int64(time.Second), sliding: sliding}
}

// clone is a copy of w that shares nothing with it.
func (w *window) clone() window {
	c := *w
	c.buckets = append([]windowBucket(nil), w.buckets...)
	return c
}

// windowFormat is the first byte of an encoded window.
const windowFormat = 1

// encode is the window's buckets as stored in the cluster: a format byte, then each
// bucket's start (Unix nanoseconds) and units as varints. The interval, width and
// technique are in the limiter's id.
func (w *window) encode() []byte {
	b := make([]byte, 1, 1+len(w.buckets)*14)
	b[0] = windowFormat
	for _, k := range w.buckets {
		b = binary.AppendVarint(b, k.start)
		b = binary.AppendVarint(b, k.units)
	}
	return b
}

// decode replaces the window's buckets with encoded ones.
func (w *window) decode(b []byte) error {
	if len(b) == 0 || b[0] != windowFormat {
		return fmt.Errorf("limit window: unknown format")
	}
	var buckets []windowBucket
	for rest := b[1:]; len(rest) > 0; {
		start, n := binary.Varint(rest)
		if n <= 0 {
			return fmt.Errorf("limit window: bad bucket start")
		}
		units, m := binary.Varint(rest[n:])
		if m <= 0 {
			return fmt.Errorf("limit window: bad bucket units")
		}
		rest = rest[n+m:]
		if k := len(buckets); k > 0 && buckets[k-1].start >= start {
			return fmt.Errorf("limit window: buckets out of order")
		}
		buckets = append(buckets, windowBucket{start, units})
	}
	w.buckets = buckets
	return nil
}

// bucketStart is the start of the bucket holding t.
func (w *window) bucketStart(t int64) int64 {
	q := t / w.width
	if t%w.width < 0 {
		q--
	}
	return q * w.width
}

// oldestCounting is the earliest bucket start that can count at t.
func (w *window) oldestCounting(t int64) int64 {
	if !w.sliding {
		return w.bucketStart(t)
	}
	return w.bucketStart(t - w.interval)
}

// counts reports whether the bucket starting at start counts at t.
func (w *window) counts(start, t int64) bool {
	if !w.sliding {
		return start == w.bucketStart(t)
	}
	return start+w.width > t-w.interval
}

// used drops the buckets that can no longer count and sums those that count at t.
func (w *window) used(t int64) int64 {
	oldest := w.oldestCounting(t)
	drop := 0
	for drop < len(w.buckets) && w.buckets[drop].start < oldest {
		drop++
	}
	if drop > 0 {
		w.buckets = append(w.buckets[:0], w.buckets[drop:]...)
	}
	var sum int64
	for _, b := range w.buckets {
		if w.counts(b.start, t) {
			sum += b.units
		}
	}
	return sum
}

// add adds units at t and returns the bucket's start.
func (w *window) add(t, units int64) int64 {
	start := w.bucketStart(t)
	w.addAt(start, units)
	return start
}

// addAt adds units to the bucket starting at start, keeping the buckets in order.
func (w *window) addAt(start, units int64) {
	n := len(w.buckets)
	if n > 0 && w.buckets[n-1].start == start {
		w.buckets[n-1].units += units
		return
	}
	if n == 0 || w.buckets[n-1].start < start {
		w.buckets = append(w.buckets, windowBucket{start, units})
		return
	}
	i := sort.Search(n, func(i int) bool { return w.buckets[i].start >= start })
	if w.buckets[i].start == start {
		w.buckets[i].units += units
		return
	}
	w.buckets = append(w.buckets, windowBucket{})
	copy(w.buckets[i+1:], w.buckets[i:])
	w.buckets[i] = windowBucket{start, units}
}

// retryAfter is how long from t until room fits: the end of the current window when
// fixed; when sliding, the moment enough of the oldest buckets have left the trailing
// interval (a bucket leaves at start + width + interval). A limit nothing ever fits
// reports one interval.
func (w *window) retryAfter(t int64, room limitRoom) time.Duration {
	if !w.sliding {
		return time.Duration(w.bucketStart(t) + w.width - t)
	}
	var rest int64
	for _, b := range w.buckets {
		if w.counts(b.start, t) {
			rest += b.units
		}
	}
	for _, b := range w.buckets {
		if !w.counts(b.start, t) {
			continue
		}
		rest -= b.units
		if room.fits(rest) {
			return time.Duration(b.start + w.width + w.interval - t)
		}
	}
	return time.Duration(w.interval)
}

// workerDispatcher runs mailboxes on long-lived goroutines instead of a new goroutine per
// run: a fresh goroutine grows (copies) its stack to the depth of a decision every time,
// which cost more than the decision. A run goes to a waiting worker when there is one and
// to a new worker otherwise, so a blocked actor (one waiting for the counters projection)
// never holds up another; a worker with nothing to do for workerIdle exits.
type workerDispatcher struct {
	work chan func()
}

const (
	workerIdle       = 10 * time.Second
	workerThroughput = 300 // messages a mailbox run handles before yielding, as protoactor's default
)

func newWorkerDispatcher() *workerDispatcher { return &workerDispatcher{work: make(chan func())} }

func (d *workerDispatcher) Schedule(fn func()) {
	select {
	case d.work <- fn:
	default:
		go d.worker(fn)
	}
}

func (d *workerDispatcher) Throughput() int { return workerThroughput }

func (d *workerDispatcher) worker(fn func()) {
	fn()
	idle := time.NewTimer(workerIdle)
	defer idle.Stop()
	for {
		select {
		case fn := <-d.work:
			fn()
			idle.Reset(workerIdle)
		case <-idle.C:
			return
		}
	}
}
