// keys.go: stored provider keys (BYOK, the hosted provider_configs). The key is sealed
// with the master key and put in the secrets bucket under a fresh reference before the
// event is appended; the event names the reference, never the key.
package config

import (
	"context"
	"strings"

	"github.com/oklog/ulid/v2"
	"github.com/switchyard/switchyard/events"
)

// ProviderKeyInput is the body of a provider_configs create or update.
type ProviderKeyInput struct {
	ProviderSlug    *string  `json:"provider_slug"`
	Alias           *string  `json:"alias"`
	DefaultConfig   *bool    `json:"default_config"`
	Secret          *string  `json:"secret"`
	SecretID        *string  `json:"secret_id"`
	RateLimit       *float64 `json:"rate_limit"`
	RateLimitPeriod *float64 `json:"rate_limit_period"`
}

// preview masks a key: its first three and last four characters when it is long enough.
func preview(secret string) string {
	if len(secret) >= 16 {
		return secret[:3] + "…" + secret[len(secret)-4:]
	}
	return "…" + strings.Repeat("*", 4)
}

// seal stores a new key under a fresh reference and returns the reference.
func (s *Service) seal(ctx context.Context, acct, secretID, secret string) (string, error) {
	ref := secretID + "." + strings.ToLower(ulid.Make().String())
	sealed, err := s.sealer.Seal([]byte(secret), []byte(acct+"/"+ref))
	if err != nil {
		return "", err
	}
	return ref, s.bus.PutSecret(ctx, ref, sealed)
}

// applyKeyInput validates in against snap and fills k; a new secret is sealed and stored
// under a fresh reference (last, once everything else is valid).
func (s *Service) applyKeyInput(ctx context.Context, snap *Snapshot, k *ProviderKey, in *ProviderKeyInput, create bool) *Error {
	if in.ProviderSlug != nil {
		if !create && *in.ProviderSlug != k.ProviderSlug {
			return invalid("provider_slug cannot be changed; create a new key", "body", "provider_slug")
		}
		k.ProviderSlug = *in.ProviderSlug
	}
	if k.ProviderSlug == "" {
		return invalid("provider_slug is required", "body", "provider_slug")
	}
	if s.KnownProvider != nil && !s.KnownProvider(k.AccountID, k.ProviderSlug) {
		return invalid("unknown provider "+k.ProviderSlug, "body", "provider_slug")
	}
	if in.Alias != nil {
		k.Alias = *in.Alias
	}
	if !ValidID(k.Alias) {
		return invalid("alias must be 1-64 letters, digits, '-' or '_'", "body", "alias")
	}
	if in.DefaultConfig != nil {
		k.DefaultConfig = *in.DefaultConfig
	}
	prefix := k.AccountID + "/" + k.GatewayID + "/" + k.ProviderSlug + "/"
	if o := snap.keyAlias[prefix+k.Alias]; o != nil && o.ID != k.ID {
		return &Error{Status: 409, Code: CodeConflict, Message: "a key with alias " + k.Alias + " already exists for " + k.ProviderSlug, Path: []string{"body", "alias"}}
	}
	if o := snap.keyAlias[prefix+"\x00default_config"]; k.DefaultConfig && o != nil && o.ID != k.ID {
		return &Error{Status: 409, Code: CodeConflict, Message: "key " + o.Alias + " is already the default_config key for " + k.ProviderSlug, Path: []string{"body", "default_config"}}
	}
	if in.RateLimit != nil {
		k.RateLimit = *in.RateLimit
	}
	if in.RateLimitPeriod != nil {
		k.RateLimitPeriod = *in.RateLimitPeriod
	}
	if k.RateLimit < 0 {
		return invalid("rate_limit must not be negative", "body", "rate_limit")
	}
	if k.RateLimitPeriod < 0 || (k.RateLimit > 0 && k.RateLimitPeriod == 0) {
		return invalid("rate_limit_period (seconds) must be positive when rate_limit is set", "body", "rate_limit_period")
	}
	switch {
	case in.Secret != nil:
		if s.CheckSecret != nil && *in.Secret != "" && len(*in.Secret) <= maxSecretLen {
			v, err := s.CheckSecret(k.ProviderSlug, *in.Secret)
			if err != nil {
				return invalid("secret: "+err.Error(), "body", "secret")
			}
			in.Secret = &v
		}
		if *in.Secret == "" || len(*in.Secret) > maxSecretLen {
			return invalid("secret must be 1-8192 characters", "body", "secret")
		}
		if strings.ContainsAny(*in.Secret, "\r\n") {
			return invalid("secret must be a single line", "body", "secret")
		}
		if k.SecretID == "" {
			k.SecretID = strings.ToLower(ulid.Make().String())
		}
		k.SecretPreview = preview(*in.Secret)
		ref, err := s.seal(ctx, k.AccountID, k.SecretID, *in.Secret)
		if err != nil {
			return writeFailed(err)
		}
		k.SecretRef = ref
	case in.SecretID != nil && create:
		o := snap.secretFor(k.AccountID, *in.SecretID)
		if o == nil {
			return invalid("secret_id "+*in.SecretID+" names no stored secret in this account", "body", "secret_id")
		}
		k.SecretID, k.SecretRef, k.SecretPreview = o.SecretID, o.SecretRef, o.SecretPreview
	case create:
		return invalid("secret is required (or secret_id of a stored secret)", "body", "secret")
	}
	return nil
}

// CreateProviderKey stores a provider key on a gateway.
func (s *Service) CreateProviderKey(ctx context.Context, actor events.Actor, acct, gw string, body []byte) (*ProviderKey, error) {
	var in ProviderKeyInput
	if e := decode(body, &in); e != nil {
		return nil, e
	}
	r, err := s.write(ctx, actor, func(snap *Snapshot) (*change, error) {
		if snap.Gateway(acct, gw) == nil {
			return nil, notFound("gateway "+gw, "path", "gateway_id")
		}
		now := s.Now().UTC()
		k := ProviderKey{ID: strings.ToLower(ulid.Make().String()), AccountID: acct, GatewayID: gw, Alias: defaultKeyAlias,
			CreatedAt: now, ModifiedAt: now}
		if e := s.applyKeyInput(ctx, snap, &k, &in, true); e != nil {
			return nil, e
		}
		return &change{ev: events.ConfigChanged{Action: "create", Resource: ResProviderConfig, ResourceID: k.ID,
			AccountID: acct, GatewayID: gw, Old: []byte("null"), New: mustJSON(k)}, result: k.ID}, nil
	})
	if err != nil {
		return nil, err
	}
	return s.proj.Current().ProviderKey(r.(string)), nil
}

// UpdateProviderKey changes a stored key: a new secret rotates it (the next request uses
// it, no restart); alias, default_config and the rate limit can change too.
func (s *Service) UpdateProviderKey(ctx context.Context, actor events.Actor, acct, gw, id string, body []byte) (*ProviderKey, error) {
	var in ProviderKeyInput
	if e := decode(body, &in); e != nil {
		return nil, e
	}
	r, err := s.write(ctx, actor, func(snap *Snapshot) (*change, error) {
		old := snap.ProviderKey(id)
		if old == nil || old.AccountID != acct || old.GatewayID != gw {
			return nil, notFound("provider config "+id, "path", "id")
		}
		k := *old
		k.secret, k.status = "", ""
		if e := s.applyKeyInput(ctx, snap, &k, &in, false); e != nil {
			return nil, e
		}
		k.ModifiedAt = s.Now().UTC()
		ch := &change{ev: events.ConfigChanged{Action: "update", Resource: ResProviderConfig, ResourceID: id,
			AccountID: acct, GatewayID: gw, Old: mustJSON(old), New: mustJSON(k)}, result: id}
		if k.SecretRef != old.SecretRef {
			ch.after = func() { s.dropSealed(old.SecretRef) }
		}
		return ch, nil
	})
	if err != nil {
		return nil, err
	}
	return s.proj.Current().ProviderKey(r.(string)), nil
}

// DeleteProviderKey removes a stored key; requests relying on it fail from the next one on.
func (s *Service) DeleteProviderKey(ctx context.Context, actor events.Actor, acct, gw, id string) (*ProviderKey, error) {
	r, err := s.write(ctx, actor, func(snap *Snapshot) (*change, error) {
		old := snap.ProviderKey(id)
		if old == nil || old.AccountID != acct || old.GatewayID != gw {
			return nil, notFound("provider config "+id, "path", "id")
		}
		return &change{ev: events.ConfigChanged{Action: "delete", Resource: ResProviderConfig, ResourceID: id,
			AccountID: acct, GatewayID: gw, Old: mustJSON(old), New: []byte("null")}, result: old,
			after: func() { s.dropSealed(old.SecretRef) }}, nil
	})
	if err != nil {
		return nil, err
	}
	return r.(*ProviderKey), nil
}

// dropSealed purges a sealed key no stored key refers to any more.
func (s *Service) dropSealed(ref string) {
	for _, k := range s.proj.Current().keys {
		if k.SecretRef == ref {
			return
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5e9)
	defer cancel()
	_ = s.bus.DeleteSecret(ctx, ref)
}
