// route.go walks a dynamic route for one request. The flows walker says which node comes
// next; the engine asks the Limiter at rate_limit nodes and calls the model at model nodes
// (each a unified-API call the front end plans), until the walk ends with an answer, a
// refusal or the last failure. Cost limits passed on the way are charged with the
// answer's real cost once it has been relayed (Exchange.Done).
package engine

import (
	"crypto/sha256"
	"encoding/hex"
	"math"
	"math/rand/v2"
	"strconv"
	"strings"
	"time"

	"github.com/switchyard/switchyard/events"
	"github.com/switchyard/switchyard/flows"
)

// RouteRun is one request's dynamic route: the deployed version it walks (fixed when the
// request arrived, so a deployment mid-request does not change it) and how to plan a
// model node's call.
type RouteRun struct {
	ID, Name, VersionID string
	Graph               *flows.Graph
	View                flows.View
	// Plan sets t to the call of m: provider, translated body, credentials. A refusal
	// (unknown provider, no key) counts as the model failing.
	Plan func(m *flows.ModelSpec, t *Target) *GatewayError
	// Random draws percentage splits in [0,1); nil is math/rand/v2.
	Random func() float64
	// Nodes is the walk once it is over: every node visited and what happened there.
	Nodes []events.RouteNode
}

// LimitKey is the limiter key of a route's rate_limit node for one key value; a request
// without the value shares one bucket with the others that lack it.
func (r *RouteRun) LimitKey(acct, gw string, st flows.Step) string {
	k := "route/" + acct + "/" + gw + "/" + r.ID + "/" + st.Node.ID
	if st.KeyMissing {
		return k
	}
	return k + "/" + limitValue(st)
}

// maxLimitValue is the longest key value kept as sent; a client could otherwise put
// megabytes into every limiter key, event and log record.
const maxLimitValue = 128

// limitValue is a rate_limit node's key value as limiter keys, events and logs carry it:
// a header's value may be a credential, and a long value is the client's to choose, so
// those are kept only as a SHA-256 prefix.
func limitValue(st flows.Step) string {
	if len(st.LimitKey) <= maxLimitValue && !strings.HasPrefix(st.Node.Limit.Key, "headers.") {
		return st.LimitKey
	}
	sum := sha256.Sum256([]byte(st.LimitKey))
	return "sha256:" + hex.EncodeToString(sum[:12])
}

// walkRoute runs the current target's route. Like tryStep it reports whether the route
// failed and the next step should be tried; on false the exchange holds the answer.
func (f *Forwarder) walkRoute(x *Exchange, r *RouteRun, lastStep bool) bool {
	x.Route = r
	x.Walks = append(x.Walks, r)
	rnd := r.Random
	if rnd == nil {
		rnd = rand.Float64
	}
	w := r.Graph.Walk(r.View, rnd)
	notes := map[string]events.RouteNode{}
	var refusal *GatewayError
	o := flows.OutcomeNone
	for {
		st := w.Next(o)
		switch st.Kind {
		case flows.StepLimit:
			o, refusal = f.routeLimit(x, r, st, notes)
		case flows.StepModel:
			o = f.routeModel(x, r, st.Node, lastStep, notes)
		default:
			r.Nodes = walked(w.Visits(), notes)
			failed := endRoute(x, r, st, refusal, lastStep)
			if failed { // the next universal step answers: not this route, nor its budgets
				x.Route, x.charges = nil, nil
			}
			return failed
		}
	}
}

// routeLimit asks the limiter about a rate_limit node.
func (f *Forwarder) routeLimit(x *Exchange, r *RouteRun, st flows.Step, notes map[string]events.RouteNode) (flows.Outcome, *GatewayError) {
	spec := st.Node.Limit
	l := Limit{Key: r.LimitKey(x.Req.AccountID, x.Req.GatewayID, st), Cost: spec.Cost, Limit: spec.Limit,
		Interval: spec.Interval, Sliding: spec.Sliding}
	d := LimitDecision{Admitted: true}
	if f.Limiter != nil {
		d = f.Limiter.Take(l, time.Now())
	}
	used := d.Used
	notes[st.Node.ID] = events.RouteNode{LimitKey: limitValue(st), Used: &used}
	if !d.Admitted {
		msg := "dynamic route " + strconv.Quote(r.Name) + ": rate limit " + strconv.Quote(st.Node.ID) + " of " + l.text() + " reached"
		if !st.KeyMissing {
			msg += " for " + spec.Key + " " + strconv.Quote(limitValue(st))
		}
		return flows.OutcomeFallback, rateLimited(msg, d.RetryAfter)
	}
	if spec.Cost {
		x.charges = append(x.charges, l)
		x.limiter = f.Limiter
	}
	return flows.OutcomeSuccess, nil
}

// text is the limit in words: "10 requests per 600 s".
func (l Limit) text() string {
	what := "requests"
	if l.Cost {
		what = "USD"
	}
	return strconv.FormatFloat(l.Limit, 'f', -1, 64) + " " + what + " per " + strconv.FormatFloat(l.Interval.Seconds(), 'f', -1, 64) + " s"
}

// rateLimited is the 429 of a refused limit, with its Retry-After in whole seconds.
func rateLimited(msg string, retryAfter time.Duration) *GatewayError {
	e := Errorf(429, CodeRateLimited, msg)
	e.RetryAfter = max(1, int(math.Ceil(retryAfter.Seconds())))
	return e
}

// routeModel calls a model node: its provider and model, its timeout on every try and its
// retries. A node without a fallback on the last step keeps its failed answer, which is
// then the request's answer.
func (f *Forwarder) routeModel(x *Exchange, r *RouteRun, n *flows.Node, lastStep bool, notes map[string]events.RouteNode) flows.Outcome {
	req := x.Req
	final := lastStep && !hasOutput(n, "fallback")
	note := events.RouteNode{Provider: n.Model.Provider, Model: n.Model.Model}
	var t Target
	if fail := r.Plan(n.Model, &t); fail != nil {
		x.failUnified(fail)
		note.Status = fail.Status
		notes[n.ID] = note
		if !final {
			x.discard()
		}
		return flows.OutcomeFallback
	}
	t.Retry = RetryPolicy{MaxAttempts: n.Model.Retries + 1, Delay: req.Retry.Delay, Backoff: req.Retry.Backoff,
		Timeout: n.Model.Timeout, Strict: true, MaxWait: RetryDelayLimit}
	if t.Retry.Delay == 0 {
		t.Retry.Delay = DefaultRetryDelay
	}
	t.Options = req.Target.Options // a node answers under its step's options
	req.Target = t
	tried := len(x.Attempts)
	failed := f.tryStep(x, final)
	for i := tried; i < len(x.Attempts); i++ {
		x.Attempts[i].Element = n.ID
	}
	if k := len(x.Attempts); k > 0 {
		note.Status = x.Attempts[k-1].Status
	}
	notes[n.ID] = note
	if failed || x.Err != nil || Failed(x.Status) {
		return flows.OutcomeFallback
	}
	return flows.OutcomeSuccess
}

// endRoute finishes a walk: the model's answer, the refusal, the last failure, or an
// error when no model answered.
func endRoute(x *Exchange, r *RouteRun, st flows.Step, refusal *GatewayError, lastStep bool) bool {
	switch {
	case st.Answered:
		return false
	case st.Failed != nil && x.Status != 0:
		return !lastStep // the failed answer is kept on the last step, discarded otherwise
	case !lastStep:
		return true
	case st.Refused != nil && refusal != nil:
		x.failUnified(refusal)
	default:
		x.failUnified(Errorf(502, CodeRouteNoAnswer, "dynamic route "+strconv.Quote(r.Name)+" ended at "+strconv.Quote(st.Node.ID)+" without a model answer"))
	}
	return false
}

// walked merges the walker's visits with what happened at limit and model nodes.
func walked(visits []flows.Visit, notes map[string]events.RouteNode) []events.RouteNode {
	out := make([]events.RouteNode, len(visits))
	for i, v := range visits {
		n := notes[v.ElementID]
		n.ElementID, n.Type, n.Output = v.ElementID, v.Type, v.Output
		out[i] = n
	}
	return out
}

func hasOutput(n *flows.Node, name string) bool {
	for _, e := range n.Outputs {
		if e.Name == name {
			return true
		}
	}
	return false
}

// takeGatewayLimit applies the gateway's own rate limit; false means refused (and the
// exchange holds the 429).
func (f *Forwarder) takeGatewayLimit(x *Exchange) bool {
	req := x.Req
	if req.RateLimit == nil || f.Limiter == nil {
		return true
	}
	l := *req.RateLimit
	d := f.Limiter.Take(l, time.Now())
	if d.Admitted {
		return true
	}
	fail := rateLimited("gateway "+req.GatewayID+" rate limit of "+l.text()+" reached", d.RetryAfter)
	if req.Steps == nil && (req.Compat != nil || req.Route != nil) {
		x.failUnified(fail)
	} else {
		x.Fail(fail)
	}
	return false
}

// chargeRoute adds the answer's cost to the cost limits the walk passed.
func (x *Exchange) chargeRoute() {
	if len(x.charges) == 0 || x.limiter == nil {
		return
	}
	c, _ := x.Cost()
	if c == nil || *c <= 0 {
		return
	}
	now := time.Now()
	for _, l := range x.charges {
		x.limiter.Charge(l, *c, now)
	}
}
