// socket_fuzz_test.go fuzzes the universal WebSocket API's message decoding: any text
// frame a client sends is answered with one valid JSON message, and the answer bodies the
// socket wraps (asJSON) are always JSON. Fuzz with
// go test ./engine/server -run '^$' -fuzz '^FuzzSocketMessage$' -parallel 1.
package server

import (
	stdjson "encoding/json"
	"net"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/fasthttp/websocket"
	json "github.com/goccy/go-json"
	"github.com/switchyard/switchyard/engine"
	"github.com/switchyard/switchyard/engine/providers"
	"github.com/tidwall/gjson"
)

// failDispatcher answers every request with its refusal, or a 502 when it had none.
type failDispatcher struct{}

func (failDispatcher) Dispatch(r *engine.Request) *engine.Exchange {
	x := engine.NewExchange(r, nil)
	if r.Fail != nil {
		x.Fail(r.Fail)
	} else {
		x.Fail(engine.Errorf(502, engine.CodeUpstreamFailed, "test"))
	}
	return x
}

// FuzzSocketMessage: every text frame gets exactly one answer, a JSON universal.error
// (nothing is dispatched upstream here) with a documented code, a 4xx status for a
// message the gateway refuses, and the message's eventId when it had one.
func FuzzSocketMessage(f *testing.F) {
	for _, s := range []string{
		`{"type":"universal.create","request":{"eventId":"e1","provider":"openai","endpoint":"chat/completions","headers":{"Authorization":"Bearer sk"},"query":{"model":"gpt-4o-mini"}}}`,
		`{"type":"universal.create","request":{"eventId":"e2","provider":"workers-ai","endpoint":"@cf/meta/llama-3.1-8b-instruct","headers":{"cf-aig-cache-ttl":"120","cf-aig-max-attempts":2},"query":{"prompt":"hi"},"config":{"requestTimeout":1000}}}`,
		`{"type":"universal.create","request":{"eventId":"e3","provider":"compat","endpoint":"chat/completions","query":{"model":"anthropic/claude-sonnet-4-5","messages":[{"role":"user","content":"hi"}]}}}`,
		`{"type":"universal.create","request":{"eventId":7,"provider":"nosuch","endpoint":"x"}}`,
		`{"type":"universal.create","request":[]}`,
		`{"type":"response.create"}`,
		`{"type":"universal.create","request":{"provider":"openai","endpoint":"x","config":{"maxAttempts":9}}}`,
		`{"type":"universal.create","request":{"eventId":"e4","provider":"openai","endpoint":"x","headers":{"cf-aig-metadata":"{\"a\":{}}"}}}`,
		`not json`, ``, `[]`, `"x"`,
	} {
		f.Add([]byte(s))
	}
	s := New(Options{Dispatcher: failDispatcher{}, Config: testConfig(f), AdminToken: adminTok,
		Providers: providers.NewTable(func(string) string { return "http://127.0.0.1:1" })})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		f.Fatal(err)
	}
	go s.Serve(ln)
	f.Cleanup(func() { s.srv.Shutdown() })
	url := "ws://" + ln.Addr().String() + "/v1/acc/gw"
	var c *websocket.Conn
	dial := func(t testing.TB) {
		if c != nil {
			c.Close()
		}
		var err error
		if c, _, err = websocket.DefaultDialer.Dial(url, nil); err != nil {
			t.Fatal(err)
		}
	}
	f.Fuzz(func(t *testing.T, msg []byte) {
		if c == nil {
			dial(t)
		}
		if c.WriteMessage(websocket.TextMessage, msg) != nil { // the socket went idle between runs
			dial(t)
			if err := c.WriteMessage(websocket.TextMessage, msg); err != nil {
				t.Fatal(err)
			}
		}
		_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
		mt, b, err := c.ReadMessage()
		if err != nil {
			t.Fatalf("no answer to %q: %v", msg, err)
		}
		var m struct {
			Type     string
			Metadata *struct {
				EventID string
				Status  int
			}
			Error *struct {
				Code    int
				Message string
			}
		}
		if mt != websocket.TextMessage || stdjson.Unmarshal(b, &m) != nil {
			t.Fatalf("answer is not a JSON text frame: %q", b)
		}
		if m.Type != "universal.error" || m.Error == nil || m.Metadata == nil || !documentedCodes[m.Error.Code] {
			t.Fatalf("answer to %q: %s", msg, b)
		}
		if m.Error.Code != engine.CodeUpstreamFailed && (m.Metadata.Status < 400 || m.Metadata.Status >= 500) {
			t.Fatalf("a refused message answered %d: %s", m.Metadata.Status, b)
		}
		if id := gjson.GetBytes(msg, "request.eventId"); gjson.ValidBytes(msg) && id.Type == gjson.String && id.Str != "" &&
			utf8.ValidString(id.Str) && m.Metadata.EventID != id.Str { // invalid UTF-8 comes back as U+FFFD, as JSON must
			t.Fatalf("eventId %q answered as %q", id.Str, m.Metadata.EventID)
		}
	})
}

// FuzzAsJSON: whatever an answer body holds, the socket message carrying it is JSON and
// gives back the body (JSON as is, text as a string, binary as base64).
func FuzzAsJSON(f *testing.F) {
	for _, s := range []string{`{"model":"gpt-4o-mini"}`, `[DONE]`, "hello", "\xff\xd8\xff\xe0", ` `, `{"a":1} `, `1e999`, `"\ud800"`, "{\"a\":\"\x01\"}"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		r := asJSON(body)
		b, err := json.Marshal(&socketMessage{Type: "universal.created", Response: r})
		if err != nil {
			t.Fatalf("body %q: %v", body, err)
		}
		var m struct{ Response stdjson.RawMessage }
		if err := stdjson.Unmarshal(b, &m); err != nil {
			t.Fatalf("body %q makes the message %s: %v", body, b, err)
		}
		if r == nil {
			return
		}
		if !stdjson.Valid(r) {
			t.Fatalf("asJSON(%q) = %s, not JSON", body, r)
		}
	})
}
