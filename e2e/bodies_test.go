// bodies_test.go: request bodies above the in-memory threshold and chunked bodies stream
// through to the provider intact, and are logged with their size.
package e2e

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/cloudflare/cloudflare-go/v7"
	"github.com/cloudflare/cloudflare-go/v7/ai_gateway"
	"github.com/switchyard/switchyard/mock"
)

func TestLargeAndChunkedRequestBodies(t *testing.T) {
	up := mock.NewOpenAI()
	defer up.Close()
	g := startGateway(t, "", []string{"SWITCHYARD_UPSTREAM_OPENAI=" + up.URL})
	big := `{"model":"gpt-4o-mini","messages":[{"role":"user","content":"` + strings.Repeat("a", 3<<20) + `"}]}`
	for _, chunked := range []bool{false, true} {
		var body io.Reader = bytes.NewBufferString(big)
		if chunked {
			pr, pw := io.Pipe()
			go func() { pw.Write([]byte(big)); pw.Close() }()
			body = pr
		}
		req, _ := http.NewRequest("POST", g.Base("openai")+"/chat/completions", body)
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("chunked=%v: %d %s", chunked, resp.StatusCode, b)
		}
		reqs := up.Requests()
		if got := reqs[len(reqs)-1].Body; string(got) != big {
			t.Fatalf("chunked=%v: upstream got %d bytes, want %d", chunked, len(got), len(big))
		}
		l := g.WaitLog(resp.Header.Get("cf-aig-log-id"))
		if !l.Success || l.TokensIn != mock.PromptTokens {
			t.Fatalf("log: %s", l.JSON.RawJSON())
		}
		if l.RequestSize != int64(len(big)) {
			t.Fatalf("request size %d", l.RequestSize)
		}

	}
}

func TestPayloadOverInlineCapIsKept(t *testing.T) {
	up := mock.NewOpenAI()
	defer up.Close()
	g := startGateway(t, "", []string{"SWITCHYARD_UPSTREAM_OPENAI=" + up.URL})
	// 200 KB: read whole (under 1 MB) but over the 32 KB inline cap, so the body goes to
	// the payload object store and the event references it.
	content := strings.Repeat("b", 200<<10)
	body := `{"model":"gpt-4o-mini","messages":[{"role":"user","content":"` + content + `"}]}`
	resp, err := http.Post(g.Base("openai")+"/chat/completions", "application/json", bytes.NewBufferString(body))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	l := g.WaitLog(resp.Header.Get("cf-aig-log-id"))
	got, err := g.API().AIGateway.Logs.Request(context.Background(), gateway, l.ID, ai_gateway.LogRequestParams{AccountID: cloudflare.F(account)})
	if err != nil {
		t.Fatal(err)
	}
	msgs := (*got).(map[string]any)["messages"].([]any)
	if c := msgs[0].(map[string]any)["content"].(string); c != content {
		t.Fatalf("stored request body has content of %d bytes, want %d", len(c), len(content))
	}
	r, err := g.API().AIGateway.Logs.Response(context.Background(), gateway, l.ID, ai_gateway.LogResponseParams{AccountID: cloudflare.F(account)})
	if err != nil {
		t.Fatal(err)
	}
	if (*r).(map[string]any)["object"] != "chat.completion" {
		t.Fatalf("stored response: %v", *r)
	}
}
