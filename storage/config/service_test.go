// service_test.go: the configuration command side and projection — validation with field
// paths, tokens, sealed keys and rotation, custom providers, replay and the audit trail.
package config_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/switchyard/switchyard/events"
	"github.com/switchyard/switchyard/storage/config"
	"github.com/switchyard/switchyard/storage/config/configtest"
)

var (
	actor = events.Actor{ID: "t1", Type: "token"}
	bg    = context.Background()
)

const acct = "acc1"

// clock is a settable clock for Service.Now.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) set(t time.Time) {
	c.mu.Lock()
	c.t = t
	c.mu.Unlock()
}

var t0 = time.Date(2025, 3, 1, 10, 0, 0, 0, time.UTC)

// newSvc returns a service over an in-memory log, with a settable clock at t0.
func newSvc(t *testing.T) (*config.Service, *configtest.Log, *clock) {
	t.Helper()
	svc, log := configtest.New()
	c := &clock{t: t0}
	svc.Now = c.Now
	return svc, log, c
}

func snap(svc *config.Service) *config.Snapshot { return svc.Projection().Current() }

// wantErr checks that err is a *config.Error with the given status, code and path.
func wantErr(t *testing.T, err error, status, code int, path ...string) {
	t.Helper()
	if err == nil {
		t.Fatalf("want error %d/%d %v, got nil", status, code, path)
	}
	var ce *config.Error
	if !errors.As(err, &ce) {
		t.Fatalf("want *config.Error, got %T: %v", err, err)
	}
	if ce.Status != status || ce.Code != code {
		t.Errorf("status/code = %d/%d, want %d/%d (%s)", ce.Status, ce.Code, status, code, ce.Message)
	}
	if len(path) == 0 {
		path = nil
	}
	got := ce.Path
	if len(got) == 0 {
		got = nil
	}
	if !reflect.DeepEqual(got, path) {
		t.Errorf("path = %q, want %q (%s)", ce.Path, path, ce.Message)
	}
	if ce.Message == "" {
		t.Errorf("empty message")
	}
}

func mustGateway(t *testing.T, svc *config.Service, acct, body string) *config.Gateway {
	t.Helper()
	g, err := svc.CreateGateway(bg, actor, acct, []byte(body))
	if err != nil {
		t.Fatalf("CreateGateway(%s): %v", body, err)
	}
	return g
}

func mustKey(t *testing.T, svc *config.Service, acct, gw, body string) *config.ProviderKey {
	t.Helper()
	k, err := svc.CreateProviderKey(bg, actor, acct, gw, []byte(body))
	if err != nil {
		t.Fatalf("CreateProviderKey(%s): %v", body, err)
	}
	if k == nil {
		t.Fatalf("CreateProviderKey(%s) returned nil key", body)
	}
	return k
}

func mustCustom(t *testing.T, svc *config.Service, acct, body string) *config.CustomProvider {
	t.Helper()
	c, err := svc.CreateCustomProvider(bg, actor, acct, []byte(body))
	if err != nil {
		t.Fatalf("CreateCustomProvider(%s): %v", body, err)
	}
	return c
}

// decodeEvent decodes one appended config event.
func decodeEvent(t *testing.T, m events.Msg) (events.Envelope, events.ConfigChanged) {
	t.Helper()
	env, err := events.Decode(m.Data)
	if err != nil {
		t.Fatalf("decode envelope: %v", err)
	}
	c, err := events.DecodeConfigChanged(env)
	if err != nil {
		t.Fatalf("decode config.changed: %v", err)
	}
	return env, c
}

func jsonMap(t *testing.T, raw []byte) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatalf("unmarshal %s: %v", raw, err)
	}
	return m
}

// ---------------------------------------------------------------- gateways

func TestCreateGatewayDefaults(t *testing.T) {
	svc, log, _ := newSvc(t)
	g := mustGateway(t, svc, acct, `{"id":"gw1","is_default":true,"account_id":"other","created_at":"2001-01-01T00:00:00Z"}`)

	for _, got := range []*config.Gateway{g, snap(svc).Gateway(acct, "gw1")} {
		if got == nil {
			t.Fatal("gateway not in snapshot")
		}
		if got.ID != "gw1" || got.AccountID != acct {
			t.Errorf("id/account = %q/%q", got.ID, got.AccountID)
		}
		if !got.CollectLogs {
			t.Error("collect_logs should default to true")
		}
		if got.CacheTTL == nil || *got.CacheTTL != 0 {
			t.Errorf("cache_ttl = %v, want 0", got.CacheTTL)
		}
		if got.RateLimitingTechnique != "fixed" {
			t.Errorf("rate_limiting_technique = %q, want fixed", got.RateLimitingTechnique)
		}
		if got.RateLimitingInterval == nil || *got.RateLimitingInterval != 0 || got.RateLimitingLimit == nil || *got.RateLimitingLimit != 0 {
			t.Errorf("rate limiting interval/limit = %v/%v, want 0/0", got.RateLimitingInterval, got.RateLimitingLimit)
		}
		if got.Authentication {
			t.Error("authentication should default to false on a created gateway")
		}
		if got.IsDefault {
			t.Error("is_default from the body must be ignored")
		}
		if !got.CreatedAt.Equal(t0) || !got.ModifiedAt.Equal(t0) {
			t.Errorf("created/modified = %v/%v, want %v", got.CreatedAt, got.ModifiedAt, t0)
		}
	}
	if n := len(log.Events); n != 1 {
		t.Fatalf("events = %d, want 1", n)
	}
	_, c := decodeEvent(t, log.Events[0])
	if c.Action != "create" || c.Resource != config.ResGateway || c.ResourceID != "gw1" || c.AccountID != acct || c.GatewayID != "gw1" || c.Actor != actor {
		t.Errorf("event = %+v", c)
	}
	if list := snap(svc).Gateways(acct); len(list) != 1 || list[0].ID != "gw1" {
		t.Errorf("Gateways = %v", list)
	}
	if list := snap(svc).Gateways("other"); len(list) != 0 {
		t.Errorf("other account sees %d gateways", len(list))
	}
}

func TestCreateGatewayFieldsKept(t *testing.T) {
	svc, _, _ := newSvc(t)
	g := mustGateway(t, svc, acct, `{"id":"gw-2_x","cache_ttl":300,"collect_logs":false,"rate_limiting_technique":"sliding",
		"rate_limiting_interval":60,"rate_limiting_limit":10,"authentication":true,"log_management":1000,
		"log_management_strategy":"DELETE_OLDEST","retry_max_attempts":5,"retry_delay":5000,"retry_backoff":"exponential",
		"dlp":{"enabled":true}}`)
	g = snap(svc).Gateway(acct, g.ID)
	if *g.CacheTTL != 300 || g.CollectLogs || g.RateLimitingTechnique != "sliding" || *g.RateLimitingInterval != 60 ||
		*g.RateLimitingLimit != 10 || !g.Authentication || *g.LogManagement != 1000 || *g.LogManagementStrategy != "DELETE_OLDEST" ||
		*g.RetryMaxAttempts != 5 || *g.RetryDelay != 5000 || *g.RetryBackoff != "exponential" {
		t.Errorf("fields not kept: %+v", g)
	}
	if string(g.DLP) != `{"enabled":true}` {
		t.Errorf("dlp = %s", g.DLP)
	}
}

func TestCreateGatewayValidation(t *testing.T) {
	tests := []struct {
		name   string
		body   string
		status int
		code   int
		path   []string
	}{
		{"id missing", `{}`, 400, config.CodeInvalid, []string{"body", "id"}},
		{"id empty", `{"id":""}`, 400, config.CodeInvalid, []string{"body", "id"}},
		{"id 65 chars", `{"id":"` + strings.Repeat("a", 65) + `"}`, 400, config.CodeInvalid, []string{"body", "id"}},
		{"id with space", `{"id":"a b"}`, 400, config.CodeInvalid, []string{"body", "id"}},
		{"id with slash", `{"id":"a/b"}`, 400, config.CodeInvalid, []string{"body", "id"}},
		{"cache_ttl negative", `{"id":"g","cache_ttl":-1}`, 400, config.CodeInvalid, []string{"body", "cache_ttl"}},
		{"cache_ttl over 30 days", `{"id":"g","cache_ttl":2592001}`, 400, config.CodeInvalid, []string{"body", "cache_ttl"}},
		{"rate_limiting_interval negative", `{"id":"g","rate_limiting_interval":-1}`, 400, config.CodeInvalid, []string{"body", "rate_limiting_interval"}},
		{"rate_limiting_limit negative", `{"id":"g","rate_limiting_limit":-5}`, 400, config.CodeInvalid, []string{"body", "rate_limiting_limit"}},
		{"rate_limiting_technique", `{"id":"g","rate_limiting_technique":"x"}`, 400, config.CodeInvalid, []string{"body", "rate_limiting_technique"}},
		{"log_management negative", `{"id":"g","log_management":-1}`, 400, config.CodeInvalid, []string{"body", "log_management"}},
		{"log_management_strategy", `{"id":"g","log_management_strategy":"X"}`, 400, config.CodeInvalid, []string{"body", "log_management_strategy"}},
		{"retry_max_attempts 6", `{"id":"g","retry_max_attempts":6}`, 400, config.CodeInvalid, []string{"body", "retry_max_attempts"}},
		{"retry_delay 5001", `{"id":"g","retry_delay":5001}`, 400, config.CodeInvalid, []string{"body", "retry_delay"}},
		{"retry_backoff", `{"id":"g","retry_backoff":"random"}`, 400, config.CodeInvalid, []string{"body", "retry_backoff"}},
		{"cache_ttl wrong type", `{"id":"g","cache_ttl":"a"}`, 400, config.CodeInvalid, []string{"body", "cache_ttl"}},
		{"collect_logs wrong type", `{"id":"g","collect_logs":"yes"}`, 400, config.CodeInvalid, []string{"body", "collect_logs"}},
		{"id wrong type", `{"id":5}`, 400, config.CodeInvalid, []string{"body", "id"}},
		{"empty body", ``, 400, config.CodeInvalid, []string{"body"}},
		{"not JSON", `{"id":`, 400, config.CodeInvalid, []string{"body"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			svc, log, _ := newSvc(t)
			g, err := svc.CreateGateway(bg, actor, acct, []byte(tc.body))
			if g != nil {
				t.Errorf("got gateway %+v with error", g)
			}
			wantErr(t, err, tc.status, tc.code, tc.path...)
			if len(log.Events) != 0 {
				t.Errorf("a refused write appended %d events", len(log.Events))
			}
			if n := len(snap(svc).Gateways(acct)); n != 0 {
				t.Errorf("a refused write left %d gateways", n)
			}
		})
	}
}

func TestCreateGatewayBoundsAccepted(t *testing.T) {
	tests := []struct{ name, body string }{
		{"id 64 chars", `{"id":"` + strings.Repeat("b", 64) + `"}`},
		{"cache_ttl 30 days", `{"id":"g","cache_ttl":2592000}`},
		{"retry_max_attempts 5", `{"id":"g","retry_max_attempts":5}`},
		{"retry_delay 0", `{"id":"g","retry_delay":0}`},
		{"strategy STOP_INSERTING", `{"id":"g","log_management_strategy":"STOP_INSERTING"}`},
		{"nulls", `{"id":"g","log_management_strategy":null,"retry_backoff":null}`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			svc, _, _ := newSvc(t)
			mustGateway(t, svc, acct, tc.body)
		})
	}
}

func TestCreateGatewayDuplicate(t *testing.T) {
	svc, log, _ := newSvc(t)
	mustGateway(t, svc, acct, `{"id":"gw1","cache_ttl":10}`)
	_, err := svc.CreateGateway(bg, actor, acct, []byte(`{"id":"gw1","cache_ttl":20}`))
	wantErr(t, err, 409, config.CodeConflict, "body", "id")
	if len(log.Events) != 1 {
		t.Errorf("events = %d, want 1", len(log.Events))
	}
	if g := snap(svc).Gateway(acct, "gw1"); *g.CacheTTL != 10 {
		t.Errorf("duplicate create changed the gateway: cache_ttl %d", *g.CacheTTL)
	}
	// The same id in another account is a different gateway.
	mustGateway(t, svc, "acc2", `{"id":"gw1"}`)
	if snap(svc).Gateway("acc2", "gw1") == nil {
		t.Error("gateway of acc2 missing")
	}
}

func TestUpdateGateway(t *testing.T) {
	svc, log, clk := newSvc(t)
	mustGateway(t, svc, acct, `{"id":"gw1","cache_ttl":60,"collect_logs":false,"authentication":true}`)
	clk.set(t0.Add(time.Hour))
	g, err := svc.UpdateGateway(bg, actor, acct, "gw1", []byte(`{"cache_ttl":120,"retry_max_attempts":3,"rate_limiting_technique":"sliding","created_at":"2001-01-01T00:00:00Z","is_default":true}`))
	if err != nil {
		t.Fatal(err)
	}
	for _, got := range []*config.Gateway{g, snap(svc).Gateway(acct, "gw1")} {
		if *got.CacheTTL != 120 || *got.RetryMaxAttempts != 3 || got.RateLimitingTechnique != "sliding" {
			t.Errorf("update not applied: %+v", got)
		}
		if got.CollectLogs || !got.Authentication {
			t.Errorf("fields absent from the body must be kept: collect_logs=%v authentication=%v", got.CollectLogs, got.Authentication)
		}
		if !got.CreatedAt.Equal(t0) {
			t.Errorf("created_at = %v, want %v", got.CreatedAt, t0)
		}
		if !got.ModifiedAt.Equal(t0.Add(time.Hour)) {
			t.Errorf("modified_at = %v, want %v", got.ModifiedAt, t0.Add(time.Hour))
		}
		if got.IsDefault {
			t.Error("is_default must not be settable by update")
		}
	}
	if len(log.Events) != 2 {
		t.Fatalf("events = %d, want 2", len(log.Events))
	}
	_, c := decodeEvent(t, log.Events[1])
	if c.Action != "update" || c.ResourceID != "gw1" {
		t.Errorf("event = %+v", c)
	}
}

func TestUpdateGatewayRefused(t *testing.T) {
	tests := []struct {
		name string
		body string
		path []string
	}{
		{"id changed", `{"id":"other"}`, []string{"body", "id"}},
		{"retry_max_attempts 6", `{"retry_max_attempts":6}`, []string{"body", "retry_max_attempts"}},
		{"technique", `{"rate_limiting_technique":"x"}`, []string{"body", "rate_limiting_technique"}},
		{"wrong type", `{"collect_logs":"a"}`, []string{"body", "collect_logs"}},
		{"empty body", ` `, []string{"body"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			svc, log, _ := newSvc(t)
			mustGateway(t, svc, acct, `{"id":"gw1","collect_logs":true}`)
			_, err := svc.UpdateGateway(bg, actor, acct, "gw1", []byte(tc.body))
			wantErr(t, err, 400, config.CodeInvalid, tc.path...)
			if len(log.Events) != 1 {
				t.Errorf("events = %d, want 1", len(log.Events))
			}
			if g := snap(svc).Gateway(acct, "gw1"); g == nil || !g.CollectLogs || g.RateLimitingTechnique != "fixed" {
				t.Errorf("refused update changed the gateway: %+v", g)
			}
		})
	}
}

func TestUpdateDeleteUnknownGateway(t *testing.T) {
	tests := []struct {
		name string
		op   func(svc *config.Service) error
	}{
		{"update unknown", func(svc *config.Service) error {
			_, err := svc.UpdateGateway(bg, actor, acct, "nope", []byte(`{"cache_ttl":1}`))
			return err
		}},
		{"delete unknown", func(svc *config.Service) error {
			_, err := svc.DeleteGateway(bg, actor, acct, "nope")
			return err
		}},
		{"update in another account", func(svc *config.Service) error {
			_, err := svc.UpdateGateway(bg, actor, "acc2", "gw1", []byte(`{"cache_ttl":1}`))
			return err
		}},
		{"delete in another account", func(svc *config.Service) error {
			_, err := svc.DeleteGateway(bg, actor, "acc2", "gw1")
			return err
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			svc, log, _ := newSvc(t)
			mustGateway(t, svc, acct, `{"id":"gw1"}`)
			wantErr(t, tc.op(svc), 404, config.CodeNotFound, "path", "gateway_id")
			if len(log.Events) != 1 {
				t.Errorf("events = %d, want 1", len(log.Events))
			}
			if snap(svc).Gateway(acct, "gw1") == nil {
				t.Error("gw1 gone")
			}
		})
	}
}

func TestDeleteGateway(t *testing.T) {
	svc, log, _ := newSvc(t)
	mustGateway(t, svc, acct, `{"id":"gw1"}`)
	mustGateway(t, svc, acct, `{"id":"gw2"}`)
	g, err := svc.DeleteGateway(bg, actor, acct, "gw1")
	if err != nil {
		t.Fatal(err)
	}
	if g == nil || g.ID != "gw1" {
		t.Errorf("DeleteGateway returned %+v", g)
	}
	if snap(svc).Gateway(acct, "gw1") != nil {
		t.Error("gw1 still there")
	}
	if snap(svc).Gateway(acct, "gw2") == nil {
		t.Error("gw2 gone")
	}
	_, err = svc.DeleteGateway(bg, actor, acct, "gw1")
	wantErr(t, err, 404, config.CodeNotFound, "path", "gateway_id")
	if len(log.Events) != 3 {
		t.Errorf("events = %d, want 3", len(log.Events))
	}
	// The id can be used again.
	mustGateway(t, svc, acct, `{"id":"gw1"}`)
}

func TestEnsureDefaultGateway(t *testing.T) {
	svc, log, clk := newSvc(t)
	g, err := svc.EnsureDefaultGateway(bg, actor, acct)
	if err != nil {
		t.Fatal(err)
	}
	if config.DefaultGatewayID != "default" || g.ID != "default" || g.AccountID != acct {
		t.Errorf("id/account = %q/%q", g.ID, g.AccountID)
	}
	if !g.Authentication || !g.CollectLogs || !g.IsDefault {
		t.Errorf("authentication/collect_logs/is_default = %v/%v/%v, want all true", g.Authentication, g.CollectLogs, g.IsDefault)
	}
	if g.CacheTTL == nil || *g.CacheTTL != 0 || *g.RateLimitingLimit != 0 || g.RateLimitingTechnique != "fixed" {
		t.Errorf("cache/rate limiting not off: %+v", g)
	}
	if len(log.Events) != 1 {
		t.Fatalf("events = %d, want 1", len(log.Events))
	}
	clk.set(t0.Add(time.Hour))
	g2, err := svc.EnsureDefaultGateway(bg, actor, acct)
	if err != nil {
		t.Fatal(err)
	}
	if g2.ID != "default" || !g2.CreatedAt.Equal(g.CreatedAt) || !g2.IsDefault {
		t.Errorf("second call returned %+v", g2)
	}
	if g2 != snap(svc).Gateway(acct, "default") {
		t.Error("second call did not return the stored gateway")
	}
	if len(log.Events) != 1 {
		t.Errorf("second call appended an event: %d events", len(log.Events))
	}
	// Creating "default" explicitly now conflicts; another account gets its own.
	_, err = svc.CreateGateway(bg, actor, acct, []byte(`{"id":"default"}`))
	wantErr(t, err, 409, config.CodeConflict, "body", "id")
	if _, err := svc.EnsureDefaultGateway(bg, actor, "acc2"); err != nil {
		t.Fatal(err)
	}
	if len(log.Events) != 2 || snap(svc).Gateway("acc2", "default") == nil {
		t.Errorf("acc2 default not created (events %d)", len(log.Events))
	}
	// An update keeps is_default.
	u, err := svc.UpdateGateway(bg, actor, acct, "default", []byte(`{"is_default":false,"collect_logs":false}`))
	if err != nil {
		t.Fatal(err)
	}
	if !u.IsDefault || u.CollectLogs {
		t.Errorf("after update is_default=%v collect_logs=%v", u.IsDefault, u.CollectLogs)
	}
}

// ---------------------------------------------------------------- tokens

func mustToken(t *testing.T, svc *config.Service, acct, body string) (*config.Token, string) {
	t.Helper()
	tok, value, err := svc.CreateToken(bg, actor, acct, []byte(body))
	if err != nil {
		t.Fatalf("CreateToken(%s): %v", body, err)
	}
	return tok, value
}

func TestCreateTokenAndVerify(t *testing.T) {
	svc, log, _ := newSvc(t)
	tok, value := mustToken(t, svc, acct, `{"name":"ci","permissions":["run","read"],"gateways":["gw1"]}`)
	other, otherValue := mustToken(t, svc, acct, `{"name":"other","permissions":["admin"]}`)

	prefix := "syt_" + tok.ID + "_"
	if !strings.HasPrefix(value, prefix) {
		t.Fatalf("value %q does not start with %q", value, prefix)
	}
	secret := strings.TrimPrefix(value, prefix)
	if len(secret) < 32 {
		t.Fatalf("secret part too short: %q", secret)
	}
	if tok.Name != "ci" || tok.AccountID != acct || !reflect.DeepEqual(tok.Permissions, []string{"run", "read"}) ||
		!reflect.DeepEqual(tok.Gateways, []string{"gw1"}) || !tok.CreatedAt.Equal(t0) {
		t.Errorf("token = %+v", tok)
	}
	if other.Gateways == nil || len(other.Gateways) != 0 {
		t.Errorf("no gateways should be an empty list, got %#v", other.Gateways)
	}
	if strings.Contains(tok.Hint, secret) || !strings.HasPrefix(tok.Hint, "syt_") {
		t.Errorf("hint %q", tok.Hint)
	}
	if tok.Hash == "" || tok.Salt == "" || strings.Contains(tok.Hash, secret) {
		t.Errorf("hash/salt = %q/%q", tok.Hash, tok.Salt)
	}

	otherSecret := otherValue[strings.LastIndex(otherValue, "_")+1:]
	flipped := []byte(value)
	if flipped[len(flipped)-1] == 'A' {
		flipped[len(flipped)-1] = 'B'
	} else {
		flipped[len(flipped)-1] = 'A'
	}
	tests := []struct {
		name  string
		value string
		want  *config.Token
	}{
		{"right value", value, snap(svc).Token(tok.ID)},
		{"other token", otherValue, snap(svc).Token(other.ID)},
		{"wrong secret", string(flipped), nil},
		{"secret of another token", prefix + otherSecret, nil},
		{"wrong id", "syt_" + strings.Repeat("0", 32) + "_" + secret, nil},
		{"id of another token", "syt_" + other.ID + "_" + secret, nil},
		{"missing prefix", strings.TrimPrefix(value, "syt_"), nil},
		{"other prefix", "syx_" + strings.TrimPrefix(value, "syt_"), nil},
		{"no secret", prefix, nil},
		{"no separator", "syt_" + tok.ID, nil},
		{"empty", "", nil},
		{"extra suffix", value + "x", nil},
		{"prefix only", "syt_", nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := snap(svc).VerifyToken(tc.value)
			if got != tc.want {
				t.Errorf("VerifyToken = %+v, want %+v", got, tc.want)
			}
		})
	}
	if got := snap(svc).VerifyToken(value); got == nil || got.ID != tok.ID {
		t.Fatalf("VerifyToken(value) = %v", got)
	}

	// The event never holds the value or the secret, but holds the hash.
	if len(log.Events) != 2 {
		t.Fatalf("events = %d, want 2", len(log.Events))
	}
	for i, m := range log.Events {
		for _, s := range []string{value, secret, otherValue, otherSecret} {
			if bytes.Contains(m.Data, []byte(s)) {
				t.Errorf("event %d holds a token value or secret", i)
			}
		}
	}
	_, c := decodeEvent(t, log.Events[0])
	stored := jsonMap(t, c.New)
	if stored["hash"] != tok.Hash || stored["salt"] != tok.Salt || stored["hash"] == "" {
		t.Errorf("event value hash/salt = %v/%v, want %q/%q", stored["hash"], stored["salt"], tok.Hash, tok.Salt)
	}
	if c.Action != "create" || c.Resource != config.ResToken || c.ResourceID != tok.ID || c.AccountID != acct {
		t.Errorf("event = %+v", c)
	}
}

func TestRevokeToken(t *testing.T) {
	svc, log, _ := newSvc(t)
	tok, value := mustToken(t, svc, acct, `{"name":"a","permissions":["run"]}`)
	keep, keepValue := mustToken(t, svc, acct, `{"name":"b","permissions":["run"]}`)

	_, err := svc.RevokeToken(bg, actor, "acc2", tok.ID)
	wantErr(t, err, 404, config.CodeNotFound, "path", "token_id")
	if snap(svc).VerifyToken(value) == nil {
		t.Fatal("revoking from another account removed the token")
	}

	r, err := svc.RevokeToken(bg, actor, acct, tok.ID)
	if err != nil {
		t.Fatal(err)
	}
	if r.ID != tok.ID {
		t.Errorf("revoked %q, want %q", r.ID, tok.ID)
	}
	if snap(svc).VerifyToken(value) != nil {
		t.Error("revoked token still verifies")
	}
	if snap(svc).Token(tok.ID) != nil {
		t.Error("revoked token still listed")
	}
	if got := snap(svc).VerifyToken(keepValue); got == nil || got.ID != keep.ID {
		t.Error("the other token stopped verifying")
	}
	if l := snap(svc).Tokens(acct); len(l) != 1 || l[0].ID != keep.ID {
		t.Errorf("Tokens = %v", l)
	}
	_, err = svc.RevokeToken(bg, actor, acct, tok.ID)
	wantErr(t, err, 404, config.CodeNotFound, "path", "token_id")
	if len(log.Events) != 3 {
		t.Errorf("events = %d, want 3", len(log.Events))
	}
	for i, m := range log.Events {
		if bytes.Contains(m.Data, []byte(value)) || bytes.Contains(m.Data, []byte(keepValue)) {
			t.Errorf("event %d holds a token value", i)
		}
	}
}

func TestCreateTokenValidation(t *testing.T) {
	tests := []struct {
		name string
		body string
		path []string
	}{
		{"permission root", `{"name":"a","permissions":["root"]}`, []string{"body", "permissions", "0"}},
		{"second permission bad", `{"name":"a","permissions":["run","Admin"]}`, []string{"body", "permissions", "1"}},
		{"no permissions", `{"name":"a","permissions":[]}`, []string{"body", "permissions"}},
		{"permissions missing", `{"name":"a"}`, []string{"body", "permissions"}},
		{"name missing", `{"permissions":["run"]}`, []string{"body", "name"}},
		{"name too long", `{"name":"` + strings.Repeat("n", 121) + `","permissions":["run"]}`, []string{"body", "name"}},
		{"bad gateway id", `{"name":"a","permissions":["run"],"gateways":["ok","a b"]}`, []string{"body", "gateways", "1"}},
		{"name wrong type", `{"name":1,"permissions":["run"]}`, []string{"body", "name"}},
		{"empty body", ``, []string{"body"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			svc, log, _ := newSvc(t)
			tok, value, err := svc.CreateToken(bg, actor, acct, []byte(tc.body))
			wantErr(t, err, 400, config.CodeInvalid, tc.path...)
			if tok != nil || value != "" {
				t.Errorf("got token %+v / %q with error", tok, value)
			}
			if len(log.Events) != 0 {
				t.Errorf("refused write appended %d events", len(log.Events))
			}
		})
	}
}

func TestTokenHas(t *testing.T) {
	tests := []struct {
		perms []string
		p     string
		want  bool
	}{
		{[]string{"run"}, "run", true},
		{[]string{"run"}, "read", false},
		{[]string{"run"}, "edit", false},
		{[]string{"run"}, "admin", false},
		{[]string{"read"}, "read", true},
		{[]string{"read"}, "edit", false},
		{[]string{"read"}, "run", false},
		{[]string{"edit"}, "read", true},
		{[]string{"edit"}, "edit", true},
		{[]string{"edit"}, "run", false},
		{[]string{"edit"}, "admin", false},
		{[]string{"admin"}, "run", true},
		{[]string{"admin"}, "read", true},
		{[]string{"admin"}, "edit", true},
		{[]string{"admin"}, "admin", true},
		{[]string{"run", "read"}, "read", true},
		{[]string{"run", "read"}, "edit", false},
		{nil, "run", false},
		{nil, "read", false},
	}
	for _, tc := range tests {
		t.Run(fmt.Sprintf("%v/%s", tc.perms, tc.p), func(t *testing.T) {
			tok := &config.Token{Permissions: tc.perms}
			if got := tok.Has(tc.p); got != tc.want {
				t.Errorf("Has(%q) = %v, want %v", tc.p, got, tc.want)
			}
		})
	}
}

func TestTokenCoversGateway(t *testing.T) {
	tests := []struct {
		gateways []string
		gw       string
		want     bool
	}{
		{nil, "any", true},
		{[]string{}, "any", true},
		{[]string{"gw1"}, "gw1", true},
		{[]string{"gw1"}, "gw2", false},
		{[]string{"gw1", "gw2"}, "gw2", true},
		{[]string{"gw1"}, "GW1", false},
		{[]string{"gw1"}, "", false},
	}
	for _, tc := range tests {
		t.Run(fmt.Sprintf("%v/%s", tc.gateways, tc.gw), func(t *testing.T) {
			tok := &config.Token{Gateways: tc.gateways}
			if got := tok.CoversGateway(tc.gw); got != tc.want {
				t.Errorf("CoversGateway(%q) = %v, want %v", tc.gw, got, tc.want)
			}
		})
	}
	// Through the service: a created token's scope.
	svc, _, _ := newSvc(t)
	scoped, _ := mustToken(t, svc, acct, `{"name":"s","permissions":["run"],"gateways":["gw1"]}`)
	all, _ := mustToken(t, svc, acct, `{"name":"all","permissions":["edit"]}`)
	if !scoped.CoversGateway("gw1") || scoped.CoversGateway("gw2") || !all.CoversGateway("gw2") {
		t.Error("created tokens' gateway scope wrong")
	}
	if !all.Has("read") || all.Has("run") || scoped.Has("read") {
		t.Error("created tokens' permissions wrong")
	}
}

// ---------------------------------------------------------------- provider keys

const (
	secretA = "sk-live-AAAAAAAAAAAAAAAAAAAAAAAA-0001"
	secretB = "sk-live-BBBBBBBBBBBBBBBBBBBBBBBB-0002"
	secretC = "sk-live-CCCCCCCCCCCCCCCCCCCCCCCC-0003"
)

func TestCreateProviderKey(t *testing.T) {
	svc, log, _ := newSvc(t)
	mustGateway(t, svc, acct, `{"id":"gw"}`)
	k := mustKey(t, svc, acct, "gw", `{"provider_slug":"openai","secret":"`+secretA+`"}`)

	if k.Alias != "default" {
		t.Errorf("alias = %q, want default", k.Alias)
	}
	if k.Secret() != secretA || k.Status() != "active" {
		t.Errorf("Secret/Status = %q/%q", k.Secret(), k.Status())
	}
	if k.AccountID != acct || k.GatewayID != "gw" || k.ProviderSlug != "openai" || k.DefaultConfig {
		t.Errorf("key = %+v", k)
	}
	if k.ID == "" || k.SecretID == "" || k.SecretRef == "" {
		t.Errorf("ids = %q/%q/%q", k.ID, k.SecretID, k.SecretRef)
	}
	if k.SecretPreview == "" || strings.Contains(k.SecretPreview, secretA) || !strings.HasSuffix(k.SecretPreview, secretA[len(secretA)-4:]) {
		t.Errorf("secret_preview = %q", k.SecretPreview)
	}
	if k != snap(svc).ProviderKey(k.ID) {
		t.Error("returned key is not the stored one")
	}
	if got := snap(svc).KeyFor(acct, "gw", "openai", ""); got != k {
		t.Errorf("KeyFor(no alias) = %v", got)
	}
	if got := snap(svc).KeyFor(acct, "gw", "openai", "default"); got != k {
		t.Errorf("KeyFor(default) = %v", got)
	}
	if _, ok := log.Secrets[k.SecretRef]; !ok {
		t.Error("sealed value missing from the secrets bucket")
	}
	// The sealed value opens to the key with the master key, bound to account/ref.
	sealer, err := config.NewSealer(make([]byte, 32))
	if err != nil {
		t.Fatal(err)
	}
	clear, err := sealer.Open(log.Secrets[k.SecretRef], []byte(acct+"/"+k.SecretRef))
	if err != nil || string(clear) != secretA {
		t.Errorf("Open sealed = %q, %v", clear, err)
	}
	// The JSON answered by the API does not carry the secret.
	b, _ := json.Marshal(k)
	if bytes.Contains(b, []byte(secretA)) {
		t.Errorf("marshalled key holds the secret: %s", b)
	}
	_, c := decodeEvent(t, log.Events[len(log.Events)-1])
	if c.Resource != config.ResProviderConfig || c.Action != "create" || c.ResourceID != k.ID || c.GatewayID != "gw" {
		t.Errorf("event = %+v", c)
	}
}

func TestCreateProviderKeyRefused(t *testing.T) {
	tests := []struct {
		name   string
		gw     string
		body   string
		status int
		path   []string
	}{
		{"unknown gateway", "nope", `{"provider_slug":"openai","secret":"` + secretB + `"}`, 404, []string{"path", "gateway_id"}},
		{"secret missing", "gw", `{"provider_slug":"openai","alias":"x"}`, 400, []string{"body", "secret"}},
		{"secret empty", "gw", `{"provider_slug":"openai","alias":"x","secret":""}`, 400, []string{"body", "secret"}},
		{"secret two lines", "gw", `{"provider_slug":"openai","alias":"x","secret":"a\nb"}`, 400, []string{"body", "secret"}},
		{"secret too long", "gw", `{"provider_slug":"openai","alias":"x","secret":"` + strings.Repeat("s", 8193) + `"}`, 400, []string{"body", "secret"}},
		{"secret wrong type", "gw", `{"provider_slug":"openai","alias":"x","secret":1}`, 400, []string{"body", "secret"}},
		{"provider_slug missing", "gw", `{"alias":"x","secret":"` + secretB + `"}`, 400, []string{"body", "provider_slug"}},
		{"bad alias", "gw", `{"provider_slug":"openai","alias":"a b","secret":"` + secretB + `"}`, 400, []string{"body", "alias"}},
		{"duplicate alias", "gw", `{"provider_slug":"openai","alias":"main","secret":"` + secretB + `"}`, 409, []string{"body", "alias"}},
		{"second default_config", "gw", `{"provider_slug":"openai","alias":"other","default_config":true,"secret":"` + secretB + `"}`, 409, []string{"body", "default_config"}},
		{"rate_limit without period", "gw", `{"provider_slug":"openai","alias":"x","rate_limit":5,"rate_limit_period":0,"secret":"` + secretB + `"}`, 400, []string{"body", "rate_limit_period"}},
		{"rate_limit period missing", "gw", `{"provider_slug":"openai","alias":"x","rate_limit":5,"secret":"` + secretB + `"}`, 400, []string{"body", "rate_limit_period"}},
		{"rate_limit negative", "gw", `{"provider_slug":"openai","alias":"x","rate_limit":-1,"rate_limit_period":60,"secret":"` + secretB + `"}`, 400, []string{"body", "rate_limit"}},
		{"rate_limit wrong type", "gw", `{"provider_slug":"openai","alias":"x","rate_limit":"a","secret":"` + secretB + `"}`, 400, []string{"body", "rate_limit"}},
		{"unknown secret_id", "gw", `{"provider_slug":"openai","alias":"x","secret_id":"nope"}`, 400, []string{"body", "secret_id"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			svc, log, _ := newSvc(t)
			mustGateway(t, svc, acct, `{"id":"gw"}`)
			mustKey(t, svc, acct, "gw", `{"provider_slug":"openai","alias":"main","default_config":true,"secret":"`+secretA+`"}`)
			nEvents, nSecrets := len(log.Events), len(log.Secrets)
			k, err := svc.CreateProviderKey(bg, actor, acct, tc.gw, []byte(tc.body))
			code := config.CodeInvalid
			switch tc.status {
			case 404:
				code = config.CodeNotFound
			case 409:
				code = config.CodeConflict
			}
			wantErr(t, err, tc.status, code, tc.path...)
			if k != nil {
				t.Errorf("got key with error: %+v", k)
			}
			if len(log.Events) != nEvents || len(log.Secrets) != nSecrets {
				t.Errorf("refused write changed the log: events %d→%d, secrets %d→%d", nEvents, len(log.Events), nSecrets, len(log.Secrets))
			}
			if n := len(snap(svc).ProviderKeys(acct, "gw")); n != 1 {
				t.Errorf("keys = %d, want 1", n)
			}
		})
	}
}

func TestProviderKeyAcceptedVariants(t *testing.T) {
	svc, _, _ := newSvc(t)
	mustGateway(t, svc, acct, `{"id":"gw"}`)
	mustGateway(t, svc, acct, `{"id":"gw2"}`)
	mustKey(t, svc, acct, "gw", `{"provider_slug":"openai","alias":"main","default_config":true,"secret":"`+secretA+`"}`)
	tests := []struct{ name, gw, body string }{
		{"same alias, other provider", "gw", `{"provider_slug":"anthropic","alias":"main","default_config":true,"secret":"` + secretB + `"}`},
		{"same alias, other gateway", "gw2", `{"provider_slug":"openai","alias":"main","default_config":true,"secret":"` + secretB + `"}`},
		{"rate limit with period", "gw", `{"provider_slug":"openai","alias":"rl","rate_limit":5,"rate_limit_period":60,"secret":"` + secretB + `"}`},
		{"short secret", "gw", `{"provider_slug":"openai","alias":"short","secret":"abc"}`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			k := mustKey(t, svc, acct, tc.gw, tc.body)
			if k.Status() != "active" || k.Secret() == "" {
				t.Errorf("Status/Secret = %q/%q", k.Status(), k.Secret())
			}
			if strings.Contains(k.SecretPreview, k.Secret()) {
				t.Errorf("preview %q shows the secret", k.SecretPreview)
			}
		})
	}
}

func TestKeyForSelection(t *testing.T) {
	svc, _, _ := newSvc(t)
	mustGateway(t, svc, acct, `{"id":"gw"}`)
	mustGateway(t, svc, acct, `{"id":"gw2"}`)
	def := mustKey(t, svc, acct, "gw", `{"provider_slug":"openai","secret":"`+secretA+`"}`)
	prod := mustKey(t, svc, acct, "gw", `{"provider_slug":"openai","alias":"prod","secret":"`+secretB+`"}`)

	if got := snap(svc).KeyFor(acct, "gw", "openai", ""); got != def {
		t.Fatalf("without a default_config key, KeyFor picks %v, want alias default", got)
	}
	primary := mustKey(t, svc, acct, "gw", `{"provider_slug":"openai","alias":"primary","default_config":true,"secret":"`+secretC+`"}`)

	s := snap(svc)
	tests := []struct {
		name, acct, gw, provider, alias string
		want                            *config.ProviderKey
	}{
		{"no alias picks default_config", acct, "gw", "openai", "", primary},
		{"alias default", acct, "gw", "openai", "default", def},
		{"alias prod", acct, "gw", "openai", "prod", prod},
		{"alias primary", acct, "gw", "openai", "primary", primary},
		{"unknown alias", acct, "gw", "openai", "nope", nil},
		{"other provider", acct, "gw", "anthropic", "", nil},
		{"other gateway", acct, "gw2", "openai", "", nil},
		{"other account", "acc2", "gw", "openai", "", nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := s.KeyFor(tc.acct, tc.gw, tc.provider, tc.alias); got != tc.want {
				t.Errorf("KeyFor = %v, want %v", got, tc.want)
			}
		})
	}
	if got := s.KeyFor(acct, "gw", "openai", "prod"); got.Secret() != secretB {
		t.Errorf("prod secret = %q", got.Secret())
	}

	// Turning default_config off falls back to alias "default".
	if _, err := svc.UpdateProviderKey(bg, actor, acct, "gw", primary.ID, []byte(`{"default_config":false}`)); err != nil {
		t.Fatal(err)
	}
	if got := snap(svc).KeyFor(acct, "gw", "openai", ""); got == nil || got.ID != def.ID {
		t.Errorf("after default_config off, KeyFor = %v, want %s", got, def.ID)
	}
	// Deleting the default-aliased key leaves no key for requests without an alias.
	if _, err := svc.DeleteProviderKey(bg, actor, acct, "gw", def.ID); err != nil {
		t.Fatal(err)
	}
	if got := snap(svc).KeyFor(acct, "gw", "openai", ""); got != nil {
		t.Errorf("after deleting the default key, KeyFor = %v", got)
	}
	// Renaming an alias moves it.
	if _, err := svc.UpdateProviderKey(bg, actor, acct, "gw", prod.ID, []byte(`{"alias":"production"}`)); err != nil {
		t.Fatal(err)
	}
	if snap(svc).KeyFor(acct, "gw", "openai", "prod") != nil {
		t.Error("old alias still resolves")
	}
	if got := snap(svc).KeyFor(acct, "gw", "openai", "production"); got == nil || got.ID != prod.ID || got.Secret() != secretB {
		t.Errorf("new alias resolves to %v", got)
	}
}

// assertNoClearSecret fails when any event or sealed value holds one of the secrets.
func assertNoClearSecret(t *testing.T, log *configtest.Log, secrets ...string) {
	t.Helper()
	for i, m := range log.Events {
		for _, s := range secrets {
			if bytes.Contains(m.Data, []byte(s)) {
				t.Errorf("event %d holds a clear secret", i)
			}
		}
	}
	for name, b := range log.Secrets {
		for _, s := range secrets {
			if bytes.Contains(b, []byte(s)) {
				t.Errorf("sealed value %s holds a clear secret", name)
			}
			if strings.Contains(name, s) {
				t.Errorf("sealed value name %s holds a clear secret", name)
			}
		}
	}
}

func TestProviderKeySecretNeverInClear(t *testing.T) {
	svc, log, _ := newSvc(t)
	mustGateway(t, svc, acct, `{"id":"gw"}`)
	a := mustKey(t, svc, acct, "gw", `{"provider_slug":"openai","secret":"`+secretA+`"}`)
	b := mustKey(t, svc, acct, "gw", `{"provider_slug":"anthropic","alias":"b","secret":"`+secretB+`","rate_limit":1,"rate_limit_period":1}`)
	if _, err := svc.UpdateProviderKey(bg, actor, acct, "gw", a.ID, []byte(`{"secret":"`+secretC+`"}`)); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.UpdateProviderKey(bg, actor, acct, "gw", b.ID, []byte(`{"alias":"bb"}`)); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.DeleteProviderKey(bg, actor, acct, "gw", b.ID); err != nil {
		t.Fatal(err)
	}
	if len(log.Events) != 6 {
		t.Fatalf("events = %d, want 6", len(log.Events))
	}
	assertNoClearSecret(t, log, secretA, secretB, secretC)
	// Partial secrets too: the middle of each key must not leak.
	assertNoClearSecret(t, log, "AAAAAAAAAAAAAAAA", "BBBBBBBBBBBBBBBB", "CCCCCCCCCCCCCCCC")
	for _, audit := range svc.Projection().Audit(config.AuditQuery{}) {
		for _, s := range []string{secretA, secretB, secretC} {
			if bytes.Contains(audit.NewValueJSON, []byte(s)) || bytes.Contains(audit.OldValueJSON, []byte(s)) {
				t.Errorf("audit entry %s holds a clear secret", audit.ID)
			}
		}
	}
}

func TestRotateProviderKey(t *testing.T) {
	svc, log, clk := newSvc(t)
	mustGateway(t, svc, acct, `{"id":"gw"}`)
	k := mustKey(t, svc, acct, "gw", `{"provider_slug":"openai","alias":"main","secret":"`+secretA+`"}`)
	oldRef, oldPreview := k.SecretRef, k.SecretPreview

	clk.set(t0.Add(time.Minute))
	r, err := svc.UpdateProviderKey(bg, actor, acct, "gw", k.ID, []byte(`{"secret":"`+secretB+`"}`))
	if err != nil {
		t.Fatal(err)
	}
	if r.Secret() != secretB || r.Status() != "active" {
		t.Errorf("after rotation Secret/Status = %q/%q", r.Secret(), r.Status())
	}
	if r.ID != k.ID || r.SecretID != k.SecretID || r.Alias != "main" {
		t.Errorf("id/secret_id/alias changed: %+v", r)
	}
	if r.SecretRef == oldRef || r.SecretRef == "" {
		t.Errorf("secret_ref not changed: %q", r.SecretRef)
	}
	if r.SecretPreview == oldPreview || !strings.HasSuffix(r.SecretPreview, "0002") {
		t.Errorf("preview = %q", r.SecretPreview)
	}
	if !r.CreatedAt.Equal(t0) || !r.ModifiedAt.Equal(t0.Add(time.Minute)) {
		t.Errorf("created/modified = %v/%v", r.CreatedAt, r.ModifiedAt)
	}
	if _, ok := log.Secrets[oldRef]; ok {
		t.Error("old sealed value not purged")
	}
	if _, ok := log.Secrets[r.SecretRef]; !ok {
		t.Error("new sealed value missing")
	}
	if len(log.Secrets) != 1 {
		t.Errorf("sealed values = %d, want 1", len(log.Secrets))
	}
	if got := snap(svc).KeyFor(acct, "gw", "openai", "main"); got.Secret() != secretB {
		t.Errorf("KeyFor secret = %q, want the rotated one", got.Secret())
	}

	// An update without a secret keeps the sealed value and the clear key.
	r2, err := svc.UpdateProviderKey(bg, actor, acct, "gw", k.ID, []byte(`{"rate_limit":10,"rate_limit_period":60}`))
	if err != nil {
		t.Fatal(err)
	}
	if r2.SecretRef != r.SecretRef || r2.Secret() != secretB || r2.Status() != "active" || r2.RateLimit != 10 || r2.RateLimitPeriod != 60 {
		t.Errorf("after rate-limit update: %+v secret=%q", r2, r2.Secret())
	}
	if _, ok := log.Secrets[r.SecretRef]; !ok {
		t.Error("an update without secret purged the sealed value")
	}
}

func TestUpdateDeleteProviderKeyRefused(t *testing.T) {
	svc, log, _ := newSvc(t)
	mustGateway(t, svc, acct, `{"id":"gw"}`)
	mustGateway(t, svc, acct, `{"id":"gw2"}`)
	k := mustKey(t, svc, acct, "gw", `{"provider_slug":"openai","alias":"main","default_config":true,"secret":"`+secretA+`"}`)
	mustKey(t, svc, acct, "gw", `{"provider_slug":"openai","alias":"other","secret":"`+secretB+`"}`)
	n := len(log.Events)
	tests := []struct {
		name   string
		op     func() error
		status int
		code   int
		path   []string
	}{
		{"update unknown id", func() error {
			_, err := svc.UpdateProviderKey(bg, actor, acct, "gw", "nope", []byte(`{"alias":"x"}`))
			return err
		}, 404, config.CodeNotFound, []string{"path", "id"}},
		{"update on another gateway", func() error {
			_, err := svc.UpdateProviderKey(bg, actor, acct, "gw2", k.ID, []byte(`{"alias":"x"}`))
			return err
		}, 404, config.CodeNotFound, []string{"path", "id"}},
		{"update in another account", func() error {
			_, err := svc.UpdateProviderKey(bg, actor, "acc2", "gw", k.ID, []byte(`{"alias":"x"}`))
			return err
		}, 404, config.CodeNotFound, []string{"path", "id"}},
		{"delete unknown id", func() error {
			_, err := svc.DeleteProviderKey(bg, actor, acct, "gw", "nope")
			return err
		}, 404, config.CodeNotFound, []string{"path", "id"}},
		{"change provider", func() error {
			_, err := svc.UpdateProviderKey(bg, actor, acct, "gw", k.ID, []byte(`{"provider_slug":"anthropic"}`))
			return err
		}, 400, config.CodeInvalid, []string{"body", "provider_slug"}},
		{"alias taken", func() error {
			_, err := svc.UpdateProviderKey(bg, actor, acct, "gw", k.ID, []byte(`{"alias":"other"}`))
			return err
		}, 409, config.CodeConflict, []string{"body", "alias"}},
		{"empty secret", func() error {
			_, err := svc.UpdateProviderKey(bg, actor, acct, "gw", k.ID, []byte(`{"secret":""}`))
			return err
		}, 400, config.CodeInvalid, []string{"body", "secret"}},
		{"rate limit without period", func() error {
			_, err := svc.UpdateProviderKey(bg, actor, acct, "gw", k.ID, []byte(`{"rate_limit":5}`))
			return err
		}, 400, config.CodeInvalid, []string{"body", "rate_limit_period"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			wantErr(t, tc.op(), tc.status, tc.code, tc.path...)
			if len(log.Events) != n {
				t.Errorf("refused write appended an event")
			}
			got := snap(svc).ProviderKey(k.ID)
			if got == nil || got.Alias != "main" || got.Secret() != secretA || got.RateLimit != 0 {
				t.Errorf("refused write changed the key: %+v", got)
			}
		})
	}
}

func TestDeleteProviderKeyAndSharedSecret(t *testing.T) {
	svc, log, _ := newSvc(t)
	mustGateway(t, svc, acct, `{"id":"gw"}`)
	mustGateway(t, svc, acct, `{"id":"gw2"}`)
	a := mustKey(t, svc, acct, "gw", `{"provider_slug":"openai","secret":"`+secretA+`"}`)
	// A second key on another gateway reuses the stored secret by its id.
	b := mustKey(t, svc, acct, "gw2", `{"provider_slug":"openai","secret_id":"`+a.SecretID+`"}`)
	if b.Secret() != secretA || b.SecretRef != a.SecretRef || b.Status() != "active" {
		t.Fatalf("shared key: secret=%q ref=%q status=%q", b.Secret(), b.SecretRef, b.Status())
	}
	if len(log.Secrets) != 1 {
		t.Errorf("sealed values = %d, want 1", len(log.Secrets))
	}
	// secret_id of another account's secret is refused.
	mustGateway(t, svc, "acc2", `{"id":"gw"}`)
	_, err := svc.CreateProviderKey(bg, actor, "acc2", "gw", []byte(`{"provider_slug":"openai","secret_id":"`+a.SecretID+`"}`))
	wantErr(t, err, 400, config.CodeInvalid, "body", "secret_id")

	d, err := svc.DeleteProviderKey(bg, actor, acct, "gw", a.ID)
	if err != nil {
		t.Fatal(err)
	}
	if d.ID != a.ID || snap(svc).ProviderKey(a.ID) != nil || snap(svc).KeyFor(acct, "gw", "openai", "") != nil {
		t.Error("deleted key still there")
	}
	if _, ok := log.Secrets[a.SecretRef]; !ok {
		t.Error("sealed value purged while another key still uses it")
	}
	if got := snap(svc).KeyFor(acct, "gw2", "openai", ""); got == nil || got.Secret() != secretA {
		t.Errorf("shared key lost its secret: %v", got)
	}
	if _, err := svc.DeleteProviderKey(bg, actor, acct, "gw2", b.ID); err != nil {
		t.Fatal(err)
	}
	if len(log.Secrets) != 0 {
		t.Errorf("sealed values after deleting every key = %d, want 0", len(log.Secrets))
	}
	_, err = svc.DeleteProviderKey(bg, actor, acct, "gw2", b.ID)
	wantErr(t, err, 404, config.CodeNotFound, "path", "id")
}

func TestKnownProvider(t *testing.T) {
	tests := []struct {
		slug string
		ok   bool
	}{
		{"openai", true},
		{"custom-mine", true},
		{"nope", false},
		{"custom-other", false},
	}
	for _, tc := range tests {
		t.Run(tc.slug, func(t *testing.T) {
			svc, log, _ := newSvc(t)
			var gotAcct string
			svc.KnownProvider = func(a, slug string) bool {
				gotAcct = a
				return slug == "openai" || slug == "custom-mine"
			}
			mustGateway(t, svc, acct, `{"id":"gw"}`)
			k, err := svc.CreateProviderKey(bg, actor, acct, "gw", []byte(`{"provider_slug":"`+tc.slug+`","secret":"`+secretA+`"}`))
			if gotAcct != acct {
				t.Errorf("KnownProvider called with account %q", gotAcct)
			}
			if tc.ok {
				if err != nil || k == nil || k.ProviderSlug != tc.slug {
					t.Fatalf("CreateProviderKey: %v", err)
				}
				return
			}
			wantErr(t, err, 400, config.CodeInvalid, "body", "provider_slug")
			if len(log.Events) != 1 || len(log.Secrets) != 0 {
				t.Errorf("refused key wrote events=%d secrets=%d", len(log.Events), len(log.Secrets))
			}
		})
	}
}

func TestDeleteGatewayRemovesKeys(t *testing.T) {
	svc, _, _ := newSvc(t)
	mustGateway(t, svc, acct, `{"id":"gw"}`)
	mustGateway(t, svc, acct, `{"id":"keep"}`)
	a := mustKey(t, svc, acct, "gw", `{"provider_slug":"openai","default_config":true,"secret":"`+secretA+`"}`)
	b := mustKey(t, svc, acct, "gw", `{"provider_slug":"anthropic","alias":"x","secret":"`+secretB+`"}`)
	kept := mustKey(t, svc, acct, "keep", `{"provider_slug":"openai","secret":"`+secretC+`"}`)

	if _, err := svc.DeleteGateway(bg, actor, acct, "gw"); err != nil {
		t.Fatal(err)
	}
	s := snap(svc)
	if s.ProviderKey(a.ID) != nil || s.ProviderKey(b.ID) != nil {
		t.Error("keys of the deleted gateway still there")
	}
	if n := len(s.ProviderKeys(acct, "gw")); n != 0 {
		t.Errorf("ProviderKeys = %d", n)
	}
	if s.KeyFor(acct, "gw", "openai", "") != nil || s.KeyFor(acct, "gw", "anthropic", "x") != nil {
		t.Error("KeyFor still resolves a key of the deleted gateway")
	}
	if got := s.KeyFor(acct, "keep", "openai", ""); got != kept || got.Secret() != secretC {
		t.Error("the other gateway's key was removed")
	}
	// Recreating the gateway does not bring its keys back.
	mustGateway(t, svc, acct, `{"id":"gw"}`)
	if s := snap(svc); len(s.ProviderKeys(acct, "gw")) != 0 || s.KeyFor(acct, "gw", "openai", "") != nil {
		t.Error("keys came back with the recreated gateway")
	}
	// And the alias can be used again.
	mustKey(t, svc, acct, "gw", `{"provider_slug":"openai","default_config":true,"secret":"`+secretA+`"}`)
}

func TestProviderKeysListed(t *testing.T) {
	svc, _, _ := newSvc(t)
	mustGateway(t, svc, acct, `{"id":"gw"}`)
	var ids []string
	for _, alias := range []string{"c", "a", "b"} {
		ids = append(ids, mustKey(t, svc, acct, "gw", `{"provider_slug":"openai","alias":"`+alias+`","secret":"`+secretA+`"}`).ID)
	}
	var got []string
	for _, k := range snap(svc).ProviderKeys(acct, "gw") {
		got = append(got, k.ID)
	}
	if !reflect.DeepEqual(got, ids) {
		t.Errorf("ProviderKeys order = %v, want oldest first %v", got, ids)
	}
}

// ---------------------------------------------------------------- custom providers

func TestCreateCustomProvider(t *testing.T) {
	svc, log, _ := newSvc(t)
	c := mustCustom(t, svc, acct, `{"name":"my Provider","slug":"my-prov","base_url":"https://api.example.com/v1/","description":"d","enable":true}`)
	if c.ID == "" || c.AccountID != acct || c.Name != "my Provider" || c.Slug != "my-prov" || !c.Enable || c.Description != "d" {
		t.Errorf("custom = %+v", c)
	}
	if c.BaseURL != "https://api.example.com/v1" {
		t.Errorf("base_url = %q, want trailing slash trimmed", c.BaseURL)
	}
	if !c.CreatedAt.Equal(t0) || !c.ModifiedAt.Equal(t0) {
		t.Errorf("created/modified = %v/%v", c.CreatedAt, c.ModifiedAt)
	}
	if c.Logo == "" {
		t.Fatal("logo empty")
	}
	svg, err := base64.StdEncoding.DecodeString(c.Logo)
	if err != nil {
		t.Fatalf("logo is not base64: %v", err)
	}
	if !bytes.Contains(svg, []byte("<svg")) || !bytes.Contains(svg, []byte(">M</text>")) {
		t.Errorf("logo = %s", svg)
	}
	s := snap(svc)
	if got := s.CustomProvider(c.ID); got == nil || !reflect.DeepEqual(got, c) {
		t.Errorf("CustomProvider(id) = %+v", got)
	}
	if got := s.CustomProviderBySlug(acct, "my-prov"); got == nil || got.ID != c.ID {
		t.Errorf("CustomProviderBySlug = %v", got)
	}
	if s.CustomProviderBySlug("acc2", "my-prov") != nil {
		t.Error("another account sees the custom provider")
	}
	if l := s.CustomProviders(acct); len(l) != 1 {
		t.Errorf("CustomProviders = %d", len(l))
	}
	if len(log.Events) != 1 {
		t.Errorf("events = %d", len(log.Events))
	}
	// The same slug in another account is fine.
	mustCustom(t, svc, "acc2", `{"name":"x","slug":"my-prov","base_url":"https://x.example"}`)
}

func TestCreateCustomProviderRefused(t *testing.T) {
	tests := []struct {
		name   string
		body   string
		check  func(string) error
		status int
		code   int
		path   []string
	}{
		{"name missing", `{"slug":"s","base_url":"https://x.example"}`, nil, 400, config.CodeInvalid, []string{"body", "name"}},
		{"name blank", `{"name":"  ","slug":"s","base_url":"https://x.example"}`, nil, 400, config.CodeInvalid, []string{"body", "name"}},
		{"slug missing", `{"name":"n","base_url":"https://x.example"}`, nil, 400, config.CodeInvalid, []string{"body", "slug"}},
		{"slug uppercase", `{"name":"n","slug":"Bad","base_url":"https://x.example"}`, nil, 400, config.CodeInvalid, []string{"body", "slug"}},
		{"slug leading hyphen", `{"name":"n","slug":"-s","base_url":"https://x.example"}`, nil, 400, config.CodeInvalid, []string{"body", "slug"}},
		{"base_url missing", `{"name":"n","slug":"s"}`, nil, 400, config.CodeInvalidBaseURL, []string{"body", "base_url"}},
		{"base_url http", `{"name":"n","slug":"s","base_url":"http://x"}`, nil, 400, config.CodeInvalidBaseURL, []string{"body", "base_url"}},
		{"base_url refused by CheckBaseURL", `{"name":"n","slug":"s","base_url":"https://10.0.0.1"}`,
			func(string) error { return errors.New("private address") }, 400, config.CodeInvalidBaseURL, []string{"body", "base_url"}},
		{"duplicate slug", `{"name":"n","slug":"taken","base_url":"https://x.example"}`, nil, 409, config.CodeDuplicateSlug, []string{"body", "slug"}},
		{"wrong type", `{"name":"n","slug":"s","base_url":"https://x.example","position":"a"}`, nil, 400, config.CodeInvalid, []string{"body", "position"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			svc, log, _ := newSvc(t)
			mustCustom(t, svc, acct, `{"name":"t","slug":"taken","base_url":"https://t.example"}`)
			svc.CheckBaseURL = tc.check
			c, err := svc.CreateCustomProvider(bg, actor, acct, []byte(tc.body))
			wantErr(t, err, tc.status, tc.code, tc.path...)
			if c != nil {
				t.Errorf("got %+v with error", c)
			}
			if len(log.Events) != 1 || len(snap(svc).CustomProviders(acct)) != 1 {
				t.Error("refused write changed the configuration")
			}
		})
	}
}

func TestCheckBaseURLAccepts(t *testing.T) {
	svc, _, _ := newSvc(t)
	var seen string
	svc.CheckBaseURL = func(u string) error { seen = u; return nil }
	c := mustCustom(t, svc, acct, `{"name":"n","slug":"s","base_url":"http://internal.example/"}`)
	if seen != "http://internal.example/" || c.BaseURL != "http://internal.example" {
		t.Errorf("seen %q, stored %q", seen, c.BaseURL)
	}
}

func TestUpdateCustomProvider(t *testing.T) {
	svc, log, clk := newSvc(t)
	c := mustCustom(t, svc, acct, `{"name":"alpha","slug":"alpha","base_url":"https://a.example","description":"keep me"}`)
	mustCustom(t, svc, acct, `{"name":"beta","slug":"beta","base_url":"https://b.example"}`)
	clk.set(t0.Add(time.Hour))

	u, err := svc.UpdateCustomProvider(bg, actor, acct, c.ID, []byte(`{"base_url":"https://a2.example/","id":"hijack","created_at":"2001-01-01T00:00:00Z"}`))
	if err != nil {
		t.Fatal(err)
	}
	if u.BaseURL != "https://a2.example" || u.ID != c.ID || !u.CreatedAt.Equal(t0) || !u.ModifiedAt.Equal(t0.Add(time.Hour)) {
		t.Errorf("updated = %+v", u)
	}
	if u.Name != "alpha" || u.Slug != "alpha" || u.Description != "keep me" || u.Logo != c.Logo {
		t.Errorf("fields absent from the body changed: %+v", u)
	}
	if got := snap(svc).CustomProvider(c.ID); got == nil || got.BaseURL != "https://a2.example" {
		t.Errorf("snapshot = %+v", got)
	}
	if snap(svc).CustomProvider("hijack") != nil {
		t.Error("id changed by the body")
	}

	// A new name redraws the logo; a new slug moves the slug index.
	u, err = svc.UpdateCustomProvider(bg, actor, acct, c.ID, []byte(`{"name":"Zeta","slug":"zeta"}`))
	if err != nil {
		t.Fatal(err)
	}
	if u.Logo == c.Logo {
		t.Error("logo not redrawn for a new name")
	}
	if snap(svc).CustomProviderBySlug(acct, "alpha") != nil || snap(svc).CustomProviderBySlug(acct, "zeta") == nil {
		t.Error("slug index not moved")
	}

	// Refused updates.
	n := len(log.Events)
	_, err = svc.UpdateCustomProvider(bg, actor, acct, c.ID, []byte(`{"slug":"beta"}`))
	wantErr(t, err, 409, config.CodeDuplicateSlug, "body", "slug")
	_, err = svc.UpdateCustomProvider(bg, actor, acct, c.ID, []byte(`{"base_url":"http://x"}`))
	wantErr(t, err, 400, config.CodeInvalidBaseURL, "body", "base_url")
	if len(log.Events) != n {
		t.Error("refused update appended an event")
	}
	if got := snap(svc).CustomProvider(c.ID); got.Slug != "zeta" || got.BaseURL != "https://a2.example" {
		t.Errorf("refused update changed %+v", got)
	}
}

func TestCustomProviderUnknown(t *testing.T) {
	svc, log, _ := newSvc(t)
	c := mustCustom(t, svc, acct, `{"name":"n","slug":"s","base_url":"https://x.example"}`)
	tests := []struct {
		name string
		op   func() error
	}{
		{"update unknown", func() error {
			_, err := svc.UpdateCustomProvider(bg, actor, acct, "00000000-0000-0000-0000-000000000000", []byte(`{"name":"x"}`))
			return err
		}},
		{"delete unknown", func() error {
			_, err := svc.DeleteCustomProvider(bg, actor, acct, "00000000-0000-0000-0000-000000000000")
			return err
		}},
		{"update in another account", func() error {
			_, err := svc.UpdateCustomProvider(bg, actor, "acc2", c.ID, []byte(`{"name":"x"}`))
			return err
		}},
		{"delete in another account", func() error {
			_, err := svc.DeleteCustomProvider(bg, actor, "acc2", c.ID)
			return err
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			wantErr(t, tc.op(), 404, config.CodeCustomNotFound, "path", "id")
		})
	}
	if snap(svc).CustomProvider("00000000-0000-0000-0000-000000000000") != nil {
		t.Error("get unknown returned a provider")
	}
	if len(log.Events) != 1 {
		t.Errorf("events = %d", len(log.Events))
	}
	d, err := svc.DeleteCustomProvider(bg, actor, acct, c.ID)
	if err != nil || d.ID != c.ID {
		t.Fatalf("delete: %v", err)
	}
	if snap(svc).CustomProvider(c.ID) != nil || snap(svc).CustomProviderBySlug(acct, "s") != nil {
		t.Error("deleted custom provider still there")
	}
	_, err = svc.DeleteCustomProvider(bg, actor, acct, c.ID)
	wantErr(t, err, 404, config.CodeCustomNotFound, "path", "id")
	// The slug is free again.
	mustCustom(t, svc, acct, `{"name":"n","slug":"s","base_url":"https://x.example"}`)
}

// ---------------------------------------------------------------- replay

// writeEverything performs writes of every kind, advancing the clock by a minute each.
func writeEverything(t *testing.T, svc *config.Service, clk *clock) {
	t.Helper()
	step := 0
	tick := func() { step++; clk.set(t0.Add(time.Duration(step) * time.Minute)) }
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	var err error
	tick()
	_, err = svc.EnsureDefaultGateway(bg, actor, acct)
	must(err)
	tick()
	mustGateway(t, svc, acct, `{"id":"gw1","cache_ttl":60,"dlp":{"enabled":true,"action":"FLAG","profiles":["p1"]}}`)
	tick()
	mustGateway(t, svc, acct, `{"id":"gw2"}`)
	tick()
	mustGateway(t, svc, "acc2", `{"id":"gw1"}`)
	tick()
	_, err = svc.UpdateGateway(bg, actor, acct, "gw1", []byte(`{"collect_logs":false,"retry_max_attempts":2}`))
	must(err)
	tick()
	tok, _ := mustToken(t, svc, acct, `{"name":"a","permissions":["run"]}`)
	tick()
	mustToken(t, svc, acct, `{"name":"b","permissions":["edit"],"gateways":["gw1"]}`)
	tick()
	mustToken(t, svc, "acc2", `{"name":"c","permissions":["admin"]}`)
	tick()
	_, err = svc.RevokeToken(bg, actor, acct, tok.ID)
	must(err)
	tick()
	k1 := mustKey(t, svc, acct, "gw1", `{"provider_slug":"openai","secret":"`+secretA+`"}`)
	tick()
	k2 := mustKey(t, svc, acct, "gw1", `{"provider_slug":"openai","alias":"p","default_config":true,"secret":"`+secretB+`"}`)
	tick()
	mustKey(t, svc, acct, "gw2", `{"provider_slug":"anthropic","secret":"`+secretC+`"}`)
	tick()
	mustKey(t, svc, acct, "gw2", `{"provider_slug":"openai","secret_id":"`+k1.SecretID+`"}`)
	tick()
	_, err = svc.UpdateProviderKey(bg, actor, acct, "gw1", k1.ID, []byte(`{"secret":"sk-rotated-0000000000000000000000"}`))
	must(err)
	tick()
	_, err = svc.UpdateProviderKey(bg, actor, acct, "gw1", k2.ID, []byte(`{"rate_limit":3,"rate_limit_period":60}`))
	must(err)
	tick()
	k5 := mustKey(t, svc, "acc2", "gw1", `{"provider_slug":"openai","secret":"`+secretA+`"}`)
	tick()
	_, err = svc.DeleteProviderKey(bg, actor, "acc2", "gw1", k5.ID)
	must(err)
	tick()
	mustKey(t, svc, acct, "gw2", `{"provider_slug":"mistral","secret":"sk-gone-000000000000000000"}`)
	tick()
	_, err = svc.DeleteGateway(bg, actor, acct, "gw2")
	must(err)
	tick()
	c1 := mustCustom(t, svc, acct, `{"name":"one","slug":"one","base_url":"https://one.example"}`)
	tick()
	c2 := mustCustom(t, svc, acct, `{"name":"two","slug":"two","base_url":"https://two.example"}`)
	tick()
	mustCustom(t, svc, "acc2", `{"name":"one","slug":"one","base_url":"https://one.example"}`)
	tick()
	_, err = svc.UpdateCustomProvider(bg, actor, acct, c1.ID, []byte(`{"slug":"uno","base_url":"https://uno.example"}`))
	must(err)
	tick()
	_, err = svc.DeleteCustomProvider(bg, actor, acct, c2.ID)
	must(err)
}

func sortedCustoms(s *config.Snapshot, acct string) []*config.CustomProvider {
	l := s.CustomProviders(acct)
	sort.Slice(l, func(i, j int) bool { return l[i].ID < l[j].ID })
	return l
}

// assertSameState compares everything a user can read from two snapshots.
func assertSameState(t *testing.T, want, got *config.Snapshot) {
	t.Helper()
	if want.Seq != got.Seq {
		t.Errorf("seq = %d, want %d", got.Seq, want.Seq)
	}
	for _, a := range []string{acct, "acc2"} {
		if w, g := want.Gateways(a), got.Gateways(a); !reflect.DeepEqual(w, g) {
			t.Errorf("%s gateways differ:\nwant %+v\ngot  %+v", a, w, g)
		}
		if w, g := want.Tokens(a), got.Tokens(a); !reflect.DeepEqual(w, g) {
			t.Errorf("%s tokens differ:\nwant %+v\ngot  %+v", a, w, g)
		}
		if w, g := sortedCustoms(want, a), sortedCustoms(got, a); !reflect.DeepEqual(w, g) {
			t.Errorf("%s custom providers differ:\nwant %+v\ngot  %+v", a, w, g)
		}
		for _, gw := range []string{"default", "gw1", "gw2"} {
			w, g := want.ProviderKeys(a, gw), got.ProviderKeys(a, gw)
			if !reflect.DeepEqual(w, g) {
				t.Errorf("%s/%s keys differ:\nwant %+v\ngot  %+v", a, gw, w, g)
			}
			for i := range g {
				if i < len(w) && (g[i].Secret() != w[i].Secret() || g[i].Status() != w[i].Status()) {
					t.Errorf("key %s secret/status = %q/%q, want %q/%q", g[i].ID, g[i].Secret(), g[i].Status(), w[i].Secret(), w[i].Status())
				}
			}
			for _, p := range []string{"openai", "anthropic", "mistral"} {
				wk, gk := want.KeyFor(a, gw, p, ""), got.KeyFor(a, gw, p, "")
				if (wk == nil) != (gk == nil) || (wk != nil && (wk.ID != gk.ID || wk.Secret() != gk.Secret())) {
					t.Errorf("KeyFor(%s,%s,%s) = %v, want %v", a, gw, p, gk, wk)
				}
			}
		}
	}
}

func TestReplayRebuildsSameState(t *testing.T) {
	svc, log, clk := newSvc(t)
	writeEverything(t, svc, clk)
	live := snap(svc)

	// Sanity: the sequence produced what it should.
	if len(live.Gateways(acct)) != 2 || len(live.Tokens(acct)) != 1 || len(live.ProviderKeys(acct, "gw1")) != 2 ||
		len(live.ProviderKeys(acct, "gw2")) != 0 || len(live.CustomProviders(acct)) != 1 || live.Seq != uint64(len(log.Events)) {
		t.Fatalf("unexpected live state (seq %d, events %d)", live.Seq, len(log.Events))
	}
	if k := live.KeyFor(acct, "gw1", "openai", "default"); k == nil || k.Secret() != "sk-rotated-0000000000000000000000" {
		t.Fatalf("rotated key = %v", k)
	}

	sealer, err := config.NewSealer(make([]byte, 32))
	if err != nil {
		t.Fatal(err)
	}
	p := config.NewProjection(log, sealer, nil)
	for _, m := range log.Events {
		if err := p.Apply(m); err != nil {
			t.Fatalf("Apply(%d): %v", m.Seq, err)
		}
	}
	assertSameState(t, live, p.Current())
	for _, k := range p.Current().ProviderKeys(acct, "gw1") {
		if k.Status() != "active" || k.Secret() == "" {
			t.Errorf("replayed key %s: status %q secret %q", k.Alias, k.Status(), k.Secret())
		}
	}
	wantAudit := svc.Projection().Audit(config.AuditQuery{})
	gotAudit := p.Audit(config.AuditQuery{})
	if len(wantAudit) != len(log.Events) {
		t.Errorf("live audit = %d entries, want %d", len(wantAudit), len(log.Events))
	}
	if !reflect.DeepEqual(wantAudit, gotAudit) {
		t.Errorf("audit differs after replay:\nwant %+v\ngot  %+v", wantAudit, gotAudit)
	}

	// Applying an event again (or an older one) is a no-op.
	before := p.Current()
	for _, i := range []int{len(log.Events) - 1, 0, len(log.Events) / 2} {
		if err := p.Apply(log.Events[i]); err != nil {
			t.Fatal(err)
		}
	}
	if p.Current() != before {
		t.Error("re-applying an applied event published a new snapshot")
	}
	if n := len(p.Audit(config.AuditQuery{})); n != len(gotAudit) {
		t.Errorf("re-applying added audit entries: %d, want %d", n, len(gotAudit))
	}
	assertSameState(t, live, p.Current())
}

func TestReplayEachEventTwice(t *testing.T) {
	svc, log, clk := newSvc(t)
	writeEverything(t, svc, clk)
	sealer, _ := config.NewSealer(make([]byte, 32))
	p := config.NewProjection(log, sealer, nil)
	for _, m := range log.Events {
		for i := 0; i < 2; i++ {
			if err := p.Apply(m); err != nil {
				t.Fatal(err)
			}
			if p.Current().Seq != m.Seq {
				t.Fatalf("seq = %d after applying %d", p.Current().Seq, m.Seq)
			}
		}
	}
	assertSameState(t, snap(svc), p.Current())
	if w, g := svc.Projection().Audit(config.AuditQuery{}), p.Audit(config.AuditQuery{}); !reflect.DeepEqual(w, g) {
		t.Errorf("audit differs: %d vs %d entries", len(w), len(g))
	}
}

func TestReplayWithAnotherMasterKey(t *testing.T) {
	svc, log, _ := newSvc(t)
	mustGateway(t, svc, acct, `{"id":"gw"}`)
	k := mustKey(t, svc, acct, "gw", `{"provider_slug":"openai","secret":"`+secretA+`"}`)
	other := make([]byte, 32)
	other[0] = 1
	sealer, _ := config.NewSealer(other)
	p := config.NewProjection(log, sealer, nil)
	for _, m := range log.Events {
		_ = p.Apply(m)
	}
	got := p.Current().ProviderKey(k.ID)
	if got == nil {
		t.Fatal("key missing after replay")
	}
	if got.Status() != "unavailable" || got.Secret() != "" {
		t.Errorf("with another master key: status %q secret %q", got.Status(), got.Secret())
	}
	// A missing sealed value is unavailable too.
	delete(log.Secrets, k.SecretRef)
	good, _ := config.NewSealer(make([]byte, 32))
	p2 := config.NewProjection(log, good, nil)
	for _, m := range log.Events {
		_ = p2.Apply(m)
	}
	if got := p2.Current().ProviderKey(k.ID); got == nil || got.Status() != "unavailable" || got.Secret() != "" {
		t.Errorf("with the sealed value gone: %+v", got)
	}
}

func TestProjectionSkipsUndecodableEvent(t *testing.T) {
	svc, log, _ := newSvc(t)
	mustGateway(t, svc, acct, `{"id":"gw1"}`)
	sealer, _ := config.NewSealer(make([]byte, 32))
	p := config.NewProjection(log, sealer, nil)
	if err := p.Apply(events.Msg{Seq: 1, Data: []byte("not json")}); err != nil {
		t.Fatal(err)
	}
	if p.Current().Seq != 1 || len(p.Audit(config.AuditQuery{})) != 0 {
		t.Errorf("seq %d audit %d", p.Current().Seq, len(p.Audit(config.AuditQuery{})))
	}
	// The good event at seq 2 still applies.
	m := log.Events[0]
	m.Seq = 2
	if err := p.Apply(m); err != nil {
		t.Fatal(err)
	}
	if p.Current().Gateway(acct, "gw1") == nil {
		t.Error("event after a bad one not applied")
	}
}

// ---------------------------------------------------------------- audit

func TestAuditOneEntryPerWrite(t *testing.T) {
	svc, log, _ := newSvc(t)
	mustGateway(t, svc, acct, `{"id":"gw"}`)
	var keyID, tokID, customID string
	tests := []struct {
		name     string
		op       func() error
		ok       bool
		action   string
		resource string
		gateway  string
	}{
		{"create gateway", func() error { _, err := svc.CreateGateway(bg, actor, acct, []byte(`{"id":"gw2"}`)); return err }, true, "create", "ai_gateway.gateway", "gw2"},
		{"refused gateway", func() error { _, err := svc.CreateGateway(bg, actor, acct, []byte(`{"id":"gw2"}`)); return err }, false, "", "", ""},
		{"update gateway", func() error {
			_, err := svc.UpdateGateway(bg, actor, acct, "gw2", []byte(`{"cache_ttl":5}`))
			return err
		}, true, "update", "ai_gateway.gateway", "gw2"},
		{"ensure default", func() error { _, err := svc.EnsureDefaultGateway(bg, actor, acct); return err }, true, "create", "ai_gateway.gateway", "default"},
		{"ensure default again", func() error { _, err := svc.EnsureDefaultGateway(bg, actor, acct); return err }, false, "", "", ""},
		{"create token", func() error {
			tok, _, err := svc.CreateToken(bg, actor, acct, []byte(`{"name":"n","permissions":["run"]}`))
			if tok != nil {
				tokID = tok.ID
			}
			return err
		}, true, "create", "ai_gateway.token", ""},
		{"refused token", func() error {
			_, _, err := svc.CreateToken(bg, actor, acct, []byte(`{"name":"n","permissions":["root"]}`))
			return err
		}, false, "", "", ""},
		{"revoke token", func() error { _, err := svc.RevokeToken(bg, actor, acct, tokID); return err }, true, "delete", "ai_gateway.token", ""},
		{"create key", func() error {
			k, err := svc.CreateProviderKey(bg, actor, acct, "gw", []byte(`{"provider_slug":"openai","secret":"`+secretA+`"}`))
			if k != nil {
				keyID = k.ID
			}
			return err
		}, true, "create", "ai_gateway.provider_config", "gw"},
		{"update key", func() error {
			_, err := svc.UpdateProviderKey(bg, actor, acct, "gw", keyID, []byte(`{"secret":"`+secretB+`"}`))
			return err
		}, true, "update", "ai_gateway.provider_config", "gw"},
		{"delete key", func() error { _, err := svc.DeleteProviderKey(bg, actor, acct, "gw", keyID); return err }, true, "delete", "ai_gateway.provider_config", "gw"},
		{"create custom", func() error {
			c, err := svc.CreateCustomProvider(bg, actor, acct, []byte(`{"name":"n","slug":"s","base_url":"https://x.example"}`))
			if c != nil {
				customID = c.ID
			}
			return err
		}, true, "create", "ai_gateway.custom_provider", ""},
		{"update custom", func() error {
			_, err := svc.UpdateCustomProvider(bg, actor, acct, customID, []byte(`{"name":"m"}`))
			return err
		}, true, "update", "ai_gateway.custom_provider", ""},
		{"refused custom", func() error {
			_, err := svc.UpdateCustomProvider(bg, actor, acct, customID, []byte(`{"base_url":"http://x"}`))
			return err
		}, false, "", "", ""},
		{"delete custom", func() error { _, err := svc.DeleteCustomProvider(bg, actor, acct, customID); return err }, true, "delete", "ai_gateway.custom_provider", ""},
		{"delete gateway", func() error { _, err := svc.DeleteGateway(bg, actor, acct, "gw2"); return err }, true, "delete", "ai_gateway.gateway", "gw2"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before := len(svc.Projection().Audit(config.AuditQuery{}))
			nEvents := len(log.Events)
			err := tc.op()
			after := svc.Projection().Audit(config.AuditQuery{})
			if !tc.ok {
				if tc.name != "ensure default again" && err == nil {
					t.Fatal("want an error")
				}
				if len(after) != before || len(log.Events) != nEvents {
					t.Errorf("audit %d→%d, events %d→%d, want unchanged", before, len(after), nEvents, len(log.Events))
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(after) != before+1 || len(log.Events) != nEvents+1 {
				t.Fatalf("audit %d→%d, events %d→%d, want one more", before, len(after), nEvents, len(log.Events))
			}
			e := after[0] // newest first
			env, c := decodeEvent(t, log.Events[len(log.Events)-1])
			if e.ID != env.ID || !e.When.Equal(env.Time) {
				t.Errorf("entry id/when = %s/%v, want event %s/%v", e.ID, e.When, env.ID, env.Time)
			}
			if e.Action.Type != tc.action || !e.Action.Result || e.Resource.Type != tc.resource || e.Owner.ID != acct {
				t.Errorf("entry = %+v", e)
			}
			if e.Resource.ID != c.ResourceID || e.Resource.ID == "" {
				t.Errorf("resource id = %q, want %q", e.Resource.ID, c.ResourceID)
			}
			if e.Actor != actor {
				t.Errorf("actor = %+v, want %+v", e.Actor, actor)
			}
			if e.Interface != "API" || !strings.HasSuffix(e.Action.Info, tc.action+"d") {
				t.Errorf("interface/info = %q/%q", e.Interface, e.Action.Info)
			}
			if gw, _ := e.Metadata["gateway_id"].(string); gw != tc.gateway {
				t.Errorf("metadata gateway_id = %q, want %q", gw, tc.gateway)
			}
			if !json.Valid(e.NewValueJSON) || !json.Valid(e.OldValueJSON) {
				t.Errorf("invalid JSON values: %s / %s", e.NewValueJSON, e.OldValueJSON)
			}
			switch tc.action {
			case "create":
				if string(e.OldValueJSON) != "{}" || string(e.NewValueJSON) == "{}" {
					t.Errorf("create values: old %s new %s", e.OldValueJSON, e.NewValueJSON)
				}
			case "delete":
				if string(e.NewValueJSON) != "{}" || string(e.OldValueJSON) == "{}" {
					t.Errorf("delete values: old %s new %s", e.OldValueJSON, e.NewValueJSON)
				}
			}
		})
	}
}

func TestAuditActorRecorded(t *testing.T) {
	svc, log, _ := newSvc(t)
	other := events.Actor{ID: "admin", Type: "admin_token"}
	if _, err := svc.CreateGateway(bg, other, acct, []byte(`{"id":"g"}`)); err != nil {
		t.Fatal(err)
	}
	mustGateway(t, svc, acct, `{"id":"h"}`)
	a := svc.Projection().Audit(config.AuditQuery{})
	if a[1].Actor != other || a[0].Actor != actor {
		t.Errorf("actors = %+v, %+v", a[1].Actor, a[0].Actor)
	}
	_, c := decodeEvent(t, log.Events[0])
	if c.Actor != other {
		t.Errorf("event actor = %+v", c.Actor)
	}
}

func TestAuditFilters(t *testing.T) {
	svc, _, clk := newSvc(t)
	// One write per minute from t0: entries e0..e6.
	at := func(i int) time.Time { return t0.Add(time.Duration(i) * time.Minute) }
	var ids []string // resource ids in write order
	writes := []func() string{
		func() string { return mustGateway(t, svc, acct, `{"id":"g1"}`).ID },
		func() string { return mustGateway(t, svc, "acc2", `{"id":"g1"}`).ID },
		func() string {
			tok, _ := mustToken(t, svc, acct, `{"name":"n","permissions":["run"]}`)
			return tok.ID
		},
		func() string {
			g, err := svc.UpdateGateway(bg, actor, acct, "g1", []byte(`{"cache_ttl":9}`))
			if err != nil {
				t.Fatal(err)
			}
			return g.ID
		},
		func() string { return mustGateway(t, svc, acct, `{"id":"g2"}`).ID },
		func() string {
			return mustCustom(t, svc, acct, `{"name":"n","slug":"s","base_url":"https://x.example"}`).ID
		},
		func() string {
			g, err := svc.DeleteGateway(bg, actor, acct, "g1")
			if err != nil {
				t.Fatal(err)
			}
			return g.ID
		},
	}
	for i, w := range writes {
		clk.set(at(i))
		ids = append(ids, w())
	}
	type entry struct{ owner, id string }
	tests := []struct {
		name string
		q    config.AuditQuery
		want []int // indexes of writes, newest first
	}{
		{"all", config.AuditQuery{}, []int{6, 5, 4, 3, 2, 1, 0}},
		{"account", config.AuditQuery{AccountID: acct}, []int{6, 5, 4, 3, 2, 0}},
		{"other account", config.AuditQuery{AccountID: "acc2"}, []int{1}},
		{"unknown account", config.AuditQuery{AccountID: "nope"}, nil},
		{"type gateway", config.AuditQuery{ResourceType: "gateway"}, []int{6, 4, 3, 1, 0}},
		{"type ai_gateway.gateway", config.AuditQuery{ResourceType: "ai_gateway.gateway"}, []int{6, 4, 3, 1, 0}},
		{"type token", config.AuditQuery{ResourceType: "token"}, []int{2}},
		{"type custom_provider", config.AuditQuery{ResourceType: "ai_gateway.custom_provider"}, []int{5}},
		{"type provider_config", config.AuditQuery{ResourceType: "provider_config"}, nil},
		{"account and type and id", config.AuditQuery{AccountID: acct, ResourceType: "gateway", ResourceID: "g1"}, []int{6, 3, 0}},
		{"id across accounts", config.AuditQuery{ResourceID: "g1"}, []int{6, 3, 1, 0}},
		{"since (inclusive)", config.AuditQuery{Since: at(4)}, []int{6, 5, 4}},
		{"before (exclusive)", config.AuditQuery{Before: at(2)}, []int{1, 0}},
		{"since and before", config.AuditQuery{Since: at(2), Before: at(5)}, []int{4, 3, 2}},
		{"since after all", config.AuditQuery{Since: at(7)}, nil},
		{"before first", config.AuditQuery{Before: at(0)}, nil},
		{"since and account", config.AuditQuery{Since: at(1), AccountID: "acc2"}, []int{1}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := svc.Projection().Audit(tc.q)
			var gotE, wantE []entry
			for _, e := range got {
				gotE = append(gotE, entry{e.Owner.ID, e.Resource.ID})
			}
			for _, i := range tc.want {
				owner := acct
				if i == 1 {
					owner = "acc2"
				}
				wantE = append(wantE, entry{owner, ids[i]})
			}
			if !reflect.DeepEqual(gotE, wantE) {
				t.Errorf("Audit(%+v) = %v, want %v", tc.q, gotE, wantE)
			}
			for i := 1; i < len(got); i++ {
				if got[i].When.After(got[i-1].When) {
					t.Errorf("entries not newest first at %d", i)
				}
			}
			for i, w := range tc.want {
				if i < len(got) && !got[i].When.Equal(at(w)) {
					t.Errorf("entry %d when = %v, want %v", i, got[i].When, at(w))
				}
			}
		})
	}
}

func TestAuditTokenHidesHashAndSalt(t *testing.T) {
	svc, _, _ := newSvc(t)
	tok, _ := mustToken(t, svc, acct, `{"name":"n","permissions":["run"]}`)
	if _, err := svc.RevokeToken(bg, actor, acct, tok.ID); err != nil {
		t.Fatal(err)
	}
	entries := svc.Projection().Audit(config.AuditQuery{ResourceType: "token"})
	if len(entries) != 2 {
		t.Fatalf("entries = %d", len(entries))
	}
	for _, e := range entries {
		for _, raw := range []json.RawMessage{e.NewValueJSON, e.OldValueJSON} {
			m := jsonMap(t, raw)
			if _, ok := m["hash"]; ok {
				t.Errorf("%s entry holds hash: %s", e.Action.Type, raw)
			}
			if _, ok := m["salt"]; ok {
				t.Errorf("%s entry holds salt: %s", e.Action.Type, raw)
			}
			if bytes.Contains(raw, []byte(tok.Hash)) || bytes.Contains(raw, []byte(tok.Salt)) {
				t.Errorf("%s entry holds the hash or salt value", e.Action.Type)
			}
		}
	}
	created := jsonMap(t, entries[1].NewValueJSON)
	if created["id"] != tok.ID || created["name"] != "n" {
		t.Errorf("created value = %v", created)
	}
	revoked := jsonMap(t, entries[0].OldValueJSON)
	if revoked["id"] != tok.ID {
		t.Errorf("revoked old value = %v", revoked)
	}
}

func TestAuditProviderKeyHidesSecretRef(t *testing.T) {
	svc, _, _ := newSvc(t)
	mustGateway(t, svc, acct, `{"id":"gw"}`)
	k := mustKey(t, svc, acct, "gw", `{"provider_slug":"openai","secret":"`+secretA+`"}`)
	e := svc.Projection().Audit(config.AuditQuery{ResourceType: "provider_config"})
	if len(e) != 1 {
		t.Fatalf("entries = %d", len(e))
	}
	m := jsonMap(t, e[0].NewValueJSON)
	if _, ok := m["secret_ref"]; ok || bytes.Contains(e[0].NewValueJSON, []byte(k.SecretRef)) {
		t.Errorf("audit value holds secret_ref: %s", e[0].NewValueJSON)
	}
	if m["alias"] != "default" || m["secret_preview"] != k.SecretPreview {
		t.Errorf("audit value = %v", m)
	}
}

func TestAuditUpdateHoldsOldAndNew(t *testing.T) {
	svc, _, clk := newSvc(t)
	mustGateway(t, svc, acct, `{"id":"gw","collect_logs":true,"rate_limiting_technique":"fixed"}`)
	clk.set(t0.Add(time.Minute))
	if _, err := svc.UpdateGateway(bg, actor, acct, "gw", []byte(`{"collect_logs":false,"rate_limiting_technique":"sliding"}`)); err != nil {
		t.Fatal(err)
	}
	c := mustCustom(t, svc, acct, `{"name":"n","slug":"s","base_url":"https://old.example"}`)
	if _, err := svc.UpdateCustomProvider(bg, actor, acct, c.ID, []byte(`{"base_url":"https://new.example"}`)); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, rtype, field string
		old, new           any
	}{
		{"gateway collect_logs", "gateway", "collect_logs", true, false},
		{"gateway technique", "gateway", "rate_limiting_technique", "fixed", "sliding"},
		{"gateway modified_at", "gateway", "modified_at", t0.Format(time.RFC3339), t0.Add(time.Minute).Format(time.RFC3339)},
		{"custom base_url", "custom_provider", "base_url", "https://old.example", "https://new.example"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			entries := svc.Projection().Audit(config.AuditQuery{ResourceType: tc.rtype})
			if len(entries) != 2 || entries[0].Action.Type != "update" {
				t.Fatalf("entries = %+v", entries)
			}
			old, nw := jsonMap(t, entries[0].OldValueJSON), jsonMap(t, entries[0].NewValueJSON)
			if old[tc.field] != tc.old || nw[tc.field] != tc.new {
				t.Errorf("%s: old %v new %v, want %v → %v", tc.field, old[tc.field], nw[tc.field], tc.old, tc.new)
			}
		})
	}
}

// ---------------------------------------------------------------- concurrency

func TestConcurrentCreates(t *testing.T) {
	svc, log := configtest.New()
	const n = 20
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			_, errs[i] = svc.CreateGateway(bg, actor, acct, []byte(fmt.Sprintf(`{"id":"gw-%02d"}`, i)))
		}(i)
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("gw-%02d: %v", i, err)
		}
	}
	s := snap(svc)
	if got := len(s.Gateways(acct)); got != n {
		t.Errorf("gateways = %d, want %d", got, n)
	}
	for i := 0; i < n; i++ {
		if s.Gateway(acct, fmt.Sprintf("gw-%02d", i)) == nil {
			t.Errorf("gw-%02d missing", i)
		}
	}
	if len(log.Events) != n || s.Seq != n {
		t.Errorf("events = %d, seq = %d, want %d", len(log.Events), s.Seq, n)
	}
	for i, m := range log.Events {
		if m.Seq != uint64(i+1) {
			t.Errorf("event %d has seq %d", i, m.Seq)
		}
	}
	if a := svc.Projection().Audit(config.AuditQuery{}); len(a) != n {
		t.Errorf("audit = %d entries, want %d", len(a), n)
	}
}

func TestConcurrentMixedWritesAndReads(t *testing.T) {
	svc, log := configtest.New()
	mustGateway(t, svc, acct, `{"id":"gw"}`)
	const n = 10
	var wg sync.WaitGroup
	errs := make(chan error, 3*n)
	for i := 0; i < n; i++ {
		wg.Add(3)
		go func(i int) {
			defer wg.Done()
			_, err := svc.CreateProviderKey(bg, actor, acct, "gw", []byte(fmt.Sprintf(`{"provider_slug":"openai","alias":"k%d","secret":"sk-%032d"}`, i, i)))
			errs <- err
		}(i)
		go func(i int) {
			defer wg.Done()
			_, _, err := svc.CreateToken(bg, actor, acct, []byte(fmt.Sprintf(`{"name":"t%d","permissions":["run"]}`, i)))
			errs <- err
		}(i)
		go func() {
			defer wg.Done()
			s := snap(svc)
			_ = s.ProviderKeys(acct, "gw")
			_ = s.Tokens(acct)
			errs <- nil
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
	s := snap(svc)
	if len(s.ProviderKeys(acct, "gw")) != n || len(s.Tokens(acct)) != n || len(log.Events) != 1+2*n {
		t.Errorf("keys %d tokens %d events %d", len(s.ProviderKeys(acct, "gw")), len(s.Tokens(acct)), len(log.Events))
	}
	for i := 0; i < n; i++ {
		if k := s.KeyFor(acct, "gw", "openai", fmt.Sprintf("k%d", i)); k == nil || k.Secret() != fmt.Sprintf("sk-%032d", i) {
			t.Errorf("key k%d = %v", i, k)
		}
	}
}

// ---------------------------------------------------------------- ValidID

func TestValidID(t *testing.T) {
	tests := []struct {
		id   string
		want bool
	}{
		{"a", true},
		{"A-b_9", true},
		{strings.Repeat("x", 64), true},
		{strings.Repeat("x", 65), false},
		{"", false},
		{"a b", false},
		{"a.b", false},
		{"é", false},
	}
	for _, tc := range tests {
		if got := config.ValidID(tc.id); got != tc.want {
			t.Errorf("ValidID(%q) = %v, want %v", tc.id, got, tc.want)
		}
	}
}

// A refused update must leave the published gateway untouched, and an accepted one must
// record the true old value in the audit trail.
func TestRefusedUpdateLeavesGatewayAlone(t *testing.T) {
	svc, _, _ := newSvc(t)
	ctx := context.Background()
	if _, err := svc.CreateGateway(ctx, actor, acct, []byte(`{"id":"g","cache_ttl":60,"dlp":{"enabled":true}}`)); err != nil {
		t.Fatal(err)
	}
	_, err := svc.UpdateGateway(ctx, actor, acct, "g", []byte(`{"cache_ttl":120,"dlp":{"enabled":false},"retry_max_attempts":6}`))
	wantErr(t, err, 400, config.CodeInvalid, "body", "retry_max_attempts")
	g := snap(svc).Gateway(acct, "g")
	if *g.CacheTTL != 60 || string(g.DLP) != `{"enabled":true}` {
		t.Fatalf("refused update changed the live gateway: cache_ttl=%d dlp=%s", *g.CacheTTL, g.DLP)
	}
	if _, err := svc.UpdateGateway(ctx, actor, acct, "g", []byte(`{"cache_ttl":90}`)); err != nil {
		t.Fatal(err)
	}
	e := svc.Projection().Audit(config.AuditQuery{ResourceID: "g"})[0]
	var old, nw map[string]any
	_ = json.Unmarshal(e.OldValueJSON, &old)
	_ = json.Unmarshal(e.NewValueJSON, &nw)
	if old["cache_ttl"] != 60.0 || nw["cache_ttl"] != 90.0 {
		t.Fatalf("audit old/new cache_ttl: %v / %v", old["cache_ttl"], nw["cache_ttl"])
	}
}
