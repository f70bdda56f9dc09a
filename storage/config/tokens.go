// tokens.go: API tokens. A token's value is syt_{id}_{secret}; only a salted SHA-256 of
// the secret is stored, and checking a presented value is one map lookup and one hash,
// compared in constant time.
package config

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"strconv"
	"strings"

	"github.com/switchyard/switchyard/events"
)

func itoa(v int64) string { return strconv.FormatInt(v, 10) }

func join(s []string) string { return strings.Join(s, ", ") }

func randomHex(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(err) // crypto/rand does not fail on supported platforms
	}
	return hex.EncodeToString(b)
}

func tokenHash(salt, secret string) string {
	h := sha256.New()
	h.Write([]byte(salt))
	h.Write([]byte(secret))
	return hex.EncodeToString(h.Sum(nil))
}

// VerifyToken returns the token a presented value belongs to, or nil.
func (s *Snapshot) VerifyToken(value string) *Token {
	rest, ok := strings.CutPrefix(value, tokenPrefix)
	if !ok {
		return nil
	}
	id, secret, ok := strings.Cut(rest, "_")
	if !ok {
		return nil
	}
	t := s.tokens[id]
	if t == nil {
		return nil
	}
	if subtle.ConstantTimeCompare([]byte(tokenHash(t.Salt, secret)), []byte(t.Hash)) != 1 {
		return nil
	}
	return t
}

// Principal is who presented a token: the bootstrap admin token or an API token.
type Principal struct {
	Admin bool
	Token *Token
}

// Actor is the principal as the events and the audit log name it.
func (p Principal) Actor() events.Actor {
	if p.Admin {
		return events.Actor{ID: "admin", Type: "admin_token"}
	}
	return events.Actor{ID: p.Token.ID, Type: "token"}
}

// Can reports whether the principal holds perm on account acct (and gateway gw, when set).
func (p Principal) Can(perm, acct, gw string) bool {
	if p.Admin {
		return true
	}
	if p.Token == nil || p.Token.AccountID != acct || !p.Token.Has(perm) {
		return false
	}
	return gw == "" || p.Token.CoversGateway(gw)
}

// Identify checks a presented token value against the bootstrap admin token (when set)
// and the snapshot's API tokens, both in constant time.
func (s *Snapshot) Identify(adminToken, value string) (Principal, bool) {
	if adminToken != "" && subtle.ConstantTimeCompare([]byte(value), []byte(adminToken)) == 1 {
		return Principal{Admin: true}, true
	}
	if t := s.VerifyToken(value); t != nil {
		return Principal{Token: t}, true
	}
	return Principal{}, false
}

// Bearer returns the token of an "Authorization: Bearer x" style header value.
func Bearer(h []byte) (string, bool) {
	v := string(h)
	if len(v) > 7 && strings.EqualFold(v[:7], "bearer ") {
		return strings.TrimSpace(v[7:]), true
	}
	return "", false
}

// TokenInput is the body of a token creation.
type TokenInput struct {
	Name        string   `json:"name"`
	Permissions []string `json:"permissions"`
	Gateways    []string `json:"gateways"`
}

// CreateToken creates a token and returns it with its value, shown this once.
func (s *Service) CreateToken(ctx context.Context, actor events.Actor, acct string, body []byte) (*Token, string, error) {
	var in TokenInput
	if e := decode(body, &in); e != nil {
		return nil, "", e
	}
	if in.Name == "" || len(in.Name) > 120 {
		return nil, "", invalid("name is required (at most 120 characters)", "body", "name")
	}
	if len(in.Permissions) == 0 {
		return nil, "", invalid("permissions must list at least one of run, read, edit, admin", "body", "permissions")
	}
	for i, p := range in.Permissions {
		switch p {
		case PermRun, PermRead, PermEdit, PermAdmin:
		default:
			return nil, "", invalid("unknown permission "+strconv.Quote(p)+" (run, read, edit, admin)", "body", "permissions", strconv.Itoa(i))
		}
	}
	for i, g := range in.Gateways {
		if !ValidID(g) {
			return nil, "", invalid("gateway ids are 1-64 letters, digits, '-' or '_'", "body", "gateways", strconv.Itoa(i))
		}
	}
	id := randomHex(16)
	secret := randomHex(32) // hex: no '_' inside, so syt_{id}_{secret} splits one way only
	value := tokenPrefix + id + "_" + secret
	salt := randomHex(16)
	t := Token{ID: id, AccountID: acct, Name: in.Name, Permissions: in.Permissions, Gateways: orEmpty(in.Gateways),
		Hint: tokenPrefix + id[:6] + "…" + secret[len(secret)-4:], Salt: salt, Hash: tokenHash(salt, secret),
		CreatedAt: s.Now().UTC()}
	_, err := s.write(ctx, actor, func(*Snapshot) (*change, error) {
		return &change{ev: events.ConfigChanged{Action: "create", Resource: ResToken, ResourceID: id, AccountID: acct,
			Old: []byte("null"), New: mustJSON(t)}, result: &t}, nil
	})
	if err != nil {
		return nil, "", err
	}
	return &t, value, nil
}

// RevokeToken deletes a token; requests presenting it fail from the next one on.
func (s *Service) RevokeToken(ctx context.Context, actor events.Actor, acct, id string) (*Token, error) {
	r, err := s.write(ctx, actor, func(snap *Snapshot) (*change, error) {
		t := snap.Token(id)
		if t == nil || t.AccountID != acct {
			return nil, notFound("token "+id, "path", "token_id")
		}
		return &change{ev: events.ConfigChanged{Action: "delete", Resource: ResToken, ResourceID: id, AccountID: acct,
			Old: mustJSON(t), New: []byte("null")}, result: t}, nil
	})
	if err != nil {
		return nil, err
	}
	return r.(*Token), nil
}
