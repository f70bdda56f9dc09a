// firewall.go gives each request its gateway's compiled DLP policies (engine.DLPCheck),
// compiled once per version of the gateway's settings and kept until they change, and
// resolves the profiles the policies name: the predefined ones (engine/dlp).
package server

import (
	"sync"

	"github.com/switchyard/switchyard/engine"
	"github.com/switchyard/switchyard/engine/dlp"
	"github.com/switchyard/switchyard/storage/config"
)

// dlpChecks caches the compiled policies of each gateway: account/gateway → *dlpCompiled.
type dlpChecks struct{ m sync.Map }

type dlpCompiled struct {
	gw    *config.Gateway  // the settings compiled (a new snapshot value means new settings)
	check *engine.DLPCheck // nil: DLP off, or nothing to check
}

// predefinedProfiles are engine/dlp's built-in profiles by id.
var predefinedProfiles = func() map[string]dlp.Profile {
	m := map[string]dlp.Profile{}
	for _, p := range dlp.Predefined() {
		m[p.ID] = p
	}
	return m
}()

// dlpCheck is g's compiled DLP policies, nil when DLP is off. A gateway without DLP costs
// one map lookup.
func (s *Server) dlpCheck(snap *config.Snapshot, g *config.Gateway) *engine.DLPCheck {
	if len(g.DLP) == 0 {
		return nil
	}
	key := g.AccountID + "/" + g.ID
	if v, ok := s.dlp.m.Load(key); ok {
		if c := v.(*dlpCompiled); c.gw == g {
			return c.check
		}
	}
	c := &dlpCompiled{gw: g}
	d, fail := config.ParseDLP(g.DLP)
	if fail == nil && d != nil {
		policies := make([]engine.DLPPolicy, len(d.Policies))
		for i, p := range d.Policies {
			policies[i] = engine.DLPPolicy{ID: p.ID, Profiles: p.Profiles, Action: p.Action, Request: p.Request, Response: p.Response}
		}
		check, err := engine.NewDLPCheck(policies, func(id string) (dlp.Profile, bool) { return s.dlpProfile(snap, g.AccountID, id) })
		if err != nil {
			s.opts.Logger.Error("DLP policies cannot be compiled; the gateway's DLP is off", "account", g.AccountID, "gateway", g.ID, "err", err)
		} else {
			c.check = check
		}
	}
	s.dlp.m.Store(key, c)
	return c.check
}

// dlpProfile finds a profile the account can use: a predefined one.
func (s *Server) dlpProfile(_ *config.Snapshot, _, id string) (dlp.Profile, bool) {
	p, ok := predefinedProfiles[id]
	return p, ok
}

// KnownDLPProfile says whether id names a DLP profile acct can use (for the config service).
func KnownDLPProfile(acct, id string) bool {
	_, ok := predefinedProfiles[id]
	return ok
}
