package config

import (
	"strings"
	"testing"
	"time"
)

func TestSpendRulePeriod(t *testing.T) {
	now := time.Date(2026, 11, 21, 15, 4, 5, 0, time.UTC) // a Saturday
	day := func(d int) time.Time { return time.Date(2026, 11, d, 0, 0, 0, 0, time.UTC) }
	cases := []struct {
		name         string
		rule         SpendRule
		from, resets time.Time
	}{
		{"daily", SpendRule{Window: SpendDaily}, day(21), day(22)},
		{"weekly starts on Monday", SpendRule{Window: SpendWeekly}, day(16), day(23)},
		{"monthly is the calendar month", SpendRule{Window: SpendMonthly}, day(1), time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)},
		{"an hour", SpendRule{Window: 3600}, time.Date(2026, 11, 21, 15, 0, 0, 0, time.UTC), time.Date(2026, 11, 21, 16, 0, 0, 0, time.UTC)},
		{"sliding day", SpendRule{Window: SpendDaily, Technique: "sliding"}, now.Add(-24 * time.Hour), time.Time{}},
	}
	for _, c := range cases {
		from, resets := c.rule.Period(now)
		if !from.Equal(c.from) || !resets.Equal(c.resets) {
			t.Errorf("%s: period %v – %v, want %v – %v", c.name, from, resets, c.from, c.resets)
		}
	}
}

func TestParseSpendLimits(t *testing.T) {
	cases := []struct {
		in, err string
		rules   int
	}{
		{in: ``},
		{in: `null`},
		{in: `{"enabled":true,"rules":[{"id":"d","limit":5,"limitType":"cost","window":86400}]}`, rules: 1},
		{in: `{"enabled":true,"rules":[{"limit":5,"limitType":"requests","window":86400}]}`, err: "limitType"},
		{in: `{"enabled":true,"rules":[{"limit":-1,"limitType":"cost","window":86400}]}`, err: "must not be negative"},
		{in: `{"enabled":true,"rules":[{"limit":1,"limitType":"cost","window":10}]}`, err: "at least 60 seconds"},
		{in: `{"enabled":true,"rules":[{"limit":1,"limitType":"cost","window":86400,"technique":"leaky"}]}`, err: "fixed or sliding"},
		{in: `{"enabled":true,"rules":[{"limit":1,"limitType":"cost","window":86400,"model":{"mode":"filter","values":["x"]}}]}`, err: "not supported"},
		{in: `{"enabled":"yes"}`, err: "spend_limits must be"},
	}
	for _, c := range cases {
		sl, err := ParseSpendLimits([]byte(c.in))
		if c.err != "" {
			if err == nil || !strings.Contains(err.Message, c.err) {
				t.Errorf("%s: err = %v, want %q", c.in, err, c.err)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: %v", c.in, err)
			continue
		}
		if got := 0; sl != nil {
			got = len(sl.Rules)
			if got != c.rules {
				t.Errorf("%s: %d rules", c.in, got)
			}
		}
	}
}
