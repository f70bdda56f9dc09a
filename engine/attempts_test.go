package engine_test

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/switchyard/switchyard/engine"
	"github.com/switchyard/switchyard/engine/providers"
	"github.com/switchyard/switchyard/engine/upstream"
)

// recordingClock is the injected Sleep: it records each wait and returns at once.
type recordingClock struct {
	mu    sync.Mutex
	waits []time.Duration
}

func (c *recordingClock) Sleep(d time.Duration) {
	c.mu.Lock()
	c.waits = append(c.waits, d)
	c.mu.Unlock()
}

func forwarder(clock *recordingClock) *engine.Forwarder {
	return &engine.Forwarder{Client: upstream.New(upstream.Options{}), CaptureMax: 1 << 20, SmallBody: 64 << 10, Sleep: clock.Sleep}
}

// upstreamServer answers with h; the test's cleanup releases handlers that hang.
func upstreamServer(t *testing.T, h http.HandlerFunc) string {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv.URL
}

// hanging never answers until the test ends.
func hanging(t *testing.T) string {
	release := make(chan struct{})
	url := upstreamServer(t, func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		select {
		case <-release:
		case <-r.Context().Done():
		}
	})
	t.Cleanup(func() { close(release) })
	return url
}

// refused is an address where nothing listens.
func refused(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return "http://" + addr
}

func status(code int, body string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(code)
		fmt.Fprint(w, body)
	}
}

func target(base string, pol engine.RetryPolicy) *engine.Target {
	return &engine.Target{Provider: providers.Custom("custom-test", base), Slug: "custom-test", Rest: "/chat/completions",
		Header: []engine.Header{{Key: "Content-Type", Value: "application/json"}}, Retry: pol}
}

func run(f *engine.Forwarder, steps ...*engine.Target) (*engine.Exchange, []byte) {
	req := &engine.Request{LogID: "L", EventID: "E", AccountID: "a", GatewayID: "g", Method: "POST",
		Body: []byte(`{"model":"m"}`), BodySize: 13, ReceivedAt: time.Now()}
	if len(steps) == 1 {
		req.Target = *steps[0]
	} else {
		req.Steps = steps
	}
	x := engine.NewExchange(req, nil)
	f.Do(x)
	if x.Streaming() {
		var buf bytes.Buffer
		w := bufio.NewWriter(&buf)
		x.Relay(w)
		x.Done()
		return x, buf.Bytes()
	}
	x.Done()
	return x, x.Body
}

func outcomes(x *engine.Exchange) string {
	var out []string
	for _, a := range x.Attempts {
		out = append(out, fmt.Sprintf("%d.%d:%d:%s", a.Step, a.Attempt, a.Status, a.Outcome))
	}
	return strings.Join(out, " ")
}

// The retry schedule of each backoff, read off the injected clock.
func TestRetrySchedule(t *testing.T) {
	var calls atomic.Int32
	url := upstreamServer(t, func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		status(503, `{"error":"overloaded"}`)(w, r)
	})
	for _, tc := range []struct {
		backoff engine.Backoff
		want    []time.Duration
	}{
		{engine.BackoffConstant, []time.Duration{300, 300, 300, 300}},
		{engine.BackoffLinear, []time.Duration{300, 600, 900, 1200}},
		{engine.BackoffExponential, []time.Duration{300, 600, 1200, 2400}},
	} {
		t.Run(string(tc.backoff), func(t *testing.T) {
			calls.Store(0)
			clock := &recordingClock{}
			x, body := run(forwarder(clock), target(url, engine.RetryPolicy{MaxAttempts: 5, Delay: 300 * time.Millisecond, Backoff: tc.backoff}))
			for i := range tc.want {
				tc.want[i] *= time.Millisecond
			}
			if fmt.Sprint(clock.waits) != fmt.Sprint(tc.want) {
				t.Fatalf("waits %v, want %v", clock.waits, tc.want)
			}
			if calls.Load() != 5 || x.Status != 503 || string(body) != `{"error":"overloaded"}` {
				t.Fatalf("calls %d, answer %d %s", calls.Load(), x.Status, body)
			}
			if got := outcomes(x); got != "0.1:503:retry 0.2:503:retry 0.3:503:retry 0.4:503:retry 0.5:503:failed" {
				t.Fatalf("attempts %s", got)
			}
		})
	}
}

// A 4xx other than 408 and 429 is not retried: the same request would get the same answer.
func TestNoRetryOnClientError(t *testing.T) {
	clock := &recordingClock{}
	x, body := run(forwarder(clock), target(upstreamServer(t, status(401, `{"error":"bad key"}`)), engine.RetryPolicy{MaxAttempts: 3, Delay: time.Second}))
	if x.Status != 401 || string(body) != `{"error":"bad key"}` || len(clock.waits) != 0 || outcomes(x) != "0.1:401:failed" {
		t.Fatalf("%d %s waits %v attempts %s", x.Status, body, clock.waits, outcomes(x))
	}
}

func TestRetryThenSuccess(t *testing.T) {
	var calls atomic.Int32
	url := upstreamServer(t, func(w http.ResponseWriter, r *http.Request) {
		if calls.Add(1) < 3 {
			status(429, `{"error":"slow down"}`)(w, r)
			return
		}
		status(200, `{"ok":true}`)(w, r)
	})
	clock := &recordingClock{}
	x, body := run(forwarder(clock), target(url, engine.RetryPolicy{MaxAttempts: 5, Delay: 100 * time.Millisecond, Backoff: engine.BackoffLinear}))
	if x.Status != 200 || string(body) != `{"ok":true}` || x.Step != 0 {
		t.Fatalf("%d %s step %d", x.Status, body, x.Step)
	}
	if outcomes(x) != "0.1:429:retry 0.2:429:retry 0.3:200:answered" || fmt.Sprint(clock.waits) != "[100ms 200ms]" {
		t.Fatalf("attempts %s waits %v", outcomes(x), clock.waits)
	}
}

// A chain that fails in every way before the last step answers with a stream whose
// first byte is slow (but within the timeout) and which lasts longer than the timeout.
func TestFallbackChain(t *testing.T) {
	var flaky atomic.Int32
	slowStream := upstreamServer(t, func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(100 * time.Millisecond)
		w.Header().Set("Content-Type", "text/event-stream")
		w.WriteHeader(200)
		for i := 0; i < 4; i++ {
			fmt.Fprintf(w, "data: {\"n\":%d}\n\n", i)
			w.(http.Flusher).Flush()
			time.Sleep(400 * time.Millisecond)
		}
		fmt.Fprint(w, "data: [DONE]\n\n")
	})
	steps := []*engine.Target{
		target(refused(t), engine.RetryPolicy{MaxAttempts: 2}),
		target(upstreamServer(t, func(w http.ResponseWriter, r *http.Request) {
			flaky.Add(1)
			status(500, `{"error":"boom"}`)(w, r)
		}), engine.RetryPolicy{MaxAttempts: 2, Delay: 50 * time.Millisecond}),
		target(upstreamServer(t, status(429, `{"error":"rate"}`)), engine.RetryPolicy{MaxAttempts: 1}),
		target(hanging(t), engine.RetryPolicy{MaxAttempts: 1, Timeout: 300 * time.Millisecond}),
		target(slowStream, engine.RetryPolicy{MaxAttempts: 1, Timeout: 1000 * time.Millisecond}),
	}
	clock := &recordingClock{}
	start := time.Now()
	x, body := run(forwarder(clock), steps...)
	if x.Status != 200 || x.Step != 4 {
		t.Fatalf("answered %d by step %d: %s (%s)", x.Status, x.Step, body, outcomes(x))
	}
	if want := "data: {\"n\":0}\n\ndata: {\"n\":1}\n\ndata: {\"n\":2}\n\ndata: {\"n\":3}\n\ndata: [DONE]\n\n"; string(body) != want {
		t.Fatalf("stream cut or changed: %q", body)
	}
	if got := outcomes(x); got != "0.1:502:retry 0.2:502:fallback 1.1:500:retry 1.2:500:fallback 2.1:429:fallback 3.1:504:fallback 4.1:200:answered" {
		t.Fatalf("attempts %s", got)
	}
	if time.Since(start) < 1600*time.Millisecond {
		t.Fatalf("the stream must have lasted past its 1 s timeout; took %v", time.Since(start))
	}
	if flaky.Load() != 2 || fmt.Sprint(clock.waits) != "[50ms]" {
		t.Fatalf("flaky calls %d, waits %v", flaky.Load(), clock.waits)
	}
}

// When every step fails the client gets the last step's answer, status and body.
func TestAllStepsFail(t *testing.T) {
	x, body := run(forwarder(&recordingClock{}),
		target(upstreamServer(t, status(503, `{"error":"first"}`)), engine.RetryPolicy{MaxAttempts: 1}),
		target(upstreamServer(t, status(400, `{"error":"last"}`)), engine.RetryPolicy{MaxAttempts: 1}))
	if x.Status != 400 || string(body) != `{"error":"last"}` || x.Step != 1 {
		t.Fatalf("%d %s step %d", x.Status, body, x.Step)
	}
	x, body = run(forwarder(&recordingClock{}),
		target(upstreamServer(t, status(200, `{}`)), engine.RetryPolicy{MaxAttempts: 1}),
		target(hanging(t), engine.RetryPolicy{MaxAttempts: 1}))
	if x.Status != 200 || x.Step != 0 || len(x.Attempts) != 1 {
		t.Fatalf("first step answered, yet %d step %d %s", x.Status, x.Step, body)
	}
	x, _ = run(forwarder(&recordingClock{}),
		target(upstreamServer(t, status(500, `{}`)), engine.RetryPolicy{MaxAttempts: 1}),
		target(hanging(t), engine.RetryPolicy{MaxAttempts: 1, Timeout: 200 * time.Millisecond}))
	if x.Status != 504 || x.Err == nil || x.Err.Code != engine.CodeUpstreamTimeout || x.Step != 1 {
		t.Fatalf("timeout on the last step: %d %v", x.Status, x.Err)
	}
}

// The final try of the last step waits past the timeout, as the reference says.
func TestFinalAttemptWaits(t *testing.T) {
	var calls atomic.Int32
	url := upstreamServer(t, func(w http.ResponseWriter, r *http.Request) {
		if calls.Add(1) == 1 {
			_, _ = io.Copy(io.Discard, r.Body) // so the server notices the gateway hanging up
			<-r.Context().Done()               // the first try hangs until the gateway gives up on it
			return
		}
		time.Sleep(600 * time.Millisecond)
		status(200, `{"late":true}`)(w, r)
	})
	x, body := run(forwarder(&recordingClock{}), target(url, engine.RetryPolicy{MaxAttempts: 2, Timeout: 200 * time.Millisecond}))
	if x.Status != 200 || string(body) != `{"late":true}` || outcomes(x) != "0.1:504:retry 0.2:200:answered" {
		t.Fatalf("%d %s %s", x.Status, body, outcomes(x))
	}
}
