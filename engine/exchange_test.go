// exchange_test.go: which client headers go to the provider and which provider headers come
// back, whatever their case, with the request loops' allocation-free name lowering; and the
// 400 for a provider URL that cannot be built; a captured body's truncation and growth.
package engine

import (
	"bytes"
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

// A body captured chunk by chunk keeps its first limit bytes, says when it was cut, and
// grows by doubling from the room it started with (a 20-chunk stream: no copy at all).
func TestCaptureChunks(t *testing.T) {
	chunk := bytes.Repeat([]byte("data: {\"choices\":[]}\n\n"), 8) // 176 bytes
	n := len(chunk)
	cases := []struct {
		name         string
		start, limit int
		chunks       int
		wantLen      int
		wantTrunc    bool
		maxGrowths   int
	}{
		{"stream within its start room", streamCaptureStart, 4 << 20, 20, 20 * n, false, 0},
		{"long stream, doubling", streamCaptureStart, 4 << 20, 2000, 2000 * n, false, 6},
		{"cut at the limit mid-chunk", streamCaptureStart, 1000, 20, 1000, true, 0},
		{"cut at a limit above the start room", 256, 5000, 40, 5000, true, 5},
		{"one-shot capture from nothing", 0, 4 << 20, 1, n, false, 1},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var dst []byte
			if c.start > 0 {
				dst = make([]byte, 0, min(c.limit, c.start))
			}
			trunc, growths, lastCap := false, 0, cap(dst)
			for range c.chunks {
				dst = capture(dst, chunk, c.limit, &trunc)
				if cap(dst) != lastCap {
					growths, lastCap = growths+1, cap(dst)
				}
				if cap(dst) > c.limit {
					t.Fatalf("capacity %d over the limit %d", cap(dst), c.limit)
				}
			}
			if len(dst) != c.wantLen || trunc != c.wantTrunc || growths > c.maxGrowths {
				t.Fatalf("len %d trunc %v after %d growths; want len %d trunc %v, at most %d growths",
					len(dst), trunc, growths, c.wantLen, c.wantTrunc, c.maxGrowths)
			}
			if !bytes.Equal(dst, bytes.Repeat(chunk, c.chunks)[:c.wantLen]) {
				t.Fatal("captured bytes differ from what was sent")
			}
		})
	}
}
