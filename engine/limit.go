// limit.go is the engine's side of rate limits and budgets: the Limit a request is
// checked against (a dynamic route's rate_limit element for one key value, or the
// gateway's own rate limit) and the Limiter that decides. The actors package implements
// Limiter with one limiter actor per Limit.Key; the engine only asks.
package engine

import "time"

// Limit is one limiter: a window of requests (count) or of spend in USD (cost).
type Limit struct {
	// Key names the limiter, the same on every node: "gw/{account}/{gateway}" for a
	// gateway's rate limit, "route/{account}/{gateway}/{route id}/{element id}/{value}"
	// for a route's rate_limit element and the request's key value.
	Key      string
	Cost     bool
	Limit    float64
	Interval time.Duration
	Sliding  bool
}

// LimitDecision is a limiter's answer.
type LimitDecision struct {
	Admitted bool
	// Used is the window's total after the decision (requests, or USD spent).
	Used float64
	// RetryAfter, when refused, is how long until the window has room again.
	RetryAfter time.Duration
}

// Limiter decides limits. Take on a count limit consumes one request when it admits;
// on a cost limit it admits while the window's spend is under the limit and consumes
// nothing: the spend is added with Charge once the answer's real cost is known.
type Limiter interface {
	Take(l Limit, now time.Time) LimitDecision
	Charge(l Limit, amount float64, now time.Time)
}
