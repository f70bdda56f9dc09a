// cache_cost_test.go drives issue 6's request-path features through the real binary:
// the response cache (HIT/MISS through the OpenAI SDK, a stream replayed byte for byte,
// 50 identical requests coalesced into one upstream call), costs of streamed OpenAI and
// Anthropic requests and cf-aig-custom-cost, cf-aig-metadata, the collect-log headers and
// a gateway spend limit.
package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/anthropics/anthropic-sdk-go"
	aoption "github.com/anthropics/anthropic-sdk-go/option"
	"github.com/cloudflare/cloudflare-go/v7"
	"github.com/cloudflare/cloudflare-go/v7/ai_gateway"
	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
	"github.com/switchyard/switchyard/engine/pricing"
	"github.com/switchyard/switchyard/mock"
)

// chatBody is a chat completion request for the OpenAI mock (asking for usage when streamed).
func chatBody(model, prompt string, stream bool) string {
	m := map[string]any{"model": model, "messages": []any{map[string]any{"role": "user", "content": prompt}}}
	if stream {
		m["stream"], m["stream_options"] = true, map[string]any{"include_usage": true}
	}
	b, _ := json.Marshal(m)
	return string(b)
}

// answer is a data-plane response's status and headers.
type answer struct {
	StatusCode int
	Header     http.Header
}

// send posts body to the gateway with an OpenAI-style key unless hdr sets Authorization.
func send(t *testing.T, url, body string, hdr map[string]string) (*answer, []byte) {
	t.Helper()
	h := map[string]string{"Authorization": "Bearer sk-test-key"}
	for k, v := range hdr {
		h[k] = v
	}
	code, header, b := post(t, url, body, h)
	return &answer{code, header}, b
}

func TestCacheHitMissThroughOpenAISDK(t *testing.T) {
	up := mock.NewOpenAI()
	defer up.Close()
	g := startGateway(t, "", []string{"SWITCHYARD_UPSTREAM_OPENAI=" + up.URL})
	var hdr http.Header
	c := openaiClient(g, &hdr)
	ctx := context.Background()
	params := openai.ChatCompletionNewParams{Model: "gpt-4o-mini",
		Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("Cache me")}}
	ttl := option.WithHeader("cf-aig-cache-ttl", "300")

	var logIDs []string
	for i, want := range []string{"MISS", "HIT", "HIT"} {
		comp, err := c.Chat.Completions.New(ctx, params, ttl)
		if err != nil {
			t.Fatal(err)
		}
		if comp.Choices[0].Message.Content != mock.Answer {
			t.Fatalf("answer %d: %+v", i, comp)
		}
		if got := hdr.Get("cf-aig-cache-status"); got != want {
			t.Fatalf("request %d: cf-aig-cache-status = %q, want %s", i, got, want)
		}
		logIDs = append(logIDs, hdr.Get("cf-aig-log-id"))
	}
	if n := len(up.Requests()); n != 1 {
		t.Fatalf("upstream calls = %d, want 1 (two hits)", n)
	}
	miss, hit := rawLog(t, g, logIDs[0]), rawLog(t, g, logIDs[1])
	want, _ := pricing.Default().Cost("openai", "gpt-4o-mini", pricing.Usage{In: mock.PromptTokens, Out: mock.CompletionTokens})
	if miss["cached"] != false || !near(miss["cost"], want) {
		t.Fatalf("miss log: cached %v cost %v, want false and %g", miss["cached"], miss["cost"], want)
	}
	if hit["cached"] != true || hit["cost"] != 0.0 || hit["tokens_in"] != float64(mock.PromptTokens) {
		t.Fatalf("hit log: cached %v cost %v tokens_in %v, want true, 0 and the original tokens", hit["cached"], hit["cost"], hit["tokens_in"])
	}

	// A body with its keys in another order is the same request.
	resp, _ := send(t, g.Base("openai")+"/chat/completions", `{"messages":[{"content":"Cache me","role":"user"}],"model":"gpt-4o-mini"}`,
		map[string]string{"cf-aig-cache-ttl": "300"})
	if resp.Header.Get("cf-aig-cache-status") != "HIT" {
		t.Errorf("reordered body: cache status %q, want HIT", resp.Header.Get("cf-aig-cache-status"))
	}
	// Skip cache goes upstream (and refreshes the entry).
	if _, err := c.Chat.Completions.New(ctx, params, ttl, option.WithHeader("cf-aig-skip-cache", "true")); err != nil {
		t.Fatal(err)
	}
	if hdr.Get("cf-aig-cache-status") != "MISS" || len(up.Requests()) != 2 {
		t.Errorf("skip-cache: status %q, upstream calls %d; want MISS and 2", hdr.Get("cf-aig-cache-status"), len(up.Requests()))
	}
	// Errors are never cached.
	errParams := openai.ChatCompletionNewParams{Model: "error-500", Messages: params.Messages}
	for i := 0; i < 2; i++ {
		if _, err := c.Chat.Completions.New(ctx, errParams, ttl); err == nil {
			t.Fatal("error-500 should fail")
		}
	}
	if n := len(up.Requests()); n != 4 {
		t.Errorf("upstream calls after two identical errors = %d, want 4", n)
	}
	// A custom key with no TTL on a gateway without caching still caches (5 minutes).
	for i, want := range []string{"MISS", "HIT"} {
		p := openai.ChatCompletionNewParams{Model: "gpt-4o-mini", Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage(fmt.Sprint("custom ", i))}}
		if _, err := c.Chat.Completions.New(ctx, p, option.WithHeader("cf-aig-cache-key", "responseA")); err != nil {
			t.Fatal(err)
		}
		if hdr.Get("cf-aig-cache-status") != want {
			t.Errorf("custom key request %d: status %q, want %s", i, hdr.Get("cf-aig-cache-status"), want)
		}
	}
	// Out-of-range TTLs are refused.
	for _, v := range []string{"59", "2592001", "soon"} {
		resp, body := send(t, g.Base("openai")+"/chat/completions", chatBody("gpt-4o-mini", "x", false), map[string]string{"cf-aig-cache-ttl": v})
		if resp.StatusCode != 400 || !strings.Contains(string(body), "cf-aig-cache-ttl") {
			t.Errorf("cf-aig-cache-ttl %s: %d %s, want 400 naming the header", v, resp.StatusCode, body)
		}
	}
}

func near(v any, want float64) bool {
	f, ok := v.(float64)
	return ok && math.Abs(f-want) < 1e-12
}

func TestCacheReplaysStreamByteForByte(t *testing.T) {
	up := mock.NewOpenAI()
	defer up.Close()
	g := startGateway(t, "", []string{"SWITCHYARD_UPSTREAM_OPENAI=" + up.URL})
	url := g.Base("openai") + "/chat/completions"
	body := chatBody("gpt-4o-mini", "Stream me", true)
	first, b1 := send(t, url, body, map[string]string{"cf-aig-cache-ttl": "600"})
	second, b2 := send(t, url, body, map[string]string{"cf-aig-cache-ttl": "600"})
	if first.Header.Get("cf-aig-cache-status") != "MISS" || second.Header.Get("cf-aig-cache-status") != "HIT" {
		t.Fatalf("statuses %q, %q; want MISS then HIT", first.Header.Get("cf-aig-cache-status"), second.Header.Get("cf-aig-cache-status"))
	}
	if !bytes.Equal(b1, b2) || !bytes.Contains(b1, []byte("data: [DONE]")) {
		t.Fatalf("replayed stream differs:\n%s\n---\n%s", b1, b2)
	}
	if !strings.HasPrefix(second.Header.Get("Content-Type"), "text/event-stream") {
		t.Errorf("replayed content type %q", second.Header.Get("Content-Type"))
	}
	if n := len(up.Requests()); n != 1 {
		t.Fatalf("upstream calls = %d, want 1", n)
	}
	// The unified API's translated stream is cached the same way.
	cbody := chatBody("anthropic/claude-sonnet-4-5", "Stream me", true)
	an := mock.NewAnthropic()
	defer an.Close()
	g2 := startGateway(t, "", []string{"SWITCHYARD_UPSTREAM_ANTHROPIC=" + an.URL})
	hdr := map[string]string{"cf-aig-cache-ttl": "600", "Authorization": "Bearer sk-ant-test"}
	r1, c1 := send(t, g2.Base("compat")+"/chat/completions", cbody, hdr)
	r2, c2 := send(t, g2.Base("compat")+"/chat/completions", cbody, hdr)
	if r1.StatusCode != 200 || r2.Header.Get("cf-aig-cache-status") != "HIT" || !bytes.Equal(c1, c2) || len(an.Requests()) != 1 {
		t.Fatalf("compat stream: %d %q equal=%v upstream=%d", r1.StatusCode, r2.Header.Get("cf-aig-cache-status"), bytes.Equal(c1, c2), len(an.Requests()))
	}
}

func TestCacheCoalescesIdenticalRequests(t *testing.T) {
	up := mock.NewOpenAI()
	defer up.Close()
	up.SlowFirstByte = 500 * time.Millisecond
	g := startGateway(t, "", []string{"SWITCHYARD_UPSTREAM_OPENAI=" + up.URL})
	url := g.Base("openai") + "/chat/completions"
	body := chatBody("slow", "Everyone asks this", false)
	const n = 50
	var wg sync.WaitGroup
	statuses := make([]string, n)
	bodies := make([][]byte, n)
	codes := make([]int, n)
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			resp, b := send(t, url, body, map[string]string{"cf-aig-cache-ttl": "300"})
			statuses[i], bodies[i], codes[i] = resp.Header.Get("cf-aig-cache-status"), b, resp.StatusCode
		}(i)
	}
	wg.Wait()
	if calls := len(up.Requests()); calls != 1 {
		t.Fatalf("upstream calls = %d, want 1 for %d identical concurrent requests", calls, n)
	}
	misses := 0
	for i := range statuses {
		if codes[i] != 200 || !bytes.Equal(bodies[i], bodies[0]) {
			t.Fatalf("request %d: %d %s", i, codes[i], bodies[i])
		}
		if statuses[i] == "MISS" {
			misses++
		}
	}
	if misses != 1 {
		t.Errorf("MISS answers = %d, want 1 (the others are served from the leader's entry)", misses)
	}
}

func TestCostOfStreamsAndCustomCost(t *testing.T) {
	oa, an := mock.NewOpenAI(), mock.NewAnthropic()
	defer oa.Close()
	defer an.Close()
	g := startGateway(t, "", []string{"SWITCHYARD_UPSTREAM_OPENAI=" + oa.URL, "SWITCHYARD_UPSTREAM_ANTHROPIC=" + an.URL})
	ctx := context.Background()
	table := pricing.Default()

	var hdr http.Header
	oc := openaiClient(g, &hdr)
	stream := oc.Chat.Completions.NewStreaming(ctx, openai.ChatCompletionNewParams{Model: "gpt-4o-mini",
		Messages:      []openai.ChatCompletionMessageParamUnion{openai.UserMessage("Price my stream")},
		StreamOptions: openai.ChatCompletionStreamOptionsParam{IncludeUsage: openai.Bool(true)}})
	for stream.Next() {
	}
	if err := stream.Err(); err != nil {
		t.Fatal(err)
	}
	want, _ := table.Cost("openai", "gpt-4o-mini", pricing.Usage{In: mock.PromptTokens, Out: mock.CompletionTokens})
	if rec := rawLog(t, g, hdr.Get("cf-aig-log-id")); !near(rec["cost"], want) || rec["custom_cost"] != false || want <= 0 {
		t.Fatalf("streamed OpenAI cost %v (custom %v), want %g", rec["cost"], rec["custom_cost"], want)
	}
	// Without stream_options.include_usage OpenAI reports no usage: tokens and cost unknown.
	stream = oc.Chat.Completions.NewStreaming(ctx, openai.ChatCompletionNewParams{Model: "gpt-4o-mini",
		Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("Price my stream")}})
	for stream.Next() {
	}
	if err := stream.Err(); err != nil {
		t.Fatal(err)
	}
	if rec := rawLog(t, g, hdr.Get("cf-aig-log-id")); rec["cost"] != nil || rec["tokens_in"] != nil || rec["tokens_out"] != nil {
		t.Fatalf("stream without usage logged cost %v, tokens %v / %v; want null", rec["cost"], rec["tokens_in"], rec["tokens_out"])
	}

	var ahdr http.Header
	ac := anthropic.NewClient(aoption.WithBaseURL(g.Base("anthropic")), aoption.WithAPIKey("sk-ant-test"), aoption.WithMaxRetries(0),
		aoption.WithMiddleware(func(r *http.Request, next aoption.MiddlewareNext) (*http.Response, error) {
			resp, err := next(r)
			if err == nil {
				ahdr = resp.Header.Clone()
			}
			return resp, err
		}))
	as := ac.Messages.NewStreaming(ctx, anthropic.MessageNewParams{Model: "claude-sonnet-4-5", MaxTokens: 128,
		Messages: []anthropic.MessageParam{anthropic.NewUserMessage(anthropic.NewTextBlock("Price my stream"))}})
	for as.Next() {
	}
	if err := as.Err(); err != nil {
		t.Fatal(err)
	}
	want, _ = table.Cost("anthropic", "claude-sonnet-4-5", pricing.Usage{In: mock.AnthropicInputTokens, Out: mock.AnthropicOutputTokens})
	if rec := rawLog(t, g, ahdr.Get("cf-aig-log-id")); !near(rec["cost"], want) || rec["tokens_out"] != float64(mock.AnthropicOutputTokens) || want <= 0 {
		t.Fatalf("streamed Anthropic cost %v tokens_out %v, want %g and %d", rec["cost"], rec["tokens_out"], want, mock.AnthropicOutputTokens)
	}

	// cf-aig-custom-cost replaces the table and is flagged on the log.
	if _, err := oc.Chat.Completions.New(ctx, openai.ChatCompletionNewParams{Model: "gpt-4o-mini",
		Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("Custom")}},
		option.WithHeader("cf-aig-custom-cost", `{"per_token_in":0.01,"per_token_out":0.1}`)); err != nil {
		t.Fatal(err)
	}
	if rec := rawLog(t, g, hdr.Get("cf-aig-log-id")); !near(rec["cost"], mock.PromptTokens*0.01+mock.CompletionTokens*0.1) || rec["custom_cost"] != true {
		t.Fatalf("custom cost %v flagged %v", rec["cost"], rec["custom_cost"])
	}
	// A model with no known price has no cost: null, not 0.
	resp, _ := send(t, g.Base("openai")+"/chat/completions", chatBody("my-finetune-xyz", "x", false), nil)
	if rec := rawLog(t, g, resp.Header.Get("cf-aig-log-id")); rec["cost"] != nil {
		t.Fatalf("unknown model cost = %v, want null", rec["cost"])
	}
	resp, body := send(t, g.Base("openai")+"/chat/completions", chatBody("gpt-4o-mini", "x", false), map[string]string{"cf-aig-custom-cost": `{"per_token_in":"cheap"}`})
	if resp.StatusCode != 400 || !strings.Contains(string(body), "cf-aig-custom-cost") {
		t.Fatalf("bad custom cost: %d %s", resp.StatusCode, body)
	}
}

func TestMetadataAndCollectLogHeaders(t *testing.T) {
	up := mock.NewOpenAI()
	defer up.Close()
	g := startGateway(t, "", []string{"SWITCHYARD_UPSTREAM_OPENAI=" + up.URL})
	url := g.Base("openai") + "/chat/completions"
	md := `{"team":"search","user":42,"beta":true,"tier":"pro","region":"eu","sixth":"dropped","seventh":7}`
	resp, _ := send(t, url, chatBody("gpt-4o-mini", "tagged", false), map[string]string{"cf-aig-metadata": md})
	rec := rawLog(t, g, resp.Header.Get("cf-aig-log-id"))
	var got map[string]any
	if err := json.Unmarshal([]byte(rec["metadata"].(string)), &got); err != nil {
		t.Fatalf("log metadata %v: %v", rec["metadata"], err)
	}
	if len(got) != 5 || got["team"] != "search" || got["user"] != 42.0 || got["beta"] != true || got["region"] != "eu" || got["sixth"] != nil {
		t.Fatalf("kept metadata = %v, want the first five entries", got)
	}
	for _, bad := range []string{`{"team":{"name":"search"}}`, `{"tags":["a"]}`, `["not","an","object"]`, `{"broken":`} {
		resp, body := send(t, url, chatBody("gpt-4o-mini", "tagged", false), map[string]string{"cf-aig-metadata": bad})
		if resp.StatusCode != 400 || !strings.Contains(string(body), "cf-aig-metadata") || !strings.Contains(string(body), `"code":2006`) {
			t.Errorf("metadata %s: %d %s, want 400 code 2006 naming the header", bad, resp.StatusCode, body)
		}
	}
	// Metadata groups analytics.
	deadline := time.Now().Add(20 * time.Second)
	for {
		code, env := apiCall(t, g, token, "GET", "/ai-gateway/gateways/"+gateway+"/analytics?group_by=metadata.team", nil)
		b, _ := json.Marshal(env)
		if code == 200 && bytes.Contains(b, []byte(`"group":"search"`)) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("analytics never grouped by metadata.team: %d %s", code, b)
		}
		time.Sleep(50 * time.Millisecond)
	}

	// cf-aig-collect-log: false keeps no record; cf-aig-collect-log-payload: false keeps
	// the record without bodies.
	unlogged, _ := send(t, url, chatBody("gpt-4o-mini", "secret", false), map[string]string{"cf-aig-collect-log": "false"})
	bare, _ := send(t, url, chatBody("gpt-4o-mini", "no bodies", false), map[string]string{"cf-aig-collect-log-payload": "false"})
	rawLog(t, g, bare.Header.Get("cf-aig-log-id")) // applied in order: the earlier one would be there by now
	if _, err := g.API().AIGateway.Logs.Get(context.Background(), gateway, unlogged.Header.Get("cf-aig-log-id"), ai_gateway.LogGetParams{AccountID: cloudflare.F(account)}); err == nil {
		t.Error("a request with cf-aig-collect-log: false was logged")
	}
	if code, _ := apiCall(t, g, token, "GET", "/ai-gateway/gateways/"+gateway+"/logs/"+bare.Header.Get("cf-aig-log-id")+"/request", nil); code != 404 {
		t.Errorf("payload of a cf-aig-collect-log-payload: false request: %d, want 404", code)
	}
}

func TestSpendLimit(t *testing.T) {
	up := mock.NewOpenAI()
	defer up.Close()
	g := startGateway(t, "", []string{"SWITCHYARD_UPSTREAM_OPENAI=" + up.URL})
	url := g.Base("openai") + "/chat/completions"
	setLimit := func(limit float64) {
		t.Helper()
		body := fmt.Sprintf(`{"spend_limits":{"enabled":true,"rules":[{"id":"daily","limit":%g,"limitType":"cost","window":86400}]}}`, limit)
		if code, env := patchGateway(t, g, body); code != 200 {
			t.Fatalf("set spend limit: %d %v", code, env)
		}
	}
	setLimit(0.00001) // a couple of gpt-4o-mini requests
	deadline := time.Now().Add(20 * time.Second)
	var refused *answer
	var body []byte
	for time.Now().Before(deadline) {
		resp, b := send(t, url, chatBody("gpt-4o-mini", "spend", false), nil)
		if resp.StatusCode == 429 {
			refused, body = resp, b
			break
		}
		if resp.StatusCode != 200 {
			t.Fatalf("before the limit: %d %s", resp.StatusCode, b)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if refused == nil {
		t.Fatal("the spend limit never refused a request")
	}
	if !strings.Contains(string(body), `"code":2019`) || !strings.Contains(string(body), "daily") || refused.Header.Get("Retry-After") == "" {
		t.Fatalf("refusal: %s (Retry-After %q)", body, refused.Header.Get("Retry-After"))
	}
	calls := len(up.Requests())
	if resp, _ := send(t, url, chatBody("gpt-4o-mini", "spend", false), nil); resp.StatusCode != 429 || len(up.Requests()) != calls {
		t.Fatalf("over the limit: %d with %d upstream calls, want 429 and none", resp.StatusCode, len(up.Requests())-calls)
	}
	setLimit(1000)
	time.Sleep(300 * time.Millisecond) // one spend reading is reused for 250 ms
	if resp, b := send(t, url, chatBody("gpt-4o-mini", "spend", false), nil); resp.StatusCode != 200 {
		t.Fatalf("after raising the limit: %d %s", resp.StatusCode, b)
	}
	// A bad rule is refused when it is set.
	if code, _ := patchGateway(t, g, `{"spend_limits":{"enabled":true,"rules":[{"limit":1,"limitType":"requests","window":86400}]}}`); code != 400 {
		t.Errorf("limitType requests: %d, want 400", code)
	}
}

func TestCacheGatewayTTLAndInvalidateOnUpdate(t *testing.T) {
	up := mock.NewOpenAI()
	defer up.Close()
	g := startGateway(t, "", []string{"SWITCHYARD_UPSTREAM_OPENAI=" + up.URL})
	patch := func(body string) {
		t.Helper()
		if code, env := patchGateway(t, g, body); code != 200 {
			t.Fatalf("PATCH gateway %s: %d %v", body, code, env)
		}
	}
	url := g.Base("openai") + "/chat/completions"
	status := func() string {
		resp, _ := send(t, url, chatBody("gpt-4o-mini", "gateway default", false), nil)
		return resp.Header.Get("cf-aig-cache-status")
	}
	if s := status(); s != "" {
		t.Fatalf("caching off: cf-aig-cache-status %q, want none", s)
	}
	patch(`{"cache_ttl":300,"cache_invalidate_on_update":true}`)
	if a, b := status(), status(); a != "MISS" || b != "HIT" {
		t.Fatalf("gateway cache_ttl: %s then %s, want MISS then HIT", a, b)
	}
	patch(`{"retry_max_attempts":2}`) // any settings change empties the cache
	if a, b := status(), status(); a != "MISS" || b != "HIT" {
		t.Fatalf("after a settings change: %s then %s, want MISS then HIT", a, b)
	}
	patch(`{"cache_invalidate_on_update":false}`)
	a := status()
	patch(`{"retry_max_attempts":3}`)
	if b := status(); a != "MISS" || b != "HIT" {
		t.Fatalf("without invalidate_on_update: %s then %s, want MISS then HIT across a change", a, b)
	}
}

// patchGateway changes the test gateway's settings with a raw JSON body.
func patchGateway(t *testing.T, g *Gateway, body string) (int, map[string]any) {
	t.Helper()
	return apiCall(t, g, token, "PATCH", "/ai-gateway/gateways/"+gateway, json.RawMessage(body))
}
