package server

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fasthttp/websocket"
	"github.com/switchyard/switchyard/engine"
	"github.com/switchyard/switchyard/engine/providers"
	"github.com/switchyard/switchyard/engine/upstream"
	"github.com/valyala/fasthttp"
)

func TestUniversalParse(t *testing.T) {
	d := &captureDispatcher{}
	s := New(Options{Dispatcher: d, Providers: providers.NewTable(func(string) string { return "" }), Config: testConfig(t)})
	step := func(extra string) string {
		return `{"provider":"openai","endpoint":"chat/completions","headers":{"Authorization":"Bearer sk-1"},"query":{"model":"gpt-4o-mini"}` + extra + `}`
	}
	cases := []struct {
		name, body string
		hdr        map[string]string
		status     int
		msg        string // for failures
		steps      string // slug rest query model attempts timeout per step
	}{
		{"array", `[` + step("") + `,{"provider":"workers-ai","endpoint":"@cf/meta/llama-3.1-8b-instruct?x=1","query":{"prompt":"hi"}}]`, nil, 0, "",
			"openai /chat/completions  gpt-4o-mini 1 0s|workers-ai /@cf/meta/llama-3.1-8b-instruct x=1  1 0s"},
		{"one object", step(""), nil, 0, "", "openai /chat/completions  gpt-4o-mini 1 0s"},
		{"config", `[` + step(`,"config":{"requestTimeout":1500,"maxAttempts":3,"retryDelay":200,"backoff":"linear"}`) + `]`, nil, 0, "",
			"openai /chat/completions  gpt-4o-mini 3 1.5s"},
		{"request headers under step config", `[` + step(`,"config":{"maxAttempts":2}`) + `,` + step("") + `]`,
			map[string]string{"cf-aig-max-attempts": "4", "cf-aig-request-timeout": "900"}, 0, "",
			"openai /chat/completions  gpt-4o-mini 2 900ms|openai /chat/completions  gpt-4o-mini 4 900ms"},
		{"step headers over request headers", `[{"provider":"openai","endpoint":"chat/completions","headers":{"cf-aig-request-timeout":700,"cf-aig-max-attempts":"2"},"query":{}}]`,
			map[string]string{"cf-aig-max-attempts": "5", "cf-aig-request-timeout": "900"}, 0, "", "openai /chat/completions   2 700ms"},
		{"compat step", `[{"provider":"compat","endpoint":"chat/completions","headers":{"Authorization":"Bearer sk-ant"},"query":{"model":"anthropic/claude-sonnet-4-5","messages":[{"role":"user","content":"hi"}]}}]`, nil, 0, "",
			"anthropic /v1/messages  claude-sonnet-4-5 1 0s"},
		{"empty array", `[]`, nil, 400, "the array of steps is empty", ""},
		{"not json", `nope`, nil, 400, "takes a JSON array of steps", ""},
		{"broken array", `[{"provider":"openai"`, nil, 400, "the body is not a valid JSON array of steps", ""},
		{"broken object", `{0`, nil, 400, "[0] must be an object", ""},
		{"step not an object", `[` + step("") + `,"openai"]`, nil, 400, "[1] must be an object", ""},
		{"member given twice", `{"provider":"nosuch","endpoint":"x","provider":"openai","query":{"model":"a"},"query":{"model":"gpt-4o-mini"}}`, nil, 0, "", "openai /x  gpt-4o-mini 1 0s"},
		{"missing provider", `[{"endpoint":"x"}]`, nil, 400, "[0].provider is required", ""},
		{"provider not a string", `[` + step("") + `,{"provider":5,"endpoint":"x"}]`, nil, 400, "[1].provider must be a non-empty string", ""},
		{"unknown provider", `[` + step("") + `,{"provider":"nosuch","endpoint":"x"}]`, nil, 400, "[1].provider: unknown provider nosuch", ""},
		{"bad header value", `[{"provider":"openai","endpoint":"x","headers":{"a":{"b":1}}}]`, nil, 400, "[0].headers.a must be a string", ""},
		{"attempts over 5", `[` + step(`,"config":{"maxAttempts":6}`) + `]`, nil, 400, "[0].config.maxAttempts must be an integer from 1 to 5", ""},
		{"delay over 5 s", `[` + step("") + `,` + step(`,"config":{"retryDelay":6000}`) + `]`, nil, 400, "[1].config.retryDelay must be an integer from 0 to 5000", ""},
		{"bad backoff", `[` + step(`,"config":{"backoff":"sometimes"}`) + `]`, nil, 400, "[0].config.backoff must be one of", ""},
		{"config not an object", `[` + step(`,"config":[1]`) + `]`, nil, 400, "[0].config must be an object", ""},
		{"bad step header", `[{"provider":"openai","endpoint":"x","headers":{"cf-aig-max-attempts":"9"}}]`, nil, 400, "[0].headers.cf-aig-max-attempts must be an integer from 1 to 5", ""},
		{"bad request header", `[` + step("") + `]`, map[string]string{"cf-aig-backoff": "wild"}, 400, "cf-aig-backoff must be one of", ""},
		{"compat wrong endpoint", `[{"provider":"compat","endpoint":"embeddings","query":{}}]`, nil, 400, "[0].endpoint: provider", ""},
		{"too many steps", `[` + strings.Repeat(step("")+",", 10) + step("") + `]`, nil, 400, "at most 10 steps", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			d.got = nil
			ctx := serve(t, s, "POST", "/v1/acc/gw", tc.body, tc.hdr)
			if tc.status != 0 {
				if ctx.Response.StatusCode() != tc.status || !strings.Contains(string(ctx.Response.Body()), tc.msg) {
					t.Fatalf("got %d %s", ctx.Response.StatusCode(), ctx.Response.Body())
				}
				return
			}
			var got []string
			for _, st := range d.got.Steps {
				got = append(got, fmt.Sprintf("%s %s %s %s %d %v", st.Slug, st.Rest, st.Query, st.Model, st.Retry.MaxAttempts, st.Retry.Timeout))
			}
			if strings.Join(got, "|") != tc.steps {
				t.Fatalf("steps\n got %s\nwant %s", strings.Join(got, "|"), tc.steps)
			}
			if string(d.got.Body) != string(redactSteps([]byte(tc.body))) || strings.Contains(string(d.got.Body), "sk-") {
				t.Fatalf("the log keeps the client's body without its keys: %s", d.got.Body)
			}
		})
	}
	// the step's authorization reaches the provider as its Authorization header
	serve(t, s, "POST", "/v1/acc/gw", `[{"provider":"openai","endpoint":"chat/completions","authorization":"Bearer sk-2","query":{"a":1}}]`, nil)
	h := map[string]string{}
	for _, x := range d.got.Steps[0].Header {
		h[x.Key] = x.Value
	}
	if h["Authorization"] != "Bearer sk-2" || h["Content-Type"] != "application/json" || string(d.got.Steps[0].Send) != `{"a":1}` {
		t.Fatalf("headers %v body %s", h, d.got.Steps[0].Send)
	}
	if c := serve(t, s, "GET", "/v1/acc/gw", "", nil); c.Response.StatusCode() != 405 {
		t.Fatalf("GET without upgrade: %d", c.Response.StatusCode())
	}
}

// forwardDispatcher runs requests through the real engine, as the actor system does.
type forwardDispatcher struct{ f *engine.Forwarder }

func (d forwardDispatcher) Dispatch(r *engine.Request) *engine.Exchange {
	x := engine.NewExchange(r, nil)
	d.f.Do(x)
	return x
}

// socketUpstream answers by model: "slow" waits for release, "stream" streams three
// events, "broken" answers 500, anything else echoes the model.
func socketUpstream(t *testing.T, release chan struct{}) string {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var q struct{ Model string }
		b, _ := io.ReadAll(r.Body)
		_ = json.Unmarshal(b, &q)
		switch q.Model {
		case "slow":
			<-release
		case "stream":
			w.Header().Set("Content-Type", "text/event-stream")
			for i := 0; i < 3; i++ {
				fmt.Fprintf(w, "data: {\"n\":%d}\n\n", i)
				w.(http.Flusher).Flush()
			}
			fmt.Fprint(w, "data: [DONE]\n\n")
			return
		case "broken":
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(500)
			fmt.Fprint(w, `{"error":{"message":"boom"}}`)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"model":%q}`, q.Model)
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

func socketGateway(t *testing.T, inFlight int, ping time.Duration) (string, func()) {
	t.Helper()
	release := make(chan struct{})
	up := socketUpstream(t, release)
	fwd := &engine.Forwarder{Client: upstream.New(upstream.Options{}), CaptureMax: 1 << 16, SmallBody: 64 << 10}
	s := New(Options{Dispatcher: forwardDispatcher{fwd}, Config: testConfig(t), SocketInFlight: inFlight, SocketPing: ping, AdminToken: adminTok,
		Providers: providers.NewTable(func(string) string { return up })})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go s.Serve(ln)
	var once sync.Once
	free := func() { once.Do(func() { close(release) }) }
	t.Cleanup(func() { free(); s.srv.Shutdown() })
	return "ws://" + ln.Addr().String() + "/v1/acc/gw", free
}

func create(id, model string) string {
	return `{"type":"universal.create","request":{"eventId":"` + id + `","provider":"openai","endpoint":"chat/completions","headers":{"Authorization":"Bearer sk"},"query":{"model":"` + model + `"}}}`
}

type received struct {
	Type     string
	Metadata struct {
		EventID, LogID, Step, ContentType string
		Status                            int
	}
	Response json.RawMessage
	Error    *struct {
		Code    int
		Message string
	}
}

func readMsg(t *testing.T, c *websocket.Conn) received {
	t.Helper()
	_ = c.SetReadDeadline(time.Now().Add(20 * time.Second))
	var m received
	if err := c.ReadJSON(&m); err != nil {
		t.Fatal(err)
	}
	return m
}

func TestUniversalSocket(t *testing.T) {
	url, release := socketGateway(t, 0, 0)
	c, _, err := websocket.DefaultDialer.Dial(url, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for _, m := range []string{create("slow-1", "slow"), create("json-1", "m1"), create("stream-1", "stream"),
		create("broken-1", "broken"), `{not json`, `{"type":"universal.delete","request":{"eventId":"odd-1"}}`} {
		if err := c.WriteMessage(websocket.TextMessage, []byte(m)); err != nil {
			t.Fatal(err)
		}
	}
	// everything but the slow request is answered while it still hangs
	got := map[string][]string{}
	for len(got["json-1"]) < 1 || len(got["stream-1"]) < 5 || len(got["broken-1"]) < 1 || len(got[""]) < 1 || len(got["odd-1"]) < 1 {
		m := readMsg(t, c)
		if m.Metadata.EventID == "slow-1" {
			t.Fatalf("the slow request answered before release: %+v", m)
		}
		entry := m.Type
		switch {
		case m.Type == "universal.stream":
			entry += " " + string(m.Response)
		case m.Type == "universal.created" && m.Response != nil:
			entry += " " + string(m.Response)
		case m.Type == "universal.error" && m.Error != nil:
			entry += fmt.Sprintf(" %d", m.Error.Code)
		case m.Type == "universal.error":
			entry += fmt.Sprintf(" %d %s", m.Metadata.Status, m.Response)
		}
		got[m.Metadata.EventID] = append(got[m.Metadata.EventID], entry)
		if m.Type == "universal.created" && (m.Metadata.LogID == "" || m.Metadata.Step != "0") {
			t.Fatalf("metadata %+v", m.Metadata)
		}
	}
	want := map[string]string{
		"json-1":   `universal.created {"model":"m1"}`,
		"stream-1": `universal.created|universal.stream {"n":0}|universal.stream {"n":1}|universal.stream {"n":2}|universal.done`,
		"broken-1": `universal.error 500 {"error":{"message":"boom"}}`,
		"":         `universal.error 2006`,
		"odd-1":    `universal.error 2006`,
	}
	for id, w := range want {
		if g := strings.Join(got[id], "|"); g != w {
			t.Errorf("%s:\n got %s\nwant %s", id, g, w)
		}
	}
	release()
	if m := readMsg(t, c); m.Metadata.EventID != "slow-1" || m.Type != "universal.created" {
		t.Fatalf("slow answer %+v", m)
	}
	// a bad request is an error message, and the socket stays usable
	if err := c.WriteMessage(websocket.TextMessage, []byte(`{"type":"universal.create","request":{"eventId":"bad-1","provider":"nosuch","endpoint":"x"}}`)); err != nil {
		t.Fatal(err)
	}
	if m := readMsg(t, c); m.Metadata.EventID != "bad-1" || m.Type != "universal.error" || m.Error == nil || m.Error.Code != engine.CodeUnknownProvider {
		t.Fatalf("bad request %+v", m)
	}
}

func TestUniversalSocketInFlightBound(t *testing.T) {
	url, release := socketGateway(t, 2, 0)
	c, _, err := websocket.DefaultDialer.Dial(url, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for _, id := range []string{"a", "b", "c"} {
		if err := c.WriteMessage(websocket.TextMessage, []byte(create(id, "slow"))); err != nil {
			t.Fatal(err)
		}
	}
	if m := readMsg(t, c); m.Metadata.EventID != "c" || m.Error == nil || m.Error.Code != engine.CodeRateLimited || m.Metadata.Status != 429 {
		t.Fatalf("third request in flight: %+v", m)
	}
	release()
	done := map[string]bool{}
	for len(done) < 2 {
		done[readMsg(t, c).Metadata.EventID] = true
	}
	if !done["a"] || !done["b"] {
		t.Fatalf("answers %v", done)
	}
}

func TestUniversalSocketPing(t *testing.T) {
	url, _ := socketGateway(t, 0, 50*time.Millisecond)
	c, _, err := websocket.DefaultDialer.Dial(url, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	pinged := make(chan struct{}, 1)
	c.SetPingHandler(func(data string) error {
		select {
		case pinged <- struct{}{}:
		default:
		}
		return c.WriteControl(websocket.PongMessage, []byte(data), time.Now().Add(time.Second))
	})
	go func() {
		for {
			if _, _, err := c.ReadMessage(); err != nil {
				return
			}
		}
	}()
	select {
	case <-pinged:
	case <-time.After(20 * time.Second):
		t.Fatal("no ping from the gateway")
	}
}

// redactSteps is the log's copy of a universal body.
func redactSteps(body []byte) []byte { return readSteps(body).redacted(body) }

func TestRedactSteps(t *testing.T) {
	in := `[{"provider":"openai","endpoint":"chat/completions","authorization":"Bearer sk-1","headers":{"Authorization":"Bearer sk-2","x-goog-api-key":"AIza","Content-Type":"application/json"},"query":{"model":"m","api_key_hint":"kept in the body"}},` +
		`{"provider":"google-ai-studio","endpoint":"v1beta/models/g:generateContent?key=AIza2&alt=sse","query":{}}]`
	out := string(redactSteps([]byte(in)))
	for _, secret := range []string{"sk-1", "sk-2", "AIza"} {
		if strings.Contains(out, secret) {
			t.Fatalf("%s left in %s", secret, out)
		}
	}
	for _, kept := range []string{`"Content-Type":"application/json"`, `"query":{"model":"m","api_key_hint":"kept in the body"}`, `alt=sse`, `key=[redacted]`} {
		if !strings.Contains(out, kept) {
			t.Fatalf("%s lost from %s", kept, out)
		}
	}
	if got := string(redactSteps([]byte(`{"provider":"openai","endpoint":"x","authorization":"Bearer sk-3"}`))); strings.Contains(got, "sk-3") {
		t.Fatal(got)
	}
	// a member given twice is redacted both times; the rest of the body is kept as sent
	in = "[ {\"provider\": \"openai\", \"authorization\": \"sk-4\", \"headers\": {\"x-api-key\": \"sk-5\", \"X-Api-Key\": \"sk-6\"},\n  \"authorization\": 7, \"endpoint\": \"a?x=1&token=sk-7\"} ]"
	want := "[ {\"provider\": \"openai\", \"authorization\": \"[redacted]\", \"headers\": {\"x-api-key\": \"[redacted]\", \"X-Api-Key\": \"[redacted]\"},\n  \"authorization\": \"[redacted]\", \"endpoint\": \"a?x=1\\u0026token=[redacted]\"} ]"
	if got := string(redactSteps([]byte(in))); got != want {
		t.Fatalf("redacted\n got %s\nwant %s", got, want)
	}
	// a body that is not JSON is kept whole, and one without credentials is not copied
	for _, body := range []string{`[{"authorization":"sk-8"`, `[{"provider":"openai","endpoint":"x"}]`} {
		if got := redactSteps([]byte(body)); string(got) != body {
			t.Fatalf("%s became %s", body, got)
		}
	}
}

// A page of another origin may open a socket only with a gateway token.
func TestSocketOrigin(t *testing.T) {
	url, _ := socketGateway(t, 0, 0)
	for _, tc := range []struct {
		origin, token string
		ok            bool
	}{
		{"", "", true}, {"https://evil.example", "", false}, {"https://evil.example", "Bearer " + adminTok, true},
	} {
		h := http.Header{}
		if tc.origin != "" {
			h.Set("Origin", tc.origin)
		}
		if tc.token != "" {
			h.Set("cf-aig-authorization", tc.token)
		}
		c, resp, err := websocket.DefaultDialer.Dial(url, h)
		if (err == nil) != tc.ok {
			t.Fatalf("origin %q token %q: err %v", tc.origin, tc.token, err)
		}
		if err == nil {
			c.Close()
		} else if resp == nil || resp.StatusCode != 403 {
			t.Fatalf("refusal: %v", resp)
		}
	}
}

// BenchmarkUniversalParse measures the front end's work on a universal-endpoint request up
// to the dispatch: reading the steps, checking them, and the log's redacted copy. The body
// is the bench's: one OpenAI step with a 600-byte chat request.
func BenchmarkUniversalParse(b *testing.B) {
	f := newFixture(b)
	query := `{"model":"gpt-4o-mini","messages":[{"role":"system","content":"` + strings.Repeat("You are a logistics assistant. ", 12) +
		`"},{"role":"user","content":"Road or rail for twelve pallets a week?"}],"max_tokens":64}`
	for _, c := range []struct{ name, body string }{
		{"one step", `[{"provider":"openai","endpoint":"chat/completions","headers":{"Authorization":"Bearer sk-bench","Content-Type":"application/json"},"query":` + query + `}]`},
		{"two steps, query key", `[{"provider":"openai","endpoint":"chat/completions","headers":{"Authorization":"Bearer sk-bench"},"query":` + query + `},` +
			`{"provider":"google-ai-studio","endpoint":"v1beta/models/gemini-2.0-flash:generateContent?key=AIza-bench","query":{"contents":[]}}]`},
	} {
		b.Run(c.name, func(b *testing.B) {
			var ctx fasthttp.RequestCtx
			ctx.Request.Header.SetMethod("POST")
			ctx.Request.SetRequestURI("/v1/acc/gw")
			ctx.Request.Header.SetContentType("application/json")
			ctx.Request.SetBodyString(c.body)
			b.ReportAllocs()
			for b.Loop() {
				ctx.Response.Reset()
				f.s.handle(&ctx)
			}
			if f.d.got == nil || f.d.got.Fail != nil || len(f.d.got.Steps) == 0 {
				b.Fatalf("not dispatched as steps: %+v", f.d.got)
			}
		})
	}
}
