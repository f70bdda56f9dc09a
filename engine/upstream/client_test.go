package upstream

import (
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"sync/atomic"
	"testing"
	"time"

	"github.com/valyala/fasthttp"
)

// The request timeout bounds the wait for the answer's first byte, over TLS too (the
// deadline counts answer bytes, not TLS records), and a stream that then outlasts it
// is not cut.
func TestFirstByteTimeoutTLS(t *testing.T) {
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/late" {
			time.Sleep(1500 * time.Millisecond)
		}
		w.Header().Set("Content-Type", "text/event-stream")
		for i := 0; i < 4; i++ {
			fmt.Fprintf(w, "data: %d\n\n", i)
			w.(http.Flusher).Flush()
			time.Sleep(250 * time.Millisecond)
		}
	}))
	srv.EnableHTTP2 = false
	srv.StartTLS()
	defer srv.Close()
	pool := srv.Client().Transport.(*http.Transport).TLSClientConfig.RootCAs
	c := New(Options{TLS: &tls.Config{RootCAs: pool}})

	for _, path := range []string{"/late", "/stream", "/late"} { // the second /late reuses a pooled connection
		req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
		req.SetRequestURI(srv.URL + path)
		req.SetTimeout(400 * time.Millisecond)
		start := time.Now()
		err := c.Do(req, resp)
		switch path {
		case "/late":
			if !errors.Is(err, os.ErrDeadlineExceeded) && !errors.Is(err, fasthttp.ErrTimeout) {
				t.Fatalf("%s: got %v after %v, want a first-byte timeout", path, err, time.Since(start))
			}
		default:
			if err != nil {
				t.Fatal(err)
			}
			body := make([]byte, 0, 64)
			buf := make([]byte, 64)
			for {
				n, err := resp.BodyStream().Read(buf)
				body = append(body, buf[:n]...)
				if err != nil {
					break
				}
			}
			if string(body) != "data: 0\n\ndata: 1\n\ndata: 2\n\ndata: 3\n\n" || time.Since(start) < 900*time.Millisecond {
				t.Fatalf("stream cut: %q after %v", body, time.Since(start))
			}
			_ = resp.CloseBodyStream()
		}
		fasthttp.ReleaseRequest(req)
		fasthttp.ReleaseResponse(resp)
	}
}

// A name that resolves to loopback is refused at dial time unless its host is one the
// operator configured: the guard holds on the address dialled, not on the URL's literal.
func TestLoopbackByNameRefused(t *testing.T) {
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { hits.Add(1) }))
	defer srv.Close()
	port := srv.Listener.Addr().(*net.TCPAddr).Port
	byName := fmt.Sprintf("http://localhost:%d/", port)
	trusted := fmt.Sprintf("localhost:%d", port+1) // another host:port
	cases := []struct {
		name    string
		ok      func(string) bool
		refused bool
	}{
		{"untrusted name", func(a string) bool { return a == trusted }, true},
		{"operator's host", func(a string) bool { return a == fmt.Sprintf("localhost:%d", port) }, false},
		{"--allow-insecure-upstreams", nil, false},
	}
	for _, tc := range cases {
		c := New(Options{LoopbackOK: tc.ok})
		req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
		req.SetRequestURI(byName)
		err := c.Do(req, resp)
		var re *RefusedError
		if tc.refused != errors.As(err, &re) || !tc.refused && err != nil {
			t.Fatalf("%s: err %v", tc.name, err)
		}
	}
	if hits.Load() != 2 {
		t.Fatalf("upstream saw %d requests, want 2 (the refused dial must not connect)", hits.Load())
	}
}
