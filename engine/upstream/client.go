// Package upstream is the HTTP client the gateway uses to call providers: fasthttp with
// streamed response bodies and an idle timeout on every read, so a silent upstream is cut
// off instead of hanging a request forever.
package upstream

import (
	"errors"
	"io"
	"net"
	"net/http"
	"time"

	"github.com/valyala/fasthttp"
)

// Options tunes the client.
type Options struct {
	// IdleTimeout bounds the wait for any byte from the upstream: the first byte of the
	// answer and every gap in a stream. Zero means 5 minutes.
	IdleTimeout time.Duration
	// DialTimeout bounds connection set-up. Zero means 10 seconds.
	DialTimeout time.Duration
	// MaxConnsPerHost bounds connections per upstream host. Zero means 4096.
	MaxConnsPerHost int
}

// New builds the client.
func New(o Options) *fasthttp.Client {
	if o.IdleTimeout == 0 {
		o.IdleTimeout = 5 * time.Minute
	}
	if o.DialTimeout == 0 {
		o.DialTimeout = 10 * time.Second
	}
	if o.MaxConnsPerHost == 0 {
		o.MaxConnsPerHost = 4096
	}
	d := &net.Dialer{Timeout: o.DialTimeout, KeepAlive: 30 * time.Second, Control: refuseForbidden}
	return &fasthttp.Client{
		Name:                          "switchyard",
		NoDefaultUserAgentHeader:      true,
		StreamResponseBody:            true,
		MaxConnsPerHost:               o.MaxConnsPerHost,
		MaxIdleConnDuration:           90 * time.Second,
		DisableHeaderNamesNormalizing: true,
		DisablePathNormalizing:        true,
		ReadBufferSize:                16 << 10,
		WriteBufferSize:               16 << 10,
		MaxResponseBodySize:           0,
		RetryIfErr:                    retryStale,
		Dial: func(addr string) (net.Conn, error) {
			c, err := d.Dial("tcp", addr)
			if err != nil {
				return nil, err
			}
			return &idleConn{Conn: c, idle: o.IdleTimeout}, nil
		},
	}
}

// retryStale resends a request once when a pooled keep-alive connection turned out to
// be closed by the upstream before it answered — nothing reached the provider, so the
// retry cannot duplicate work. Streamed bodies cannot be resent and are never retried.
func retryStale(req *fasthttp.Request, attempts int, err error) (bool, bool) {
	if attempts > 1 || req.IsBodyStream() {
		return false, false
	}
	return false, errors.Is(err, io.EOF) || errors.Is(err, fasthttp.ErrConnectionClosed)
}

// idleConn moves the read deadline forward before every read.
type idleConn struct {
	net.Conn
	idle time.Duration
}

func (c *idleConn) Read(p []byte) (int, error) {
	if err := c.Conn.SetReadDeadline(time.Now().Add(c.idle)); err != nil {
		return 0, err
	}
	return c.Conn.Read(p)
}

// HTTPClient is a net/http client with the same address guard, for the few calls made
// with libraries that need one (the Vertex AI OAuth token exchange).
func HTTPClient(timeout time.Duration) *http.Client {
	d := &net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second, Control: refuseForbidden}
	return &http.Client{Timeout: timeout, Transport: &http.Transport{DialContext: d.DialContext, Proxy: nil,
		MaxIdleConnsPerHost: 4, IdleConnTimeout: 90 * time.Second, TLSHandshakeTimeout: 10 * time.Second}}
}
