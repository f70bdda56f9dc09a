// limits.go holds the limiter events: limit.consumed (a count limit admitted one request)
// and limit.charged (a cost limit was charged a request's real cost), their data, and the
// integer units that the limiter actors and the counters projection both sum amounts in,
// so a window rebuilt from the projection equals the one the actor kept.
package events

import (
	"errors"
	"fmt"
	"math"
	"time"

	json "github.com/goccy/go-json"
)

// The limiter events (stream RequestsStream).
const (
	TypeLimitConsumed Type = "limit.consumed"
	TypeLimitCharged  Type = "limit.charged"
)

// Their schema versions.
const (
	VersionLimitConsumed = 1
	VersionLimitCharged  = 1
)

// LimitCostUnit is how many units one USD is: costs are summed as integers of 10⁻¹⁰ USD
// (as the analytics projection does), so sums are exact and independent of order.
const LimitCostUnit = 1e10

// LimitUsage is the data of both limiter events: an amount added to one bucket of one
// limiter's window. For limit.consumed Amount is requests (always 1); for limit.charged it
// is USD.
type LimitUsage struct {
	// EventID is unique per event (also the envelope id): the projection applies an event
	// stored twice once.
	EventID string `json:"event_id"`
	// LimiterID names the limiter: its key, interval, technique and kind. Changing any of
	// them starts another limiter; raising the limit does not.
	LimiterID string `json:"limiter_id"`
	// Key is the limit's key as the engine gave it ("gw/acct/gw", "route/...").
	Key string `json:"key"`
	// Cost: a spend limit in USD; otherwise a request count.
	Cost bool `json:"cost"`
	// Sliding: a trailing window; otherwise fixed epoch-aligned windows.
	Sliding         bool  `json:"sliding"`
	IntervalSeconds int64 `json:"interval_s"`
	// BucketStart and BucketSeconds are the bucket the amount was added to: the whole
	// window when fixed, a sub-bucket of the trailing window when sliding.
	BucketStart   time.Time `json:"bucket_start"`
	BucketSeconds int64     `json:"bucket_s"`
	Amount        float64   `json:"amount"`
	// Limit is the limit in force when the amount was added (for the audit trail).
	Limit float64 `json:"limit"`
	// At is the limiter's clock when it added the amount.
	At time.Time `json:"at"`
}

// Units is the event's amount in the integer units sums are kept in.
func (u LimitUsage) Units() int64 { return LimitUnits(u.Cost, u.Amount) }

// BucketEnd is when the event's bucket ends.
func (u LimitUsage) BucketEnd() time.Time {
	return u.BucketStart.Add(time.Duration(u.BucketSeconds) * time.Second)
}

// LimitUnits converts an amount to units: requests count one each, USD count
// LimitCostUnit each. Amounts that are not finite numbers count zero.
func LimitUnits(cost bool, amount float64) int64 {
	if math.IsNaN(amount) || math.IsInf(amount, 0) {
		return 0
	}
	if cost {
		amount *= LimitCostUnit
	}
	if amount >= math.MaxInt64 || amount <= math.MinInt64 {
		return 0
	}
	return int64(math.Round(amount))
}

// LimitAmount converts units back to requests or USD.
func LimitAmount(cost bool, units int64) float64 {
	if cost {
		return float64(units) / LimitCostUnit
	}
	return float64(units)
}

// LimitBucket is one bucket of a limiter's window as the counters projection keeps it:
// the bucket's start and the units added to it.
type LimitBucket struct {
	Start time.Time
	Units int64
}

var errLimitUsage = errors.New("limit event without limiter id or bucket")

// DecodeLimitUsage decodes a limit.consumed or limit.charged event of any known version.
func DecodeLimitUsage(e Envelope) (LimitUsage, error) {
	var u LimitUsage
	switch e.Type {
	case TypeLimitConsumed, TypeLimitCharged:
	default:
		return u, fmt.Errorf("event %s is not %s or %s", e.Type, TypeLimitConsumed, TypeLimitCharged)
	}
	switch e.Version {
	case 1:
		if err := json.Unmarshal(e.Data, &u); err != nil {
			return u, fmt.Errorf("%s: %w", e.Type, err)
		}
	default:
		return u, fmt.Errorf("%s: unknown version %d", e.Type, e.Version)
	}
	if u.LimiterID == "" || u.BucketSeconds <= 0 {
		return u, fmt.Errorf("%s: %w", e.Type, errLimitUsage)
	}
	return u, nil
}
