// routes_test.go drives dynamic routes through the real binary and the OpenAI SDK on the
// unified API: each route shape of the reference (a conditional on metadata.plan, a
// 10%/50%/else split, a rate limit with a fallback model, a model timeout with a
// fallback), deployments taking effect on the next request while a request in flight
// finishes on its version, a route limit that survives a restart, and the gateway's own
// rate limit.
package e2e

import (
	"context"
	"encoding/json"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
	"github.com/switchyard/switchyard/mock"
)

// el is one route element in the hosted JSON shape.
func el(id, typ string, props map[string]any, outputs map[string]string) map[string]any {
	e := map[string]any{"id": id, "type": typ}
	if props != nil {
		e["properties"] = props
	}
	if outputs != nil {
		o := map[string]any{}
		for k, v := range outputs {
			o[k] = map[string]any{"elementId": v}
		}
		e["outputs"] = o
	}
	return e
}

// modelEl is a model element on the OpenAI mock.
func modelEl(id, model string, timeoutMs, retries int, outputs map[string]string) map[string]any {
	return el(id, "model", map[string]any{"provider": "openai", "model": model, "timeout": timeoutMs, "retries": retries}, outputs)
}

func routesPath(rest string) string { return "/ai-gateway/gateways/" + gateway + "/routes" + rest }

// createRoute creates (and so deploys) a route and returns its id and first version id.
func createRoute(t *testing.T, g *Gateway, name string, elements []map[string]any) (string, string) {
	t.Helper()
	code, env := apiCall(t, g, token, "POST", routesPath(""), map[string]any{"name": name, "elements": elements})
	if code != 200 {
		t.Fatalf("create route %s: %d %v", name, code, env)
	}
	res := env["result"].(map[string]any)
	return res["id"].(string), res["version"].(map[string]any)["version_id"].(string)
}

// versionIDs lists a route's version ids.
func versionIDs(t *testing.T, g *Gateway, routeID string) []string {
	t.Helper()
	code, env := apiCall(t, g, token, "GET", routesPath("/"+routeID+"/versions"), nil)
	if code != 200 {
		t.Fatalf("list versions: %d %v", code, env)
	}
	var ids []string
	for _, v := range env["data"].(map[string]any)["versions"].([]any) {
		ids = append(ids, v.(map[string]any)["version_id"].(string))
	}
	return ids
}

// newVersion saves elements as a new version of the route and returns its id.
func newVersion(t *testing.T, g *Gateway, routeID string, elements []map[string]any) string {
	t.Helper()
	before := versionIDs(t, g, routeID)
	if code, env := apiCall(t, g, token, "POST", routesPath("/"+routeID+"/versions"), map[string]any{"elements": elements}); code != 200 {
		t.Fatalf("new version: %d %v", code, env)
	}
	for _, id := range versionIDs(t, g, routeID) {
		if !slices.Contains(before, id) {
			return id
		}
	}
	t.Fatal("the new version is not listed")
	return ""
}

// deploy makes a version the route's live one.
func deploy(t *testing.T, g *Gateway, routeID, versionID string) {
	t.Helper()
	if code, env := apiCall(t, g, token, "POST", routesPath("/"+routeID+"/deployments"), map[string]any{"version_id": versionID}); code != 200 {
		t.Fatalf("deploy %s: %d %v", versionID, code, env)
	}
}

// routeCall is one chat completion on a dynamic route, raw, with cf-aig-metadata.
func routeCall(t *testing.T, g *Gateway, route string, metadata map[string]any) (*answer, []byte) {
	t.Helper()
	hdr := map[string]string{}
	if metadata != nil {
		b, _ := json.Marshal(metadata)
		hdr["cf-aig-metadata"] = string(b)
	}
	return send(t, g.Base("compat")+"/chat/completions", chatBody("dynamic/"+route, "Route me", false), hdr)
}

func startRoutes(t *testing.T, env ...string) (*Gateway, *mock.OpenAI) {
	t.Helper()
	up := mock.NewOpenAI()
	t.Cleanup(up.Close)
	return startGateway(t, "", append([]string{"SWITCHYARD_UPSTREAM_OPENAI=" + up.URL}, env...)), up
}

func TestDynamicRouteConditionalOnPlan(t *testing.T) {
	g, _ := startRoutes(t)
	_, v1 := createRoute(t, g, "support", []map[string]any{
		el("start", "start", nil, map[string]string{"next": "plan"}),
		el("plan", "conditional", map[string]any{"condition": map[string]any{"metadata.plan": map[string]any{"$eq": "paid"}}},
			map[string]string{"true": "paid", "false": "free"}),
		modelEl("paid", "gpt-4o", 30000, 0, map[string]string{"success": "end"}),
		modelEl("free", "gpt-4o-mini", 30000, 0, map[string]string{"success": "end"}),
		el("end", "end", nil, nil),
	})

	var hdr http.Header
	c := openai.NewClient(option.WithBaseURL(g.Base("compat")), option.WithAPIKey("sk-test"), option.WithMaxRetries(0),
		option.WithMiddleware(func(r *http.Request, next option.MiddlewareNext) (*http.Response, error) {
			resp, err := next(r)
			if resp != nil {
				hdr = resp.Header
			}
			return resp, err
		}))
	for _, tc := range []struct{ plan, model string }{{"paid", "gpt-4o"}, {"free", "gpt-4o-mini"}, {"", "gpt-4o-mini"}} {
		opts := []option.RequestOption{}
		if tc.plan != "" {
			opts = append(opts, option.WithHeader("cf-aig-metadata", `{"plan":"`+tc.plan+`","user_id":"u1"}`))
		}
		comp, err := c.Chat.Completions.New(context.Background(), openai.ChatCompletionNewParams{Model: "dynamic/support",
			Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("Hello")}}, opts...)
		if err != nil {
			t.Fatalf("plan %q: %v", tc.plan, err)
		}
		if comp.Choices[0].Message.Content != mock.Answer {
			t.Fatalf("plan %q: %+v", tc.plan, comp)
		}
		if hdr.Get("cf-aig-model") != tc.model || hdr.Get("cf-aig-provider") != "openai" ||
			hdr.Get("cf-aig-route") != "support" || hdr.Get("cf-aig-route-version") != v1 {
			t.Fatalf("plan %q: headers %v", tc.plan, hdr)
		}
	}
	// the log record names the route, its version and every node with the output taken
	l := g.WaitLog(hdr.Get("cf-aig-log-id"))
	var rec struct {
		Route struct {
			Name      string
			VersionID string `json:"version_id"`
			Nodes     []struct {
				ElementID string `json:"element_id"`
				Output    string
				Model     string
				Status    int
			}
		}
	}
	if err := json.Unmarshal([]byte(l.JSON.RawJSON()), &rec); err != nil {
		t.Fatal(err)
	}
	var path []string
	for _, n := range rec.Route.Nodes {
		path = append(path, n.ElementID+":"+n.Output)
	}
	if rec.Route.VersionID != v1 || strings.Join(path, " ") != "start:next plan:false free:success end:" ||
		rec.Route.Nodes[2].Model != "gpt-4o-mini" || rec.Route.Nodes[2].Status != 200 {
		t.Fatalf("log route: %s", l.JSON.RawJSON())
	}

	// an unknown route is a 404 in the OpenAI error shape
	a, body := routeCall(t, g, "nope", nil)
	if a.StatusCode != 404 || !strings.Contains(string(body), "route_not_found") {
		t.Fatalf("unknown route: %d %s", a.StatusCode, body)
	}
}

func TestDynamicRoutePercentageSplit(t *testing.T) {
	g, _ := startRoutes(t)
	createRoute(t, g, "ab", []map[string]any{
		el("start", "start", nil, map[string]string{"next": "split"}),
		el("split", "percentage", nil, map[string]string{"10%": "a", "50%": "b", "else": "c"}),
		modelEl("a", "gpt-4o", 0, 0, map[string]string{"success": "end"}),
		modelEl("b", "gpt-4o-mini", 0, 0, map[string]string{"success": "end"}),
		modelEl("c", "gpt-4.1", 0, 0, map[string]string{"success": "end"}),
		el("end", "end", nil, nil),
	})
	const n = 300
	counts := map[string]int{}
	for i := 0; i < n; i++ {
		a, body := routeCall(t, g, "ab", nil)
		if a.StatusCode != 200 {
			t.Fatalf("request %d: %d %s", i, a.StatusCode, body)
		}
		counts[a.Header.Get("cf-aig-model")]++
	}
	// expected 30/150/120; the bounds are over five standard deviations wide
	if a, b, c := counts["gpt-4o"], counts["gpt-4o-mini"], counts["gpt-4.1"]; a < 5 || a > 60 || b < 105 || b > 195 || c < 78 || c > 162 || a+b+c != n {
		t.Fatalf("split over %d requests: %v", n, counts)
	}
}

// rateLimitRoute is a count limit per metadata.user_id in front of gpt-4o, with
// gpt-4o-mini as the fallback when fallback is set.
func rateLimitRoute(limit int, fallback bool) []map[string]any {
	outs := map[string]string{"success": "big"}
	if fallback {
		outs["fallback"] = "small"
	}
	els := []map[string]any{
		el("start", "start", nil, map[string]string{"next": "quota"}),
		el("quota", "rate_limit", map[string]any{"limitType": "count", "key": "metadata.user_id", "limit": limit,
			"interval": 3600, "technique": "sliding"}, outs),
		modelEl("big", "gpt-4o", 0, 0, map[string]string{"success": "end"}),
		el("end", "end", nil, nil),
	}
	if fallback {
		els = append(els, modelEl("small", "gpt-4o-mini", 0, 0, map[string]string{"success": "end"}))
	}
	return els
}

func TestDynamicRouteRateLimitWithFallbackSurvivesRestart(t *testing.T) {
	g, _ := startRoutes(t)
	routeID, _ := createRoute(t, g, "quota", rateLimitRoute(3, true))
	alice := map[string]any{"user_id": "alice"}
	for i, want := range []string{"gpt-4o", "gpt-4o", "gpt-4o", "gpt-4o-mini", "gpt-4o-mini"} {
		a, body := routeCall(t, g, "quota", alice)
		if a.StatusCode != 200 || a.Header.Get("cf-aig-model") != want {
			t.Fatalf("alice request %d: %d %s %s", i, a.StatusCode, a.Header.Get("cf-aig-model"), body)
		}
	}
	if a, _ := routeCall(t, g, "quota", map[string]any{"user_id": "bob"}); a.Header.Get("cf-aig-model") != "gpt-4o" {
		t.Fatalf("bob has his own quota: %s", a.Header.Get("cf-aig-model"))
	}
	// 64 clients at once on a fresh key: exactly 3 get the big model
	var wg sync.WaitGroup
	var mu sync.Mutex
	big := 0
	for i := 0; i < 64; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			a, _ := routeCall(t, g, "quota", map[string]any{"user_id": "carol"})
			mu.Lock()
			defer mu.Unlock()
			if a.Header.Get("cf-aig-model") == "gpt-4o" {
				big++
			}
		}()
	}
	wg.Wait()
	if big != 3 {
		t.Fatalf("64 concurrent requests, limit 3: %d admitted", big)
	}

	// without a fallback the route ends with a 429 in the OpenAI error shape
	deploy(t, g, routeID, newVersion(t, g, routeID, rateLimitRoute(3, false)))
	a, body := routeCall(t, g, "quota", alice)
	if a.StatusCode != 429 || a.Header.Get("Retry-After") == "" || !strings.Contains(string(body), `"error"`) {
		t.Fatalf("no fallback: %d %v %s", a.StatusCode, a.Header, body)
	}

	// the limit holds across a restart: the window is rebuilt from the counters projection
	g.Stop()
	g.Restart()
	if a, body := routeCall(t, g, "quota", alice); a.StatusCode != 429 {
		t.Fatalf("after restart: %d %s", a.StatusCode, body)
	}
	if a, body := routeCall(t, g, "quota", map[string]any{"user_id": "dave"}); a.StatusCode != 200 {
		t.Fatalf("a new user after restart: %d %s", a.StatusCode, body)
	}
}

func TestDynamicRouteModelTimeoutAndFallback(t *testing.T) {
	g, up := startRoutes(t)
	createRoute(t, g, "resilient", []map[string]any{
		el("start", "start", nil, map[string]string{"next": "first"}),
		modelEl("first", "hang", 300, 0, map[string]string{"success": "end", "fallback": "second"}),
		modelEl("second", "error-500", 0, 2, map[string]string{"success": "end", "fallback": "third"}),
		modelEl("third", "gpt-4o-mini", 0, 0, map[string]string{"success": "end"}),
		el("end", "end", nil, nil),
	})
	began := time.Now()
	a, body := routeCall(t, g, "resilient", nil)
	if a.StatusCode != 200 || a.Header.Get("cf-aig-model") != "gpt-4o-mini" {
		t.Fatalf("fallback chain: %d %s %s", a.StatusCode, a.Header.Get("cf-aig-model"), body)
	}
	if d := time.Since(began); d > 20*time.Second {
		t.Fatalf("the hanging model was not cut at its timeout: %v", d)
	}
	calls := map[string]int{}
	for _, r := range up.Requests() {
		var b struct{ Model string }
		_ = json.Unmarshal(r.Body, &b)
		calls[b.Model]++
	}
	if calls["hang"] != 1 || calls["error-500"] != 3 || calls["gpt-4o-mini"] != 1 {
		t.Fatalf("upstream calls: %v", calls)
	}
	l := g.WaitLog(a.Header.Get("cf-aig-log-id"))
	raw := l.JSON.RawJSON()
	for _, want := range []string{`"element_id":"first","type":"model","output":"fallback"`, `"element_id":"second","type":"model","output":"fallback"`,
		`"element_id":"third","type":"model","output":"success"`} {
		if !strings.Contains(raw, want) {
			t.Fatalf("log lacks %s: %s", want, raw)
		}
	}

	// a model without a fallback that fails passes its error through
	createRoute(t, g, "fragile", []map[string]any{
		el("start", "start", nil, map[string]string{"next": "only"}),
		modelEl("only", "error-429", 0, 0, map[string]string{"success": "end"}),
		el("end", "end", nil, nil),
	})
	if a, body := routeCall(t, g, "fragile", nil); a.StatusCode != 429 || !strings.Contains(string(body), "rate_limit") {
		t.Fatalf("failed model without fallback: %d %s", a.StatusCode, body)
	}
}

func TestDynamicRouteDeploymentsAndInFlightVersion(t *testing.T) {
	g, _ := startRoutes(t)
	shape := func(first, fallback string) []map[string]any {
		return []map[string]any{
			el("start", "start", nil, map[string]string{"next": "m1"}),
			modelEl("m1", first, 2000, 0, map[string]string{"success": "end", "fallback": "m2"}),
			modelEl("m2", fallback, 0, 0, map[string]string{"success": "end"}),
			el("end", "end", nil, nil),
		}
	}
	routeID, v1 := createRoute(t, g, "live", shape("hang", "gpt-4o-mini"))
	v2 := newVersion(t, g, routeID, shape("gpt-4.1", "gpt-4o"))

	// a request starts on v1 (its first model hangs for 2 s); v2 is deployed meanwhile
	type result struct {
		a    *answer
		body []byte
	}
	done := make(chan result, 1)
	go func() {
		a, body := routeCall(t, g, "live", nil)
		done <- result{a, body}
	}()
	time.Sleep(300 * time.Millisecond)
	deploy(t, g, routeID, v2)
	if a, _ := routeCall(t, g, "live", nil); a.Header.Get("cf-aig-model") != "gpt-4.1" || a.Header.Get("cf-aig-route-version") != v2 {
		t.Fatalf("next request after deploying v2: %s %s", a.Header.Get("cf-aig-model"), a.Header.Get("cf-aig-route-version"))
	}
	r := <-done
	if r.a.StatusCode != 200 || r.a.Header.Get("cf-aig-model") != "gpt-4o-mini" || r.a.Header.Get("cf-aig-route-version") != v1 {
		t.Fatalf("in-flight request: %d %s %s %s", r.a.StatusCode, r.a.Header.Get("cf-aig-model"), r.a.Header.Get("cf-aig-route-version"), r.body)
	}
	// rollback: deploying v1 again
	deploy(t, g, routeID, v1)
	if a, _ := routeCall(t, g, "live", nil); a.Header.Get("cf-aig-route-version") != v1 {
		t.Fatalf("rollback: %s", a.Header.Get("cf-aig-route-version"))
	}
}

func TestGatewayRateLimit(t *testing.T) {
	g, _ := startRoutes(t)
	if code, env := patchGateway(t, g, `{"rate_limiting_limit":3,"rate_limiting_interval":3600,"rate_limiting_technique":"fixed"}`); code != 200 {
		t.Fatalf("set rate limit: %d %v", code, env)
	}
	url := g.Base("openai") + "/chat/completions"
	for i := 0; i < 3; i++ {
		if a, body := send(t, url, chatBody("gpt-4o-mini", "hi", false), nil); a.StatusCode != 200 {
			t.Fatalf("request %d: %d %s", i, a.StatusCode, body)
		}
	}
	a, body := send(t, url, chatBody("gpt-4o-mini", "hi", false), nil)
	ra, _ := strconv.Atoi(a.Header.Get("Retry-After"))
	if a.StatusCode != 429 || ra < 1 || ra > 3600 || !strings.Contains(string(body), `"code":2003`) {
		t.Fatalf("over the gateway limit: %d Retry-After %q %s", a.StatusCode, a.Header.Get("Retry-After"), body)
	}
	// the unified API refuses in the OpenAI shape
	a, body = send(t, g.Base("compat")+"/chat/completions", chatBody("openai/gpt-4o-mini", "hi", false), nil)
	if a.StatusCode != 429 || !strings.Contains(string(body), `"error"`) {
		t.Fatalf("unified API over the limit: %d %s", a.StatusCode, body)
	}
	// turning the limit off admits again
	if code, _ := patchGateway(t, g, `{"rate_limiting_limit":0}`); code != 200 {
		t.Fatal("unset rate limit")
	}
	if a, body := send(t, url, chatBody("gpt-4o-mini", "hi", false), nil); a.StatusCode != 200 {
		t.Fatalf("limit off: %d %s", a.StatusCode, body)
	}
}

// Answers from the cache do not count against the gateway's rate limit and are still
// served once it is exhausted (reference changelog); only requests to a provider count.
func TestGatewayRateLimitSkipsCacheHits(t *testing.T) {
	g, _ := startRoutes(t)
	if code, env := patchGateway(t, g, `{"cache_ttl":300,"rate_limiting_limit":2,"rate_limiting_interval":3600,"rate_limiting_technique":"fixed"}`); code != 200 {
		t.Fatalf("set cache and rate limit: %d %v", code, env)
	}
	url := g.Base("openai") + "/chat/completions"
	for i, c := range []struct {
		prompt string
		status int
		cache  string
	}{{"a", 200, "MISS"}, {"a", 200, "HIT"}, {"a", 200, "HIT"}, {"b", 200, "MISS"}, {"c", 429, ""}, {"a", 200, "HIT"}, {"b", 200, "HIT"}} {
		a, body := send(t, url, chatBody("gpt-4o-mini", c.prompt, false), nil)
		if a.StatusCode != c.status || (c.cache != "" && a.Header.Get("cf-aig-cache-status") != c.cache) {
			t.Fatalf("request %d (%s): %d cache %q, want %d %s: %s", i, c.prompt, a.StatusCode, a.Header.Get("cf-aig-cache-status"), c.status, c.cache, body)
		}
	}
}

func TestDynamicRouteCostBudgetOnUniversalEndpoint(t *testing.T) {
	g, _ := startRoutes(t)
	createRoute(t, g, "budget", []map[string]any{
		el("start", "start", nil, map[string]string{"next": "spend"}),
		el("spend", "rate_limit", map[string]any{"limitType": "cost", "key": "metadata.team", "limit": 0.000001,
			"interval": 3600, "technique": "fixed"}, map[string]string{"success": "big", "fallback": "small"}),
		modelEl("big", "gpt-4o", 0, 0, map[string]string{"success": "end"}),
		modelEl("small", "gpt-4o-mini", 0, 0, map[string]string{"success": "end"}),
		el("end", "end", nil, nil),
	})
	team := map[string]string{"cf-aig-metadata": `{"team":"red"}`}
	// a streamed answer under the budget: its cost (from the stream's usage) is charged after it
	a, body := send(t, g.Base("compat")+"/chat/completions", chatBody("dynamic/budget", "Route me", true), team)
	if a.StatusCode != 200 || a.Header.Get("cf-aig-model") != "gpt-4o" || !strings.Contains(string(body), "[DONE]") {
		t.Fatalf("first request: %d %s %s", a.StatusCode, a.Header.Get("cf-aig-model"), body)
	}
	g.WaitLog(a.Header.Get("cf-aig-log-id")) // the charge is made before the record's event
	// the budget is spent: the universal endpoint's compat step takes the fallback model
	resp, got := postUniversal(t, g, `[`+step("compat", "dynamic/budget", false, "")+`]`, team)
	if resp.StatusCode != 200 || resp.Header.Get("cf-aig-model") != "gpt-4o-mini" || resp.Header.Get("cf-aig-route") != "budget" {
		t.Fatalf("universal compat step over budget: %d %s %s", resp.StatusCode, resp.Header.Get("cf-aig-model"), got)
	}
	// another team has its own budget
	a, _ = routeCall(t, g, "budget", map[string]any{"team": "blue"})
	if a.Header.Get("cf-aig-model") != "gpt-4o" {
		t.Fatalf("blue team: %s", a.Header.Get("cf-aig-model"))
	}
}
