// guard.go gives each request its gateway's guardrails (engine.Guard): the settings
// compiled once per version of the gateway and kept until they change, and the guard model
// resolved per request through the gateway's own provider adapters (SWITCHYARD_UPSTREAM_*
// overrides and custom providers included) with the gateway's stored key for that provider.
package server

import (
	"net/url"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/switchyard/switchyard/engine"
	"github.com/switchyard/switchyard/engine/providers"
	"github.com/switchyard/switchyard/engine/upstream"
	"github.com/switchyard/switchyard/storage/config"
	"github.com/valyala/fasthttp"
)

// guardChecks caches the compiled guardrails of each gateway: account/gateway → *guardCompiled.
type guardChecks struct {
	m          sync.Map
	clientOnce sync.Once
	client     *fasthttp.Client
}

type guardCompiled struct {
	gw       *config.Gateway // the settings compiled (a new snapshot value means new settings)
	check    *engine.GuardCheck
	settings *config.GuardrailsSettings // nil: guardrails off
}

// guardFor is req's guardrails on gateway g, nil when they are off. A gateway without
// guardrails costs one length check.
func (s *Server) guardFor(snap *config.Snapshot, g *config.Gateway, req *engine.Request) *engine.Guard {
	if len(g.Guardrails) == 0 {
		return nil
	}
	c := s.guardCompiled(g)
	if c.settings == nil {
		return nil
	}
	gs := c.settings
	m := &engine.GuardModel{Client: s.guardClient(), Account: req.AccountID, Model: gs.Model,
		Timeout: time.Duration(gs.TimeoutMs) * time.Millisecond}
	if p, fail := s.resolveProvider(snap, req.AccountID, gs.Provider); fail == nil {
		m.Provider = p
		if k := snap.KeyFor(req.AccountID, req.GatewayID, gs.Provider, ""); k != nil && k.Status() == "active" {
			if name, value, ok := p.Credential(k.Secret()); ok {
				m.Credential = &engine.Header{Key: name, Value: value}
			}
		}
	}
	return &engine.Guard{GuardCheck: c.check, Judge: &clientCredential{m: m, req: req}}
}

func (s *Server) guardCompiled(g *config.Gateway) *guardCompiled {
	key := g.AccountID + "/" + g.ID
	if v, ok := s.guard.m.Load(key); ok {
		if c := v.(*guardCompiled); c.gw == g {
			return c
		}
	}
	c := &guardCompiled{gw: g}
	gs, fail := config.ParseGuardrails(g.Guardrails)
	if fail != nil {
		s.opts.Logger.Error("guardrails cannot be read; the gateway's guardrails are off", "account", g.AccountID, "gateway", g.ID, "err", fail.Message)
	} else if gs != nil {
		c.settings = gs
		c.check = engine.NewGuardCheck(gs.Prompt, gs.Response, gs.Provider+"/"+gs.Model)
	}
	s.guard.m.Store(key, c)
	return c
}

// clientCredential judges with the gateway's stored key for the guard's provider; without
// one, when the request itself goes to that provider with the client's own credentials, it
// uses those (a Workers AI user's token judges their Workers AI calls).
type clientCredential struct {
	m    *engine.GuardModel
	req  *engine.Request
	once sync.Once
}

func (c *clientCredential) Judge(msgs []engine.GuardMessage) (engine.GuardVerdict, error) {
	c.once.Do(func() {
		m := c.m
		if m.Credential != nil || m.Provider == nil || m.Provider.AuthHeader == "" {
			return
		}
		targets := append([]*engine.Target{&c.req.Target}, c.req.Steps...)
		for _, t := range targets {
			if t == nil || t.Slug != m.Provider.Slug {
				continue
			}
			for _, h := range t.Header {
				if strings.EqualFold(h.Key, m.Provider.AuthHeader) && h.Value != "" {
					m.Credential = &engine.Header{Key: m.Provider.AuthHeader, Value: h.Value}
					return
				}
			}
		}
	})
	return c.m.Judge(msgs)
}

// guardClient is the client guard calls use: Options.GuardClient, or one built like the
// forwarder's, where only the SWITCHYARD_UPSTREAM_* hosts may be loopback addresses.
func (s *Server) guardClient() *fasthttp.Client {
	s.guard.clientOnce.Do(func() {
		if s.opts.GuardClient != nil {
			s.guard.client = s.opts.GuardClient
			return
		}
		hosts := map[string]bool{}
		for _, slug := range providers.Slugs() {
			if u, err := url.Parse(os.Getenv(providers.EnvOverride(slug))); err == nil && u.Host != "" {
				hosts[fasthttp.AddMissingPort(u.Host, u.Scheme == "https")] = true
			}
		}
		s.guard.client = upstream.New(upstream.Options{IdleTimeout: time.Minute, MaxConnsPerHost: 512,
			LoopbackOK: func(addr string) bool { return hosts[addr] }})
	})
	return s.guard.client
}
