// Lingering close for connections the gateway refuses while the client is still sending.
//
// When a request cannot be read (headers over the read buffer, broken HTTP), the gateway
// answers in its JSON shape and closes the connection with the rest of the request unread.
// Closing a socket with unread input makes the kernel send a reset, which can destroy the
// answer in the client's receive buffer before the client reads it: the user sees
// "connection reset by peer" instead of the 431. A refused connection therefore shuts its
// write side first (the client sees the end of the answer) and discards what is still
// arriving, for a bounded time and amount, before it closes.
package server

import (
	"io"
	"net"
	"sync/atomic"
	"time"
)

const (
	lingerTime  = time.Second
	lingerBytes = 1 << 20
)

// lingerListener hands out connections that can linger when closed.
type lingerListener struct{ net.Listener }

func (l lingerListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &lingerConn{Conn: c}, nil
}

// lingerConn is a connection that drains its input on Close once marked.
type lingerConn struct {
	net.Conn
	linger atomic.Bool
}

// lingerOnClose marks c (a connection from lingerListener) to drain its input when closed.
func lingerOnClose(c net.Conn) {
	if lc, ok := c.(*lingerConn); ok {
		lc.linger.Store(true)
	}
}

func (c *lingerConn) Close() error {
	if c.linger.Load() {
		if hc, ok := c.Conn.(interface{ CloseWrite() error }); ok && hc.CloseWrite() == nil {
			_ = c.Conn.SetReadDeadline(time.Now().Add(lingerTime))
			_, _ = io.CopyN(io.Discard, c.Conn, lingerBytes)
		}
	}
	return c.Conn.Close()
}
