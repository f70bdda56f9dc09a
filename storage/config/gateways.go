// gateways.go: creating, updating and deleting gateways, and the auto-created `default`.
package config

import (
	"context"

	json "github.com/goccy/go-json"

	"github.com/switchyard/switchyard/events"
)

func i64(v int64) *int64 { return &v }

// newGateway has the settings a created gateway starts with before the body is applied.
func newGateway() Gateway {
	return Gateway{CacheTTL: i64(0), CollectLogs: true, RateLimitingInterval: i64(0), RateLimitingLimit: i64(0),
		RateLimitingTechnique: "fixed"}
}

func validateGateway(g *Gateway) *Error {
	nonNeg := func(v *int64, name string, max int64) *Error {
		if v != nil && (*v < 0 || (max > 0 && *v > max)) {
			if max > 0 {
				return invalid(name+" must be between 0 and "+itoa(max), "body", name)
			}
			return invalid(name+" must not be negative", "body", name)
		}
		return nil
	}
	oneOf := func(v *string, name string, allowed ...string) *Error {
		if v == nil {
			return nil
		}
		for _, a := range allowed {
			if *v == a {
				return nil
			}
		}
		return invalid(name+" must be one of "+join(allowed), "body", name)
	}
	for _, e := range []*Error{
		nonNeg(g.CacheTTL, "cache_ttl", gatewayCacheTTLMax),
		nonNeg(g.RateLimitingInterval, "rate_limiting_interval", 0),
		nonNeg(g.RateLimitingLimit, "rate_limiting_limit", 0),
		oneOf(&g.RateLimitingTechnique, "rate_limiting_technique", "fixed", "sliding"),
		nonNeg(g.LogManagement, "log_management", 0),
		oneOf(g.LogManagementStrategy, "log_management_strategy", "STOP_INSERTING", "DELETE_OLDEST"),
		nonNeg(g.RetryMaxAttempts, "retry_max_attempts", retryMaxAttemptsMax),
		nonNeg(g.RetryDelay, "retry_delay", retryDelayMaxMs),
		oneOf(g.RetryBackoff, "retry_backoff", "constant", "linear", "exponential"),
		spendLimitsError(g.SpendLimits),
		dlpError(g.DLP),
		guardrailsError(g.Guardrails),
		otelError(g.Otel),
		logpushKeyError(g.LogpushPublicKey),
	} {
		if e != nil {
			return e
		}
	}
	return nil
}

func dlpError(raw []byte) *Error {
	_, err := ParseDLP(raw)
	return err
}

func guardrailsError(raw []byte) *Error {
	_, err := ParseGuardrails(raw)
	return err
}

func spendLimitsError(raw []byte) *Error {
	_, err := ParseSpendLimits(raw)
	return err
}

// CreateGateway creates a gateway from a hosted create body.
func (s *Service) CreateGateway(ctx context.Context, actor events.Actor, acct string, body []byte) (*Gateway, error) {
	r, err := s.write(ctx, actor, func(snap *Snapshot) (*change, error) {
		g := newGateway()
		if e := decode(body, &g); e != nil {
			return nil, e
		}
		if g.ID == "" {
			return nil, invalid("id is required", "body", "id")
		}
		if !ValidID(g.ID) {
			return nil, invalid("id must be 1-64 letters, digits, '-' or '_'", "body", "id")
		}
		if snap.Gateway(acct, g.ID) != nil {
			return nil, &Error{Status: 409, Code: CodeConflict, Message: "a gateway with id " + g.ID + " already exists", Path: []string{"body", "id"}}
		}
		if e := validateGateway(&g); e != nil {
			return nil, e
		}
		if e := s.dlpProfilesKnown(acct, g.DLP); e != nil {
			return nil, e
		}
		now := s.Now().UTC()
		g.AccountID, g.CreatedAt, g.ModifiedAt, g.IsDefault = acct, now, now, false
		return &change{ev: events.ConfigChanged{Action: "create", Resource: ResGateway, ResourceID: g.ID,
			AccountID: acct, GatewayID: g.ID, Old: []byte("null"), New: mustJSON(g)}, result: &g}, nil
	})
	if err != nil {
		return nil, err
	}
	return r.(*Gateway), nil
}

// UpdateGateway applies a hosted update body (PUT) to a gateway: fields present replace
// the stored ones, the others are kept.
func (s *Service) UpdateGateway(ctx context.Context, actor events.Actor, acct, id string, body []byte) (*Gateway, error) {
	r, err := s.write(ctx, actor, func(snap *Snapshot) (*change, error) {
		old := snap.Gateway(acct, id)
		if old == nil {
			return nil, notFound("gateway "+id, "path", "gateway_id")
		}
		// A deep copy: the published value shares its pointers and raw fields with
		// every reader of the snapshot, and a refused update must not touch it.
		var g Gateway
		if err := json.Unmarshal(mustJSON(old), &g); err != nil {
			return nil, writeFailed(err)
		}
		if e := decode(body, &g); e != nil {
			return nil, e
		}
		if g.ID != old.ID {
			return nil, invalid("id cannot be changed", "body", "id")
		}
		if e := validateGateway(&g); e != nil {
			return nil, e
		}
		if e := s.dlpProfilesKnown(acct, g.DLP); e != nil {
			return nil, e
		}
		g.AccountID, g.CreatedAt, g.IsDefault, g.ModifiedAt = acct, old.CreatedAt, old.IsDefault, s.Now().UTC()
		return &change{ev: events.ConfigChanged{Action: "update", Resource: ResGateway, ResourceID: id,
			AccountID: acct, GatewayID: id, Old: mustJSON(old), New: mustJSON(g)}, result: &g}, nil
	})
	if err != nil {
		return nil, err
	}
	return r.(*Gateway), nil
}

// DeleteGateway deletes a gateway and the provider keys stored on it.
func (s *Service) DeleteGateway(ctx context.Context, actor events.Actor, acct, id string) (*Gateway, error) {
	r, err := s.write(ctx, actor, func(snap *Snapshot) (*change, error) {
		old := snap.Gateway(acct, id)
		if old == nil {
			return nil, notFound("gateway "+id, "path", "gateway_id")
		}
		var refs []string
		for _, k := range snap.ProviderKeys(acct, id) {
			refs = append(refs, k.SecretRef)
		}
		return &change{ev: events.ConfigChanged{Action: "delete", Resource: ResGateway, ResourceID: id,
			AccountID: acct, GatewayID: id, Old: mustJSON(old), New: []byte("null")}, result: old,
			after: func() { // the gateway's stored keys went with it
				for _, r := range refs {
					s.dropSealed(r)
				}
			}}, nil
	})
	if err != nil {
		return nil, err
	}
	return r.(*Gateway), nil
}

// DefaultGatewayID is the gateway created on the first authenticated request.
const DefaultGatewayID = "default"

// EnsureDefaultGateway creates the account's `default` gateway with the reference's
// defaults (authentication on, logs on, cache off, rate limiting off) unless it exists.
func (s *Service) EnsureDefaultGateway(ctx context.Context, actor events.Actor, acct string) (*Gateway, error) {
	if g := s.proj.Current().Gateway(acct, DefaultGatewayID); g != nil {
		return g, nil
	}
	r, err := s.write(ctx, actor, func(snap *Snapshot) (*change, error) {
		if g := snap.Gateway(acct, DefaultGatewayID); g != nil {
			return &change{result: g}, errExists
		}
		g := newGateway()
		now := s.Now().UTC()
		g.ID, g.AccountID, g.Authentication, g.IsDefault, g.CreatedAt, g.ModifiedAt = DefaultGatewayID, acct, true, true, now, now
		return &change{ev: events.ConfigChanged{Action: "create", Resource: ResGateway, ResourceID: g.ID,
			AccountID: acct, GatewayID: g.ID, Old: []byte("null"), New: mustJSON(g)}, result: &g}, nil
	})
	if err == errExists {
		return s.proj.Current().Gateway(acct, DefaultGatewayID), nil
	}
	if err != nil {
		return nil, err
	}
	return r.(*Gateway), nil
}

var errExists = &Error{Status: 409, Code: CodeConflict, Message: "exists"}
