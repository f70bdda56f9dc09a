// dial.go gives connections the gateway opens outside the HTTP client (realtime
// WebSockets) the same SSRF guard: a net.Dialer whose Control hook refuses link-local,
// metadata, unspecified and multicast addresses after name resolution.
package upstream

import (
	"net"
	"time"
)

// Dialer returns a net.Dialer with the SSRF guard, the given connect timeout (10 seconds
// when zero) and TCP keep-alives, for upstream connections such as realtime WebSockets.
func Dialer(timeout time.Duration) *net.Dialer {
	if timeout == 0 {
		timeout = 10 * time.Second
	}
	return &net.Dialer{Timeout: timeout, KeepAlive: 30 * time.Second, Control: refuseForbidden}
}
