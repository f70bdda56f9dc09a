// realtime.go proxies a realtime WebSocket session to the provider: it maps the gateway
// URL onto the provider's WebSocket URL (engine/providers/realtime.go), gathers the
// provider credentials (client headers, Sec-WebSocket-Protocol entries, or a stored key),
// dials the provider before answering the client — so a failed dial is still a JSON
// error — then upgrades the client and relays messages both ways, text and binary kept,
// close frames forwarded with their code and reason, pings and pongs forwarded. Its start
// and end (duration, messages and bytes each way, close code, who closed) are events.
package server

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/fasthttp/websocket"
	"github.com/oklog/ulid/v2"
	"github.com/switchyard/switchyard/engine"
	"github.com/switchyard/switchyard/engine/providers"
	"github.com/switchyard/switchyard/engine/upstream"
	"github.com/switchyard/switchyard/events"
	"github.com/switchyard/switchyard/storage/config"
	"github.com/valyala/fasthttp"
)

const (
	// realtimeHandshake bounds the provider's connect, TLS and upgrade.
	realtimeHandshake = 20 * time.Second
	// realtimeWriteWait bounds each write to either side.
	realtimeWriteWait = 10 * time.Second
)

// Session limits, variables so tests can shorten them. realtimeMaxMessage is the largest
// message relayed either way; a larger one ends the session with close code 1009. The
// gateway pings both sides every realtimePing; a side from which nothing (message, ping,
// pong) arrives for realtimeIdle is dead and the session ends. After one side has closed,
// the other gets realtimeCloseWait to finish the closing handshake before it is cut.
var (
	realtimeMaxMessage int64 = 16 << 20
	realtimePing             = 30 * time.Second
	realtimeIdle             = 90 * time.Second
	realtimeCloseWait        = 5 * time.Second
)

// Sec-WebSocket-Protocol entries that carry provider keys for providers whose APIs take
// them in a header: the gateway turns them into that header and never sends them on.
const (
	subprotocolXIKey  = "xi-api-key."  // ElevenLabs: xi-api-key: <key>
	subprotocolFalKey = "fal-api-key." // fal: Authorization: Key <key>
)

// Who ended a session, as RealtimeEnded.ClosedBy says it.
const (
	byClient   = "client"
	byProvider = "provider"
	byGateway  = "gateway"
)

// realtime serves an upgrade on /v1/{account}/{gateway}/{slug}{rest}: everything that can
// be refused is refused before the provider is dialled, and the client is upgraded only
// once the provider has accepted.
func (s *Server) realtime(ctx *fasthttp.RequestCtx, snap *config.Snapshot, g *config.Gateway, slug, rest string) {
	now := time.Now()
	if fail := checkHandshake(ctx); fail != nil {
		s.reject(ctx, fail)
		return
	}
	p, fail := s.resolveProvider(snap, g.AccountID, providers.RealtimeSlug(slug))
	if fail != nil {
		s.reject(ctx, fail)
		return
	}
	tgt, err := p.RealtimeURL(g.AccountID, rest, string(ctx.URI().QueryString()))
	switch {
	case errors.Is(err, providers.ErrNoRealtime):
		s.reject(ctx, engine.Errorf(400, engine.CodeUnknownProvider, "provider "+p.Slug+" has no realtime WebSocket API; realtime providers: "+
			strings.Join(providers.RealtimeSlugs(), ", ")+", custom-{slug}"))
		return
	case err != nil:
		s.reject(ctx, engine.Errorf(400, engine.CodeBadRequest, "the path or query after /"+p.Slug+" does not match the provider's realtime WebSocket URL"))
		return
	}
	hs := realtimeCredentials(ctx, p)
	var keyID string
	alias := string(ctx.Request.Header.Peek("cf-aig-byok-alias"))
	if alias != "" || !hs.clientKey && !tgt.KeyInQuery {
		k, id, fail := s.realtimeKey(snap, g, p.Slug, alias, now)
		if fail != nil {
			s.reject(ctx, fail)
			return
		}
		if k != nil {
			name, value, ok := p.Credential(k.Secret())
			if !ok {
				s.reject(ctx, engine.Errorf(400, engine.CodeStoredKey, "provider "+p.Slug+" signs each request and cannot use a stored key"))
				return
			}
			hs.header.Set(name, value)
			keyID = id
		}
	}

	dialer := websocket.Dialer{
		NetDialContext:   upstream.Dialer(realtimeHandshake).DialContext,
		HandshakeTimeout: realtimeHandshake,
		Subprotocols:     hs.subprotocols,
		ReadBufferSize:   16 << 10,
		WriteBufferSize:  16 << 10,
	}
	provider, resp, err := dialer.DialContext(context.Background(), tgt.URL, hs.header)
	if err != nil {
		s.refuseRealtime(ctx, p.Slug, tgt.URL, resp, err)
		return
	}

	sess := &realtimeSession{
		s:        s,
		provider: provider,
		started: events.RealtimeStarted{
			SessionID: ulid.Make().String(), AccountID: g.AccountID, GatewayID: g.ID,
			Provider: p.Slug, Path: sessionPath(slug, rest), Model: tgt.Model, KeyID: keyID,
		},
	}
	sess.keepalive = "switchyard-keepalive." + sess.started.SessionID
	up := websocket.FastHTTPUpgrader{
		CheckOrigin: allowOrigin, // other origins need a gateway token

		Error: func(ctx *fasthttp.RequestCtx, status int, reason error) {
			s.reject(ctx, engine.Errorf(status, engine.CodeBadRequest, reason.Error()))
		},
	}
	if sp := hs.answer(provider.Subprotocol()); sp != "" {
		up.Subprotocols = []string{sp}
	}
	h := &ctx.Response.Header
	setIDs(ctx, sess.started.SessionID, ulid.Make().String(), 0)
	h.Set("cf-aig-provider", p.Slug)
	if tgt.Model != "" {
		h.Set("cf-aig-model", tgt.Model)
	}
	shutdown := shutdownSignal(ctx)
	err = up.Upgrade(ctx, func(client *websocket.Conn) { sess.run(client, shutdown) })
	if err != nil {
		provider.Close()
		return
	}
	sess.begin()
}

// shutdownSignal is closed when the server starts shutting down. It is read here, on the
// connection's worker, because the server clears it once its workers are done; a request
// served without a fasthttp.Server (unit tests) has none, and nil never fires.
func shutdownSignal(ctx *fasthttp.RequestCtx) (done <-chan struct{}) {
	defer func() { _ = recover() }()
	return ctx.Done()
}

// sessionPath is the gateway path after /v1/{account}/{gateway}, for the events; never
// the query, which may hold a provider key.
func sessionPath(slug, rest string) string {
	if rest == "/" {
		return "/" + slug
	}
	return "/" + slug + rest
}

// realtimeKey finds the gateway's stored key for a session's provider: the one call to
// storedKey from here. It returns the key and its id.
func (s *Server) realtimeKey(snap *config.Snapshot, g *config.Gateway, slug, alias string, at time.Time) (*config.ProviderKey, string, *engine.GatewayError) {
	req := &engine.Request{AccountID: g.AccountID, GatewayID: g.ID, ReceivedAt: at}
	t := &engine.Target{Slug: slug}
	k, fail := s.storedKey(snap, req, t, slug, alias)
	return k, t.KeyID, fail
}

// checkHandshake refuses, before the provider is dialled, an upgrade the client side
// could not complete.
func checkHandshake(ctx *fasthttp.RequestCtx) *engine.GatewayError {
	switch {
	case !ctx.IsGet():
		return engine.Errorf(405, engine.CodeBadRequest, "a WebSocket upgrade must be a GET request")
	case len(ctx.Request.Header.Peek("Sec-WebSocket-Key")) == 0:
		return engine.Errorf(400, engine.CodeBadRequest, "not a WebSocket handshake: Sec-WebSocket-Key is missing")
	case !strings.Contains(string(ctx.Request.Header.Peek("Sec-WebSocket-Version")), "13"):
		return engine.Errorf(400, engine.CodeBadRequest, "unsupported WebSocket version: Sec-WebSocket-Version must be 13")
	}
	return nil
}

// handshake is what the provider's upgrade request carries from the client's.
type handshake struct {
	header       http.Header
	subprotocols []string // entries passed on to the provider
	gatewayEntry string   // the client's cf-aig-authorization.<token> entry, if any
	keyEntry     string   // the first entry the gateway turned into a header, if any
	clientKey    bool     // the client brought its own provider key
}

// realtimeCredentials builds the provider's upgrade headers and subprotocols: the client's
// headers but the hop-by-hop, cf-aig-*, Sec-WebSocket-* and Origin ones; xi-api-key.<k>
// (ElevenLabs) and fal-api-key.<k> (fal) entries as the provider's key header; every
// other entry passed on (OpenAI's realtime, openai-insecure-api-key.*, openai-beta.*),
// except the cf-aig-authorization.* entry, which is the gateway's.
func realtimeCredentials(ctx *fasthttp.RequestCtx, p *providers.Resolved) *handshake {
	hs := &handshake{header: http.Header{}}
	for k, v := range ctx.Request.Header.All() {
		lk := strings.ToLower(string(k))
		if engine.ForwardRequestHeader(lk) && !strings.HasPrefix(lk, "sec-websocket-") && lk != "origin" {
			hs.header.Add(string(k), string(v))
		}
	}
	for _, e := range subprotocols(ctx) {
		switch {
		case strings.HasPrefix(e, subprotocolToken):
			if hs.gatewayEntry == "" {
				hs.gatewayEntry = e
			}
		case strings.HasPrefix(e, subprotocolXIKey):
			if p.Slug == "elevenlabs" {
				hs.header.Set("xi-api-key", e[len(subprotocolXIKey):])
			}
			if hs.keyEntry == "" {
				hs.keyEntry = e
			}
		case strings.HasPrefix(e, subprotocolFalKey):
			if p.Slug == "fal" {
				hs.header.Set("Authorization", "Key "+e[len(subprotocolFalKey):])
			}
			if hs.keyEntry == "" {
				hs.keyEntry = e
			}
		default:
			hs.subprotocols = append(hs.subprotocols, e)
			if p.RealtimeKeyProtocol(e) {
				hs.clientKey = true
			}
		}
	}
	if p.AuthHeader != "" && hs.header.Get(p.AuthHeader) != "" {
		hs.clientKey = true
	}
	return hs
}

// answer is the subprotocol the gateway answers the client with: the one the provider
// chose when the client offered it, else the client's gateway-token entry, else the
// first key entry the gateway consumed. A browser that offered entries fails a handshake
// answered with none of them.
func (hs *handshake) answer(chosen string) string {
	if chosen != "" {
		for _, e := range hs.subprotocols {
			if e == chosen {
				return chosen
			}
		}
	}
	if hs.gatewayEntry != "" {
		return hs.gatewayEntry
	}
	return hs.keyEntry
}

// refuseRealtime answers a failed provider dial: the provider's own refusal (status and
// body, as any upstream error) when it answered the upgrade with an HTTP error, else 502.
// Neither the URL (whose query may hold a key) nor the headers reach the log or the client.
func (s *Server) refuseRealtime(ctx *fasthttp.RequestCtx, slug, rawURL string, resp *http.Response, err error) {
	if resp != nil && resp.StatusCode >= 400 {
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
		h := &ctx.Response.Header
		setIDs(ctx, ulid.Make().String(), ulid.Make().String(), 0)
		h.Set("cf-aig-provider", slug)
		if ct := resp.Header.Get("Content-Type"); ct != "" {
			h.SetContentType(ct)
		}
		ctx.SetStatusCode(resp.StatusCode)
		ctx.SetBody(body)
		return
	}
	host := ""
	if u, perr := url.Parse(rawURL); perr == nil {
		host = u.Host
	}
	s.opts.Logger.Warn("realtime upstream dial failed", "provider", slug, "host", host, "err", err)
	msg := "upstream " + slug + " realtime WebSocket could not be reached"
	if resp != nil {
		msg = "upstream " + slug + " did not accept the WebSocket upgrade"
	}
	s.reject(ctx, engine.Errorf(502, engine.CodeUpstreamFailed, msg))
}

// realtimeSession is one proxied session: the client and provider connections and what
// crossed them.
type realtimeSession struct {
	s                *Server
	client, provider *websocket.Conn
	started          events.RealtimeStarted
	start            time.Time
	keepalive        string // payload of the gateway's own pings, whose pongs are not relayed
	// claimed is taken by run or, when the connection never reaches run, by the watchdog.
	claimed  atomic.Bool
	watchdog *time.Timer

	framesIn, bytesIn, framesOut, bytesOut atomic.Int64

	mu        sync.Mutex
	closedBy  string
	closeCode int
	errMsg    string
}

// begin records the session's start. It runs on the connection's worker, before the
// 101 is written and the connection handed to run: a graceful shutdown, which waits for
// workers and then for open sessions, cannot miss a session being set up. If the 101
// cannot be written the server never calls run, so a watchdog then closes the provider
// and records the end.
func (rs *realtimeSession) begin() {
	rs.start = time.Now()
	rs.started.StartedAt = rs.start.UTC()
	if rec := rs.s.opts.Sessions; rec != nil {
		rec.SessionStarted(rs.started)
	}
	rs.watchdog = time.AfterFunc(realtimeHandshake, func() {
		if rs.claimed.CompareAndSwap(false, true) {
			rs.provider.Close()
			rs.end(byClient, websocket.CloseAbnormalClosure, "the client connection failed before the session began")
			rs.finish()
		}
	})
}

// run relays the session until both sides are done, then records its end. It runs on
// the hijacked connection's goroutine; shutdown is closed when the server stops.
func (rs *realtimeSession) run(client *websocket.Conn, shutdown <-chan struct{}) {
	if !rs.claimed.CompareAndSwap(false, true) {
		return // the watchdog gave up on this session
	}
	rs.watchdog.Stop()
	rs.client = client
	rs.wire(client, rs.provider, byClient)
	rs.wire(rs.provider, client, byProvider)
	pumps := make(chan struct{}, 2)
	go func() { rs.pump(client, rs.provider, byClient); pumps <- struct{}{} }()
	go func() { rs.pump(rs.provider, client, byProvider); pumps <- struct{}{} }()
	stopPing := make(chan struct{})
	go rs.ping(realtimePing, stopPing)

	pending := 2
	select {
	case <-pumps:
		pending--
	case <-shutdown:
		rs.end(byGateway, websocket.CloseGoingAway, "the gateway is shutting down")
		closeWith(client, websocket.CloseGoingAway, "gateway shutting down")
		closeWith(rs.provider, websocket.CloseGoingAway, "gateway shutting down")
	}
	cut := time.NewTimer(realtimeCloseWait)
	for pending > 0 {
		select {
		case <-pumps:
			pending--
		case <-cut.C:
			// The closing handshake did not finish: closing the sockets ends the reads.
			client.NetConn().Close()
			rs.provider.NetConn().Close()
		}
	}
	cut.Stop()
	close(stopPing)
	client.Close()
	rs.provider.Close()
	rs.finish()
}

// finish records the session's end, once both sides are closed.
func (rs *realtimeSession) finish() {
	end := time.Now()
	rs.mu.Lock()
	ev := events.RealtimeEnded{
		SessionID: rs.started.SessionID, AccountID: rs.started.AccountID, GatewayID: rs.started.GatewayID,
		Provider: rs.started.Provider, StartedAt: rs.started.StartedAt, EndedAt: end.UTC(),
		DurationMs: engine.Millis(end.Sub(rs.start)),
		FramesIn:   rs.framesIn.Load(), FramesOut: rs.framesOut.Load(),
		BytesIn: rs.bytesIn.Load(), BytesOut: rs.bytesOut.Load(),
		CloseCode: rs.closeCode, ClosedBy: rs.closedBy, ErrorMessage: rs.errMsg,
	}
	rs.mu.Unlock()
	if ev.ClosedBy == "" {
		ev.ClosedBy = byGateway
	}
	if rec := rs.s.opts.Sessions; rec != nil {
		rec.SessionEnded(ev)
	}
}

// end records why the session ended; the first call wins.
func (rs *realtimeSession) end(by string, code int, msg string) {
	rs.mu.Lock()
	if rs.closedBy == "" {
		rs.closedBy, rs.closeCode, rs.errMsg = by, code, msg
	}
	rs.mu.Unlock()
}

// wire sets the limits and control-frame handlers of src, whose peer across the gateway
// is dst: anything from src keeps it alive; pings and pongs go on to dst (pongs to the
// gateway's own pings excepted); a close frame is recorded, sent on to dst with its code
// and reason, and answered.
func (rs *realtimeSession) wire(src, dst *websocket.Conn, side string) {
	src.SetReadLimit(realtimeMaxMessage)
	alive := func() { _ = src.SetReadDeadline(time.Now().Add(realtimeIdle)) }
	src.SetPingHandler(func(data string) error {
		alive()
		_ = dst.WriteControl(websocket.PingMessage, []byte(data), time.Now().Add(realtimeWriteWait))
		return nil
	})
	src.SetPongHandler(func(data string) error {
		alive()
		if data != rs.keepalive {
			_ = dst.WriteControl(websocket.PongMessage, []byte(data), time.Now().Add(realtimeWriteWait))
		}
		return nil
	})
	src.SetCloseHandler(func(code int, text string) error {
		rs.end(side, code, "")
		deadline := time.Now().Add(realtimeWriteWait)
		_ = dst.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(code, text), deadline)
		_ = src.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(code, ""), deadline)
		return nil
	})
}

// pump relays messages from src to dst until either fails or closes. side names src.
func (rs *realtimeSession) pump(src, dst *websocket.Conn, side string) {
	frames, bytes := &rs.framesIn, &rs.bytesIn
	if side == byProvider {
		frames, bytes = &rs.framesOut, &rs.bytesOut
	}
	for {
		_ = src.SetReadDeadline(time.Now().Add(realtimeIdle))
		mt, r, err := src.NextReader()
		if err != nil {
			rs.readFailed(src, dst, side, err)
			return
		}
		_ = dst.SetWriteDeadline(time.Now().Add(realtimeWriteWait))
		w, err := dst.NextWriter(mt)
		if err != nil {
			rs.writeFailed(src, side, err)
			return
		}
		mr := &messageReader{r: r, src: src, dst: dst}
		n, err := io.Copy(w, mr)
		if mr.err != nil {
			// Not closing w: the partial message is never finished, so dst never gets it.
			rs.readFailed(src, dst, side, mr.err)
			return
		}
		if err == nil {
			err = w.Close()
		}
		if err != nil {
			rs.writeFailed(src, side, err)
			return
		}
		frames.Add(1)
		bytes.Add(n)
	}
}

// readFailed ends the session after reading from src (side) failed, and tells dst.
func (rs *realtimeSession) readFailed(src, dst *websocket.Conn, side string, err error) {
	var ce *websocket.CloseError
	var ne net.Error
	switch {
	case errors.As(err, &ce) && ce.Code != websocket.CloseAbnormalClosure:
		// src closed: its close handler already recorded it and told dst. (1006 is how the
		// websocket library reports a connection that ended without a close frame.)
	case errors.Is(err, websocket.ErrReadLimit):
		// src was already sent 1009 by the websocket library.
		rs.end(byGateway, websocket.CloseMessageTooBig, side+" sent a message over the "+strconv.FormatInt(realtimeMaxMessage, 10)+" byte limit")
		closeWith(dst, websocket.CloseMessageTooBig, "message too big")
	case errors.As(err, &ne) && ne.Timeout():
		rs.end(byGateway, websocket.CloseGoingAway, side+" was silent for "+realtimeIdle.String())
		closeWith(src, websocket.CloseGoingAway, "idle timeout")
		closeWith(dst, websocket.CloseGoingAway, "idle timeout")
	default:
		// The connection dropped without a close frame (or broke the protocol).
		msg := ""
		if !errors.Is(err, io.EOF) && !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, net.ErrClosed) {
			msg = side + " connection failed: " + err.Error()
		}
		rs.end(side, websocket.CloseAbnormalClosure, msg)
		if side == byClient {
			closeWith(dst, websocket.CloseGoingAway, "client went away")
		} else {
			closeWith(dst, websocket.CloseInternalServerErr, "provider connection lost")
		}
	}
}

// writeFailed ends the session after writing to the peer of src (side) failed: that peer
// is gone, and src is told so.
func (rs *realtimeSession) writeFailed(src *websocket.Conn, side string, err error) {
	peer, code, text := byProvider, websocket.CloseInternalServerErr, "provider connection lost"
	if side == byProvider {
		peer, code, text = byClient, websocket.CloseGoingAway, "client went away"
	}
	msg := ""
	if !errors.Is(err, websocket.ErrCloseSent) && !errors.Is(err, net.ErrClosed) {
		msg = peer + " connection failed: " + err.Error()
	}
	rs.end(peer, websocket.CloseAbnormalClosure, msg)
	closeWith(src, code, text)
}

// ping sends the gateway's keepalive ping to both sides every interval until stop is
// closed, so a quiet but live side answers with a pong and a dead one runs into its read
// deadline.
func (rs *realtimeSession) ping(every time.Duration, stop <-chan struct{}) {
	t := time.NewTicker(every)
	defer t.Stop()
	payload := []byte(rs.keepalive)
	for {
		select {
		case <-stop:
			return
		case <-t.C:
			deadline := time.Now().Add(realtimeWriteWait)
			_ = rs.client.WriteControl(websocket.PingMessage, payload, deadline)
			_ = rs.provider.WriteControl(websocket.PingMessage, payload, deadline)
		}
	}
}

// closeWith sends a close frame, best effort (the connection may already be gone or closing).
func closeWith(c *websocket.Conn, code int, text string) {
	_ = c.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(code, text), time.Now().Add(realtimeWriteWait))
}

// messageReader reads one message from src for dst, moving src's read deadline and
// dst's write deadline forward as data arrives (a large message may take longer than
// either limit as a whole), and keeping a read error apart from a write error.
type messageReader struct {
	r        io.Reader
	src, dst *websocket.Conn
	err      error
}

func (m *messageReader) Read(p []byte) (int, error) {
	_ = m.src.SetReadDeadline(time.Now().Add(realtimeIdle))
	n, err := m.r.Read(p)
	if n > 0 {
		_ = m.dst.SetWriteDeadline(time.Now().Add(realtimeWriteWait))
	}
	if err != nil && err != io.EOF {
		m.err = err
	}
	return n, err
}
