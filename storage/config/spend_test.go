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
		{"a second counts over the minute", SpendRule{Window: 1}, time.Date(2026, 11, 21, 15, 4, 0, 0, time.UTC), time.Date(2026, 11, 21, 15, 5, 0, 0, time.UTC)},
		{"59 s counts over the minute", SpendRule{Window: 59}, time.Date(2026, 11, 21, 15, 4, 0, 0, time.UTC), time.Date(2026, 11, 21, 15, 5, 0, 0, time.UTC)},
		{"sliding second counts over the trailing minute", SpendRule{Window: 1, Technique: "sliding"}, now.Add(-time.Minute), time.Time{}},
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
		{in: `{"enabled":true,"rules":[{"limit":1,"limitType":"cost","window":1}]}`, rules: 1}, // cloudflare-go's generated test
		{in: `{"enabled":true,"rules":[{"limit":1,"limitType":"cost","window":10}]}`, rules: 1},
		{in: `{"enabled":true,"rules":[{"limit":1,"limitType":"cost","window":0}]}`, err: "positive number of seconds"},
		{in: `{"enabled":true,"rules":[{"limit":1,"limitType":"cost","window":-60}]}`, err: "positive number of seconds"},
		{in: `{"enabled":true,"rules":[{"limit":1,"limitType":"cost","window":86400,"technique":"leaky"}]}`, err: "fixed or sliding"},
		{in: `{"enabled":true,"rules":[{"limit":1,"limitType":"cost","window":86400,"model":{"mode":"filter","values":["x"]}}]}`, rules: 1},
		{in: `{"enabled":true,"rules":[{"limit":1,"limitType":"cost","window":86400,"metadata":{"foo":{"mode":"partition"}}}]}`, rules: 1},
		{in: `{"enabled":"yes"}`, err: "spend_limits must be"},
		{in: `{"enabled":true,"rules":[{"limitType":"cost","window":86400}]}`, err: "limit is required"},
		{in: `{"enabled":true,"rules":[{"limit":null,"limitType":"cost","window":86400}]}`, err: "limit is required"},
		{in: `{"enabled":true,"rules":[{"limit":0,"limitType":"cost","window":86400}]}`, rules: 1},
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

func TestScopedSpendRulesAreNotEnforced(t *testing.T) {
	off := false
	cases := []struct {
		name string
		rule SpendRule
		on   bool
	}{
		{"whole gateway", SpendRule{Window: 60}, true},
		{"disabled", SpendRule{Window: 60, Enabled: &off}, false},
		{"model filter", SpendRule{Window: 60, Model: []byte(`{"mode":"filter","values":["gpt-4o"]}`)}, false},
		{"provider filter", SpendRule{Window: 60, Provider: []byte(`{"mode":"filter","values":["openai"]}`)}, false},
		{"metadata partition", SpendRule{Window: 60, Metadata: []byte(`{"user":{"mode":"partition"}}`)}, false},
		{"empty scopes", SpendRule{Window: 60, Model: []byte(`null`), Provider: []byte(`{}`), Metadata: []byte(`{}`)}, true},
	}
	for _, c := range cases {
		if got := c.rule.On(); got != c.on {
			t.Errorf("%s: On() = %v, want %v", c.name, got, c.on)
		}
	}
}
