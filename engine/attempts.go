// attempts.go walks a request's targets: each step (one for provider and unified-API
// requests, several on the universal endpoint) is tried up to its MaxAttempts with the
// backoff between tries, then the next step, until one answers. Every try is recorded on
// the exchange; all of it happens before the first byte goes to the client, so an answer
// the client has started to receive is never retried.
package engine

import (
	"time"

	"github.com/switchyard/switchyard/engine/usage"
	"github.com/switchyard/switchyard/events"
)

// Attempt outcomes, as recorded in events.AttemptSummary.Outcome.
const (
	OutcomeAnswered = "answered"
	OutcomeRetry    = "retry"
	OutcomeFallback = "fallback"
	OutcomeFailed   = "failed"
)

// Do runs the request: its steps in order, each with its retries, until one answers.
// It returns once the answer's status and headers are known (the body too when small).
// When every step fails, the last try's answer is the request's answer.
func (f *Forwarder) Do(x *Exchange) {
	req := x.Req
	if req.Fail != nil {
		x.Fail(req.Fail)
		return
	}
	steps := len(req.Steps)
	if steps == 0 {
		steps = 1
	}
	for i := 0; i < steps; i++ {
		if req.Steps != nil {
			req.Target = *req.Steps[i]
		}
		x.Step = i
		if r := req.Route; r != nil {
			if !f.walkRoute(x, r, i == steps-1) {
				return
			}
			continue
		}
		if !f.tryStep(x, i == steps-1) {
			return
		}
	}
}

// tryStep runs the current target with its retry policy. It reports whether the step
// failed and the next step should be tried; on false the exchange holds the answer.
func (f *Forwarder) tryStep(x *Exchange, lastStep bool) bool {
	req := x.Req
	pol := req.Retry
	if pol.MaxAttempts < 1 {
		pol.MaxAttempts = 1
	}
	if f.fromCache(x) {
		return false
	}
	// The gateway's rate limit counts the requests that reach a provider: an answer from
	// the cache is not limited (reference changelog).
	if !x.gatewayAdmitted {
		if !f.takeGatewayLimit(x) {
			return false
		}
		x.gatewayAdmitted = true
	}
	for n := 1; ; n++ {
		timeout := pol.Timeout
		if lastStep && n == pol.MaxAttempts && n > 1 && !pol.Strict {
			// The reference: "On the final retry attempt, your gateway will wait until the
			// request completes, regardless of how long it takes."
			timeout = 0
		}
		began := time.Now()
		f.call(x, &req.Target, timeout)
		a := events.AttemptSummary{Step: x.Step, Attempt: n, Provider: req.Slug, Model: req.Model,
			Status: x.Status, DurationMs: Millis(time.Since(began))}
		if x.Err != nil {
			a.ErrorCode, a.Error = x.Err.Code, x.Err.Message
		}
		if x.Err == nil && !Failed(x.Status) {
			a.Outcome = OutcomeAnswered
			x.Attempts = append(x.Attempts, a)
			return false
		}
		if n < pol.MaxAttempts && x.worthRetrying() && req.BodyStream == nil {
			wait := pol.Wait(n)
			a.Outcome, a.DelayMs = OutcomeRetry, wait.Milliseconds()
			x.Attempts = append(x.Attempts, a)
			x.discard()
			f.sleep(wait)
			continue
		}
		if lastStep {
			a.Outcome = OutcomeFailed
			x.Attempts = append(x.Attempts, a)
			x.releaseFlights() // a failed answer is never cached
			return false
		}
		a.Outcome = OutcomeFallback
		x.Attempts = append(x.Attempts, a)
		x.discard()
		x.releaseFlights() // this step's answer will not be cached
		return true
	}
}

// worthRetrying reports whether the same request may succeed on another try: no answer
// (connection refused or reset, first-byte timeout) or a retryable status.
func (x *Exchange) worthRetrying() bool {
	if x.Err != nil {
		return x.Err.Code == CodeUpstreamFailed || x.Err.Code == CodeUpstreamTimeout
	}
	return Retryable(x.Status)
}

func (f *Forwarder) sleep(d time.Duration) {
	if d <= 0 {
		return
	}
	if f.Sleep != nil {
		f.Sleep(d)
		return
	}
	time.Sleep(d)
}

// discard drops a failed try's answer, releasing the upstream response, so the exchange
// is ready for the next try.
func (x *Exchange) discard() {
	x.release()
	x.stream, x.sse, x.conv = nil, false, nil
	x.Status, x.Err, x.Body, x.RespCType, x.TTFB = 0, nil, nil, "", 0
	x.BytesOut, x.RespBody, x.RespTrunc = 0, nil, false
	x.cacheBody, x.cacheOver = nil, false
	x.Usage = usage.Counter{}
	x.TokensCached, x.TokensEstimated = 0, false
}

// Millis is a duration in milliseconds with microsecond precision, as events record it.
func Millis(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
