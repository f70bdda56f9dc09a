// api_test.go: the control API's authorization matrix (every endpoint × every kind of
// caller), errors that name the field, and the gateway answers' messages, all through the
// real handler over an in-memory configuration log. The data plane's side (gateway
// authentication, stored keys in use) is tested in engine/server/access_test.go.
package controlapi

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

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

var testActor = configtest.Actor

// testConfig is a configuration with gateway gw (authentication off) in account acc.
func testConfig(t testing.TB) *config.Service { return configtest.Gateway(t) }

// testOptions are the options of an API over cfg with no logs and the built-in providers.
func testOptions(cfg *config.Service) Options {
	return Options{Config: cfg, AdminToken: adminTok, Logs: noLogs{}, Providers: providers.NewTable(func(string) string { return "" })}
}

// serve runs one request through the API's handler.
func serve(t testing.TB, s *API, method, uri, body string, hdr map[string]string) *fasthttp.RequestCtx {
	t.Helper()
	var ctx fasthttp.RequestCtx
	ctx.Request.Header.SetMethod(method)
	ctx.Request.SetRequestURI(uri)
	for k, v := range hdr {
		ctx.Request.Header.Set(k, v)
	}
	if body != "" {
		ctx.Request.SetBodyString(body)
		ctx.Request.Header.SetContentLength(len(body))
	}
	s.Handle(&ctx)
	return &ctx
}

// fixture is the API over configtest.Seeded: gateway gw in acc, one stored key, one
// custom provider and a token of each kind.
type fixture struct {
	s      *API
	seed   *configtest.Seed
	cfg    *config.Service
	tokens map[string]string // kind -> value
	keyID  string
	cpID   string
}

func newFixture(t testing.TB) *fixture {
	t.Helper()
	seed := configtest.Seeded(t)
	return &fixture{s: New(testOptions(seed.Service)), seed: seed, cfg: seed.Service, tokens: seed.Tokens, keyID: seed.KeyID, cpID: seed.CPID}
}

func (f *fixture) call(t *testing.T, method, uri, body, tokenKind string, hdr map[string]string) *fasthttp.RequestCtx {
	t.Helper()
	return serve(t, f.s, method, uri, body, f.seed.Headers(tokenKind, hdr))
}

func TestControlAuthorizationMatrix(t *testing.T) {
	f := newFixture(t)
	const A = "/client/v4/accounts/acc"
	const G = A + "/ai-gateway/gateways/gw"
	type ep struct{ method, path, body, perm string }
	endpoints := []ep{
		{"GET", A + "/ai-gateway/gateways", "", "read"},
		{"POST", A + "/ai-gateway/gateways", `{"id":"made"}`, "edit"},
		{"GET", G, "", "read"},
		{"PUT", G, `{"collect_logs":true}`, "edit"},
		{"DELETE", A + "/ai-gateway/gateways/nosuch", "", "edit"},
		{"GET", G + "/url/openai", "", "read"},
		{"GET", G + "/logs", "", "read"},
		{"GET", G + "/logs/01ABC", "", "read"},
		{"GET", G + "/logs/01ABC/request", "", "read"},
		{"GET", G + "/provider_configs", "", "read"},
		{"POST", G + "/provider_configs", `{"provider_slug":"anthropic","secret":"x"}`, "edit"},
		{"GET", G + "/provider_configs/" + f.keyID, "", "read"},
		{"PUT", G + "/provider_configs/" + f.keyID, `{"rate_limit":0}`, "edit"},
		{"DELETE", G + "/provider_configs/nosuch", "", "edit"},
		{"GET", A + "/ai-gateway/custom-providers", "", "read"},
		{"POST", A + "/ai-gateway/custom-providers", `{"name":"n"}`, "edit"},
		{"GET", A + "/ai-gateway/custom-providers/" + f.cpID, "", "read"},
		{"PATCH", A + "/ai-gateway/custom-providers/" + f.cpID, `{"description":"d"}`, "edit"},
		{"DELETE", A + "/ai-gateway/custom-providers/nosuch", "", "edit"},
		{"GET", A + "/tokens", "", "admin"},
		{"POST", A + "/tokens", `{"name":"n","permissions":["run"]}`, "admin"},
		{"DELETE", A + "/tokens/nosuch", "", "admin"},
		{"GET", A + "/audit_logs", "", "admin"},
	}
	// Which caller holds which permission on acc/gw.
	holds := map[string]map[string]bool{
		"":                {},
		"not-a-token":     {},
		"run":             {},
		"read":            {"read": true},
		"edit":            {"read": true, "edit": true},
		"admin":           {"read": true, "edit": true, "admin": true},
		"admin-bootstrap": {"read": true, "edit": true, "admin": true},
		"admin-acc2":      {},
	}
	for _, e := range endpoints {
		for kind, perms := range holds {
			t.Run(e.method+" "+strings.TrimPrefix(e.path, A)+" as "+kind, func(t *testing.T) {
				rc := f.call(t, e.method, e.path, e.body, kind, nil)
				st := rc.Response.StatusCode()
				if (st == 401 || st == 403) && !strings.Contains(string(rc.Response.Body()), `"path":["header","Authorization"]`) {
					t.Fatalf("refusal does not name the header: %s", rc.Response.Body())
				}
				switch {
				case kind == "" || kind == "not-a-token":
					if st != 401 {
						t.Fatalf("status %d, want 401", st)
					}
				case perms[e.perm]:
					if st == 401 || st == 403 {
						t.Fatalf("status %d, want allowed", st)
					}
				default:
					if st != 403 {
						t.Fatalf("status %d, want 403", st)
					}
				}
			})
		}
	}
	// A token limited to other gateways is refused on gw, and gw is not in its list.
	if st := f.call(t, "GET", G, "", "edit-other", nil).Response.StatusCode(); st != 403 {
		t.Fatalf("scoped token on another gateway: %d", st)
	}
	ctx := f.call(t, "GET", A+"/ai-gateway/gateways", "", "edit-other", nil)
	if strings.Contains(string(ctx.Response.Body()), `"id":"gw"`) {
		t.Fatalf("scoped token lists gw: %s", ctx.Response.Body())
	}
}

func TestControlErrorsNameTheField(t *testing.T) {
	f := newFixture(t)
	const A = "/client/v4/accounts/acc/ai-gateway"
	cases := []struct {
		method, path, body string
		status, code       int
		path0              string
	}{
		{"POST", A + "/gateways", `{"cache_ttl":5}`, 400, 7400, "body.id"},
		{"POST", A + "/gateways", `{"id":"gw"}`, 409, 7409, "body.id"},
		{"POST", A + "/gateways", `{"id":"x","retry_backoff":"random"}`, 400, 7400, "body.retry_backoff"},
		{"GET", A + "/gateways/nosuch", ``, 404, 7003, "path.gateway_id"},
		{"GET", A + "/gateways?per_page=0", ``, 400, 7400, "query.per_page"},
		{"POST", A + "/custom-providers", `{"name":"n","slug":"s2","base_url":"http://plain.example.com"}`, 400, 1002, "body.base_url"},
		{"POST", A + "/custom-providers", `{"name":"n","slug":"mine","base_url":"https://a.example.com"}`, 409, 1003, "body.slug"},
		{"GET", A + "/custom-providers/nosuch", ``, 404, 1004, "path.id"},
		{"GET", A + "/custom-providers?order_by=color", ``, 400, 7400, "query.order_by"},
		{"POST", A + "/gateways/gw/provider_configs", `{"provider_slug":"openai","secret":"x"}`, 409, 7409, "body.alias"},
		{"POST", A + "/gateways/gw/provider_configs", `{"provider_slug":"nosuch","secret":"x","alias":"b"}`, 400, 7400, "body.provider_slug"},
		{"GET", A + "/gateways/gw/logs?color=red", ``, 400, 7400, "query.color"},
		{"GET", A + "/gateways/gw/url/nosuch", ``, 400, 7400, "path.provider"},
	}
	f.cfg.KnownProvider = func(_, slug string) bool { _, ok := providers.Lookup(slug); return ok }
	for _, c := range cases {
		t.Run(c.method+" "+c.path+" "+c.body, func(t *testing.T) {
			ctx := f.call(t, c.method, c.path, c.body, "admin", nil)
			var env struct {
				Success bool `json:"success"`
				Errors  []struct {
					Code int      `json:"code"`
					Path []string `json:"path"`
				} `json:"errors"`
			}
			if err := json.Unmarshal(ctx.Response.Body(), &env); err != nil {
				t.Fatal(err)
			}
			if ctx.Response.StatusCode() != c.status || env.Success || len(env.Errors) != 1 || env.Errors[0].Code != c.code ||
				strings.Join(env.Errors[0].Path, ".") != c.path0 {
				t.Fatalf("got %d %s", ctx.Response.StatusCode(), ctx.Response.Body())
			}
		})
	}
}

// Settings stored but not acted on are named in the answer's messages, one entry each
// (code 7101), on create, update and get; a gateway without them has no messages.
func TestGatewayMessagesNameInactiveSettings(t *testing.T) {
	f := newFixture(t)
	const A = "/client/v4/accounts/acc/ai-gateway/gateways"
	type said struct {
		code    int
		setting string
	}
	cases := []struct {
		name, method, uri, body string
		want                    []said
	}{
		{"plain create", "POST", A, `{"id":"plain","collect_logs":true}`, nil},
		{"everything off", "PUT", A + "/plain", `{"zdr":false,"logpush":false,"dlp":{"enabled":false,"action":"BLOCK","profiles":[]},
			"guardrails":null,"otel":[],"stripe":null,"log_classification":false}`, nil},
		{"create with zdr and logpush", "POST", A, `{"id":"some","zdr":true,"logpush":true}`,
			[]said{{msgNotActedOn, "zdr"}}},
		{"get says it again", "GET", A + "/some", ``, []said{{msgNotActedOn, "zdr"}}},
		{"update with every inactive setting", "PUT", A + "/plain", `{"dlp":{"enabled":true,"action":"BLOCK","profiles":["p"]},
			"guardrails":{"prompt":{"S1":"FLAG"}},"otel":[{"url":"https://otel.example.com","headers":{}}],"logpush":true,"zdr":true,
			"stripe":{"authorization":"a","usage_events":[{"payload":"p"}]},"log_classification":true,
			"spend_limits":{"enabled":true,"rules":[{"id":"x","limit":1,"limitType":"cost","window":1,"model":{"mode":"filter","values":["m"]}},
				{"id":"y","limit":1,"limitType":"cost","window":1}]}}`,
			[]said{{msgNotActedOn, "zdr"}, {msgNotActedOn, "stripe"}, {msgNotActedOn, "log_classification"},
				{msgNotActedOn, "spend_limits.rules[0]"}, {msgAdjusted, "spend_limits.rules[1].window"}}},
		{"turned off again", "PUT", A + "/plain", `{"dlp":{"enabled":false},"guardrails":{},"otel":[],"logpush":false,"zdr":false,
			"stripe":null,"log_classification":false,"spend_limits":null}`, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			rc := f.call(t, c.method, c.uri, c.body, "admin", nil)
			var env struct {
				Success  bool         `json:"success"`
				Messages []apiMessage `json:"messages"`
			}
			if err := json.Unmarshal(rc.Response.Body(), &env); err != nil || rc.Response.StatusCode() != 200 || !env.Success || env.Messages == nil {
				t.Fatalf("%d %s", rc.Response.StatusCode(), rc.Response.Body())
			}
			var got []said
			for _, m := range env.Messages {
				setting, _, _ := strings.Cut(m.Message, " ")
				got = append(got, said{m.Code, setting})
			}
			if !slices.Equal(got, c.want) {
				t.Errorf("messages %+v, want %+v", env.Messages, c.want)
			}
		})
	}
}

// A spend rule's metadata is stored but left out of answers: cloudflare-go v7 panics
// decoding it (its generated union), on every call that answers the gateway.
func TestGatewayAnswersLeaveOutSpendRuleMetadata(t *testing.T) {
	f := newFixture(t)
	const G = "/client/v4/accounts/acc/ai-gateway/gateways/gw"
	body := `{"spend_limits":{"enabled":true,"rules":[{"id":"x","limit":1,"limitType":"cost","window":86400,"metadata":{"user":{"mode":"partition"}}}]}}`
	for _, c := range []struct{ method, uri, body string }{
		{"PUT", G, body}, {"GET", G, ""}, {"GET", "/client/v4/accounts/acc/ai-gateway/gateways", ""},
	} {
		rc := f.call(t, c.method, c.uri, c.body, "admin", nil)
		if rc.Response.StatusCode() != 200 || strings.Contains(string(rc.Response.Body()), `"metadata"`) || !strings.Contains(string(rc.Response.Body()), `"id":"x"`) {
			t.Errorf("%s %s: %d %s", c.method, c.uri, rc.Response.StatusCode(), rc.Response.Body())
		}
	}
	if stored := f.cfg.Projection().Current().Gateway("acc", "gw").SpendLimits; !strings.Contains(string(stored), `"metadata":{"user":{"mode":"partition"}}`) {
		t.Errorf("stored spend_limits %s lost the metadata", stored)
	}
}

// tokens/verify says who any token of the account is and what it may do; another
// account's token is refused and an unknown one is a 401.
func TestTokenVerify(t *testing.T) {
	f := newFixture(t)
	const V = "/client/v4/accounts/acc/tokens/verify"
	for _, c := range []struct {
		kind   string
		status int
		perms  string
		gws    string
	}{
		{"read", 200, "read", ""},
		{"run-gw", 200, "run", "gw"},
		{"admin-bootstrap", 200, "admin", ""},
		{"admin-acc2", 403, "", ""},
		{"not-a-token", 401, "", ""},
	} {
		rc := f.call(t, "GET", V, "", c.kind, nil)
		if rc.Response.StatusCode() != c.status {
			t.Fatalf("%s: %d %s", c.kind, rc.Response.StatusCode(), rc.Response.Body())
		}
		if c.status != 200 {
			continue
		}
		var env struct {
			Result verifyView `json:"result"`
		}
		if err := json.Unmarshal(rc.Response.Body(), &env); err != nil {
			t.Fatal(err)
		}
		if r := env.Result; r.Status != "active" || strings.Join(r.Permissions, ",") != c.perms || strings.Join(r.Gateways, ",") != c.gws || r.ID == "" {
			t.Fatalf("%s: %+v", c.kind, r)
		}
	}
}
