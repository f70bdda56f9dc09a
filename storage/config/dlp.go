// dlp.go reads a gateway's dlp setting in both hosted forms (cloudflare-go v7 ai_gateway):
// the simple {enabled, action, profiles}, which checks requests and responses, and
// {enabled, policies: [{id, profiles, action, check, enabled}]}. A malformed setting is
// refused with the field named; the engine acts on the parsed policies.
package config

import (
	"strconv"
	"strings"

	json "github.com/goccy/go-json"
)

// DLP actions. REDACT is Switchyard's own: the matched text is masked and the request
// goes on, recorded like FLAG.
const (
	DLPFlag   = "FLAG"
	DLPBlock  = "BLOCK"
	DLPRedact = "REDACT"
)

// SimpleDLPPolicyID names the one policy of the simple form in findings and logs.
const SimpleDLPPolicyID = "default"

// DLPPolicy is one enabled policy: the profiles it checks, what it checks and its action.
type DLPPolicy struct {
	ID       string
	Profiles []string
	Action   string
	Request  bool // checks what the client sends
	Response bool // checks what the provider answers
}

// DLPSettings are a gateway's enabled DLP policies.
type DLPSettings struct {
	Policies []DLPPolicy
	// Request and Response: some policy checks that side.
	Request, Response bool
}

// Profiles lists every profile id the policies name, once each.
func (d *DLPSettings) Profiles() []string {
	var out []string
	seen := map[string]bool{}
	for _, p := range d.Policies {
		for _, id := range p.Profiles {
			if !seen[id] {
				seen[id] = true
				out = append(out, id)
			}
		}
	}
	return out
}

type dlpBody struct {
	Enabled  *bool            `json:"enabled"`
	Action   *string          `json:"action"`
	Profiles json.RawMessage  `json:"profiles"`
	Policies *json.RawMessage `json:"policies"`
}

type dlpPolicyBody struct {
	ID       *string         `json:"id"`
	Profiles json.RawMessage `json:"profiles"`
	Action   *string         `json:"action"`
	Check    json.RawMessage `json:"check"`
	Enabled  *bool           `json:"enabled"`
}

// ParseDLP reads a dlp setting. It answers nil when the setting is absent, null or not
// enabled (a disabled setting is kept as sent), and an error naming the field at fault.
func ParseDLP(raw json.RawMessage) (*DLPSettings, *Error) {
	if !setRaw(raw) {
		return nil, nil
	}
	var b dlpBody
	if err := json.Unmarshal(raw, &b); err != nil {
		return nil, invalid("dlp must be an object {enabled, action, profiles} or {enabled, policies}", "body", "dlp")
	}
	if b.Enabled == nil {
		return nil, invalid("dlp.enabled is required (true or false)", "body", "dlp", "enabled")
	}
	if !*b.Enabled {
		return nil, nil // kept as sent; checked when it is switched on
	}
	d := &DLPSettings{}
	switch {
	case b.Policies != nil:
		if b.Action != nil || len(b.Profiles) > 0 {
			return nil, invalid("dlp takes either action and profiles, or policies, not both", "body", "dlp")
		}
		var list []json.RawMessage
		if err := json.Unmarshal(*b.Policies, &list); err != nil {
			return nil, invalid("dlp.policies must be a list of {id, profiles, action, check, enabled}", "body", "dlp", "policies")
		}
		ids := map[string]bool{}
		for i, item := range list {
			p, on, e := parseDLPPolicy(item, i)
			if e != nil {
				return nil, e
			}
			if ids[p.ID] {
				return nil, invalid("dlp.policies["+strconv.Itoa(i)+"].id "+strconv.Quote(p.ID)+" is used twice", "body", "dlp", "policies", strconv.Itoa(i), "id")
			}
			ids[p.ID] = true
			if on {
				d.Policies = append(d.Policies, p)
			}
		}
	case b.Action == nil && !setRaw(b.Profiles):
		// switched on with no policy yet (the dashboard's toggle before "Add policy")
	default:
		if b.Action == nil {
			return nil, invalid("dlp.action is required (FLAG or BLOCK), or give dlp.policies", "body", "dlp", "action")
		}
		action, e := dlpAction(*b.Action, "dlp.action", "body", "dlp", "action")
		if e != nil {
			return nil, e
		}
		profiles, e := dlpProfiles(b.Profiles, "dlp.profiles", "body", "dlp", "profiles")
		if e != nil {
			return nil, e
		}
		d.Policies = []DLPPolicy{{ID: SimpleDLPPolicyID, Profiles: profiles, Action: action, Request: true, Response: true}}
	}
	if len(d.Policies) == 0 {
		return nil, nil
	}
	for _, p := range d.Policies {
		d.Request = d.Request || p.Request
		d.Response = d.Response || p.Response
	}
	return d, nil
}

// parseDLPPolicy reads policies[i]; on reports whether it is enabled (default true).
func parseDLPPolicy(raw json.RawMessage, i int) (DLPPolicy, bool, *Error) {
	at := "dlp.policies[" + strconv.Itoa(i) + "]"
	path := func(f string) []string { return []string{"body", "dlp", "policies", strconv.Itoa(i), f} }
	var b dlpPolicyBody
	if err := json.Unmarshal(raw, &b); err != nil {
		return DLPPolicy{}, false, invalid(at+" must be an object {id, profiles, action, check, enabled}", "body", "dlp", "policies", strconv.Itoa(i))
	}
	var p DLPPolicy
	if b.ID == nil || strings.TrimSpace(*b.ID) == "" || len(*b.ID) > 128 {
		return p, false, invalid(at+".id is required: a name of 1-128 characters, unique in the gateway", path("id")...)
	}
	p.ID = *b.ID
	if b.Action == nil {
		return p, false, invalid(at+".action is required (FLAG or BLOCK)", path("action")...)
	}
	var e *Error
	if p.Action, e = dlpAction(*b.Action, at+".action", path("action")...); e != nil {
		return p, false, e
	}
	if p.Profiles, e = dlpProfiles(b.Profiles, at+".profiles", path("profiles")...); e != nil {
		return p, false, e
	}
	if p.Request, p.Response, e = dlpCheck(b.Check, at+".check", path("check")...); e != nil {
		return p, false, e
	}
	return p, b.Enabled == nil || *b.Enabled, nil
}

func dlpAction(v, name string, path ...string) (string, *Error) {
	switch strings.ToUpper(v) {
	case DLPFlag, DLPBlock, DLPRedact:
		return strings.ToUpper(v), nil
	}
	return "", invalid(name+" must be FLAG or BLOCK (or REDACT, Switchyard's own), got "+strconv.Quote(v), path...)
}

func dlpProfiles(raw json.RawMessage, name string, path ...string) ([]string, *Error) {
	var ids []string
	if json.Unmarshal(raw, &ids) != nil || len(ids) == 0 {
		return nil, invalid(name+" must be a non-empty list of DLP profile ids", path...)
	}
	for _, id := range ids {
		if strings.TrimSpace(id) == "" {
			return nil, invalid(name+" has an empty profile id", path...)
		}
	}
	return ids, nil
}

// dlpCheck reads what a policy checks: absent means both; a list of REQUEST and RESPONSE,
// or one of REQUEST, RESPONSE, BOTH as a string.
func dlpCheck(raw json.RawMessage, name string, path ...string) (req, resp bool, e *Error) {
	if t := strings.TrimSpace(string(raw)); t == "" || t == "null" {
		return true, true, nil
	}
	var list []string
	if json.Unmarshal(raw, &list) != nil {
		var one string
		if json.Unmarshal(raw, &one) != nil {
			return false, false, invalid(name+" must be REQUEST, RESPONSE or both: a list such as [\"REQUEST\",\"RESPONSE\"] or one of the strings", path...)
		}
		list = []string{one}
	}
	for _, c := range list {
		switch strings.ToUpper(c) {
		case "REQUEST":
			req = true
		case "RESPONSE":
			resp = true
		case "BOTH":
			req, resp = true, true
		default:
			return false, false, invalid(name+" must be REQUEST, RESPONSE or BOTH, got "+strconv.Quote(c), path...)
		}
	}
	if !req && !resp {
		return false, false, invalid(name+" must name REQUEST, RESPONSE or both", path...)
	}
	return req, resp, nil
}

// dlpProfilesKnown checks every profile a dlp setting names exists for the account.
func (s *Service) dlpProfilesKnown(acct string, raw json.RawMessage) *Error {
	if s.KnownDLPProfile == nil || !setRaw(raw) {
		return nil
	}
	var b dlpBody
	if json.Unmarshal(raw, &b) != nil {
		return nil // ParseDLP has refused it
	}
	check := func(raw json.RawMessage, name string, path ...string) *Error {
		var ids []string
		_ = json.Unmarshal(raw, &ids)
		for _, id := range ids {
			if !s.KnownDLPProfile(acct, id) {
				return invalid(name+" names "+strconv.Quote(id)+", which is no DLP profile of this account (GET /accounts/{account_id}/dlp/profiles lists them)", path...)
			}
		}
		return nil
	}
	if b.Policies == nil {
		return check(b.Profiles, "dlp.profiles", "body", "dlp", "profiles")
	}
	var list []dlpPolicyBody
	_ = json.Unmarshal(*b.Policies, &list)
	for i, p := range list {
		if e := check(p.Profiles, "dlp.policies["+strconv.Itoa(i)+"].profiles", "body", "dlp", "policies", strconv.Itoa(i), "profiles"); e != nil {
			return e
		}
	}
	return nil
}
