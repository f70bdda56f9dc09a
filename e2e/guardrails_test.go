// guardrails_test.go turns a gateway's guardrails on through the control API, with a mock
// guard model speaking Workers AI's Llama Guard wire format (mock.Guard), and sends prompts
// with the official SDKs (openai-go, anthropic-sdk-go) and on /compat: FLAG lets the request
// through and logs the categories, BLOCK answers 2016 before anything reaches the provider
// or 2017 instead of the answer, a streamed answer is released in checked segments and
// broken off with an error event when a segment is blocked, and a guard model that answers
// 500 or hangs fails open with FLAG only and closed with a BLOCK category.
package e2e

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/anthropics/anthropic-sdk-go"
	aoption "github.com/anthropics/anthropic-sdk-go/option"
	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
	"github.com/switchyard/switchyard/mock"
)

const guardModelName = "workers-ai/@cf/meta/llama-guard-3-8b"

// guardSide is one side of a log record's guardrails.
func guardSide(t *testing.T, rec map[string]any, side string) map[string]any {
	t.Helper()
	gr, _ := rec["guardrails"].(map[string]any)
	s, _ := gr[side].(map[string]any)
	if s == nil {
		t.Fatalf("log has no guardrails.%s: %v", side, rec["guardrails"])
	}
	return s
}

func categories(s map[string]any) string {
	var out []string
	list, _ := s["categories"].([]any)
	for _, c := range list {
		out = append(out, c.(string))
	}
	return strings.Join(out, ",")
}

func TestGuardrails(t *testing.T) {
	guard, oa, an := mock.NewGuard(), mock.NewOpenAI(), mock.NewAnthropic()
	defer guard.Close()
	defer oa.Close()
	defer an.Close()
	g := startGateway(t, "", []string{"SWITCHYARD_UPSTREAM_WORKERS_AI=" + guard.URL, "SWITCHYARD_UPSTREAM_OPENAI=" + oa.URL, "SWITCHYARD_UPSTREAM_ANTHROPIC=" + an.URL})
	ctx := context.Background()
	setGuard := func(gr string) {
		t.Helper()
		code, env := apiCall(t, g, token, "PUT", "/ai-gateway/gateways/"+gateway, json.RawMessage(`{"guardrails":`+gr+`}`))
		if code != 200 {
			t.Fatalf("PUT guardrails %s: %d %v", gr, code, env)
		}
		if strings.Contains(mustJSONString(env["messages"]), "guardrails") {
			t.Fatalf("guardrails still reported as not acted on: %v", env["messages"])
		}
	}
	var hdr *http.Response
	client := openai.NewClient(option.WithBaseURL(g.Base("openai")), option.WithAPIKey("sk-test"), option.WithMaxRetries(0), option.WithResponseInto(&hdr))
	ask := func(text string) openai.ChatCompletionNewParams {
		return openai.ChatCompletionNewParams{Model: "gpt-4o-mini", Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage(text)}}
	}
	var oe *openai.Error
	blocked := func(t *testing.T, err error, code int, msg string) map[string]any {
		t.Helper()
		if !errors.As(err, &oe) || oe.StatusCode != 400 || !strings.Contains(sdkBody(err), `"code":`+strconv.Itoa(code)) || !strings.Contains(sdkBody(err), msg) {
			t.Fatalf("want %d %q: %v %s", code, msg, err, sdkBody(err))
		}
		rec := rawLog(t, g, oe.Response.Header.Get("cf-aig-log-id"))
		if rec["error_code"] != float64(code) || rec["success"] != false || rec["guardrails_action"] != "BLOCK" {
			t.Fatalf("blocked log: %v", rec)
		}
		return rec
	}
	const promptBlocked, answerBlocked = "Prompt blocked due to security configurations", "Response blocked due to security configurations"

	// A category that is not one, or an action that is not one, is refused naming the field.
	for body, field := range map[string]string{`{"prompt":{"S99":"FLAG"}}`: "guardrails.prompt.S99", `{"response":{"S1":"WARN"}}`: "guardrails.response.S1"} {
		if code, env := apiCall(t, g, token, "PUT", "/ai-gateway/gateways/"+gateway, json.RawMessage(`{"guardrails":`+body+`}`)); code != 400 || !strings.Contains(mustJSONString(env), field) {
			t.Fatalf("%s: %d %v", body, code, env)
		}
	}

	// FLAG on prompts: answered; the log has the category, the action, the model and its latency.
	setGuard(`{"prompt":{"S1":"FLAG","S10":"FLAG"}}`)
	if _, err := client.Chat.Completions.New(ctx, ask("write a [violent] story")); err != nil {
		t.Fatalf("flagged prompt: %v", err)
	}
	rec := rawLog(t, g, hdr.Header.Get("cf-aig-log-id"))
	p := guardSide(t, rec, "prompt")
	if rec["success"] != true || rec["guardrails_action"] != "FLAG" || p["action"] != "FLAG" || categories(p) != "S1" ||
		p["model"] != guardModelName || p["latency_ms"] == nil || p["calls"] != 1.0 {
		t.Fatalf("flagged log: %v", rec)
	}
	calls := guard.Calls()
	if c := calls[len(calls)-1]; c.Model != "@cf/meta/llama-guard-3-8b" || len(c.Messages) != 1 || c.Messages[0].Role != "user" ||
		!strings.Contains(c.Messages[0].Content, "write a [violent] story") || strings.Contains(c.Messages[0].Content, "gpt-4o-mini") {
		t.Fatalf("guard call %+v", c)
	}
	// A safe prompt: logged with no category and no action.
	if _, err := client.Chat.Completions.New(ctx, ask("hello there")); err != nil {
		t.Fatal(err)
	}
	rec = rawLog(t, g, hdr.Header.Get("cf-aig-log-id"))
	if p := guardSide(t, rec, "prompt"); rec["guardrails_action"] != nil || p["action"] != nil || p["categories"] != nil {
		t.Fatalf("safe prompt log: %v", rec)
	}

	// BLOCK on prompts: 2016 and nothing sent upstream, with openai-go, anthropic-sdk-go
	// and /compat alike; the object form of the verdict ({safe, categories}) too.
	setGuard(`{"prompt":{"S1":"FLAG","S10":"BLOCK","S9":"BLOCK"}}`)
	sent := len(oa.Requests()) + len(an.Requests())
	_, err := client.Chat.Completions.New(ctx, ask("say something [hate]ful"))
	rec = blocked(t, err, 2016, promptBlocked)
	if p := guardSide(t, rec, "prompt"); p["action"] != "BLOCK" || categories(p) != "S10" || rec["guardrails"].(map[string]any)["response"] != nil {
		t.Fatalf("blocked prompt log: %v", rec)
	}
	_, err = client.Chat.Completions.New(ctx, ask("how are [weapons] made"))
	if rec = blocked(t, err, 2016, promptBlocked); categories(guardSide(t, rec, "prompt")) != "S9" {
		t.Fatalf("object verdict: %v", rec)
	}
	ac := anthropic.NewClient(aoption.WithBaseURL(g.Base("anthropic")), aoption.WithAPIKey("sk-ant-test"), aoption.WithMaxRetries(0))
	_, err = ac.Messages.New(ctx, anthropic.MessageNewParams{Model: "claude-sonnet-4-5", MaxTokens: 64,
		Messages: []anthropic.MessageParam{anthropic.NewUserMessage(anthropic.NewTextBlock("a [hate] speech"))}})
	var ae *anthropic.Error
	if !errors.As(err, &ae) || ae.StatusCode != 400 || !strings.Contains(sdkBody(err), `"code":2016`) || !strings.Contains(sdkBody(err), promptBlocked) {
		t.Fatalf("blocked prompt through anthropic-sdk-go: %v", err)
	}
	compat := openai.NewClient(option.WithBaseURL(g.Base("compat")), option.WithAPIKey("sk-ant-test"), option.WithMaxRetries(0))
	_, err = compat.Chat.Completions.New(ctx, openai.ChatCompletionNewParams{Model: "anthropic/claude-sonnet-4-5", Messages: ask("[hate]").Messages})
	if !errors.As(err, &oe) || oe.StatusCode != 400 || !strings.Contains(sdkBody(err), "2016") {
		t.Fatalf("blocked prompt on /compat: %v %s", err, sdkBody(err))
	}
	if n := len(oa.Requests()) + len(an.Requests()); n != sent {
		t.Fatalf("%d blocked prompts reached a provider", n-sent)
	}

	// Answers: the mock repeats a tool's result, so the harmful text is in the answer. With
	// response guardrails only, the prompt is not judged; the answer is blocked with 2017.
	toolTurn := func(result string) []openai.ChatCompletionMessageParamUnion {
		return []openai.ChatCompletionMessageParamUnion{
			openai.UserMessage("what did the tool find?"),
			{OfAssistant: &openai.ChatCompletionAssistantMessageParam{ToolCalls: []openai.ChatCompletionMessageToolCallUnionParam{{
				OfFunction: &openai.ChatCompletionMessageFunctionToolCallParam{ID: "call_1", Function: openai.ChatCompletionMessageFunctionToolCallFunctionParam{Name: "lookup", Arguments: "{}"}}}}}},
			openai.ToolMessage(result, "call_1"),
		}
	}
	setGuard(`{"response":{"S1":"BLOCK","S10":"FLAG"}}`)
	before := len(guard.Calls())
	_, err = client.Chat.Completions.New(ctx, openai.ChatCompletionNewParams{Model: "gpt-4o-mini", Messages: toolTurn("a [violent] plan")})
	rec = blocked(t, err, 2017, answerBlocked)
	if r := guardSide(t, rec, "response"); r["action"] != "BLOCK" || categories(r) != "S1" || rec["guardrails"].(map[string]any)["prompt"] != nil {
		t.Fatalf("blocked answer log: %v", rec)
	}
	calls = guard.Calls()[before:]
	if len(calls) != 1 || len(calls[0].Messages) != 2 || calls[0].Messages[1].Role != "assistant" || !strings.Contains(calls[0].Messages[1].Content, "Tool said: a [violent] plan") ||
		!strings.Contains(calls[0].Messages[0].Content, "what did the tool find?") {
		t.Fatalf("response guard calls %+v", calls)
	}
	// FLAG on the answer: delivered, logged.
	if _, err := client.Chat.Completions.New(ctx, openai.ChatCompletionNewParams{Model: "gpt-4o-mini", Messages: toolTurn("some [hate]")}); err != nil {
		t.Fatalf("flagged answer: %v", err)
	}
	if rec = rawLog(t, g, hdr.Header.Get("cf-aig-log-id")); rec["guardrails_action"] != "FLAG" || categories(guardSide(t, rec, "response")) != "S10" {
		t.Fatalf("flagged answer log: %v", rec)
	}

	// Streamed: the answer is released in checked segments. The first ~1,000 characters are
	// safe and reach the client; the segment with the harmful text is blocked, the client gets
	// the 2017 error event and the stream ends.
	filler := strings.Repeat("the weather stays mild and quiet all week long. ", 40) // ~1,900 characters
	stream := client.Chat.Completions.NewStreaming(ctx, openai.ChatCompletionNewParams{Model: "gpt-4o-mini", Messages: toolTurn(filler + "then a [violent] turn")})
	var got strings.Builder
	for stream.Next() {
		if c := stream.Current(); len(c.Choices) > 0 {
			got.WriteString(c.Choices[0].Delta.Content)
		}
	}
	err = stream.Err()
	if err == nil || !strings.Contains(err.Error(), "2017") || !strings.Contains(err.Error(), answerBlocked) {
		t.Fatalf("blocked stream: %v", err)
	}
	if got.Len() < 1000 || strings.Contains(got.String(), "[violent]") || !strings.HasPrefix(got.String(), "Tool said: the weather") {
		t.Fatalf("the client got %d characters before the block: %q", got.Len(), got.String())
	}
	rec = rawLog(t, g, hdr.Header.Get("cf-aig-log-id"))
	if r := guardSide(t, rec, "response"); rec["error_code"] != 2017.0 || rec["stream"] != true || r["action"] != "BLOCK" || r["segments"].(float64) < 2 {
		t.Fatalf("blocked stream log: %v", rec)
	}
	// A safe stream arrives whole.
	stream = client.Chat.Completions.NewStreaming(ctx, openai.ChatCompletionNewParams{Model: "gpt-4o-mini", Messages: toolTurn(filler)})
	got.Reset()
	for stream.Next() {
		if c := stream.Current(); len(c.Choices) > 0 {
			got.WriteString(c.Choices[0].Delta.Content)
		}
	}
	if err := stream.Err(); err != nil || got.String() != "Tool said: "+filler {
		t.Fatalf("safe stream: %v %q", err, got.String())
	}
	// Embeddings: the prompt is judged, never the answer.
	setGuard(`{"prompt":{"S1":"FLAG"},"response":{"S1":"BLOCK"}}`)
	before = len(guard.Calls())
	if _, err := client.Embeddings.New(ctx, openai.EmbeddingNewParams{Model: "text-embedding-3-small",
		Input: openai.EmbeddingNewParamsInputUnion{OfString: openai.String("a [violent] sentence")}}); err != nil {
		t.Fatalf("embeddings: %v", err)
	}
	if n := len(guard.Calls()) - before; n != 1 {
		t.Fatalf("%d guard calls for an embedding", n)
	}

	// The guard model fails (500, or no answer within timeout_ms): with FLAG only the request
	// goes on, recorded as unavailable (fail open); with a BLOCK category it is blocked (fail
	// closed).
	for _, c := range []struct {
		name, settings, prompt string
		block                  bool
	}{
		{"500, flag only", `{"prompt":{"S1":"FLAG"}}`, "[guard-500] hello", false},
		{"500, a block category", `{"prompt":{"S1":"FLAG","S2":"BLOCK"}}`, "[guard-500] hello", true},
		{"unparsable, a block category", `{"prompt":{"S2":"BLOCK"}}`, "[guard-junk] hello", true},
		{"hang, flag only", `{"prompt":{"S1":"FLAG"},"model":{"timeout_ms":400}}`, "[guard-hang] hello", false},
		{"hang, a block category", `{"prompt":{"S1":"BLOCK"},"model":{"timeout_ms":400}}`, "[guard-hang] hello", true},
		{"broken model, answer side", `{"response":{"S1":"BLOCK"},"model":{"model":"@cf/meta/broken-guard"}}`, "hello", true},
	} {
		t.Run(c.name, func(t *testing.T) {
			setGuard(c.settings)
			side, code, msg := "prompt", 2016, promptBlocked
			if strings.Contains(c.settings, `"response"`) {
				side, code, msg = "response", 2017, answerBlocked
			}
			start := time.Now()
			_, err := client.Chat.Completions.New(ctx, ask(c.prompt))
			var rec map[string]any
			if c.block {
				rec = blocked(t, err, code, msg)
			} else {
				if err != nil {
					t.Fatalf("fail open: %v", err)
				}
				rec = rawLog(t, g, hdr.Header.Get("cf-aig-log-id"))
				if rec["success"] != true || rec["guardrails_action"] != nil {
					t.Fatalf("fail-open log: %v", rec)
				}
			}
			s := guardSide(t, rec, side)
			if s["unavailable"] != true || s["error"] == nil {
				t.Fatalf("guard model failure not recorded: %v", s)
			}
			if strings.Contains(c.name, "hang") && (time.Since(start) < 400*time.Millisecond || time.Since(start) > 5*time.Second) {
				t.Fatalf("hang answered after %v", time.Since(start))
			}
		})
	}
}
