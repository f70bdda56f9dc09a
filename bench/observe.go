// observe.go is the bench's -observe mode: every observability output on while the cells
// run, so their cost shows in the same figures. The bench gateway exports OpenTelemetry
// spans to a collector in this process (which counts and discards them) and Logpush files
// to a directory, and /metrics is scraped every 5 s like a Prometheus would.
package main

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync/atomic"
	"time"
)

// observer is the collector, the Logpush directory and the scraper of -observe.
type observer struct {
	posts, bytes atomic.Int64 // OTLP requests and bytes the collector received
	scrapes      atomic.Int64
	dir          string
	url          string
	key          string // PEM public key for logpush_public_key
	srv          *http.Server
	stop         chan struct{}
}

// startObserver starts the collector and makes the Logpush directory and key.
func startObserver(tmp string) (*observer, error) {
	o := &observer{dir: filepath.Join(tmp, "logpush"), stop: make(chan struct{})}
	if err := os.MkdirAll(o.dir, 0o755); err != nil {
		return nil, err
	}
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, err
	}
	der, err := x509.MarshalPKIXPublicKey(&k.PublicKey)
	if err != nil {
		return nil, err
	}
	o.key = string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}))
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	o.url = "http://" + ln.Addr().String() + "/v1/traces"
	o.srv = &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n, _ := io.Copy(io.Discard, r.Body)
		o.posts.Add(1)
		o.bytes.Add(n)
		w.WriteHeader(http.StatusOK)
	})}
	go func() { _ = o.srv.Serve(ln) }()
	return o, nil
}

// settings are the bench gateway's settings that turn the exports on.
func (o *observer) settings() map[string]any {
	return map[string]any{"otel": []map[string]any{{"url": o.url, "headers": map[string]string{}, "content_type": "json"}},
		"logpush": true, "logpush_public_key": o.key}
}

// scrape reads base/metrics every 5 s until stopped.
func (o *observer) scrape(base string) {
	t := time.NewTicker(5 * time.Second)
	defer t.Stop()
	for {
		select {
		case <-o.stop:
			return
		case <-t.C:
			if resp, err := http.Get(base + "/metrics"); err == nil {
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				o.scrapes.Add(1)
			}
		}
	}
}

// summary says what the exports delivered.
func (o *observer) summary() string {
	files, _ := filepath.Glob(filepath.Join(o.dir, "*", "*", "*", "*.log.gz"))
	var size int64
	for _, f := range files {
		if st, err := os.Stat(f); err == nil {
			size += st.Size()
		}
	}
	return fmt.Sprintf("observe: OTLP collector got %d requests (%.1f MB); Logpush wrote %d files (%.1f MB); /metrics scraped %d times",
		o.posts.Load(), float64(o.bytes.Load())/1e6, len(files), float64(size)/1e6, o.scrapes.Load())
}

func (o *observer) close() {
	close(o.stop)
	_ = o.srv.Close()
}
