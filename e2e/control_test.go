// control_test.go drives the control plane with the hosted API's own Go client
// (cloudflare-go v7): gateways, their URL, provider configs, custom providers; checks the
// audit trail has an entry for every change; and that a restart keeps gateways, tokens,
// stored keys and custom providers.
package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/cloudflare/cloudflare-go/v7"
	"github.com/cloudflare/cloudflare-go/v7/ai_gateway"
	"github.com/switchyard/switchyard/mock"
)

// apiCall sends a raw control-API request with a bearer token and decodes the envelope.
func apiCall(t *testing.T, g *Gateway, bearer, method, path string, body any) (int, map[string]any) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, g.URL+"/client/v4/accounts/"+account+path, rd)
	req.Header.Set("Authorization", "Bearer "+bearer)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var env map[string]any
	raw, _ := io.ReadAll(resp.Body)
	if err := json.Unmarshal(raw, &env); err != nil {
		t.Fatalf("%s %s: %d %s", method, path, resp.StatusCode, raw)
	}
	return resp.StatusCode, env
}

func TestGatewaysWithHostedClient(t *testing.T) {
	g := startGateway(t, "", nil)
	api := g.API()
	ctx := context.Background()
	acct := cloudflare.F(account)

	created, err := api.AIGateway.New(ctx, ai_gateway.AIGatewayNewParams{
		AccountID: acct, ID: cloudflare.F("prod-chat"), CacheInvalidateOnUpdate: cloudflare.F(true),
		CacheTTL: cloudflare.F(int64(300)), CollectLogs: cloudflare.F(true), RateLimitingInterval: cloudflare.F(int64(60)),
		RateLimitingLimit: cloudflare.F(int64(100)), RateLimitingTechnique: cloudflare.F(ai_gateway.AIGatewayNewParamsRateLimitingTechniqueSliding),
		Authentication: cloudflare.F(true), LogManagement: cloudflare.F(int64(10000)),
		LogManagementStrategy: cloudflare.F(ai_gateway.AIGatewayNewParamsLogManagementStrategyDeleteOldest),
		RetryMaxAttempts:      cloudflare.F(int64(3)), RetryDelay: cloudflare.F(int64(500)),
		RetryBackoff: cloudflare.F(ai_gateway.AIGatewayNewParamsRetryBackoffExponential),
	})
	if err != nil {
		t.Fatal(err)
	}
	if created.ID != "prod-chat" || created.CacheTTL != 300 || !created.Authentication || created.RateLimitingTechnique != "sliding" ||
		created.LogManagementStrategy != "DELETE_OLDEST" || created.RetryBackoff != "exponential" || created.CreatedAt.IsZero() {
		t.Fatalf("created: %+v", created)
	}
	got, err := api.AIGateway.Get(ctx, "prod-chat", ai_gateway.AIGatewayGetParams{AccountID: acct})
	if err != nil || got.RetryMaxAttempts != 3 || got.LogManagement != 10000 {
		t.Fatalf("get: %+v %v", got, err)
	}
	upd, err := api.AIGateway.Update(ctx, "prod-chat", ai_gateway.AIGatewayUpdateParams{
		AccountID: acct, CacheInvalidateOnUpdate: cloudflare.F(false), CacheTTL: cloudflare.F(int64(0)),
		CollectLogs: cloudflare.F(false), RateLimitingInterval: cloudflare.F(int64(0)), RateLimitingLimit: cloudflare.F(int64(0)),
	})
	if err != nil || upd.CollectLogs || upd.CacheTTL != 0 || !upd.Authentication || !upd.ModifiedAt.After(created.ModifiedAt) && !upd.ModifiedAt.Equal(created.ModifiedAt) {
		t.Fatalf("update: %+v %v", upd, err)
	}
	for i := 0; i < 25; i++ {
		g.EnsureGateway(fmt.Sprintf("bulk-%02d", i), false)
	}
	var ids []string
	it := api.AIGateway.ListAutoPaging(ctx, ai_gateway.AIGatewayListParams{AccountID: acct, PerPage: cloudflare.F(int64(10))})
	for it.Next() {
		ids = append(ids, it.Current().ID)
	}
	if it.Err() != nil || len(ids) != 27 { // 25 bulk + gw1 + prod-chat
		t.Fatalf("listed %d gateways (%v): %v", len(ids), it.Err(), ids)
	}
	page, err := api.AIGateway.List(ctx, ai_gateway.AIGatewayListParams{AccountID: acct, Search: cloudflare.F("prod")})
	if err != nil || len(page.Result) != 1 || page.Result[0].ID != "prod-chat" {
		t.Fatalf("search: %+v %v", page, err)
	}
	u, err := api.AIGateway.URLs.Get(ctx, "prod-chat", "openai", ai_gateway.URLGetParams{AccountID: acct})
	if err != nil || *u != g.URL+"/v1/"+account+"/prod-chat/openai" {
		t.Fatalf("url: %v %v", u, err)
	}
	// An invalid id names the field.
	_, err = api.AIGateway.New(ctx, ai_gateway.AIGatewayNewParams{AccountID: acct, ID: cloudflare.F(strings.Repeat("x", 65)),
		CacheInvalidateOnUpdate: cloudflare.F(false), CacheTTL: cloudflare.F(int64(0)), CollectLogs: cloudflare.F(true),
		RateLimitingInterval: cloudflare.F(int64(0)), RateLimitingLimit: cloudflare.F(int64(0))})
	var apiErr *cloudflare.Error
	if !asError(err, &apiErr) || apiErr.StatusCode != 400 || !strings.Contains(apiErr.Error(), "id") {
		t.Fatalf("65-character id: %v", err)
	}
	if _, err := api.AIGateway.Delete(ctx, "prod-chat", ai_gateway.AIGatewayDeleteParams{AccountID: acct}); err != nil {
		t.Fatal(err)
	}
	if _, err := api.AIGateway.Get(ctx, "prod-chat", ai_gateway.AIGatewayGetParams{AccountID: acct}); !asError(err, &apiErr) || apiErr.StatusCode != 404 {
		t.Fatalf("deleted gateway: %v", err)
	}
	// The data plane follows: a deleted gateway is a 404 at once.
	resp, err := http.Post(g.URL+"/v1/"+account+"/prod-chat/openai/chat/completions", "application/json", strings.NewReader(`{}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 404 {
		t.Fatalf("request to a deleted gateway: %d", resp.StatusCode)
	}

	// Every change is in the audit trail, newest first, with the actor and old/new values.
	st, env := apiCall(t, g, token, "GET", "/audit_logs?resource=gateway&resource.id=prod-chat", nil)
	entries, _ := env["result"].([]any)
	if st != 200 || len(entries) != 3 {
		t.Fatalf("audit: %d %v", st, env)
	}
	for i, want := range []string{"delete", "update", "create"} {
		e := entries[i].(map[string]any)
		action := e["action"].(map[string]any)
		if action["type"] != want || e["actor"].(map[string]any)["type"] != "admin_token" {
			t.Fatalf("audit entry %d: %v", i, e)
		}
	}
	upd0 := entries[1].(map[string]any)
	if upd0["oldValueJson"].(map[string]any)["collect_logs"] != true || upd0["newValueJson"].(map[string]any)["collect_logs"] != false {
		t.Fatalf("update entry values: %v", upd0)
	}
	st, env = apiCall(t, g, token, "GET", "/audit_logs?resource=gateway", nil)
	if all, _ := env["result"].([]any); st != 200 || len(all) != 3+26 {
		t.Fatalf("audit of all gateway changes: %d entries", len(all))
	}
}

func TestRestartKeepsConfiguration(t *testing.T) {
	up := mock.NewOpenAI()
	defer up.Close()
	const secret = "sk-restart-kept-0123456789"
	up.AcceptKey = func(k string) bool { return k == secret }
	g := startGateway(t, "", []string{"SWITCHYARD_UPSTREAM_OPENAI=" + up.URL}, "--allow-insecure-upstreams")
	g.EnsureGateway("locked", true)
	ctx := context.Background()
	acct := cloudflare.F(account)
	if _, err := g.API().AIGateway.CustomProviders.New(ctx, ai_gateway.CustomProviderNewParams{AccountID: acct,
		Name: cloudflare.F("Local"), Slug: cloudflare.F("local"), BaseURL: cloudflare.F(up.URL), Enable: cloudflare.F(true)}); err != nil {
		t.Fatal(err)
	}
	k, err := g.API().AIGateway.ProviderConfigs.New(ctx, "locked", ai_gateway.ProviderConfigNewParams{AccountID: acct,
		Alias: cloudflare.F("default"), DefaultConfig: cloudflare.F(true), ProviderSlug: cloudflare.F("openai"), Secret: cloudflare.F(secret)})
	if err != nil {
		t.Fatal(err)
	}
	// The custom provider reuses the same stored secret by its secret_id.
	if _, err := g.API().AIGateway.ProviderConfigs.New(ctx, "locked", ai_gateway.ProviderConfigNewParams{AccountID: acct,
		Alias: cloudflare.F("default"), ProviderSlug: cloudflare.F("custom-local"), SecretID: cloudflare.F(k.SecretID)}); err != nil {
		t.Fatal(err)
	}
	st, env := apiCall(t, g, token, "POST", "/tokens", map[string]any{"name": "app", "permissions": []string{"run"}})
	if st != 200 {
		t.Fatalf("token: %d %v", st, env)
	}
	runTok := env["result"].(map[string]any)["value"].(string)

	g.Stop()
	g.Restart()

	for _, path := range []string{"/locked/openai/chat/completions", "/locked/custom-local/chat/completions"} {
		req, _ := http.NewRequest("POST", g.URL+"/v1/"+account+path, strings.NewReader(`{"model":"gpt-4o-mini","messages":[{"role":"user","content":"hi"}]}`))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("cf-aig-authorization", "Bearer "+runTok)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("after restart %s: %d %s", path, resp.StatusCode, body)
		}
	}
	cfgs, err := g.API().AIGateway.ProviderConfigs.List(ctx, "locked", ai_gateway.ProviderConfigListParams{AccountID: acct})
	if err != nil || len(cfgs.Result) != 2 || cfgs.Result[0].SecretID != cfgs.Result[1].SecretID {
		t.Fatalf("provider configs after restart: %+v %v", cfgs, err)
	}
	if _, env := apiCall(t, g, token, "GET", "/tokens", nil); len(env["result"].([]any)) != 1 {
		t.Fatalf("tokens after restart: %v", env)
	}
}
