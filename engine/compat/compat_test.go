// compat_test.go: refusals that name the parameter, the model-string forms, error
// translation, usage estimation when a stream carries none, credentials per provider,
// and benchmarks of a typical request and a 200-chunk stream.
package compat

import (
	"encoding/base64"
	"fmt"
	"strings"
	"testing"

	"github.com/tidwall/gjson"
)

func TestRefusalsNameTheParameter(t *testing.T) {
	cases := []struct {
		name, body, status, param string
	}{
		{"unknown prefix", `{"model":"acme/x","messages":[{"role":"user","content":"hi"}]}`, "400", "model"},
		{"no prefix", `{"model":"gpt-4o","messages":[{"role":"user","content":"hi"}]}`, "400", "model"},
		{"no messages", `{"model":"openai/gpt-4o","messages":[]}`, "400", "messages"},
		{"bad role", `{"model":"openai/gpt-4o","messages":[{"role":"bot","content":"hi"}]}`, "400", "messages[0].role"},
		{"tool without id", `{"model":"openai/gpt-4o","messages":[{"role":"tool","content":"x"}]}`, "400", "messages[0].tool_call_id"},
		{"audio part", `{"model":"openai/gpt-4o","messages":[{"role":"user","content":[{"type":"input_audio","input_audio":{}}]}]}`, "400", "messages[0].content[0].type"},
		{"seed on anthropic", `{"model":"anthropic/claude-sonnet-4-5","seed":1,"messages":[{"role":"user","content":"hi"}]}`, "400", "seed"},
		{"n on anthropic", `{"model":"anthropic/claude-sonnet-4-5","n":2,"messages":[{"role":"user","content":"hi"}]}`, "400", "n"},
		{"json_object on anthropic", `{"model":"anthropic/claude-sonnet-4-5","response_format":{"type":"json_object"},"messages":[{"role":"user","content":"hi"}]}`, "400", "response_format"},
		{"logprobs on gemini", `{"model":"google-ai-studio/gemini-2.5-flash","logprobs":true,"messages":[{"role":"user","content":"hi"}]}`, "400", "logprobs"},
		{"serial tools on gemini", `{"model":"google-ai-studio/gemini-2.5-flash","parallel_tool_calls":false,"messages":[{"role":"user","content":"hi"}]}`, "400", "parallel_tool_calls"},
		{"named tool on cohere", `{"model":"cohere/command-a-03-2025","tool_choice":{"type":"function","function":{"name":"f"}},"tools":[{"type":"function","function":{"name":"f"}}],"messages":[{"role":"user","content":"hi"}]}`, "400", "tool_choice"},
		{"user on cohere", `{"model":"cohere/command-a-03-2025","user":"u","messages":[{"role":"user","content":"hi"}]}`, "400", "user"},
		{"json on bedrock", `{"model":"aws-bedrock/amazon.nova-pro-v1:0","response_format":{"type":"json_object"},"messages":[{"role":"user","content":"hi"}]}`, "400", "response_format"},
		{"url image on bedrock", `{"model":"aws-bedrock/amazon.nova-pro-v1:0","messages":[{"role":"user","content":[{"type":"image_url","image_url":{"url":"https://x/y.png"}}]}]}`, "400", "messages[0].content[0].image_url.url"},
		{"bad tool arguments", `{"model":"anthropic/claude-sonnet-4-5","messages":[{"role":"assistant","tool_calls":[{"id":"a","type":"function","function":{"name":"f","arguments":"{nope"}}]}]}`, "400", "messages[0].tool_calls[0].function.arguments"},
		{"unmatched tool result on gemini", `{"model":"google-ai-studio/gemini-2.5-flash","messages":[{"role":"tool","tool_call_id":"zz","content":"x"}]}`, "400", "messages[0].tool_call_id"},
		{"bad tool_choice", `{"model":"openai/gpt-4o","tool_choice":"sometimes","messages":[{"role":"user","content":"hi"}]}`, "400", "tool_choice"},
		{"azure without deployment", `{"model":"azure-openai/res","messages":[{"role":"user","content":"hi"}]}`, "400", "model"},
		{"vertex without project", `{"model":"google-vertex-ai/google/gemini-2.5-pro","messages":[{"role":"user","content":"hi"}]}`, "401", "model"},
		{"vertex other publisher", `{"model":"google-vertex-ai/projects/p/locations/us-east5/publishers/anthropic/models/claude","messages":[{"role":"user","content":"hi"}]}`, "400", "model"},
		{"wrong type", `{"model":"openai/gpt-4o","temperature":"hot","messages":[{"role":"user","content":"hi"}]}`, "400", "temperature"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			plan, err := Parse([]byte(tc.body))
			if err == nil {
				_, err = plan.Build(Credential{Key: "k"}, nil)
			}
			if err == nil {
				t.Fatal("accepted; want a refusal")
			}
			if fmt.Sprint(err.Status) != tc.status || err.Param != tc.param {
				t.Fatalf("status %d param %q (%s); want %s %q", err.Status, err.Param, err.Message, tc.status, tc.param)
			}
			body := gjson.ParseBytes(err.JSON())
			if body.Get("error.param").String() != tc.param || body.Get("error.message").String() == "" {
				t.Fatalf("error body %s lacks the OpenAI shape", err.JSON())
			}
		})
	}
}

func TestUnknownProviderListsPrefixes(t *testing.T) {
	_, err := Parse([]byte(`{"model":"acme/x","messages":[{"role":"user","content":"hi"}]}`))
	for _, p := range []string{"openai", "anthropic", "google-ai-studio", "google-vertex-ai", "workers-ai", "groq", "mistral", "cohere",
		"perplexity-ai", "deepseek", "grok", "cerebras", "baseten", "parallel", "openrouter", "azure-openai", "aws-bedrock", "custom-{slug}", "dynamic/{route}"} {
		if !strings.Contains(err.Message, p) {
			t.Errorf("message %q does not list %s", err.Message, p)
		}
	}
}

func TestModelStrings(t *testing.T) {
	cases := []struct {
		model, key, provider, rest, query, upstreamModel string
	}{
		{"workers-ai/@cf/meta/llama-3.3-70b-instruct-fp8-fast", "k", "workers-ai", "/v1/chat/completions", "", "@cf/meta/llama-3.3-70b-instruct-fp8-fast"},
		{"grok/grok-4", "k", "grok", "/v1/chat/completions", "", "grok-4"},
		{"xai/grok-4", "k", "grok", "/v1/chat/completions", "", "grok-4"},
		{"perplexity/sonar", "k", "perplexity-ai", "/chat/completions", "", "sonar"},
		{"groq/openai/gpt-oss-120b", "k", "groq", "/chat/completions", "", "openai/gpt-oss-120b"},
		{"azure-openai/myres/gpt4o-deploy", "k", "azure-openai", "/myres/gpt4o-deploy/chat/completions", "api-version=" + AzureAPIVersion, "gpt4o-deploy"},
		{"google-ai-studio/gemini-2.5-flash", "k", "google-ai-studio", "/v1beta/models/gemini-2.5-flash:generateContent", "", "gemini-2.5-flash"},
		{"google/gemini-2.5-pro", "k", "google-ai-studio", "/v1beta/models/gemini-2.5-pro:generateContent", "", "gemini-2.5-pro"},
		{"google-vertex-ai/projects/p/locations/europe-west4/publishers/google/models/gemini-2.5-flash", "ya29.t", "google-vertex-ai",
			"/v1/projects/p/locations/europe-west4/publishers/google/models/gemini-2.5-flash:generateContent", "", "gemini-2.5-flash"},
		{"aws-bedrock/amazon.nova-pro-v1:0", "AKIDEXAMPLE:secret:eu-west-1", "aws-bedrock", "/bedrock-runtime/eu-west-1/model/amazon.nova-pro-v1:0/converse", "", "amazon.nova-pro-v1:0"},
		{"aws-bedrock/us-west-2/amazon.nova-pro-v1:0", "ABSKkey", "aws-bedrock", "/bedrock-runtime/us-west-2/model/amazon.nova-pro-v1:0/converse", "", "amazon.nova-pro-v1:0"},
		{"custom-acme/acme-large", "k", "custom-acme", "/chat/completions", "", "acme-large"},
	}
	for _, tc := range cases {
		t.Run(tc.model, func(t *testing.T) {
			c := buildCall(t, []byte(`{"model":"`+tc.model+`","messages":[{"role":"user","content":"hi"}]}`), tc.key)
			if c.Provider != tc.provider || c.Rest != tc.rest || c.Query != tc.query || c.Model != tc.upstreamModel {
				t.Fatalf("got %s %s ?%s model %s", c.Provider, c.Rest, c.Query, c.Model)
			}
		})
	}
	if CustomRest("https://api.example.com") != "/v1/chat/completions" || CustomRest("https://api.example.com/api/paas/v4") != "/chat/completions" {
		t.Fatal("custom provider paths")
	}
}

func TestCredentialsPerProvider(t *testing.T) {
	header := func(c *Call, k string) string {
		for _, h := range c.Headers {
			if strings.EqualFold(h.Key, k) {
				return h.Value
			}
		}
		return ""
	}
	msg := `","messages":[{"role":"user","content":"hi"}]}`
	if c := buildCall(t, []byte(`{"model":"anthropic/claude-haiku-4-5`+msg), "sk-ant"); header(c, "x-api-key") != "sk-ant" || header(c, "anthropic-version") != AnthropicVersion || header(c, "Authorization") != "" {
		t.Errorf("anthropic headers %v", c.Headers)
	}
	if c := buildCall(t, []byte(`{"model":"google-ai-studio/gemini-2.5-flash`+msg), "AIza"); header(c, "x-goog-api-key") != "AIza" {
		t.Errorf("ai studio headers %v", c.Headers)
	}
	if c := buildCall(t, []byte(`{"model":"azure-openai/r/d`+msg), "az"); header(c, "api-key") != "az" {
		t.Errorf("azure headers %v", c.Headers)
	}
	c := buildCall(t, []byte(`{"model":"aws-bedrock/amazon.nova-pro-v1:0`+msg), "AKIDEXAMPLE:wJalrXUtnFEMI:us-east-1:sessiontok")
	hs, err := c.Signer.Sign("POST", "https://bedrock-runtime.us-east-1.amazonaws.com/model/amazon.nova-pro-v1:0/converse", c.Body)
	if err != nil {
		t.Fatal(err)
	}
	auth := hs[0].Value
	if !strings.HasPrefix(auth, "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/") || !strings.Contains(auth, "/us-east-1/bedrock/aws4_request") || strings.Contains(auth, "wJalrXUtnFEMI") {
		t.Errorf("sigv4 Authorization %q", auth)
	}
	if len(hs) != 3 || hs[2].Value != "sessiontok" {
		t.Errorf("sigv4 headers %v", hs)
	}
	// A service account JSON without a region cannot say where to call.
	sa := base64.StdEncoding.EncodeToString([]byte(`{"type":"service_account","project_id":"p","private_key":"x","client_email":"a@b"}`))
	plan, _ := Parse([]byte(`{"model":"google-vertex-ai/google/gemini-2.5-flash` + msg))
	if _, err := plan.Build(Credential{Key: sa}, &Env{}); err == nil || err.Status != 401 || !strings.Contains(err.Message, "region") {
		t.Errorf("vertex without region: %v", err)
	}
	if raw, acct, ok := parseServiceAccount(sa); !ok || acct.ProjectID != "p" || raw[0] != '{' {
		t.Errorf("parseServiceAccount(base64) = %v %v", acct, ok)
	}
}

func TestErrorTranslation(t *testing.T) {
	cases := []struct {
		model, body, msg, typ string
		status                int
	}{
		{"anthropic/claude-haiku-4-5", `{"type":"error","error":{"type":"rate_limit_error","message":"Number of request tokens has exceeded your per-minute rate limit"}}`, "Number of request tokens", "rate_limit_error", 429},
		{"google-ai-studio/gemini-2.5-flash", `{"error":{"code":404,"message":"models/nope is not found","status":"NOT_FOUND"}}`, "models/nope is not found", "not_found_error", 404},
		{"cohere/command-a-03-2025", `{"id":"x","message":"invalid api token"}`, "invalid api token", "authentication_error", 401},
		{"aws-bedrock/amazon.nova-pro-v1:0", `{"message":"Too many requests, please wait before trying again."}`, "Too many requests", "rate_limit_error", 429},
		{"openai/gpt-4o", `{"error":{"message":"Incorrect API key provided","type":"invalid_request_error","code":"invalid_api_key"}}`, "Incorrect API key", "invalid_request_error", 401},
		{"groq/x", `<html>bad gateway</html>`, "<html>bad gateway</html>", "api_error", 502},
	}
	for _, tc := range cases {
		c := buildCall(t, []byte(`{"model":"`+tc.model+`","messages":[{"role":"user","content":"hi"}]}`), "k")
		out := gjson.ParseBytes(c.Error(tc.status, []byte(tc.body)))
		if !strings.Contains(out.Get("error.message").String(), tc.msg) || out.Get("error.type").String() != tc.typ {
			t.Errorf("%s: %s", tc.model, out.Raw)
		}
	}
}

func TestStreamWithoutUsageIsEstimated(t *testing.T) {
	for _, asked := range []bool{false, true} {
		body := `{"model":"deepseek/deepseek-chat","stream":true,"messages":[{"role":"user","content":"Say hello to the whole world please"}]}`
		if asked {
			body = `{"model":"deepseek/deepseek-chat","stream":true,"stream_options":{"include_usage":true},"messages":[{"role":"user","content":"Say hello to the whole world please"}]}`
		}
		c := buildCall(t, []byte(body), "k")
		if gjson.GetBytes(c.Body, "stream_options.include_usage").Bool() != true {
			t.Fatalf("the gateway must ask the provider for usage: %s", c.Body)
		}
		s := c.NewStream()
		out := string(s.Feed([]byte("data: {\"id\":\"1\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Hello, world!\"}}]}\n\ndata: {\"id\":\"1\",\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"stop\"}]}\n\ndata: [DONE]\n\n")))
		out += string(s.Close())
		u := s.Usage()
		if u == nil || !u.Estimated || u.CompletionTokens < 3 || u.PromptTokens < 8 {
			t.Fatalf("usage %+v; want an estimate", u)
		}
		if got := strings.Contains(out, `"usage"`); got != asked {
			t.Fatalf("usage chunk sent=%v, asked=%v:\n%s", got, asked, out)
		}
		if strings.Count(out, "[DONE]") != 1 || !strings.HasSuffix(out, "data: [DONE]\n\n") {
			t.Fatalf("want one [DONE] at the end:\n%s", out)
		}
	}
	// A usage chunk the client did not ask for is read, then held back.
	c := buildCall(t, []byte(`{"model":"openai/gpt-4o","stream":true,"messages":[{"role":"user","content":"hi"}]}`), "k")
	s := c.NewStream()
	out := string(s.Feed([]byte("data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"x\"},\"finish_reason\":\"stop\"}]}\n\ndata: {\"choices\":[],\"usage\":{\"prompt_tokens\":5,\"completion_tokens\":1,\"total_tokens\":6}}\n\n"))) + string(s.Close())
	if strings.Contains(out, "usage") || s.Usage().PromptTokens != 5 || s.Usage().Estimated {
		t.Fatalf("out %s usage %+v", out, s.Usage())
	}
}

func TestStreamErrorEvent(t *testing.T) {
	c := buildCall(t, []byte(`{"model":"anthropic/claude-haiku-4-5","stream":true,"messages":[{"role":"user","content":"hi"}]}`), "k")
	s := c.NewStream()
	out := string(s.Feed([]byte("event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"model\":\"m\",\"usage\":{\"input_tokens\":3,\"output_tokens\":1}}}\n\nevent: error\ndata: {\"type\":\"error\",\"error\":{\"type\":\"overloaded_error\",\"message\":\"Overloaded\"}}\n\n")))
	out += string(s.Close())
	if !s.Failed() || !strings.Contains(out, `"message":"anthropic: Overloaded"`) || !strings.HasSuffix(out, "data: [DONE]\n\n") {
		t.Fatalf("error event not translated:\n%s", out)
	}
}

// typicalRequest is a chat request of the usual size: a system prompt, a few turns, a tool.
const typicalRequest = `{"model":"anthropic/claude-sonnet-4-5","temperature":0.3,"max_tokens":512,
"messages":[{"role":"system","content":"You are a helpful support agent for an online shop. Be brief."},
{"role":"user","content":"Where is my order 12345? It was due on Monday."},
{"role":"assistant","content":null,"tool_calls":[{"id":"call_1","type":"function","function":{"name":"order_status","arguments":"{\"order_id\":\"12345\"}"}}]},
{"role":"tool","tool_call_id":"call_1","content":"{\"status\":\"in transit\",\"eta\":\"Thursday\"}"},
{"role":"user","content":"Can you make it faster?"}],
"tools":[{"type":"function","function":{"name":"order_status","description":"Look up an order","parameters":{"type":"object","properties":{"order_id":{"type":"string"}},"required":["order_id"]}}}]}`

func BenchmarkTranslateRequest(b *testing.B) {
	for _, model := range []string{"anthropic/claude-sonnet-4-5", "google-ai-studio/gemini-2.5-flash", "cohere/command-a-03-2025", "aws-bedrock/amazon.nova-pro-v1:0", "openai/gpt-4o"} {
		body := []byte(strings.Replace(typicalRequest, "anthropic/claude-sonnet-4-5", model, 1))
		b.Run(strings.SplitN(model, "/", 2)[0], func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(body)))
			for b.Loop() {
				plan, err := Parse(body)
				if err != nil {
					b.Fatal(err)
				}
				if _, err := plan.Build(Credential{Key: "k"}, nil); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkTranslateStream translates a 200-chunk Anthropic stream (text deltas) into
// OpenAI chunks; one op is the whole stream.
func BenchmarkTranslateStream(b *testing.B) {
	var native strings.Builder
	native.WriteString("event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"id\":\"msg_1\",\"model\":\"claude-sonnet-4-5\",\"usage\":{\"input_tokens\":25,\"output_tokens\":1}}}\n\n")
	native.WriteString("event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":0,\"content_block\":{\"type\":\"text\",\"text\":\"\"}}\n\n")
	for i := 0; i < 196; i++ {
		native.WriteString("event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"word \"}}\n\n")
	}
	native.WriteString("event: message_delta\ndata: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"end_turn\"},\"usage\":{\"output_tokens\":196}}\n\n")
	native.WriteString("event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n")
	benchStream(b, `{"model":"anthropic/claude-sonnet-4-5","stream":true,"stream_options":{"include_usage":true},"messages":[{"role":"user","content":"hi"}]}`,
		[]byte(native.String()), 512)
}

// benchStream translates the native stream raw for the chat request req, fed in pieces of
// piece bytes; one op is the whole stream.
func benchStream(b *testing.B, req string, raw []byte, piece int) {
	plan, _ := Parse([]byte(req))
	c, _ := plan.Build(Credential{Key: "k"}, nil)
	b.ReportAllocs()
	b.SetBytes(int64(len(raw)))
	for b.Loop() {
		s := c.NewStream()
		for p := raw; len(p) > 0; {
			n := min(piece, len(p))
			s.Feed(p[:n])
			p = p[n:]
		}
		s.Close()
	}
}

// BenchmarkPassthroughResponse reads a whole OpenAI answer (the bench's 596 bytes) for the
// unified API: checked, kept byte for byte, its usage read.
func BenchmarkPassthroughResponse(b *testing.B) {
	body := []byte(`{"id":"chatcmpl-B9MBs8CjcvOU2jLn4n570S5qMJKcT","object":"chat.completion","created":1735689600,"model":"gpt-4o-mini-2024-07-18",` +
		`"choices":[{"index":0,"message":{"role":"assistant","content":"Road freight usually wins for twelve perishable pallets a week over four hundred kilometres because refrigerated trucks meet tight delivery windows.","refusal":null,"annotations":[]},"logprobs":null,"finish_reason":"stop"}],` +
		`"usage":{"prompt_tokens":118,"completion_tokens":24,"total_tokens":142,"prompt_tokens_details":{"cached_tokens":0,"audio_tokens":0},"completion_tokens_details":{"reasoning_tokens":0,"audio_tokens":0,"accepted_prediction_tokens":0,"rejected_prediction_tokens":0}},` +
		`"service_tier":"default","system_fingerprint":"fp_b376dfbbd5"}`)
	plan, _ := Parse([]byte(`{"model":"openai/gpt-4o-mini","messages":[{"role":"user","content":"hi"}]}`))
	c, _ := plan.Build(Credential{Key: "k"}, nil)
	b.ReportAllocs()
	b.SetBytes(int64(len(body)))
	for b.Loop() {
		if out, u, err := c.Response(body); err != nil || u.TotalTokens != 142 || len(out) != len(body) {
			b.Fatal(err, u)
		}
	}
}

// BenchmarkPassthroughStream relays a 20-chunk OpenAI stream (the bench's: every chunk
// carries "usage":null, the last but one the usage) through the unified API to an OpenAI
// client; one op is the whole stream.
func BenchmarkPassthroughStream(b *testing.B) {
	const pre = `data: {"id":"chatcmpl-B9MBs8CjcvOU2jLn4n570S5qMJKcT","object":"chat.completion.chunk","created":1735689600,"model":"gpt-4o-mini-2024-07-18","service_tier":"default","system_fingerprint":"fp_b376dfbbd5",`
	var native strings.Builder
	for i := 0; i < 18; i++ {
		native.WriteString(pre + `"choices":[{"index":0,"delta":{"content":" word"},"logprobs":null,"finish_reason":null}],"usage":null}` + "\n\n")
	}
	native.WriteString(pre + `"choices":[],"usage":{"prompt_tokens":118,"completion_tokens":18,"total_tokens":136}}` + "\n\n")
	native.WriteString("data: [DONE]\n\n")
	benchStream(b, `{"model":"openai/gpt-4o-mini","stream":true,"messages":[{"role":"user","content":"hi"}]}`, []byte(native.String()), 1024)
}

func TestRetargetForRouteModelNodes(t *testing.T) {
	plan, perr := Parse([]byte(`{"model":"dynamic/support","messages":[{"role":"user","content":"hi"}]}`))
	if perr != nil || !plan.Dynamic() {
		t.Fatalf("parse: %v", perr)
	}
	cases := []struct {
		provider, model, slug, code string
	}{
		{"openai", "gpt-4o-mini", "openai", ""},
		{"anthropic", "claude-sonnet-4-5", "anthropic", ""},
		{"custom-acme", "acme-large", "", ""},
		{"acme", "x", "", "unknown_provider"},
		{"dynamic", "other", "", "unknown_provider"},
	}
	for _, tc := range cases {
		q, err := plan.Retarget(tc.provider, tc.model)
		switch {
		case tc.code != "":
			if err == nil || err.Code != tc.code {
				t.Fatalf("%s/%s: %v, want %s", tc.provider, tc.model, err, tc.code)
			}
		case err != nil || q.Slug != tc.slug || q.Model != tc.model || q.Req != plan.Req:
			t.Fatalf("%s/%s: %+v %v", tc.provider, tc.model, q, err)
		}
	}
}

// A translating provider refuses every top-level parameter it cannot honour, the first in
// name order, and takes an explicit null as not sent; an OpenAI-family passthrough sends
// them all on.
func TestUnsupportedParametersRefused(t *testing.T) {
	for _, c := range []struct {
		name, model, extra string
		param              string // the refused parameter; "" when the request is built
	}{
		{"anthropic: logprobs", "anthropic/claude-sonnet-4-5", `"logprobs":true,`, "logprobs"},
		{"anthropic: the first of two in name order", "anthropic/claude-sonnet-4-5", `"top_logprobs":2,"logprobs":true,`, "logprobs"},
		{"anthropic: null is not sent", "anthropic/claude-sonnet-4-5", `"logprobs":null,`, ""},
		{"anthropic: a supported parameter", "anthropic/claude-sonnet-4-5", `"temperature":0.2,`, ""},
		{"cohere: user and logit_bias", "cohere/command-a-03-2025", `"user":"u","seed":7,"logit_bias":{"1":2},`, "logit_bias"},
		{"google: an unknown parameter", "google-ai-studio/gemini-2.5-flash", `"metadata_x":{"a":1},`, "metadata_x"},
		{"openai passes everything on", "openai/gpt-4o", `"logprobs":true,"metadata_x":{"a":1},`, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			body := `{"model":"` + c.model + `",` + c.extra + `"messages":[{"role":"user","content":"hi"}]}`
			plan, err := Parse([]byte(body))
			if err != nil {
				t.Fatalf("parse: %v", err)
			}
			_, err = plan.Build(Credential{Key: "k"}, nil)
			switch {
			case c.param == "" && err != nil:
				t.Fatalf("refused: %v", err)
			case c.param != "" && (err == nil || err.Code != "unsupported_parameter" || err.Param != c.param || err.Status != 400):
				t.Fatalf("want %s refused as unsupported_parameter, got %+v", c.param, err)
			}
		})
	}
}
