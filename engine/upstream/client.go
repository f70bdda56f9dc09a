// Package upstream is the HTTP client the gateway uses to call providers: fasthttp with
// streamed response bodies and an idle timeout on every read, so a silent upstream is cut
// off instead of hanging a request forever.
package upstream

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"net/http"
	"sync/atomic"
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
	// TLS, when set, is the base TLS configuration (tests trust their own certificate).
	TLS *tls.Config
	// LoopbackOK reports whether connections to an upstream "host:port" (as the URL names
	// it) may reach a loopback address once its name is resolved: true for the operator's
	// own SWITCHYARD_UPSTREAM_* hosts. Nil lets every host (--allow-insecure-upstreams).
	LoopbackOK func(addr string) bool
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
	d := Dialer(o.DialTimeout)
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
		ConfigureClient: func(hc *fasthttp.HostClient) error {
			hd := d
			if o.LoopbackOK != nil && !o.LoopbackOK(hc.Addr) {
				strict := *d
				strict.Control = refuseForbiddenOrLoopback
				hd = &strict
			}
			hc.Dial = dialFunc(hd, o, hc.IsTLS)
			return nil
		},
	}
}

// dialFunc connects to an upstream. For https it also runs the TLS handshake (bounded by
// the dial timeout) and puts the idle and first-byte deadlines above TLS, so they count
// answer bytes, not TLS records: a session ticket arriving after the handshake must not
// pass for the answer's first byte.
func dialFunc(d *net.Dialer, o Options, isTLS bool) fasthttp.DialFunc {
	sessions := tls.NewLRUClientSessionCache(64)
	return func(addr string) (net.Conn, error) {
		addr = fasthttp.AddMissingPort(addr, isTLS)
		c, err := d.Dial("tcp", addr)
		if err != nil || !isTLS {
			if err != nil {
				return nil, err
			}
			return &idleConn{Conn: c, idle: o.IdleTimeout}, nil
		}
		host, _, _ := net.SplitHostPort(addr)
		cfg := &tls.Config{ServerName: host, ClientSessionCache: sessions, MinVersion: tls.VersionTLS12}
		if o.TLS != nil {
			cfg = o.TLS.Clone()
			cfg.ServerName, cfg.ClientSessionCache = host, sessions
		}
		tc := tls.Client(c, cfg)
		ctx, cancel := context.WithTimeout(context.Background(), o.DialTimeout)
		defer cancel()
		if err := tc.HandshakeContext(ctx); err != nil {
			_ = c.Close()
			return nil, err
		}
		return tlsIdleConn{&idleConn{Conn: tc, idle: o.IdleTimeout}}, nil
	}
}

// tlsIdleConn is an idleConn over a finished TLS connection; its Handshake method tells
// fasthttp the connection is TLS already, so it is not wrapped a second time.
type tlsIdleConn struct{ *idleConn }

func (tlsIdleConn) Handshake() error { return nil }

// retryStale resends a request once when a pooled keep-alive connection turned out to
// be closed by the upstream before it answered — nothing reached the provider, so the
// retry cannot duplicate work. Streamed bodies cannot be resent and are never retried.
func retryStale(req *fasthttp.Request, attempts int, err error) (bool, bool) {
	if attempts > 1 || req.IsBodyStream() {
		return false, false
	}
	return false, errors.Is(err, io.EOF) || errors.Is(err, fasthttp.ErrConnectionClosed)
}

// idleConn moves the read deadline forward before every read, so a stream may last as
// long as bytes keep coming. A deadline set through SetReadDeadline (fasthttp sets the
// request's timeout there before reading an answer) bounds only the wait for the answer's
// first byte: once a read returns data it is spent, and the stream that follows is
// bounded by the idle timeout alone.
type idleConn struct {
	net.Conn
	idle      time.Duration
	firstByte atomic.Int64 // unix nanoseconds; 0 when no first-byte deadline is pending
}

func (c *idleConn) Read(p []byte) (int, error) {
	d := time.Now().Add(c.idle)
	if fb := c.firstByte.Load(); fb != 0 && fb < d.UnixNano() {
		d = time.Unix(0, fb)
	}
	if err := c.Conn.SetReadDeadline(d); err != nil {
		return 0, err
	}
	n, err := c.Conn.Read(p)
	if n > 0 {
		c.firstByte.Store(0)
	}
	return n, err
}

// SetReadDeadline records t as the first-byte deadline of the next answer (zero: none).
func (c *idleConn) SetReadDeadline(t time.Time) error {
	if t.IsZero() {
		c.firstByte.Store(0)
	} else {
		c.firstByte.Store(t.UnixNano())
	}
	return nil
}

// SetDeadline sets the write deadline and the first-byte deadline.
func (c *idleConn) SetDeadline(t time.Time) error {
	_ = c.SetReadDeadline(t)
	return c.Conn.SetWriteDeadline(t)
}

// HTTPClient is a net/http client with the same address guard, for the few calls made
// with libraries that need one (the Vertex AI OAuth token exchange).
func HTTPClient(timeout time.Duration) *http.Client {
	d := Dialer(0)
	return &http.Client{Timeout: timeout, Transport: &http.Transport{DialContext: d.DialContext, Proxy: nil,
		MaxIdleConnsPerHost: 4, IdleConnTimeout: 90 * time.Second, TLSHandshakeTimeout: 10 * time.Second}}
}
