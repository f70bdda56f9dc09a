// spans_test.go checks the spans built from request.finished events: ids, attributes,
// metadata, status and children, and the OTLP/JSON encoding of ids and enums.
package otel

import (
	"encoding/hex"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/switchyard/switchyard/events"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/protobuf/proto"
)

func attrMap(kvs []*commonpb.KeyValue) map[string]any {
	m := map[string]any{}
	for _, kv := range kvs {
		switch v := kv.Value.Value.(type) {
		case *commonpb.AnyValue_StringValue:
			m[kv.Key] = v.StringValue
		case *commonpb.AnyValue_IntValue:
			m[kv.Key] = v.IntValue
		case *commonpb.AnyValue_DoubleValue:
			m[kv.Key] = v.DoubleValue
		case *commonpb.AnyValue_BoolValue:
			m[kv.Key] = v.BoolValue
		case *commonpb.AnyValue_ArrayValue:
			var s []string
			for _, x := range v.ArrayValue.Values {
				s = append(s, x.GetStringValue())
			}
			m[kv.Key] = strings.Join(s, ",")
		}
	}
	return m
}

func TestSpans(t *testing.T) {
	at := time.Date(2026, 11, 3, 10, 0, 0, 0, time.UTC)
	cost := 0.0125
	base := func() events.RequestFinished {
		return events.RequestFinished{LogID: "01JLOG", AccountID: "a", GatewayID: "g", Provider: "openai", Model: "gpt-4o",
			Method: "POST", Path: "/v1/a/g/openai/chat/completions", Status: 200, Success: true, StartedAt: at,
			DurationMs: 120, TTFBMs: 80, TokensIn: 10, TokensOut: 22, Cost: &cost}
	}
	const tid, pid = "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"
	for _, c := range []struct {
		name   string
		edit   func(f *events.RequestFinished)
		bodies Bodies
		check  func(t *testing.T, spans []*tracepb.Span)
	}{
		{"attributes", nil, Bodies{Prompt: []byte(`{"messages":[]}`), Completion: []byte(`{"choices":[]}`)}, func(t *testing.T, s []*tracepb.Span) {
			a := attrMap(s[0].Attributes)
			want := map[string]any{"gen_ai.request.model": "gpt-4o", "gen_ai.model.provider": "openai", "gen_ai.usage.input_tokens": int64(10),
				"gen_ai.usage.output_tokens": int64(22), "gen_ai.usage.cost": 0.0125, "gen_ai.prompt_json": `{"messages":[]}`,
				"gen_ai.completion_json": `{"choices":[]}`, "http.response.status_code": int64(200), "ai_gateway.log_id": "01JLOG"}
			for k, v := range want {
				if a[k] != v {
					t.Errorf("%s = %v, want %v", k, a[k], v)
				}
			}
			if len(s) != 1 || s[0].Status != nil || s[0].ParentSpanId != nil || s[0].Kind != tracepb.Span_SPAN_KIND_SERVER {
				t.Errorf("%d spans, status %v, parent %x", len(s), s[0].Status, s[0].ParentSpanId)
			}
			if s[0].StartTimeUnixNano != uint64(at.UnixNano()) || s[0].EndTimeUnixNano != uint64(at.Add(120*time.Millisecond).UnixNano()) {
				t.Errorf("times %d %d", s[0].StartTimeUnixNano, s[0].EndTimeUnixNano)
			}
		}},
		{"ids are derived from the log id", nil, Bodies{}, func(t *testing.T, s []*tracepb.Span) {
			f := base()
			again := Spans(&f, Bodies{})
			if !proto.Equal(s[0], again[0]) || len(s[0].TraceId) != 16 || len(s[0].SpanId) != 8 {
				t.Errorf("not the same span twice: %x/%x vs %x/%x", s[0].TraceId, s[0].SpanId, again[0].TraceId, again[0].SpanId)
			}
			f.LogID = "01JOTHER"
			other := Spans(&f, Bodies{})
			if string(other[0].TraceId) == string(s[0].TraceId) || string(other[0].SpanId) == string(s[0].SpanId) {
				t.Errorf("another log has the same ids")
			}
		}},
		{"trace context", func(f *events.RequestFinished) { f.TraceID, f.ParentSpanID = tid, pid }, Bodies{}, func(t *testing.T, s []*tracepb.Span) {
			if hex.EncodeToString(s[0].TraceId) != tid || hex.EncodeToString(s[0].ParentSpanId) != pid {
				t.Errorf("trace %x parent %x", s[0].TraceId, s[0].ParentSpanId)
			}
		}},
		{"metadata never overrides", func(f *events.RequestFinished) {
			f.Metadata = events.Metadata{"user_id": "u1", "n": float64(3), "ratio": 0.5, "vip": true,
				"gen_ai.request.model": "evil", "ai_gateway.log_id": "evil"}
		}, Bodies{}, func(t *testing.T, s []*tracepb.Span) {
			a := attrMap(s[0].Attributes)
			if a["user_id"] != "u1" || a["n"] != int64(3) || a["ratio"] != 0.5 || a["vip"] != true ||
				a["gen_ai.request.model"] != "gpt-4o" || a["ai_gateway.log_id"] != "01JLOG" {
				t.Errorf("%v", a)
			}
			keys := map[string]int{}
			for _, kv := range s[0].Attributes {
				if keys[kv.Key]++; keys[kv.Key] > 1 {
					t.Errorf("%s twice", kv.Key)
				}
			}
		}},
		{"failure", func(f *events.RequestFinished) {
			f.Status, f.Success, f.ErrorCode, f.ErrorMessage = 502, false, 2010, "upstream unreachable"
		}, Bodies{}, func(t *testing.T, s []*tracepb.Span) {
			a := attrMap(s[0].Attributes)
			if s[0].Status.GetCode() != tracepb.Status_STATUS_CODE_ERROR || s[0].Status.Message != "upstream unreachable" ||
				a["error.type"] != "2010" || a["ai_gateway.error.code"] != int64(2010) {
				t.Errorf("%v %v", s[0].Status, a)
			}
		}},
		{"retries", func(f *events.RequestFinished) {
			f.Attempts = []events.AttemptSummary{
				{Step: 0, Attempt: 1, Provider: "openai", Model: "flaky-2", Status: 503, DurationMs: 10, Outcome: "retry", DelayMs: 50},
				{Step: 0, Attempt: 2, Provider: "openai", Model: "flaky-2", Status: 200, DurationMs: 20, Outcome: "answered"},
			}
		}, Bodies{}, func(t *testing.T, s []*tracepb.Span) {
			if len(s) != 3 {
				t.Fatalf("%d spans", len(s))
			}
			first, second := s[1], s[2]
			if string(first.ParentSpanId) != string(s[0].SpanId) || string(first.TraceId) != string(s[0].TraceId) ||
				first.Kind != tracepb.Span_SPAN_KIND_CLIENT || first.Status.GetCode() != tracepb.Status_STATUS_CODE_ERROR || second.Status != nil {
				t.Errorf("attempt spans: %v / %v", first, second)
			}
			if second.StartTimeUnixNano != uint64(at.Add(60*time.Millisecond).UnixNano()) {
				t.Errorf("second attempt starts at +%v", time.Duration(second.StartTimeUnixNano-uint64(at.UnixNano())))
			}
			if a := attrMap(first.Attributes); a["ai_gateway.attempt.outcome"] != "retry" || a["http.response.status_code"] != int64(503) {
				t.Errorf("%v", a)
			}
		}},
		{"one attempt has no child", func(f *events.RequestFinished) {
			f.Attempts = []events.AttemptSummary{{Attempt: 1, Provider: "openai", Status: 200, Outcome: "answered"}}
		}, Bodies{}, func(t *testing.T, s []*tracepb.Span) {
			if len(s) != 1 {
				t.Errorf("%d spans", len(s))
			}
		}},
		{"route, cache, dlp, guardrails", func(f *events.RequestFinished) {
			f.Cached = true
			f.Route = &events.RouteWalk{Name: "r", Nodes: []events.RouteNode{{ElementID: "start", Type: "start", Output: "next"}, {ElementID: "m", Type: "model", Provider: "openai", Model: "gpt-4o", Status: 200}}}
			f.DLP = &events.DLPResult{Action: "FLAG", Findings: []events.DLPFinding{{Profile: events.DLPProfileMatch{ProfileID: "p1"}, PolicyIDs: []string{"pol"}, Check: "REQUEST"}}}
			f.Guardrails = &events.GuardrailsResult{Action: "FLAG", Prompt: &events.GuardrailsCheck{Categories: []string{"S1"}, Action: "FLAG", Model: "guard", LatencyMs: 5, Calls: 1}}
		}, Bodies{}, func(t *testing.T, s []*tracepb.Span) {
			var names []string
			for _, x := range s[1:] {
				names = append(names, x.Name)
				if string(x.ParentSpanId) != string(s[0].SpanId) {
					t.Errorf("%s is not a child of the request", x.Name)
				}
			}
			if got := strings.Join(names, " "); got != "ai_gateway.route_node ai_gateway.route_node ai_gateway.cache ai_gateway.dlp ai_gateway.guardrails" {
				t.Errorf("children %s", got)
			}
			if a := attrMap(s[4].Attributes); a["ai_gateway.dlp.profile_ids"] != "p1" || a["ai_gateway.dlp.check"] != "REQUEST" {
				t.Errorf("dlp %v", a)
			}
			if a := attrMap(s[5].Attributes); a["ai_gateway.guardrails.categories"] != "S1" || a["ai_gateway.guardrails.side"] != "prompt" {
				t.Errorf("guardrails %v", a)
			}
			seen := map[string]bool{}
			for _, x := range s {
				if seen[string(x.SpanId)] {
					t.Errorf("span id %x twice", x.SpanId)
				}
				seen[string(x.SpanId)] = true
			}
		}},
		{"large and invalid bodies", nil, Bodies{Prompt: []byte(strings.Repeat("é", MaxBodyAttr)), Completion: []byte("data: \xff\n"), PromptTruncated: false},
			func(t *testing.T, s []*tracepb.Span) {
				a := attrMap(s[0].Attributes)
				p := a["gen_ai.prompt_json"].(string)
				if len(p) > MaxBodyAttr || a["ai_gateway.prompt_truncated"] != true || !strings.HasSuffix(p, "é") {
					t.Errorf("prompt of %d bytes, truncated %v", len(p), a["ai_gateway.prompt_truncated"])
				}
				if a["gen_ai.completion_json"] != "data: \uFFFD\n" {
					t.Errorf("completion %q", a["gen_ai.completion_json"])
				}
				if _, err := proto.Marshal(s[0]); err != nil {
					t.Errorf("protobuf: %v", err)
				}
			}},
	} {
		t.Run(c.name, func(t *testing.T) {
			f := base()
			if c.edit != nil {
				c.edit(&f)
			}
			c.check(t, Spans(&f, c.bodies))
		})
	}
}

func TestEncodeJSON(t *testing.T) {
	f := events.RequestFinished{LogID: "l", AccountID: "a", GatewayID: "g", Provider: "openai", StartedAt: time.Unix(1, 0),
		TraceID: "4bf92f3577b34da6a3ce929d0e0e4736", ParentSpanID: "00f067aa0ba902b7", Metadata: events.Metadata{"k": "v"},
		Attempts: []events.AttemptSummary{{Outcome: "retry"}, {Outcome: "answered"}}}
	spans := Spans(&f, Bodies{})
	b, err := Encode(Request("a", "g", spans), true)
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		ResourceSpans []struct {
			ScopeSpans []struct {
				Spans []struct {
					TraceID      string `json:"traceId"`
					SpanID       string `json:"spanId"`
					ParentSpanID string `json:"parentSpanId"`
					Kind         int    `json:"kind"`
				} `json:"spans"`
			} `json:"scopeSpans"`
		} `json:"resourceSpans"`
	}
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatalf("%v: %s", err, b)
	}
	got := doc.ResourceSpans[0].ScopeSpans[0].Spans
	if len(got) != 3 || got[0].TraceID != f.TraceID || got[0].ParentSpanID != f.ParentSpanID || got[0].Kind != 2 ||
		got[0].SpanID != hex.EncodeToString(spans[0].SpanId) || got[1].ParentSpanID != got[0].SpanID || got[1].Kind != 3 {
		t.Errorf("%s", b)
	}
	pb, err := Encode(Request("a", "g", spans), false)
	var back tracepb.TracesData
	if err != nil || proto.Unmarshal(pb, &back) != nil || len(back.ResourceSpans[0].ScopeSpans[0].Spans) != 3 {
		t.Errorf("protobuf round trip: %v", err)
	}
}
