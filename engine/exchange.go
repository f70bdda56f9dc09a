// exchange.go is one request's life in the engine: the upstream call (Forwarder.Do), the
// reply the front end writes back, the relay of the body to the client with token
// counting and payload capture, and what was measured on the way.
package engine

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/switchyard/switchyard/engine/cache"
	"github.com/switchyard/switchyard/engine/compat"
	"github.com/switchyard/switchyard/engine/providers"
	"github.com/switchyard/switchyard/engine/upstream"
	"github.com/switchyard/switchyard/engine/usage"
	"github.com/switchyard/switchyard/events"
	"github.com/valyala/fasthttp"
)

// Forwarder calls providers.
type Forwarder struct {
	Client *fasthttp.Client
	// CaptureMax is how many bytes of each body are kept for the log payload.
	CaptureMax int
	// SmallBody: an upstream answer with a known length at most this size (and not an
	// event stream) is read whole before the reply, everything else is streamed.
	SmallBody int
	// Sleep waits between retries; nil is time.Sleep. Tests inject a clock here to check
	// the schedule without waiting.
	Sleep func(time.Duration)
	// Cache stores cacheable answers (nil: no cache); Flights coalesces identical
	// cacheable requests in flight.
	Cache   cache.Store
	Flights cache.Flights
	// Limiter decides gateway rate limits and dynamic routes' rate_limit elements (nil:
	// no limits are enforced).
	Limiter Limiter
}

// Exchange is one request in flight. The front end reads Status, the headers and either
// Body or the stream (Relay); the dispatcher reads the measurements once Done is called.
type Exchange struct {
	Req    *Request
	Status int
	Err    *GatewayError // the gateway's own error answer, if any
	Body   []byte        // the whole answer body, when not streamed

	upstream   *fasthttp.Response
	stream     io.Reader
	sse        bool
	captureMax int

	Started   time.Time
	TTFB      time.Duration
	End       time.Time
	BytesOut  int64
	Usage     usage.Counter
	RespCType string
	ClientErr error // the client went away while the body was relayed
	RespBody  []byte
	RespTrunc bool
	// TokensCached and TokensEstimated complete Usage on unified-API answers.
	TokensCached    int64
	TokensEstimated bool

	conv *compat.Stream // translates a unified-API stream, nil otherwise

	// Step is the index of the step that answered (cf-aig-step); Attempts lists every
	// upstream call made, in order.
	Step     int
	Attempts []events.AttemptSummary

	// Cached: the answer came from the response cache. CacheStatus is the
	// cf-aig-cache-status header (HIT or MISS), empty when the request was not cacheable.
	Cached       bool
	CacheStatus  string
	cacheKey     string // the entry this answer would be stored under
	cacheStore   cache.Store
	cacheBody    []byte // the relayed stream, kept for the cache
	cacheOver    bool   // the stream outgrew cache.MaxEntry
	cachedHeader [][2]string
	flights      map[string]func() // keys this exchange leads; released in Done

	// Route is the dynamic route that answered (or failed last), nil when none; charges are the
	// cost limits it passed, charged through limiter with the answer's cost in Done.
	Route   *RouteRun
	Walks   []*RouteRun // every route walked, the failed universal steps' included
	charges []Limit
	limiter Limiter
	// gatewayAdmitted: the gateway's rate limit has admitted the request (it is taken
	// before the first upstream call, not for an answer from the cache).
	gatewayAdmitted bool
	// cut: the streamed answer broke off upstream (see Cut).
	cut bool
	// buffered: the streamed answer was read whole before it was sent (Buffered).
	buffered bool

	// DoneBeforeAnswer: Done must return before the client sees the end of the answer
	// (with --durable-events it waits for the event's acknowledgement). Otherwise a front
	// end may finish a whole answer (Done) once it has been sent.
	DoneBeforeAnswer bool

	onDone    func(*Exchange)
	once      sync.Once
	concluded sync.Once
}

// NewExchange starts an exchange for req; onDone runs once, after the answer is relayed.
func NewExchange(req *Request, onDone func(*Exchange)) *Exchange {
	x := &Exchange{Req: req, Started: time.Now(), onDone: onDone}
	return x
}

// Fail turns the exchange into a gateway error answer.
func (x *Exchange) Fail(e *GatewayError) {
	x.Err = e
	x.Status = e.Status
	x.Body = e.JSON()
	x.RespCType = "application/json"
	x.RespBody = x.Body
	x.BytesOut = int64(len(x.Body))
	if x.TTFB == 0 {
		x.TTFB = time.Since(x.Started)
	}
}

// Streaming reports whether the body must be relayed with Relay.
func (x *Exchange) Streaming() bool { return x.stream != nil && !x.buffered }

// hop-by-hop headers (RFC 9110 §7.6.1) and headers the transport recomputes.
var hopByHop = map[string]bool{
	"connection": true, "keep-alive": true, "proxy-authenticate": true, "proxy-authorization": true,
	"proxy-connection": true, "te": true, "trailer": true, "transfer-encoding": true, "upgrade": true,
	"content-length": true, "host": true,
}

// ForwardRequestHeader reports whether a client header goes to the provider: not
// hop-by-hop, not a cf-aig-* gateway header, and not Accept-Encoding (the gateway asks for
// an identity body so it can read usage and keep payloads; the client gets it plain).
func ForwardRequestHeader(lowerKey string) bool {
	return !hopByHop[lowerKey] && !strings.HasPrefix(lowerKey, "cf-aig-") &&
		lowerKey != "accept-encoding" && lowerKey != "cf-cache-ttl" && lowerKey != "cf-skip-cache"
}

// LowerHeaderName appends the ASCII lower case of header name k to dst: with dst a
// stack array's slice, a per-request header loop compares names without allocating
// (string(name) in a map index or a comparison does not allocate either).
func LowerHeaderName(dst, k []byte) []byte {
	for _, c := range k {
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		dst = append(dst, c)
	}
	return dst
}

// VisitResponseHeaders calls f for every upstream header the client should get verbatim.
func (x *Exchange) VisitResponseHeaders(f func(k, v []byte)) {
	if x.Cached {
		for _, h := range x.cachedHeader {
			f([]byte(h[0]), []byte(h[1]))
		}
		return
	}
	if x.upstream == nil {
		return
	}
	unified := x.Req.Compat != nil
	if unified {
		f([]byte("Content-Type"), []byte(x.RespCType))
	}
	var name [64]byte
	for k, v := range x.upstream.Header.All() {
		lk := LowerHeaderName(name[:0], k)
		if unified && !keepUnifiedHeader(string(lk)) {
			continue
		}
		if !hopByHop[string(lk)] {
			f(k, v)
		}
	}
}

// urlError is the 400 for a target whose upstream URL could not be built. Apart from
// call so that the success path does not allocate the errors.As target.
func urlError(slug string, err error) *GatewayError {
	var bad *providers.TargetError
	switch {
	case errors.As(err, &bad):
		return Errorf(400, CodeBadRequest, bad.Error()+"; it must be an https URL on one of the provider's own hosts")
	case errors.Is(err, providers.ErrDotSegment):
		return Errorf(400, CodeBadRequest, "the path after /"+slug+" has a . or .. segment (percent-encoded or not), which would leave the provider's base path")
	default:
		return Errorf(400, CodeBadRequest, "the path after /"+slug+" does not match the provider's URL shape")
	}
}

// call makes one upstream call to t and prepares the reply. It returns once the status
// and headers are known (and the body too when it is small). timeout, when not zero,
// bounds the wait for the answer's first byte.
func (f *Forwarder) call(x *Exchange, t *Target, timeout time.Duration) {
	req := x.Req
	if t.Refused != nil {
		x.Fail(t.Refused)
		return
	}
	// A target URL header (fal's x-fal-target-url) replaces the path and query.
	target := t.targetURL()
	var url, model string
	var err error
	if target != "" {
		url, model, err = t.Provider.TargetURL(target)
	} else {
		url, model, err = t.Provider.URL(req.AccountID, t.Rest)
	}
	if err != nil {
		x.Fail(urlError(t.Slug, err))
		return
	}
	if t.Model == "" {
		t.Model = model
	}
	x.Usage.Format = t.Provider.Usage
	ureq := fasthttp.AcquireRequest()
	defer fasthttp.ReleaseRequest(ureq)
	if t.Query != "" && target == "" {
		url += "?" + t.Query
	}
	ureq.SetRequestURI(url)
	ureq.Header.SetMethod(req.Method)
	ureq.Header.DisableNormalizing()
	for _, h := range t.Header {
		if target != "" && strings.EqualFold(h.Key, t.Provider.TargetURLHeader) {
			continue // the gateway's instruction, not the provider's
		}
		ureq.Header.Add(h.Key, h.Value)
	}
	if t.Credential != nil {
		ureq.Header.Set(t.Credential.Key, t.Credential.Value)
	}
	switch {
	case t.Compat != nil:
		if fail := prepareUnified(ureq, t.Compat, req.Method, url); fail != nil {
			x.Fail(fail)
			return
		}
	case t.Send != nil:
		ureq.SetBodyRaw(t.Send)
	case req.Body != nil:
		ureq.SetBodyRaw(req.Body)
	case req.BodyStream != nil:
		ureq.SetBodyStream(req.BodyStream, int(req.BodySize))
	}
	ureq.SetTimeout(timeout)
	resp := fasthttp.AcquireResponse()
	err = f.Client.Do(ureq, resp)
	if sb, ok := req.BodyStream.(*StreamedBody); ok {
		req.BodySize = sb.N
	}
	if err != nil {
		fasthttp.ReleaseResponse(resp)
		if errors.Is(err, ErrBodyTooLarge) {
			x.Fail(Errorf(413, CodeBodyTooLarge, ErrBodyTooLarge.Error()))
			return
		}
		x.Fail(upstreamError(t.Slug, err))
		if t.Compat != nil {
			x.Body = openAIError(x.Err)
			x.RespBody = x.Body
		}
		return
	}
	x.TTFB = time.Since(x.Started)
	x.Status = resp.StatusCode()
	x.RespCType = string(resp.Header.ContentType())
	x.upstream = resp
	if t.Compat != nil {
		f.unifiedAnswer(x, resp)
		return
	}
	x.sse = strings.HasPrefix(x.RespCType, "text/event-stream")
	if req.Method == fasthttp.MethodHead {
		return // no body follows; the front end writes none
	}
	cl := resp.Header.ContentLength()
	if !x.sse && cl >= 0 && cl <= f.SmallBody {
		body := make([]byte, cl) // the length is known: one allocation, no regrowth
		n, err := io.ReadFull(resp.BodyStream(), body)
		if errors.Is(err, io.ErrUnexpectedEOF) {
			err = fmt.Errorf("upstream body ended after %d of %d bytes: %w", n, cl, err)
		}
		if err != nil {
			x.upstream = nil
			fasthttp.ReleaseResponse(resp)
			x.Fail(upstreamError(t.Slug, err))
			return
		}
		x.Body = body
		x.BytesOut = int64(len(body))
		x.Usage.ScanJSON(body)
		// The log keeps the body itself (nothing writes to it after this), cut to CaptureMax.
		x.RespBody = body
		if len(body) > f.CaptureMax {
			x.RespBody, x.RespTrunc = body[:f.CaptureMax], true
		}
		return
	}
	x.captureMax = f.CaptureMax
	x.stream = resp.BodyStream()
}

// upstreamError classifies a failed upstream call without echoing anything secret.
func upstreamError(slug string, err error) *GatewayError {
	var ne net.Error
	var refused *upstream.RefusedError
	switch {
	case errors.As(err, &refused):
		return Errorf(502, CodeUpstreamFailed, "upstream "+slug+" not called: "+refused.Error())
	case errors.Is(err, fasthttp.ErrTimeout), errors.Is(err, os.ErrDeadlineExceeded),
		errors.As(err, &ne) && ne.Timeout():
		return Errorf(504, CodeUpstreamTimeout, "upstream "+slug+" did not answer in time")
	case errors.Is(err, fasthttp.ErrBodyTooLarge):
		return Errorf(502, CodeUpstreamFailed, "upstream "+slug+" answer is too large")
	default:
		return Errorf(502, CodeUpstreamFailed, "upstream "+slug+" unreachable or connection reset")
	}
}

// capture appends p to dst, the body kept for the log, up to limit bytes (*trunc is set when
// some is cut). A body captured piece by piece grows by doubling: append grows a slice past
// 256 bytes by about a quarter, which copied a 4 KB stream's body about three times over.
func capture(dst, p []byte, limit int, trunc *bool) []byte {
	room := limit - len(dst)
	if room <= 0 {
		if len(p) > 0 {
			*trunc = true
		}
		return dst
	}
	if len(p) > room {
		*trunc = true
		p = p[:room]
	}
	if need := len(dst) + len(p); need > cap(dst) && cap(dst) > 0 {
		grown := make([]byte, len(dst), min(limit, max(need, 2*cap(dst))))
		copy(grown, dst)
		dst = grown
	}
	return append(dst, p...)
}

// streamCaptureStart is the room a streamed body's capture starts with: a 20-event chat
// stream is about 4 KB.
const streamCaptureStart = 8 << 10

var relayBufs = sync.Pool{New: func() any { b := make([]byte, 32<<10); return &b }}

// Relay copies the streamed body to the client, flushing after every read so SSE events
// leave as they arrive, while counting tokens and capturing the payload.
func (x *Exchange) Relay(w *bufio.Writer) {
	bp := relayBufs.Get().(*[]byte)
	defer relayBufs.Put(bp)
	buf := *bp
	if x.RespBody == nil && x.captureMax > 0 {
		x.RespBody = make([]byte, 0, min(x.captureMax, streamCaptureStart))
	}
	for {
		n, rerr := x.stream.Read(buf)
		if n > 0 {
			chunk := buf[:n]
			if x.conv != nil {
				chunk = x.conv.Feed(chunk)
			}
			x.BytesOut += int64(len(chunk))
			x.keepForCache(chunk)
			if x.sse {
				x.Usage.Write(chunk)
			}
			x.RespBody = capture(x.RespBody, chunk, x.captureMax, &x.RespTrunc)
			if _, err := w.Write(chunk); err != nil {
				x.ClientErr = err
				break
			}
			if err := w.Flush(); err != nil {
				x.ClientErr = err
				break
			}
		}
		if rerr != nil {
			if rerr != io.EOF {
				x.Err = upstreamError(x.Req.Slug, rerr)
				x.cut = x.ClientErr == nil
			}
			break
		}
	}
	if x.conv != nil {
		x.closeUnified(w)
		return
	}
	if x.sse {
		x.Usage.Close()
		if x.Err == nil && x.ClientErr == nil && x.Usage.Cut() {
			x.Err, x.cut = cutAnswer(x.Req.Slug), true
		}
	} else if !x.RespTrunc {
		x.Usage.ScanJSON(x.RespBody)
	}
}

// cutAnswer is the error of a stream that closed cleanly but without its provider's final
// event (a body shorter than its Content-Length or a chunked body without its end fails
// the read itself).
func cutAnswer(slug string) *GatewayError {
	return Errorf(502, CodeUpstreamFailed, "upstream "+slug+" answer ended before its final event")
}

// Cut reports, after Relay, whether the upstream answer broke off: the client has the
// status and part of the body, so the front end must end the response as broken (no
// chunked terminator, connection closed), never as a clean end. The log has the error.
func (x *Exchange) Cut() bool { return x.cut }

// Conclude records the end and does, once, what the next request may see at once: the
// answer stored in the cache and the route's cost limits charged. Done calls it; a front
// end that calls Done only after the answer has left calls Conclude before sending it.
func (x *Exchange) Conclude() {
	x.concluded.Do(func() {
		x.End = time.Now()
		x.storeInCache()
		x.chargeRoute()
	})
}

// Done concludes the exchange if it is not yet, releases the upstream response and hands
// the exchange to the dispatcher, once.
func (x *Exchange) Done() {
	x.once.Do(func() {
		x.Conclude()
		x.release()
		if x.onDone != nil {
			x.onDone(x)
		}
	})
}

// release gives the upstream response (and its connection) back. x.stream is left
// set: Streaming still tells the dispatcher, after Done, that the body was streamed.
func (x *Exchange) release() {
	if x.upstream == nil {
		return
	}
	if x.stream != nil {
		_ = x.upstream.CloseBodyStream()
	}
	fasthttp.ReleaseResponse(x.upstream)
	x.upstream = nil
}

// Success is the log's success flag: a 2xx answer fully delivered.
func (x *Exchange) Success() bool {
	return x.Err == nil && x.ClientErr == nil && x.Status >= 200 && x.Status < 300
}
