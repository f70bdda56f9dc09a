// inactive.go lists the gateway settings Switchyard stores (so that a client round-trips
// them and the hosted API's shapes are accepted) but does not act on yet, so that the
// control API can say so in its answer's messages instead of accepting them silently.
package config

import (
	"bytes"
	"encoding/json"
	"strconv"
)

// Inactive is a setting a gateway has on that this gateway does not act on (or, Adjusted,
// acts on differently than the hosted API would).
type Inactive struct {
	Setting  string // the field name, e.g. "dlp"
	Message  string // what it means here, starting with the setting's name
	Adjusted bool   // acted on, but not exactly as asked (a spend window under a minute)
}

// notActedOn are the settings stored but not enforced, and why, in the order answered.
var notActedOn = []struct {
	setting, why string
	on           func(g *Gateway) bool
}{
	{"zdr", "is stored but not acted on: zero data retention applies to the hosted Unified Billing credentials, which this gateway does not have", func(g *Gateway) bool { return g.Zdr }},
	{"stripe", "is stored but not acted on: no usage events are sent to Stripe", func(g *Gateway) bool { return setRaw(g.Stripe) }},
	{"log_classification", "is stored but not acted on: logs are not classified", func(g *Gateway) bool { return g.LogClassification }},
}

// InactiveSettings lists the settings g has on that this gateway stores but does not act
// on, one entry each, and the parts of its spend_limits that work differently here.
func (g *Gateway) InactiveSettings() []Inactive {
	var out []Inactive
	for _, s := range notActedOn {
		if s.on(g) {
			out = append(out, Inactive{Setting: s.setting, Message: s.setting + " " + s.why})
		}
	}
	sl, err := ParseSpendLimits(g.SpendLimits)
	if err != nil || sl == nil {
		return out
	}
	for i, r := range sl.Rules {
		rule := "spend_limits.rules[" + strconv.Itoa(i) + "]"
		if r.Scoped() {
			msg := rule + " is stored but not enforced: rules scoped to a model, provider or metadata are not supported yet (a rule without them limits the whole gateway)"
			if setRaw(r.Metadata) {
				msg += "; its metadata is kept but left out of answers, which cloudflare-go v7 cannot decode"
			}
			out = append(out, Inactive{Setting: "spend_limits", Message: msg})
		} else if r.Window < MinSpendWindow {
			out = append(out, Inactive{Setting: "spend_limits", Adjusted: true, Message: rule + ".window " + strconv.FormatInt(r.Window, 10) +
				" s is counted over " + strconv.Itoa(MinSpendWindow) + " s: this gateway measures spend by the minute"})
		}
	}
	return out
}

// setRaw reports whether a kept-as-sent setting holds something: not absent, null, false,
// an empty object or an empty list.
func setRaw(raw json.RawMessage) bool {
	switch string(bytes.TrimSpace(raw)) {
	case "", "null", "false", "{}", "[]":
		return false
	}
	var v any
	if json.Unmarshal(raw, &v) != nil {
		return true
	}
	switch x := v.(type) {
	case map[string]any:
		return len(x) > 0
	case []any:
		return len(x) > 0
	}
	return true
}
