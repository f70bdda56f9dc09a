// universal_socket.go is the non-realtime WebSocket API on /v1/{account_id}/{gateway_id}:
// each {"type":"universal.create","request":{eventId, provider, endpoint, headers, query,
// config}} message runs as a one-step universal request, concurrently with the others on
// the socket, and is answered by its eventId: universal.created (with the response), or
// universal.created, universal.stream per event and universal.done for a stream, or
// universal.error. A bounded number of requests run at once per socket; the gateway
// pings the client and drops a socket that stops answering.
package server

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"errors"
	"io"
	"net"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/fasthttp/websocket"
	json "github.com/goccy/go-json"
	"github.com/switchyard/switchyard/engine"
	"github.com/switchyard/switchyard/engine/cache"
	"github.com/switchyard/switchyard/storage/config"
	"github.com/tidwall/gjson"
	"github.com/valyala/fasthttp"
)

// Socket defaults (Options.Socket* override them).
const (
	defaultSocketInFlight = 256
	defaultSocketPing     = 30 * time.Second
	socketMaxMessage      = 16 << 20
	socketWriteTimeout    = 10 * time.Second
)

// socketMessage is every message the gateway sends on the socket.
type socketMessage struct {
	Type     string          `json:"type"`
	Metadata *socketMeta     `json:"metadata,omitempty"`
	Response json.RawMessage `json:"response,omitempty"`
	Error    *socketError    `json:"error,omitempty"`
}

type socketMeta struct {
	CacheStatus string `json:"cacheStatus,omitempty"`
	EventID     string `json:"eventId,omitempty"`
	LogID       string `json:"logId,omitempty"`
	Step        string `json:"step,omitempty"`
	ContentType string `json:"contentType,omitempty"`
	Status      int    `json:"status,omitempty"` // on universal.error: the answer's HTTP status
}

type socketError struct {
	Code    int    `json:"code"`
	Message string `json:"message"`
}

// universalSocket upgrades the connection and serves universal.create messages on it.
func (s *Server) universalSocket(ctx *fasthttp.RequestCtx, g *config.Gateway) {
	retry, fail := requestRetry(gatewayHeader(ctx), g)
	if fail != nil {
		s.reject(ctx, fail)
		return
	}
	// the request-level cf-aig-* headers apply to every request on the socket
	client := map[string]string{}
	for k, v := range ctx.Request.Header.All() {
		if lk := strings.ToLower(string(k)); strings.HasPrefix(lk, "cf-aig-") && lk != "cf-aig-authorization" {
			client[lk] = string(v)
		}
	}
	up := websocket.FastHTTPUpgrader{CheckOrigin: allowOrigin}
	for _, p := range subprotocols(ctx) {
		if strings.HasPrefix(p, subprotocolToken) {
			up.Subprotocols = []string{p} // browsers fail a handshake that selects none
		}
	}
	sock := &socket{s: s, acct: g.AccountID, gw: g.ID, retry: retry,
		client: func(name string) string { return client[strings.ToLower(name)] }}
	if err := up.Upgrade(ctx, sock.serve); err != nil {
		s.opts.Logger.Debug("websocket upgrade refused", "err", err)
	}
}

// socket is one non-realtime WebSocket connection.
type socket struct {
	s        *Server
	acct, gw string
	retry    engine.RetrySettings
	client   func(string) string

	conn    *websocket.Conn
	closed  atomic.Bool // the client is gone: in-flight answers stop relaying
	writeMu sync.Mutex
	slots   chan struct{}
	running sync.WaitGroup
}

func (k *socket) serve(conn *websocket.Conn) {
	k.conn = conn
	inFlight, ping := k.s.opts.SocketInFlight, k.s.opts.SocketPing
	if inFlight <= 0 {
		inFlight = defaultSocketInFlight
	}
	if ping <= 0 {
		ping = defaultSocketPing
	}
	k.slots = make(chan struct{}, inFlight)
	conn.SetReadLimit(socketMaxMessage)
	alive := func() { _ = conn.SetReadDeadline(time.Now().Add(2 * ping)) }
	alive()
	conn.SetPongHandler(func(string) error { alive(); return nil })
	stop := make(chan struct{})
	go k.keepAlive(ping, stop)
	for {
		mt, data, err := conn.ReadMessage()
		if err != nil {
			break
		}
		alive()
		if mt != websocket.TextMessage {
			k.fail("", 400, engine.Errorf(400, engine.CodeBadRequest, "messages are JSON text frames"))
			continue
		}
		k.handle(data)
	}
	k.closed.Store(true)
	close(stop)
	k.running.Wait()
	_ = conn.Close()
}

// keepAlive pings the client every interval until stop.
func (k *socket) keepAlive(every time.Duration, stop chan struct{}) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case <-t.C:
			if err := k.conn.WriteControl(websocket.PingMessage, nil, time.Now().Add(socketWriteTimeout)); err != nil {
				return
			}
		}
	}
}

// handle starts one message's request, or answers why it cannot run.
func (k *socket) handle(data []byte) {
	if !gjson.ValidBytes(data) {
		k.fail("", 400, engine.Errorf(400, engine.CodeBadRequest, "the message is not valid JSON"))
		return
	}
	m := gjson.GetManyBytes(data, "type", "request", "request.eventId")
	eventID := m[2].String()
	switch {
	case m[0].String() != "universal.create":
		k.fail(eventID, 400, engine.Errorf(400, engine.CodeBadRequest, `unknown message type `+strconv.Quote(m[0].String())+`; send {"type":"universal.create","request":{...}}`))
		return
	case !m[1].IsObject():
		k.fail(eventID, 400, engine.Errorf(400, engine.CodeBadRequest, "universal.create needs a request object {eventId, provider, endpoint, headers, query}"))
		return
	}
	select {
	case k.slots <- struct{}{}:
	default:
		k.fail(eventID, 429, engine.Errorf(429, engine.CodeRateLimited, "too many requests in flight on this socket (at most "+strconv.Itoa(cap(k.slots))+"); wait for an answer and send again"))
		return
	}
	raw := []byte(m[1].Raw)
	k.running.Add(1)
	go func() {
		defer func() { <-k.slots; k.running.Done() }()
		k.run(eventID, raw)
	}()
}

// run builds the request from the message, dispatches it like any data-plane request
// (so it is logged, retried and evented the same way) and sends the answer.
func (k *socket) run(eventID string, raw []byte) {
	now := time.Now()
	logID, evID := newIDs(now)
	req := &engine.Request{LogID: logID, EventID: evID, AccountID: k.acct, GatewayID: k.gw,
		Method: fasthttp.MethodPost, Body: raw, BodySize: int64(len(raw)), CType: "application/json", ReceivedAt: now}
	snap := k.s.opts.Config.Projection().Current()
	g := snap.Gateway(k.acct, k.gw)
	if g == nil {
		k.fail(eventID, 404, engine.Errorf(404, engine.CodeGatewayNotFound, "gateway "+k.gw+" no longer exists"))
		return
	}
	fail := requestOptions(k.client, g, &req.Options)
	if fail == nil {
		fail = k.s.overSpend(g, now)
	}
	req.RateLimit = gatewayRateLimit(g)
	doc := readSteps(raw)
	var st universalStep
	if fail == nil {
		st, fail = doc.step("request", 0)
	}
	var t *engine.Target
	if fail == nil {
		t, fail = k.s.stepTarget(snap, g, req, "request", st, k.retry, k.client)
	}
	if fail != nil {
		req.Fail = fail
	} else {
		req.Steps = []*engine.Target{t}
		req.Target = *t
	}
	req.Body = doc.redacted(raw) // for the log: the step carries its own body
	if eventID == "" {
		eventID = req.EventID
	}
	req.DLP = k.s.dlpCheck(snap, g)
	req.DLP.CheckRequest(req)
	req.Guard = k.s.guardFor(snap, g, req)
	req.Guard.CheckPrompt(req)
	x := k.s.opts.Dispatcher.Dispatch(req)
	defer x.Done()
	req.DLP.CheckResponse(x)
	req.Guard.CheckResponse(x)
	meta := &socketMeta{CacheStatus: cacheStatus(x), EventID: eventID, LogID: req.LogID, Step: strconv.Itoa(x.Step), ContentType: x.RespCType}
	failed := x.Err != nil || x.Status >= 400
	sse := strings.HasPrefix(x.RespCType, "text/event-stream")
	if x.Streaming() && sse && !failed {
		k.send(&socketMessage{Type: "universal.created", Metadata: meta})
		w := &sseToSocket{k: k, eventID: eventID}
		x.RelayGuarded(bufioFor(w))
		w.flushTail()
		if x.Cut() { // the stream broke off upstream: an error, never a clean done
			k.send(&socketMessage{Type: "universal.error", Metadata: meta, Error: &socketError{Code: x.Err.Code, Message: x.Err.Message}})
			return
		}
		k.send(&socketMessage{Type: "universal.done", Metadata: meta})
		return
	}
	body := x.Body
	if x.Streaming() { // a large answer that is not an event stream: one message, bounded
		buf := &cappedBuffer{max: socketMaxMessage}
		x.Relay(bufioFor(buf))
		body = buf.b
		failed = failed || x.Cut()
	}
	if failed {
		meta.Status = x.Status
		msg := &socketMessage{Type: "universal.error", Metadata: meta}
		if x.Err != nil {
			msg.Error = &socketError{Code: x.Err.Code, Message: x.Err.Message}
		} else {
			msg.Response = asJSON(body)
		}
		k.send(msg)
		return
	}
	k.send(&socketMessage{Type: "universal.created", Metadata: meta, Response: asJSON(body)})
}

// fail answers a message that did not become a request.
func (k *socket) fail(eventID string, status int, e *engine.GatewayError) {
	var meta *socketMeta
	if eventID != "" || status != 0 {
		meta = &socketMeta{EventID: eventID, Status: status}
	}
	k.send(&socketMessage{Type: "universal.error", Metadata: meta, Error: &socketError{Code: e.Code, Message: e.Message}})
}

// send writes one message; writers take turns. It reports false once the client is gone.
func (k *socket) send(m *socketMessage) bool {
	if k.closed.Load() {
		return false
	}
	b, err := json.Marshal(m)
	if err != nil {
		k.s.opts.Logger.Error("encode socket message", "err", err)
		return true
	}
	k.writeMu.Lock()
	defer k.writeMu.Unlock()
	_ = k.conn.SetWriteDeadline(time.Now().Add(socketWriteTimeout))
	if err := k.conn.WriteMessage(websocket.TextMessage, b); err != nil {
		k.closed.Store(true)
		_ = k.conn.Close() // the reader stops; in-flight requests stop relaying and are logged
		return false
	}
	return true
}

// asJSON keeps a JSON body as it is and wraps anything else in a JSON string: text as
// is, binary (audio, images) in base64.
func asJSON(b []byte) json.RawMessage {
	if len(bytes.TrimSpace(b)) == 0 {
		return nil
	}
	if json.Valid(b) {
		return b
	}
	s := string(b)
	if !utf8.Valid(b) {
		s = base64.StdEncoding.EncodeToString(b)
	}
	q, _ := json.Marshal(s)
	return q
}

// cappedBuffer keeps at most max bytes and then refuses more, which stops the relay.
type cappedBuffer struct {
	b   []byte
	max int
}

func (c *cappedBuffer) Write(p []byte) (int, error) {
	if len(c.b)+len(p) > c.max {
		return 0, errors.New("the answer is larger than a socket message may be")
	}
	c.b = append(c.b, p...)
	return len(p), nil
}

// sseToSocket turns a relayed event stream into universal.stream messages, one per
// event, carrying the event's data (JSON as is; [DONE] is left to universal.done).
type sseToSocket struct {
	k       *socket
	eventID string
	pending []byte
}

func (w *sseToSocket) Write(p []byte) (int, error) {
	w.pending = append(w.pending, p...)
	for {
		end, skip := eventEnd(w.pending)
		if end < 0 {
			break
		}
		if !w.emit(w.pending[:end]) {
			return 0, net.ErrClosed // Relay stops reading the upstream and logs the client gone
		}
		w.pending = w.pending[end+skip:]
	}
	return len(p), nil
}

// flushTail sends an event the stream ended without a blank line after.
func (w *sseToSocket) flushTail() {
	if len(bytes.TrimSpace(w.pending)) > 0 {
		w.emit(w.pending)
	}
	w.pending = nil
}

// eventEnd finds the blank line that ends the first event: its index and length.
func eventEnd(b []byte) (int, int) {
	if i := bytes.Index(b, []byte("\n\n")); i >= 0 {
		if j := bytes.Index(b, []byte("\r\n\r\n")); j >= 0 && j < i {
			return j, 4
		}
		return i, 2
	}
	if j := bytes.Index(b, []byte("\r\n\r\n")); j >= 0 {
		return j, 4
	}
	return -1, 0
}

func (w *sseToSocket) emit(event []byte) bool {
	var data [][]byte
	for _, line := range bytes.Split(event, []byte("\n")) {
		line = bytes.TrimRight(line, "\r")
		if v, ok := bytes.CutPrefix(line, []byte("data:")); ok {
			data = append(data, bytes.TrimPrefix(v, []byte(" ")))
		}
	}
	if len(data) == 0 {
		return true
	}
	payload := bytes.Join(data, []byte("\n"))
	if string(payload) == "[DONE]" {
		return true
	}
	return w.k.send(&socketMessage{Type: "universal.stream", Metadata: &socketMeta{EventID: w.eventID}, Response: asJSON(payload)})
}

// bufioFor is the buffered writer Exchange.Relay writes through (it flushes every read).
func bufioFor(w io.Writer) *bufio.Writer { return bufio.NewWriterSize(w, 4096) }

// cacheStatus is the socket answer's cacheStatus: HIT for a cached answer, else MISS.
func cacheStatus(x *engine.Exchange) string {
	if x.Cached {
		return cache.Hit
	}
	return cache.Miss
}
