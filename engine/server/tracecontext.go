// tracecontext.go reads the client's trace context for the OpenTelemetry export: the
// reference's cf-aig-otel-trace-id / cf-aig-otel-parent-span-id headers, else a W3C
// traceparent. A malformed or all-zero id is ignored, never a failed request; without the
// headers it costs three header lookups and no allocation.
package server

import "github.com/valyala/fasthttp"

// traceContext answers the trace id (32 lowercase hex) and the parent span id (16, only
// with a trace id), or empty strings.
func traceContext(h *fasthttp.RequestHeader) (traceID, parentID string) {
	if t := h.Peek("cf-aig-otel-trace-id"); len(t) > 0 {
		if !hexID(t, 32) {
			return "", ""
		}
		traceID = lowerHex(t)
		if p := h.Peek("cf-aig-otel-parent-span-id"); hexID(p, 16) {
			parentID = lowerHex(p)
		}
		return traceID, parentID
	}
	// traceparent: version "-" trace-id "-" parent-id "-" flags (W3C Trace Context).
	tp := h.Peek("traceparent")
	if len(tp) < 55 || tp[2] != '-' || tp[35] != '-' || tp[52] != '-' || !hexID(tp[:2], 2) || !hexID(tp[53:55], 2) {
		return "", ""
	}
	// Version ff is invalid; version 00 has nothing after the flags; a later version may
	// add fields after a '-'.
	if v := string(tp[:2]); v == "ff" || len(tp) > 55 && (v == "00" || tp[55] != '-') {
		return "", ""
	}
	if !hexID(tp[3:35], 32) || !hexID(tp[36:52], 16) {
		return "", ""
	}
	return lowerHex(tp[3:35]), lowerHex(tp[36:52])
}

// hexID: exactly n hex digits, not all zero.
func hexID(b []byte, n int) bool {
	if len(b) != n {
		return false
	}
	zero := true
	for _, c := range b {
		switch {
		case c >= '0' && c <= '9', c >= 'a' && c <= 'f', c >= 'A' && c <= 'F':
		default:
			return false
		}
		if c != '0' {
			zero = false
		}
	}
	return !zero || n == 2 // a version or flags byte may be 00
}

func lowerHex(b []byte) string {
	out := make([]byte, len(b))
	for i, c := range b {
		if c >= 'A' && c <= 'F' {
			c += 'a' - 'A'
		}
		out[i] = c
	}
	return string(out)
}
