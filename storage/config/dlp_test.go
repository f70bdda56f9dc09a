// dlp_test.go checks both hosted forms of a gateway's dlp setting and the errors that
// name the field at fault.
package config

import (
	"slices"
	"strings"
	"testing"
)

func TestParseDLP(t *testing.T) {
	for _, c := range []struct {
		raw      string
		policies string // id:action:checks, space separated
		err, at  string
	}{
		{raw: ``, policies: ""},
		{raw: `{"enabled":false,"action":"BLOCK","profiles":["p"]}`, policies: ""},
		{raw: `{"enabled":false,"action":"BLOCK","profiles":[]}`, policies: ""},
		{raw: `{"enabled":true}`, policies: ""},
		{raw: `{"enabled":true,"action":"BLOCK","profiles":["p","q"]}`, policies: "default:BLOCK:RQ,RS"},
		{raw: `{"enabled":true,"policies":[{"id":"pii","profiles":["p"],"action":"FLAG","check":["REQUEST"],"enabled":true},` +
			`{"id":"cards","profiles":["q"],"action":"block","check":"RESPONSE"},{"id":"off","profiles":["q"],"action":"BLOCK","enabled":false},` +
			`{"id":"both","profiles":["q"],"action":"REDACT","check":"BOTH"}]}`, policies: "pii:FLAG:RQ cards:BLOCK:RS both:REDACT:RQ,RS"},
		{raw: `{"enabled":true,"policies":[{"id":"x","profiles":["p"],"action":"FLAG"}]}`, policies: "x:FLAG:RQ,RS"},
		{raw: `[1]`, err: "must be an object", at: "dlp"},
		{raw: `{"action":"FLAG","profiles":["p"]}`, err: "enabled is required", at: "dlp.enabled"},
		{raw: `{"enabled":true,"action":"WARN","profiles":["p"]}`, err: "FLAG or BLOCK", at: "dlp.action"},
		{raw: `{"enabled":true,"action":"FLAG"}`, err: "non-empty list", at: "dlp.profiles"},
		{raw: `{"enabled":true,"profiles":["p"]}`, err: "action is required", at: "dlp.action"},
		{raw: `{"enabled":true,"action":"FLAG","profiles":["p"],"policies":[]}`, err: "not both", at: "dlp"},
		{raw: `{"enabled":true,"policies":{"id":"x"}}`, err: "must be a list", at: "dlp.policies"},
		{raw: `{"enabled":true,"policies":[{"profiles":["p"],"action":"FLAG"}]}`, err: "id is required", at: "dlp.policies.0.id"},
		{raw: `{"enabled":true,"policies":[{"id":"a","profiles":["p"],"action":"FLAG"},{"id":"a","profiles":["p"],"action":"FLAG"}]}`, err: "used twice", at: "dlp.policies.1.id"},
		{raw: `{"enabled":true,"policies":[{"id":"a","profiles":[],"action":"FLAG"}]}`, err: "non-empty list", at: "dlp.policies.0.profiles"},
		{raw: `{"enabled":true,"policies":[{"id":"a","profiles":["p"],"action":"FLAG","check":["BODY"]}]}`, err: "REQUEST, RESPONSE or BOTH", at: "dlp.policies.0.check"},
		{raw: `{"enabled":true,"policies":[{"id":"a","profiles":["p"],"action":"FLAG","check":[]}]}`, err: "must name", at: "dlp.policies.0.check"},
	} {
		d, e := ParseDLP([]byte(c.raw))
		if c.err != "" {
			if e == nil || !strings.Contains(e.Message, c.err) || strings.Join(e.Path[1:], ".") != c.at {
				t.Errorf("%s: %+v, want an error at %s mentioning %q", c.raw, e, c.at, c.err)
			}
			continue
		}
		if e != nil {
			t.Errorf("%s: %v", c.raw, e)
			continue
		}
		var got []string
		if d != nil {
			for _, p := range d.Policies {
				var checks []string
				if p.Request {
					checks = append(checks, "RQ")
				}
				if p.Response {
					checks = append(checks, "RS")
				}
				got = append(got, p.ID+":"+p.Action+":"+strings.Join(checks, ","))
			}
		}
		if strings.Join(got, " ") != c.policies {
			t.Errorf("%s: policies %q, want %q", c.raw, got, c.policies)
		}
	}
	d, _ := ParseDLP([]byte(`{"enabled":true,"policies":[{"id":"a","profiles":["p","q"],"action":"FLAG","check":"REQUEST"},{"id":"b","profiles":["q","r"],"action":"BLOCK","check":"REQUEST"}]}`))
	if !slices.Equal(d.Profiles(), []string{"p", "q", "r"}) || !d.Request || d.Response {
		t.Errorf("profiles %v request %v response %v", d.Profiles(), d.Request, d.Response)
	}
}
