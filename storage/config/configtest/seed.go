// seed.go: a configuration seeded the way the front end's and the control API's tests
// start: gateway gw in account acc, a token of each kind, one stored key and one custom
// provider.
package configtest

import (
	"context"
	"testing"

	"github.com/switchyard/switchyard/events"
	"github.com/switchyard/switchyard/storage/config"
)

// Actor is the actor the seeded writes are made as.
var Actor = events.Actor{ID: "test", Type: "token"}

// AdminToken is the bootstrap admin token the seeded tests configure.
const AdminToken = "bootstrap-admin"

// Seed is a seeded configuration.
type Seed struct {
	Service *config.Service
	// Tokens are token values by kind: admin-bootstrap, run, read, edit, admin, edit-other
	// (edit on gateway "other" only), run-gw (run on gw only), run-elsewhr (run on "other"
	// only), admin-acc2 (admin of another account).
	Tokens map[string]string
	KeyID  string // the stored OpenAI key of acc/gw
	CPID   string // custom provider "mine" of acc
}

// Gateway is a configuration with only gateway gw (authentication off) in account acc.
func Gateway(t testing.TB) *config.Service {
	t.Helper()
	svc, _ := New()
	if _, err := svc.CreateGateway(context.Background(), Actor, "acc", []byte(`{"id":"gw"}`)); err != nil {
		t.Fatal(err)
	}
	return svc
}

// Seeded is Gateway plus the tokens, the stored key and the custom provider.
func Seeded(t testing.TB) *Seed {
	t.Helper()
	cfg := Gateway(t)
	s := &Seed{Service: cfg, Tokens: map[string]string{"admin-bootstrap": AdminToken}}
	ctx := context.Background()
	for kind, body := range map[string]string{
		"run":         `{"name":"r","permissions":["run"]}`,
		"read":        `{"name":"r","permissions":["read"]}`,
		"edit":        `{"name":"e","permissions":["edit"]}`,
		"admin":       `{"name":"a","permissions":["admin"]}`,
		"edit-other":  `{"name":"o","permissions":["edit"],"gateways":["other"]}`,
		"run-gw":      `{"name":"g","permissions":["run"],"gateways":["gw"]}`,
		"run-elsewhr": `{"name":"x","permissions":["run"],"gateways":["other"]}`,
	} {
		_, v, err := cfg.CreateToken(ctx, Actor, "acc", []byte(body))
		if err != nil {
			t.Fatal(err)
		}
		s.Tokens[kind] = v
	}
	_, v, err := cfg.CreateToken(ctx, Actor, "acc2", []byte(`{"name":"x","permissions":["admin"]}`))
	if err != nil {
		t.Fatal(err)
	}
	s.Tokens["admin-acc2"] = v
	k, err := cfg.CreateProviderKey(ctx, Actor, "acc", "gw", []byte(`{"provider_slug":"openai","secret":"sk-stored-0123456789"}`))
	if err != nil {
		t.Fatal(err)
	}
	s.KeyID = k.ID
	cp, err := cfg.CreateCustomProvider(ctx, Actor, "acc", []byte(`{"name":"Mine","slug":"mine","base_url":"https://models.example.com/api","enable":true}`))
	if err != nil {
		t.Fatal(err)
	}
	s.CPID = cp.ID
	return s
}

// Headers are the headers of a JSON call made with the token of kind (sent as a made-up
// value when the seed has no token of that kind; none when kind is empty), then hdr.
func (s *Seed) Headers(kind string, hdr map[string]string) map[string]string {
	h := map[string]string{"Content-Type": "application/json"}
	if kind != "" {
		v := s.Tokens[kind]
		if v == "" {
			v = kind
		}
		h["Authorization"] = "Bearer " + v
	}
	for k, v := range hdr {
		h[k] = v
	}
	return h
}
