// limits.go holds the limiter events: limit.consumed (a count limit admitted one request)
// and limit.charged (a cost limit was charged a request's real cost), their data, and the
// integer units that the limiter actors and the counters projection both sum amounts in,
// so a window rebuilt from the projection equals the one the actor kept.
package events

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"time"
	"unicode/utf8"

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

// EncodeLimitUsage is Encode for the limiter events, written out by hand: a limiter actor
// encodes one per admitted request, and the reflective encoder costs several times the
// decision itself (its deep stack is grown afresh on each actor goroutine). The output
// decodes to the same envelope and data as Encode's. Amounts and limits that are not
// finite numbers are written as 0.
func EncodeLimitUsage(t Type, version int, u LimitUsage) []byte {
	b := make([]byte, 0, 384+2*len(u.LimiterID)+len(u.Key))
	b = append(b, `{"type":`...)
	b = appendJSONString(b, string(t))
	b = append(b, `,"v":`...)
	b = strconv.AppendInt(b, int64(version), 10)
	b = append(b, `,"id":`...)
	b = appendJSONString(b, u.EventID)
	b = append(b, `,"time":`...)
	b = appendJSONTime(b, u.At)
	b = append(b, `,"data":{"event_id":`...)
	b = appendJSONString(b, u.EventID)
	b = append(b, `,"limiter_id":`...)
	b = appendJSONString(b, u.LimiterID)
	b = append(b, `,"key":`...)
	b = appendJSONString(b, u.Key)
	b = append(b, `,"cost":`...)
	b = strconv.AppendBool(b, u.Cost)
	b = append(b, `,"sliding":`...)
	b = strconv.AppendBool(b, u.Sliding)
	b = append(b, `,"interval_s":`...)
	b = strconv.AppendInt(b, u.IntervalSeconds, 10)
	b = append(b, `,"bucket_start":`...)
	b = appendJSONTime(b, u.BucketStart)
	b = append(b, `,"bucket_s":`...)
	b = strconv.AppendInt(b, u.BucketSeconds, 10)
	b = append(b, `,"amount":`...)
	b = appendJSONNumber(b, u.Amount)
	b = append(b, `,"limit":`...)
	b = appendJSONNumber(b, u.Limit)
	b = append(b, `,"at":`...)
	b = appendJSONTime(b, u.At)
	return append(b, "}}"...)
}

// appendJSONTime writes t as time.Time's JSON form (RFC 3339 with nanoseconds, quoted).
func appendJSONTime(b []byte, t time.Time) []byte {
	b = append(b, '"')
	b = t.AppendFormat(b, time.RFC3339Nano)
	return append(b, '"')
}

func appendJSONNumber(b []byte, x float64) []byte {
	if math.IsNaN(x) || math.IsInf(x, 0) {
		return append(b, '0')
	}
	return strconv.AppendFloat(b, x, 'g', -1, 64)
}

// appendJSONString writes s as a JSON string: quotes, backslashes and control characters
// escaped, invalid UTF-8 replaced by U+FFFD.
func appendJSONString(b []byte, s string) []byte {
	const hexDigits = "0123456789abcdef"
	b = append(b, '"')
	plain := 0 // the leading bytes written as they are
	for plain < len(s) && s[plain] >= 0x20 && s[plain] < utf8.RuneSelf && s[plain] != '"' && s[plain] != '\\' {
		plain++
	}
	b = append(b, s[:plain]...)
	for i := plain; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			switch {
			case c == '"' || c == '\\':
				b = append(b, '\\', c)
			case c < 0x20:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			default:
				b = append(b, c)
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, `\ufffd`...)
		} else {
			b = append(b, s[i:i+size]...)
		}
		i += size
	}
	return append(b, '"')
}
