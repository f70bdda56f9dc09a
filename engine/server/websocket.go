// websocket.go routes WebSocket upgrades on the data plane: /v1/{account}/{gateway} is
// the non-realtime universal socket (universal_socket.go), /v1/{account}/{gateway}/{provider}/...
// is a realtime session proxied to the provider (realtime.go). Both authenticate like any
// data-plane request, with the token in cf-aig-authorization or in the subprotocol list.
package server

import (
	"net/url"
	"strings"

	"github.com/fasthttp/websocket"
	"github.com/switchyard/switchyard/engine"
	"github.com/switchyard/switchyard/storage/config"
	"github.com/valyala/fasthttp"
)

// isUpgrade reports whether a data-plane request asks for a WebSocket.
func isUpgrade(ctx *fasthttp.RequestCtx) bool { return websocket.FastHTTPIsWebSocketUpgrade(ctx) }

// upgrade serves a WebSocket upgrade on the data plane.
func (s *Server) upgrade(ctx *fasthttp.RequestCtx, path []byte) {
	parts := strings.SplitN(string(path[len("/v1/"):]), "/", 4)
	if len(parts) < 2 || !config.ValidID(parts[0]) || !config.ValidID(parts[1]) {
		s.reject(ctx, engine.Errorf(404, engine.CodeMalformedPath, "malformed path: expected /v1/{account_id}/{gateway_id}[/{provider}]"))
		return
	}
	snap := s.opts.Config.Projection().Current()
	g := s.admit(ctx, snap, parts[0], parts[1])
	if g == nil {
		return
	}
	if len(parts) < 3 || parts[2] == "" {
		s.universalSocket(ctx, g)
		return
	}
	rest := "/"
	if len(parts) == 4 {
		rest += parts[3]
	}
	s.realtime(ctx, snap, g, parts[2], rest)
}

// allowOrigin decides whether a browser page may open a data-plane WebSocket. A request
// that presents a gateway token may come from any origin (the token, not a cookie,
// authenticates it); without one, only a page of the gateway's own origin may, so a
// third-party site cannot spend an open gateway's stored keys from a visitor's browser.
func allowOrigin(ctx *fasthttp.RequestCtx) bool {
	origin := string(ctx.Request.Header.Peek("Origin"))
	if origin == "" {
		return true // not a browser
	}
	if _, ok := gatewayToken(ctx); ok {
		return true
	}
	u, err := url.Parse(origin)
	return err == nil && strings.EqualFold(u.Host, string(ctx.Host()))
}
