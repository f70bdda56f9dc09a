// dlp_test.go turns a gateway's DLP policies on through the control API and sends
// sensitive data with the official SDKs (openai-go, anthropic-sdk-go) and on /compat:
// FLAG lets the request through with the cf-aig-dlp header and a logged finding, BLOCK
// answers 2029 before anything reaches the provider or 2030 instead of the answer
// (streamed answers are held back and scanned whole), REDACT masks what goes upstream.
package e2e

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/anthropics/anthropic-sdk-go"
	aoption "github.com/anthropics/anthropic-sdk-go/option"
	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
	"github.com/switchyard/switchyard/engine/dlp"
	"github.com/switchyard/switchyard/mock"
)

// cardNumber is a test Visa number: it passes the Luhn check.
const cardNumber = "4111 1111 1111 1111"

type dlpHeader struct {
	Action   string `json:"action"`
	Findings []struct {
		Profile struct {
			EntryIDs  []string `json:"entry_ids"`
			ProfileID string   `json:"profile_id"`
		} `json:"profile"`
		PolicyIDs []string `json:"policy_ids"`
		Check     string   `json:"check"`
	} `json:"findings"`
}

func parseDLPHeader(t *testing.T, h http.Header) dlpHeader {
	t.Helper()
	var d dlpHeader
	if err := json.Unmarshal([]byte(h.Get("cf-aig-dlp")), &d); err != nil {
		t.Fatalf("cf-aig-dlp %q: %v", h.Get("cf-aig-dlp"), err)
	}
	return d
}

func TestDLP(t *testing.T) {
	oa, an := mock.NewOpenAI(), mock.NewAnthropic()
	defer oa.Close()
	defer an.Close()
	g := startGateway(t, "", []string{"SWITCHYARD_UPSTREAM_OPENAI=" + oa.URL, "SWITCHYARD_UPSTREAM_ANTHROPIC=" + an.URL})
	ctx := context.Background()
	fin := dlp.ProfileFinancial
	setDLP := func(dlp string) {
		t.Helper()
		if code, env := apiCall(t, g, token, "PUT", "/ai-gateway/gateways/"+gateway, json.RawMessage(`{"dlp":`+dlp+`}`)); code != 200 {
			t.Fatalf("PUT dlp %s: %d %v", dlp, code, env)
		}
	}
	var hdr *http.Response
	client := openai.NewClient(option.WithBaseURL(g.Base("openai")), option.WithAPIKey("sk-test"), option.WithMaxRetries(0), option.WithResponseInto(&hdr))
	ask := openai.ChatCompletionNewParams{Model: "gpt-4o-mini", Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("my card is " + cardNumber + ", thanks")}}

	// A profile that is not one, and a malformed policy, are refused naming the field.
	if code, env := apiCall(t, g, token, "PUT", "/ai-gateway/gateways/"+gateway, json.RawMessage(`{"dlp":{"enabled":true,"action":"FLAG","profiles":["nope"]}}`)); code != 400 || !strings.Contains(mustJSONString(env), "dlp.profiles") {
		t.Fatalf("unknown profile: %d %v", code, env)
	}
	if code, env := apiCall(t, g, token, "PUT", "/ai-gateway/gateways/"+gateway, json.RawMessage(`{"dlp":{"enabled":true,"policies":[{"id":"x","profiles":["`+fin+`"],"action":"WARN"}]}}`)); code != 400 || !strings.Contains(mustJSONString(env), "dlp.policies[0].action") {
		t.Fatalf("bad action: %d %v", code, env)
	}

	// FLAG on requests: answered, with the header and the finding logged.
	setDLP(`{"enabled":true,"policies":[{"id":"flag-cards","profiles":["` + fin + `"],"action":"FLAG","check":["REQUEST"],"enabled":true}]}`)
	if _, err := client.Chat.Completions.New(ctx, ask); err != nil {
		t.Fatalf("flagged request: %v", err)
	}
	d := parseDLPHeader(t, hdr.Header)
	if d.Action != "FLAG" || len(d.Findings) != 1 || d.Findings[0].Check != "REQUEST" || d.Findings[0].Profile.ProfileID != fin ||
		len(d.Findings[0].Profile.EntryIDs) == 0 || strings.Join(d.Findings[0].PolicyIDs, ",") != "flag-cards" {
		t.Fatalf("cf-aig-dlp %+v", d)
	}
	rec := rawLog(t, g, hdr.Header.Get("cf-aig-log-id"))
	if rec["dlp_action"] != "FLAG" || rec["success"] != true || rec["dlp"] == nil {
		t.Fatalf("flagged log: %v", rec)
	}
	// Nothing sensitive: no header.
	if _, err := client.Chat.Completions.New(ctx, openai.ChatCompletionNewParams{Model: "gpt-4o-mini",
		Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("order 1234 5678 arrives friday")}}); err != nil || hdr.Header.Get("cf-aig-dlp") != "" {
		t.Fatalf("clean request: %v, cf-aig-dlp %q", err, hdr.Header.Get("cf-aig-dlp"))
	}

	// BLOCK on requests (the simple form checks both sides): 2029, nothing sent upstream,
	// with openai-go, anthropic-sdk-go and /compat alike.
	setDLP(`{"enabled":true,"action":"BLOCK","profiles":["` + fin + `"]}`)
	sent := len(oa.Requests()) + len(an.Requests())
	_, err := client.Chat.Completions.New(ctx, ask)
	var oe *openai.Error
	if !errors.As(err, &oe) || oe.StatusCode != 400 || !strings.Contains(sdkBody(err), `"code":2029`) ||
		!strings.Contains(sdkBody(err), "Request content blocked due to DLP policy violations") {
		t.Fatalf("blocked request through openai-go: %v", err)
	}
	if d := parseDLPHeader(t, oe.Response.Header); d.Action != "BLOCK" || d.Findings[0].Check != "REQUEST" || d.Findings[0].PolicyIDs[0] != "default" {
		t.Fatalf("blocked cf-aig-dlp %+v", d)
	}
	rec = rawLog(t, g, oe.Response.Header.Get("cf-aig-log-id"))
	if rec["dlp_action"] != "BLOCK" || rec["success"] != false || rec["error_code"] != 2029.0 {
		t.Fatalf("blocked log: %v", rec)
	}
	ac := anthropic.NewClient(aoption.WithBaseURL(g.Base("anthropic")), aoption.WithAPIKey("sk-ant-test"), aoption.WithMaxRetries(0))
	_, err = ac.Messages.New(ctx, anthropic.MessageNewParams{Model: "claude-sonnet-4-5", MaxTokens: 64,
		Messages: []anthropic.MessageParam{anthropic.NewUserMessage(anthropic.NewTextBlock("card " + cardNumber))}})
	var ae *anthropic.Error
	if !errors.As(err, &ae) || ae.StatusCode != 400 || !strings.Contains(sdkBody(err), `"code":2029`) {
		t.Fatalf("blocked request through anthropic-sdk-go: %v", err)
	}
	compat := openai.NewClient(option.WithBaseURL(g.Base("compat")), option.WithAPIKey("sk-ant-test"), option.WithMaxRetries(0))
	_, err = compat.Chat.Completions.New(ctx, openai.ChatCompletionNewParams{Model: "anthropic/claude-sonnet-4-5", Messages: ask.Messages})
	if !errors.As(err, &oe) || oe.StatusCode != 400 || !strings.Contains(sdkBody(err), "2029") {
		t.Fatalf("blocked request on /compat: %v %s", err, sdkBody(err))
	}
	if n := len(oa.Requests()) + len(an.Requests()); n != sent {
		t.Fatalf("%d blocked requests reached a provider", n-sent)
	}

	// Responses: the card comes back in the answer (the mock repeats a tool's result). A
	// REQUEST-only policy does not see it; a RESPONSE policy blocks it, streamed or not.
	toolTurn := []openai.ChatCompletionMessageParamUnion{
		openai.UserMessage("look up the card on file"),
		{OfAssistant: &openai.ChatCompletionAssistantMessageParam{ToolCalls: []openai.ChatCompletionMessageToolCallUnionParam{{
			OfFunction: &openai.ChatCompletionMessageFunctionToolCallParam{ID: "call_1", Function: openai.ChatCompletionMessageFunctionToolCallFunctionParam{Name: "lookup", Arguments: "{}"}}}}}},
		openai.ToolMessage("the card on file is "+cardNumber, "call_1"),
	}
	setDLP(`{"enabled":true,"policies":[{"id":"answers","profiles":["` + fin + `"],"action":"BLOCK","check":["RESPONSE"]}]}`)
	_, err = client.Chat.Completions.New(ctx, openai.ChatCompletionNewParams{Model: "gpt-4o-mini", Messages: toolTurn})
	if !errors.As(err, &oe) || oe.StatusCode != 400 || !strings.Contains(sdkBody(err), `"code":2030`) ||
		!strings.Contains(sdkBody(err), "Response content blocked due to DLP policy violations") {
		t.Fatalf("blocked answer: %v", err)
	}
	if d := parseDLPHeader(t, oe.Response.Header); d.Action != "BLOCK" || d.Findings[0].Check != "RESPONSE" {
		t.Fatalf("blocked answer cf-aig-dlp %+v", d)
	}
	// Streamed, the card arrives split over several chunks: the stream is held back,
	// scanned whole, and the client gets the 2030 error, never part of the answer.
	stream := client.Chat.Completions.NewStreaming(ctx, openai.ChatCompletionNewParams{Model: "gpt-4o-mini", Messages: toolTurn})
	for stream.Next() {
		t.Fatalf("a blocked stream delivered a chunk: %+v", stream.Current())
	}
	if err := stream.Err(); !errors.As(err, &oe) || oe.StatusCode != 400 || !strings.Contains(sdkBody(err), `"code":2030`) {
		t.Fatalf("blocked stream: %v", err)
	}
	// FLAG on responses: the stream arrives whole, with the header.
	setDLP(`{"enabled":true,"policies":[{"id":"answers","profiles":["` + fin + `"],"action":"FLAG","check":"RESPONSE"}]}`)
	stream = client.Chat.Completions.NewStreaming(ctx, openai.ChatCompletionNewParams{Model: "gpt-4o-mini", Messages: toolTurn})
	var text strings.Builder
	for stream.Next() {
		if c := stream.Current(); len(c.Choices) > 0 {
			text.WriteString(c.Choices[0].Delta.Content)
		}
	}
	if err := stream.Err(); err != nil || !strings.Contains(text.String(), cardNumber) {
		t.Fatalf("flagged stream: %v %q", err, text.String())
	}
	if d := parseDLPHeader(t, hdr.Header); d.Action != "FLAG" || d.Findings[0].Check != "RESPONSE" {
		t.Fatalf("flagged stream cf-aig-dlp %+v", d)
	}

	// REDACT (Switchyard's own): the provider never sees the number.
	setDLP(`{"enabled":true,"policies":[{"id":"mask","profiles":["` + fin + `"],"action":"REDACT","check":["REQUEST"]}]}`)
	if _, err := client.Chat.Completions.New(ctx, ask); err != nil {
		t.Fatalf("redacted request: %v", err)
	}
	reqs := oa.Requests()
	last := string(reqs[len(reqs)-1].Body)
	if strings.Contains(last, cardNumber) || !strings.Contains(last, "my card is ") || !json.Valid(reqs[len(reqs)-1].Body) {
		t.Fatalf("the provider received %s", last)
	}
	if d := parseDLPHeader(t, hdr.Header); d.Action != "REDACT" {
		t.Fatalf("redacted cf-aig-dlp %+v", d)
	}

	// The logs API filters on the DLP action: five blocked requests (three prompts, an
	// answer, a stream), once the projection has them all.
	rawLog(t, g, hdr.Header.Get("cf-aig-log-id")) // the last request's log: the earlier ones are applied
	code, env := apiCall(t, g, token, "GET", "/ai-gateway/gateways/"+gateway+"/logs?filters.key=dlp_action&filters.operator=eq&filters.value=BLOCK", nil)
	if code != 200 {
		t.Fatalf("filter: %d %v", code, env)
	}
	list, _ := env["result"].([]any)
	if len(list) != 5 {
		t.Fatalf("%d logs with dlp_action BLOCK, want 5", len(list))
	}
	for _, r := range list {
		if r.(map[string]any)["dlp_action"] != "BLOCK" {
			t.Fatalf("filtered log %v", r)
		}
	}
}

// sdkBody is the body of an SDK's API error (the gateway's error JSON).
func sdkBody(err error) string {
	var oe *openai.Error
	if errors.As(err, &oe) {
		return string(oe.DumpResponse(true))
	}
	var ae *anthropic.Error
	if errors.As(err, &ae) {
		return string(ae.DumpResponse(true))
	}
	return ""
}

func mustJSONString(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}
