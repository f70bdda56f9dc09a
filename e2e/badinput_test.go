// badinput_test.go checks the gateway's own errors: each has the documented JSON shape
// and status, carries the cf-aig-* headers, and is still logged as a failed request.
package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/cloudflare/cloudflare-go/v7"
	"github.com/cloudflare/cloudflare-go/v7/ai_gateway"
	"github.com/switchyard/switchyard/mock"
)

type gatewayError struct {
	Success bool `json:"success"`
	Errors  []struct {
		Code    int    `json:"code"`
		Message string `json:"message"`
	} `json:"errors"`
}

func TestBadInput(t *testing.T) {
	dead := deadAddr(t) // a port that refuses connections
	g := startGateway(t, "", []string{"SWITCHYARD_UPSTREAM_OPENAI=" + dead}, "--max-body-mb", "1")

	cases := []struct {
		name     string
		path     string
		body     []byte
		status   int
		code     int
		logged   bool
		provider string
	}{
		{"unknown provider", "/v1/" + account + "/" + gateway + "/nosuch/chat", []byte(`{}`), 400, 2002, true, ""},
		{"universal step without provider", "/v1/" + account + "/" + gateway, []byte(`{}`), 400, 2006, true, ""},
		{"malformed", "/v1/" + account, []byte(`{}`), 404, 2001, false, ""},
		{"bad account id", "/v1/a%20b/" + gateway + "/openai/x", []byte(`{}`), 404, 2001, false, ""},
		{"too large", "/v1/" + account + "/" + gateway + "/openai/chat/completions", bytes.Repeat([]byte("a"), 2<<20), 413, 2007, true, "openai"},
		{"upstream refused", "/v1/" + account + "/" + gateway + "/openai/chat/completions", []byte(`{"model":"gpt-4o"}`), 502, 2010, true, "openai"},
		{"azure path shape", "/v1/" + account + "/" + gateway + "/azure-openai/only-resource", []byte(`{}`), 400, 2006, true, "azure-openai"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			resp, err := http.Post(g.URL+tc.path, "application/json", bytes.NewReader(tc.body))
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			var ge gatewayError
			if err := json.Unmarshal(b, &ge); err != nil || resp.StatusCode != tc.status || ge.Success || len(ge.Errors) != 1 || ge.Errors[0].Code != tc.code {
				t.Fatalf("got %d %s", resp.StatusCode, b)
			}
			if strings.Contains(string(b), "sk-") {
				t.Fatalf("error leaks a key: %s", b)
			}
			id := resp.Header.Get("cf-aig-log-id")
			if !tc.logged {
				return
			}
			if id == "" || resp.Header.Get("cf-aig-event-id") == "" || resp.Header.Get("cf-aig-step") != "0" {
				t.Fatalf("cf-aig headers missing on error: %v", resp.Header)
			}
			l := g.WaitLog(id)
			if l.Success || l.StatusCode != int64(tc.status) {
				t.Fatalf("log: %s", l.JSON.RawJSON())
			}
		})
	}

	// The logs API filters by success and provider.
	page, err := g.API().AIGateway.Logs.List(context.Background(), gateway, ai_gateway.LogListParams{
		AccountID: cloudflare.F(account), Provider: cloudflare.F("openai"), Success: cloudflare.F(false)})
	if err != nil {
		t.Fatal(err)
	}
	if len(page.Result) != 2 {
		t.Fatalf("want 2 failed openai logs, got %d", len(page.Result))
	}
	for _, l := range page.Result {
		if l.Provider != "openai" || l.Success {
			t.Fatalf("filter ignored: %s", l.JSON.RawJSON())
		}
	}
}

func TestControlAPIAuth(t *testing.T) {
	g := startGateway(t, "", nil)
	req, _ := http.NewRequest("GET", g.URL+"/client/v4/accounts/"+account+"/ai-gateway/gateways/"+gateway+"/logs", nil)
	req.Header.Set("Authorization", "Bearer wrong")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 401 {
		t.Fatalf("wrong token: %d", resp.StatusCode)
	}
}

// A HEAD request has no body to relay; it must still finish and be logged.
func TestHeadRequestIsLogged(t *testing.T) {
	up := newHeadUpstream(t)
	g := startGateway(t, "", []string{"SWITCHYARD_UPSTREAM_OPENAI=" + up})
	resp, err := http.Head(g.Base("openai") + "/models")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 || resp.Header.Get("x-upstream") != "yes" {
		t.Fatalf("HEAD: %d %v", resp.StatusCode, resp.Header)
	}
	if l := g.WaitLog(resp.Header.Get("cf-aig-log-id")); !l.Success || l.StatusCode != 200 {
		t.Fatalf("log: %s", l.JSON.RawJSON())
	}
}

func newHeadUpstream(t *testing.T) string {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("x-upstream", "yes")
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Content-Length", "200000")
		if r.Method != http.MethodHead {
			w.Write(bytes.Repeat([]byte(" "), 200000))
		}
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

// A . or .. segment in a provider path, encoded or not, on the provider endpoint or in a
// universal step, is refused with a 400 before anything reaches the provider.
func TestDotSegmentsNeverLeaveTheProviderPath(t *testing.T) {
	up := mock.NewOpenAI()
	t.Cleanup(up.Close)
	g := startGateway(t, "", []string{"SWITCHYARD_UPSTREAM_OPENAI=" + up.URL}, "--allow-insecure-upstreams")
	base := "/v1/" + account + "/" + gateway
	for _, c := range []struct{ path, body string }{
		{base + "/openai/../../admin", `{}`},
		{base + "/openai/%2e%2e/%2e%2e/admin", `{}`},
		{base + "/openai/v1/.%2E/admin", `{}`},
		{base + "/openai/%252e%252e/admin", `{}`},
		{base + "/openai/..%2fadmin", `{}`},
		{base + "/openai/..%5cadmin", `{}`},
		{base, `[{"provider":"openai","endpoint":"../../admin","headers":{"Authorization":"Bearer sk-x"},"query":{}}]`},
		{base, `[{"provider":"openai","endpoint":"%2e%2e/admin","headers":{"Authorization":"Bearer sk-x"},"query":{}}]`},
	} {
		req, _ := http.NewRequest("POST", g.URL+c.path, strings.NewReader(c.body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer sk-test")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		var ge gatewayError
		if json.Unmarshal(b, &ge) != nil || resp.StatusCode != 400 || len(ge.Errors) != 1 || ge.Errors[0].Code != 2006 ||
			!strings.Contains(ge.Errors[0].Message, ". or ..") {
			t.Errorf("%s %s: %d %s; want 400 code 2006 naming the dot segment", c.path, c.body, resp.StatusCode, b)
		}
	}
	if n := len(up.Requests()); n != 0 {
		t.Fatalf("the provider received %d requests", n)
	}
}

// Headers larger than the gateway reads get its JSON error (431, code 2021) with a
// cf-aig-log-id, not fasthttp's plain-text answer.
func TestOversizedHeadersGetJSON(t *testing.T) {
	g := startGateway(t, "", nil)
	req, _ := http.NewRequest("POST", g.URL+"/v1/"+account+"/"+gateway+"/openai/chat/completions", strings.NewReader(`{}`))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("x-padding", strings.Repeat("a", 32<<10))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	var ge gatewayError
	if err := json.Unmarshal(b, &ge); err != nil || resp.StatusCode != 431 || len(ge.Errors) != 1 || ge.Errors[0].Code != 2021 {
		t.Fatalf("got %d %q", resp.StatusCode, b)
	}
	if resp.Header.Get("Content-Type") != "application/json" || resp.Header.Get("cf-aig-log-id") == "" {
		t.Fatalf("headers: %v", resp.Header)
	}
}
