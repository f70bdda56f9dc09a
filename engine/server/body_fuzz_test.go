// body_fuzz_test.go fuzzes what a client sends the data plane: the universal endpoint's
// body (through the whole request parser) and every cf-aig-* request header value.
// Seeds run in `go test`; fuzz one with
// go test ./engine/server -run '^$' -fuzz '^FuzzUniversalBody$' -parallel 1.
package server

import (
	stdjson "encoding/json"
	"fmt"
	"math"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/switchyard/switchyard/engine"
	"github.com/switchyard/switchyard/engine/cache"
	"github.com/switchyard/switchyard/engine/pricing"
	"github.com/switchyard/switchyard/engine/providers"
	"github.com/switchyard/switchyard/storage/config"
)

// documentedCodes are the gateway error codes of engine/errors.go.
var documentedCodes = map[int]bool{
	engine.CodeMalformedPath: true, engine.CodeUnknownProvider: true, engine.CodeRateLimited: true,
	engine.CodeGatewayNotFound: true, engine.CodeStoredKey: true, engine.CodeBadRequest: true,
	engine.CodeBodyTooLarge: true, engine.CodeUnauthorized: true, engine.CodeUpstreamFailed: true,
	engine.CodeUpstreamTimeout: true, engine.CodeInternal: true, engine.CodeShuttingDown: true,
	engine.CodeSpendLimit: true, engine.CodeRouteNoAnswer: true, engine.CodeHeaderTooLarge: true,
}

// FuzzUniversalBody: any body is either refused before dispatch with a 4xx gateway error
// (documented code, JSON body), or becomes 1..10 steps; the log's copy of a JSON body is
// JSON with every credential redacted.
func FuzzUniversalBody(f *testing.F) {
	step := `{"provider":"openai","endpoint":"chat/completions","headers":{"Authorization":"Bearer sk-1"},"query":{"model":"gpt-4o-mini"}}`
	for _, s := range []string{
		`[` + step + `,{"provider":"workers-ai","endpoint":"@cf/meta/llama-3.1-8b-instruct?x=1","query":{"prompt":"hi"}}]`,
		step,
		`[{"provider":"openai","endpoint":"chat/completions","headers":{"Authorization":"Bearer sk-1"},"query":{"model":"gpt-4o-mini"},"config":{"requestTimeout":1500,"maxAttempts":3,"retryDelay":200,"backoff":"linear"}}]`,
		`[{"provider":"openai","endpoint":"chat/completions","headers":{"cf-aig-request-timeout":700,"cf-aig-max-attempts":"2","cf-aig-cache-ttl":"120","cf-aig-metadata":"{\"a\":1}"},"query":{}}]`,
		`[{"provider":"compat","endpoint":"chat/completions","headers":{"Authorization":"Bearer sk-ant"},"query":{"model":"anthropic/claude-sonnet-4-5","messages":[{"role":"user","content":"hi"}]}}]`,
		`[{"provider":"openai","endpoint":"chat/completions","authorization":"Bearer sk-2","query":{"a":1}}]`,
		`[{"provider":"azure-openai","endpoint":"res/dep/chat/completions?api-version=2024-10-21&api-key=k","query":{}}]`,
		`[{"provider":"aws-bedrock","endpoint":"bedrock-runtime/us-east-1/model/m/converse","headers":{"x-amz-security-token":"t"}}]`,
		`[]`, `nope`, `[{"endpoint":"x"}]`, `[{"provider":5,"endpoint":"x"}]`, `[{"provider":"openai","endpoint":"x","headers":{"a":{"b":1}}}]`,
		`[{"provider":"openai","endpoint":"x","config":[1]}]`, `[{"provider":"openai","endpoint":"../../x"}]`,
		`[{"provider":"compat","endpoint":"embeddings","query":{}}]`, ` {"provider":"openai","endpoint":"x"} `,
	} {
		f.Add([]byte(s))
	}
	d := &captureDispatcher{}
	s := New(Options{Dispatcher: d, Providers: providers.NewTable(func(string) string { return "" }), Config: testConfig(f)})
	f.Fuzz(func(t *testing.T, body []byte) {
		d.got = nil
		ctx := serve(t, s, "POST", "/v1/acc/gw", string(body), nil)
		status := ctx.Response.StatusCode()
		var answer struct {
			Success bool
			Errors  []struct {
				Code    int
				Message string
			}
		}
		// a "compat" step is refused in the unified API's OpenAI error shape
		var openAI struct {
			Error *struct{ Message, Type string }
		}
		if err := stdjson.Unmarshal(ctx.Response.Body(), &answer); err != nil || answer.Success || len(answer.Errors) == 0 {
			if stdjson.Unmarshal(ctx.Response.Body(), &openAI) != nil || openAI.Error == nil || openAI.Error.Message == "" {
				t.Fatalf("answer %d is neither the gateway's nor the OpenAI error JSON: %s", status, ctx.Response.Body())
			}
		} else if !documentedCodes[answer.Errors[0].Code] {
			t.Fatalf("undocumented code %d: %s", answer.Errors[0].Code, ctx.Response.Body())
		}
		req := d.got
		switch {
		case req == nil:
			if status < 400 || status >= 500 {
				t.Fatalf("refused before dispatch with %d: %s", status, ctx.Response.Body())
			}
			return
		case req.Fail != nil:
			if req.Fail.Status < 400 || req.Fail.Status >= 500 || status != req.Fail.Status {
				t.Fatalf("a body refusal is %d (answered %d): %v", req.Fail.Status, status, req.Fail)
			}
		default:
			if n := len(req.Steps); n < 1 || n > maxSteps {
				t.Fatalf("%d steps", n)
			}
			for i, st := range req.Steps {
				if st == nil || (st.Provider == nil && st.Compat == nil && st.Route == nil && st.Refused == nil) {
					t.Fatalf("step %d has no provider: %+v", i, st)
				}
			}
		}
		if stdjson.Valid(body) {
			checkRedacted(t, req.Body)
		}
	})
}

// checkRedacted: the log's copy is JSON, and every credential field holds "[redacted]".
func checkRedacted(t *testing.T, logged []byte) {
	var steps []map[string]any
	var one map[string]any
	if stdjson.Unmarshal(logged, &one) == nil && one != nil {
		steps = []map[string]any{one}
	} else if err := stdjson.Unmarshal(logged, &steps); err != nil {
		var anyv any
		if stdjson.Unmarshal(logged, &anyv) == nil {
			return // valid JSON that is not steps (a number, a string): kept as is
		}
		t.Fatalf("the log's copy of a JSON body is not JSON: %s", logged)
	}
	for _, st := range steps {
		if st == nil {
			continue
		}
		if v, ok := st["authorization"]; ok && v != "[redacted]" {
			t.Fatalf("authorization kept: %s", logged)
		}
		if hs, ok := st["headers"].(map[string]any); ok {
			for k, v := range hs {
				if secretName(k) && v != "[redacted]" {
					t.Fatalf("header %s kept: %s", k, logged)
				}
			}
		}
		if ep, ok := st["endpoint"].(string); ok {
			if _, q, ok := strings.Cut(ep, "?"); ok {
				for _, p := range strings.Split(q, "&") {
					if name, v, _ := strings.Cut(p, "="); secretName(name) && v != "[redacted]" {
						t.Fatalf("query parameter %s kept: %s", name, logged)
					}
				}
			}
		}
	}
}

// FuzzRequestHeaders: every cf-aig-* request header value is accepted into a value that
// reads back the same, or refused with a 400 (code 2006) naming the header.
func FuzzRequestHeaders(f *testing.F) {
	// ttl, skip-cache, cache-key, metadata, custom-cost, collect-log, collect-log-payload,
	// request-timeout, max-attempts, retry-delay, backoff
	f.Add("3600", "false", "", `{"team":"search","user":42}`, `{"per_token_in":0.000001,"per_token_out":0.000002}`, "true", "false", "1500", "3", "200", "linear")
	f.Add("0", "true", "my-key", `{"a":"b","c":true,"d":1.5,"e":-3,"f":"g","h":1}`, `{"per_token_in":0}`, "false", "true", "", "", "", "")
	f.Add("59", "maybe", strings.Repeat("k", 1025), `{"a":{"b":1}}`, `{"per_token_in":-1}`, "yes", "1", "0", "6", "5001", "sometimes")
	f.Add("2592001", "", "k", `[1]`, `{"per_token_in":1e400}`, "", "", "3600001", "-1", "-1", "constant")
	f.Add(" 60 ", "TRUE", "", `{"a":null}`, `null`, "T", "F", "1", "1", "0", "exponential")
	f.Add("1e3", "", "", `{"a":1}{"b":2}`, `{"per_token_out":"x"}`, "", "", "1.5", "2.0", "0x10", "")
	f.Add("", "", "", `{"a":1e999}`, `{}`, "", "", "", "", "", "")
	f.Add("", "", "", `{"\ud800":"x","a":"\u0000"}`, ``, "", "", "", "", "", "")
	g := &config.Gateway{CollectLogs: true, CacheInvalidateOnUpdate: true, ModifiedAt: time.Unix(1, 0)}
	f.Fuzz(func(t *testing.T, ttl, skip, key, md, cost, collect, payload, timeout, attempts, delay, backoff string) {
		hdr := map[string]string{"cf-aig-cache-ttl": ttl, "cf-aig-skip-cache": skip, "cf-aig-cache-key": key,
			"cf-aig-metadata": md, pricing.CustomCostHeader: cost, "cf-aig-collect-log": collect,
			"cf-aig-collect-log-payload": payload, engine.HeaderRequestTimeout: timeout,
			engine.HeaderMaxAttempts: attempts, engine.HeaderRetryDelay: delay, engine.HeaderBackoff: backoff}
		get := func(name string) string { return hdr[name] }
		// a parser that never returns (or grows its stack without end) is a finding too
		watchdog := time.AfterFunc(10*time.Second, func() { panic(fmt.Sprintf("no answer in 10s for %q", hdr)) })
		defer watchdog.Stop()
		gwErr := func(what string, e *engine.GatewayError) {
			if e.Status != 400 || e.Code != engine.CodeBadRequest || !strings.Contains(e.Message, "cf-") {
				t.Fatalf("%s: refusal %d %d %q does not name a header", what, e.Status, e.Code, e.Message)
			}
		}
		var req engine.Options
		if e := requestOptions(get, g, &req); e != nil {
			gwErr("options", e)
		} else {
			checkPolicy(t, req.Cache, ttl, key)
			checkMetadata(t, md, req.Metadata)
			if req.CustomCost != nil {
				checkCost(t, *req.CustomCost)
			}
		}
		rs, e := engine.RetryHeaders("", get)
		if e != nil {
			gwErr("retry", e)
			return
		}
		// what was accepted reads back the same when written out again
		back := map[string]string{}
		if rs.TimeoutMs != nil {
			back[engine.HeaderRequestTimeout] = strconv.FormatInt(*rs.TimeoutMs, 10)
		}
		if rs.MaxAttempts != nil {
			back[engine.HeaderMaxAttempts] = strconv.FormatInt(*rs.MaxAttempts, 10)
		}
		if rs.DelayMs != nil {
			back[engine.HeaderRetryDelay] = strconv.FormatInt(*rs.DelayMs, 10)
		}
		if rs.Backoff != nil {
			back[engine.HeaderBackoff] = *rs.Backoff
		}
		rs2, e := engine.RetryHeaders("", func(n string) string { return back[n] })
		if e != nil || !reflect.DeepEqual(rs, rs2) {
			t.Fatalf("retry settings %+v read back as %+v (%v)", rs, rs2, e)
		}
		p := rs.Over(engine.RetrySettings{}).Policy()
		if p.MaxAttempts < 1 || p.MaxAttempts > 5 || p.Delay < 0 || p.Delay > 5*time.Second || p.Timeout < 0 || p.Timeout > time.Hour {
			t.Fatalf("policy out of range: %+v", p)
		}
	})
}

func checkPolicy(t *testing.T, p *cache.Policy, ttl, key string) {
	if p == nil {
		return
	}
	if p.TTL != cache.CustomKeyTTL && (p.TTL < cache.MinTTL || p.TTL > cache.MaxTTL) {
		t.Fatalf("ttl %q: policy TTL %v out of range", ttl, p.TTL)
	}
	if len(p.Key) > 1024 || (key != "" && p.Key != key) {
		t.Fatalf("cache key %q kept as %q", key, p.Key)
	}
	back, err := cache.ReadPolicy(func(n string) string {
		switch n {
		case "cf-aig-cache-ttl":
			return strconv.FormatInt(int64(p.TTL/time.Second), 10)
		case "cf-aig-skip-cache":
			return strconv.FormatBool(p.Skip)
		case "cf-aig-cache-key":
			return p.Key
		}
		return ""
	}, nil)
	if err != nil || back == nil || back.TTL != p.TTL || back.Skip != p.Skip || back.Key != p.Key {
		t.Fatalf("policy %+v read back as %+v (%v)", p, back, err)
	}
}

func checkMetadata(t *testing.T, v string, md map[string]any) {
	if v == "" {
		return
	}
	if len(md) > engine.MaxMetadata {
		t.Fatalf("%d metadata entries kept", len(md))
	}
	for k, x := range md {
		switch x := x.(type) {
		case string, bool:
		case float64:
			if math.IsNaN(x) || math.IsInf(x, 0) {
				t.Fatalf("metadata %q = %v", k, x)
			}
		default:
			t.Fatalf("metadata %q holds %T", k, x)
		}
	}
	b, err := stdjson.Marshal(md)
	if err != nil {
		t.Fatalf("metadata %#v does not encode: %v", md, err)
	}
	back, err := engine.ParseMetadata(string(b))
	if err != nil || !reflect.DeepEqual(map[string]any(back), md) {
		t.Fatalf("metadata %q → %#v → %s → %#v (%v)", v, md, b, back, err)
	}
}

func checkCost(t *testing.T, p pricing.Price) {
	for _, x := range []float64{p.Input, p.Output, p.CachedInput} {
		if x < 0 || math.IsNaN(x) || math.IsInf(x, 0) {
			t.Fatalf("custom cost %+v", p)
		}
	}
	b, _ := stdjson.Marshal(map[string]float64{"per_token_in": p.Input, "per_token_out": p.Output})
	back, err := pricing.ParseCustomCost(string(b))
	if err != nil || back != p {
		t.Fatalf("custom cost %+v → %s → %+v (%v)", p, b, back, err)
	}
}
