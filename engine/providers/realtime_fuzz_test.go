// realtime_fuzz_test.go fuzzes the other two ways a client names an upstream URL: the
// realtime WebSocket path and query, and a target URL header (fal's x-fal-target-url).
// Neither may leave the provider's host or base path. Fuzz with
// go test ./engine/providers -run '^$' -fuzz '^FuzzRealtimeURL$' -parallel 1.
package providers

import (
	"errors"
	"net/url"
	"strings"
	"testing"
)

// FuzzRealtimeURL: a realtime path and query are refused, or give a ws(s) URL on the
// provider's (realtime) host, under its base path, with no dot segment and no fragment.
func FuzzRealtimeURL(f *testing.F) {
	for _, s := range [][2]string{
		{"/", "model=gpt-4o-realtime-preview"}, {"/", "api_key=k&x=1"}, {"/v1/listen", "model=nova-3"},
		{"/@cf/deepgram/nova-3", "encoding=linear16"}, {"/", "model=@cf/deepgram/nova-3"}, {"/run/@cf/x/y", ""},
		{"/fal-ai/fast-lcm-diffusion", "fal_jwt_token=t"}, {"/", "agent_id=a&conversation_signature=s"},
		{"/../../x", ""}, {"/a/%2e%2e/b", ""}, {"/", "model=../x"}, {"/", "a#b"}, {"//evil.example/x", ""}, {"", ""},
	} {
		for i := range 4 {
			f.Add(uint8(i*5), s[0], s[1])
		}
	}
	table := NewTable(func(string) string { return "" })
	table["custom-acme"] = Custom("custom-acme", "https://llm.acme.example/api")
	var slugs []string
	for _, s := range append(RealtimeSlugs(), "custom-acme", "anthropic") {
		if table[RealtimeSlug(s)] != nil {
			slugs = append(slugs, RealtimeSlug(s))
		}
	}
	f.Fuzz(func(t *testing.T, which uint8, rest, query string) {
		if strings.ContainsFunc(rest+query, func(c rune) bool { return c <= ' ' || c == 0x7f }) || strings.ContainsAny(rest, "?#") {
			return // cannot arrive in an HTTP request line, or in its path (fasthttp splits off ? and #)
		}
		if rest != "" && rest[0] != '/' {
			rest = "/" + rest // the path after the slug always starts with "/"
		}
		r := table[slugs[int(which)%len(slugs)]]
		tgt, err := r.RealtimeURL("acc123", rest, query)
		if err != nil {
			return
		}
		u, perr := url.Parse(tgt.URL)
		if perr != nil {
			if strings.Contains(rest+query, "%") {
				return // an invalid escape the client sent stays invalid
			}
			t.Fatalf("%s %q %q → %q does not parse: %v", r.Slug, rest, query, tgt.URL, perr)
		}
		base := r.Base
		if api := realtimeAPIFor(r.Slug); api != nil && api.host != "" {
			base = api.host
		}
		b, _ := url.Parse(strings.ReplaceAll(base, "{account_id}", "acc123"))
		if (u.Scheme != "wss" && u.Scheme != "ws") || u.Host != b.Host || u.User != nil {
			t.Fatalf("%s %q %q → %q leaves the provider's host %s", r.Slug, rest, query, tgt.URL, b.Host)
		}
		if !strings.HasPrefix(u.EscapedPath(), b.EscapedPath()) || hasDotSegment(u.EscapedPath()) {
			t.Fatalf("%s %q %q → %q leaves the base path %q", r.Slug, rest, query, tgt.URL, b.Path)
		}
		if !strings.Contains(rest+query, "#") && u.Fragment != "" {
			t.Fatalf("%s %q %q → %q gains a fragment", r.Slug, rest, query, tgt.URL)
		}
	})
}

// FuzzTargetURL: a target URL header is refused with a TargetError naming the header, or
// gives an https URL on a host the provider accepts, with no dot segment, credentials or
// fragment.
func FuzzTargetURL(f *testing.F) {
	for _, s := range []string{
		"https://fal.run/fal-ai/flux/dev", "https://queue.fal.run/fal-ai/flux/dev/requests/1/status?logs=1",
		"https://rest.alpha.fal.ai/storage/upload", "http://fal.run/x", "https://evil.example/x", "https://fal.run.evil.example/",
		"https://user:pw@fal.run/x", "https://fal.run/../x", "https://fal.run/a/%2e%2e/b", "https://fal.run:8443/x",
		"https://FAL.RUN/x#f", "//fal.run/x", "https://fal.run", " https://fal.run/x ", "https://[::1]/x", "https://fal.run\\@evil.example/",
	} {
		f.Add(s)
	}
	r := NewTable(func(string) string { return "" })["fal"]
	if r == nil || r.TargetHost == nil {
		f.Skip("no provider takes a target URL header")
	}
	f.Fuzz(func(t *testing.T, raw string) {
		out, _, err := r.TargetURL(raw)
		if err != nil {
			var te *TargetError
			if !errors.As(err, &te) || te.Header != r.TargetURLHeader {
				t.Fatalf("%q refused with %v, not a TargetError naming %s", raw, err, r.TargetURLHeader)
			}
			return
		}
		u, perr := url.Parse(out)
		if perr != nil {
			t.Fatalf("%q → %q does not parse: %v", raw, out, perr)
		}
		if u.Scheme != "https" || u.User != nil || u.Fragment != "" || !r.TargetHost(u.Hostname()) || (u.Port() != "" && u.Port() != "443") {
			t.Fatalf("%q → %q is not an https URL on one of the provider's hosts", raw, out)
		}
		if hasDotSegment(u.EscapedPath()) {
			t.Fatalf("%q → %q has a dot segment", raw, out)
		}
	})
}
