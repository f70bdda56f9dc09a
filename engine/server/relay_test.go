// relay_test.go checks how a streamed answer reaches the client: on the connection's
// goroutine (fasthttp calls WriteTo), event by event, with the exchange finished before the
// client sees the end, broken off when the upstream cut it, and finished with a client
// error when the client left or was never sent the body.
package server

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/switchyard/switchyard/engine"
	"github.com/switchyard/switchyard/engine/providers"
	"github.com/switchyard/switchyard/engine/upstream"
	"github.com/valyala/fasthttp"
)

// doneDispatcher runs requests through the real engine and hands each finished exchange
// to done.
type doneDispatcher struct {
	f    *engine.Forwarder
	done chan *engine.Exchange
}

func (d doneDispatcher) Dispatch(r *engine.Request) *engine.Exchange {
	x := engine.NewExchange(r, func(x *engine.Exchange) { d.done <- x })
	d.f.Do(x)
	return x
}

// relayUpstream streams by model: "stream" sends three events and [DONE]; "hold" sends
// one event, waits for release, then ends; "cut" sends one event and drops the connection.
func relayUpstream(t *testing.T, release chan struct{}) string {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		model := "stream"
		for _, m := range []string{"hold", "cut"} {
			if strings.Contains(string(b), `"`+m+`"`) {
				model = m
			}
		}
		if model == "cut" { // a chunked stream whose connection drops after one event
			conn, bw, err := w.(http.Hijacker).Hijack()
			if err != nil {
				t.Error(err)
				return
			}
			ev := "data: {\"object\":\"chat.completion.chunk\",\"choices\":[{\"delta\":{\"content\":\"one\"}}]}\n\n"
			fmt.Fprintf(bw, "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n%x\r\n%s\r\n", len(ev), ev)
			bw.Flush()
			conn.Close()
			return
		}
		w.Header().Set("Content-Type", "text/event-stream")
		event := func(s string) {
			_, _ = io.WriteString(w, "data: "+s+"\n\n")
			w.(http.Flusher).Flush()
		}
		event(`{"object":"chat.completion.chunk","choices":[{"delta":{"content":"one"}}]}`)
		if model == "hold" {
			<-release
		}
		event(`{"object":"chat.completion.chunk","choices":[{"delta":{"content":"two"}}]}`)
		event(`{"object":"chat.completion.chunk","choices":[{"delta":{"content":"three"}}]}`)
		event(`[DONE]`)
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

// relayGateway serves the data plane on a loopback port; it returns the URL of its OpenAI
// chat completions, the finished exchanges, and the server.
func relayGateway(t *testing.T, release chan struct{}) (string, chan *engine.Exchange, *Server) {
	t.Helper()
	up := relayUpstream(t, release)
	fwd := &engine.Forwarder{Client: upstream.New(upstream.Options{}), CaptureMax: 1 << 16, SmallBody: 64 << 10}
	done := make(chan *engine.Exchange, 4)
	s := New(Options{Dispatcher: doneDispatcher{fwd, done}, Config: testConfig(t), AdminToken: adminTok,
		Providers: providers.NewTable(func(string) string { return up })})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go s.Serve(ln)
	t.Cleanup(func() { s.srv.Shutdown() })
	return "http://" + ln.Addr().String() + "/v1/acc/gw/openai/chat/completions", done, s
}

func postChat(t *testing.T, url, model string) *http.Response {
	t.Helper()
	return postChatWith(t, http.DefaultClient, url, model)
}

func postChatWith(t *testing.T, client *http.Client, url, model string) *http.Response {
	t.Helper()
	body := `{"model":"` + model + `","stream":true,"messages":[{"role":"user","content":"hi"}]}`
	req, _ := http.NewRequest("POST", url, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer sk-test")
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream") {
		t.Fatalf("status %d, content type %q", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	return resp
}

func finished(t *testing.T, done chan *engine.Exchange) *engine.Exchange {
	t.Helper()
	select {
	case x := <-done:
		return x
	case <-time.After(30 * time.Second):
		t.Fatal("the exchange was never finished")
		return nil
	}
}

// The body of a streamed answer is written by fasthttp through WriteTo, on the
// connection's goroutine, not read from a pipe fed by another goroutine.
func TestRelayBodyIsWrittenInPlace(t *testing.T) {
	var body io.Reader = relayBody(engine.NewExchange(&engine.Request{}, nil))
	bwt, ok := body.(fasthttp.BodyWriterTo)
	if !ok || !bwt.SupportsBodyWriteTo() {
		t.Fatalf("%T does not let fasthttp write it in place", body)
	}
}

func TestRelayStreamsWholeAnswerAndFinishesFirst(t *testing.T) {
	url, done, _ := relayGateway(t, make(chan struct{}))
	resp := postChat(t, url, "stream")
	all, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		t.Fatalf("reading the stream: %v", err)
	}
	// The exchange is finished (its event written) before the chunked terminator.
	select {
	case x := <-done:
		if x.Err != nil || x.ClientErr != nil || !x.Success() {
			t.Fatalf("exchange err %v, client err %v", x.Err, x.ClientErr)
		}
		if x.BytesOut != int64(len(all)) {
			t.Fatalf("exchange counted %d bytes, client got %d", x.BytesOut, len(all))
		}
	default:
		t.Fatal("the client saw the end of the answer before the exchange was finished")
	}
	for _, want := range []string{`"one"`, `"two"`, `"three"`, "data: [DONE]"} {
		if !strings.Contains(string(all), want) {
			t.Fatalf("answer lacks %s: %q", want, all)
		}
	}
}

func TestRelayFirstEventArrivesWhileUpstreamHolds(t *testing.T) {
	release := make(chan struct{})
	url, done, _ := relayGateway(t, release)
	resp := postChat(t, url, "hold")
	defer resp.Body.Close()
	line, err := bufio.NewReader(resp.Body).ReadString('\n')
	if err != nil || !strings.Contains(line, `"one"`) {
		t.Fatalf("first line %q, %v", line, err)
	}
	close(release)
	if x := finished(t, done); x.Err != nil {
		t.Fatalf("exchange err %v", x.Err)
	}
}

func TestRelayCutUpstreamBreaksTheAnswer(t *testing.T) {
	url, done, _ := relayGateway(t, make(chan struct{}))
	resp := postChat(t, url, "cut")
	all, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err == nil {
		x := finished(t, done)
		t.Fatalf("a cut answer ended cleanly: %q (exchange err %v cut %v)", all, x.Err, x.Cut())
	}
	if !strings.Contains(string(all), `"one"`) {
		t.Fatalf("the part before the cut is missing: %q", all)
	}
	x := finished(t, done)
	if x.Err == nil || x.Success() {
		t.Fatal("the exchange of a cut answer has no error")
	}
}

func TestRelayClientGoneFinishesExchange(t *testing.T) {
	release := make(chan struct{})
	url, done, _ := relayGateway(t, release)
	// A raw client, so its connection is closed (reset: linger 0) by this goroutine before
	// the upstream goes on; an http.Client closes it later, from its own reading goroutine,
	// and the rest of the answer can be written before that.
	host := strings.TrimPrefix(url[:strings.Index(url, "/v1/")], "http://")
	c, err := net.Dial("tcp", host)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.(*net.TCPConn).SetLinger(0); err != nil {
		t.Fatal(err)
	}
	body := `{"model":"hold","stream":true,"messages":[{"role":"user","content":"hi"}]}`
	fmt.Fprintf(c, "POST %s HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\nAuthorization: Bearer sk-test\r\nContent-Length: %d\r\n\r\n%s",
		url[strings.Index(url, "/v1/"):], host, len(body), body)
	r := bufio.NewReader(c)
	for { // up to the first event of the answer
		line, err := r.ReadString('\n')
		if err != nil {
			t.Fatal(err)
		}
		if strings.HasPrefix(line, "data: ") {
			break
		}
	}
	c.Close() // the client leaves mid-answer
	close(release)
	x := finished(t, done)
	if x.ClientErr == nil || x.Success() {
		t.Fatalf("client err %v, success %v", x.ClientErr, x.Success())
	}
}

// A streamed answer that fasthttp closes without sending (the client left before the
// head of the answer was written) is finished with a client error; one read through Read
// is relayed whole.
func TestRelayBodyClosedUnsentOrRead(t *testing.T) {
	url, done, s := relayGateway(t, make(chan struct{}))
	path := url[strings.Index(url, "/v1/"):]
	hdr := map[string]string{"Content-Type": "application/json", "Authorization": "Bearer sk-test"}
	body := `{"model":"stream","stream":true,"messages":[{"role":"user","content":"hi"}]}`

	ctx := serve(t, s, "POST", path, body, hdr)
	if !ctx.Response.IsBodyStream() {
		t.Fatalf("status %d: not a streamed answer: %s", ctx.Response.StatusCode(), ctx.Response.Body())
	}
	if err := ctx.Response.CloseBodyStream(); err != nil {
		t.Fatal(err)
	}
	if x := finished(t, done); x.ClientErr == nil || x.Success() {
		t.Fatalf("an answer never sent finished with client err %v", x.ClientErr)
	}

	ctx = serve(t, s, "POST", path, body, hdr)
	all, err := io.ReadAll(ctx.Response.BodyStream())
	if err != nil || !strings.Contains(string(all), "data: [DONE]") {
		t.Fatalf("read %q, %v", all, err)
	}
	if x := finished(t, done); x.Err != nil || x.ClientErr != nil {
		t.Fatalf("exchange err %v, client err %v", x.Err, x.ClientErr)
	}
	_ = ctx.Response.CloseBodyStream()
}
