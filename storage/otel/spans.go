// spans.go builds the OTLP spans of one request.finished event: the request's span, with
// the reference's gen_ai.* attributes and the request's custom metadata, and child spans
// for the upstream attempts of a retry or fallback, the dynamic route's nodes, a cache hit,
// DLP and guardrail checks. Every id is derived from the log id, so a batch sent again
// after a crash carries the same spans, not new ones.
package otel

import (
	"crypto/sha256"
	"encoding/hex"
	"math"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/switchyard/switchyard/events"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
)

// MaxBodyAttr caps gen_ai.prompt_json and gen_ai.completion_json, in bytes.
const MaxBodyAttr = 32 << 10

// Bodies are a request's recorded bodies as read from the event log (nil when none).
type Bodies struct {
	Prompt, Completion []byte
	// Truncated: the recorded body is only the head of what was sent (capture cap).
	PromptTruncated, CompletionTruncated bool
}

// Spans builds the request's span (first) and its children.
func Spans(f *events.RequestFinished, b Bodies) []*tracepb.Span {
	traceID := decodeHex(f.TraceID, 16)
	var parent []byte
	if traceID == nil {
		traceID = derive(f.LogID, "trace", 16)
	} else {
		parent = decodeHex(f.ParentSpanID, 8)
	}
	start := f.StartedAt
	end := start.Add(ms(f.DurationMs))
	root := &tracepb.Span{
		TraceId: traceID, SpanId: derive(f.LogID, "request", 8), ParentSpanId: parent,
		Name: "ai_gateway.request", Kind: tracepb.Span_SPAN_KIND_SERVER,
		StartTimeUnixNano: nanos(start), EndTimeUnixNano: nanos(end),
	}
	a := attrs{}
	if f.Model != "" {
		a.str("gen_ai.request.model", f.Model)
	}
	a.str("gen_ai.model.provider", f.Provider)
	a.int("gen_ai.usage.input_tokens", f.TokensIn)
	a.int("gen_ai.usage.output_tokens", f.TokensOut)
	if f.Cost != nil {
		a.double("gen_ai.usage.cost", *f.Cost)
	}
	if b.Prompt != nil {
		s, cut := bodyAttr(b.Prompt)
		a.str("gen_ai.prompt_json", s)
		if cut || b.PromptTruncated {
			a.bool("ai_gateway.prompt_truncated", true)
		}
	}
	if b.Completion != nil {
		s, cut := bodyAttr(b.Completion)
		a.str("gen_ai.completion_json", s)
		if cut || b.CompletionTruncated {
			a.bool("ai_gateway.completion_truncated", true)
		}
	}
	a.str("ai_gateway.log_id", f.LogID)
	a.str("ai_gateway.account_id", f.AccountID)
	a.str("ai_gateway.gateway_id", f.GatewayID)
	a.str("http.request.method", f.Method)
	a.str("url.path", f.Path)
	if f.Status != 0 {
		a.int("http.response.status_code", int64(f.Status))
	}
	a.bool("ai_gateway.cached", f.Cached)
	a.bool("ai_gateway.stream", f.Stream)
	if f.TokensCached > 0 {
		a.int("ai_gateway.usage.cached_input_tokens", f.TokensCached)
	}
	if f.TokensEstimated {
		a.bool("ai_gateway.usage.estimated", true)
	}
	if f.Step > 0 {
		a.int("ai_gateway.step", int64(f.Step))
	}
	if f.TTFBMs > 0 {
		a.double("ai_gateway.ttfb_ms", f.TTFBMs)
	}
	if f.Route != nil {
		a.str("ai_gateway.route.name", f.Route.Name)
		a.str("ai_gateway.route.version_id", f.Route.VersionID)
	}
	if f.DLP != nil && f.DLP.Action != "" {
		a.str("ai_gateway.dlp.action", f.DLP.Action)
	}
	if f.Guardrails != nil && f.Guardrails.Action != "" {
		a.str("ai_gateway.guardrails.action", f.Guardrails.Action)
	}
	if !f.Success {
		msg := f.ErrorMessage
		if msg == "" {
			msg = "HTTP " + strconv.Itoa(f.Status)
		}
		root.Status = &tracepb.Status{Code: tracepb.Status_STATUS_CODE_ERROR, Message: msg}
		if f.ErrorCode != 0 {
			a.int("ai_gateway.error.code", int64(f.ErrorCode))
			a.str("error.type", strconv.Itoa(f.ErrorCode))
		} else {
			a.str("error.type", strconv.Itoa(f.Status))
		}
	}
	metadataAttrs(&a, f.Metadata)
	root.Attributes = a.kv
	spans := []*tracepb.Span{root}

	child := func(kind, key string, k tracepb.Span_SpanKind, from, to time.Time, a attrs) *tracepb.Span {
		if to.Before(from) {
			to = from
		}
		s := &tracepb.Span{TraceId: traceID, SpanId: derive(f.LogID, kind+"/"+key, 8), ParentSpanId: root.SpanId,
			Name: "ai_gateway." + kind, Kind: k, StartTimeUnixNano: nanos(from), EndTimeUnixNano: nanos(to), Attributes: a.kv}
		spans = append(spans, s)
		return s
	}
	// Upstream attempts, when there was more than one (retries, fallbacks). The summaries
	// carry durations, not start times: they are laid end to end from the request's start,
	// each retry after its delay.
	if len(f.Attempts) > 1 {
		at := start
		for i, t := range f.Attempts {
			ca := attrs{}
			ca.str("gen_ai.model.provider", t.Provider)
			if t.Model != "" {
				ca.str("gen_ai.request.model", t.Model)
			}
			ca.int("ai_gateway.attempt.step", int64(t.Step))
			ca.int("ai_gateway.attempt.number", int64(t.Attempt))
			ca.str("ai_gateway.attempt.outcome", t.Outcome)
			if t.Status != 0 {
				ca.int("http.response.status_code", int64(t.Status))
			}
			if t.DelayMs > 0 {
				ca.int("ai_gateway.attempt.retry_delay_ms", t.DelayMs)
			}
			if t.Element != "" {
				ca.str("ai_gateway.route.element_id", t.Element)
			}
			to := at.Add(ms(t.DurationMs))
			if to.After(end) {
				to = end
			}
			s := child("attempt", strconv.Itoa(i), tracepb.Span_SPAN_KIND_CLIENT, at, to, ca)
			if t.Outcome != "answered" {
				msg := t.Error
				if msg == "" {
					msg = "HTTP " + strconv.Itoa(t.Status)
				}
				s.Status = &tracepb.Status{Code: tracepb.Status_STATUS_CODE_ERROR, Message: msg}
			}
			at = to.Add(time.Duration(t.DelayMs) * time.Millisecond)
		}
	}
	if f.Route != nil {
		for i, n := range f.Route.Nodes {
			ca := attrs{}
			ca.str("ai_gateway.route.element_id", n.ElementID)
			ca.str("ai_gateway.route.node_type", n.Type)
			if n.Output != "" {
				ca.str("ai_gateway.route.output", n.Output)
			}
			if n.LimitKey != "" {
				ca.str("ai_gateway.route.limit_key", n.LimitKey)
			}
			if n.Used != nil {
				ca.double("ai_gateway.route.used", *n.Used)
			}
			if n.Provider != "" {
				ca.str("gen_ai.model.provider", n.Provider)
			}
			if n.Model != "" {
				ca.str("gen_ai.request.model", n.Model)
			}
			if n.Status != 0 {
				ca.int("http.response.status_code", int64(n.Status))
			}
			child("route_node", strconv.Itoa(i), tracepb.Span_SPAN_KIND_INTERNAL, start, start, ca)
		}
	}
	if f.Cached {
		ca := attrs{}
		ca.bool("ai_gateway.cache.hit", true)
		child("cache", "hit", tracepb.Span_SPAN_KIND_INTERNAL, start, start.Add(ms(f.TTFBMs)), ca)
	}
	if f.DLP != nil {
		for _, check := range []string{"REQUEST", "RESPONSE"} {
			var profiles, policies []string
			for _, fd := range f.DLP.Findings {
				if fd.Check == check {
					profiles = append(profiles, fd.Profile.ProfileID)
					policies = append(policies, fd.PolicyIDs...)
				}
			}
			if profiles == nil {
				continue
			}
			ca := attrs{}
			ca.str("ai_gateway.dlp.check", check)
			ca.str("ai_gateway.dlp.action", f.DLP.Action)
			ca.strs("ai_gateway.dlp.profile_ids", profiles)
			ca.strs("ai_gateway.dlp.policy_ids", policies)
			at := start
			if check == "RESPONSE" {
				at = end
			}
			child("dlp", check, tracepb.Span_SPAN_KIND_INTERNAL, at, at, ca)
		}
	}
	if g := f.Guardrails; g != nil {
		for _, side := range []struct {
			name string
			c    *events.GuardrailsCheck
		}{{"prompt", g.Prompt}, {"response", g.Response}} {
			if side.c == nil {
				continue
			}
			c := side.c
			ca := attrs{}
			ca.str("ai_gateway.guardrails.side", side.name)
			ca.str("gen_ai.request.model", c.Model)
			if c.Action != "" {
				ca.str("ai_gateway.guardrails.action", c.Action)
			}
			if len(c.Categories) > 0 {
				ca.strs("ai_gateway.guardrails.categories", c.Categories)
			}
			ca.int("ai_gateway.guardrails.calls", int64(c.Calls))
			from, to := start, start.Add(ms(c.LatencyMs))
			if side.name == "response" {
				from, to = end.Add(-ms(c.LatencyMs)), end
			}
			s := child("guardrails", side.name, tracepb.Span_SPAN_KIND_INTERNAL, from, to, ca)
			if c.Unavailable {
				s.Status = &tracepb.Status{Code: tracepb.Status_STATUS_CODE_ERROR, Message: "guard model unavailable: " + c.Error}
			}
		}
	}
	return spans
}

// metadataAttrs adds the request's custom metadata, sorted by key: never a gen_ai.* key
// (reserved, as the reference says) nor one the span already has.
func metadataAttrs(a *attrs, md events.Metadata) {
	if len(md) == 0 {
		return
	}
	keys := make([]string, 0, len(md))
	for k := range md {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	have := make(map[string]bool, len(a.kv))
	for _, kv := range a.kv {
		have[kv.Key] = true
	}
	for _, k := range keys {
		if k == "" || strings.HasPrefix(k, "gen_ai.") || have[k] {
			continue
		}
		switch v := md[k].(type) {
		case string:
			a.str(k, v)
		case bool:
			a.bool(k, v)
		case float64:
			if v == math.Trunc(v) && math.Abs(v) < 1<<53 {
				a.int(k, int64(v))
			} else {
				a.double(k, v)
			}
		case int64:
			a.int(k, v)
		case int:
			a.int(k, int64(v))
		}
	}
}

// bodyAttr is a body as an attribute: valid UTF-8 (protobuf strings must be), at most
// MaxBodyAttr bytes; cut reports a body cut to fit.
func bodyAttr(b []byte) (string, bool) {
	cut := false
	if len(b) > MaxBodyAttr {
		b, cut = b[:MaxBodyAttr], true
		for i := 0; i < utf8.UTFMax && len(b) > 0 && !utf8.Valid(b); i++ {
			b = b[:len(b)-1] // do not end inside a character
		}
	}
	if utf8.Valid(b) {
		return string(b), cut
	}
	return strings.ToValidUTF8(string(b), "\uFFFD"), cut
}

// attrs accumulates a span's attributes in order.
type attrs struct{ kv []*commonpb.KeyValue }

func (a *attrs) add(k string, v *commonpb.AnyValue) {
	a.kv = append(a.kv, &commonpb.KeyValue{Key: k, Value: v})
}

func (a *attrs) str(k, v string) {
	if !utf8.ValidString(v) {
		v = strings.ToValidUTF8(v, "\uFFFD")
	}
	a.add(k, &commonpb.AnyValue{Value: &commonpb.AnyValue_StringValue{StringValue: v}})
}

func (a *attrs) int(k string, v int64) {
	a.add(k, &commonpb.AnyValue{Value: &commonpb.AnyValue_IntValue{IntValue: v}})
}

func (a *attrs) double(k string, v float64) {
	a.add(k, &commonpb.AnyValue{Value: &commonpb.AnyValue_DoubleValue{DoubleValue: v}})
}

func (a *attrs) bool(k string, v bool) {
	a.add(k, &commonpb.AnyValue{Value: &commonpb.AnyValue_BoolValue{BoolValue: v}})
}

func (a *attrs) strs(k string, vs []string) {
	arr := &commonpb.ArrayValue{}
	for _, v := range vs {
		arr.Values = append(arr.Values, &commonpb.AnyValue{Value: &commonpb.AnyValue_StringValue{StringValue: strings.ToValidUTF8(v, "\uFFFD")}})
	}
	a.add(k, &commonpb.AnyValue{Value: &commonpb.AnyValue_ArrayValue{ArrayValue: arr}})
}

// derive is n bytes of SHA-256 over the log id and what is named: the same on every
// replay, and never all zero (which OTLP reads as "no id").
func derive(logID, what string, n int) []byte {
	h := sha256.Sum256([]byte("switchyard/otel\x00" + logID + "\x00" + what))
	out := h[:n]
	for _, c := range out {
		if c != 0 {
			return out
		}
	}
	out[n-1] = 1
	return out
}

// decodeHex decodes an id of n bytes given as 2n hex digits, nil when it is not one.
func decodeHex(s string, n int) []byte {
	if len(s) != 2*n {
		return nil
	}
	b, err := hex.DecodeString(s)
	if err != nil {
		return nil
	}
	for _, c := range b {
		if c != 0 {
			return b
		}
	}
	return nil
}

func ms(v float64) time.Duration { return time.Duration(v * float64(time.Millisecond)) }

func nanos(t time.Time) uint64 {
	if t.IsZero() || t.UnixNano() < 0 {
		return 0
	}
	return uint64(t.UnixNano())
}
