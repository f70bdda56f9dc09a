// otel_test.go points a gateway's `otel` setting at a collector stub (an OTLP/HTTP JSON
// endpoint in the test) and checks what it receives from the real binary: one span per
// request with the reference's attributes, the client's trace context and metadata, child
// spans for retries; and that a collector down for a while, and a gateway restart while it
// is down, lose no span and send none twice.
package e2e

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/switchyard/switchyard/mock"
)

// otlpSpan is a span as OTLP/JSON writes it.
type otlpSpan struct {
	TraceID      string `json:"traceId"`
	SpanID       string `json:"spanId"`
	ParentSpanID string `json:"parentSpanId"`
	Name         string `json:"name"`
	Kind         int    `json:"kind"`
	Attributes   []struct {
		Key   string         `json:"key"`
		Value map[string]any `json:"value"`
	} `json:"attributes"`
	Status struct {
		Code    int    `json:"code"`
		Message string `json:"message"`
	} `json:"status"`
}

// attr is an attribute's value: a string, an int (OTLP/JSON writes int64 as a string),
// a float or a bool.
func (s *otlpSpan) attr(k string) any {
	for _, a := range s.Attributes {
		if a.Key == k {
			for _, v := range a.Value {
				return v
			}
		}
	}
	return nil
}

// collector is an OTLP/HTTP JSON endpoint that can be made to fail.
type collector struct {
	srv     *httptest.Server
	down    atomic.Bool // answer 503
	refused atomic.Int64
	mu      sync.Mutex
	spans   []otlpSpan
	errs    []string
}

func newCollector(t *testing.T) *collector {
	c := &collector{}
	c.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		if c.down.Load() {
			c.refused.Add(1)
			w.WriteHeader(503)
			return
		}
		var req struct {
			ResourceSpans []struct {
				Resource struct {
					Attributes []any `json:"attributes"`
				} `json:"resource"`
				ScopeSpans []struct {
					Spans []otlpSpan `json:"spans"`
				} `json:"scopeSpans"`
			} `json:"resourceSpans"`
		}
		c.mu.Lock()
		defer c.mu.Unlock()
		if r.URL.Path != "/v1/traces" || r.Header.Get("Content-Type") != "application/json" || r.Header.Get("x-honeycomb-team") != "team-key" {
			c.errs = append(c.errs, "request "+r.URL.Path+" "+r.Header.Get("Content-Type"))
		}
		if err := json.Unmarshal(b, &req); err != nil {
			c.errs = append(c.errs, "undecodable body: "+err.Error())
			w.WriteHeader(400)
			return
		}
		for _, rs := range req.ResourceSpans {
			for _, ss := range rs.ScopeSpans {
				c.spans = append(c.spans, ss.Spans...)
			}
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{}`))
	}))
	t.Cleanup(c.srv.Close)
	return c
}

// byLog answers the request spans by log id, and every span by its id with the number
// of times it came.
func (c *collector) byLog() (map[string]otlpSpan, map[string]int, []otlpSpan) {
	c.mu.Lock()
	defer c.mu.Unlock()
	roots, ids := map[string]otlpSpan{}, map[string]int{}
	for _, s := range c.spans {
		ids[s.SpanID]++
		if id, _ := s.attr("ai_gateway.log_id").(string); id != "" && s.Name == "ai_gateway.request" {
			roots[id] = s
		}
	}
	return roots, ids, append([]otlpSpan(nil), c.spans...)
}

// wait polls until every log id has its request span.
func (c *collector) wait(t *testing.T, logIDs ...string) map[string]otlpSpan {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		roots, _, _ := c.byLog()
		missing := ""
		for _, id := range logIDs {
			if _, ok := roots[id]; !ok {
				missing = id
			}
		}
		if missing == "" {
			return roots
		}
		if time.Now().After(deadline) {
			t.Fatalf("no span for log %s (collector has %d spans; errors %v)", missing, len(c.spans), c.errs)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestOTel(t *testing.T) {
	up := mock.NewOpenAI()
	defer up.Close()
	col := newCollector(t)
	g := startGateway(t, "", []string{"SWITCHYARD_UPSTREAM_OPENAI=" + up.URL})
	if code, env := patchGateway(t, g, `{"otel":[{"url":"`+col.srv.URL+`/v1/traces","headers":{"x-honeycomb-team":"team-key"},"content_type":"json"}]}`); code != 200 {
		t.Fatalf("set otel: %d %v", code, env)
	}
	// The setting is acted on: no "stored but not acted on" message for it.
	if code, env := patchGateway(t, g, `{}`); code != 200 || messagesName(anyList(env["messages"]), "otel") {
		t.Fatalf("otel still said inactive: %d %v", code, env)
	}
	if code, env := patchGateway(t, g, `{"otel":[{"url":"ftp://x","headers":{}}]}`); code != 400 {
		t.Fatalf("a bad otel url: %d %v", code, env)
	}
	chat := func(model string, hdr map[string]string) string {
		t.Helper()
		resp, body := send(t, g.Base("openai")+"/chat/completions", chatBody(model, "hello otel", false), hdr)
		if resp.StatusCode != 200 {
			t.Fatalf("%s: %d %s", model, resp.StatusCode, body)
		}
		return resp.Header.Get("cf-aig-log-id")
	}

	// A request with metadata and the reference's trace headers.
	const traceID, parentID = "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"
	first := chat("gpt-4o-mini", map[string]string{"cf-aig-metadata": `{"user_id":"user123","team":"engineering","gen_ai.request.model":"spoof"}`,
		"cf-aig-otel-trace-id": traceID, "cf-aig-otel-parent-span-id": parentID})
	// A malformed trace id is ignored, not a failed request; a W3C traceparent is read.
	bad := chat("gpt-4o-mini", map[string]string{"cf-aig-otel-trace-id": "a1b2c3d4e5f6g7h8i9j0k1l2m3n4o5p6"})
	w3c := chat("gpt-4o-mini", map[string]string{"traceparent": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"})
	// A request retried twice before it is answered.
	retried := chat("flaky-2", map[string]string{"cf-aig-max-attempts": "3", "cf-aig-retry-delay": "50"})
	roots := col.wait(t, first, bad, w3c, retried)

	s := roots[first]
	if s.TraceID != traceID || s.ParentSpanID != parentID || s.Kind != 2 || len(s.SpanID) != 16 {
		t.Errorf("trace context: %+v", s)
	}
	want := map[string]any{"gen_ai.request.model": "gpt-4o-mini", "gen_ai.model.provider": "openai",
		"gen_ai.usage.input_tokens": "13", "gen_ai.usage.output_tokens": "11", "user_id": "user123", "team": "engineering",
		"http.response.status_code": "200"}
	for k, v := range want {
		if got := s.attr(k); got != v {
			t.Errorf("%s = %v (%T), want %v", k, got, got, v)
		}
	}
	if _, ok := s.attr("gen_ai.usage.cost").(float64); !ok {
		t.Errorf("gen_ai.usage.cost = %v", s.attr("gen_ai.usage.cost"))
	}
	var prompt struct {
		Messages []struct{ Content string } `json:"messages"`
	}
	if p, _ := s.attr("gen_ai.prompt_json").(string); json.Unmarshal([]byte(p), &prompt) != nil || len(prompt.Messages) != 1 || prompt.Messages[0].Content != "hello otel" {
		t.Errorf("gen_ai.prompt_json = %v", s.attr("gen_ai.prompt_json"))
	}
	if c, _ := s.attr("gen_ai.completion_json").(string); !json.Valid([]byte(c)) || len(c) < 20 {
		t.Errorf("gen_ai.completion_json = %v", s.attr("gen_ai.completion_json"))
	}
	if b := roots[bad]; b.TraceID == "" || b.TraceID == "a1b2c3d4e5f6g7h8i9j0k1l2m3n4o5p6" || b.ParentSpanID != "" {
		t.Errorf("malformed trace id: %+v", b)
	}
	if w := roots[w3c]; w.TraceID != "0af7651916cd43dd8448eb211c80319c" || w.ParentSpanID != "b7ad6b7169203331" {
		t.Errorf("traceparent: %+v", w)
	}
	r := roots[retried]
	_, _, all := col.byLog()
	var outcomes []any
	for _, c := range all {
		if c.ParentSpanID == r.SpanID && c.TraceID == r.TraceID && c.Name == "ai_gateway.attempt" {
			outcomes = append(outcomes, c.attr("ai_gateway.attempt.outcome"))
		}
	}
	if len(outcomes) != 3 || outcomes[0] != "retry" || outcomes[1] != "retry" || outcomes[2] != "answered" {
		t.Errorf("attempt child spans of the retried request: %v", outcomes)
	}

	// The collector goes down: requests still answer at once, and their spans wait.
	col.down.Store(true)
	var during []string
	for i := 0; i < 5; i++ {
		start := time.Now()
		during = append(during, chat("gpt-4o-mini", nil))
		if d := time.Since(start); d > 2*time.Second {
			t.Errorf("a request took %v while the collector was down", d)
		}
	}
	deadline := time.Now().Add(20 * time.Second)
	for col.refused.Load() < 2 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if col.refused.Load() < 2 {
		t.Fatalf("the exporter did not retry: %d refusals", col.refused.Load())
	}
	// The gateway restarts while the collector is still down, then the collector comes back.
	g.Stop()
	g.Restart()
	after := chat("gpt-4o-mini", nil)
	col.down.Store(false)
	col.wait(t, append(during, after)...)

	// Nothing lost, nothing twice: every span id came once, the first ones included.
	time.Sleep(300 * time.Millisecond)
	roots, ids, _ := col.byLog()
	for _, id := range append([]string{first, bad, w3c, retried, after}, during...) {
		if _, ok := roots[id]; !ok {
			t.Errorf("span of %s lost", id)
		}
	}
	for id, n := range ids {
		if n != 1 {
			t.Errorf("span %s received %d times", id, n)
		}
	}
	// The exporter's metrics: spans exported (since this start), retried, and its lag.
	resp, err := http.Get(g.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	m, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, w := range []string{`switchyard_otel_spans_total{result="exported"}`, `switchyard_otel_lag_events 0`} {
		if !strings.Contains(string(m), w) {
			t.Errorf("no %s in /metrics", w)
		}
	}
	col.mu.Lock()
	defer col.mu.Unlock()
	if len(col.errs) > 0 {
		t.Errorf("collector saw: %v", col.errs)
	}
}

func anyList(v any) []any { l, _ := v.([]any); return l }
