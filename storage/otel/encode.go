// encode.go writes an export request body: OTLP/JSON (the reference's) or OTLP/protobuf.
// The body is a TracesData message, which has the same fields, wire form and JSON form as
// the collector's ExportTraceServiceRequest (repeated ResourceSpans resource_spans = 1):
// using it keeps gRPC out of the binary (the collector package pulls it in).
package otel

import (
	"encoding/base64"
	"encoding/hex"
	"strings"

	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	resourcepb "go.opentelemetry.io/proto/otlp/resource/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
)

// Scope names the instrumentation that made the spans.
const Scope = "github.com/switchyard/switchyard/storage/otel"

// Request is the export request of one gateway's spans.
func Request(acct, gw string, spans []*tracepb.Span) *tracepb.TracesData {
	res := attrs{}
	res.str("service.name", "switchyard")
	res.str("ai_gateway.account_id", acct)
	res.str("ai_gateway.gateway_id", gw)
	return &tracepb.TracesData{ResourceSpans: []*tracepb.ResourceSpans{{
		Resource:   &resourcepb.Resource{Attributes: res.kv},
		ScopeSpans: []*tracepb.ScopeSpans{{Scope: &commonpb.InstrumentationScope{Name: Scope}, Spans: spans}},
	}}}
}

// Content types of the two encodings.
const (
	ContentJSON     = "application/json"
	ContentProtobuf = "application/x-protobuf"
)

// Encode writes req as protobuf, or as OTLP/JSON when asJSON. OTLP/JSON differs from the
// protobuf JSON mapping in its ids, which are hex rather than base64; enums are numbers.
func Encode(req *tracepb.TracesData, asJSON bool) ([]byte, error) {
	if !asJSON {
		return proto.Marshal(req)
	}
	b, err := protojson.MarshalOptions{UseEnumNumbers: true}.Marshal(req)
	if err != nil {
		return nil, err
	}
	// A quoted base64 id cannot occur elsewhere: inside a JSON string a quote is escaped.
	seen := map[string]bool{}
	var pairs []string
	add := func(id []byte) {
		if len(id) == 0 {
			return
		}
		q := `"` + base64.StdEncoding.EncodeToString(id) + `"`
		if !seen[q] {
			seen[q] = true
			pairs = append(pairs, q, `"`+hex.EncodeToString(id)+`"`)
		}
	}
	for _, rs := range req.ResourceSpans {
		for _, ss := range rs.ScopeSpans {
			for _, s := range ss.Spans {
				add(s.TraceId)
				add(s.SpanId)
				add(s.ParentSpanId)
			}
		}
	}
	return []byte(strings.NewReplacer(pairs...).Replace(string(b))), nil
}
