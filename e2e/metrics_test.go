// metrics_test.go scrapes the real binary's /metrics after requests made with openai-go,
// checks the bearer token that --metrics-token asks for, and reads the one line per
// request the gateway prints on stderr (never the provider key).
package e2e

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/openai/openai-go/v3"
	"github.com/switchyard/switchyard/mock"
)

func TestMetricsAndRequestLog(t *testing.T) {
	up := mock.NewOpenAI()
	defer up.Close()
	g := startGateway(t, "", []string{"SWITCHYARD_UPSTREAM_OPENAI=" + up.URL}, "--metrics-token", "scrape-me")
	c := openaiClient(g, nil)
	ctx := context.Background()
	for _, model := range []string{"gpt-4o-mini", "gpt-4o-mini", "error-500"} {
		_, _ = c.Chat.Completions.New(ctx, openai.ChatCompletionNewParams{Model: model, Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("hi")}})
	}
	scrape := func(token string) (int, string) {
		req, _ := http.NewRequest("GET", g.URL+"/metrics", nil)
		req.Header.Set("Accept", "application/openmetrics-text; version=1.0.0")
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode == 200 && !strings.HasPrefix(resp.Header.Get("Content-Type"), "application/openmetrics-text") {
			t.Fatalf("content type %q", resp.Header.Get("Content-Type"))
		}
		return resp.StatusCode, string(b)
	}
	if code, body := scrape(""); code != 401 || !strings.Contains(body, "metrics token") {
		t.Fatalf("without the token: %d %s", code, body)
	}
	if code, _ := scrape("wrong"); code != 401 {
		t.Fatalf("wrong token: %d", code)
	}
	want := []string{
		`switchyard_requests_total{cache="miss",gateway="` + account + `/` + gateway + `",model="gpt-4o-mini",provider="openai",status="2xx"} 2`,
		`switchyard_requests_total{cache="miss",gateway="` + account + `/` + gateway + `",model="error-500",provider="openai",status="5xx"} 1`,
		`switchyard_tokens_total{direction="out",gateway="` + account + `/` + gateway + `",model="gpt-4o-mini",provider="openai"} 22`,
		`switchyard_upstream_errors_total{gateway="` + account + `/` + gateway + `",kind="status_5xx",provider="openai"} 1`,
		`switchyard_requests_in_flight 0`, `switchyard_projection_lag_events`, `# EOF`,
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		code, body := scrape("scrape-me")
		missing := ""
		for _, w := range want {
			if !strings.Contains(body, w) {
				missing = w
				break
			}
		}
		if code == 200 && missing == "" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d, no %s in\n%s", code, missing, body)
		}
		time.Sleep(50 * time.Millisecond)
	}
	// One line per request on stderr, with the log id and never the key. Lines are written
	// together, at most 100 ms after their requests' events are applied.
	logs := g.stderr.String()
	for strings.Count(logs, "msg=request ") < 3 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
		logs = g.stderr.String()
	}
	if n := strings.Count(logs, "msg=request "); n != 3 || !strings.Contains(logs, "path=/v1/"+account+"/"+gateway+"/openai/chat/completions") ||
		!strings.Contains(logs, "status=500") || strings.Contains(logs, "sk-test-key") {
		t.Fatalf("%d request lines in:\n%s", n, logs)
	}
}
