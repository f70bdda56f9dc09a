// metrics_test.go feeds request.finished events to the metrics projection and the request
// log and checks what a scraper and a terminal would see.
package metrics

import (
	"bytes"
	"fmt"
	"io"
	"log/slog"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/switchyard/switchyard/events"
)

func msg(t *testing.T, f events.RequestFinished) events.Msg {
	t.Helper()
	b, err := events.Encode(events.TypeRequestFinished, events.VersionRequestFinished, f.LogID+".f", f.StartedAt, f)
	if err != nil {
		t.Fatal(err)
	}
	return events.Msg{Data: b}
}

func scrape(t *testing.T, m *Metrics) string {
	t.Helper()
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	b, _ := io.ReadAll(rec.Body)
	return string(b)
}

func TestMetricsFromEvents(t *testing.T) {
	now := time.Now()
	cost := 0.25
	base := events.RequestFinished{AccountID: "a", GatewayID: "g", Provider: "openai", Model: "gpt-4o-mini", Method: "POST",
		Path: "/openai/chat/completions", StartedAt: now, DurationMs: 120, TTFBMs: 40}
	ok := base
	ok.LogID, ok.Status, ok.Success, ok.TokensIn, ok.TokensOut, ok.Cost = "1", 200, true, 10, 20, &cost
	hit := ok
	hit.LogID, hit.Cached = "2", true
	limited := base
	limited.LogID, limited.Status, limited.ErrorCode = "3", 429, 2003
	down := base
	down.LogID, down.Status, down.ErrorCode = "4", 502, 2010
	cut := ok
	cut.LogID, cut.Success, cut.ErrorCode = "5", false, 2010
	blocked := base
	blocked.LogID, blocked.Status, blocked.ErrorCode = "6", 400, 2029
	blocked.DLP = &events.DLPResult{Action: "BLOCK", Findings: []events.DLPFinding{{Check: "REQUEST"}}}
	retried := ok
	retried.LogID, retried.Attempts = "7", []events.AttemptSummary{{Outcome: "retry"}, {Outcome: "answered"}}
	refused := base
	refused.LogID, refused.Status = "8", 401
	refused.Guardrails = &events.GuardrailsResult{Prompt: &events.GuardrailsCheck{Action: "FLAG", Categories: []string{"S1"}},
		Response: &events.GuardrailsCheck{Unavailable: true}}

	m := New(func() float64 { return 3 })
	m.InFlight(func() int64 { return 2 })
	m.PublishQueue(func() (int, int) { return 5, 1 })
	var batch []events.Msg
	for _, f := range []events.RequestFinished{ok, hit, limited, down, cut, blocked, retried, refused} {
		batch = append(batch, msg(t, f))
	}
	m.Apply(batch)
	out := scrape(t, m)
	for _, want := range []string{
		`switchyard_requests_total{cache="miss",gateway="a/g",model="gpt-4o-mini",provider="openai",status="2xx"} 2`,
		`switchyard_requests_total{cache="hit",gateway="a/g",model="gpt-4o-mini",provider="openai",status="2xx"} 1`,
		`switchyard_requests_total{cache="none",gateway="a/g",model="gpt-4o-mini",provider="openai",status="4xx"} 2`,
		`switchyard_tokens_total{direction="in",gateway="a/g",model="gpt-4o-mini",provider="openai"} 40`,
		`switchyard_cost_usd_total{gateway="a/g",model="gpt-4o-mini",provider="openai"} 1`,
		`switchyard_refusals_total{gateway="a/g",reason="rate_limit"} 1`,
		`switchyard_refusals_total{gateway="a/g",reason="dlp"} 1`,
		`switchyard_dlp_actions_total{action="BLOCK",check="REQUEST",gateway="a/g"} 1`,
		`switchyard_upstream_errors_total{gateway="a/g",kind="unreachable",provider="openai"} 1`,
		`switchyard_upstream_errors_total{gateway="a/g",kind="cut",provider="openai"} 1`,
		`switchyard_upstream_errors_total{gateway="a/g",kind="status_4xx",provider="openai"} 1`,
		`switchyard_upstream_attempts_total{gateway="a/g",outcome="retry",provider="openai"} 1`,
		`switchyard_request_duration_seconds_count{gateway="a/g",provider="openai"} 8`,
		`switchyard_guardrail_actions_total{action="FLAG",gateway="a/g",side="prompt"} 1`,
		`switchyard_guardrail_actions_total{action="unavailable",gateway="a/g",side="response"} 1`,
		`switchyard_requests_in_flight 2`,
		`switchyard_event_publish_waiting 5`, `switchyard_event_publish_unacked 1`,
		`switchyard_projection_lag_events 3`,
		`go_goroutines`, `process_resident_memory_bytes`,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("no %s in\n%s", want, out)
		}
	}
}

func TestLabelValuesAreBounded(t *testing.T) {
	m := New(nil)
	var batch []events.Msg
	for i := 0; i < maxValues+50; i++ {
		batch = append(batch, msg(t, events.RequestFinished{LogID: "x", AccountID: "a", GatewayID: "g", Provider: "openai",
			Model: "m" + strings.Repeat("x", i%7) + string(rune('a'+i%26)) + time.Duration(i).String(), Status: 200, Success: true, StartedAt: time.Now()}))
	}
	m.Apply(batch)
	if out := scrape(t, m); !strings.Contains(out, `model="other"`) || strings.Count(out, "switchyard_requests_total{") > maxValues+1 {
		t.Fatalf("model labels are not bounded: %d series", strings.Count(out, "switchyard_requests_total{"))
	}
}

func TestRequestLogLines(t *testing.T) {
	start := time.Now()
	old := events.RequestFinished{LogID: "old", AccountID: "a", GatewayID: "g", StartedAt: start.Add(-time.Minute), Status: 200}
	fine := events.RequestFinished{LogID: "01A", AccountID: "a", GatewayID: "g", Provider: "openai", Model: "gpt-4o-mini", Method: "POST",
		Path: "/openai/chat/completions", StartedAt: start, Status: 200, DurationMs: 12.4}
	failed := fine
	failed.LogID, failed.Status, failed.ErrorCode, failed.ErrorMessage = "01B", 502, 2010, "upstream openai unreachable"
	var w bytes.Buffer
	// slog's TextHandler, and the request log's own logfmt (nil handler), write the same lines
	for _, text := range []func(io.Writer) slog.Handler{func(w io.Writer) slog.Handler { return slog.NewTextHandler(w, nil) }, nil} {
		w.Reset()
		rl := NewRequestLog(text, &w, start)
		rl.Apply([]events.Msg{msg(t, old), msg(t, fine), msg(t, failed)})
		rl.Flush()
		lines := strings.Split(strings.TrimSpace(w.String()), "\n")
		if len(lines) != 2 || !strings.HasPrefix(lines[0], "time=") ||
			!strings.Contains(lines[0], ` level=INFO msg=request method=POST path=/v1/a/g/openai/chat/completions gateway=g provider=openai model=gpt-4o-mini status=200 duration_ms=12 log_id=01A`) ||
			!strings.Contains(lines[1], "level=WARN") || !strings.HasSuffix(lines[1], ` error_code=2010 error="upstream openai unreachable"`) {
			t.Fatalf("lines:\n%s", w.String())
		}
	}
	w.Reset()
	rl := NewRequestLog(func(w io.Writer) slog.Handler { return slog.NewJSONHandler(w, nil) }, &w, start)
	rl.Apply([]events.Msg{msg(t, fine)})
	rl.Flush()
	if !strings.HasPrefix(w.String(), `{"time":`) || !strings.Contains(w.String(), `"log_id":"01A"`) {
		t.Fatalf("json line: %s", w.String())
	}
}

// BenchmarkRequestLog is the cost of one request line (events already decoded, as the
// projections consumer hands them over), logfmt through slog's TextHandler and written by
// the request log itself (the default when stderr is not a terminal).
func BenchmarkRequestLog(b *testing.B) {
	t := &testing.T{}
	var batch []events.Msg
	for i := range 64 {
		f := events.RequestFinished{LogID: "01JF8Z3K5V7W9X1Y2Z3A4B5C" + string(rune('A'+i%26)) + "D", AccountID: "acct", GatewayID: "gw",
			Provider: "openai", Model: "gpt-4o-mini", Method: "POST", Path: "/openai/chat/completions",
			StartedAt: time.Now(), Status: 200, DurationMs: 3.2}
		batch = events.Expand(batch, uint64(i+1), msg(t, f).Data)
	}
	for _, m := range batch {
		m.Predecode()
	}
	for _, c := range []struct {
		name string
		h    func(io.Writer) slog.Handler
	}{{"slog", func(w io.Writer) slog.Handler { return slog.NewTextHandler(w, nil) }}, {"own", nil}} {
		b.Run(c.name, func(b *testing.B) {
			rl := NewRequestLog(c.h, io.Discard, time.Time{})
			b.ReportAllocs()
			for b.Loop() {
				rl.Apply(batch)
			}
			rl.Flush()
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(batch)), "ns/line")
		})
	}
}

// BenchmarkMetricsApply is the cost of counting one request.finished event (events already
// decoded), a few label sets as a busy gateway sees them.
func BenchmarkMetricsApply(b *testing.B) {
	t := &testing.T{}
	var batch []events.Msg
	cost := 0.0001
	for i := range 64 {
		f := events.RequestFinished{LogID: "01JF8Z3K5V7W9X1Y2Z3A4B5C" + string(rune('A'+i%26)) + "D", AccountID: "acct", GatewayID: "gw",
			Provider: "openai", Model: []string{"gpt-4o-mini", "gpt-4o"}[i%2], Method: "POST", Path: "/openai/chat/completions",
			StartedAt: time.Now(), Status: 200, Success: true, DurationMs: 3.2, TTFBMs: 1.1, TokensIn: 118, TokensOut: 12, Cost: &cost}
		batch = events.Expand(batch, uint64(i+1), msg(t, f).Data)
	}
	for _, m := range batch {
		m.Predecode()
	}
	m := New(nil)
	b.ReportAllocs()
	for b.Loop() {
		m.Apply(batch)
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(batch)), "ns/event")
}

// Counting a request of a label set already seen allocates nothing: its counters are
// cached, not looked up by their labels for every request. The counts stay exact.
func TestCountingASeenLabelSetAllocatesNothing(t *testing.T) {
	cost := 0.25
	f := events.RequestFinished{LogID: "01A", AccountID: "a", GatewayID: "g", Provider: "openai", Model: "gpt-4o-mini",
		StartedAt: time.Now(), Status: 200, Success: true, DurationMs: 20, TTFBMs: 5, TokensIn: 10, TokensOut: 3, Cost: &cost}
	batch := events.Expand(nil, 1, msg(t, f).Data)
	batch[0].Predecode()
	m := New(nil)
	m.Apply(batch)
	if n := testing.AllocsPerRun(100, func() { m.Apply(batch) }); n != 0 {
		t.Fatalf("%.1f allocations per counted request, want 0", n)
	}
	out := scrape(t, m)
	for _, want := range []string{
		`switchyard_requests_total{cache="miss",gateway="a/g",model="gpt-4o-mini",provider="openai",status="2xx"} 102`,
		`switchyard_tokens_total{direction="in",gateway="a/g",model="gpt-4o-mini",provider="openai"} 1020`,
		`switchyard_tokens_total{direction="out",gateway="a/g",model="gpt-4o-mini",provider="openai"} 306`,
		`switchyard_cost_usd_total{gateway="a/g",model="gpt-4o-mini",provider="openai"} 25.5`,
		`switchyard_request_ttfb_seconds_count{gateway="a/g",provider="openai"} 102`,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("scrape lacks %s", want)
		}
	}
}

// countingWriter records each write it gets.
type countingWriter struct {
	mu     sync.Mutex
	writes []string
}

func (c *countingWriter) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.writes = append(c.writes, string(p))
	return len(p), nil
}

func (c *countingWriter) got() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.writes)
}

// Lines of many small batches leave in one write, within requestLogLinger of the first,
// without a Flush; a batch of more than requestLogBuffer bytes of lines is written at once.
func TestRequestLogWritesLinesTogether(t *testing.T) {
	start := time.Now()
	var w countingWriter
	rl := NewRequestLog(nil, &w, start)
	for i := range 20 {
		f := events.RequestFinished{LogID: fmt.Sprintf("01A%02d", i), AccountID: "a", GatewayID: "g", Provider: "openai",
			Method: "POST", Path: "/openai/chat/completions", StartedAt: start, Status: 200}
		rl.Apply([]events.Msg{msg(t, f)})
	}
	if got := w.got(); len(got) != 0 {
		t.Fatalf("%d writes right after the batches, want the lines held", len(got))
	}
	deadline := time.Now().Add(10 * time.Second)
	for len(w.got()) == 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	got := w.got()
	if len(got) != 1 || strings.Count(got[0], "msg=request ") != 20 || !strings.Contains(got[0], "log_id=01A19") {
		t.Fatalf("writes %q, want the 20 lines in one", got)
	}

	var big []events.Msg
	for i := range 400 { // about 60 KB of lines
		big = append(big, msg(t, events.RequestFinished{LogID: fmt.Sprintf("01B%03d", i), AccountID: "a", GatewayID: "g",
			Path: "/openai/chat/completions", StartedAt: start, Status: 200}))
	}
	rl.Apply(big)
	if got := w.got(); len(got) != 2 || strings.Count(got[1], "msg=request ") != 400 {
		t.Fatalf("%d writes after a large batch, want it written at once", len(got))
	}
	rl.Flush() // nothing left: no empty write
	if got := w.got(); len(got) != 2 {
		t.Fatalf("%d writes after Flush, want 2", len(got))
	}
}
