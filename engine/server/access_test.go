// access_test.go: the data plane's gateway authentication table, the auto-created default
// gateway, stored keys (BYOK) picked per request and custom providers, through the real
// front end over an in-memory configuration log, with the control API wired in as the
// binary wires it.
package server

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/switchyard/switchyard/engine/controlapi"
	"github.com/switchyard/switchyard/engine/providers"
	"github.com/switchyard/switchyard/storage"
	"github.com/switchyard/switchyard/storage/config"
	"github.com/switchyard/switchyard/storage/config/configtest"
	"github.com/valyala/fasthttp"
)

type noLogs struct{}

func (noLogs) List(storage.LogQuery) ([]storage.LogRecord, int, error) { return nil, 0, nil }
func (noLogs) Get(_, _, _ string) (storage.LogRecord, error) {
	return storage.LogRecord{}, storage.ErrNotFound
}
func (noLogs) KeyLastUsed(string) (time.Time, bool) { return time.Time{}, false }

const adminTok = configtest.AdminToken

// fixture is a front end over configtest.Seeded (gateway gw in acc, one stored key, one
// custom provider, a token of each kind) with the control API behind /client/v4/.
type fixture struct {
	s      *Server
	seed   *configtest.Seed
	cfg    *config.Service
	d      *captureDispatcher
	tokens map[string]string // kind -> value
	keyID  string
	cpID   string
}

// withControl is o with the control API over o's configuration wired in.
func withControl(o Options) Options {
	o.Control = controlapi.New(controlapi.Options{Config: o.Config, AdminToken: o.AdminToken, Providers: o.Providers, Logs: noLogs{}}).Handle
	return o
}

func newFixture(t testing.TB) *fixture {
	t.Helper()
	seed := configtest.Seeded(t)
	f := &fixture{seed: seed, cfg: seed.Service, d: &captureDispatcher{}, tokens: seed.Tokens, keyID: seed.KeyID, cpID: seed.CPID}
	f.s = New(withControl(Options{Dispatcher: f.d, Providers: providers.NewTable(func(string) string { return "" }), Config: f.cfg,
		AdminToken: adminTok}))
	return f
}

func (f *fixture) call(t *testing.T, method, uri, body, tokenKind string, hdr map[string]string) *fasthttp.RequestCtx {
	t.Helper()
	return serve(t, f.s, method, uri, body, f.seed.Headers(tokenKind, hdr))
}

func TestGatewayAuthentication(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	if _, err := f.cfg.CreateGateway(ctx, testActor, "acc", []byte(`{"id":"locked","authentication":true}`)); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name, gw, token string
		status, code    int // 0: dispatched
	}{
		{"on, token", "locked", "run", 0, 0},
		{"on, admin token", "locked", "admin-bootstrap", 0, 0},
		{"on, token scoped to it", "locked", "run-gw", 401, 2009}, // run-gw covers gw, not locked
		{"on, no header", "locked", "", 401, 2009},
		{"on, invalid token", "locked", "not-a-token", 401, 2009},
		{"on, read-only token", "locked", "read", 401, 2009},
		{"on, other account's token", "locked", "admin-acc2", 401, 2009},
		{"off, token", "gw", "run", 0, 0},
		{"off, no header", "gw", "", 0, 0},
		{"off, invalid token", "gw", "not-a-token", 0, 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f.d.got = nil
			h := map[string]string{}
			if c.token != "" {
				v := f.tokens[c.token]
				if v == "" {
					v = c.token
				}
				h["cf-aig-authorization"] = "Bearer " + v
			}
			rc := serve(t, f.s, "POST", "/v1/acc/"+c.gw+"/openai/chat/completions", `{"model":"m"}`, h)
			if c.status == 0 {
				if f.d.got == nil {
					t.Fatalf("not dispatched: %d %s", rc.Response.StatusCode(), rc.Response.Body())
				}
				return
			}
			if f.d.got != nil || rc.Response.StatusCode() != c.status || !strings.Contains(string(rc.Response.Body()), `"code":2009`) {
				t.Fatalf("got %d %s", rc.Response.StatusCode(), rc.Response.Body())
			}
			if len(rc.Response.Header.Peek("cf-aig-log-id")) == 0 {
				t.Fatal("cf-aig-log-id missing on a rejection")
			}
		})
	}
}

func TestDefaultGatewayCreatedByFirstAuthenticatedRequest(t *testing.T) {
	f := newFixture(t)
	rc := serve(t, f.s, "POST", "/v1/acc/default/openai/x", `{}`, nil)
	if rc.Response.StatusCode() != 401 || f.cfg.Projection().Current().Gateway("acc", "default") != nil {
		t.Fatalf("unauthenticated request: %d, gateway created=%v", rc.Response.StatusCode(), f.cfg.Projection().Current().Gateway("acc", "default") != nil)
	}
	serve(t, f.s, "POST", "/v1/acc/default/openai/x", `{}`, map[string]string{"cf-aig-authorization": "Bearer " + f.tokens["run"]})
	g := f.cfg.Projection().Current().Gateway("acc", "default")
	if g == nil || f.d.got == nil {
		t.Fatal("default gateway not created / request not served")
	}
	if !g.Authentication || !g.CollectLogs || *g.CacheTTL != 0 || *g.RateLimitingLimit != 0 || !g.IsDefault {
		t.Fatalf("default gateway settings: %+v", g)
	}
	if _, err := f.cfg.DeleteGateway(context.Background(), testActor, "acc", "default"); err != nil {
		t.Fatal(err)
	}
	serve(t, f.s, "POST", "/v1/acc/default/openai/x", `{}`, map[string]string{"cf-aig-authorization": "Bearer " + f.tokens["run"]})
	if f.cfg.Projection().Current().Gateway("acc", "default") == nil {
		t.Fatal("default gateway not recreated after deletion")
	}
}

func TestStoredKeys(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	if _, err := f.cfg.CreateProviderKey(ctx, testActor, "acc", "gw", []byte(`{"provider_slug":"openai","alias":"prod","secret":"sk-prod-0123456789","rate_limit":2,"rate_limit_period":60}`)); err != nil {
		t.Fatal(err)
	}
	if _, err := f.cfg.CreateProviderKey(ctx, testActor, "acc", "gw", []byte(`{"provider_slug":"anthropic","secret":"sk-ant-0123456789"}`)); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name, uri     string
		hdr           map[string]string
		status, code  int // 0: dispatched
		credKey, cred string
		alias         string
	}{
		{"no credentials: default key", "/v1/acc/gw/openai/chat/completions", nil, 0, 0, "Authorization", "Bearer sk-stored-0123456789", "default"},
		{"alias header", "/v1/acc/gw/openai/chat/completions", map[string]string{"cf-aig-byok-alias": "prod"}, 0, 0, "Authorization", "Bearer sk-prod-0123456789", "prod"},
		{"alias beats client key", "/v1/acc/gw/openai/chat/completions", map[string]string{"cf-aig-byok-alias": "prod", "Authorization": "Bearer mine"}, 0, 0, "Authorization", "Bearer sk-prod-0123456789", "prod"},
		{"client key kept", "/v1/acc/gw/openai/chat/completions", map[string]string{"Authorization": "Bearer mine"}, 0, 0, "", "", ""},
		{"provider header", "/v1/acc/gw/anthropic/v1/messages", nil, 0, 0, "x-api-key", "sk-ant-0123456789", "default"},
		{"missing alias", "/v1/acc/gw/openai/chat/completions", map[string]string{"cf-aig-byok-alias": "nope"}, 400, 2005, "", "", ""},
		{"no key for provider", "/v1/acc/gw/groq/openai/v1/chat/completions", nil, 0, 0, "", "", ""},
		{"over the key's rate limit", "/v1/acc/gw/openai/chat/completions", map[string]string{"cf-aig-byok-alias": "prod"}, 429, 2003, "", "", ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f.d.got = nil
			rc := serve(t, f.s, "POST", c.uri, `{"model":"m"}`, c.hdr)
			if f.d.got == nil {
				t.Fatalf("not dispatched: %d %s", rc.Response.StatusCode(), rc.Response.Body())
			}
			r := f.d.got
			if c.status != 0 {
				if r.Fail == nil || r.Fail.Status != c.status || r.Fail.Code != c.code || r.Credential != nil {
					t.Fatalf("fail=%+v cred=%v", r.Fail, r.Credential != nil)
				}
				if strings.Contains(r.Fail.Message, "sk-") {
					t.Fatalf("secret in error: %s", r.Fail.Message)
				}
				return
			}
			if r.Fail != nil {
				t.Fatalf("failed: %+v", r.Fail)
			}
			if c.credKey == "" {
				if r.Credential != nil {
					t.Fatalf("credential attached: %s", r.Credential.Key)
				}
				return
			}
			if r.Credential == nil || r.Credential.Key != c.credKey || r.Credential.Value != c.cred || r.KeyAlias != c.alias || r.KeyID == "" {
				t.Fatalf("credential %+v alias %q", r.Credential, r.KeyAlias)
			}
			for _, h := range r.Header {
				if strings.Contains(h.Value, "sk-stored") || strings.Contains(h.Value, "sk-prod") {
					t.Fatalf("stored key copied into the logged headers: %s", h.Key)
				}
			}
		})
	}
	// The API shows a masked preview, never the key.
	rc := f.call(t, "GET", "/client/v4/accounts/acc/ai-gateway/gateways/gw/provider_configs", "", "admin", nil)
	if body := string(rc.Response.Body()); strings.Contains(body, "0123456789") || !strings.Contains(body, `"status":"active"`) {
		t.Fatalf("provider_configs list: %s", body)
	}
}

func TestCustomProviderRouting(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	if _, err := f.cfg.CreateCustomProvider(ctx, testActor, "acc", []byte(`{"name":"Off","slug":"off","base_url":"https://off.example.com"}`)); err != nil {
		t.Fatal(err)
	}
	f.d.got = nil
	serve(t, f.s, "POST", "/v1/acc/gw/custom-mine/v1/chat/completions?x=1", `{"model":"m"}`, nil)
	r := f.d.got
	if r == nil || r.Fail != nil {
		t.Fatalf("custom provider request: %+v", r)
	}
	url, _, err := r.Provider.URL(r.AccountID, r.Rest)
	if err != nil || url != "https://models.example.com/api/v1/chat/completions" {
		t.Fatalf("upstream url %q %v", url, err)
	}
	for _, uri := range []string{"/v1/acc/gw/custom-off/x", "/v1/acc/gw/custom-nosuch/x", "/v1/acc2/gw/custom-mine/x"} {
		f.d.got = nil
		rc := serve(t, f.s, "POST", uri, `{}`, nil)
		if uri == "/v1/acc2/gw/custom-mine/x" { // acc2 has no gateway gw at all
			if rc.Response.StatusCode() != 404 {
				t.Fatalf("%s: %d", uri, rc.Response.StatusCode())
			}
			continue
		}
		if f.d.got == nil || f.d.got.Fail == nil || f.d.got.Fail.Code != 2002 {
			t.Fatalf("%s: %+v", uri, f.d.got)
		}
	}
	rc := f.call(t, "GET", "/client/v4/accounts/acc/ai-gateway/gateways/gw/url/custom-mine", "", "read", map[string]string{"Host": "gw.local:8787"})
	if !strings.Contains(string(rc.Response.Body()), `"result":"http://gw.local:8787/v1/acc/gw/custom-mine"`) {
		t.Fatalf("url: %s", rc.Response.Body())
	}
}

// BenchmarkDataPlaneAccess measures the front end's per-request work up to the dispatch,
// with the config checks: gateway lookup, token check, stored key.
func BenchmarkDataPlaneAccess(b *testing.B) {
	f := newFixture(b)
	if _, err := f.cfg.CreateGateway(context.Background(), testActor, "acc", []byte(`{"id":"locked","authentication":true}`)); err != nil {
		b.Fatal(err)
	}
	body := `{"model":"gpt-4o-mini","messages":[{"role":"user","content":"hi"}]}`
	for _, c := range []struct {
		name, uri string
		hdr       map[string]string
	}{
		{"open gateway, client key", "/v1/acc/gw/openai/chat/completions", map[string]string{"Authorization": "Bearer sk-x"}},
		{"authenticated gateway, stored key", "/v1/acc/locked/openai/chat/completions", map[string]string{"cf-aig-authorization": "Bearer " + f.tokens["run"]}},
		{"open gateway, stored key", "/v1/acc/gw/openai/chat/completions", nil},
	} {
		b.Run(c.name, func(b *testing.B) {
			var ctx fasthttp.RequestCtx
			ctx.Request.Header.SetMethod("POST")
			ctx.Request.SetRequestURI(c.uri)
			ctx.Request.Header.SetContentType("application/json")
			for k, v := range c.hdr {
				ctx.Request.Header.Set(k, v)
			}
			ctx.Request.SetBodyString(body)
			b.ReportAllocs()
			for b.Loop() {
				ctx.Response.Reset()
				f.s.handle(&ctx)
			}
		})
	}
}
