// mock_test.go checks the mocks against real clients: SigV4 and the event stream for
// Bedrock, the service-account JWT exchange for Vertex, and the providers' SDKs.
package mock

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/anthropics/anthropic-sdk-go"
	aoption "github.com/anthropics/anthropic-sdk-go/option"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/protocol/eventstream"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/openai/openai-go/v3"
	ooption "github.com/openai/openai-go/v3/option"
	"golang.org/x/oauth2"
	"golang.org/x/oauth2/jws"
	"golang.org/x/oauth2/jwt"
)

const weatherQuery = "Weather in Paris?"

// bedrockRequest signs (or not) a Converse call for model, the way the AWS SDK does.
func bedrockCall(t *testing.T, m *Bedrock, model, op string, body string, sign func(*http.Request, string)) *http.Response {
	t.Helper()
	u, err := url.Parse(m.URL + "/model/" + strings.ReplaceAll(url.PathEscape(model), ":", "%3A") + "/" + op) // as the AWS SDK escapes it
	if err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest("POST", u.String(), strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	sum := sha256.Sum256([]byte(body))
	if sign != nil {
		sign(req, hex.EncodeToString(sum[:]))
	}
	resp, err := m.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	return resp
}

func sigV4(secret, region string) func(*http.Request, string) {
	return func(req *http.Request, hash string) {
		req.Header.Set("X-Amz-Content-Sha256", hash)
		creds := aws.Credentials{AccessKeyID: BedrockAccessKeyID, SecretAccessKey: secret}
		if err := v4.NewSigner().SignHTTP(context.Background(), creds, req, hash, "bedrock", region, time.Now()); err != nil {
			panic(err)
		}
	}
}

const bedrockToolBody = `{"messages":[{"role":"user","content":[{"text":"` + weatherQuery + `"}]}],
	"toolConfig":{"tools":[{"toolSpec":{"name":"get_weather","inputSchema":{"json":{"type":"object"}}}},
	{"toolSpec":{"name":"get_time","inputSchema":{"json":{"type":"object"}}}}]}}`

func TestBedrockSigV4(t *testing.T) {
	m := NewBedrock()
	defer m.Close()
	const model = "anthropic.claude-3-5-sonnet-20240620-v1:0"
	body := `{"messages":[{"role":"user","content":[{"text":"hi"}]}],"inferenceConfig":{"maxTokens":64}}`
	for _, tc := range []struct {
		name   string
		sign   func(*http.Request, string)
		status int
		typ    string
	}{
		{"unsigned", nil, 403, "InvalidSignatureException"},
		{"wrong secret", sigV4("not-the-secret", "us-east-1"), 403, "InvalidSignatureException"},
		{"wrong region", sigV4(BedrockSecretKey, "ap-south-1"), 403, "InvalidSignatureException"},
		{"unknown key", func(r *http.Request, h string) {
			v4.NewSigner().SignHTTP(context.Background(), aws.Credentials{AccessKeyID: "AKIDOTHER", SecretAccessKey: BedrockSecretKey}, r, h, "bedrock", "us-east-1", time.Now())
		}, 403, "UnrecognizedClientException"},
		{"signed us-east-1", sigV4(BedrockSecretKey, "us-east-1"), 200, ""},
		{"signed eu-west-1", sigV4(BedrockSecretKey, "eu-west-1"), 200, ""},
		{"api key", func(r *http.Request, _ string) { r.Header.Set("Authorization", "Bearer "+BedrockAPIKey) }, 200, ""},
		{"bad api key", func(r *http.Request, _ string) { r.Header.Set("Authorization", "Bearer ABSKnope") }, 403, "UnrecognizedClientException"},
	} {
		resp := bedrockCall(t, m, model, "converse", body, tc.sign)
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != tc.status || resp.Header.Get("x-amzn-ErrorType") != tc.typ {
			t.Fatalf("%s: %d %v %s", tc.name, resp.StatusCode, resp.Header, b)
		}
		if tc.status == 200 {
			var out struct {
				Output struct {
					Message struct {
						Content []struct{ Text string }
					}
				}
				StopReason string
				Usage      struct{ InputTokens, OutputTokens, CacheReadInputTokens int }
			}
			if json.Unmarshal(b, &out) != nil || out.Output.Message.Content[0].Text != Answer || out.StopReason != "end_turn" ||
				out.Usage.InputTokens != BedrockInputTokens || out.Usage.CacheReadInputTokens != BedrockCacheReadTokens {
				t.Fatalf("%s: %s", tc.name, b)
			}
		}
	}
	// A body changed after signing no longer matches.
	resp := bedrockCall(t, m, model, "converse", body, func(r *http.Request, h string) {
		sigV4(BedrockSecretKey, "us-east-1")(r, h)
		r.Body = io.NopCloser(strings.NewReader(strings.Replace(body, "hi", "ho", 1)))
	})
	resp.Body.Close()
	if resp.StatusCode != 403 {
		t.Fatalf("tampered body: %d", resp.StatusCode)
	}
	if p := m.Requests()[0].Path; p != "/model/"+model+"/converse" {
		t.Fatalf("path %q", p)
	}
}

func TestBedrockEventStream(t *testing.T) {
	m := NewBedrock()
	defer m.Close()
	resp := bedrockCall(t, m, "amazon.nova-pro-v1:0", "converse-stream", bedrockToolBody, sigV4(BedrockSecretKey, "eu-west-1"))
	defer resp.Body.Close()
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/vnd.amazon.eventstream" {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("%d %s", resp.StatusCode, b)
	}
	dec := eventstream.NewDecoder()
	var types []string
	inputs := map[int]string{}
	names := map[int]string{}
	var stopReason string
	var usage struct{ InputTokens, OutputTokens int }
	for {
		msg, err := dec.Decode(resp.Body, nil)
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if mt := msg.Headers.Get(":message-type").String(); mt != "event" {
			t.Fatalf("message type %s", mt)
		}
		typ := msg.Headers.Get(":event-type").String()
		types = append(types, typ)
		var p struct {
			ContentBlockIndex int
			Start             struct {
				ToolUse struct{ ToolUseID, Name string }
			}
			Delta struct {
				Text    string
				ToolUse struct{ Input string }
			}
			StopReason string
			Usage      *struct{ InputTokens, OutputTokens int }
		}
		if err := json.Unmarshal(msg.Payload, &p); err != nil {
			t.Fatal(err)
		}
		switch typ {
		case "contentBlockStart":
			names[p.ContentBlockIndex] = p.Start.ToolUse.ToolUseID + " " + p.Start.ToolUse.Name
		case "contentBlockDelta":
			inputs[p.ContentBlockIndex] += p.Delta.ToolUse.Input
		case "messageStop":
			stopReason = p.StopReason
		case "metadata":
			usage = *p.Usage
		}
	}
	want := `{"query":"` + weatherQuery + `"}`
	if stopReason != "tool_use" || names[0] != "call_mock_0 get_weather" || names[1] != "call_mock_1 get_time" ||
		inputs[0] != want || inputs[1] != want || usage.InputTokens != BedrockInputTokens || types[0] != "messageStart" || types[len(types)-1] != "metadata" {
		t.Fatalf("events %v names %v inputs %v stop %q usage %+v", types, names, inputs, stopReason, usage)
	}

	// The tool result comes back as text.
	body := `{"messages":[{"role":"user","content":[{"text":"q"}]},{"role":"assistant","content":[{"toolUse":{"toolUseId":"call_mock_0","name":"get_weather","input":{}}}]},
		{"role":"user","content":[{"toolResult":{"toolUseId":"call_mock_0","content":[{"json":{"temp": 21}}]}}]}],
		"toolConfig":{"tools":[{"toolSpec":{"name":"get_weather","inputSchema":{"json":{}}}}]}}`
	resp2 := bedrockCall(t, m, "x", "converse", body, sigV4(BedrockSecretKey, "us-east-1"))
	b, _ := io.ReadAll(resp2.Body)
	resp2.Body.Close()
	if !bytes.Contains(b, []byte(`"text":"Tool said: {\"temp\":21}"`)) {
		t.Fatalf("tool result: %s", b)
	}
}

func TestVertexServiceAccount(t *testing.T) {
	m := NewGemini()
	defer m.Close()
	raw := m.ServiceAccountJSON("europe-west4")
	var sa struct {
		Type         string `json:"type"`
		ClientEmail  string `json:"client_email"`
		PrivateKey   string `json:"private_key"`
		PrivateKeyID string `json:"private_key_id"`
		TokenURI     string `json:"token_uri"`
		ProjectID    string `json:"project_id"`
		Region       string `json:"region"`
	}
	if err := json.Unmarshal(raw, &sa); err != nil {
		t.Fatal(err)
	}
	if sa.Type != "service_account" || sa.Region != "europe-west4" || sa.TokenURI != m.URL+"/token" {
		t.Fatalf("%s", raw)
	}
	// What google.JWTConfigFromJSON builds from such a file.
	cfg := &jwt.Config{Email: sa.ClientEmail, PrivateKey: []byte(sa.PrivateKey), PrivateKeyID: sa.PrivateKeyID,
		Scopes: []string{"https://www.googleapis.com/auth/cloud-platform"}, TokenURL: sa.TokenURI}
	ctx := context.WithValue(context.Background(), oauth2.HTTPClient, m.Client())
	tok, err := cfg.TokenSource(ctx).Token()
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(tok.AccessToken, "ya29.mock-") || m.TokenExchanges() != 1 {
		t.Fatalf("token %+v, %d exchanges", tok, m.TokenExchanges())
	}

	vertex := func(token, project string) (int, []byte) {
		req, _ := http.NewRequest("POST", m.URL+"/v1/projects/"+project+"/locations/"+sa.Region+"/publishers/google/models/gemini-2.5-flash:generateContent",
			strings.NewReader(`{"contents":[{"role":"user","parts":[{"text":"hi"}]}]}`))
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := m.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, b
	}
	if code, b := vertex(tok.AccessToken, sa.ProjectID); code != 200 || !bytes.Contains(b, []byte(`"finishReason":"STOP"`)) {
		t.Fatalf("%d %s", code, b)
	}
	if code, _ := vertex(VertexDirectToken, sa.ProjectID); code != 200 {
		t.Fatal(code)
	}
	if code, b := vertex("ya29.forged", sa.ProjectID); code != 401 || !bytes.Contains(b, []byte("UNAUTHENTICATED")) {
		t.Fatalf("%d %s", code, b)
	}
	if code, _ := vertex(tok.AccessToken, "other-project"); code != 403 {
		t.Fatal(code)
	}

	// A JWT signed by another key, or for the wrong audience, is refused.
	other, _ := rsa.GenerateKey(rand.Reader, 2048)
	for name, key := range map[string]*rsa.PrivateKey{"foreign key": other} {
		now := time.Now().Unix()
		a, _ := jws.Encode(&jws.Header{Algorithm: "RS256", Typ: "JWT"}, &jws.ClaimSet{Iss: sa.ClientEmail, Aud: sa.TokenURI,
			Scope: "https://www.googleapis.com/auth/cloud-platform", Iat: now, Exp: now + 3600}, key)
		resp, _ := m.Client().PostForm(sa.TokenURI, url.Values{"grant_type": {"urn:ietf:params:oauth:grant-type:jwt-bearer"}, "assertion": {a}})
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 400 || !bytes.Contains(b, []byte(`"invalid_grant"`)) {
			t.Fatalf("%s: %d %s", name, resp.StatusCode, b)
		}
	}
	badAud := &jwt.Config{Email: sa.ClientEmail, PrivateKey: []byte(sa.PrivateKey), Scopes: cfg.Scopes, TokenURL: sa.TokenURI, Audience: "https://oauth2.googleapis.com/token"}
	if _, err := badAud.TokenSource(ctx).Token(); err == nil || m.TokenExchanges() != 1 {
		t.Fatalf("wrong audience accepted: %v", err)
	}
}

func TestGeminiStream(t *testing.T) {
	m := NewGemini()
	defer m.Close()
	post := func(path, body string) *http.Response {
		req, _ := http.NewRequest("POST", m.URL+path, strings.NewReader(body))
		req.Header.Set("x-goog-api-key", "AIzaMock")
		resp, err := m.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		return resp
	}
	resp := post("/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse", `{"contents":[{"role":"user","parts":[{"text":"hi"}]}]}`)
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	var text strings.Builder
	var lastUsage map[string]int
	events := strings.Split(strings.TrimSuffix(string(b), "\r\n\r\n"), "\r\n\r\n")
	for _, ev := range events {
		var c struct {
			Candidates []struct {
				Content struct{ Parts []struct{ Text string } }
			}
			UsageMetadata map[string]int
		}
		if err := json.Unmarshal([]byte(strings.TrimPrefix(ev, "data: ")), &c); err != nil {
			t.Fatalf("%q: %v", ev, err)
		}
		text.WriteString(c.Candidates[0].Content.Parts[0].Text)
		lastUsage = c.UsageMetadata
	}
	if text.String() != Answer || len(events) < 3 || lastUsage["candidatesTokenCount"] != GeminiOutputTokens || lastUsage["cachedContentTokenCount"] != GeminiCachedTokens {
		t.Fatalf("%s", b)
	}

	// Tools: one functionCall per declaration, snake_case fields accepted.
	resp = post("/v1beta/models/m:generateContent", `{"contents":[{"role":"user","parts":[{"text":"`+weatherQuery+`"},{"inline_data":{"mime_type":"image/png","data":"iVBORw0KGgo="}}]}],
		"tools":[{"function_declarations":[{"name":"a","parameters":{"type":"OBJECT"}},{"name":"b"}]}],"generation_config":{"candidate_count":2}}`)
	b, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	var r struct {
		Candidates []struct {
			Index   int
			Content struct {
				Parts []struct {
					FunctionCall struct {
						ID, Name string
						Args     map[string]string
					}
				}
			}
		}
	}
	json.Unmarshal(b, &r)
	if len(r.Candidates) != 2 || r.Candidates[1].Index != 1 || len(r.Candidates[0].Content.Parts) != 2 ||
		r.Candidates[0].Content.Parts[1].FunctionCall.ID != "call_mock_1" || r.Candidates[0].Content.Parts[1].FunctionCall.Name != "b" ||
		r.Candidates[0].Content.Parts[0].FunctionCall.Args["query"] != weatherQuery {
		t.Fatalf("%s", b)
	}

	resp = post("/v1beta/models/error-429:generateContent", `{"contents":[{"parts":[{"text":"x"}]}]}`)
	resp.Body.Close()
	if resp.StatusCode != 429 || resp.Header.Get("Retry-After") != "7" {
		t.Fatal(resp.StatusCode)
	}
	resp = post("/v1beta/models/m:generateContent", `{"contents":[{"role":"assistant","parts":[{"text":"x"}]}]}`)
	resp.Body.Close()
	if resp.StatusCode != 400 {
		t.Fatal(resp.StatusCode)
	}
}

func TestCohereStream(t *testing.T) {
	m := NewCohere()
	defer m.Close()
	req, _ := http.NewRequest("POST", m.URL+"/v2/chat", strings.NewReader(`{"model":"command-a-03-2025","stream":true,
		"messages":[{"role":"user","content":"`+weatherQuery+`"}],"tools":[{"type":"function","function":{"name":"get_weather","parameters":{}}}]}`))
	req.Header.Set("Authorization", "Bearer co-key")
	resp, err := m.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	var event, args, finish string
	var order []string
	for sc.Scan() {
		line := sc.Text()
		if e, ok := strings.CutPrefix(line, "event: "); ok {
			event = e
			order = append(order, e)
			continue
		}
		data, ok := strings.CutPrefix(line, "data: ")
		if !ok {
			continue
		}
		var d struct {
			Type  string
			Delta struct {
				FinishReason string `json:"finish_reason"`
				Message      struct {
					ToolCalls json.RawMessage `json:"tool_calls"`
				}
			}
		}
		if err := json.Unmarshal([]byte(data), &d); err != nil || d.Type != event {
			t.Fatalf("%s: %v", data, err)
		}
		var call struct{ Function struct{ Arguments string } }
		if d.Type == "tool-call-delta" {
			json.Unmarshal(d.Delta.Message.ToolCalls, &call)
		}
		args += call.Function.Arguments
		if d.Type == "message-end" {
			finish = d.Delta.FinishReason
		}
	}
	if args != `{"query":"`+weatherQuery+`"}` || finish != "TOOL_CALL" || order[0] != "message-start" || order[1] != "tool-plan-delta" {
		t.Fatalf("%v %s %s", order, args, finish)
	}
}

func TestOpenAIToolsWithSDK(t *testing.T) {
	m := NewOpenAI()
	defer m.Close()
	c := openai.NewClient(ooption.WithBaseURL(m.URL), ooption.WithAPIKey("sk-test"), ooption.WithMaxRetries(0))
	ctx := context.Background()
	params := openai.ChatCompletionNewParams{
		Model:    "gpt-4o-mini",
		Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage(weatherQuery)},
		Tools: []openai.ChatCompletionToolUnionParam{
			openai.ChatCompletionFunctionTool(openai.FunctionDefinitionParam{Name: "get_weather"}),
			openai.ChatCompletionFunctionTool(openai.FunctionDefinitionParam{Name: "get_time"}),
		},
		StreamOptions: openai.ChatCompletionStreamOptionsParam{IncludeUsage: openai.Bool(true)},
	}
	st := c.Chat.Completions.NewStreaming(ctx, params)
	var acc openai.ChatCompletionAccumulator
	for st.Next() {
		acc.AddChunk(st.Current())
	}
	if err := st.Err(); err != nil {
		t.Fatal(err)
	}
	calls := acc.Choices[0].Message.ToolCalls
	if len(calls) != 2 || calls[1].ID != "call_mock_1" || calls[1].Function.Name != "get_time" ||
		calls[0].Function.Arguments != `{"query":"`+weatherQuery+`"}` || acc.Choices[0].FinishReason != "tool_calls" || acc.Usage.PromptTokens != PromptTokens {
		t.Fatalf("%+v", acc.ChatCompletion)
	}
	params.Messages = append(params.Messages, acc.Choices[0].Message.ToParam(), openai.ToolMessage(`{"temp": 21}`, "call_mock_1"))
	comp, err := c.Chat.Completions.New(ctx, params)
	if err != nil || comp.Choices[0].Message.Content != `Tool said: {"temp":21}` {
		t.Fatalf("%v %+v", err, comp)
	}
	params.Model = "no-usage"
	params.Messages = params.Messages[:1]
	st = c.Chat.Completions.NewStreaming(ctx, params)
	acc = openai.ChatCompletionAccumulator{}
	for st.Next() {
		acc.AddChunk(st.Current())
	}
	if st.Err() != nil || acc.Usage.TotalTokens != 0 {
		t.Fatalf("no-usage: %v %+v", st.Err(), acc.Usage)
	}
}

func TestAnthropicToolsWithSDK(t *testing.T) {
	m := NewAnthropic()
	defer m.Close()
	c := anthropic.NewClient(aoption.WithBaseURL(m.URL), aoption.WithAPIKey("sk-ant"), aoption.WithMaxRetries(0))
	ctx := context.Background()
	params := anthropic.MessageNewParams{
		Model: "cached", MaxTokens: 64,
		Messages: []anthropic.MessageParam{anthropic.NewUserMessage(anthropic.NewTextBlock(weatherQuery))},
		Tools: []anthropic.ToolUnionParam{
			{OfTool: &anthropic.ToolParam{Name: "get_weather", InputSchema: anthropic.ToolInputSchemaParam{Properties: map[string]any{"q": map[string]any{"type": "string"}}}}},
			{OfTool: &anthropic.ToolParam{Name: "get_time", InputSchema: anthropic.ToolInputSchemaParam{Properties: map[string]any{"q": map[string]any{"type": "string"}}}}},
		},
	}
	st := c.Messages.NewStreaming(ctx, params)
	var acc anthropic.Message
	for st.Next() {
		if err := acc.Accumulate(st.Current()); err != nil {
			t.Fatal(err)
		}
	}
	if err := st.Err(); err != nil {
		t.Fatalf("%v %s", err, m.Requests()[0].Body)
	}
	if len(acc.Content) != 2 || acc.StopReason != "tool_use" || acc.Content[1].ID != "call_mock_1" ||
		string(acc.Content[0].Input) != `{"query":"`+weatherQuery+`"}` || acc.Usage.CacheReadInputTokens != AnthropicCacheReadTokens {
		t.Fatalf("%+v", acc)
	}
	params.Messages = append(params.Messages, acc.ToParam(), anthropic.NewUserMessage(
		anthropic.NewToolResultBlock("call_mock_0", "sunny", false), anthropic.NewToolResultBlock("call_mock_1", "noon", false)))
	msg, err := c.Messages.New(ctx, params)
	if err != nil || msg.Content[0].Text != "Tool said: noon" || msg.StopReason != "end_turn" {
		t.Fatalf("%v %+v", err, msg)
	}
	params.Model = "safety"
	if msg, err = c.Messages.New(ctx, params); err != nil || msg.StopReason != "refusal" || len(msg.Content) != 0 {
		t.Fatalf("%v %+v", err, msg)
	}
	params.Model = "error-429"
	_, err = c.Messages.New(ctx, params)
	var apiErr *anthropic.Error
	if !errors.As(err, &apiErr) || apiErr.StatusCode != 429 || apiErr.Response.Header.Get("Retry-After") != "7" {
		t.Fatalf("%v", err)
	}
	// Without anthropic-version the API refuses.
	req, _ := http.NewRequest("POST", m.URL+"/v1/messages", strings.NewReader(`{"model":"x","max_tokens":1,"messages":[]}`))
	req.Header.Set("x-api-key", "k")
	resp, _ := m.Client().Do(req)
	resp.Body.Close()
	if resp.StatusCode != 400 {
		t.Fatal(resp.StatusCode)
	}
}
