// graphql_test.go drives the GraphQL analytics API of the real binary: requests to two
// mock providers (one a cache hit, one failed), then the hosted documentation's example
// query sent verbatim, a query with sums and filters, an unknown field and a token
// without read access.
package e2e

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/switchyard/switchyard/mock"
)

// gqlReferenceBody is the request body of the example on the reference's Analytics page,
// verbatim but for the account id and the time range.
const gqlReferenceBody = `{
    "query": "query{\n  viewer {\n  accounts(filter: { accountTag: \"{account_id}\" }) {\n  requests: aiGatewayRequestsAdaptiveGroups(\n      limit: $limit\n      filter: { datetimeHour_geq: $start, datetimeHour_leq: $end }\n      orderBy: [datetimeMinute_ASC]\n    ) {\n      count,\n      dimensions {\n          model,\n          provider,\n          gateway,\n          ts: datetimeMinute\n      }\n      \n    }\n      \n  }\n  }\n}",

    "variables": {

      "limit": 1000,

      "start": "2023-09-01T10:00:00.000Z",

      "end": "2023-09-30T10:00:00.000Z",

      "orderBy": "date_ASC"

    }

}`

type gqlReply struct {
	Data   map[string]any
	Errors []struct{ Message string }
}

func graphqlPost(t *testing.T, g *Gateway, bearer, body string) (int, gqlReply, string) {
	t.Helper()
	req, _ := http.NewRequest("POST", g.URL+"/client/v4/graphql", strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+bearer)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var buf bytes.Buffer
	buf.ReadFrom(resp.Body)
	var r gqlReply
	if err := json.Unmarshal(buf.Bytes(), &r); err != nil {
		t.Fatalf("graphql answer: %v: %s", err, buf.String())
	}
	return resp.StatusCode, r, buf.String()
}

// groupsOf digs viewer.accounts[0].<field> out of an answer.
func groupsOf(r gqlReply, field string) []map[string]any {
	v, _ := r.Data["viewer"].(map[string]any)
	accts, _ := v["accounts"].([]any)
	if len(accts) != 1 {
		return nil
	}
	gs, _ := accts[0].(map[string]any)[field].([]any)
	var out []map[string]any
	for _, g := range gs {
		out = append(out, g.(map[string]any))
	}
	return out
}

func TestGraphQLAnalytics(t *testing.T) {
	oa, an := mock.NewOpenAI(), mock.NewAnthropic()
	defer oa.Close()
	defer an.Close()
	g := startGateway(t, "", []string{"SWITCHYARD_UPSTREAM_OPENAI=" + oa.URL, "SWITCHYARD_UPSTREAM_ANTHROPIC=" + an.URL})
	began := time.Now().UTC()

	chat := g.Base("openai") + "/chat/completions"
	ttl := map[string]string{"cf-aig-cache-ttl": "300"}
	if r, b := send(t, chat, chatBody("gpt-4o-mini", "graphql", false), ttl); r.StatusCode != 200 {
		t.Fatalf("miss: %d %s", r.StatusCode, b)
	}
	if r, b := send(t, chat, chatBody("gpt-4o-mini", "graphql", false), ttl); r.StatusCode != 200 || r.Header.Get("cf-aig-cache-status") != "HIT" {
		t.Fatalf("hit: %d %v %s", r.StatusCode, r.Header, b)
	}
	if r, _ := send(t, chat, chatBody("error-500", "fail", false), nil); r.StatusCode != 500 {
		t.Fatalf("error request: %d, want 500", r.StatusCode)
	}
	code, _, b := post(t, g.Base("anthropic")+"/v1/messages",
		`{"model":"claude-sonnet-4-5","max_tokens":16,"messages":[{"role":"user","content":"hi"}]}`,
		map[string]string{"x-api-key": "sk-ant-test", "anthropic-version": "2023-06-01"})
	if code != 200 {
		t.Fatalf("anthropic: %d %s", code, b)
	}

	// The reference's query, verbatim, over a range around now.
	body := strings.Replace(gqlReferenceBody, "{account_id}", account, 1)
	body = strings.Replace(body, "2023-09-01T10:00:00.000Z", began.Add(-time.Hour).Format("2006-01-02T15:04:05.000Z"), 1)
	body = strings.Replace(body, "2023-09-30T10:00:00.000Z", time.Now().UTC().Add(time.Hour).Format("2006-01-02T15:04:05.000Z"), 1)
	var groups []map[string]any
	deadline := time.Now().Add(30 * time.Second)
	for {
		code, r, raw := graphqlPost(t, g, token, body)
		if code != 200 || len(r.Errors) > 0 {
			t.Fatalf("reference query: %d %s", code, raw)
		}
		groups = groupsOf(r, "requests")
		var n float64
		for _, gr := range groups {
			n += gr["count"].(float64)
		}
		if n == 4 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("reference query never counted the 4 requests: %s", raw)
		}
		time.Sleep(100 * time.Millisecond)
	}
	byModel := map[string]float64{}
	lastTS := ""
	for _, gr := range groups {
		d := gr["dimensions"].(map[string]any)
		if d["gateway"] != gateway {
			t.Errorf("group %v: gateway %v", gr, d["gateway"])
		}
		ts := d["ts"].(string)
		if at, err := time.Parse(time.RFC3339, ts); err != nil || at.Second() != 0 || at.Before(began.Truncate(time.Minute)) || ts < lastTS {
			t.Errorf("group %v: ts %q not a minute in order since %v", gr, ts, began)
		}
		lastTS = ts
		byModel[d["provider"].(string)+"/"+d["model"].(string)] += gr["count"].(float64)
	}
	want := map[string]float64{"openai/gpt-4o-mini": 2, "openai/error-500": 1, "anthropic/claude-sonnet-4-5": 1}
	if len(byModel) != len(want) {
		t.Errorf("groups by provider/model %v, want %v", byModel, want)
	}
	for k, v := range want {
		if byModel[k] != v {
			t.Errorf("groups by provider/model %v, want %v", byModel, want)
		}
	}

	// Sums, no dimension: one group of everything; and filters.
	sums := `{"query":"query($acct: string!, $since: Time!) { viewer { accounts(filter: {accountTag: $acct}) { all: aiGatewayRequestsAdaptiveGroups(limit: 10, filter: {datetime_geq: $since}) { count sum { cost cachedRequests erroredRequests cachedTokensIn cachedTokensOut uncachedTokensIn uncachedTokensOut } } hits: aiGatewayRequestsAdaptiveGroups(limit: 10, filter: {datetime_geq: $since, cached: true}) { count sum { cachedTokensIn uncachedTokensIn } } anthropic: aiGatewayRequestsAdaptiveGroups(limit: 10, filter: {provider: \"anthropic\", datetimeMinute_geq: $since}, orderBy: [count_DESC]) { count dimensions { model datetimeHour } } failed: aiGatewayRequestsAdaptiveGroups(limit: 10, filter: {error: true, gateway_in: [\"gw1\"]}) { count sum { erroredRequests cachedRequests } dimensions { provider } } } } }",
		"variables": {"acct": "` + account + `", "since": "` + began.Add(-time.Minute).Format(time.RFC3339) + `"}}`
	code, r, raw := graphqlPost(t, g, token, sums)
	if code != 200 || len(r.Errors) > 0 {
		t.Fatalf("sums: %d %s", code, raw)
	}
	all := groupsOf(r, "all")
	if len(all) != 1 {
		t.Fatalf("sums without dimensions: %s", raw)
	}
	s := all[0]["sum"].(map[string]any)
	if all[0]["count"] != 4.0 || s["cachedRequests"] != 1.0 || s["erroredRequests"] != 1.0 ||
		s["cachedTokensIn"].(float64) <= 0 || s["uncachedTokensIn"].(float64) <= 0 || s["cost"].(float64) <= 0 {
		t.Errorf("sums: %s", raw)
	}
	hits := groupsOf(r, "hits")
	if len(hits) != 1 || hits[0]["count"] != 1.0 || hits[0]["sum"].(map[string]any)["uncachedTokensIn"] != 0.0 ||
		hits[0]["sum"].(map[string]any)["cachedTokensIn"] != s["cachedTokensIn"] {
		t.Errorf("cached: true: %s", raw)
	}
	if a := groupsOf(r, "anthropic"); len(a) != 1 || a[0]["count"] != 1.0 || a[0]["dimensions"].(map[string]any)["model"] != "claude-sonnet-4-5" {
		t.Errorf("provider anthropic: %s", raw)
	}
	if f := groupsOf(r, "failed"); len(f) != 1 || f[0]["count"] != 1.0 || f[0]["dimensions"].(map[string]any)["provider"] != "openai" ||
		f[0]["sum"].(map[string]any)["erroredRequests"] != 1.0 || f[0]["sum"].(map[string]any)["cachedRequests"] != 0.0 {
		t.Errorf("error: true: %s", raw)
	}

	// An unknown field is a GraphQL error, not a 500.
	code, r, raw = graphqlPost(t, g, token, `{"query":"{ viewer { accounts(filter: {accountTag: \"`+account+`\"}) { aiGatewayRequestsAdaptiveGroups(limit: 1) { count avg { ttfb } } } } }"}`)
	if code != 200 || len(r.Errors) == 0 || !strings.Contains(r.Errors[0].Message, `"avg"`) {
		t.Errorf("unknown field: %d %s", code, raw)
	}

	// A token that may not read the account.
	st, env := apiCall(t, g, token, "POST", "/tokens", map[string]any{"name": "runner", "permissions": []string{"run"}})
	if st != 200 {
		t.Fatalf("token: %d %v", st, env)
	}
	runTok := env["result"].(map[string]any)["value"].(string)
	code, r, raw = graphqlPost(t, g, runTok, body)
	if code != 200 || len(r.Errors) == 0 || !strings.Contains(r.Errors[0].Message, "not authorized") || strings.Contains(raw, `"count"`) {
		t.Errorf("token without read: %d %s", code, raw)
	}
	// And no token at all.
	if code, _, raw := graphqlPost(t, g, "nope", body); code != 401 {
		t.Errorf("unknown token: %d %s", code, raw)
	}
}
