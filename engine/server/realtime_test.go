// realtime_test.go runs realtime sessions through a real listening front end to an
// echoing WebSocket upstream: messages both ways byte for byte, credentials from headers,
// subprotocols and stored keys, close codes in both directions, pings, the idle and size
// limits, refusals before the upgrade, and the session events.
package server

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fasthttp/websocket"
	"github.com/switchyard/switchyard/engine/providers"
	"github.com/switchyard/switchyard/events"
)

// sessionRecorder is an engine.SessionRecorder that keeps what it is given.
type sessionRecorder struct {
	mu      sync.Mutex
	started []events.RealtimeStarted
	ended   chan events.RealtimeEnded
}

func (r *sessionRecorder) SessionStarted(e events.RealtimeStarted) {
	r.mu.Lock()
	r.started = append(r.started, e)
	r.mu.Unlock()
}
func (r *sessionRecorder) SessionEnded(e events.RealtimeEnded) { r.ended <- e }

func (r *sessionRecorder) waitEnded(t *testing.T) events.RealtimeEnded {
	t.Helper()
	select {
	case e := <-r.ended:
		return e
	case <-time.After(10 * time.Second):
		t.Fatal("no realtime.ended")
		return events.RealtimeEnded{}
	}
}

// echoUpstream is a provider's realtime endpoint: it echoes messages, records each
// upgrade, selects "realtime" when offered, closes on "close:<code>:<reason>", and
// refuses upgrades with refuse when set.
type echoUpstream struct {
	*httptest.Server
	mu     sync.Mutex
	seen   []*http.Request
	closes chan websocket.CloseError
	refuse int
}

func newEchoUpstream(t *testing.T) *echoUpstream {
	u := &echoUpstream{closes: make(chan websocket.CloseError, 8)}
	up := websocket.Upgrader{Subprotocols: []string{"realtime"}}
	u.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u.mu.Lock()
		u.seen = append(u.seen, r.Clone(context.Background()))
		refuse := u.refuse
		u.mu.Unlock()
		if refuse != 0 {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(refuse)
			io.WriteString(w, `{"error":{"message":"Incorrect API key provided"}}`)
			return
		}
		c, err := up.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		defer c.Close()
		c.SetCloseHandler(func(code int, text string) error {
			u.closes <- websocket.CloseError{Code: code, Text: text}
			return c.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(code, ""), time.Now().Add(time.Second))
		})
		for {
			mt, data, err := c.ReadMessage()
			if err != nil {
				return
			}
			if s, ok := strings.CutPrefix(string(data), "close:"); ok {
				code, reason, _ := strings.Cut(s, ":")
				n, _ := strconv.Atoi(code)
				c.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(n, reason), time.Now().Add(time.Second))
				c.ReadMessage() // the close reply
				return
			}
			if err := c.WriteMessage(mt, data); err != nil {
				return
			}
		}
	}))
	t.Cleanup(u.Close)
	return u
}

func (u *echoUpstream) last(t *testing.T) *http.Request {
	t.Helper()
	u.mu.Lock()
	defer u.mu.Unlock()
	if len(u.seen) == 0 {
		t.Fatal("the upstream got no upgrade")
	}
	return u.seen[len(u.seen)-1]
}

// realtimeGateway serves the front end on a loopback port with every provider pointed at up.
func realtimeGateway(t *testing.T, up *echoUpstream) (string, *sessionRecorder, *fixture) {
	t.Helper()
	f := newFixture(t)
	rec := &sessionRecorder{ended: make(chan events.RealtimeEnded, 8)}
	f.s = New(Options{Dispatcher: f.d, Sessions: rec, Config: f.cfg, AdminToken: adminTok,
		Providers: providers.NewTable(func(string) string { return up.URL })})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go f.s.Serve(ln)
	t.Cleanup(func() { f.s.srv.Shutdown() })
	return "ws://" + ln.Addr().String(), rec, f
}

func dial(t *testing.T, url string, hdr http.Header, protocols ...string) (*websocket.Conn, *http.Response, error) {
	t.Helper()
	d := websocket.Dialer{Subprotocols: protocols, HandshakeTimeout: 10 * time.Second}
	return d.Dial(url, hdr)
}

func TestRealtimeRelay(t *testing.T) {
	up := newEchoUpstream(t)
	gw, rec, _ := realtimeGateway(t, up)
	hdr := http.Header{"Authorization": {"Bearer sk-client"}, "Openai-Beta": {"realtime=v1"}, "Cf-Aig-Authorization": {"Bearer gw-token"}}
	c, resp, err := dial(t, gw+"/v1/acc/gw/openai?model=gpt-4o-realtime-preview", hdr)
	if err != nil {
		t.Fatal(err)
	}
	if resp.Header.Get("Sec-WebSocket-Protocol") != "" || resp.Header.Get("cf-aig-log-id") == "" || resp.Header.Get("cf-aig-provider") != "openai" {
		t.Fatalf("101 headers: %v", resp.Header)
	}
	seen := up.last(t)
	if seen.URL.Path != "/realtime" || seen.URL.RawQuery != "model=gpt-4o-realtime-preview" ||
		seen.Header.Get("Authorization") != "Bearer sk-client" || seen.Header.Get("OpenAI-Beta") != "realtime=v1" || seen.Header.Get("cf-aig-authorization") != "" {
		t.Fatalf("upstream got %s?%s %v", seen.URL.Path, seen.URL.RawQuery, seen.Header)
	}
	text := []byte(`{"type":"response.create","response":{"modalities":["text"]}}`)
	bin := make([]byte, 70000) // several frames
	for i := range bin {
		bin[i] = byte(i * 7)
	}
	for _, m := range []struct {
		mt   int
		data []byte
	}{{websocket.TextMessage, text}, {websocket.BinaryMessage, bin}} {
		if err := c.WriteMessage(m.mt, m.data); err != nil {
			t.Fatal(err)
		}
		mt, got, err := c.ReadMessage()
		if err != nil || mt != m.mt || !bytes.Equal(got, m.data) {
			t.Fatalf("echo: type %d (want %d), %d bytes (want %d), err %v", mt, m.mt, len(got), len(m.data), err)
		}
	}
	// A ping goes through to the provider and its pong comes back.
	pong := make(chan string, 1)
	c.SetPongHandler(func(s string) error { pong <- s; return nil })
	if err := c.WriteControl(websocket.PingMessage, []byte("are-you-there"), time.Now().Add(time.Second)); err != nil {
		t.Fatal(err)
	}
	go c.ReadMessage() // runs the pong handler, then the close reply
	select {
	case s := <-pong:
		if s != "are-you-there" {
			t.Fatalf("pong %q", s)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no pong")
	}
	if err := c.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(4000, "bye"), time.Now().Add(time.Second)); err != nil {
		t.Fatal(err)
	}
	select {
	case ce := <-up.closes:
		if ce.Code != 4000 || ce.Text != "bye" {
			t.Fatalf("upstream got close %d %q", ce.Code, ce.Text)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the close did not reach the upstream")
	}
	ev := rec.waitEnded(t)
	c.Close()
	rec.mu.Lock()
	st := rec.started[0]
	rec.mu.Unlock()
	if st.SessionID != ev.SessionID || st.AccountID != "acc" || st.GatewayID != "gw" || st.Provider != "openai" || st.Path != "/openai" ||
		st.Model != "gpt-4o-realtime-preview" || st.KeyID != "" || resp.Header.Get("cf-aig-log-id") != st.SessionID {
		t.Fatalf("started %+v", st)
	}
	n := int64(len(text) + len(bin))
	if ev.FramesIn != 2 || ev.FramesOut != 2 || ev.BytesIn != n || ev.BytesOut != n || ev.CloseCode != 4000 || ev.ClosedBy != "client" ||
		ev.DurationMs <= 0 || ev.EndedAt.Before(ev.StartedAt) {
		t.Fatalf("ended %+v", ev)
	}
}

func TestRealtimeProviderCloses(t *testing.T) {
	up := newEchoUpstream(t)
	gw, rec, _ := realtimeGateway(t, up)
	c, _, err := dial(t, gw+"/v1/acc/gw/cartesia?cartesia_version=2024-06-10&api_key=sk_car", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if seen := up.last(t); seen.URL.Path != "/tts/websocket" || seen.URL.RawQuery != "cartesia_version=2024-06-10&api_key=sk_car" || seen.Header.Get("X-API-Key") != "" {
		t.Fatalf("upstream got %s?%s %v", seen.URL.Path, seen.URL.RawQuery, seen.Header)
	}
	c.WriteMessage(websocket.TextMessage, []byte("close:4001:context done"))
	_, _, err = c.ReadMessage()
	var ce *websocket.CloseError
	if !errors.As(err, &ce) || ce.Code != 4001 || ce.Text != "context done" {
		t.Fatalf("client got %v", err)
	}
	ev := rec.waitEnded(t)
	if ev.ClosedBy != "provider" || ev.CloseCode != 4001 || ev.FramesIn != 1 || ev.FramesOut != 0 {
		t.Fatalf("ended %+v", ev)
	}
}

func TestRealtimeSubprotocols(t *testing.T) {
	up := newEchoUpstream(t)
	gw, rec, f := realtimeGateway(t, up)
	// ElevenLabs: the key entry becomes the xi-api-key header; the gateway-token entry is
	// answered (browsers need one) and neither goes upstream.
	c, resp, err := dial(t, gw+"/v1/acc/gw/elevenlabs?agent_id=agent_1", nil, "xi-api-key.xi-secret", "cf-aig-authorization."+f.tokens["run"])
	if err != nil {
		t.Fatal(err)
	}
	seen := up.last(t)
	if seen.URL.Path != "/v1/convai/conversation" || seen.Header.Get("xi-api-key") != "xi-secret" || seen.Header.Get("Sec-WebSocket-Protocol") != "" {
		t.Fatalf("upstream got %s %v", seen.URL.Path, seen.Header)
	}
	if got := resp.Header.Get("Sec-WebSocket-Protocol"); got != "cf-aig-authorization."+f.tokens["run"] || c.Subprotocol() != got {
		t.Fatalf("answered subprotocol %q", got)
	}
	c.Close()
	rec.waitEnded(t)

	// OpenAI's own entries go upstream; the one it selects is answered. Its key entry
	// counts as the client's key: no stored key is added.
	c, resp, err = dial(t, gw+"/v1/acc/gw/openai?model=m", nil, "realtime", "openai-insecure-api-key.sk-browser", "openai-beta.realtime-v1")
	if err != nil {
		t.Fatal(err)
	}
	seen = up.last(t)
	if got := seen.Header.Get("Sec-WebSocket-Protocol"); got != "realtime, openai-insecure-api-key.sk-browser, openai-beta.realtime-v1" || seen.Header.Get("Authorization") != "" {
		t.Fatalf("upstream got protocols %q, authorization %q", got, seen.Header.Get("Authorization"))
	}
	if resp.Header.Get("Sec-WebSocket-Protocol") != "realtime" {
		t.Fatalf("answered %q", resp.Header.Get("Sec-WebSocket-Protocol"))
	}
	c.Close()
	rec.waitEnded(t)

	// fal: fal-api-key.<k> becomes Authorization: Key <k>.
	c, _, err = dial(t, gw+"/v1/acc/gw/fal/fal-ai/fast-lcm-diffusion", nil, "fal-api-key.fal-secret")
	if err != nil {
		t.Fatal(err)
	}
	if seen = up.last(t); seen.URL.Path != "/fal-ai/fast-lcm-diffusion" || seen.Header.Get("Authorization") != "Key fal-secret" {
		t.Fatalf("upstream got %s %v", seen.URL.Path, seen.Header)
	}
	c.Close()
	rec.waitEnded(t)
}

func TestRealtimeStoredKey(t *testing.T) {
	up := newEchoUpstream(t)
	gw, rec, f := realtimeGateway(t, up)
	c, _, err := dial(t, gw+"/v1/acc/gw/openai?model=m", nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := up.last(t).Header.Get("Authorization"); got != "Bearer sk-stored-0123456789" {
		t.Fatalf("upstream Authorization %q", got)
	}
	c.Close()
	ev := rec.waitEnded(t)
	rec.mu.Lock()
	st := rec.started[0]
	rec.mu.Unlock()
	if st.KeyID != f.keyID || ev.ClosedBy != "client" || ev.CloseCode != websocket.CloseAbnormalClosure {
		t.Fatalf("started %+v ended %+v", st, ev)
	}
	// A missing alias is refused before anything is dialled.
	_, resp, err := dial(t, gw+"/v1/acc/gw/openai?model=m", http.Header{"Cf-Aig-Byok-Alias": {"nope"}})
	if err == nil || resp == nil || resp.StatusCode != 400 {
		t.Fatalf("missing alias: %v %v", err, resp)
	}
	if body, _ := io.ReadAll(resp.Body); !strings.Contains(string(body), `"code":2005`) || strings.Contains(string(body), "sk-") {
		t.Fatalf("missing alias body %s", body)
	}
}

func TestRealtimeRefusals(t *testing.T) {
	up := newEchoUpstream(t)
	gw, _, _ := realtimeGateway(t, up)
	closed, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	deadURL := "http://" + closed.Addr().String()
	closed.Close()

	cases := []struct {
		name, path   string
		status, code int
	}{
		{"no realtime API", "/v1/acc/gw/anthropic", 400, 2002},
		{"unknown provider", "/v1/acc/gw/nosuch", 400, 2002},
		{"fal without app", "/v1/acc/gw/fal", 400, 2006},
		{"workers-ai without model", "/v1/acc/gw/workers-ai?encoding=linear16", 400, 2006},
		{"unknown gateway", "/v1/acc/nogw/openai", 404, 2004},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, resp, err := dial(t, gw+c.path, nil)
			if err == nil || resp == nil {
				t.Fatalf("upgraded: %v", err)
			}
			body, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != c.status || !strings.Contains(string(body), `"code":`+strconv.Itoa(c.code)) || resp.Header.Get("cf-aig-log-id") == "" {
				t.Fatalf("got %d %s", resp.StatusCode, body)
			}
		})
	}
	up.mu.Lock()
	dialled := len(up.seen)
	up.mu.Unlock()
	if dialled != 0 {
		t.Fatalf("the upstream was dialled %d times", dialled)
	}

	// The provider refuses the upgrade: its status and body reach the client.
	up.mu.Lock()
	up.refuse = 401
	up.mu.Unlock()
	_, resp, err := dial(t, gw+"/v1/acc/gw/openai?model=m", http.Header{"Authorization": {"Bearer bad"}})
	if err == nil || resp == nil || resp.StatusCode != 401 {
		t.Fatalf("refused upgrade: %v %v", err, resp)
	}
	if body, _ := io.ReadAll(resp.Body); !strings.Contains(string(body), "Incorrect API key") {
		t.Fatalf("refusal body %s", body)
	}

	// Nothing listens: 502 before the client is upgraded.
	f := newFixture(t)
	s := New(Options{Dispatcher: f.d, Config: f.cfg, Providers: providers.NewTable(func(string) string { return deadURL })})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go s.Serve(ln)
	defer s.srv.Shutdown()
	_, resp, err = dial(t, "ws://"+ln.Addr().String()+"/v1/acc/gw/google?api_key=AIza-secret", nil)
	if err == nil || resp == nil || resp.StatusCode != 502 {
		t.Fatalf("dead upstream: %v %v", err, resp)
	}
	if body, _ := io.ReadAll(resp.Body); !strings.Contains(string(body), `"code":2010`) || strings.Contains(string(body), "AIza") {
		t.Fatalf("dead upstream body %s", body)
	}

	// The SSRF guard holds for realtime dials too: a metadata address is never connected to.
	s2 := New(Options{Dispatcher: f.d, Config: f.cfg, Providers: providers.NewTable(func(string) string { return "http://169.254.169.254" })})
	ln2, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go s2.Serve(ln2)
	defer s2.srv.Shutdown()
	start := time.Now()
	_, resp, err = dial(t, "ws://"+ln2.Addr().String()+"/v1/acc/gw/openai?model=m", nil)
	if err == nil || resp == nil || resp.StatusCode != 502 || time.Since(start) > 5*time.Second {
		t.Fatalf("metadata upstream: %v %v after %v", err, resp, time.Since(start))
	}
}

func TestRealtimeLimits(t *testing.T) {
	defer func(max int64, idle, ping time.Duration) {
		realtimeMaxMessage, realtimeIdle, realtimePing = max, idle, ping
	}(realtimeMaxMessage, realtimeIdle, realtimePing)
	realtimeMaxMessage, realtimeIdle, realtimePing = 1024, 400*time.Millisecond, time.Hour
	up := newEchoUpstream(t)
	gw, rec, _ := realtimeGateway(t, up)

	// Over the size limit: the sender gets 1009, the provider too.
	c, _, err := dial(t, gw+"/v1/acc/gw/openai?model=m", http.Header{"Authorization": {"Bearer k"}})
	if err != nil {
		t.Fatal(err)
	}
	c.WriteMessage(websocket.BinaryMessage, make([]byte, 2048))
	_, _, err = c.ReadMessage()
	var ce *websocket.CloseError
	if !errors.As(err, &ce) || ce.Code != websocket.CloseMessageTooBig {
		t.Fatalf("client got %v", err)
	}
	c.Close()
	if ev := rec.waitEnded(t); ev.ClosedBy != "gateway" || ev.CloseCode != websocket.CloseMessageTooBig || ev.FramesIn != 0 {
		t.Fatalf("ended %+v", ev)
	}

	// A silent session is cut at the idle limit, both sides told 1001.
	c, _, err = dial(t, gw+"/v1/acc/gw/openai?model=m", http.Header{"Authorization": {"Bearer k"}})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetPingHandler(func(string) error { return nil }) // a dead client: no pongs
	start := time.Now()
	_, _, err = c.ReadMessage()
	if !errors.As(err, &ce) || ce.Code != websocket.CloseGoingAway || time.Since(start) > 5*time.Second {
		t.Fatalf("client got %v after %v", err, time.Since(start))
	}
	if ev := rec.waitEnded(t); ev.ClosedBy != "gateway" || ev.CloseCode != websocket.CloseGoingAway {
		t.Fatalf("ended %+v", ev)
	}

	// With keepalive pings a quiet but live session stays open past the idle limit.
	realtimePing = 100 * time.Millisecond
	c, _, err = dial(t, gw+"/v1/acc/gw/openai?model=m", http.Header{"Authorization": {"Bearer k"}})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	pings := 0
	c.SetPingHandler(func(s string) error {
		pings++
		return c.WriteControl(websocket.PongMessage, []byte(s), time.Now().Add(time.Second))
	})
	c.SetReadDeadline(time.Now().Add(time.Second))
	_, _, err = c.ReadMessage()
	var ne net.Error
	if !errors.As(err, &ne) || !ne.Timeout() || pings < 3 {
		t.Fatalf("quiet session: %v after %d pings", err, pings)
	}
	c.Close()
	rec.waitEnded(t) // before the limits are put back
}

func TestRealtimeShutdownEndsSessions(t *testing.T) {
	up := newEchoUpstream(t)
	f := newFixture(t)
	rec := &sessionRecorder{ended: make(chan events.RealtimeEnded, 1)}
	s := New(Options{Dispatcher: f.d, Sessions: rec, Config: f.cfg, Providers: providers.NewTable(func(string) string { return up.URL })})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go s.Serve(ln)
	c, _, err := dial(t, "ws://"+ln.Addr().String()+"/v1/acc/gw/openai?model=m", http.Header{"Authorization": {"Bearer k"}})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := s.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	_, _, err = c.ReadMessage()
	var ce *websocket.CloseError
	if !errors.As(err, &ce) || ce.Code != websocket.CloseGoingAway {
		t.Fatalf("client got %v", err)
	}
	if ev := rec.waitEnded(t); ev.ClosedBy != "gateway" || ev.CloseCode != websocket.CloseGoingAway {
		t.Fatalf("ended %+v", ev)
	}
}
