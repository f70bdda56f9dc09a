// realtime_test.go runs realtime WebSocket sessions through the real gateway process to
// an echoing provider mock: the gateway token from a header or from the subprotocol list,
// provider credentials from headers and from subprotocol entries, messages echoed byte
// for byte both ways, close codes from either side and from a graceful shutdown, and the
// realtime.started / realtime.ended events read back from the event log (an external
// NATS server, so the test can read it).
package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/fasthttp/websocket"
	"github.com/switchyard/switchyard/events"
	"github.com/switchyard/switchyard/mock"
)

func TestRealtimeSessions(t *testing.T) {
	ns := startNATS(t)
	defer ns.Shutdown()
	up := mock.NewRealtime()
	defer up.Close()
	g := startGateway(t, "", []string{"SWITCHYARD_UPSTREAM_OPENAI=" + up.URL, "SWITCHYARD_UPSTREAM_ELEVENLABS=" + up.URL,
		"SWITCHYARD_NATS_URL=" + ns.ClientURL()})
	g.EnsureGateway("locked", true)
	ws := "ws" + strings.TrimPrefix(g.URL, "http") + "/v1/" + account
	dialer := websocket.Dialer{HandshakeTimeout: 10 * time.Second}
	const clientKey, xiKey = "sk-e2e-CANARY-client-key", "xi-e2e-CANARY-key"

	// The locked gateway refuses a session without its token, before any upstream call.
	_, resp, err := dialer.Dial(ws+"/locked/openai?model=gpt-4o-realtime-preview", http.Header{"Authorization": {"Bearer " + clientKey}})
	if err == nil || resp == nil || resp.StatusCode != 401 {
		t.Fatalf("no gateway token: %v %v", err, resp)
	}
	if n := len(up.Sessions()); n != 0 {
		t.Fatalf("the provider was dialled %d times for a refused session", n)
	}

	// OpenAI, gateway token and provider key in headers.
	c, _, err := dialer.Dial(ws+"/locked/openai?model=gpt-4o-realtime-preview", http.Header{
		"Cf-Aig-Authorization": {"Bearer " + token}, "Authorization": {"Bearer " + clientKey}, "Openai-Beta": {"realtime=v1"}})
	if err != nil {
		t.Fatal(err)
	}
	seen := up.Sessions()[0]
	if seen.Path != "/realtime" || seen.Query != "model=gpt-4o-realtime-preview" || seen.Header.Get("Authorization") != "Bearer "+clientKey ||
		seen.Header.Get("OpenAI-Beta") != "realtime=v1" {
		t.Fatalf("provider got %s?%s %v", seen.Path, seen.Query, seen.Header)
	}
	for k, vs := range seen.Header {
		if strings.HasPrefix(strings.ToLower(k), "cf-aig-") || strings.Contains(strings.Join(vs, ","), token) {
			t.Fatalf("gateway header or token sent to the provider: %s", k)
		}
	}
	text := []byte(`{"type":"response.create","response":{"modalities":["text"],"instructions":"Tell me a joke"}}`)
	audio := make([]byte, 48000) // PCM-sized, several frames
	for i := range audio {
		audio[i] = byte(i*31 + 7)
	}
	var inBytes int64
	for _, m := range []struct {
		mt   int
		data []byte
	}{{websocket.TextMessage, text}, {websocket.BinaryMessage, audio}, {websocket.TextMessage, []byte("{}")}} {
		if err := c.WriteMessage(m.mt, m.data); err != nil {
			t.Fatal(err)
		}
		mt, got, err := c.ReadMessage()
		if err != nil || mt != m.mt || !bytes.Equal(got, m.data) {
			t.Fatalf("echo: type %d (want %d), %d bytes (want %d), %v", mt, m.mt, len(got), len(m.data), err)
		}
		inBytes += int64(len(m.data))
	}
	if err := c.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, "done"), time.Now().Add(5*time.Second)); err != nil {
		t.Fatal(err)
	}
	select {
	case cl := <-up.Closes:
		if cl.Code != websocket.CloseNormalClosure || cl.Text != "done" {
			t.Fatalf("provider got close %d %q", cl.Code, cl.Text)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the client's close did not reach the provider")
	}
	var ce *websocket.CloseError
	if _, _, err := c.ReadMessage(); !errors.As(err, &ce) || ce.Code != websocket.CloseNormalClosure {
		t.Fatalf("close reply: %v", err)
	}
	c.Close()

	// ElevenLabs from a browser: gateway token and provider key in the subprotocol list.
	c, resp, err = (&websocket.Dialer{HandshakeTimeout: 10 * time.Second, Subprotocols: []string{"xi-api-key." + xiKey, "cf-aig-authorization." + token}}).
		Dial(ws+"/locked/elevenlabs?agent_id=agent_e2e", nil)
	if err != nil {
		t.Fatal(err)
	}
	seen = up.Sessions()[1]
	if seen.Path != "/v1/convai/conversation" || seen.Query != "agent_id=agent_e2e" || seen.Header.Get("xi-api-key") != xiKey || len(seen.Subprotocols) != 0 {
		t.Fatalf("provider got %s?%s protocols %v headers %v", seen.Path, seen.Query, seen.Subprotocols, seen.Header)
	}
	if got := resp.Header.Get("Sec-WebSocket-Protocol"); got != "cf-aig-authorization."+token {
		t.Fatalf("answered subprotocol %q", got)
	}
	closeAsk := []byte("close:4001:conversation over")
	if err := c.WriteMessage(websocket.TextMessage, closeAsk); err != nil {
		t.Fatal(err)
	}
	if _, _, err := c.ReadMessage(); !errors.As(err, &ce) || ce.Code != 4001 || ce.Text != "conversation over" {
		t.Fatalf("provider close: %v", err)
	}
	c.Close()

	// A session still open when the gateway stops is closed with 1001 and still recorded.
	c, _, err = dialer.Dial(ws+"/"+gateway+"/openai?model=gpt-4o-realtime-preview", http.Header{"Authorization": {"Bearer " + clientKey}})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	closed := make(chan error, 1)
	go func() {
		_, _, err := c.ReadMessage()
		closed <- err
	}()
	time.Sleep(100 * time.Millisecond) // the session is set up on the gateway's side
	g.Stop()
	select {
	case err := <-closed:
		if !errors.As(err, &ce) || ce.Code != websocket.CloseGoingAway {
			t.Fatalf("at shutdown the client got %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the open session was not closed at shutdown")
	}

	// The event log holds a start and an end per session, without any secret.
	bus, err := events.Connect(context.Background(), events.ConnectOptions{URL: ns.ClientURL()})
	if err != nil {
		t.Fatal(err)
	}
	defer bus.Close()
	started := map[string]events.RealtimeStarted{}
	var ended []events.RealtimeEnded
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_, err = bus.Replay(ctx, func(batch []events.Msg) error {
		for _, m := range batch {
			env, err := events.Decode(m.Data)
			if err != nil || (env.Type != events.TypeRealtimeStarted && env.Type != events.TypeRealtimeEnded) {
				continue
			}
			for _, secret := range []string{clientKey, xiKey, token} {
				if bytes.Contains(m.Data, []byte(secret)) {
					t.Errorf("%s event holds a secret", env.Type)
				}
			}
			if env.Type == events.TypeRealtimeStarted {
				var s events.RealtimeStarted
				if err := decodeData(env, &s); err != nil {
					return err
				}
				started[s.SessionID] = s
			} else {
				var e events.RealtimeEnded
				if err := decodeData(env, &e); err != nil {
					return err
				}
				ended = append(ended, e)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(started) != 3 || len(ended) != 3 {
		t.Fatalf("%d realtime.started and %d realtime.ended events, want 3 of each", len(started), len(ended))
	}
	want := []struct {
		gateway, provider, path, model string
		framesIn, framesOut            int64
		bytesIn, bytesOut              int64
		code                           int
		by                             string
	}{
		{"locked", "openai", "/openai", "gpt-4o-realtime-preview", 3, 3, inBytes, inBytes, 1000, "client"},
		{"locked", "elevenlabs", "/elevenlabs", "", 1, 0, int64(len(closeAsk)), 0, 4001, "provider"},
		{gateway, "openai", "/openai", "gpt-4o-realtime-preview", 0, 0, 0, 0, 1001, "gateway"},
	}
	byKey := map[string]events.RealtimeEnded{} // the three sessions differ in gateway or provider
	for _, e := range ended {
		byKey[e.GatewayID+"/"+e.Provider] = e
	}
	for _, w := range want {
		e, ok := byKey[w.gateway+"/"+w.provider]
		s := started[e.SessionID]
		if !ok || s.AccountID != account || s.GatewayID != w.gateway || s.Provider != w.provider || s.Path != w.path || s.Model != w.model {
			t.Fatalf("%s/%s started %+v", w.gateway, w.provider, s)
		}
		if e.FramesIn != w.framesIn || e.FramesOut != w.framesOut || e.BytesIn != w.bytesIn || e.BytesOut != w.bytesOut ||
			e.CloseCode != w.code || e.ClosedBy != w.by || e.DurationMs <= 0 || e.EndedAt.Before(e.StartedAt) {
			t.Fatalf("%s/%s ended %+v", w.gateway, w.provider, e)
		}
	}
}

// decodeData decodes an event's data of version 1.
func decodeData(env events.Envelope, v any) error {
	if env.Version != 1 {
		return errors.New("unknown version")
	}
	return json.Unmarshal(env.Data, v)
}
