// byok_test.go checks stored provider keys end to end: a stored key reaches the upstream
// and nothing else (responses, errors, logs, payloads, events, API answers, the process's
// output, every file in the data dir), and rotating it under concurrent load fails no
// request while the next request after the rotation uses the new key.
package e2e

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cloudflare/cloudflare-go/v7"
	"github.com/cloudflare/cloudflare-go/v7/ai_gateway"
	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
	"github.com/switchyard/switchyard/mock"
)

// post sends a data-plane request with no provider credentials and returns status,
// headers and body.
func post(t *testing.T, url, body string, hdr map[string]string) (int, http.Header, []byte) {
	t.Helper()
	req, _ := http.NewRequest("POST", url, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, b
}

func TestStoredKeyReachesOnlyTheUpstream(t *testing.T) {
	const secret = "sk-CANARY-7f3a9c2e5b1d40686e21"
	up := mock.NewOpenAI()
	defer up.Close()
	up.AcceptKey = func(k string) bool { return k == secret }
	g := startGateway(t, "", []string{"SWITCHYARD_UPSTREAM_OPENAI=" + up.URL}, "--durable-events")
	ctx := context.Background()
	acct := cloudflare.F(account)
	k, err := g.API().AIGateway.ProviderConfigs.New(ctx, gateway, ai_gateway.ProviderConfigNewParams{AccountID: acct,
		Alias: cloudflare.F("default"), DefaultConfig: cloudflare.F(false), ProviderSlug: cloudflare.F("openai"), Secret: cloudflare.F(secret),
		RateLimit: cloudflare.F(1000.0), RateLimitPeriod: cloudflare.F(60.0)})
	if err != nil {
		t.Fatal(err)
	}
	var seen [][]byte // everything a client or operator can read
	seen = append(seen, []byte(k.JSON.RawJSON()))
	if k.SecretPreview == "" || strings.Contains(k.SecretPreview, secret) {
		t.Fatalf("preview %q", k.SecretPreview)
	}

	// The real SDK with no key of its own: the stored key is used.
	var hdr http.Header
	c := openai.NewClient(option.WithBaseURL(g.Base("openai")), option.WithMaxRetries(0),
		option.WithMiddleware(func(r *http.Request, next option.MiddlewareNext) (*http.Response, error) {
			r.Header.Del("Authorization")
			resp, err := next(r)
			if err == nil {
				hdr = resp.Header.Clone()
			}
			return resp, err
		}))
	comp, err := c.Chat.Completions.New(ctx, openai.ChatCompletionNewParams{Model: "gpt-4o-mini",
		Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("hello")}})
	if err != nil {
		t.Fatalf("chat with the stored key: %v", err)
	}
	seen = append(seen, []byte(comp.RawJSON()), []byte(fmt.Sprint(hdr)))
	logIDs := []string{hdr.Get("cf-aig-log-id")}

	stream := c.Chat.Completions.NewStreaming(ctx, openai.ChatCompletionNewParams{Model: "gpt-4o-mini",
		Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("stream")}})
	for stream.Next() {
		seen = append(seen, []byte(stream.Current().RawJSON()))
	}
	if stream.Err() != nil {
		t.Fatal(stream.Err())
	}
	logIDs = append(logIDs, hdr.Get("cf-aig-log-id"))

	for _, r := range []struct {
		name   string
		body   string
		hdr    map[string]string
		status int
	}{
		{"upstream error", `{"model":"error-400","messages":[]}`, nil, 400},
		{"missing alias", `{"model":"gpt-4o-mini","messages":[]}`, map[string]string{"cf-aig-byok-alias": "nope"}, 400},
		{"client key wins", `{"model":"gpt-4o-mini","messages":[]}`, map[string]string{"Authorization": "Bearer sk-wrong-key-123456"}, 401},
	} {
		st, h, b := post(t, g.Base("openai")+"/chat/completions", r.body, r.hdr)
		if st != r.status {
			t.Fatalf("%s: %d %s", r.name, st, b)
		}
		seen = append(seen, b, []byte(fmt.Sprint(h)))
		logIDs = append(logIDs, h.Get("cf-aig-log-id"))
	}

	// The upstream got the key, as a bearer token, on every request that did not bring its own.
	reqs := up.Requests()
	if len(reqs) != 4 { // the missing alias never left the gateway
		t.Fatalf("upstream saw %d requests", len(reqs))
	}
	for i, r := range reqs[:3] {
		if r.Header.Get("Authorization") != "Bearer "+secret {
			t.Fatalf("upstream request %d authorization %q", i, r.Header.Get("Authorization"))
		}
	}

	// Logs, payloads, key metadata, audit trail.
	for _, id := range logIDs {
		l := g.WaitLog(id)
		seen = append(seen, []byte(l.JSON.RawJSON()))
		for _, which := range []string{"request", "response"} {
			req, _ := http.NewRequest("GET", g.URL+"/client/v4/accounts/"+account+"/ai-gateway/gateways/"+gateway+"/logs/"+id+"/"+which, nil)
			req.Header.Set("Authorization", "Bearer "+token)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			seen = append(seen, b)
		}
	}
	if l := g.WaitLog(logIDs[0]); !strings.Contains(l.JSON.RawJSON(), `"key_alias":"default"`) {
		t.Fatalf("log does not name the stored key used: %s", l.JSON.RawJSON())
	}
	for _, path := range []string{"/ai-gateway/gateways/" + gateway + "/logs?per_page=50", "/ai-gateway/gateways/" + gateway + "/provider_configs",
		"/ai-gateway/gateways/" + gateway + "/provider_configs/" + k.ID, "/audit_logs", "/tokens"} {
		st, env := apiCall(t, g, token, "GET", path, nil)
		if st != 200 {
			t.Fatalf("%s: %d", path, st)
		}
		seen = append(seen, []byte(fmt.Sprint(env)))
	}
	_, env := apiCall(t, g, token, "GET", "/ai-gateway/gateways/"+gateway+"/provider_configs/"+k.ID, nil)
	if res := env["result"].(map[string]any); res["status"] != "active" || res["last_used_at"] == nil {
		t.Fatalf("key status / last use not shown: %v", res)
	}

	g.Stop() // flush everything to disk before reading it
	seen = append(seen, []byte(g.stderr.String()))
	for i, b := range seen {
		if bytes.Contains(b, []byte(secret)) {
			t.Fatalf("the stored key appears in answer %d: %s", i, b)
		}
	}
	files := 0
	err = filepath.WalkDir(g.DataDir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		files++
		if bytes.Contains(b, []byte(secret)) {
			t.Errorf("the stored key is in clear in %s", path)
		}
		return nil
	})
	if err != nil || files < 5 {
		t.Fatalf("walked %d files: %v", files, err)
	}
	if st, err := os.Stat(filepath.Join(g.DataDir, "master-key")); err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("master key file: %v %v", st, err)
	}
}

func TestKeyRotationUnderLoad(t *testing.T) {
	up := mock.NewOpenAI()
	defer up.Close()
	var mu sync.Mutex
	valid := map[string]bool{}
	up.AcceptKey = func(k string) bool { mu.Lock(); defer mu.Unlock(); return valid[k] }
	keyN := func(i int) string { return fmt.Sprintf("sk-rotation-%02d-abcdefghij", i) }
	valid[keyN(0)] = true
	g := startGateway(t, "", []string{"SWITCHYARD_UPSTREAM_OPENAI=" + up.URL})
	st, env := apiCall(t, g, token, "POST", "/ai-gateway/gateways/"+gateway+"/provider_configs",
		map[string]any{"provider_slug": "openai", "secret": keyN(0)})
	if st != 200 {
		t.Fatalf("create key: %d %v", st, env)
	}
	id := env["result"].(map[string]any)["id"].(string)
	secretID := env["result"].(map[string]any)["secret_id"]

	var stop atomic.Bool
	var sent, failed atomic.Int64
	var wg sync.WaitGroup
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for !stop.Load() {
				st, _, b := post(t, g.Base("openai")+"/chat/completions", `{"model":"gpt-4o-mini","messages":[{"role":"user","content":"load"}]}`, nil)
				sent.Add(1)
				if st != 200 {
					failed.Add(1)
					t.Errorf("request failed during rotation: %d %s", st, b)
				}
			}
		}()
	}
	for i := 1; i <= 5; i++ {
		time.Sleep(50 * time.Millisecond)
		mu.Lock()
		valid[keyN(i)] = true // the provider accepts the new key before it is stored; the old one stays valid
		mu.Unlock()
		st, env := apiCall(t, g, token, "PUT", "/ai-gateway/gateways/"+gateway+"/provider_configs/"+id, map[string]any{"secret": keyN(i)})
		if st != 200 || env["result"].(map[string]any)["secret_id"] != secretID {
			t.Fatalf("rotate %d: %d %v", i, st, env)
		}
		// The next request after the answer uses the new key.
		marker := fmt.Sprintf("probe-%d", i)
		if st, _, b := post(t, g.Base("openai")+"/chat/completions", `{"model":"gpt-4o-mini","messages":[{"role":"user","content":"`+marker+`"}]}`, nil); st != 200 {
			t.Fatalf("probe %d: %d %s", i, st, b)
		}
		found := false
		for _, r := range up.Requests() {
			if bytes.Contains(r.Body, []byte(marker)) {
				found = true
				if r.Header.Get("Authorization") != "Bearer "+keyN(i) {
					t.Fatalf("request after rotation %d used %q", i, r.Header.Get("Authorization"))
				}
			}
		}
		if !found {
			t.Fatalf("probe %d not seen upstream", i)
		}
	}
	stop.Store(true)
	wg.Wait()
	if failed.Load() != 0 || sent.Load() < 20 {
		t.Fatalf("%d of %d requests failed", failed.Load(), sent.Load())
	}
	t.Logf("%d requests during 5 rotations, none failed", sent.Load())
}
