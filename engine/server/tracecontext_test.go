// tracecontext_test.go checks which trace-context headers are taken and which ignored.
package server

import (
	"testing"

	"github.com/valyala/fasthttp"
)

func TestTraceContext(t *testing.T) {
	const tid, sid = "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"
	for _, c := range []struct {
		name          string
		headers       map[string]string
		trace, parent string
	}{
		{"none", nil, "", ""},
		{"cf headers", map[string]string{"cf-aig-otel-trace-id": tid, "cf-aig-otel-parent-span-id": sid}, tid, sid},
		{"cf upper case", map[string]string{"cf-aig-otel-trace-id": "4BF92F3577B34DA6A3CE929D0E0E4736"}, tid, ""},
		{"cf trace only", map[string]string{"cf-aig-otel-trace-id": tid}, tid, ""},
		{"cf bad parent ignored", map[string]string{"cf-aig-otel-trace-id": tid, "cf-aig-otel-parent-span-id": "xyz"}, tid, ""},
		{"cf parent without trace", map[string]string{"cf-aig-otel-parent-span-id": sid}, "", ""},
		{"reference's example is not hex", map[string]string{"cf-aig-otel-trace-id": "a1b2c3d4e5f6g7h8i9j0k1l2m3n4o5p6"}, "", ""},
		{"cf zero trace", map[string]string{"cf-aig-otel-trace-id": "00000000000000000000000000000000"}, "", ""},
		{"cf short", map[string]string{"cf-aig-otel-trace-id": tid[:31]}, "", ""},
		{"cf wins over traceparent", map[string]string{"cf-aig-otel-trace-id": tid, "traceparent": "00-11111111111111111111111111111111-2222222222222222-01"}, tid, ""},
		{"traceparent", map[string]string{"traceparent": "00-" + tid + "-" + sid + "-01"}, tid, sid},
		{"traceparent future version with more", map[string]string{"traceparent": "01-" + tid + "-" + sid + "-01-extra"}, tid, sid},
		{"traceparent v00 with more", map[string]string{"traceparent": "00-" + tid + "-" + sid + "-01-extra"}, "", ""},
		{"traceparent version ff", map[string]string{"traceparent": "ff-" + tid + "-" + sid + "-01"}, "", ""},
		{"traceparent zero span", map[string]string{"traceparent": "00-" + tid + "-0000000000000000-01"}, "", ""},
		{"traceparent garbage", map[string]string{"traceparent": "hello"}, "", ""},
	} {
		var h fasthttp.RequestHeader
		for k, v := range c.headers {
			h.Set(k, v)
		}
		tr, p := traceContext(&h)
		if tr != c.trace || p != c.parent {
			t.Errorf("%s: %q %q, want %q %q", c.name, tr, p, c.trace, c.parent)
		}
	}
	var h fasthttp.RequestHeader
	h.Set("content-type", "application/json")
	if n := testing.AllocsPerRun(100, func() { traceContext(&h) }); n != 0 {
		t.Errorf("%v allocations without trace headers", n)
	}
}
