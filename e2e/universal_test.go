// universal_test.go drives the universal endpoint (POST /v1/{account}/{gateway}) and the
// non-realtime WebSocket API against mock providers that fail in every way: a refused
// connection, 500s, 429s, a hang past the timeout, and a slow first byte followed by a
// stream that outlasts the timeout and must not be cut. It checks cf-aig-step, the log
// record's step and attempts, request-handling headers on a provider endpoint with the
// openai-go SDK, and 100 concurrent requests on one socket.
package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fasthttp/websocket"
	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
	"github.com/switchyard/switchyard/mock"
	"github.com/tidwall/gjson"
)

// deadAddr is a loopback address where nothing listens.
func deadAddr(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := "http://" + ln.Addr().String()
	ln.Close()
	return addr
}

func startUniversal(t *testing.T) (*Gateway, *mock.OpenAI, *mock.Anthropic) {
	t.Helper()
	oa, an := mock.NewOpenAI(), mock.NewAnthropic()
	oa.SlowFirstByte, oa.SlowGap = 200*time.Millisecond, 150*time.Millisecond
	t.Cleanup(func() { oa.Close(); an.Close() })
	g := startGateway(t, "", []string{"SWITCHYARD_UPSTREAM_OPENAI=" + oa.URL, "SWITCHYARD_UPSTREAM_GROQ=" + deadAddr(t),
		"SWITCHYARD_UPSTREAM_ANTHROPIC=" + an.URL}, "--allow-insecure-upstreams")
	return g, oa, an
}

func step(provider, model string, stream bool, config string) string {
	s := fmt.Sprintf(`{"provider":%q,"endpoint":"chat/completions","headers":{"Authorization":"Bearer sk-test","Content-Type":"application/json"},`+
		`"query":{"model":%q,"stream":%v,"messages":[{"role":"user","content":"hi"}]}`, provider, model, stream)
	if config != "" {
		s += `,"config":` + config
	}
	return s + "}"
}

func postUniversal(t *testing.T, g *Gateway, body string, hdr map[string]string) (*http.Response, []byte) {
	t.Helper()
	req, _ := http.NewRequest("POST", g.URL+"/v1/"+account+"/"+gateway, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, b
}

// rawLog reads a log record as the API answers it, with Switchyard's own fields.
func rawLog(t *testing.T, g *Gateway, id string) map[string]any {
	t.Helper()
	g.WaitLog(id)
	req, _ := http.NewRequest("GET", g.URL+"/client/v4/accounts/"+account+"/ai-gateway/gateways/"+gateway+"/logs/"+id, nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var env struct{ Result map[string]any }
	if err := json.NewDecoder(resp.Body).Decode(&env); err != nil {
		t.Fatal(err)
	}
	return env.Result
}

func attemptOutcomes(rec map[string]any) string {
	var out []string
	list, _ := rec["attempts"].([]any)
	for _, a := range list {
		m := a.(map[string]any)
		out = append(out, fmt.Sprintf("%v.%v:%v:%v", m["step"], m["attempt"], m["status"], m["outcome"]))
	}
	return strings.Join(out, " ")
}

func TestUniversalFallbacks(t *testing.T) {
	g, oa, an := startUniversal(t)

	// Every way of failing, then a stream whose first byte is slow but within the step's
	// 2 s timeout and which lasts longer than that: it must arrive whole.
	body := "[" + strings.Join([]string{
		step("groq", "llama-3.1-8b-instant", false, `{"maxAttempts":2,"retryDelay":50}`),
		step("openai", "error-500", false, `{"maxAttempts":2,"retryDelay":50,"backoff":"exponential"}`),
		step("openai", "error-429", false, ""),
		step("openai", "hang", false, `{"requestTimeout":400}`),
		step("openai", "slow", true, `{"requestTimeout":2000}`),
	}, ",") + "]"
	start := time.Now()
	resp, got := postUniversal(t, g, body, nil)
	took := time.Since(start)
	if resp.StatusCode != 200 || resp.Header.Get("cf-aig-step") != "4" {
		t.Fatalf("%d step %q: %s", resp.StatusCode, resp.Header.Get("cf-aig-step"), got)
	}
	if !strings.HasSuffix(string(got), "data: [DONE]\n\n") || strings.Count(string(got), `"content":"`) != 12 || took < 2*time.Second {
		t.Fatalf("the stream was cut or buffered (took %v): %s", took, got)
	}
	var text strings.Builder
	for _, line := range strings.Split(string(got), "\n") {
		var c struct {
			Choices []struct{ Delta struct{ Content string } }
		}
		if json.Unmarshal([]byte(strings.TrimPrefix(line, "data: ")), &c) == nil && len(c.Choices) > 0 {
			text.WriteString(c.Choices[0].Delta.Content)
		}
	}
	if text.String() != mock.Answer {
		t.Fatalf("streamed text %q", text.String())
	}
	rec := rawLog(t, g, resp.Header.Get("cf-aig-log-id"))
	if rec["step"] != 4.0 || rec["provider"] != "openai" || rec["model"] != "slow" || rec["success"] != true {
		t.Fatalf("log %v", rec)
	}
	if got := attemptOutcomes(rec); got != "0.1:0:retry 0.2:0:fallback 1.1:500:retry 1.2:500:fallback 2.1:429:fallback 3.1:0:fallback 4.1:200:answered" &&
		got != "0.1:502:retry 0.2:502:fallback 1.1:500:retry 1.2:500:fallback 2.1:429:fallback 3.1:504:fallback 4.1:200:answered" {
		t.Fatalf("attempts %s", got)
	}

	// All steps fail: the last step's answer, with its status.
	resp, got = postUniversal(t, g, "["+step("openai", "error-500", false, "")+","+step("openai", "error-401", false, "")+"]", nil)
	if resp.StatusCode != 401 || resp.Header.Get("cf-aig-step") != "1" || !strings.Contains(string(got), `"code":"invalid_api_key"`) {
		t.Fatalf("%d step %s: %s", resp.StatusCode, resp.Header.Get("cf-aig-step"), got)
	}
	// The last step timing out is the gateway's 504.
	resp, got = postUniversal(t, g, "["+step("openai", "hang", false, `{"requestTimeout":300}`)+"]", nil)
	if resp.StatusCode != 504 || !strings.Contains(string(got), `"code":2011`) {
		t.Fatalf("%d %s", resp.StatusCode, got)
	}

	// A compat step runs the unified API; the request-level header sets its timeout.
	resp, got = postUniversal(t, g, `[`+step("openai", "error-500", false, "")+`,{"provider":"compat","endpoint":"chat/completions","headers":{"Authorization":"Bearer sk-ant-test"},`+
		`"query":{"model":"anthropic/claude-sonnet-4-5","messages":[{"role":"user","content":"hi"}]}}]`, map[string]string{"cf-aig-request-timeout": "5000"})
	if resp.StatusCode != 200 || resp.Header.Get("cf-aig-step") != "1" || !strings.Contains(string(got), `"object":"chat.completion"`) {
		t.Fatalf("compat step: %d %s", resp.StatusCode, got)
	}
	if n := len(an.Requests()); n != 1 {
		t.Fatalf("anthropic saw %d requests", n)
	}

	// A malformed config is refused before anything is sent.
	before := len(oa.Requests())
	resp, got = postUniversal(t, g, "["+step("openai", "m", false, "")+","+step("openai", "m", false, `{"maxAttempts":9}`)+"]", nil)
	if resp.StatusCode != 400 || !strings.Contains(string(got), "[1].config.maxAttempts must be an integer from 1 to 5") || len(oa.Requests()) != before {
		t.Fatalf("%d %s", resp.StatusCode, got)
	}
}

// The request-handling headers on a provider endpoint, with the OpenAI SDK.
func TestProviderRetryHeaders(t *testing.T) {
	g, oa, _ := startUniversal(t)
	client := openai.NewClient(option.WithBaseURL(g.Base("openai")), option.WithAPIKey("sk-test"), option.WithMaxRetries(0),
		option.WithHeader("cf-aig-max-attempts", "3"), option.WithHeader("cf-aig-retry-delay", "50"), option.WithHeader("cf-aig-backoff", "linear"))
	var resp *http.Response
	c, err := client.Chat.Completions.New(context.Background(), openai.ChatCompletionNewParams{Model: "flaky-2",
		Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("hi")}}, option.WithResponseInto(&resp))
	if err != nil || c.Choices[0].Message.Content != mock.Answer {
		t.Fatalf("%v %+v", err, c)
	}
	if n := len(oa.Requests()); n != 3 {
		t.Fatalf("upstream saw %d calls, want 3", n)
	}
	rec := rawLog(t, g, resp.Header.Get("cf-aig-log-id"))
	if got := attemptOutcomes(rec); got != "0.1:503:retry 0.2:503:retry 0.3:200:answered" {
		t.Fatalf("attempts %s", got)
	}

	// cf-aig-request-timeout alone: the hang becomes a 504, fast.
	start := time.Now()
	_, err = client.Chat.Completions.New(context.Background(), openai.ChatCompletionNewParams{Model: "hang",
		Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("hi")}},
		option.WithHeader("cf-aig-max-attempts", "1"), option.WithHeader("cf-aig-request-timeout", "300"))
	var apiErr *openai.Error
	if !asError(err, &apiErr) || apiErr.StatusCode != 504 || time.Since(start) > 20*time.Second {
		t.Fatalf("%v after %v", err, time.Since(start))
	}
	// A bad header value is a 400 naming it.
	_, err = client.Chat.Completions.New(context.Background(), openai.ChatCompletionNewParams{Model: "m",
		Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("hi")}}, option.WithHeader("cf-aig-max-attempts", "7"))
	if !asError(err, &apiErr) || apiErr.StatusCode != 400 || !strings.Contains(string(apiErr.DumpResponse(true)), "cf-aig-max-attempts must be an integer from 1 to 5") {
		t.Fatalf("%v", err)
	}
}

// 100 requests in flight on one socket, streams, answers and errors mixed, each answered
// by its eventId; a hanging request holds nobody up.
func TestUniversalSocketConcurrent(t *testing.T) {
	g, _, _ := startUniversal(t)
	g.EnsureGateway("authgw", true)
	url := "ws" + strings.TrimPrefix(g.URL, "http") + "/v1/" + account + "/authgw"
	if _, resp, err := websocket.DefaultDialer.Dial(url, nil); err == nil || resp == nil || resp.StatusCode != 401 {
		t.Fatalf("an authenticated gateway let a socket in without a token: %v", err)
	}
	// the browser form: the token as a subprotocol
	c, resp, err := (&websocket.Dialer{Subprotocols: []string{"cf-aig-authorization." + token}}).Dial(url, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if resp.Header.Get("Sec-WebSocket-Protocol") != "cf-aig-authorization."+token {
		t.Fatalf("subprotocol answered %q", resp.Header.Get("Sec-WebSocket-Protocol"))
	}
	kinds := []string{"json", "stream", "error", "json-compat"}
	msg := func(i int) []byte {
		id := fmt.Sprintf("%s-%d", kinds[i%4], i)
		var r string
		switch kinds[i%4] {
		case "json":
			r = `{"eventId":"` + id + `","provider":"openai","endpoint":"chat/completions","headers":{"Authorization":"Bearer sk"},"query":{"model":"gpt-4o-mini","messages":[{"role":"user","content":"hi"}]}}`
		case "stream":
			r = `{"eventId":"` + id + `","provider":"openai","endpoint":"chat/completions","headers":{"Authorization":"Bearer sk"},"query":{"model":"gpt-4o-mini","stream":true,"messages":[{"role":"user","content":"hi"}]}}`
		case "error":
			r = `{"eventId":"` + id + `","provider":"openai","endpoint":"chat/completions","headers":{"Authorization":"Bearer sk"},"query":{"model":"error-429","messages":[{"role":"user","content":"hi"}]}}`
		default:
			r = `{"eventId":"` + id + `","provider":"compat","endpoint":"chat/completions","headers":{"Authorization":"Bearer sk-ant"},"query":{"model":"anthropic/claude-sonnet-4-5","messages":[{"role":"user","content":"hi"}]}}`
		}
		return []byte(`{"type":"universal.create","request":` + r + `}`)
	}
	var wmu sync.Mutex
	write := func(b []byte) {
		wmu.Lock()
		defer wmu.Unlock()
		if err := c.WriteMessage(websocket.TextMessage, b); err != nil {
			t.Error(err)
		}
	}
	write([]byte(`{"type":"universal.create","request":{"eventId":"hang-0","provider":"openai","endpoint":"chat/completions","query":{"model":"hang"}}}`))
	write([]byte(`not json at all`))
	for i := 0; i < 100; i++ {
		write(msg(i))
	}
	type seen struct {
		types  []string
		text   strings.Builder
		status int
	}
	byID := map[string]*seen{}
	complete := 0
	badMessages := 0
	for complete < 100 || badMessages < 1 {
		_ = c.SetReadDeadline(time.Now().Add(60 * time.Second))
		_, data, err := c.ReadMessage()
		if err != nil {
			t.Fatalf("after %d complete: %v", complete, err)
		}
		var m struct {
			Type     string
			Metadata struct {
				EventID, LogID, Step string
				Status               int
			}
			Response json.RawMessage
		}
		if err := json.Unmarshal(data, &m); err != nil {
			t.Fatal(err)
		}
		if m.Metadata.EventID == "" {
			badMessages++
			continue
		}
		if m.Metadata.EventID == "hang-0" {
			t.Fatalf("the hanging request answered: %s", data)
		}
		s := byID[m.Metadata.EventID]
		if s == nil {
			s = &seen{}
			byID[m.Metadata.EventID] = s
		}
		s.types = append(s.types, m.Type)
		s.status = m.Metadata.Status
		if m.Type == "universal.stream" {
			var chunk struct {
				Choices []struct{ Delta struct{ Content string } }
			}
			_ = json.Unmarshal(m.Response, &chunk)
			if len(chunk.Choices) > 0 {
				s.text.WriteString(chunk.Choices[0].Delta.Content)
			}
		}
		if m.Type == "universal.created" && len(m.Response) > 0 {
			var full struct {
				Choices []struct{ Message struct{ Content string } }
			}
			_ = json.Unmarshal(m.Response, &full)
			if len(full.Choices) > 0 {
				s.text.WriteString(full.Choices[0].Message.Content)
			}
		}
		if m.Type == "universal.done" || m.Type == "universal.error" || (m.Type == "universal.created" && len(m.Response) > 0) {
			complete++
		}
	}
	for i := 0; i < 100; i++ {
		id := fmt.Sprintf("%s-%d", kinds[i%4], i)
		s := byID[id]
		if s == nil {
			t.Fatalf("%s never answered", id)
		}
		types := strings.Join(s.types, ",")
		switch kinds[i%4] {
		case "json", "json-compat":
			if types != "universal.created" || s.text.String() != mock.Answer && !strings.Contains(s.text.String(), "mock") {
				t.Fatalf("%s: %s %q", id, types, s.text.String())
			}
		case "stream":
			if !strings.HasPrefix(types, "universal.created,universal.stream") || !strings.HasSuffix(types, "universal.stream,universal.done") || s.text.String() != mock.Answer {
				t.Fatalf("%s: %s %q", id, types, s.text.String())
			}
		case "error":
			if types != "universal.error" || s.status != 429 {
				t.Fatalf("%s: %s %d", id, types, s.status)
			}
		}
	}
}

// stepWith is a step with extra headers (a JSON object's members, without braces).
func stepWith(provider, model, headers string) string {
	return fmt.Sprintf(`{"provider":%q,"endpoint":"chat/completions","headers":{"Authorization":"Bearer sk-test","Content-Type":"application/json",%s},`+
		`"query":{"model":%q,"messages":[{"role":"user","content":"step headers"}]}}`, provider, headers, model)
}

// A universal step's cf-aig-* headers apply to that step, over the request's: caching
// (ttl, skip, key), metadata, custom cost and the collect-log headers, on HTTP and on the
// WebSocket API. The log record follows the step that answered.
func TestUniversalStepHeaders(t *testing.T) {
	g, oa, _ := startUniversal(t)
	reqMeta := map[string]string{"cf-aig-metadata": `{"from":"request"}`}
	body := "[" + stepWith("openai", "error-500", `"cf-aig-metadata":"{\"from\":\"step 0\"}","cf-aig-collect-log":"false"`) + "," +
		stepWith("openai", "gpt-4o-mini", `"cf-aig-metadata":"{\"from\":\"step 1\"}","cf-aig-custom-cost":"{\"per_token_in\":0.01,\"per_token_out\":0.1}","cf-aig-cache-ttl":"60"`) + "]"
	resp, got := postUniversal(t, g, body, reqMeta)
	if resp.StatusCode != 200 || resp.Header.Get("cf-aig-step") != "1" || resp.Header.Get("cf-aig-cache-status") != "MISS" {
		t.Fatalf("%d step %s cache %q: %s", resp.StatusCode, resp.Header.Get("cf-aig-step"), resp.Header.Get("cf-aig-cache-status"), got)
	}
	rec := rawLog(t, g, resp.Header.Get("cf-aig-log-id"))
	if rec["metadata"] != `{"from":"step 1"}` || !near(rec["cost"], mock.PromptTokens*0.01+mock.CompletionTokens*0.1) || rec["custom_cost"] != true {
		t.Fatalf("log metadata %v cost %v custom %v: the answering step's headers were not applied", rec["metadata"], rec["cost"], rec["custom_cost"])
	}
	// The step's cache-ttl cached its answer: the same request is a hit on step 1.
	sent := len(oa.Requests())
	resp, got = postUniversal(t, g, body, reqMeta)
	if resp.StatusCode != 200 || resp.Header.Get("cf-aig-cache-status") != "HIT" || len(oa.Requests()) != sent+1 {
		t.Fatalf("repeat: %d cache %q, %d upstream calls (want only step 0's): %s", resp.StatusCode, resp.Header.Get("cf-aig-cache-status"), len(oa.Requests())-sent, got)
	}
	// A step's cf-aig-skip-cache goes upstream; its cf-aig-cache-key names the entry.
	one := func(headers string) *http.Response {
		t.Helper()
		resp, got := postUniversal(t, g, "["+stepWith("openai", "gpt-4o-mini", headers)+"]", nil)
		if resp.StatusCode != 200 {
			t.Fatalf("%s: %d %s", headers, resp.StatusCode, got)
		}
		return resp
	}
	if r := one(`"cf-aig-cache-ttl":"60","cf-aig-skip-cache":"true"`); r.Header.Get("cf-aig-cache-status") == "HIT" {
		t.Fatal("cf-aig-skip-cache in the step was ignored")
	}
	one(`"cf-aig-cache-ttl":"60","cf-aig-cache-key":"k-step"`)
	if r := one(`"cf-aig-cache-ttl":"60","cf-aig-cache-key":"k-step","cf-aig-metadata":"{\"other\":1}"`); r.Header.Get("cf-aig-cache-status") != "HIT" {
		t.Fatalf("cf-aig-cache-key in the step: %q, want HIT", r.Header.Get("cf-aig-cache-status"))
	}
	// Logging headers of the answering step: no record, or a record without bodies.
	unlogged := one(`"cf-aig-collect-log":"false"`)
	bare := one(`"cf-aig-collect-log-payload":"false"`)
	rawLog(t, g, bare.Header.Get("cf-aig-log-id")) // applied in order: the earlier one would be there by now
	if code, _ := apiCall(t, g, token, "GET", "/ai-gateway/gateways/"+gateway+"/logs/"+unlogged.Header.Get("cf-aig-log-id"), nil); code != 404 {
		t.Errorf("a step with cf-aig-collect-log: false was logged (%d)", code)
	}
	if code, _ := apiCall(t, g, token, "GET", "/ai-gateway/gateways/"+gateway+"/logs/"+bare.Header.Get("cf-aig-log-id")+"/request", nil); code != 404 {
		t.Errorf("payload of a step with cf-aig-collect-log-payload: false: %d, want 404", code)
	}
	// A malformed step header is a 400 naming the step; nothing is sent.
	sent = len(oa.Requests())
	resp, got = postUniversal(t, g, "["+stepWith("openai", "gpt-4o-mini", `"x-a":"b"`)+","+stepWith("openai", "gpt-4o-mini", `"cf-aig-cache-ttl":"soon"`)+"]", nil)
	if resp.StatusCode != 400 || !strings.Contains(string(got), "[1].headers: cf-aig-cache-ttl") || len(oa.Requests()) != sent {
		t.Fatalf("bad step header: %d %s", resp.StatusCode, got)
	}
	// The same on the WebSocket API.
	msgs := socketRoundTrip(t, g, `{"type":"universal.create","request":{"eventId":"e1","provider":"openai","endpoint":"chat/completions",`+
		`"headers":{"Authorization":"Bearer sk-test","Content-Type":"application/json","cf-aig-metadata":"{\"from\":\"socket step\"}","cf-aig-custom-cost":"{\"per_token_in\":0.01,\"per_token_out\":0.1}"},`+
		`"query":{"model":"gpt-4o-mini","messages":[{"role":"user","content":"hi"}]}}}`)
	logID := ""
	for _, m := range msgs {
		if id := gjson.Get(m, "metadata.logId").String(); id != "" {
			logID = id
		}
	}
	rec = rawLog(t, g, logID)
	if rec["metadata"] != `{"from":"socket step"}` || !near(rec["cost"], mock.PromptTokens*0.01+mock.CompletionTokens*0.1) {
		t.Fatalf("socket log metadata %v cost %v (messages %q)", rec["metadata"], rec["cost"], msgs)
	}
}
