// Package metrics is a projection of the event log into Prometheus metrics, kept in memory
// and served at /metrics in the OpenMetrics text format. It reads request.finished events
// from the projections' consumer, never the request's hot path: a slow or absent scraper
// costs a request nothing. Labels are bounded: gateway, provider, model (the first
// maxValues distinct values per label, then "other"), status class and cache status;
// metadata never becomes a label.
package metrics

import (
	"net/http"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/switchyard/switchyard/events"
)

// maxValues bounds the distinct values of one label; later ones count as "other".
const maxValues = 500

// Metrics holds the collectors and their registry.
type Metrics struct {
	reg                                   *prometheus.Registry
	requests, tokens, cost, refusals, dlp *prometheus.CounterVec
	upstreamErrors, attempts, guardrails  *prometheus.CounterVec
	duration, ttfb                        *prometheus.HistogramVec
	gateways, providers, models           *bounded

	// series caches, per label set seen, the counters every request touches, so a request
	// is counted without hashing its labels six times over.
	mu     sync.Mutex // held by Apply, for series
	series map[seriesKey]*seriesSet
}

// maxSeries bounds the series cache; it is emptied when full (the counters stay).
const maxSeries = 4096

// seriesKey is a request's labels as the event has them, before bounding.
type seriesKey struct {
	account, gateway, provider, model string
	status, cache                     string
}

// seriesSet is the bounded label values of a seriesKey and the children of the per-request
// metrics, each made on first use (a series never touched is not exported).
type seriesSet struct {
	gw, provider, model      string
	requests                 prometheus.Counter
	tokensIn, tokensOut, usd prometheus.Counter
	duration, ttfb           prometheus.Observer
}

// New registers every metric, the Go runtime's and the process's included. lag, read when
// scraped, is how many events of the log the projections have not applied yet.
func New(lag func() float64) *Metrics {
	m := &Metrics{reg: prometheus.NewRegistry(), gateways: newBounded(), providers: newBounded(), models: newBounded(),
		series: map[seriesKey]*seriesSet{}}
	counter := func(name, help string, labels ...string) *prometheus.CounterVec {
		c := prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "switchyard", Name: name, Help: help}, labels)
		m.reg.MustRegister(c)
		return c
	}
	m.requests = counter("requests_total", "Requests answered, by gateway, provider, model, status class (2xx, 4xx, 5xx, error) and cache status (hit, miss, none).",
		"gateway", "provider", "model", "status", "cache")
	m.tokens = counter("tokens_total", "Tokens counted in the answers, by direction (in, out).", "gateway", "provider", "model", "direction")
	m.cost = counter("cost_usd_total", "Cost of the requests with a known price, in USD.", "gateway", "provider", "model")
	m.refusals = counter("refusals_total", "Requests refused by the gateway before any upstream call, by reason (rate_limit, spend_limit, dlp, guardrails, auth, bad_request).",
		"gateway", "reason")
	m.dlp = counter("dlp_actions_total", "Requests where DLP acted, by action (FLAG, REDACT, BLOCK) and side (REQUEST, RESPONSE).", "gateway", "action", "check")
	m.guardrails = counter("guardrail_actions_total", "Sides of requests the guardrails judged, by side (prompt, response) and action (FLAG, BLOCK, none, unavailable).",
		"gateway", "side", "action")
	m.upstreamErrors = counter("upstream_errors_total", "Failed upstream answers, by kind (unreachable, timeout, cut, status_4xx, status_5xx).", "gateway", "provider", "kind")
	m.attempts = counter("upstream_attempts_total", "Upstream calls of requests that retried or fell back, by outcome (retry, fallback, answered, failed).", "gateway", "provider", "outcome")
	buckets := []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 120}
	hist := func(name, help string) *prometheus.HistogramVec {
		h := prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: "switchyard", Name: name, Help: help, Buckets: buckets}, []string{"gateway", "provider"})
		m.reg.MustRegister(h)
		return h
	}
	m.duration = hist("request_duration_seconds", "Time from the request's arrival to the end of its answer.")
	m.ttfb = hist("request_ttfb_seconds", "Time from the request's arrival to the first byte of its answer.")
	if lag != nil {
		m.reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Namespace: "switchyard", Name: "projection_lag_events",
			Help: "Events in the log that the projections (logs, analytics, counters, these metrics) have not applied yet."}, lag))
	}
	m.reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// InFlight adds the gauge of requests being served now, read from n when scraped.
func (m *Metrics) InFlight(n func() int64) {
	m.reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Namespace: "switchyard", Name: "requests_in_flight",
		Help: "Requests being served now (dispatched and not finished)."}, func() float64 { return float64(n()) }))
}

// OTel adds the OpenTelemetry exporter's metrics: spans by result (exported, retried,
// dropped) and its lag, read from lag when scraped (events of the log whose spans are not
// delivered yet). It answers what counts spans.
func (m *Metrics) OTel(lag func() float64) func(result string, n int) {
	spans := prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "switchyard", Name: "otel_spans_total",
		Help: "Spans sent to OpenTelemetry collectors, by result: exported (accepted), retried (refused for now: 429, 5xx, network; sent again) or dropped (refused for good, or the exporter is gone)."},
		[]string{"result"})
	m.reg.MustRegister(spans)
	m.reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Namespace: "switchyard", Name: "otel_lag_events",
		Help: "Events in the log the OpenTelemetry exporter has not delivered yet."}, lag))
	return func(result string, n int) { spans.WithLabelValues(result).Add(float64(n)) }
}

// Logpush registers the Logpush exporter's metrics: records by result and its lag (events
// of the log not exported yet); it answers the counting function.
func (m *Metrics) Logpush(lag func() float64) func(result string, n int) {
	recs := prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "switchyard", Name: "logpush_records_total",
		Help: "Logs exported by Logpush, by result: exported (written to the sink), retried (the sink failed; written again) or skipped (not kept by the log store: over the gateway's log limit)."},
		[]string{"result"})
	m.reg.MustRegister(recs)
	m.reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Namespace: "switchyard", Name: "logpush_lag_events",
		Help: "Events in the log the Logpush exporter has not written yet."}, lag))
	return func(result string, n int) { recs.WithLabelValues(result).Add(float64(n)) }
}

// PublishQueue adds the gauges of the event publisher's lag, read from q when scraped: the
// events waiting to be published and the batches awaiting JetStream's acknowledgement.
func (m *Metrics) PublishQueue(q func() (waiting, unacked int)) {
	m.reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Namespace: "switchyard", Name: "event_publish_waiting",
		Help: "Events handed to the publisher and not yet in a batch sent to JetStream."}, func() float64 { w, _ := q(); return float64(w) }))
	m.reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Namespace: "switchyard", Name: "event_publish_unacked",
		Help: "Batches of events sent to JetStream and not yet acknowledged."}, func() float64 { _, u := q(); return float64(u) }))
}

// Handler serves the registry in the OpenMetrics (or Prometheus text) format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{EnableOpenMetrics: true})
}

// Apply counts the request.finished events of a batch; other events are skipped.
func (m *Metrics) Apply(batch []events.Msg) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, msg := range batch {
		if env, err := msg.Envelope(); err != nil || env.Type != events.TypeRequestFinished {
			continue
		}
		f, err := msg.Finished()
		if err != nil {
			continue
		}
		m.count(&f)
	}
}

func (m *Metrics) count(f *events.RequestFinished) {
	cache := "none"
	switch {
	case f.Cached:
		cache = "hit"
	case f.Status != 0 && f.ErrorCode == 0:
		cache = "miss"
	}
	key := seriesKey{f.AccountID, f.GatewayID, f.Provider, f.Model, statusClass(f), cache}
	s := m.series[key]
	if s == nil {
		if len(m.series) >= maxSeries {
			clear(m.series)
		}
		s = &seriesSet{gw: m.gateways.value(f.AccountID + "/" + f.GatewayID),
			provider: m.providers.value(f.Provider), model: m.models.value(f.Model)}
		s.requests = m.requests.WithLabelValues(s.gw, s.provider, s.model, key.status, cache)
		s.duration = m.duration.WithLabelValues(s.gw, s.provider)
		m.series[key] = s
	}
	gw, provider, model := s.gw, s.provider, s.model
	s.requests.Inc()
	if f.TokensIn > 0 {
		if s.tokensIn == nil {
			s.tokensIn = m.tokens.WithLabelValues(gw, provider, model, "in")
		}
		s.tokensIn.Add(float64(f.TokensIn))
	}
	if f.TokensOut > 0 {
		if s.tokensOut == nil {
			s.tokensOut = m.tokens.WithLabelValues(gw, provider, model, "out")
		}
		s.tokensOut.Add(float64(f.TokensOut))
	}
	if f.Cost != nil && *f.Cost > 0 {
		if s.usd == nil {
			s.usd = m.cost.WithLabelValues(gw, provider, model)
		}
		s.usd.Add(*f.Cost)
	}
	s.duration.Observe(f.DurationMs / 1000)
	if f.TTFBMs > 0 {
		if s.ttfb == nil {
			s.ttfb = m.ttfb.WithLabelValues(gw, provider)
		}
		s.ttfb.Observe(f.TTFBMs / 1000)
	}
	if r := refusal(f.ErrorCode); r != "" {
		m.refusals.WithLabelValues(gw, r).Inc()
	}
	if f.DLP != nil {
		seen := map[string]bool{}
		for _, fd := range f.DLP.Findings {
			if !seen[fd.Check] {
				seen[fd.Check] = true
				m.dlp.WithLabelValues(gw, f.DLP.Action, fd.Check).Inc()
			}
		}
	}
	if g := f.Guardrails; g != nil {
		for _, c := range []struct {
			side  string
			check *events.GuardrailsCheck
		}{{"prompt", g.Prompt}, {"response", g.Response}} {
			if c.check == nil {
				continue
			}
			action := c.check.Action
			switch {
			case c.check.Unavailable && action == "":
				action = "unavailable"
			case action == "":
				action = "none"
			}
			m.guardrails.WithLabelValues(gw, c.side, action).Inc()
		}
	}
	if k := upstreamKind(f); k != "" {
		m.upstreamErrors.WithLabelValues(gw, provider, k).Inc()
	}
	for _, a := range f.Attempts {
		m.attempts.WithLabelValues(gw, provider, a.Outcome).Inc()
	}
}

// statusClass is 2xx, 4xx, 5xx, or error when the gateway failed the request itself.
func statusClass(f *events.RequestFinished) string {
	if f.Status < 100 || f.Status > 599 {
		return "error"
	}
	return [...]string{"1xx", "2xx", "3xx", "4xx", "5xx"}[f.Status/100-1]
}

// refusal names why the gateway refused a request before any upstream call.
func refusal(code int) string {
	switch code {
	case 2003:
		return "rate_limit"
	case 2019:
		return "spend_limit"
	case 2029:
		return "dlp"
	case 2016:
		return "guardrails" // a blocked prompt; a blocked answer (2017) was generated upstream
	case 2009:
		return "auth"
	case 2002, 2005, 2006, 2007:
		return "bad_request"
	}
	return ""
}

// upstreamKind classifies a failed upstream answer.
func upstreamKind(f *events.RequestFinished) string {
	switch {
	case f.ErrorCode == 2010 && f.Status >= 200 && f.Status < 300:
		return "cut"
	case f.ErrorCode == 2010:
		return "unreachable"
	case f.ErrorCode == 2011:
		return "timeout"
	case f.ErrorCode != 0 || f.Cached:
		return ""
	case f.Status >= 500:
		return "status_5xx"
	case f.Status >= 400:
		return "status_4xx"
	}
	return ""
}

// bounded keeps a label's distinct values under maxValues.
type bounded struct {
	mu   sync.Mutex
	seen map[string]struct{}
}

func newBounded() *bounded { return &bounded{seen: map[string]struct{}{}} }

func (b *bounded) value(v string) string {
	b.mu.Lock()
	defer b.mu.Unlock()
	if _, ok := b.seen[v]; ok {
		return v
	}
	if len(b.seen) >= maxValues {
		return "other"
	}
	b.seen[v] = struct{}{}
	return v
}
