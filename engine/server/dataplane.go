// dataplane.go parses /v1/{account_id}/{gateway_id}/{provider}/{path...} into an
// engine.Request, dispatches it and writes the exchange back: status, upstream headers,
// the cf-aig-* response headers, and the body whole or streamed.
package server

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/oklog/ulid/v2"
	"github.com/switchyard/switchyard/engine"
	"github.com/switchyard/switchyard/engine/cache"
	"github.com/switchyard/switchyard/engine/pricing"
	"github.com/switchyard/switchyard/storage/config"
	"github.com/tidwall/gjson"
	"github.com/valyala/fasthttp"
)

// wholeBody: request bodies with a known length up to this size are read whole (and kept
// for the log and for retries); larger or chunked ones stream to the upstream.
const wholeBody = 1 << 20

// drainMax bounds how much of an over-size body is read and dropped before the 413.
const drainMax = 64 << 20

func (s *Server) dataPlane(ctx *fasthttp.RequestCtx, path []byte) {
	if isUpgrade(ctx) {
		s.upgrade(ctx, path)
		return
	}
	req := s.parse(ctx, path)
	if req == nil {
		return
	}
	req.DLP.CheckRequest(req)
	req.Guard.CheckPrompt(req)
	x := s.opts.Dispatcher.Dispatch(req)
	s.writeExchange(ctx, x)
}

// parse builds the Request. It returns nil (having answered 404) only when the URL does
// not even name an account and gateway; every other problem becomes req.Fail, so the
// request is still logged as failed.
func (s *Server) parse(ctx *fasthttp.RequestCtx, path []byte) *engine.Request {
	parts := strings.SplitN(string(path[len("/v1/"):]), "/", 4)
	if len(parts) < 2 || !config.ValidID(parts[0]) || !config.ValidID(parts[1]) {
		s.reject(ctx, engine.Errorf(404, engine.CodeMalformedPath, "malformed path: expected /v1/{account_id}/{gateway_id}/{provider}/..."))
		return nil
	}
	snap := s.opts.Config.Projection().Current()
	g := s.admit(ctx, snap, parts[0], parts[1])
	if g == nil {
		return nil
	}
	now := time.Now()
	logID, eventID := newIDs(now)
	req := &engine.Request{
		LogID:      logID,
		EventID:    eventID,
		AccountID:  parts[0],
		GatewayID:  parts[1],
		Method:     string(ctx.Method()),
		CType:      string(ctx.Request.Header.ContentType()),
		ReceivedAt: now,
	}
	req.Query = string(ctx.URI().QueryString())
	req.TraceID, req.ParentSpanID = traceContext(&ctx.Request.Header)
	own := gatewayHeader(ctx)
	retry, fail := requestRetry(own, g)
	if fail == nil {
		fail = requestOptions(own, g, &req.Options)
	}
	if fail == nil {
		fail = s.overSpend(g, now)
	}
	req.RateLimit = gatewayRateLimit(g)
	req.DLP = s.dlpCheck(snap, g)
	req.Guard = s.guardFor(snap, g, req)
	if len(parts) < 3 || parts[2] == "" {
		return s.parseUniversal(ctx, snap, g, req, retry, fail)
	}
	req.Slug = parts[2]
	req.Rest = "/"
	if len(parts) == 4 {
		req.Rest += parts[3]
	}
	req.Retry = retry.Policy()
	if req.Slug == unifiedSlug {
		if fail != nil {
			return unifiedGatewayFail(req, fail)
		}
		return s.parseUnified(ctx, snap, req)
	}
	if fail != nil {
		req.Fail = fail
		return req
	}
	p, fail := s.resolveProvider(snap, req.AccountID, req.Slug)
	if fail != nil {
		req.Fail = fail
		return req
	}
	req.Provider = p
	if fail := s.attachKey(snap, req, &req.Target, clientHeader(ctx)); fail != nil {
		req.Fail = fail
		return req
	}
	var name [64]byte
	for k, v := range ctx.Request.Header.All() {
		if engine.ForwardRequestHeader(string(engine.LowerHeaderName(name[:0], k))) {
			req.Header = append(req.Header, engine.Header{Key: string(k), Value: string(v)})
		}
	}
	cl := ctx.Request.Header.ContentLength()
	switch {
	case cl > s.opts.MaxBody:
		req.BodySize = int64(cl)
		req.Fail = refuseLargeBody(ctx)
		return req
	case cl >= 0 && cl <= wholeBody, req.Retry.MaxAttempts > 1, req.DLP != nil && req.DLP.Request, req.Guard != nil:
		// whole: small bodies, any body a retry may have to send again, and any body DLP
		// or the guardrails must read before it is sent
		body, fail := s.readWhole(ctx)
		req.Body, req.BodySize = body, int64(len(body))
		if fail != nil {
			req.Fail = fail
			return req
		}
		if len(body) > 0 && bytes.HasPrefix(bytes.TrimSpace(body), []byte("{")) {
			res := gjson.GetManyBytes(body, "model", "stream")
			req.Model = res[0].String()
			req.Stream = res[1].Bool()
		}
	default:
		req.BodySize = int64(cl)
		rs := ctx.RequestBodyStream()
		if rs == nil { // the server already holds the whole body
			rs = bytes.NewReader(ctx.Request.Body())
		}
		req.BodyStream = &engine.StreamedBody{R: rs, Max: int64(s.opts.MaxBody)}
	}
	if req.Model == "" { // a form, model_id, version, ?model=: priced media requests name it so
		req.Model = p.RequestModel(req.Body, req.CType, req.Query)
	}
	return req
}

// gatewayRateLimit is the gateway's own rate limit (rate_limiting_limit requests per
// rate_limiting_interval seconds, fixed or sliding), nil when off. Every node counts
// against the same limiter key.
func gatewayRateLimit(g *config.Gateway) *engine.Limit {
	if g.RateLimitingLimit == nil || g.RateLimitingInterval == nil || *g.RateLimitingLimit <= 0 || *g.RateLimitingInterval <= 0 {
		return nil
	}
	return &engine.Limit{Key: "gw/" + g.AccountID + "/" + g.ID, Limit: float64(*g.RateLimitingLimit),
		Interval: time.Duration(*g.RateLimitingInterval) * time.Second, Sliding: g.RateLimitingTechnique == "sliding"}
}

// clientHeader reads the client's request headers.
func clientHeader(ctx *fasthttp.RequestCtx) func(string) string {
	return func(name string) string { return string(ctx.Request.Header.Peek(name)) }
}

// gatewayHeader is clientHeader for the gateway's own request options (headers named
// "cf-...", such as cf-aig-cache-ttl and cf-skip-cache, but not the gateway token
// cf-aig-authorization): when the request has none, which one pass over its headers
// tells, it looks none of them up.
func gatewayHeader(ctx *fasthttp.RequestCtx) func(string) string {
	for k := range ctx.Request.Header.All() {
		if len(k) >= 3 && k[0]|0x20 == 'c' && k[1]|0x20 == 'f' && k[2] == '-' && !strings.EqualFold(string(k), gatewayTokenHeader) {
			return clientHeader(ctx)
		}
	}
	return noHeader
}

// gatewayTokenHeader carries the gateway's token (access.go), not a request option.
const gatewayTokenHeader = "cf-aig-authorization"

func noHeader(string) string { return "" }

// requestRetry is the request handling a request asks for with cf-aig-* headers, over the
// gateway's retry settings. A malformed header is returned as the failure.
func requestRetry(get func(string) string, g *config.Gateway) (engine.RetrySettings, *engine.GatewayError) {
	gw := engine.RetrySettings{MaxAttempts: g.RetryMaxAttempts, DelayMs: g.RetryDelay, Backoff: g.RetryBackoff}
	hdr, fail := engine.RetryHeaders("", get)
	return hdr.Over(gw), fail
}

// requestOptions reads the per-request headers about caching, metadata and logging
// (cf-aig-cache-*, cf-aig-metadata, cf-aig-collect-log, cf-aig-collect-log-payload)
// over the gateway's settings. A malformed value is a 400 naming the header.
func requestOptions(get func(string) string, g *config.Gateway, req *engine.Options) *engine.GatewayError {
	pol, err := cache.ReadPolicy(get, g.CacheTTL)
	if err != nil {
		return engine.Errorf(400, engine.CodeBadRequest, err.Error())
	}
	if pol != nil && g.CacheInvalidateOnUpdate {
		pol.Gen = strconv.FormatInt(g.ModifiedAt.UnixNano(), 36)
	}
	req.Cache = pol
	if v := get("cf-aig-metadata"); v != "" {
		md, err := engine.ParseMetadata(v)
		if err != nil {
			return engine.Errorf(400, engine.CodeBadRequest, err.Error())
		}
		req.Metadata = md
	}
	if v := get(pricing.CustomCostHeader); v != "" {
		p, err := pricing.ParseCustomCost(v)
		if err != nil {
			return engine.Errorf(400, engine.CodeBadRequest, err.Error())
		}
		req.CustomCost = &p
	}
	req.NoLog = !g.CollectLogs
	for _, h := range []struct {
		name string
		set  func(bool)
	}{{"cf-aig-collect-log", func(b bool) { req.NoLog = !b }}, {"cf-aig-collect-log-payload", func(b bool) { req.NoPayload = !b }}} {
		if v := strings.TrimSpace(get(h.name)); v != "" {
			b, err := strconv.ParseBool(v)
			if err != nil {
				return engine.Errorf(400, engine.CodeBadRequest, h.name+" must be true or false")
			}
			h.set(b)
		}
	}
	return nil
}

// refuseLargeBody is the 413 for a body over the maximum. It reads (and drops) what the
// client is sending, within a bound, so the client gets the 413 instead of a connection
// reset, and closes the connection after the answer.
func refuseLargeBody(ctx *fasthttp.RequestCtx) *engine.GatewayError {
	if rs := ctx.RequestBodyStream(); rs != nil {
		_, _ = io.CopyN(io.Discard, rs, drainMax)
	}
	ctx.SetConnectionClose()
	return engine.Errorf(413, engine.CodeBodyTooLarge, "request body is larger than the gateway maximum")
}

// reject answers a request stopped before it was dispatched (and so not logged), with the
// error JSON and the cf-aig-* ids every data-plane response carries.
func (s *Server) reject(ctx *fasthttp.RequestCtx, e *engine.GatewayError) {
	setIDs(ctx, ulid.Make().String(), ulid.Make().String(), 0)
	writeError(ctx, e)
}

// newIDs makes a request's log id and event id, both ULIDs of now's millisecond: the logs
// projection finds a record by its event id among the records of that millisecond, with
// no index entry of its own (storage/postings.go).
func newIDs(now time.Time) (logID, eventID string) {
	ms, entropy := ulid.Timestamp(now), ulid.DefaultEntropy()
	return ulid.MustNew(ms, entropy).String(), ulid.MustNew(ms, entropy).String()
}

// setIDs puts the cf-aig-log-id, cf-aig-event-id and cf-aig-step headers every
// data-plane response carries.
func setIDs(ctx *fasthttp.RequestCtx, logID, eventID string, step int) {
	h := &ctx.Response.Header
	h.Set("cf-aig-log-id", logID)
	h.Set("cf-aig-event-id", eventID)
	h.Set("cf-aig-step", strconv.Itoa(step))
}

func (s *Server) writeExchange(ctx *fasthttp.RequestCtx, x *engine.Exchange) {
	x.Req.DLP.CheckResponse(x)
	x.Req.Guard.CheckResponse(x)
	ctx.SetStatusCode(x.Status)
	h := &ctx.Response.Header
	if v := x.Req.DLPHeader(); v != "" {
		h.Set("cf-aig-dlp", v)
	}
	if x.Err != nil {
		h.SetContentType("application/json")
		setRetryAfter(ctx, x.Err)
	} else {
		x.VisitResponseHeaders(func(k, v []byte) { h.AddBytesKV(k, v) })
	}
	setIDs(ctx, x.Req.LogID, x.Req.EventID, x.Step)
	if x.Req.Slug != "" && x.Req.Provider != nil {
		h.Set("cf-aig-provider", x.Req.Slug)
	}
	if x.Req.Model != "" {
		h.Set("cf-aig-model", x.Req.Model)
	}
	if x.CacheStatus != "" {
		h.Set("cf-aig-cache-status", x.CacheStatus)
	}
	if r := x.Route; r != nil {
		h.Set("cf-aig-route", r.Name)
		h.Set("cf-aig-route-version", r.VersionID)
	}
	if x.Streaming() {
		ctx.SetBodyStream(relayBody(x), -1)
		return
	}
	if x.DoneBeforeAnswer {
		ctx.SetBody(x.Body)
		x.Done()
		return
	}
	x.Conclude()
	ctx.SetBodyStream(&wholeAnswer{x: x}, len(x.Body))
}

// wholeAnswer is an answer that is not streamed, as fasthttp sends it (with its
// Content-Length): written and flushed to the client, then the exchange is finished (its
// event built and handed to the log), so the client does not wait for that. Close
// finishes an answer whose body is not written (a HEAD request, a client gone before the
// head was sent). Read serves a caller that reads the body instead.
type wholeAnswer struct {
	x   *engine.Exchange
	off int
}

// SupportsBodyWriteTo lets fasthttp call WriteTo in place of Read (fasthttp.BodyWriterTo).
func (a *wholeAnswer) SupportsBodyWriteTo() bool { return true }

func (a *wholeAnswer) WriteTo(w io.Writer) (int64, error) {
	n, err := w.Write(a.x.Body[a.off:])
	a.off += n
	if f, ok := w.(interface{ Flush() error }); ok && err == nil {
		err = f.Flush()
	}
	if err != nil && a.x.ClientErr == nil {
		a.x.ClientErr = err
	}
	a.x.Done()
	return int64(n), err
}

func (a *wholeAnswer) Read(p []byte) (int, error) {
	if a.off >= len(a.x.Body) {
		return 0, io.EOF
	}
	n := copy(p, a.x.Body[a.off:])
	a.off += n
	return n, nil
}

func (a *wholeAnswer) Close() error {
	a.x.Done()
	return nil
}

// errAnswerCut ends a relayed body whose upstream answer broke off. fasthttp writes no
// chunked terminator after a body read error and closes the connection, so the client sees
// a broken answer, never a clean end.
var errAnswerCut = errors.New("the upstream answer was cut short; the response is broken off")

var relayWriters = sync.Pool{New: func() any { return bufio.NewWriterSize(nil, 4<<10) }}

// relayStream is the body fasthttp sends for a streamed answer. fasthttp frames what
// WriteTo writes as chunks, on the connection's goroutine: each flush of Exchange.Relay
// is one chunk on the wire, with no goroutine or pipe between the upstream and the client.
// Read serves a caller that reads the body instead: Relay then runs in a goroutine behind
// a pipe. Either way Done is called before the body ends, and the body ends with
// errAnswerCut instead of EOF when the answer was cut upstream.
type relayStream struct {
	x       *engine.Exchange
	started bool
	pr      *io.PipeReader // when the body is read rather than written
}

func relayBody(x *engine.Exchange) *relayStream { return &relayStream{x: x} }

// SupportsBodyWriteTo lets fasthttp call WriteTo in place of Read (fasthttp.BodyWriterTo).
func (r *relayStream) SupportsBodyWriteTo() bool { return true }

// WriteTo relays the answer to w.
func (r *relayStream) WriteTo(w io.Writer) (int64, error) {
	if r.started {
		return 0, errors.New("server: streamed answer relayed twice")
	}
	r.started = true
	cw := &countWriter{w: w}
	err := r.send(cw)
	return cw.n, err
}

// Read reads the answer through a pipe from Relay running in a goroutine.
func (r *relayStream) Read(p []byte) (int, error) {
	if r.pr == nil {
		if r.started {
			return 0, io.EOF
		}
		r.started = true
		pr, pw := io.Pipe()
		r.pr = pr
		go func() { pw.CloseWithError(r.send(pw)) }()
	}
	return r.pr.Read(p)
}

// send relays the answer to w through a pooled buffered writer and finishes the exchange.
// It returns how the body ends: nil, the client's error, or errAnswerCut.
func (r *relayStream) send(w io.Writer) error {
	bw := relayWriters.Get().(*bufio.Writer)
	bw.Reset(w)
	r.x.RelayGuarded(bw)
	_ = bw.Flush()
	bw.Reset(nil)
	relayWriters.Put(bw)
	// Done before the body ends: with --durable-events Done waits for the event's
	// acknowledgement, and the client must not see the end of the answer (fasthttp's
	// chunked terminator, written once the body ends cleanly) before it.
	r.x.Done()
	switch {
	case r.x.ClientErr != nil:
		return r.x.ClientErr
	case r.x.Cut():
		return errAnswerCut
	}
	return nil
}

// errNotSent is the client error of an answer whose body was never sent: fasthttp could
// not write the response's head (the client had gone) and closed the body unread.
var errNotSent = errors.New("the client went away before the answer's body was sent")

// Close is called by fasthttp once it is done with the body, sent or not. An answer
// never relayed is still finished (its upstream released, its log written).
func (r *relayStream) Close() error {
	if r.pr != nil {
		return r.pr.Close()
	}
	if !r.started {
		r.started = true
		r.x.ClientErr = errNotSent
		r.x.Done()
	}
	return nil
}

// countWriter counts the bytes written through it.
type countWriter struct {
	w io.Writer
	n int64
}

func (c *countWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}
