// projection.go applies config.changed events to the Snapshot, in stream order, and
// keeps the audit trail. It lives in memory: at start it is rebuilt from the whole config
// stream (kept forever, and small), so a restart rebuilds the same snapshot.
package config

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/switchyard/switchyard/events"
)

// SecretSource reads sealed provider keys (events.Bus).
type SecretSource interface {
	GetSecret(ctx context.Context, name string) ([]byte, error)
}

// AuditEntry is one change in a subset of the hosted audit-log shape.
type AuditEntry struct {
	ID           string          `json:"id"`
	Action       AuditAction     `json:"action"`
	Actor        events.Actor    `json:"actor"`
	Interface    string          `json:"interface"`
	Metadata     map[string]any  `json:"metadata"`
	NewValueJSON json.RawMessage `json:"newValueJson"`
	OldValueJSON json.RawMessage `json:"oldValueJson"`
	Owner        AuditOwner      `json:"owner"`
	Resource     AuditResource   `json:"resource"`
	When         time.Time       `json:"when"`
}

// AuditAction says what was done.
type AuditAction struct {
	Info   string `json:"info"`
	Result bool   `json:"result"`
	Type   string `json:"type"`
}

// AuditOwner is the account.
type AuditOwner struct {
	ID string `json:"id"`
}

// AuditResource is what was changed; Type is "ai_gateway.<resource>".
type AuditResource struct {
	ID   string `json:"id"`
	Type string `json:"type"`
}

// AuditQuery filters the audit trail. Empty fields match everything.
type AuditQuery struct {
	AccountID    string
	ResourceType string // "gateway" or "ai_gateway.gateway"
	ResourceID   string
	Since        time.Time
	Before       time.Time
}

// Projection is the config projection.
type Projection struct {
	cur     atomic.Pointer[Snapshot]
	secrets SecretSource
	sealer  *Sealer
	log     *slog.Logger

	mu      sync.Mutex
	audit   []AuditEntry
	changed chan struct{} // closed and replaced at each applied event
}

// NewProjection starts from an empty configuration.
func NewProjection(secrets SecretSource, sealer *Sealer, log *slog.Logger) *Projection {
	if log == nil {
		log = slog.Default()
	}
	p := &Projection{secrets: secrets, sealer: sealer, log: log, changed: make(chan struct{})}
	p.cur.Store(emptySnapshot())
	return p
}

// Current is the snapshot in force: one atomic load, no lock, no store lookup.
func (p *Projection) Current() *Snapshot { return p.cur.Load() }

// WaitFor blocks until the projection has applied sequence seq (or ctx ends).
func (p *Projection) WaitFor(ctx context.Context, seq uint64) error {
	for {
		p.mu.Lock()
		ch := p.changed
		p.mu.Unlock()
		if p.Current().Seq >= seq {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return fmt.Errorf("config projection at %d, waiting for %d: %w", p.Current().Seq, seq, ctx.Err())
		}
	}
}

// Apply applies one event. Events it cannot decode are skipped (and logged): one bad event
// must not wedge every node's configuration.
func (p *Projection) Apply(m events.Msg) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	cur := p.cur.Load()
	if m.Seq <= cur.Seq {
		return nil
	}
	next := cur.clone()
	next.Seq = m.Seq
	env, err := events.Decode(m.Data)
	var c events.ConfigChanged
	if err == nil {
		c, err = events.DecodeConfigChanged(env)
	}
	if err == nil {
		err = p.apply(next, cur, c)
	}
	if err != nil {
		p.log.Error("config event skipped", "seq", m.Seq, "err", err)
	} else {
		p.audit = append(p.audit, auditEntry(env, c))
	}
	p.cur.Store(next)
	close(p.changed)
	p.changed = make(chan struct{})
	return nil
}

func (p *Projection) apply(next, cur *Snapshot, c events.ConfigChanged) error {
	del := c.Action == "delete"
	switch c.Resource {
	case ResGateway:
		key := c.AccountID + "/" + c.ResourceID
		if del {
			delete(next.gateways, key)
			for id, k := range next.keys { // a gateway's stored keys go with it
				if k.AccountID == c.AccountID && k.GatewayID == c.ResourceID {
					next.dropKey(id)
				}
			}
			next.dropGatewayEvals(c.AccountID, c.ResourceID)
			next.dropGatewayRoutes(c.AccountID, c.ResourceID)
			return nil
		}
		var g Gateway
		if err := json.Unmarshal(c.New, &g); err != nil {
			return err
		}
		next.gateways[key] = &g
	case ResToken:
		if del {
			delete(next.tokens, c.ResourceID)
			return nil
		}
		var t Token
		if err := json.Unmarshal(c.New, &t); err != nil {
			return err
		}
		next.tokens[t.ID] = &t
	case ResProviderConfig:
		next.dropKey(c.ResourceID)
		if del {
			return nil
		}
		var k ProviderKey
		if err := json.Unmarshal(c.New, &k); err != nil {
			return err
		}
		p.unseal(cur, &k)
		next.keys[k.ID] = &k
		prefix := k.AccountID + "/" + k.GatewayID + "/" + k.ProviderSlug + "/"
		next.keyAlias[prefix+k.Alias] = &k
		if k.DefaultConfig {
			next.keyAlias[prefix+"\x00default_config"] = &k
		}
	case ResCustomProvider:
		if old := next.customs[c.ResourceID]; old != nil {
			delete(next.customSlug, old.AccountID+"/"+old.Slug)
			delete(next.customs, c.ResourceID)
		}
		if del {
			return nil
		}
		var cp CustomProvider
		if err := json.Unmarshal(c.New, &cp); err != nil {
			return err
		}
		next.customs[cp.ID] = &cp
		next.customSlug[cp.AccountID+"/"+cp.Slug] = &cp
	case ResDataset:
		return next.applyDataset(c)
	case ResEvaluation:
		return next.applyEvaluation(c)
	case ResRoute, ResRouteVersion, ResRouteDeployment:
		return next.applyRoute(c)
	case ResDLPProfile:
		return next.applyDLPProfile(c)
	default:
		return fmt.Errorf("unknown resource %q", c.Resource)
	}
	return nil
}

// dropKey removes a stored key and its alias entries.
func (s *Snapshot) dropKey(id string) {
	k := s.keys[id]
	if k == nil {
		return
	}
	delete(s.keys, id)
	prefix := k.AccountID + "/" + k.GatewayID + "/" + k.ProviderSlug + "/"
	if s.keyAlias[prefix+k.Alias] == k {
		delete(s.keyAlias, prefix+k.Alias)
	}
	if s.keyAlias[prefix+"\x00default_config"] == k {
		delete(s.keyAlias, prefix+"\x00default_config")
	}
}

// unseal fills k's clear secret: reused from the previous version when the sealed
// reference did not change, else read from the bucket and opened with the master key.
func (p *Projection) unseal(cur *Snapshot, k *ProviderKey) {
	if old := cur.keys[k.ID]; old != nil && old.SecretRef == k.SecretRef && old.status == "active" {
		k.secret, k.status = old.secret, old.status
		return
	}
	for _, old := range cur.keys {
		if old.SecretRef == k.SecretRef && old.status == "active" {
			k.secret, k.status = old.secret, old.status
			return
		}
	}
	k.status = "unavailable"
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	sealed, err := p.secrets.GetSecret(ctx, k.SecretRef)
	if err != nil {
		p.log.Warn("stored provider key unavailable", "key_id", k.ID, "alias", k.Alias, "err", err)
		return
	}
	clear, err := p.sealer.Open(sealed, []byte(k.AccountID+"/"+k.SecretRef))
	if err != nil {
		p.log.Warn("stored provider key cannot be opened (another master key?)", "key_id", k.ID, "alias", k.Alias)
		return
	}
	k.secret, k.status = string(clear), "active"
}

func auditEntry(env events.Envelope, c events.ConfigChanged) AuditEntry {
	info := strings.ReplaceAll(c.Resource, "_", " ") + " " + c.Action + "d"
	e := AuditEntry{
		ID:           env.ID,
		Action:       AuditAction{Info: info, Result: true, Type: c.Action},
		Actor:        c.Actor,
		Interface:    "API",
		Metadata:     map[string]any{},
		NewValueJSON: auditValue(c.New),
		OldValueJSON: auditValue(c.Old),
		Owner:        AuditOwner{ID: c.AccountID},
		Resource:     AuditResource{ID: c.ResourceID, Type: "ai_gateway." + c.Resource},
		When:         env.Time,
	}
	if c.GatewayID != "" {
		e.Metadata["gateway_id"] = c.GatewayID
	}
	return e
}

// auditValue shows a stored value without token hashes and salts (secrets are never in
// events to begin with).
func auditValue(raw []byte) json.RawMessage {
	if len(raw) == 0 || string(raw) == "null" {
		return json.RawMessage(`{}`)
	}
	var m map[string]any
	if json.Unmarshal(raw, &m) != nil {
		return json.RawMessage(`{}`)
	}
	delete(m, "hash")
	delete(m, "salt")
	delete(m, "secret_ref")
	b, _ := json.Marshal(m)
	return b
}

// Audit returns the entries matching q, newest first.
func (p *Projection) Audit(q AuditQuery) []AuditEntry {
	p.mu.Lock()
	defer p.mu.Unlock()
	rt := q.ResourceType
	if rt != "" && !strings.HasPrefix(rt, "ai_gateway.") {
		rt = "ai_gateway." + rt
	}
	var out []AuditEntry
	for i := len(p.audit) - 1; i >= 0; i-- {
		e := p.audit[i]
		switch {
		case q.AccountID != "" && e.Owner.ID != q.AccountID,
			rt != "" && e.Resource.Type != rt,
			q.ResourceID != "" && e.Resource.ID != q.ResourceID,
			!q.Since.IsZero() && e.When.Before(q.Since),
			!q.Before.IsZero() && !e.When.Before(q.Before):
			continue
		}
		out = append(out, e)
	}
	return out
}

// Follow runs the projection on the bus until ctx ends.
func (p *Projection) Follow(ctx context.Context, bus interface {
	FollowConfig(context.Context, func(events.Msg) error) error
}) error {
	return bus.FollowConfig(ctx, p.Apply)
}
