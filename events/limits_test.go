// limits_test.go checks the limiter events' encoding and the unit arithmetic sums use.
package events_test

import (
	stdjson "encoding/json"
	"math"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/switchyard/switchyard/events"
)

func TestLimitUnits(t *testing.T) {
	for _, c := range []struct {
		name   string
		cost   bool
		amount float64
		units  int64
	}{
		{"one request", false, 1, 1},
		{"requests round", false, 2.6, 3},
		{"a dollar", true, 1, 1e10},
		{"a fraction of a cent", true, 0.00012345, 1234500},
		{"below the unit rounds", true, 4e-11, 0},
		{"half a unit rounds away", true, 5e-11, 1},
		{"negative cost", true, -0.5, -5e9},
		{"NaN counts nothing", true, math.NaN(), 0},
		{"infinity counts nothing", false, math.Inf(1), 0},
		{"too large counts nothing", true, 1e12, 0},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got := events.LimitUnits(c.cost, c.amount); got != c.units {
				t.Fatalf("LimitUnits(%v, %v) = %d, want %d", c.cost, c.amount, got, c.units)
			}
		})
	}
}

func TestLimitAmountRoundTrip(t *testing.T) {
	for _, c := range []struct {
		cost   bool
		amount float64
	}{{false, 7}, {true, 0.0002}, {true, 12.3456789}, {true, 0}} {
		if got := events.LimitAmount(c.cost, events.LimitUnits(c.cost, c.amount)); math.Abs(got-c.amount) > 1e-10 {
			t.Errorf("round trip of %v (cost %v) gave %v", c.amount, c.cost, got)
		}
	}
}

func TestDecodeLimitUsage(t *testing.T) {
	at := time.Date(2026, 11, 21, 12, 9, 0, 0, time.UTC)
	usage := events.LimitUsage{
		EventID: "ev1", LimiterID: "count/fixed/600s/route/a/g/r/e/u1", Key: "route/a/g/r/e/u1",
		IntervalSeconds: 600, BucketStart: at.Truncate(10 * time.Minute), BucketSeconds: 600,
		Amount: 1, Limit: 10, At: at,
	}
	encode := func(typ events.Type, v int, data any) events.Envelope {
		b, err := events.Encode(typ, v, "ev1", at, data)
		if err != nil {
			t.Fatal(err)
		}
		env, err := events.Decode(b)
		if err != nil {
			t.Fatal(err)
		}
		return env
	}
	charged := usage
	charged.Cost, charged.Amount = true, 0.0125
	for _, c := range []struct {
		name    string
		env     events.Envelope
		want    events.LimitUsage
		wantErr string
	}{
		{"consumed", encode(events.TypeLimitConsumed, events.VersionLimitConsumed, usage), usage, ""},
		{"charged", encode(events.TypeLimitCharged, events.VersionLimitCharged, charged), charged, ""},
		{"another type", encode(events.TypeRequestFinished, 1, usage), events.LimitUsage{}, "is not limit.consumed"},
		{"unknown version", encode(events.TypeLimitConsumed, 9, usage), events.LimitUsage{}, "unknown version 9"},
		{"no limiter id", encode(events.TypeLimitConsumed, 1, events.LimitUsage{BucketSeconds: 1}), events.LimitUsage{}, "without limiter id"},
		{"no bucket", encode(events.TypeLimitCharged, 1, events.LimitUsage{LimiterID: "x"}), events.LimitUsage{}, "without limiter id or bucket"},
	} {
		t.Run(c.name, func(t *testing.T) {
			got, err := events.DecodeLimitUsage(c.env)
			if c.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), c.wantErr) {
					t.Fatalf("err = %v, want one containing %q", err, c.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, c.want) {
				t.Fatalf("decoded %+v, want %+v", got, c.want)
			}
			if got.BucketEnd() != at.Truncate(10*time.Minute).Add(10*time.Minute) {
				t.Fatalf("bucket end %v", got.BucketEnd())
			}
		})
	}
}

// EncodeLimitUsage must decode exactly as Encode's output does, whatever the strings hold.
func TestEncodeLimitUsageMatchesEncode(t *testing.T) {
	at := time.Date(2026, 11, 21, 12, 9, 3, 123456789, time.UTC)
	for _, c := range []struct {
		name string
		key  string
		want string // the key decoded, when not the key itself
	}{
		{"plain", "route/acc/gw/r1/e1/user-42", ""},
		{"quotes and backslashes", `route/"a"\b`, ""},
		{"control characters", "k\x00\x01\n\t\x1f", ""},
		{"unicode", "ключ/用户/🙂", ""},
		{"html characters", "<a&b>", ""},
		{"invalid utf-8", "bad\xff\xfebytes", "bad\uFFFD\uFFFDbytes"},
	} {
		t.Run(c.name, func(t *testing.T) {
			u := events.LimitUsage{
				EventID: "lim-0a1b-" + c.name, LimiterID: "count/sliding/600s/" + c.key, Key: c.key, Sliding: true,
				IntervalSeconds: 600, BucketStart: at.Truncate(10 * time.Second), BucketSeconds: 10,
				Amount: 0.000123456789, Limit: 1e21, At: at,
			}
			fast := events.EncodeLimitUsage(events.TypeLimitCharged, events.VersionLimitCharged, u)
			slow, err := events.Encode(events.TypeLimitCharged, events.VersionLimitCharged, u.EventID, u.At, u)
			if err != nil {
				t.Fatal(err)
			}
			if !stdjson.Valid(fast) {
				t.Fatalf("not JSON: %s", fast)
			}
			decode := func(b []byte) (events.Envelope, events.LimitUsage) {
				env, err := events.Decode(b)
				if err != nil {
					t.Fatal(err)
				}
				got, err := events.DecodeLimitUsage(env)
				if err != nil {
					t.Fatal(err)
				}
				env.Data = nil
				return env, got
			}
			fe, fu := decode(fast)
			se, su := decode(slow)
			if !reflect.DeepEqual(fe, se) || !reflect.DeepEqual(fu, su) {
				t.Fatalf("hand-written %+v %+v\nreflective %+v %+v", fe, fu, se, su)
			}
			if c.want == "" {
				c.want = c.key
			}
			if fu.Key != c.want {
				t.Fatalf("key %q came back as %q", c.key, fu.Key)
			}
		})
	}
	// Numbers that JSON cannot hold are written as zero rather than breaking the event.
	b := events.EncodeLimitUsage(events.TypeLimitConsumed, 1, events.LimitUsage{LimiterID: "x", BucketSeconds: 1, Amount: math.NaN(), Limit: math.Inf(1)})
	env, err := events.Decode(b)
	if err != nil {
		t.Fatal(err)
	}
	if u, err := events.DecodeLimitUsage(env); err != nil || u.Amount != 0 || u.Limit != 0 {
		t.Fatalf("non-finite numbers: %+v %v", u, err)
	}
}
