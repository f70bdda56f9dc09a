// firewall.go gives each request its gateway's compiled DLP policies (engine.DLPCheck),
// compiled once per version of the gateway's settings and of the account's custom profiles
// and kept until either changes, and resolves the profiles the policies name: the predefined
// ones (engine/dlp) and the account's custom profiles (config snapshot).
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
	gw       *config.Gateway  // the settings compiled (a new snapshot value means new settings)
	profiles uint64           // the account's custom profiles version compiled
	check    *engine.DLPCheck // nil: DLP off, or nothing to check
}

// dlpCheck is g's compiled DLP policies, nil when DLP is off. A gateway without DLP costs
// one map lookup.
func (s *Server) dlpCheck(snap *config.Snapshot, g *config.Gateway) *engine.DLPCheck {
	if len(g.DLP) == 0 {
		return nil
	}
	key := g.AccountID + "/" + g.ID
	version := snap.DLPProfilesVersion(g.AccountID)
	if v, ok := s.dlp.m.Load(key); ok {
		if c := v.(*dlpCompiled); c.gw == g && c.profiles == version {
			return c.check
		}
	}
	c := &dlpCompiled{gw: g, profiles: version}
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

// dlpProfile finds a profile the account can use: a predefined one, or one of the account's
// custom profiles in snap.
func (s *Server) dlpProfile(snap *config.Snapshot, acct, id string) (dlp.Profile, bool) {
	return findDLPProfile(snap, acct, id)
}

func findDLPProfile(snap *config.Snapshot, acct, id string) (dlp.Profile, bool) {
	if p, ok := dlp.PredefinedByID(id); ok {
		return p, true
	}
	if snap != nil {
		if p := snap.DLPProfile(acct, id); p != nil {
			return p.Detector(), true
		}
	}
	return dlp.Profile{}, false
}

// KnownDLPProfile answers the config service's hook: whether id names a DLP profile acct can
// use, predefined or custom in the projection's current snapshot (the one a write validates
// against).
func KnownDLPProfile(proj *config.Projection) func(acct, id string) bool {
	return func(acct, id string) bool {
		_, ok := findDLPProfile(proj.Current(), acct, id)
		return ok
	}
}
