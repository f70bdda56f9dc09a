// spend.go reads a gateway's spend_limits setting (the hosted shape: {enabled, rules:
// [{id, enabled, limit, limitType: "cost", window, technique}]}) and works out the period
// each rule counts over. Windows of a day, a week and a month are calendar periods in UTC
// (a daily limit resets at midnight, a weekly one on Monday, a monthly one on the 1st);
// other windows are fixed blocks of that many seconds since the Unix epoch, or the
// trailing window with technique "sliding". Spend is measured by the minute, so a window
// under 60 s counts over 60 s; rules scoped to a model, provider or metadata are kept
// but not enforced. The control API's messages say both (inactive.go).
package config

import (
	"bytes"
	"encoding/json"
	"strconv"
	"time"
)

// Standard windows, in seconds.
const (
	SpendDaily   = 86400
	SpendWeekly  = 7 * 86400
	SpendMonthly = 30 * 86400
)

// SpendLimits is a gateway's spend_limits.
type SpendLimits struct {
	Enabled bool        `json:"enabled"`
	Rules   []SpendRule `json:"rules"`
}

// SpendRule is one limit: at most Limit USD over Window seconds.
type SpendRule struct {
	ID        string          `json:"id,omitempty"`
	Enabled   *bool           `json:"enabled,omitempty"` // absent: on
	Limit     float64         `json:"limit"`
	LimitType string          `json:"limitType"`
	Window    int64           `json:"window"`
	Technique string          `json:"technique,omitempty"` // fixed (default) or sliding
	Model     json.RawMessage `json:"model,omitempty"`
	Provider  json.RawMessage `json:"provider,omitempty"`
	Metadata  json.RawMessage `json:"metadata,omitempty"`
}

// MinSpendWindow is the shortest window spend is measured over (the analytics rollup
// counts cost by the minute): a shorter window is stored as sent and counted over this.
const MinSpendWindow = 60

// On reports whether the rule is enforced: enabled and not scoped (Scoped).
func (r *SpendRule) On() bool { return (r.Enabled == nil || *r.Enabled) && !r.Scoped() }

// Scoped reports whether the rule is limited to some models, providers or metadata
// values. The hosted API takes such rules; they are stored here but not enforced yet
// (the rollup's spend is the whole gateway's), and the control API says so.
func (r *SpendRule) Scoped() bool {
	return setRaw(r.Model) || setRaw(r.Provider) || setRaw(r.Metadata)
}

// ParseSpendLimits reads and checks a spend_limits value; nil for none. Errors name the
// rule's field.
func ParseSpendLimits(raw json.RawMessage) (*SpendLimits, *Error) {
	if len(bytes.TrimSpace(raw)) == 0 || string(bytes.TrimSpace(raw)) == "null" {
		return nil, nil
	}
	var sl SpendLimits
	if err := json.Unmarshal(raw, &sl); err != nil {
		return nil, invalid("spend_limits must be {\"enabled\":bool,\"rules\":[{\"limit\":USD,\"limitType\":\"cost\",\"window\":seconds}]}", "body", "spend_limits")
	}
	// A missing or null limit would read as 0, a budget that refuses every request.
	var limits struct {
		Rules []struct {
			Limit json.RawMessage `json:"limit"`
		} `json:"rules"`
	}
	_ = json.Unmarshal(raw, &limits) // decodes whenever sl did
	for i := range sl.Rules {
		r := &sl.Rules[i]
		at := func(f string) []string { return []string{"body", "spend_limits", "rules", strconv.Itoa(i), f} }
		switch {
		case i < len(limits.Rules) && (len(limits.Rules[i].Limit) == 0 || string(limits.Rules[i].Limit) == "null"):
			return nil, invalid("spend_limits.rules["+strconv.Itoa(i)+"].limit is required: a number of USD (0 refuses every request)", at("limit")...)
		case r.LimitType != "cost":
			return nil, invalid("spend_limits.rules["+strconv.Itoa(i)+"].limitType must be \"cost\"", at("limitType")...)
		case r.Limit < 0:
			return nil, invalid("spend_limits.rules["+strconv.Itoa(i)+"].limit must not be negative", at("limit")...)
		case r.Window < 1:
			return nil, invalid("spend_limits.rules["+strconv.Itoa(i)+"].window must be a positive number of seconds (86400 daily, 604800 weekly, 2592000 monthly)", at("window")...)
		case r.Technique != "" && r.Technique != "fixed" && r.Technique != "sliding":
			return nil, invalid("spend_limits.rules["+strconv.Itoa(i)+"].technique must be fixed or sliding", at("technique")...)
		}
	}
	return &sl, nil
}

// Period is the span a rule counts over at now, and when it resets (zero for a sliding
// window, which frees up gradually).
func (r *SpendRule) Period(now time.Time) (from, resets time.Time) {
	now = now.UTC()
	w := max(r.Window, MinSpendWindow)
	if r.Technique == "sliding" {
		return now.Add(-time.Duration(w) * time.Second), time.Time{}
	}
	day := time.Date(now.Year(), now.Month(), now.Day(), 0, 0, 0, 0, time.UTC)
	switch r.Window {
	case SpendDaily:
		return day, day.AddDate(0, 0, 1)
	case SpendWeekly:
		monday := day.AddDate(0, 0, -((int(day.Weekday()) + 6) % 7))
		return monday, monday.AddDate(0, 0, 7)
	case SpendMonthly, 31 * 86400, 2628000: // 30 or 31 days, or a twelfth of a year: the calendar month
		first := time.Date(now.Year(), now.Month(), 1, 0, 0, 0, 0, time.UTC)
		return first, first.AddDate(0, 1, 0)
	}
	start := now.Unix() / w * w
	return time.Unix(start, 0).UTC(), time.Unix(start+w, 0).UTC()
}
