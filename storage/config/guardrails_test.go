// guardrails_test.go checks the hosted shape of a gateway's guardrails setting, the guard
// model setting, and the errors that name the field at fault.
package config

import (
	"sort"
	"strings"
	"testing"
)

func TestParseGuardrails(t *testing.T) {
	for _, c := range []struct {
		raw     string
		want    string // prompt cats | response cats | provider model timeout; "" = off
		err, at string
	}{
		{raw: ``},
		{raw: `null`},
		{raw: `{}`},
		{raw: `{"prompt":{},"response":{}}`},
		{raw: `{"prompt":{"S1":"IGNORE","S2":null}}`},
		{raw: `{"prompt":{"S1":"FLAG"}}`, want: "S1=FLAG||workers-ai @cf/meta/llama-guard-3-8b 10000"},
		{raw: `{"prompt":{"S1":"FLAG","S10":"BLOCK","P1":"flag","S3":"Ignore"},"response":{"S14":"BLOCK"}}`,
			want: "P1=FLAG S10=BLOCK S1=FLAG|S14=BLOCK|workers-ai @cf/meta/llama-guard-3-8b 10000"},
		{raw: `{"response":{"S9":"BLOCK"},"model":{"provider":"custom-guard","model":"llama-guard3:8b","timeout_ms":2500}}`,
			want: "|S9=BLOCK|custom-guard llama-guard3:8b 2500"},
		{raw: `{"prompt":{"S9":"BLOCK"},"model":{"model":"@cf/meta/llama-guard-3-8b-beta"}}`,
			want: "S9=BLOCK||workers-ai @cf/meta/llama-guard-3-8b-beta 10000"},
		{raw: `[1]`, err: "must be an object", at: "guardrails"},
		{raw: `{"enabled":true,"prompt":{"S1":"FLAG"}}`, err: "not a guardrails setting", at: "guardrails.enabled"},
		{raw: `{"prompt":["S1"]}`, err: "must be an object", at: "guardrails.prompt"},
		{raw: `{"prompt":{"S99":"FLAG"}}`, err: "not a guardrails category", at: "guardrails.prompt.S99"},
		{raw: `{"response":{"s1":"FLAG"}}`, err: "not a guardrails category", at: "guardrails.response.s1"},
		{raw: `{"response":{"S1":"WARN"}}`, err: "FLAG, BLOCK or IGNORE", at: "guardrails.response.S1"},
		{raw: `{"response":{"S1":true}}`, err: "FLAG, BLOCK or IGNORE", at: "guardrails.response.S1"},
		{raw: `{"prompt":{"S1":"FLAG"},"model":"llama"}`, err: "must be an object", at: "guardrails.model"},
		{raw: `{"prompt":{"S1":"FLAG"},"model":{"provider":"Open AI"}}`, err: "provider slug", at: "guardrails.model.provider"},
		{raw: `{"prompt":{"S1":"FLAG"},"model":{"provider":"openai"}}`, err: "model is required", at: "guardrails.model.model"},
		{raw: `{"prompt":{"S1":"FLAG"},"model":{"model":"../x"}}`, err: "model name", at: "guardrails.model.model"},
		{raw: `{"prompt":{"S1":"FLAG"},"model":{"timeout_ms":0}}`, err: "between 1 and", at: "guardrails.model.timeout_ms"},
	} {
		s, e := ParseGuardrails([]byte(c.raw))
		if c.err != "" {
			if e == nil || !strings.Contains(e.Message, c.err) || strings.Join(e.Path[1:], ".") != c.at || !strings.Contains(e.Message, c.at) {
				t.Errorf("%s: %+v, want an error at %s mentioning %q", c.raw, e, c.at, c.err)
			}
			continue
		}
		if e != nil {
			t.Errorf("%s: %v", c.raw, e)
			continue
		}
		got := ""
		if s != nil {
			got = side(s.Prompt) + "|" + side(s.Response) + "|" + s.Provider + " " + s.Model + " " + itoa(int64(s.TimeoutMs))
		}
		if got != c.want {
			t.Errorf("%s: %q, want %q", c.raw, got, c.want)
		}
	}
	// Through the gateway validation the control API runs.
	if e := validateGateway(&Gateway{RateLimitingTechnique: "fixed", Guardrails: []byte(`{"prompt":{"S99":"FLAG"}}`)}); e == nil || !strings.Contains(e.Message, "guardrails.prompt.S99") {
		t.Errorf("validateGateway: %v", e)
	}
}

func side(m map[string]string) string {
	var out []string
	for k, v := range m {
		out = append(out, k+"="+v)
	}
	sort.Strings(out)
	return strings.Join(out, " ")
}
