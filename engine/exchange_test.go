// exchange_test.go: which client headers go to the provider and which provider headers come
// back, whatever their case, with the request loops' allocation-free name lowering; and the
// 400 for a provider URL that cannot be built.
package engine

import (
	"errors"
	"fmt"
	"slices"
	"testing"

	"github.com/switchyard/switchyard/engine/compat"
	"github.com/switchyard/switchyard/engine/providers"
	"github.com/valyala/fasthttp"
)

func TestLowerHeaderName(t *testing.T) {
	var buf [8]byte // shorter than some names: they grow out of it
	for in, want := range map[string]string{
		"Content-Type": "content-type", "X-Stainless-Retry-Count": "x-stainless-retry-count",
		"cf-aig-cache-ttl": "cf-aig-cache-ttl", "": "", "ÄB": "Äb",
	} {
		if got := string(LowerHeaderName(buf[:0], []byte(in))); got != want {
			t.Errorf("LowerHeaderName(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestResponseHeadersForTheClient(t *testing.T) {
	cases := []struct {
		name    string
		unified bool
		want    []string
	}{
		{"provider path: all but hop-by-hop", false, []string{"Content-Type", "X-Request-Id", "X-Ratelimit-Remaining-Requests", "Openai-Model"}},
		{"unified: the translated type, ids and rate limits", true, []string{"Content-Type", "X-Request-Id", "X-Ratelimit-Remaining-Requests"}},
	}
	for _, c := range cases {
		resp := &fasthttp.Response{}
		resp.Header.SetContentType("application/json")
		resp.Header.Set("X-Request-Id", "req_1")
		resp.Header.Set("x-ratelimit-remaining-requests", "99")
		resp.Header.Set("OpenAI-Model", "gpt-4o-mini")
		resp.Header.Set("Keep-Alive", "timeout=5")
		resp.Header.Set("Proxy-Authenticate", "Basic")
		resp.Header.Set("Upgrade", "h2c")
		x := &Exchange{Req: &Request{}, upstream: resp, RespCType: "application/json"}
		if c.unified {
			x.Req.Compat = &compat.Call{}
		}
		var got []string
		x.VisitResponseHeaders(func(k, _ []byte) { got = append(got, string(k)) })
		for _, w := range c.want {
			if !slices.Contains(got, w) {
				t.Errorf("%s: %s not passed on (got %v)", c.name, w, got)
			}
		}
		for _, g := range got {
			if !slices.Contains(c.want, g) {
				t.Errorf("%s: %s passed on (want only %v)", c.name, g, c.want)
			}
		}
	}
}

// A target whose URL cannot be built is a 400 that says why.
func TestURLError(t *testing.T) {
	cases := []struct {
		err  error
		want string
	}{
		{&providers.TargetError{Header: "x-fal-target-url", Reason: "not https"}, "x-fal-target-url: not https; it must be an https URL on one of the provider's own hosts"},
		{fmt.Errorf("map: %w", providers.ErrDotSegment), "the path after /openai has a . or .. segment (percent-encoded or not), which would leave the provider's base path"},
		{errors.New("no deployment"), "the path after /openai does not match the provider's URL shape"},
	}
	for _, c := range cases {
		e := urlError("openai", c.err)
		if e.Status != 400 || e.Code != CodeBadRequest || e.Message != c.want {
			t.Errorf("urlError(%v) = %d %d %q, want 400 %d %q", c.err, e.Status, e.Code, e.Message, CodeBadRequest, c.want)
		}
	}
}
