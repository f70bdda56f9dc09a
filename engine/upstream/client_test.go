package upstream

import (
	"crypto/tls"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
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
