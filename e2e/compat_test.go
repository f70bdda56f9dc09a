// compat_test.go drives the unified API (/compat/chat/completions) with the openai-go SDK
// against mocks of Anthropic, Gemini (AI Studio and Vertex with a service account), Cohere,
// Bedrock (the mock checks the SigV4 signature) and an OpenAI-compatible provider: tool
// calls, tool results, streams with usage, provider errors, stored keys, custom providers
// and the logs every call leaves.
package e2e

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/cloudflare/cloudflare-go/v7"
	"github.com/cloudflare/cloudflare-go/v7/ai_gateway"
	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
	"github.com/openai/openai-go/v3/shared"
	"github.com/switchyard/switchyard/mock"
)

// unifiedUpstreams are the mocks behind one gateway.
type unifiedUpstreams struct {
	openai    *mock.OpenAI
	anthropic *mock.Anthropic
	gemini    *mock.Gemini
	cohere    *mock.Cohere
	bedrock   *mock.Bedrock
}

func startUnified(t *testing.T) (*Gateway, *unifiedUpstreams) {
	t.Helper()
	u := &unifiedUpstreams{openai: mock.NewOpenAI(), anthropic: mock.NewAnthropic(), gemini: mock.NewGemini(), cohere: mock.NewCohere(), bedrock: mock.NewBedrock()}
	t.Cleanup(func() { u.openai.Close(); u.anthropic.Close(); u.gemini.Close(); u.cohere.Close(); u.bedrock.Close() })
	g := startGateway(t, "", []string{
		"SWITCHYARD_UPSTREAM_DEEPSEEK=" + u.openai.URL, "SWITCHYARD_UPSTREAM_ANTHROPIC=" + u.anthropic.URL,
		"SWITCHYARD_UPSTREAM_GOOGLE_AI_STUDIO=" + u.gemini.URL, "SWITCHYARD_UPSTREAM_GOOGLE_VERTEX_AI=" + u.gemini.URL,
		"SWITCHYARD_UPSTREAM_COHERE=" + u.cohere.URL, "SWITCHYARD_UPSTREAM_AWS_BEDROCK=" + u.bedrock.URL,
	}, "--allow-insecure-upstreams")
	return g, u
}

func unifiedClient(g *Gateway, key string, opts ...option.RequestOption) openai.Client {
	all := append([]option.RequestOption{option.WithBaseURL(g.Base("compat")), option.WithAPIKey(key), option.WithMaxRetries(0)}, opts...)
	return openai.NewClient(all...)
}

var weatherTools = []openai.ChatCompletionToolUnionParam{
	openai.ChatCompletionFunctionTool(shared.FunctionDefinitionParam{Name: "get_weather", Description: openai.String("Weather now"),
		Parameters: shared.FunctionParameters{"type": "object", "properties": map[string]any{"query": map[string]any{"type": "string"}}}}),
	openai.ChatCompletionFunctionTool(shared.FunctionDefinitionParam{Name: "get_time",
		Parameters: shared.FunctionParameters{"type": "object", "properties": map[string]any{"query": map[string]any{"type": "string"}}}}),
}

type unifiedCase struct {
	name, model, key string
	in, out, cached  int64 // the mock's usage, as OpenAI counts it
}

func unifiedCases(u *unifiedUpstreams) []unifiedCase {
	sa := base64.StdEncoding.EncodeToString(u.gemini.ServiceAccountJSON("us-central1"))
	return []unifiedCase{
		{"openai-compatible", "deepseek/deepseek-chat", "sk-test", mock.PromptTokens, mock.CompletionTokens, 0},
		{"anthropic", "anthropic/claude-sonnet-4-5", "sk-ant-test", mock.AnthropicInputTokens, mock.AnthropicOutputTokens, 0},
		{"google-ai-studio", "google-ai-studio/gemini-2.5-flash", "AIza-test", mock.GeminiInputTokens, mock.GeminiOutputTokens, mock.GeminiCachedTokens},
		{"google as the reference spells it", "google/gemini-2.5-pro", "AIza-test", mock.GeminiInputTokens, mock.GeminiOutputTokens, mock.GeminiCachedTokens},
		{"google-vertex-ai", "google-vertex-ai/google/gemini-2.5-flash", sa, mock.GeminiInputTokens, mock.GeminiOutputTokens, mock.GeminiCachedTokens},
		{"cohere", "cohere/command-a-03-2025", "co-test", mock.CohereInputTokens, mock.CohereOutputTokens, 0},
		{"aws-bedrock", "aws-bedrock/anthropic.claude-3-5-haiku-20241022-v1:0", mock.BedrockAccessKeyID + ":" + mock.BedrockSecretKey + ":us-east-1",
			mock.BedrockInputTokens + mock.BedrockCacheReadTokens, mock.BedrockOutputTokens, mock.BedrockCacheReadTokens},
	}
}

func TestUnifiedAPIToolCallsAcrossProviders(t *testing.T) {
	g, u := startUnified(t)
	ctx := context.Background()
	for _, tc := range unifiedCases(u) {
		t.Run(tc.name, func(t *testing.T) {
			var resp *http.Response
			c := unifiedClient(g, tc.key, option.WithResponseInto(&resp))
			question := "Weather and time in Paris?"
			params := openai.ChatCompletionNewParams{Model: tc.model, Tools: weatherTools, Messages: []openai.ChatCompletionMessageParamUnion{
				openai.SystemMessage("You are terse."), openai.UserMessage(question)}}

			// 1. Two parallel tool calls, whole.
			comp, err := c.Chat.Completions.New(ctx, params)
			if err != nil {
				t.Fatalf("tool call: %v", err)
			}
			ch := comp.Choices[0]
			if ch.FinishReason != "tool_calls" || len(ch.Message.ToolCalls) != 2 {
				t.Fatalf("finish %q, %d tool calls: %s", ch.FinishReason, len(ch.Message.ToolCalls), comp.RawJSON())
			}
			for i, name := range []string{"get_weather", "get_time"} {
				call := ch.Message.ToolCalls[i]
				var args map[string]string
				if call.Function.Name != name || json.Unmarshal([]byte(call.Function.Arguments), &args) != nil || args["query"] != question || call.ID == "" {
					t.Fatalf("tool call %d = %+v", i, call.Function)
				}
			}
			if comp.Usage.PromptTokens != tc.in || comp.Usage.CompletionTokens != tc.out || comp.Usage.PromptTokensDetails.CachedTokens != tc.cached {
				t.Fatalf("usage %s, want in %d out %d cached %d", comp.Usage.RawJSON(), tc.in, tc.out, tc.cached)
			}
			if resp.Header.Get("cf-aig-provider") == "" || resp.Header.Get("cf-aig-log-id") == "" {
				t.Fatalf("headers %v", resp.Header)
			}
			logID := resp.Header.Get("cf-aig-log-id")

			// 2. The tool results go back; the answer uses the last one.
			params.Messages = append(params.Messages, ch.Message.ToParam(),
				openai.ToolMessage("18C and sunny", ch.Message.ToolCalls[0].ID), openai.ToolMessage("14:05 CET", ch.Message.ToolCalls[1].ID))
			comp, err = c.Chat.Completions.New(ctx, params)
			if err != nil {
				t.Fatalf("tool results: %v", err)
			}
			if got := comp.Choices[0].Message.Content; !strings.HasPrefix(got, "Tool said: ") || !strings.Contains(got, "14:05 CET") || comp.Choices[0].FinishReason != "stop" {
				t.Fatalf("answer %q finish %q", got, comp.Choices[0].FinishReason)
			}

			// 3. Streamed tool calls: stable indices, arguments in pieces, usage chunk.
			params.Messages = params.Messages[:2]
			params.StreamOptions = openai.ChatCompletionStreamOptionsParam{IncludeUsage: openai.Bool(true)}
			stream := c.Chat.Completions.NewStreaming(ctx, params)
			var acc openai.ChatCompletionAccumulator
			chunks, first := 0, true
			for stream.Next() {
				chunk := stream.Current()
				if first && (len(chunk.Choices) == 0 || chunk.Choices[0].Delta.Role != "assistant") {
					t.Fatalf("first chunk is not the role delta: %s", chunk.RawJSON())
				}
				first = false
				acc.AddChunk(chunk)
				chunks++
			}
			if err := stream.Err(); err != nil {
				t.Fatalf("stream: %v", err)
			}
			sc := acc.Choices[0]
			if sc.FinishReason != "tool_calls" || len(sc.Message.ToolCalls) != 2 || sc.Message.ToolCalls[1].Function.Name != "get_time" ||
				!strings.Contains(sc.Message.ToolCalls[1].Function.Arguments, question) {
				t.Fatalf("streamed: finish %q calls %+v", sc.FinishReason, sc.Message.ToolCalls)
			}
			if acc.Usage.PromptTokens != tc.in || acc.Usage.CompletionTokens != tc.out {
				t.Fatalf("stream usage %+v", acc.Usage)
			}

			// 4. A plain streamed answer.
			stream = c.Chat.Completions.NewStreaming(ctx, openai.ChatCompletionNewParams{Model: tc.model,
				Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("hello")}})
			var text strings.Builder
			for stream.Next() {
				if ch := stream.Current().Choices; len(ch) > 0 {
					text.WriteString(ch[0].Delta.Content)
				}
			}
			if stream.Err() != nil || text.String() != mock.Answer {
				t.Fatalf("streamed text %q err %v", text.String(), stream.Err())
			}

			// The log of the first call: the provider, the model, the tokens.
			l := g.WaitLog(logID)
			provider := strings.SplitN(tc.model, "/", 2)[0]
			if provider == "google" { // the reference's spelling of google-ai-studio
				provider = "google-ai-studio"
			}
			if l.Path != "/compat/chat/completions" || l.Provider != provider || l.TokensIn != tc.in || l.TokensOut != tc.out {
				t.Fatalf("log %s", l.JSON.RawJSON())
			}
		})
	}
	// The service account was exchanged once and its token reused.
	if n := u.gemini.TokenExchanges(); n != 1 {
		t.Errorf("token exchanges = %d, want 1 (cached)", n)
	}
}

func TestUnifiedAPIErrorsAndCredentials(t *testing.T) {
	g, u := startUnified(t)
	ctx := context.Background()
	msgs := []openai.ChatCompletionMessageParamUnion{openai.UserMessage("hi")}
	statusOf := func(err error) (int, string) {
		var apiErr *openai.Error
		if !errors.As(err, &apiErr) {
			t.Fatalf("error %v is not an API error", err)
		}
		return apiErr.StatusCode, apiErr.Message
	}

	// Provider errors keep their status (and Retry-After) in the OpenAI shape.
	for _, tc := range []struct {
		model string
		want  int
	}{{"anthropic/error-429", 429}, {"anthropic/error-401", 401}, {"google-ai-studio/error-404", 404}, {"cohere/error-500", 500}, {"deepseek/error-429", 429}} {
		var resp *http.Response
		c := unifiedClient(g, "k", option.WithResponseInto(&resp))
		_, err := c.Chat.Completions.New(ctx, openai.ChatCompletionNewParams{Model: tc.model, Messages: msgs})
		if st, m := statusOf(err); st != tc.want || m == "" {
			t.Errorf("%s: status %d message %q", tc.model, st, m)
		}
		if tc.want == 429 && resp.Header.Get("Retry-After") == "" {
			t.Errorf("%s: no Retry-After", tc.model)
		}
	}
	// Unknown prefix: 400 listing the providers.
	plain := unifiedClient(g, "k")
	_, err := plain.Chat.Completions.New(ctx, openai.ChatCompletionNewParams{Model: "acme/x", Messages: msgs})
	if st, m := statusOf(err); st != 400 || !strings.Contains(m, "anthropic") || !strings.Contains(m, "custom-{slug}") {
		t.Errorf("unknown prefix: %d %q", st, m)
	}
	// A parameter the provider cannot honour is refused, naming it.
	_, err = plain.Chat.Completions.New(ctx, openai.ChatCompletionNewParams{Model: "anthropic/claude-haiku-4-5", Messages: msgs, Seed: openai.Int(4)})
	if st, m := statusOf(err); st != 400 || !strings.Contains(m, "seed") {
		t.Errorf("seed on anthropic: %d %q", st, m)
	}
	// SigV4 with a wrong secret: the mock refuses the signature.
	badSig := unifiedClient(g, mock.BedrockAccessKeyID+":wrong-secret:us-east-1")
	_, err = badSig.Chat.Completions.New(ctx,
		openai.ChatCompletionNewParams{Model: "aws-bedrock/amazon.nova-pro-v1:0", Messages: msgs})
	if st, m := statusOf(err); st != 403 || !strings.Contains(m, "signature") {
		t.Errorf("bad signature: %d %q", st, m)
	}
	// Vertex with a direct access token and the full model resource.
	direct := unifiedClient(g, mock.VertexDirectToken)
	comp, err := direct.Chat.Completions.New(ctx, openai.ChatCompletionNewParams{
		Model: "google-vertex-ai/projects/" + mock.VertexProject + "/locations/us-central1/publishers/google/models/gemini-2.5-pro", Messages: msgs})
	if err != nil || comp.Choices[0].Message.Content != mock.Answer {
		t.Fatalf("vertex direct token: %v", err)
	}

	// A stored key (BYOK) for anthropic: the SDK sends the gateway token as its API key.
	const secret = "sk-ant-STORED-1d2c3b4a"
	api := g.API()
	if _, err := api.AIGateway.ProviderConfigs.New(ctx, gateway, ai_gateway.ProviderConfigNewParams{AccountID: cloudflare.F(account),
		Alias: cloudflare.F("default"), DefaultConfig: cloudflare.F(false), ProviderSlug: cloudflare.F("anthropic"), Secret: cloudflare.F(secret),
		RateLimit: cloudflare.F(1000.0), RateLimitPeriod: cloudflare.F(60.0)}); err != nil {
		t.Fatal(err)
	}
	byok := unifiedClient(g, token)
	if _, err := byok.Chat.Completions.New(ctx, openai.ChatCompletionNewParams{Model: "anthropic/claude-haiku-4-5", Messages: msgs}); err != nil {
		t.Fatalf("stored key: %v", err)
	}
	reqs := u.anthropic.Requests()
	if last := reqs[len(reqs)-1]; last.Header.Get("x-api-key") != secret || last.Header.Get("Authorization") != "" {
		t.Fatalf("upstream got x-api-key %q authorization %q", last.Header.Get("x-api-key"), last.Header.Get("Authorization"))
	}

	// A stream whose provider sends no usage is priced by a tokenizer and flagged.
	var resp *http.Response
	withResp := unifiedClient(g, "k", option.WithResponseInto(&resp))
	stream := withResp.Chat.Completions.NewStreaming(ctx,
		openai.ChatCompletionNewParams{Model: "deepseek/no-usage", Messages: msgs})
	for stream.Next() {
	}
	if stream.Err() != nil {
		t.Fatal(stream.Err())
	}
	g.WaitLog(resp.Header.Get("cf-aig-log-id"))
	_, env := apiCall(t, g, token, "GET", "/ai-gateway/gateways/"+gateway+"/logs/"+resp.Header.Get("cf-aig-log-id"), nil)
	rec, _ := env["result"].(map[string]any)
	if rec["tokens_estimated"] != true || rec["tokens_out"].(float64) < 5 {
		t.Fatalf("estimated log %v", rec)
	}

	// The model list.
	page, err := plain.Models.List(ctx)
	if err != nil || len(page.Data) < 20 || !strings.Contains(page.RawJSON(), "anthropic/claude-sonnet-4-5") {
		t.Fatalf("models: %v", err)
	}
}

func TestUnifiedAPICustomProvider(t *testing.T) {
	g, u := startUnified(t)
	ctx := context.Background()
	// The custom provider's base URL has no path: the unified API calls {base}/v1/chat/completions.
	front := httptest.NewServer(http.StripPrefix("/v1", u.openai.Config.Handler))
	defer front.Close()
	if _, err := g.API().AIGateway.CustomProviders.New(ctx, ai_gateway.CustomProviderNewParams{AccountID: cloudflare.F(account),
		Name: cloudflare.F("Acme"), Slug: cloudflare.F("acme"), BaseURL: cloudflare.F(front.URL), Enable: cloudflare.F(true)}); err != nil {
		t.Fatal(err)
	}
	var resp *http.Response
	c := unifiedClient(g, "sk-acme", option.WithResponseInto(&resp))
	comp, err := c.Chat.Completions.New(ctx, openai.ChatCompletionNewParams{
		Model: "custom-acme/acme-large", Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("hi")}})
	if err != nil || comp.Choices[0].Message.Content != mock.Answer || resp.Header.Get("cf-aig-provider") != "custom-acme" {
		t.Fatalf("custom provider: %v", err)
	}
	reqs := u.openai.Requests()
	last := reqs[len(reqs)-1]
	var body map[string]any
	_ = json.Unmarshal(last.Body, &body)
	if body["model"] != "acme-large" || last.Header.Get("Authorization") != "Bearer sk-acme" {
		t.Fatalf("upstream got model %v auth %q", body["model"], last.Header.Get("Authorization"))
	}
}
