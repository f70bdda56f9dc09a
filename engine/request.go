// Package engine is the request path: the request model, provider adapters (engine/providers),
// usage reading (engine/usage), the upstream client (engine/upstream), forwarding and
// relaying a provider call, and the fasthttp front end (engine/server). It never imports
// actors: the front end hands each Request to a Dispatcher that cmd wires to the actor system.
package engine

import (
	"errors"
	"io"
	"time"

	"github.com/switchyard/switchyard/engine/cache"
	"github.com/switchyard/switchyard/engine/compat"
	"github.com/switchyard/switchyard/engine/pricing"
	"github.com/switchyard/switchyard/engine/providers"
	"github.com/switchyard/switchyard/events"
)

// Header is one forwarded request header.
type Header struct {
	Key, Value string
}

// Request is one data-plane request, parsed and validated by the front end. Everything
// in it is owned (copied out of the connection's buffers), except BodyStream, which is
// valid only until the upstream call has sent it.
type Request struct {
	LogID      string
	EventID    string
	AccountID  string
	GatewayID  string
	Method     string
	Body       []byte    // the client's whole body, when it was read (kept for retries and the log)
	BodyStream io.Reader // large bodies, streamed to the upstream instead
	BodySize   int64     // -1 when unknown (chunked)
	CType      string
	ReceivedAt time.Time

	// Target is where the request goes. On the universal endpoint it is the step being
	// tried, and once answered the step that answered.
	Target
	// Steps are a universal request's steps, tried in order; nil for every other request,
	// which has the one Target.
	Steps []*Target

	// Fail, when set, is answered without calling any upstream (and still logged).
	Fail *GatewayError

	// RateLimit is the gateway's own rate limit (rate_limiting_* settings), nil when off.
	RateLimit *Limit
	// DLP is the gateway's compiled DLP policies, nil when DLP is off; DLPResult is what
	// they found in the request and the answer (firewall.go).
	DLP       *DLPCheck
	DLPResult *events.DLPResult
	// Guard is the gateway's guardrails with the guard model to call, nil when they are
	// off; GuardResult is what the guard model found in the prompt and the answer (guard.go).
	Guard       *Guard
	GuardResult *events.GuardrailsResult
	// TraceID and ParentSpanID are the client's trace context (lowercase hex, validated),
	// carried to the request.finished event for the OpenTelemetry export; empty when none.
	TraceID, ParentSpanID string
}

// Target is one upstream destination: the provider, the path and headers to send, and the
// request handling (timeout, retries) that applies to it.
type Target struct {
	Provider *providers.Resolved // nil when the request failed before a provider was known
	Slug     string              // the provider segment as sent
	Rest     string              // path after the provider slug, starting with "/"
	Query    string              // raw query string without '?'
	Header   []Header
	// Send, when set, is the upstream body instead of the client's (a universal step's query).
	Send   []byte
	Model  string
	Stream bool // the client asked for a streamed answer

	// Credential is a stored provider key (BYOK) added to the upstream request only: it is
	// never logged, never put in an event and never echoed. KeyID and KeyAlias name it.
	Credential *Header
	KeyID      string
	KeyAlias   string

	// Compat, on the unified API, is the translated provider call: its native body and
	// headers (credentials included, so never logged) replace Body and Header upstream,
	// and it translates the answer back. Body stays the client's request, for the log.
	Compat *compat.Call

	// Refused, when set, fails this target without a call (a stored key over its limit).
	Refused *GatewayError

	// Route, when set, is a dynamic route (model "dynamic/{name}") walked in place of a
	// single call: each of its model nodes becomes the target in turn.
	Route *RouteRun

	Retry RetryPolicy

	// Options are the caching, cost, metadata and logging options for this target. A
	// universal step's own cf-aig-* headers override the request's; the log record and the
	// cost follow the target that answered.
	Options
}

// Options are what the cf-aig-cache-*, cf-aig-custom-cost, cf-aig-metadata,
// cf-aig-collect-log and cf-aig-collect-log-payload headers (over the gateway's settings)
// ask of one target.
type Options struct {
	// Cache is the cache policy, nil when the answer is not to be cached.
	Cache *cache.Policy
	// CustomCost is the cf-aig-custom-cost price, which replaces the pricing table's.
	CustomCost *pricing.Price
	// Metadata is the cf-aig-metadata object (at most five entries).
	Metadata events.Metadata
	// NoLog: no log record is kept (cf-aig-collect-log: false or the gateway's
	// collect_logs off); NoPayload: the record keeps no bodies (cf-aig-collect-log-payload).
	NoLog, NoPayload bool
}

// Path is the gateway path after /v1/{account}/{gateway}, for the log.
func (r *Request) Path() string {
	if r.Compat != nil {
		return CompatPath
	}
	if r.Slug == "" {
		return r.Rest
	}
	return "/" + r.Slug + r.Rest
}

// CompatPath is the unified API's path as logged.
const CompatPath = "/compat/chat/completions"

// Dispatcher runs a Request and answers with its Exchange as soon as the response status and
// headers are known. cmd wires it to the actor system.
type Dispatcher interface {
	Dispatch(*Request) *Exchange
}

// SessionRecorder records proxied realtime WebSocket sessions as events. cmd wires it to
// the actor system, as it does the Dispatcher.
type SessionRecorder interface {
	SessionStarted(events.RealtimeStarted)
	SessionEnded(events.RealtimeEnded)
}

// ErrBodyTooLarge stops a streamed request body at the gateway maximum.
var ErrBodyTooLarge = errors.New("request body is larger than the gateway maximum")

// StreamedBody is a request body sent to the upstream as it is read from the client. It
// counts the bytes (chunked bodies have no length up front) and stops at Max.
type StreamedBody struct {
	R   io.Reader
	Max int64
	N   int64
}

func (b *StreamedBody) Read(p []byte) (int, error) {
	n, err := b.R.Read(p)
	b.N += int64(n)
	if b.N > b.Max {
		return n, ErrBodyTooLarge
	}
	return n, err
}
