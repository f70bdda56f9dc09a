// paths_fuzz_test.go fuzzes the provider path mapper: the path a client puts after
// /v1/{account}/{gateway}/{provider} never takes the upstream URL off the provider's host
// or out of its base path. Fuzz with
// go test ./engine/providers -run '^$' -fuzz '^FuzzProviderURL$' -parallel 1.
package providers

import (
	"net/url"
	"regexp"
	"strings"
	"testing"
)

// hostPattern matches the hosts a base URL can resolve to once its placeholders are filled.
func hostPattern(base string) *regexp.Regexp {
	u, _ := url.Parse(strings.NewReplacer("{", "PH", "}", "PH").Replace(base))
	p := regexp.QuoteMeta(u.Host)
	p = regexp.MustCompile(`PH([a-z_]+)PH`).ReplaceAllStringFunc(p, func(m string) string {
		if m == "PHhostPH" {
			return `([A-Za-z0-9-]+-)?aiplatform\.googleapis\.com`
		}
		return `[A-Za-z0-9-]{1,63}`
	})
	return regexp.MustCompile(`^` + p + `$`)
}

// FuzzProviderURL: for every provider, a path is refused, or maps to a URL on the
// provider's host, under its base path, with no dot segment, and with no query or
// fragment the path did not have.
func FuzzProviderURL(f *testing.F) {
	for _, s := range []string{
		"/chat/completions", "/v1/messages", "/v1/chat/completions",
		"/res/dep/chat/completions", "/res/deployments/dep/chat/completions",
		"/bedrock-runtime/us-east-1/model/anthropic.claude-3-5-haiku-20241022-v1:0/converse",
		"/v1/projects/p1/locations/us-central1/publishers/google/models/gemini-2.5-pro:streamGenerateContent",
		"/v1/projects/p1/locations/global/publishers/google/models/gemini-2.5-pro:generateContent",
		"/v1beta/models/gemini-2.5-flash:generateContent", "/@cf/meta/llama-3.1-8b-instruct",
		"/fal-ai/flux/dev", "/v1/models/black-forest-labs/flux-schnell/predictions",
		"/../../x", "/a/%2e%2e/b", "/a/..%2fb", "/a/%252e%252e/b", "/a\\..\\b", "//evil.example/x",
		"/res%2fevil/dep/x", "/@evil.example/x", "/a?b#c", "/a%3Fb%23c", "",
	} {
		for i := range 3 {
			f.Add(uint8(i*9), s)
		}
	}
	table := NewTable(func(string) string { return "" })
	slugs := Slugs()
	f.Fuzz(func(t *testing.T, which uint8, rest string) {
		if strings.ContainsFunc(rest, func(c rune) bool { return c <= ' ' || c == 0x7f }) || strings.ContainsAny(rest, "?#") {
			return // cannot arrive in an HTTP request line, or in its path (fasthttp splits off ? and #)
		}
		slug := slugs[int(which)%len(slugs)]
		r := table[slug]
		full, _, err := r.URL("acc123", rest)
		if err != nil {
			return
		}
		u, perr := url.Parse(full)
		if perr != nil {
			if strings.ContainsAny(rest, "%") {
				return // an invalid escape the client sent stays invalid; the upstream refuses it
			}
			t.Fatalf("%s %q → %q does not parse: %v", slug, rest, full, perr)
		}
		base, _ := url.Parse(strings.NewReplacer("{", "", "}", "").Replace(r.Base))
		if u.Scheme != base.Scheme || u.User != nil || !hostPattern(r.Base).MatchString(u.Host) {
			t.Fatalf("%s %q → %q leaves the provider's host", slug, rest, full)
		}
		basePath := strings.ReplaceAll(base.Path, "account_id", "acc123")
		if !strings.HasPrefix(u.EscapedPath(), basePath) && !strings.HasPrefix(u.Path, basePath) {
			t.Fatalf("%s %q → %q leaves the base path %q", slug, rest, full, basePath)
		}
		if hasDotSegment(u.EscapedPath()) {
			t.Fatalf("%s %q → %q has a dot segment", slug, rest, full)
		}
		if !strings.ContainsAny(rest, "?#") && (u.RawQuery != "" || u.Fragment != "" || u.ForceQuery) {
			t.Fatalf("%s %q → %q gains a query or fragment", slug, rest, full)
		}
	})
}
