// analytics_groups.go answers "adaptive groups" queries (the GraphQL analytics dataset
// aiGatewayRequestsAdaptiveGroups) from the analytics rollups: one group per distinct
// combination of the selected dimensions (gateway, provider, model and a time
// granularity), with the count and sums of its requests, read from the provider and
// model buckets of an account's gateways at the coarsest level the query allows.
package storage

import (
	"cmp"
	"fmt"
	"slices"
	"time"

	"github.com/dgraph-io/badger/v4"
)

// The dimensions of a groups query: the names of the hosted dataset.
const (
	DimGateway  = "gateway"
	DimProvider = "provider"
	DimModel    = "model"
	DimDate     = "date"
	DimHour     = "datetimeHour"
	DimFifteen  = "datetimeFifteenMinutes"
	DimFive     = "datetimeFiveMinutes"
	DimMinute   = "datetimeMinute"
)

// GroupTimeDims are the time dimensions and their widths. A request counts at its
// start, in the UTC minute, five minutes, ... it started in.
var GroupTimeDims = map[string]time.Duration{
	DimMinute: time.Minute, DimFive: 5 * time.Minute, DimFifteen: 15 * time.Minute,
	DimHour: time.Hour, DimDate: 24 * time.Hour,
}

// GroupSumFields are the fields of Group.Sum, by their GraphQL names (ordering "sum_<name>").
var GroupSumFields = []string{"cost", "cachedTokensIn", "cachedTokensOut", "uncachedTokensIn",
	"uncachedTokensOut", "erroredRequests", "cachedRequests"}

// MaxGroups bounds GroupsQuery.Limit.
const MaxGroups = 10000

// GroupsQuery asks for the groups of an account's requests.
type GroupsQuery struct {
	AccountID string
	// Gateways admits the gateways the caller may read (nil: all of the account's).
	Gateways func(id string) bool
	// Start and End bound the requests' start times, [Start, End), at minute precision:
	// Start is moved down and End up to whole minutes. Zero means unbounded.
	Start, End time.Time
	// Dims are the dimensions to group by (Dim*); none: one group of everything.
	Dims []string
	// Gateway, Provider and Model keep the requests whose value they admit (nil: all).
	Gateway, Provider, Model func(string) bool
	// Cached and Error keep only the cache hits (or misses) and the failed (or succeeded)
	// requests. A cache hit is taken to be a success: only successes are cached.
	Cached, Error *bool
	// OrderBy sorts the groups: by a selected dimension, "count" or "sum_<field>"; ties
	// and the default go by time, gateway, provider and model, ascending.
	OrderBy []GroupOrder
	// Limit is the most groups returned (0: all, at most MaxGroups).
	Limit int
}

// GroupOrder is one sort key.
type GroupOrder struct {
	Field string
	Desc  bool
}

// GroupSums are the sums of a group, in the hosted dataset's names.
type GroupSums struct {
	Cost                                float64
	CachedTokensIn, CachedTokensOut     uint64
	UncachedTokensIn, UncachedTokensOut uint64
	ErroredRequests, CachedRequests     uint64
}

// Group is one combination of the selected dimensions. The dimensions not selected are
// empty; Time is the start of the finest selected time dimension (zero with none).
type Group struct {
	Gateway, Provider, Model string
	Time                     time.Time
	Count                    uint64
	Sum                      GroupSums
	costUnits                int64
}

// Dim is the value of a dimension as the dataset shows it: a time as RFC 3339 (UTC),
// a date as 2006-01-02.
func (g Group) Dim(name string) string {
	switch name {
	case DimGateway:
		return g.Gateway
	case DimProvider:
		return g.Provider
	case DimModel:
		return g.Model
	case DimDate:
		return g.Time.Format(time.DateOnly)
	}
	if w, ok := GroupTimeDims[name]; ok {
		return g.Time.Truncate(w).Format(time.RFC3339)
	}
	return ""
}

// groupField compares two groups by a sort key.
func groupField(name string) (func(a, b *Group) int, bool) {
	num := func(f func(*Group) uint64) func(a, b *Group) int {
		return func(a, b *Group) int { return cmp.Compare(f(a), f(b)) }
	}
	switch name {
	case "count":
		return num(func(x *Group) uint64 { return x.Count }), true
	case "sum_cost":
		return func(a, b *Group) int { return cmp.Compare(a.costUnits, b.costUnits) }, true
	case "sum_cachedTokensIn":
		return num(func(x *Group) uint64 { return x.Sum.CachedTokensIn }), true
	case "sum_cachedTokensOut":
		return num(func(x *Group) uint64 { return x.Sum.CachedTokensOut }), true
	case "sum_uncachedTokensIn":
		return num(func(x *Group) uint64 { return x.Sum.UncachedTokensIn }), true
	case "sum_uncachedTokensOut":
		return num(func(x *Group) uint64 { return x.Sum.UncachedTokensOut }), true
	case "sum_erroredRequests":
		return num(func(x *Group) uint64 { return x.Sum.ErroredRequests }), true
	case "sum_cachedRequests":
		return num(func(x *Group) uint64 { return x.Sum.CachedRequests }), true
	case DimGateway, DimProvider, DimModel:
		return func(a, b *Group) int { return cmp.Compare(a.Dim(name), b.Dim(name)) }, true
	}
	if w, ok := GroupTimeDims[name]; ok {
		return func(a, b *Group) int { return a.Time.Truncate(w).Compare(b.Time.Truncate(w)) }, true
	}
	return nil, false
}

// addPart adds the part of a bucket the cached and error filters keep. A bucket splits
// into cache hits (C), failed requests that were not cache hits (E) and the rest (S);
// buckets written before the split was kept hold all their tokens and cost in S.
func (g *Group) addPart(r *rollup, cached, failed *bool) {
	if cached == nil && failed == nil { // everything: the bucket's own totals
		g.Count += r.Requests
		g.Sum.CachedRequests += r.Cached
		g.Sum.ErroredRequests += r.Errors
		g.Sum.CachedTokensIn += r.CachedTokensIn
		g.Sum.CachedTokensOut += r.CachedTokensOut
		g.Sum.UncachedTokensIn += r.TokensIn - min(r.TokensIn, r.CachedTokensIn)
		g.Sum.UncachedTokensOut += r.TokensOut - min(r.TokensOut, r.CachedTokensOut)
		g.costUnits += r.CostUnits
		return
	}
	keep := func(isCached, isFailed bool) bool {
		return (cached == nil || *cached == isCached) && (failed == nil || *failed == isFailed)
	}
	sub := func(a uint64, b ...uint64) uint64 {
		for _, x := range b {
			a -= min(a, x)
		}
		return a
	}
	if keep(true, false) { // C
		g.Count += r.Cached
		g.Sum.CachedRequests += r.Cached
		g.Sum.CachedTokensIn += r.CachedTokensIn
		g.Sum.CachedTokensOut += r.CachedTokensOut
		g.costUnits += r.CachedCostUnits
	}
	if keep(false, true) { // E
		g.Count += r.Errors
		g.Sum.ErroredRequests += r.Errors
		g.Sum.UncachedTokensIn += r.ErroredTokensIn
		g.Sum.UncachedTokensOut += r.ErroredTokensOut
		g.costUnits += r.ErroredCostUnits
	}
	if keep(false, false) { // S
		g.Count += sub(r.Requests, r.Cached, r.Errors)
		g.Sum.UncachedTokensIn += sub(r.TokensIn, r.CachedTokensIn, r.ErroredTokensIn)
		g.Sum.UncachedTokensOut += sub(r.TokensOut, r.CachedTokensOut, r.ErroredTokensOut)
		g.costUnits += r.CostUnits - r.CachedCostUnits - r.ErroredCostUnits
	}
}

// groupLevel is the coarsest rollup level whose buckets fit both the finest selected
// time dimension (0: none) and the range.
func groupLevel(finest time.Duration, lo, hi time.Time) (byte, time.Duration) {
	for i := len(levels) - 1; i >= 0; i-- {
		l := levels[i]
		if (finest == 0 || finest%l.width == 0) && lo.Truncate(l.width).Equal(lo) && hi.Truncate(l.width).Equal(hi) {
			return l.code, l.width
		}
	}
	return levels[0].code, levels[0].width
}

// groupsForever is the end of an unbounded range: a whole day far in the future.
var groupsForever = time.Unix(1<<40, 0).UTC().Truncate(24 * time.Hour)

// Groups answers a groups query.
func (a *Analytics) Groups(q GroupsQuery) ([]Group, error) {
	var finest time.Duration
	sel := map[string]bool{}
	for _, d := range q.Dims {
		switch w, isTime := GroupTimeDims[d]; {
		case isTime:
			if finest == 0 || w < finest {
				finest = w
			}
		case d == DimGateway, d == DimProvider, d == DimModel:
		default:
			return nil, &QueryError{"dimensions", fmt.Sprintf("unknown dimension %q", d)}
		}
		sel[d] = true
	}
	var order []func(a, b *Group) int
	for _, o := range q.OrderBy {
		f, ok := groupField(o.Field)
		if !ok {
			return nil, &QueryError{"orderBy", fmt.Sprintf("cannot order by %q", o.Field)}
		}
		if w, isTime := GroupTimeDims[o.Field]; isTime && (finest == 0 || w%finest != 0) {
			return nil, &QueryError{"orderBy", fmt.Sprintf("ordering by %s needs the dimension %s (or a finer time dimension) selected", o.Field, o.Field)}
		} else if !isTime && (o.Field == DimGateway || o.Field == DimProvider || o.Field == DimModel) && !sel[o.Field] {
			return nil, &QueryError{"orderBy", fmt.Sprintf("ordering by %s needs the dimension %s selected", o.Field, o.Field)}
		}
		if o.Desc {
			asc := f
			f = func(a, b *Group) int { return asc(b, a) }
		}
		order = append(order, f)
	}
	if q.Limit < 0 || q.Limit > MaxGroups {
		return nil, &QueryError{"limit", fmt.Sprintf("limit must be between 0 and %d", MaxGroups)}
	}
	lo, hi := time.Unix(0, 0).UTC(), groupsForever
	if !q.Start.IsZero() && q.Start.After(lo) {
		lo = q.Start.UTC().Truncate(time.Minute)
	}
	if !q.End.IsZero() && q.End.Before(hi) {
		hi = q.End.UTC().Truncate(time.Minute)
		if hi.Before(q.End) {
			hi = hi.Add(time.Minute)
		}
	}
	if !hi.After(lo) {
		return []Group{}, nil
	}
	level, w := groupLevel(finest, lo, hi)
	if err := a.Flush(); err != nil {
		return nil, err
	}
	type key struct {
		gw, provider, model string
		t                   time.Time
	}
	groups := map[key]*Group{}
	admit := func(gw string) bool {
		return (q.Gateways == nil || q.Gateways(gw)) && (q.Gateway == nil || q.Gateway(gw))
	}
	err := a.s.db.View(func(txn *badger.Txn) error {
		gws, err := gatewaysWithData(txn, level, q.AccountID, admit)
		if err != nil {
			return err
		}
		for _, gw := range gws {
			prefix := dimPrefix(level, q.AccountID, gw, dimProvider, "")
			err := scanRollups(txn, prefix, lo, hi, w, func(i int, dims []string, r rollup) {
				if len(dims) != 2 || (q.Provider != nil && !q.Provider(dims[0])) || (q.Model != nil && !q.Model(dims[1])) {
					return
				}
				var k key
				if sel[DimGateway] {
					k.gw = gw
				}
				if sel[DimProvider] {
					k.provider = dims[0]
				}
				if sel[DimModel] {
					k.model = dims[1]
				}
				if finest > 0 {
					k.t = lo.Add(time.Duration(i) * w).Truncate(finest)
				}
				g := groups[k]
				if g == nil {
					g = &Group{Gateway: k.gw, Provider: k.provider, Model: k.model, Time: k.t}
					groups[k] = g
				}
				g.addPart(&r, q.Cached, q.Error)
			})
			if err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	out := make([]Group, 0, len(groups))
	for _, g := range groups {
		if g.Count == 0 {
			continue // every request of the group was filtered out by cached or error
		}
		g.Sum.Cost = float64(g.costUnits) / costUnit
		out = append(out, *g)
	}
	slices.SortFunc(out, func(a, b Group) int {
		for _, f := range order {
			if c := f(&a, &b); c != 0 {
				return c
			}
		}
		return cmp.Or(a.Time.Compare(b.Time), cmp.Compare(a.Gateway, b.Gateway),
			cmp.Compare(a.Provider, b.Provider), cmp.Compare(a.Model, b.Model))
	})
	if q.Limit > 0 && len(out) > q.Limit {
		out = out[:q.Limit]
	}
	return out, nil
}
