// vertex_test.go drives Google Vertex AI's three authentication options from the
// reference against the Gemini/Vertex mock and its OAuth token endpoint: a stored key (a
// service account JSON with its region), a base64 service account JSON in Authorization,
// and a plain access token, on the provider endpoint and /compat.
package e2e

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/cloudflare/cloudflare-go/v7"
	"github.com/cloudflare/cloudflare-go/v7/ai_gateway"
	"github.com/switchyard/switchyard/mock"
)

func TestVertexAuthenticationOptions(t *testing.T) {
	up := mock.NewGemini()
	defer up.Close()
	g := startGateway(t, "", []string{"SWITCHYARD_UPSTREAM_GOOGLE_VERTEX_AI=" + up.URL}, "--allow-insecure-upstreams")
	url := g.Base("google-vertex-ai") + "/v1/projects/" + mock.VertexProject + "/locations/us-central1/publishers/google/models/gemini-2.5-flash:generateContent"
	body := `{"contents":[{"role":"user","parts":[{"text":"Tell me more about Cloudflare"}]}]}`
	post := func(u, body, authorization string) (int, string) {
		t.Helper()
		req, _ := http.NewRequest("POST", u, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		if authorization != "" {
			req.Header.Set("Authorization", authorization)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		return resp.StatusCode, string(b)
	}
	sa := base64.StdEncoding.EncodeToString(up.ServiceAccountJSON("us-central1"))

	// Option 3: a direct access token, forwarded as sent.
	if code, b := post(url, body, "Bearer "+mock.VertexDirectToken); code != 200 || !strings.Contains(b, "candidates") {
		t.Fatalf("direct token: %d %s", code, b)
	}
	if n := up.TokenExchanges(); n != 0 {
		t.Fatalf("a direct token was exchanged (%d)", n)
	}
	// Option 2: base64 service account JSON in Authorization, exchanged once and cached.
	for i, auth := range []string{"Bearer " + sa, sa, "Bearer " + sa} {
		if code, b := post(url, body, auth); code != 200 || !strings.Contains(b, "candidates") {
			t.Fatalf("service account in Authorization (%d): %d %s", i, code, b)
		}
	}
	if n := up.TokenExchanges(); n != 1 {
		t.Fatalf("%d token exchanges for three requests with one service account, want 1", n)
	}
	// A credentials JSON that is not a service account is refused before anything is sent.
	other := base64.StdEncoding.EncodeToString([]byte(`{"type":"authorized_user","region":"us-central1"}`))
	if code, b := post(url, body, "Bearer "+other); code != 401 || !strings.Contains(b, `"code":2022`) || !strings.Contains(b, "service_account") {
		t.Fatalf("not a service account: %d %s", code, b)
	}

	// Option 1: a stored key, the service account JSON as downloaded (several lines) with
	// the region the dashboard adds; a key without a region is refused naming the field.
	ctx := context.Background()
	var pretty bytes.Buffer
	if err := json.Indent(&pretty, up.ServiceAccountJSON("us-central1"), "", "  "); err != nil {
		t.Fatal(err)
	}
	noRegion := bytes.Replace(up.ServiceAccountJSON(""), []byte(`"region":""`), []byte(`"x":""`), 1)
	_, err := g.API().AIGateway.ProviderConfigs.New(ctx, gateway, ai_gateway.ProviderConfigNewParams{AccountID: cloudflare.F(account),
		Alias: cloudflare.F("noregion"), DefaultConfig: cloudflare.F(false), ProviderSlug: cloudflare.F("google-vertex-ai"), Secret: cloudflare.F(string(noRegion))})
	var apiErr *cloudflare.Error
	if !asError(err, &apiErr) || apiErr.StatusCode != 400 || !strings.Contains(err.Error(), "region") {
		t.Fatalf("stored key without a region: %v", err)
	}
	if _, err := g.API().AIGateway.ProviderConfigs.New(ctx, gateway, ai_gateway.ProviderConfigNewParams{AccountID: cloudflare.F(account),
		Alias: cloudflare.F("default"), DefaultConfig: cloudflare.F(true), ProviderSlug: cloudflare.F("google-vertex-ai"), Secret: cloudflare.F(pretty.String())}); err != nil {
		t.Fatal(err)
	}
	if code, b := post(url, body, ""); code != 200 || !strings.Contains(b, "candidates") {
		t.Fatalf("stored key on the provider endpoint: %d %s", code, b)
	}
	compat := `{"model":"google-vertex-ai/google/gemini-2.5-pro","messages":[{"role":"user","content":"What is Cloudflare?"}]}`
	if code, b := post(g.Base("compat")+"/chat/completions", compat, ""); code != 200 || !strings.Contains(b, `"chat.completion"`) {
		t.Fatalf("stored key on /compat: %d %s", code, b)
	}
}
