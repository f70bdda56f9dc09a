// answer_test.go checks when an answer that is not streamed is finished: after the client
// has it (the event is built and published off the client's wait), or before it is sent
// when the dispatcher asks (--durable-events waits for the event's acknowledgement).
package server

import (
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/switchyard/switchyard/engine"
	"github.com/switchyard/switchyard/engine/providers"
	"github.com/switchyard/switchyard/engine/upstream"
)

const wholeAnswerJSON = `{"id":"chatcmpl-1","object":"chat.completion","choices":[{"index":0,"message":{"role":"assistant","content":"hello"},"finish_reason":"stop"}],"usage":{"prompt_tokens":3,"completion_tokens":1,"total_tokens":4}}`

// holdDispatcher runs requests through the real engine. Its finishing (onDone) first
// signals entered, then waits for release, then hands the exchange to done; before says
// whether the exchange must be finished before its answer is sent.
type holdDispatcher struct {
	f       *engine.Forwarder
	before  bool
	entered chan struct{}
	release chan struct{}
	done    chan *engine.Exchange
	left    *atomic.Bool // set as the finishing returns
}

func (d holdDispatcher) Dispatch(r *engine.Request) *engine.Exchange {
	x := engine.NewExchange(r, func(x *engine.Exchange) {
		d.entered <- struct{}{}
		<-d.release
		d.left.Store(true)
		d.done <- x
	})
	x.DoneBeforeAnswer = d.before
	d.f.Do(x)
	return x
}

func wholeAnswerGateway(t *testing.T, d holdDispatcher) (url string) {
	t.Helper()
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, wholeAnswerJSON)
	}))
	t.Cleanup(up.Close)
	d.f = &engine.Forwarder{Client: upstream.New(upstream.Options{}), CaptureMax: 1 << 16, SmallBody: 64 << 10}
	s := New(Options{Dispatcher: d, Config: testConfig(t), AdminToken: adminTok,
		Providers: providers.NewTable(func(string) string { return up.URL })})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go s.Serve(ln)
	t.Cleanup(func() { s.srv.Shutdown() })
	return "http://" + ln.Addr().String() + "/v1/acc/gw/openai/chat/completions"
}

func postJSONChat(t *testing.T, url string) (int, string, error) {
	t.Helper()
	req, _ := http.NewRequest("POST", url, strings.NewReader(`{"model":"gpt-4o-mini","messages":[{"role":"user","content":"hi"}]}`))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer sk-test")
	resp, err := (&http.Client{Timeout: 20 * time.Second}).Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), err
}

func TestWholeAnswerReachesTheClientBeforeTheExchangeIsFinished(t *testing.T) {
	d := holdDispatcher{entered: make(chan struct{}, 1), release: make(chan struct{}), done: make(chan *engine.Exchange, 1), left: &atomic.Bool{}}
	url := wholeAnswerGateway(t, d)
	released := false
	defer func() {
		if !released {
			close(d.release)
		}
	}()
	// The finishing is held until the client has the whole answer: without the answer
	// being sent first, this request could only time out.
	status, body, err := postJSONChat(t, url)
	if err != nil || status != 200 || body != wholeAnswerJSON {
		t.Fatalf("status %d, body %q, %v: the answer did not reach the client while the exchange was being finished", status, body, err)
	}
	<-d.entered
	close(d.release)
	released = true
	x := finished(t, d.done)
	if !x.Success() || x.ClientErr != nil || x.End.IsZero() || x.Usage.In != 3 {
		t.Fatalf("finished exchange: success %v, client err %v, end %v, tokens in %d", x.Success(), x.ClientErr, x.End, x.Usage.In)
	}
}

func TestWholeAnswerWaitsForTheFinishingWhenAsked(t *testing.T) {
	d := holdDispatcher{before: true, entered: make(chan struct{}, 1), release: make(chan struct{}), done: make(chan *engine.Exchange, 1), left: &atomic.Bool{}}
	close(d.release) // the finishing returns at once; it must still come first
	url := wholeAnswerGateway(t, d)
	status, body, err := postJSONChat(t, url)
	if err != nil || status != 200 || body != wholeAnswerJSON {
		t.Fatalf("status %d, body %q, %v", status, body, err)
	}
	if !d.left.Load() {
		t.Fatal("the client had the answer before the exchange was finished")
	}
	finished(t, d.done)
}

// An answer that is not written (fasthttp closes it unsent, or a caller reads it through
// Read) is still finished, once; a failed write is the client's error.
func TestWholeAnswerFinishedWhenClosedReadOrFailed(t *testing.T) {
	var calls atomic.Int32
	newX := func() *engine.Exchange {
		x := engine.NewExchange(&engine.Request{}, func(*engine.Exchange) { calls.Add(1) })
		x.Status, x.Body = 200, []byte(wholeAnswerJSON)
		return x
	}
	a := &wholeAnswer{x: newX()}
	if err := a.Close(); err != nil || calls.Load() != 1 {
		t.Fatalf("closed unsent: %v, finished %d times", err, calls.Load())
	}

	a = &wholeAnswer{x: newX()}
	got, err := io.ReadAll(io.LimitReader(a, 1<<20)) // a plain reader: Read, not WriteTo
	if err != nil || string(got) != wholeAnswerJSON {
		t.Fatalf("read %q, %v", got, err)
	}
	_ = a.Close()
	if calls.Load() != 2 {
		t.Fatalf("finished %d times, want 2", calls.Load())
	}

	a = &wholeAnswer{x: newX()}
	if _, err := a.WriteTo(failingWriter{}); err == nil || a.x.ClientErr == nil || a.x.Success() {
		t.Fatalf("a failed write: err %v, client err %v", err, a.x.ClientErr)
	}
	_ = a.Close()
	if calls.Load() != 3 {
		t.Fatalf("finished %d times, want 3", calls.Load())
	}
}

type failingWriter struct{}

func (failingWriter) Write([]byte) (int, error) { return 0, io.ErrClosedPipe }
