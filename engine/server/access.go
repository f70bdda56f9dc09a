// access.go decides, from the configuration snapshot, whether a data-plane request may
// go on: the gateway exists (or is the auto-created `default`), the cf-aig-authorization
// token is valid where the gateway requires one, the provider is built in or a custom
// provider of the account, and which stored key (BYOK) it uses. One atomic snapshot load;
// no store lookup.
package server

import (
	"context"
	"strings"
	"time"

	"github.com/switchyard/switchyard/engine"
	"github.com/switchyard/switchyard/engine/providers"
	"github.com/switchyard/switchyard/storage/config"
	"github.com/valyala/fasthttp"
)

// subprotocolToken is the Sec-WebSocket-Protocol entry a browser uses to send its gateway
// token, since browsers cannot set headers on a WebSocket: "cf-aig-authorization.<token>".
const subprotocolToken = "cf-aig-authorization."

// gatewayToken is the gateway token a data-plane request presents: the
// cf-aig-authorization bearer header or, on a WebSocket upgrade, the subprotocol entry.
func gatewayToken(ctx *fasthttp.RequestCtx) (string, bool) {
	if v, ok := config.Bearer(ctx.Request.Header.Peek(gatewayTokenHeader)); ok {
		return v, true
	}
	for _, p := range subprotocols(ctx) {
		if v, ok := strings.CutPrefix(p, subprotocolToken); ok && v != "" {
			return strings.TrimPrefix(v, "Bearer "), true
		}
	}
	return "", false
}

// subprotocols lists the Sec-WebSocket-Protocol entries of a request, in order.
func subprotocols(ctx *fasthttp.RequestCtx) []string {
	var out []string
	for _, v := range ctx.Request.Header.PeekAll("Sec-WebSocket-Protocol") {
		for _, p := range strings.Split(string(v), ",") {
			if p = strings.TrimSpace(p); p != "" {
				out = append(out, p)
			}
		}
	}
	return out
}

// admit resolves the gateway and checks its authentication. It answers the client itself
// and returns nil when the request must stop here (unknown gateway, failed authentication):
// those requests are not logged, so they cannot fill a gateway's log.
func (s *Server) admit(ctx *fasthttp.RequestCtx, snap *config.Snapshot, acct, gw string) *config.Gateway {
	var who config.Principal
	tokenOK := false
	if v, ok := gatewayToken(ctx); ok {
		if p, found := snap.Identify(s.opts.AdminToken, v); found && p.Can(config.PermRun, acct, gw) {
			who, tokenOK = p, true
		}
	}
	g := snap.Gateway(acct, gw)
	if g == nil && gw == config.DefaultGatewayID && tokenOK {
		c, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		var err error
		if g, err = s.opts.Config.EnsureDefaultGateway(c, who.Actor(), acct); err != nil {
			s.opts.Logger.Error("create default gateway", "account", acct, "err", err)
			s.reject(ctx, engine.Errorf(500, engine.CodeInternal, "the default gateway could not be created"))
			return nil
		}
	}
	switch {
	case g == nil && gw == config.DefaultGatewayID:
		s.reject(ctx, engine.Errorf(401, engine.CodeUnauthorized, "Unauthorized: the default gateway is created by the first request with a valid cf-aig-authorization token"))
		return nil
	case g == nil:
		s.reject(ctx, engine.Errorf(404, engine.CodeGatewayNotFound, "gateway "+gw+" not found in account "+acct))
		return nil
	case g.Authentication && !tokenOK:
		s.reject(ctx, engine.Errorf(401, engine.CodeUnauthorized, "Unauthorized: this gateway requires a valid cf-aig-authorization: Bearer <token> header with run permission"))
		return nil
	}
	return g
}

// resolveProvider finds a built-in provider or one of the account's custom providers.
func (s *Server) resolveProvider(snap *config.Snapshot, acct, slug string) (*providers.Resolved, *engine.GatewayError) {
	p, err := snap.ResolveProvider(s.opts.Providers, acct, slug)
	if err != nil {
		return nil, engine.Errorf(400, engine.CodeUnknownProvider, err.Error())
	}
	return p, nil
}

// attachKey puts a stored key on t when the client sent no provider credentials, or
// named one with cf-aig-byok-alias. The key goes in t.Credential only. header reads the
// headers the target was sent with (the client's, or a universal step's).
func (s *Server) attachKey(snap *config.Snapshot, req *engine.Request, t *engine.Target, header func(string) string) *engine.GatewayError {
	if t.Provider.ServiceAccounts {
		return s.serviceAccountKey(snap, req, t, header)
	}
	alias := header("cf-aig-byok-alias")
	if alias == "" && header(t.Provider.AuthHeader) != "" {
		return nil // the client brought its own credentials
	}
	k, fail := s.storedKey(snap, req, t, t.Slug, alias)
	if k == nil || fail != nil {
		return fail
	}
	name, value, ok := t.Provider.Credential(k.Secret())
	if !ok {
		return engine.Errorf(400, engine.CodeStoredKey, "provider "+t.Slug+" signs each request and cannot use a stored key")
	}
	t.Credential = &engine.Header{Key: name, Value: value}
	return nil
}

// serviceAccountKey authenticates a Vertex AI call in the reference's three ways: a stored
// key (a service account JSON with its region), a base64 service account JSON in the
// client's Authorization (with or without "Bearer "), both exchanged for an access token
// that is cached until near expiry, or the client's own access token, forwarded as sent.
// An exchanged token goes in t.Credential, replacing the client's Authorization upstream.
func (s *Server) serviceAccountKey(snap *config.Snapshot, req *engine.Request, t *engine.Target, header func(string) string) *engine.GatewayError {
	alias, key, stored := header("cf-aig-byok-alias"), strings.TrimSpace(header("Authorization")), false
	if v, ok := config.Bearer([]byte(key)); ok {
		key = v
	}
	if alias != "" || key == "" {
		k, fail := s.storedKey(snap, req, t, t.Slug, alias)
		if k == nil || fail != nil {
			return fail
		}
		key, stored = k.Secret(), true
	}
	value, exchanged, cerr := s.opts.Compat.VertexAuthorization(key)
	if cerr != nil {
		code := engine.CodeProviderAuth
		if cerr.Status == 504 {
			code = engine.CodeUpstreamTimeout
		}
		what := "the service account in Authorization"
		if stored {
			what = "stored key " + t.KeyAlias
		}
		return engine.Errorf(cerr.Status, code, what+": "+cerr.Message)
	}
	if exchanged || stored {
		t.Credential = &engine.Header{Key: "Authorization", Value: value}
	}
	return nil
}

// storedKey finds the gateway's stored key for a provider (by alias, or "default"),
// checks it can be opened and is within its own rate limit, and names it on t. No key
// and no alias is not an error: the request goes on without one.
func (s *Server) storedKey(snap *config.Snapshot, req *engine.Request, t *engine.Target, slug, alias string) (*config.ProviderKey, *engine.GatewayError) {
	k := snap.KeyFor(req.AccountID, req.GatewayID, slug, alias)
	if k == nil {
		if alias != "" {
			return nil, engine.Errorf(400, engine.CodeStoredKey, "no stored key with alias "+strings.ReplaceAll(alias, "\"", "")+" for provider "+slug+" on gateway "+req.GatewayID)
		}
		return nil, nil // forwarded as sent; the provider answers its own 401
	}
	if k.Status() != "active" {
		return nil, engine.Errorf(500, engine.CodeStoredKey, "stored key "+k.Alias+" for "+slug+" cannot be opened (was the master key changed?)")
	}
	if !s.keyLimit.Allow(k.ID, k.RateLimit, k.RateLimitPeriod, req.ReceivedAt) {
		return nil, engine.Errorf(429, engine.CodeRateLimited, "Rate limited: stored key "+k.Alias+" for "+slug+" is over its rate_limit")
	}
	t.KeyID, t.KeyAlias = k.ID, k.Alias
	return k, nil
}
