// custom_tokens_test.go: a custom provider end to end against a mock (hosted client for
// the API, OpenAI SDK for the data plane, the SSRF guard without the insecure flag), and API
// tokens through the `switchyard token` and `switchyard audit` commands with an
// authenticated gateway.
package e2e

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/cloudflare/cloudflare-go/v7"
	"github.com/cloudflare/cloudflare-go/v7/ai_gateway"
	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
	"github.com/switchyard/switchyard/mock"
)

func TestCustomProvider(t *testing.T) {
	up := mock.NewOpenAI()
	defer up.Close()
	g := startGateway(t, "", nil, "--allow-insecure-upstreams")
	api := g.API()
	ctx := context.Background()
	acct := cloudflare.F(account)
	cp, err := api.AIGateway.CustomProviders.New(ctx, ai_gateway.CustomProviderNewParams{AccountID: acct,
		Name: cloudflare.F("In-house models"), Slug: cloudflare.F("inhouse"), BaseURL: cloudflare.F(up.URL),
		Description: cloudflare.F("mock"), Enable: cloudflare.F(true)})
	if err != nil {
		t.Fatal(err)
	}
	if cp.ID == "" || cp.Slug != "inhouse" || cp.Logo == "" || cp.CreatedAt.IsZero() {
		t.Fatalf("created: %+v", cp)
	}
	list, err := api.AIGateway.CustomProviders.List(ctx, ai_gateway.CustomProviderListParams{AccountID: acct, Search: cloudflare.F("house"), Enable: cloudflare.F(true)})
	if err != nil || len(list.Result) != 1 || list.Result[0].ID != cp.ID {
		t.Fatalf("list: %+v %v", list, err)
	}
	_, err = api.AIGateway.CustomProviders.New(ctx, ai_gateway.CustomProviderNewParams{AccountID: acct,
		Name: cloudflare.F("Again"), Slug: cloudflare.F("inhouse"), BaseURL: cloudflare.F(up.URL)})
	var apiErr *cloudflare.Error
	if !asError(err, &apiErr) || apiErr.StatusCode != 409 || len(apiErr.Errors) != 1 || apiErr.Errors[0].Code != 1003 {
		t.Fatalf("duplicate slug: %v", err)
	}
	_, err = api.AIGateway.CustomProviders.New(ctx, ai_gateway.CustomProviderNewParams{AccountID: acct,
		Name: cloudflare.F("Meta"), Slug: cloudflare.F("meta"), BaseURL: cloudflare.F("http://169.254.169.254")})
	if !asError(err, &apiErr) || apiErr.StatusCode != 400 || apiErr.Errors[0].Code != 1002 {
		t.Fatalf("metadata address: %v", err)
	}

	// The data plane: custom-{slug}/{path} goes to base_url + path, with the client's key.
	var hdr http.Header
	c := openai.NewClient(option.WithBaseURL(g.Base("custom-inhouse")), option.WithAPIKey("sk-inhouse"), option.WithMaxRetries(0),
		option.WithMiddleware(func(r *http.Request, next option.MiddlewareNext) (*http.Response, error) {
			resp, err := next(r)
			if err == nil {
				hdr = resp.Header.Clone()
			}
			return resp, err
		}))
	comp, err := c.Chat.Completions.New(ctx, openai.ChatCompletionNewParams{Model: "inhouse-7b",
		Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("hi")}})
	if err != nil || len(comp.Choices) != 1 {
		t.Fatalf("chat via custom provider: %v", err)
	}
	reqs := up.Requests()
	if len(reqs) != 1 || reqs[0].Path != "/chat/completions" || reqs[0].Header.Get("Authorization") != "Bearer sk-inhouse" {
		t.Fatalf("upstream saw %+v", reqs)
	}
	l := g.WaitLog(hdr.Get("cf-aig-log-id"))
	if l.Provider != "custom-inhouse" || l.Model != "inhouse-7b" || !l.Success || l.TokensIn == 0 {
		t.Fatalf("log: %+v", l)
	}

	// Disabled, then deleted: requests are refused from the next one on.
	st, env := apiCall(t, g, token, "PATCH", "/ai-gateway/custom-providers/"+cp.ID, map[string]any{"enable": false})
	if st != 200 || env["result"].(map[string]any)["enable"] != false {
		t.Fatalf("disable: %d %v", st, env)
	}
	if st, _, b := post(t, g.Base("custom-inhouse")+"/chat/completions", `{}`, nil); st != 400 || !strings.Contains(string(b), "2002") {
		t.Fatalf("disabled provider: %d %s", st, b)
	}
	if _, err := api.AIGateway.CustomProviders.Delete(ctx, cp.ID, ai_gateway.CustomProviderDeleteParams{AccountID: acct}); err != nil {
		t.Fatal(err)
	}
	if _, err := api.AIGateway.CustomProviders.Get(ctx, cp.ID, ai_gateway.CustomProviderGetParams{AccountID: acct}); !asError(err, &apiErr) || apiErr.StatusCode != 404 || apiErr.Errors[0].Code != 1004 {
		t.Fatalf("deleted provider: %v", err)
	}

	// Without --allow-insecure-upstreams, plain http and loopback base URLs are refused.
	strict := startGateway(t, "", nil)
	for _, u := range []string{up.URL, "https://127.0.0.1:9"} {
		_, err = strict.API().AIGateway.CustomProviders.New(ctx, ai_gateway.CustomProviderNewParams{AccountID: acct,
			Name: cloudflare.F("x"), Slug: cloudflare.F("x"), BaseURL: cloudflare.F(u)})
		if !asError(err, &apiErr) || apiErr.StatusCode != 400 || apiErr.Errors[0].Code != 1002 {
			t.Fatalf("%s without the insecure flag: %v", u, err)
		}
	}

	// A name that resolves to loopback passes the base-URL check (it is not a literal) but
	// the connection is refused on the address dialled: nothing reaches the listener.
	name := loopbackName(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	var accepted atomic.Int32
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			accepted.Add(1)
			c.Close()
		}
	}()
	base := fmt.Sprintf("https://%s:%d", name, ln.Addr().(*net.TCPAddr).Port)
	if _, err := strict.API().AIGateway.CustomProviders.New(ctx, ai_gateway.CustomProviderNewParams{AccountID: acct,
		Name: cloudflare.F("byname"), Slug: cloudflare.F("byname"), BaseURL: cloudflare.F(base), Enable: cloudflare.F(true)}); err != nil {
		t.Fatalf("%s: %v", base, err)
	}
	resp, err := http.Post(strict.URL+"/v1/"+account+"/"+gateway+"/custom-byname/chat/completions", "application/json",
		strings.NewReader(`{"model":"m","messages":[]}`))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 502 || !strings.Contains(string(b), "loopback") || !strings.Contains(string(b), "2010") {
		t.Fatalf("%s answered %d %s", base, resp.StatusCode, b)
	}
	if n := accepted.Load(); n != 0 {
		t.Fatalf("%d connections reached the loopback listener through %s", n, name)
	}
}

// loopbackName is a host name other than localhost that resolves to 127.0.0.1 here: the
// machine's own name, or another /etc/hosts entry.
func loopbackName(t *testing.T) string {
	t.Helper()
	var names []string
	if h, err := os.Hostname(); err == nil {
		names = append(names, h)
	}
	if hosts, err := os.ReadFile("/etc/hosts"); err == nil {
		for _, line := range strings.Split(string(hosts), "\n") {
			if f := strings.Fields(line); len(f) > 1 && strings.HasPrefix(f[0], "127.") {
				names = append(names, f[1:]...)
			}
		}
	}
	for _, n := range names {
		if n == "localhost" || strings.HasSuffix(n, ".localhost") || strings.HasPrefix(n, "#") {
			continue
		}
		if addrs, err := net.LookupHost(n); err == nil && len(addrs) > 0 && addrs[0] == "127.0.0.1" {
			return n
		}
	}
	t.Skip("no host name other than localhost resolves to 127.0.0.1 on this machine")
	return ""
}

// cli runs a switchyard subcommand against g with the bootstrap admin token.
func cli(t *testing.T, g *Gateway, args ...string) string {
	t.Helper()
	cmd := exec.Command(binary, append(args, "--url", g.URL, "--account", account)...)
	cmd.Env = append(os.Environ(), "SWITCHYARD_ADMIN_TOKEN="+token)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("switchyard %v: %v\n%s", args, err, out)
	}
	return string(out)
}

func TestTokensAndAuthenticatedGateway(t *testing.T) {
	up := mock.NewOpenAI()
	defer up.Close()
	g := startGateway(t, "", []string{"SWITCHYARD_UPSTREAM_OPENAI=" + up.URL})
	g.EnsureGateway("locked", true)

	out := cli(t, g, "token", "create", "--name", "ci", "--permissions", "run", "--gateways", "locked")
	m := regexp.MustCompile(`token:\s+(syt_\S+)`).FindStringSubmatch(out)
	idm := regexp.MustCompile(`id:\s+(\S+)`).FindStringSubmatch(out)
	if m == nil || idm == nil {
		t.Fatalf("token create output: %s", out)
	}
	runTok, runID := m[1], idm[1]
	if list := cli(t, g, "token", "list"); !strings.Contains(list, runID) || strings.Contains(list, runTok) {
		t.Fatalf("token list: %s", list)
	}

	locked := g.URL + "/v1/" + account + "/locked/openai/chat/completions"
	body := `{"model":"gpt-4o-mini","messages":[{"role":"user","content":"hi"}]}`
	c := openai.NewClient(option.WithBaseURL(g.URL+"/v1/"+account+"/locked/openai"), option.WithAPIKey("sk-test"),
		option.WithMaxRetries(0), option.WithHeader("cf-aig-authorization", "Bearer "+runTok))
	if _, err := c.Chat.Completions.New(context.Background(), openai.ChatCompletionNewParams{Model: "gpt-4o-mini",
		Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("hi")}}); err != nil {
		t.Fatalf("authenticated request: %v", err)
	}
	for name, hdr := range map[string]map[string]string{
		"no header":     nil,
		"invalid token": {"cf-aig-authorization": "Bearer syt_nope_nope"},
		"admin as run?": {"cf-aig-authorization": "Bearer " + runTok + "x"},
	} {
		st, h, b := post(t, locked, body, hdr)
		if st != 401 || !strings.Contains(string(b), `"code":2009`) || h.Get("cf-aig-log-id") == "" {
			t.Fatalf("%s: %d %s", name, st, b)
		}
	}
	// The unauthenticated gateway serves with or without a header.
	if st, _, b := post(t, g.Base("openai")+"/chat/completions", body, map[string]string{"cf-aig-authorization": "Bearer junk"}); st != 200 {
		t.Fatalf("gateway without authentication: %d %s", st, b)
	}
	// A run token cannot use the control API; a read token can read but not write.
	if st, _ := apiCall(t, g, runTok, "GET", "/ai-gateway/gateways", nil); st != 403 {
		t.Fatalf("run token on the control API: %d", st)
	}
	st, env := apiCall(t, g, token, "POST", "/tokens", map[string]any{"name": "reader", "permissions": []string{"read"}})
	if st != 200 {
		t.Fatalf("read token: %d %v", st, env)
	}
	readTok := env["result"].(map[string]any)["value"].(string)
	if st, _ := apiCall(t, g, readTok, "GET", "/ai-gateway/gateways/locked", nil); st != 200 {
		t.Fatalf("read token reading: %d", st)
	}
	if st, _ := apiCall(t, g, readTok, "PUT", "/ai-gateway/gateways/locked", map[string]any{"authentication": false}); st != 403 {
		t.Fatalf("read token writing: %d", st)
	}

	// Revoked: the next request is refused.
	cli(t, g, "token", "revoke", runID)
	if st, _, b := post(t, locked, body, map[string]string{"cf-aig-authorization": "Bearer " + runTok}); st != 401 {
		t.Fatalf("revoked token: %d %s", st, b)
	}
	audit := cli(t, g, "audit", "--resource", "token", "--since", "1h")
	if strings.Count(audit, `"ai_gateway.token"`) != 3 || !strings.Contains(audit, `"type":"delete"`) || strings.Contains(audit, `"hash"`) {
		t.Fatalf("audit: %s", audit)
	}
}
