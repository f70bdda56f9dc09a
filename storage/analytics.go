// analytics.go is the analytics projection: it rolls every request.finished event (those
// with no log record included) up into per-minute, per-hour and per-day buckets of
// requests, errors, cache hits, tokens, cost and a duration histogram, and answers the
// time-series queries of the analytics API and the spend totals of spend limits from them.
package storage

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/dgraph-io/badger/v4"
	"github.com/switchyard/switchyard/events"
)

// AnalyticsProjection is the projection's name, used for its checkpoint and consumer.
const AnalyticsProjection = "analytics"

// Key layout (sep is \x00, which clean() strips from every name):
//
//	a sep L sep acct sep gw sep 't' sep T                                 gateway total
//	a sep L sep acct sep gw sep 'p' sep T provider sep model              per provider and model
//	a sep L sep acct sep gw sep 'k' sep key sep T value sep provider sep model   per metadata entry
//
// L is the level ('m' minute, 'h' hour, 'd' day) and T the bucket's start as 8 big-endian
// bytes of Unix seconds, so one level, gateway and dimension is one key range in time order.
// Every event updates all three levels: a day-step query over months reads about one key
// per day and dimension.
const (
	dimTotal    = 't'
	dimProvider = 'p'
	dimMetadata = 'k'
)

// Steps are the bucket widths a query can ask for.
const (
	StepMinute = "minute"
	StepHour   = "hour"
	StepDay    = "day"
)

// MaxAnalyticsPoints bounds the points of one series (the range divided by the step).
const MaxAnalyticsPoints = 1500

// costUnit is the resolution costs are summed at: 10⁻¹⁰ USD. Integer sums make the
// minute, hour and day buckets agree exactly and let a remainder be subtracted.
const costUnit = 1e10

var levels = [...]struct {
	step  string
	code  byte
	width time.Duration
}{{StepMinute, 'm', time.Minute}, {StepHour, 'h', time.Hour}, {StepDay, 'd', 24 * time.Hour}}

func stepWidth(step string) (time.Duration, byte, bool) {
	for _, l := range levels {
		if l.step == step {
			return l.width, l.code, true
		}
	}
	return 0, 0, false
}

// Analytics is the rollup projection over a Store.
//
// Events are rolled up in memory: each bucket an event touches is read once, kept in
// dirty and written back, with the checkpoint, once per flushEvery (or when maxDirty
// buckets are waiting, or before a query reads the store). A busy bucket is thus written
// about once a second rather than once per event, and a restart redoes from the stored
// checkpoint exactly what the lost memory held: the sums stay exact.
type Analytics struct {
	s    *Store
	prog *progress
	// maxDirty is how many buckets wait in memory at most before they are written.
	maxDirty int
	// flushEvery is the longest a rolled-up event waits before it is written.
	flushEvery time.Duration

	mu    sync.Mutex
	dirty map[string]*rollup
	// seen holds, for the events with at most one metadata entry, the buckets of dirty an
	// event of the same gateway, provider, model, entry and minute adds to: most events
	// share them with one before, and finding them costs one lookup instead of making
	// every bucket's key. Cleared with dirty.
	seen      map[rollupDims][]*rollup
	stored    uint64 // the checkpoint written with the last flush
	lastFlush time.Time
}

// NewAnalytics opens the projection, reading its checkpoint.
func NewAnalytics(s *Store) (*Analytics, error) {
	seq, err := s.Checkpoint(AnalyticsProjection)
	if err != nil {
		return nil, err
	}
	return &Analytics{s: s, prog: newProgress(seq), maxDirty: 2048, flushEvery: time.Second,
		dirty: map[string]*rollup{}, seen: map[rollupDims][]*rollup{}, stored: seq, lastFlush: time.Now()}, nil
}

// Applied is the last stream sequence applied (rolled up, written or not yet).
func (a *Analytics) Applied() uint64 { seq, _ := a.prog.get(); return seq }

// WaitFor blocks until the projection has applied seq.
func (a *Analytics) WaitFor(ctx context.Context, seq uint64) error { return a.prog.wait(ctx, seq) }

// Apply adds a batch of events to the rollups. Events at or below the checkpoint are
// skipped, so a batch delivered twice counts once; an event stored twice is kept once by
// JetStream's deduplication of the batch it travels in (events/batcher.go). The buckets
// are written when a flush is due, never part way through a stored message.
func (a *Analytics) Apply(batch []events.Msg) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	done := a.Applied()
	// txn reads the buckets touched for the first time, opened by the first: a new
	// transaction waits for every write before it, and most batches touch only buckets
	// already in memory.
	var txn *badger.Txn
	defer func() {
		if txn != nil {
			txn.Discard()
		}
	}()
	var keys []string
	cur := done
	for _, m := range batch {
		if m.Seq <= done {
			continue
		}
		if m.Seq != cur {
			if cur != done && len(a.dirty) >= a.maxDirty {
				if err := a.flushLocked(cur); err != nil {
					return err
				}
				if txn != nil {
					txn.Discard()
					txn = nil
				}
			}
			cur = m.Seq
		}
		f, at, ok := analyticsEvent(m)
		if !ok {
			continue
		}
		r := eventRollup(f)
		dims, memo := dimsOf(f, at)
		if rolls, ok := a.seen[dims]; memo && ok {
			for _, b := range rolls {
				b.add(r)
			}
			continue
		}
		keys = rollupKeys(keys[:0], f, at)
		rolls := make([]*rollup, 0, len(keys))
		for _, k := range keys {
			b := a.dirty[k]
			if b == nil {
				if txn == nil {
					txn = a.s.db.NewTransaction(false)
				}
				var err error
				if b, err = readRollup(txn, []byte(k)); err != nil {
					return fmt.Errorf("apply seq %d: %w", m.Seq, err)
				}
				a.dirty[k] = b
			}
			b.add(r)
			rolls = append(rolls, b)
		}
		if memo {
			a.seen[dims] = rolls
		}
	}
	if cur == done {
		return nil
	}
	a.prog.set(cur)
	if len(a.dirty) >= a.maxDirty || time.Since(a.lastFlush) >= a.flushEvery {
		return a.flushLocked(cur)
	}
	return nil
}

// Flush writes the buckets waiting in memory with the checkpoint of the last event
// applied. Queries flush first (read your writes); shutdown and replay flush at the end.
func (a *Analytics) Flush() error {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.flushLocked(a.Applied())
}

// flushLocked writes the dirty buckets and the checkpoint upto in one transaction.
func (a *Analytics) flushLocked(upto uint64) error {
	if upto == a.stored && len(a.dirty) == 0 {
		return nil
	}
	txn := a.s.db.NewTransaction(true)
	defer txn.Discard()
	var buf []byte
	for k, b := range a.dirty {
		buf = b.appendTo(buf[:0])
		if err := txn.Set([]byte(k), slices.Clone(buf)); err != nil {
			return fmt.Errorf("analytics flush: %w", err)
		}
	}
	if err := putCheckpoint(txn, AnalyticsProjection, upto); err != nil {
		return err
	}
	if err := txn.Commit(); err != nil {
		return fmt.Errorf("analytics flush: %w", err)
	}
	clear(a.dirty)
	clear(a.seen)
	a.stored, a.lastFlush = upto, time.Now()
	return nil
}

// analyticsEvent decodes a request.finished event and the time it counts at (its start).
func analyticsEvent(m events.Msg) (events.RequestFinished, time.Time, bool) {
	env, err := m.Envelope()
	if err != nil || env.Type != events.TypeRequestFinished {
		return events.RequestFinished{}, time.Time{}, false // not ours: skip rather than wedge
	}
	f, err := m.Finished()
	if err != nil || f.GatewayID == "" {
		return f, time.Time{}, false
	}
	at := f.StartedAt
	if at.IsZero() {
		at = env.Time
	}
	if at.Unix() < 0 {
		return f, time.Time{}, false
	}
	return f, at.UTC(), true
}

func levelPrefix(level byte, acct string) string {
	return "a" + sep + string(level) + sep + clean(acct) + sep
}

func dimPrefix(level byte, acct, gw string, dim byte, metaKey string) string {
	p := levelPrefix(level, acct) + clean(gw) + sep + string(dim) + sep
	if dim == dimMetadata {
		p += clean(metaKey) + sep
	}
	return p
}

func timeBytes(t time.Time) string {
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], uint64(t.Unix()))
	return string(b[:])
}

// rollupDims is what an event's buckets are made of (rollupKeys), for an event with at
// most one metadata entry: two such events with equal dims add to the same buckets.
type rollupDims struct {
	account, gateway, provider, model string
	metaKey, metaValue                string // the metadata entry, as rollupKeys reads it
	hasMeta                           bool
	minute                            int64 // Unix minutes: the hour and the day follow from it
}

// dimsOf is the event's rollupDims, and false when it has more than one metadata entry.
func dimsOf(f events.RequestFinished, at time.Time) (rollupDims, bool) {
	d := rollupDims{account: f.AccountID, gateway: f.GatewayID, provider: f.Provider, model: f.Model, minute: at.Unix() / 60}
	switch len(f.Metadata) {
	case 0:
	case 1:
		for k, v := range f.Metadata {
			d.metaKey, d.metaValue, d.hasMeta = k, MetadataString(v), true
		}
	default:
		return d, false
	}
	return d, true
}

// rollupKeys lists the bucket keys an event adds to: per level, the gateway total, its
// provider and model, and each metadata entry.
func rollupKeys(keys []string, f events.RequestFinished, at time.Time) []string {
	pm := clean(f.Provider) + sep + clean(f.Model)
	var meta []string // per entry: key sep, and sep value sep provider sep model after the time
	for k, v := range f.Metadata {
		meta = append(meta, clean(k)+sep, clean(MetadataString(v))+sep+pm)
	}
	for _, l := range levels {
		t := timeBytes(at.Truncate(l.width))
		gw := dimPrefix(l.code, f.AccountID, f.GatewayID, dimTotal, "")
		gw = gw[:len(gw)-2] // the gateway's prefix, before the dimension
		keys = append(keys, gw+string(dimTotal)+sep+t, gw+string(dimProvider)+sep+t+pm)
		for i := 0; i < len(meta); i += 2 {
			keys = append(keys, gw+string(dimMetadata)+sep+meta[i]+t+meta[i+1])
		}
	}
	return keys
}

// MetadataString is how a metadata value is grouped and shown: strings as they are,
// numbers in their shortest form (42, 1.5), booleans as true or false.
func MetadataString(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64)
	case bool:
		return strconv.FormatBool(x)
	case nil:
		return ""
	}
	return fmt.Sprint(v)
}

func eventRollup(f events.RequestFinished) rollup {
	r := rollup{Requests: 1, TokensIn: uint64(max(f.TokensIn, 0)), TokensOut: uint64(max(f.TokensOut, 0))}
	if !f.Success {
		r.Errors = 1
	}
	if f.Cached {
		r.Cached = 1
	}
	if f.DLP != nil {
		if f.DLP.Action == "BLOCK" {
			r.DLPBlocked = 1
		} else {
			r.DLPFlagged = 1 // FLAG, and REDACT, which is recorded like it
		}
	}
	if f.Cost != nil && !math.IsNaN(*f.Cost) && !math.IsInf(*f.Cost, 0) {
		r.Priced = 1
		r.CostUnits = int64(math.Round(*f.Cost * costUnit))
	}
	if f.Cached {
		r.CachedTokensIn, r.CachedTokensOut, r.CachedCostUnits = r.TokensIn, r.TokensOut, r.CostUnits
	} else if !f.Success { // a cache hit is answered as stored, and only successes are stored
		r.ErroredTokensIn, r.ErroredTokensOut, r.ErroredCostUnits = r.TokensIn, r.TokensOut, r.CostUnits
	}
	r.Hist = []histBin{{durationBin(f.DurationMs), 1}}
	return r
}

func readRollup(txn *badger.Txn, key []byte) (*rollup, error) {
	it, err := txn.Get(key)
	if errors.Is(err, badger.ErrKeyNotFound) {
		return &rollup{}, nil
	}
	if err != nil {
		return nil, err
	}
	r := &rollup{}
	err = it.Value(func(v []byte) error { return r.decode(v) })
	return r, err
}

// The duration histogram: bin 0 holds durations under histBase; bin i ≥ 1 holds
// [histBase·g^(i-1), histBase·g^i) with g = histGrowth; the last bin also holds everything
// longer (from about 15 minutes). A percentile is reported as its bin's geometric middle,
// rounded to 0.1 ms, so it is within 4.9 % + 0.05 ms of the exact nearest-rank percentile
// (under 0.1 ms below 0.1 ms).
const (
	histBase   = 0.1 // ms
	histGrowth = 1.1
	histBins   = 171
)

var logGrowth = math.Log(histGrowth)

func durationBin(ms float64) uint8 {
	if !(ms >= histBase) {
		return 0
	}
	i := 1 + int(math.Log(ms/histBase)/logGrowth)
	return uint8(min(i, histBins-1))
}

// binValue is the value reported for a bin: the geometric middle of its bounds.
func binValue(i uint8) float64 {
	if i == 0 {
		return histBase / 2
	}
	return histBase * math.Pow(histGrowth, float64(i)-0.5)
}

type histBin struct {
	bin uint8
	n   uint64
}

// rollup is one bucket's counters. Hist is sparse and sorted by bin.
type rollup struct {
	Requests, Errors, Cached, TokensIn, TokensOut, Priced uint64
	CostUnits                                             int64
	Hist                                                  []histBin
	// DLPFlagged and DLPBlocked count requests DLP flagged (or redacted) and blocked.
	DLPFlagged, DLPBlocked uint64
	// The tokens and cost of the cached requests and of the failed uncached ones (parts of
	// TokensIn, TokensOut and CostUnits), which split a bucket into cached, failed and
	// other requests for the GraphQL analytics (analytics_groups.go). Buckets written
	// before these were kept have them zero: their tokens count as uncached and succeeded.
	CachedTokensIn, CachedTokensOut, ErroredTokensIn, ErroredTokensOut uint64
	CachedCostUnits, ErroredCostUnits                                  int64
}

func (r *rollup) add(o rollup) { r.combine(o, 1) }

// addBin counts h into the sorted histogram without building a new one.
func (r *rollup) addBin(h histBin) {
	i, found := slices.BinarySearchFunc(r.Hist, h.bin, func(b histBin, bin uint8) int { return int(b.bin) - int(bin) })
	if found {
		r.Hist[i].n += h.n
		return
	}
	r.Hist = slices.Insert(r.Hist, i, h)
}
func (r *rollup) sub(o rollup) { r.combine(o, -1) }

func (r *rollup) combine(o rollup, sign int) {
	s := func(a *uint64, b uint64) {
		if sign > 0 {
			*a += b
		} else {
			*a -= min(*a, b)
		}
	}
	s(&r.Requests, o.Requests)
	s(&r.Errors, o.Errors)
	s(&r.Cached, o.Cached)
	s(&r.TokensIn, o.TokensIn)
	s(&r.TokensOut, o.TokensOut)
	s(&r.Priced, o.Priced)
	s(&r.DLPFlagged, o.DLPFlagged)
	s(&r.DLPBlocked, o.DLPBlocked)
	s(&r.CachedTokensIn, o.CachedTokensIn)
	s(&r.CachedTokensOut, o.CachedTokensOut)
	s(&r.ErroredTokensIn, o.ErroredTokensIn)
	s(&r.ErroredTokensOut, o.ErroredTokensOut)
	r.CostUnits += int64(sign) * o.CostUnits
	r.CachedCostUnits += int64(sign) * o.CachedCostUnits
	r.ErroredCostUnits += int64(sign) * o.ErroredCostUnits
	if len(o.Hist) == 0 {
		return
	}
	if sign > 0 && len(o.Hist) == 1 { // one event's duration: count it in place
		r.addBin(o.Hist[0])
		return
	}
	out := make([]histBin, 0, len(r.Hist)+len(o.Hist))
	i, j := 0, 0
	for i < len(r.Hist) || j < len(o.Hist) {
		switch {
		case j == len(o.Hist) || (i < len(r.Hist) && r.Hist[i].bin < o.Hist[j].bin):
			out = append(out, r.Hist[i])
			i++
		case i == len(r.Hist) || o.Hist[j].bin < r.Hist[i].bin:
			if sign > 0 {
				out = append(out, o.Hist[j])
			}
			j++
		default:
			b := r.Hist[i]
			s(&b.n, o.Hist[j].n)
			if b.n > 0 {
				out = append(out, b)
			}
			i, j = i+1, j+1
		}
	}
	r.Hist = out
}

// percentile is the nearest-rank p-th percentile (0 < p ≤ 1) of the histogram.
func (r *rollup) percentile(p float64) (float64, bool) {
	var n uint64
	for _, b := range r.Hist {
		n += b.n
	}
	if n == 0 {
		return 0, false
	}
	rank := max(uint64(math.Ceil(p*float64(n))), 1)
	var seen uint64
	for _, b := range r.Hist {
		if seen += b.n; seen >= rank {
			return binValue(b.bin), true
		}
	}
	return binValue(r.Hist[len(r.Hist)-1].bin), true
}

// The value encoding: version byte 1, six uvarints, a varint, the number of non-empty
// bins and for each its index byte and uvarint count (about 20-60 bytes a bucket); then,
// optionally, DLPFlagged and DLPBlocked (two uvarints) and after them, optionally,
// CachedTokensIn, CachedTokensOut, ErroredTokensIn, ErroredTokensOut (uvarints),
// CachedCostUnits and ErroredCostUnits (varints). A reader takes what is there: an older bucket ends early
// (its missing counters are zero), and an older reader ignores the fields it does not know.
const rollupVersion = 1

func (r *rollup) appendTo(b []byte) []byte {
	b = append(b, rollupVersion)
	for _, v := range []uint64{r.Requests, r.Errors, r.Cached, r.TokensIn, r.TokensOut, r.Priced} {
		b = binary.AppendUvarint(b, v)
	}
	b = binary.AppendVarint(b, r.CostUnits)
	b = binary.AppendUvarint(b, uint64(len(r.Hist)))
	for _, h := range r.Hist {
		b = append(b, h.bin)
		b = binary.AppendUvarint(b, h.n)
	}
	split := r.CachedTokensIn != 0 || r.CachedTokensOut != 0 || r.ErroredTokensIn != 0 ||
		r.ErroredTokensOut != 0 || r.CachedCostUnits != 0 || r.ErroredCostUnits != 0
	if r.DLPFlagged != 0 || r.DLPBlocked != 0 || split { // optional: older buckets end before
		b = binary.AppendUvarint(b, r.DLPFlagged)
		b = binary.AppendUvarint(b, r.DLPBlocked)
	}
	if split { // optional and last
		for _, v := range []uint64{r.CachedTokensIn, r.CachedTokensOut, r.ErroredTokensIn, r.ErroredTokensOut} {
			b = binary.AppendUvarint(b, v)
		}
		b = binary.AppendVarint(b, r.CachedCostUnits)
		b = binary.AppendVarint(b, r.ErroredCostUnits)
	}
	return b
}

var errRollupEncoding = errors.New("analytics: bad bucket encoding")

func (r *rollup) decode(b []byte) error {
	if len(b) == 0 || b[0] != rollupVersion {
		return errRollupEncoding
	}
	b = b[1:]
	uv := func() uint64 {
		v, n := binary.Uvarint(b)
		if n <= 0 {
			b = nil
			return 0
		}
		b = b[n:]
		return v
	}
	for _, p := range []*uint64{&r.Requests, &r.Errors, &r.Cached, &r.TokensIn, &r.TokensOut, &r.Priced} {
		*p = uv()
	}
	v, n := binary.Varint(b)
	if n <= 0 {
		return errRollupEncoding
	}
	r.CostUnits, b = v, b[n:]
	bins := uv()
	if bins > histBins || b == nil {
		return errRollupEncoding
	}
	r.Hist = make([]histBin, 0, bins)
	for range bins {
		if len(b) == 0 {
			return errRollupEncoding
		}
		bin := b[0]
		b = b[1:]
		r.Hist = append(r.Hist, histBin{bin, uv()})
	}
	if b == nil {
		return errRollupEncoding
	}
	if len(b) > 0 {
		r.DLPFlagged, r.DLPBlocked = uv(), uv()
		if b == nil {
			return errRollupEncoding
		}
	}
	if len(b) > 0 {
		for _, p := range []*uint64{&r.CachedTokensIn, &r.CachedTokensOut, &r.ErroredTokensIn, &r.ErroredTokensOut} {
			*p = uv()
		}
		if b == nil {
			return errRollupEncoding
		}
		for _, p := range []*int64{&r.CachedCostUnits, &r.ErroredCostUnits} {
			v, n := binary.Varint(b)
			if n <= 0 {
				return errRollupEncoding
			}
			*p, b = v, b[n:]
		}
	}
	return nil
}

// AnalyticsQuery asks for a time series of one gateway or of every gateway of an account.
type AnalyticsQuery struct {
	AccountID string
	// GatewayID is the gateway; empty means every gateway of the account that Gateways
	// admits (all when Gateways is nil).
	GatewayID string
	Gateways  func(id string) bool
	// Start and End bound the range [Start, End); both are moved out to whole steps.
	Start, End time.Time
	Step       string // StepMinute, StepHour, StepDay; empty: DefaultStep
	// GroupBy is "" (one series), "provider", "model", "gateway" or "metadata.<key>".
	GroupBy string
	// Provider and Model keep only the requests with that provider or model.
	Provider, Model string
	// Limit is the most series returned (10 when zero); the groups with the fewest
	// requests are summed into one more series, "others", marked Others.
	Limit int
}

// AnalyticsStats are the figures of one point, one series or the whole range.
type AnalyticsStats struct {
	Requests      uint64  `json:"requests"`
	Errors        uint64  `json:"errors"`
	Cached        uint64  `json:"cached"`
	CacheHitRatio float64 `json:"cache_hit_ratio"`
	TokensIn      uint64  `json:"tokens_in"`
	TokensOut     uint64  `json:"tokens_out"`
	// Cost is the USD sum over the requests with a known price; PricedRequests counts them.
	Cost           float64 `json:"cost"`
	PricedRequests uint64  `json:"priced_requests"`
	// DurationP50 and DurationP95 are null when there were no requests.
	DurationP50 *float64 `json:"duration_p50_ms"`
	DurationP95 *float64 `json:"duration_p95_ms"`
	// DLPFlagged and DLPBlocked count the requests DLP flagged (or redacted) and blocked.
	DLPFlagged uint64 `json:"dlp_flagged"`
	DLPBlocked uint64 `json:"dlp_blocked"`
}

// AnalyticsPoint is one step of a series; Time is the start of the step.
type AnalyticsPoint struct {
	Time time.Time `json:"time"`
	AnalyticsStats
}

// AnalyticsSeries is one group's points, one per step of the range (empty steps zero).
type AnalyticsSeries struct {
	Group  string           `json:"group"`
	Others bool             `json:"others,omitempty"`
	Totals AnalyticsStats   `json:"totals"`
	Points []AnalyticsPoint `json:"points"`
}

// AnalyticsResult answers an AnalyticsQuery.
type AnalyticsResult struct {
	Start   time.Time         `json:"start"`
	End     time.Time         `json:"end"`
	Step    string            `json:"step"`
	GroupBy string            `json:"group_by"`
	Totals  AnalyticsStats    `json:"totals"`
	Series  []AnalyticsSeries `json:"series"`
}

// QueryError is a query the analytics cannot answer; Field names the parameter at fault.
type QueryError struct {
	Field, Message string
}

func (e *QueryError) Error() string { return e.Message }

// DefaultStep is the step for a range when none is given: minutes up to a day, hours up
// to 60 days, days beyond.
func DefaultStep(start, end time.Time) string {
	switch d := end.Sub(start); {
	case d <= 24*time.Hour:
		return StepMinute
	case d <= 60*24*time.Hour:
		return StepHour
	}
	return StepDay
}

// AlignRange moves start down and end up to whole steps (UTC) and counts the points.
func AlignRange(start, end time.Time, step string) (time.Time, time.Time, int, error) {
	w, _, ok := stepWidth(step)
	if !ok {
		return start, end, 0, &QueryError{"step", "step must be minute, hour or day"}
	}
	if !end.After(start) {
		return start, end, 0, &QueryError{"end", "end must be after start"}
	}
	if start.Unix() < 0 {
		return start, end, 0, &QueryError{"start", "start must be after 1970"}
	}
	s := start.UTC().Truncate(w)
	e := end.UTC().Truncate(w)
	if e.Before(end) {
		e = e.Add(w)
	}
	n := e.Sub(s) / w
	if n > MaxAnalyticsPoints {
		return s, e, 0, &QueryError{"step", fmt.Sprintf("the range holds %d %s steps; at most %d points are answered: use a larger step or a shorter range", n, step, MaxAnalyticsPoints)}
	}
	return s, e, int(n), nil
}

// groupAcc gathers one group's buckets by point index.
type groupAcc struct {
	points map[int]*rollup
	total  rollup
}

func (g *groupAcc) add(i int, r rollup) {
	b := g.points[i]
	if b == nil {
		b = &rollup{}
		g.points[i] = b
	}
	b.add(r)
}

// Query answers an analytics query from the rollup level of its step.
func (a *Analytics) Query(q AnalyticsQuery) (AnalyticsResult, error) {
	if q.Step == "" {
		q.Step = DefaultStep(q.Start, q.End)
	}
	start, end, n, err := AlignRange(q.Start, q.End, q.Step)
	if err != nil {
		return AnalyticsResult{}, err
	}
	metaKey, byMeta := strings.CutPrefix(q.GroupBy, "metadata.")
	switch {
	case byMeta && metaKey == "":
		return AnalyticsResult{}, &QueryError{"group_by", "group_by metadata.<key> needs a key"}
	case byMeta, q.GroupBy == "", q.GroupBy == "provider", q.GroupBy == "model":
	case q.GroupBy == "gateway" && q.GatewayID == "":
	default:
		return AnalyticsResult{}, &QueryError{"group_by", "group_by must be none, provider, model" +
			map[bool]string{true: ", gateway", false: ""}[q.GatewayID == ""] + " or metadata.<key>"}
	}
	if q.Limit <= 0 {
		q.Limit = 10
	}
	w, level, _ := stepWidth(q.Step)
	filtered := q.Provider != "" || q.Model != ""
	groups := map[string]*groupAcc{}
	base := &groupAcc{points: map[int]*rollup{}}
	group := func(name string) *groupAcc {
		g := groups[name]
		if g == nil {
			g = &groupAcc{points: map[int]*rollup{}}
			groups[name] = g
		}
		return g
	}
	if err := a.Flush(); err != nil {
		return AnalyticsResult{}, err
	}
	err = a.s.db.View(func(txn *badger.Txn) error {
		gws := []string{q.GatewayID}
		if q.GatewayID == "" {
			var err error
			if gws, err = gatewaysWithData(txn, level, q.AccountID, q.Gateways); err != nil {
				return err
			}
		}
		for _, gw := range gws {
			visit := func(dim byte, key string, fn func(i int, dims []string, r rollup)) error {
				return scanRollups(txn, dimPrefix(level, q.AccountID, gw, dim, key), start, end, w, func(i int, dims []string, r rollup) {
					if dim != dimTotal {
						pm := dims[len(dims)-2:]
						if (q.Provider != "" && pm[0] != q.Provider) || (q.Model != "" && pm[1] != q.Model) {
							return
						}
					}
					fn(i, dims, r)
				})
			}
			baseDim := byte(dimTotal)
			if filtered || q.GroupBy == "provider" || q.GroupBy == "model" {
				baseDim = dimProvider
			}
			err := visit(baseDim, "", func(i int, dims []string, r rollup) {
				base.add(i, r)
				switch q.GroupBy {
				case "":
					group("").add(i, r)
				case "gateway":
					group(gw).add(i, r)
				case "provider":
					group(dims[0]).add(i, r)
				case "model":
					group(dims[1]).add(i, r)
				}
			})
			if err != nil {
				return err
			}
			if byMeta {
				if err := visit(dimMetadata, metaKey, func(i int, dims []string, r rollup) { group(dims[0]).add(i, r) }); err != nil {
					return err
				}
			}
		}
		return nil
	})
	if err != nil {
		return AnalyticsResult{}, err
	}
	if byMeta {
		// Requests without the key: the base less every keyed group, added to group "".
		rest := &groupAcc{points: map[int]*rollup{}}
		for i, b := range base.points {
			r := *b
			r.Hist = slices.Clone(b.Hist)
			for _, g := range groups {
				if p := g.points[i]; p != nil {
					r.sub(*p)
				}
			}
			if r.Requests > 0 {
				rest.points[i] = &r
			}
		}
		if len(rest.points) > 0 {
			g := group("")
			for i, r := range rest.points {
				g.add(i, *r)
			}
		}
	}
	res := AnalyticsResult{Start: start, End: end, Step: q.Step, GroupBy: q.GroupBy, Series: []AnalyticsSeries{}}
	if res.GroupBy == "" {
		res.GroupBy = "none"
	}
	for _, b := range base.points {
		base.total.add(*b)
	}
	res.Totals = stats(&base.total)
	names := make([]string, 0, len(groups))
	for name, g := range groups {
		for _, b := range g.points {
			g.total.add(*b)
		}
		names = append(names, name)
	}
	sort.Slice(names, func(i, j int) bool {
		a, b := groups[names[i]].total.Requests, groups[names[j]].total.Requests
		if a != b {
			return a > b
		}
		return names[i] < names[j]
	})
	if q.GroupBy == "" && len(names) == 0 {
		names = append(names, "") // one series, zero-filled, even with no data
		groups[""] = &groupAcc{points: map[int]*rollup{}}
	}
	var others *groupAcc
	if len(names) > q.Limit {
		others = &groupAcc{points: map[int]*rollup{}}
		for _, name := range names[q.Limit:] {
			for i, b := range groups[name].points {
				others.add(i, *b)
			}
			others.total.add(groups[name].total)
		}
		names = names[:q.Limit]
	}
	series := func(name string, g *groupAcc) AnalyticsSeries {
		s := AnalyticsSeries{Group: name, Totals: stats(&g.total), Points: make([]AnalyticsPoint, n)}
		for i := range n {
			p := AnalyticsPoint{Time: start.Add(time.Duration(i) * w)}
			if b := g.points[i]; b != nil {
				p.AnalyticsStats = stats(b)
			}
			s.Points[i] = p
		}
		return s
	}
	for _, name := range names {
		res.Series = append(res.Series, series(name, groups[name]))
	}
	if others != nil {
		s := series("others", others)
		s.Others = true
		res.Series = append(res.Series, s)
	}
	return res, nil
}

func stats(r *rollup) AnalyticsStats {
	s := AnalyticsStats{Requests: r.Requests, Errors: r.Errors, Cached: r.Cached, TokensIn: r.TokensIn,
		TokensOut: r.TokensOut, Cost: float64(r.CostUnits) / costUnit, PricedRequests: r.Priced,
		DLPFlagged: r.DLPFlagged, DLPBlocked: r.DLPBlocked}
	if r.Requests > 0 {
		s.CacheHitRatio = float64(r.Cached) / float64(r.Requests)
	}
	for _, p := range []struct {
		q  float64
		to **float64
	}{{0.5, &s.DurationP50}, {0.95, &s.DurationP95}} {
		if v, ok := r.percentile(p.q); ok {
			v = math.Round(v*10) / 10 // 0.1 ms: finer digits would claim a precision the bins lack
			*p.to = &v
		}
	}
	return s
}

// scanRollups reads the buckets of one key range whose time is in [start, end), calling
// fn with the point index, the names after the time (provider, model; or value, provider,
// model) and the bucket.
func scanRollups(txn *badger.Txn, prefix string, start, end time.Time, w time.Duration, fn func(int, []string, rollup)) error {
	opts := badger.DefaultIteratorOptions
	opts.Prefix = []byte(prefix)
	opts.PrefetchValues = false // buckets are small and kept in the LSM tree; prefetching reads past the range
	it := txn.NewIterator(opts)
	defer it.Close()
	stop := uint64(end.Unix())
	var dims []string
	for it.Seek([]byte(prefix + timeBytes(start))); it.Valid(); it.Next() {
		k := it.Item().Key()[len(prefix):]
		if len(k) < 8 {
			continue
		}
		t := binary.BigEndian.Uint64(k[:8])
		if t >= stop {
			break
		}
		dims = dims[:0]
		if len(k) > 8 {
			dims = append(dims, strings.Split(string(k[8:]), sep)...)
		}
		var r rollup
		if err := it.Item().Value(func(v []byte) error { return r.decode(v) }); err != nil {
			return fmt.Errorf("analytics key %q: %w", it.Item().Key(), err)
		}
		fn(int(time.Unix(int64(t), 0).Sub(start)/w), dims, r)
	}
	return nil
}

// gatewaysWithData lists the gateways of an account that have buckets at a level, by
// seeking from one gateway's keys to the next (a few seeks per gateway, not a full scan).
func gatewaysWithData(txn *badger.Txn, level byte, acct string, admit func(string) bool) ([]string, error) {
	prefix := levelPrefix(level, acct)
	opts := badger.DefaultIteratorOptions
	opts.PrefetchValues = false
	opts.Prefix = []byte(prefix)
	it := txn.NewIterator(opts)
	defer it.Close()
	var out []string
	for it.Seek([]byte(prefix)); it.Valid(); {
		rest := string(it.Item().Key()[len(prefix):])
		gw, _, _ := strings.Cut(rest, sep)
		if admit == nil || admit(gw) {
			out = append(out, gw)
		}
		it.Seek([]byte(prefix + gw + "\x01"))
	}
	return out, nil
}

// Spend is the cost in USD of a gateway's requests that started in [from, to), at minute
// precision: from is moved down and to up to whole minutes. It reads minute buckets at
// the edges, hour buckets next to them and day buckets in between (at most about 170
// keys plus one per day).
func (a *Analytics) Spend(acct, gw string, from, to time.Time) float64 {
	v, _ := a.SpendUnits(acct, gw, from, to)
	return float64(v) / costUnit
}

// SpendUnits is Spend in units of 10⁻¹⁰ USD, with the store's error if it could not be read.
func (a *Analytics) SpendUnits(acct, gw string, from, to time.Time) (int64, error) {
	f := from.UTC().Truncate(time.Minute)
	t := to.UTC().Truncate(time.Minute)
	if t.Before(to) {
		t = t.Add(time.Minute)
	}
	if !t.After(f) || f.Unix() < 0 {
		return 0, nil
	}
	if err := a.Flush(); err != nil {
		return 0, err
	}
	var total int64
	err := a.s.db.View(func(txn *badger.Txn) error {
		sum := func(level byte, lo, hi time.Time) error {
			if !hi.After(lo) {
				return nil
			}
			prefix := dimPrefix(level, acct, gw, dimTotal, "")
			return scanRollups(txn, prefix, lo, hi, time.Minute, func(_ int, _ []string, r rollup) { total += r.CostUnits })
		}
		ceil := func(x time.Time, w time.Duration) time.Time {
			if y := x.Truncate(w); y.Before(x) {
				return y.Add(w)
			}
			return x
		}
		hf, ht := ceil(f, time.Hour), t.Truncate(time.Hour)
		if !hf.Before(ht) {
			return sum('m', f, t)
		}
		if err := sum('m', f, hf); err != nil {
			return err
		}
		if err := sum('m', ht, t); err != nil {
			return err
		}
		day := 24 * time.Hour
		df, dt := ceil(hf, day), ht.Truncate(day)
		if !df.Before(dt) {
			return sum('h', hf, ht)
		}
		for _, r := range [][2]time.Time{{hf, df}, {dt, ht}} {
			if err := sum('h', r[0], r[1]); err != nil {
				return err
			}
		}
		return sum('d', df, dt)
	})
	return total, err
}
