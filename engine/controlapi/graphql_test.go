// graphql_test.go checks the GraphQL analytics endpoint: the rewrite that declares
// undeclared variables (a table of documents), and the handler over the analytics
// fixture: the reference's query verbatim, sums and filters, token rules, and errors.
package controlapi

import (
	"encoding/json"
	"net/url"
	"strings"
	"testing"
)

func TestDeclareVariables(t *testing.T) {
	_, types := gqlOnce()
	vars := map[string]any{"limit": 1000.0, "start": "2023-09-01T10:00:00.000Z", "end": "2023-09-30T10:00:00.000Z",
		"orderBy": "date_ASC", "tag": "acc", "n": 1.5, "flag": true, "gw": "gw", "list": []any{"a"}, "obj": map[string]any{}}
	cases := []struct{ name, in, want string }{
		{"shorthand",
			`{ viewer { accounts(filter: {accountTag: $tag}) { id } } }`,
			`query ($tag: string!) { viewer { accounts(filter: {accountTag: $tag}) { id } } }`},
		{"anonymous query keyword",
			`query{ a(limit: $limit, filter: { datetimeHour_geq: $start, datetimeHour_leq: $end }) }`,
			`query ($limit: uint64!, $start: Time, $end: Time){ a(limit: $limit, filter: { datetimeHour_geq: $start, datetimeHour_leq: $end }) }`},
		{"named query",
			`query Q { a(limit: $limit) }`,
			`query Q($limit: uint64!) { a(limit: $limit) }`},
		{"some declared",
			`query Q($start: Time) { a(limit: $limit, filter: {datetime_geq: $start}) }`,
			`query Q($start: Time, $limit: uint64!) { a(limit: $limit, filter: {datetime_geq: $start}) }`},
		{"all declared: unchanged",
			`query Q($limit: uint64!) { a(limit: $limit) }`,
			`query Q($limit: uint64!) { a(limit: $limit) }`},
		{"not provided: left to the validator",
			`query { a(limit: $missing) }`,
			`query { a(limit: $missing) }`},
		{"list element",
			`query { a(filter: {gateway_in: ["x", $gw]}) }`,
			`query ($gw: string!) { a(filter: {gateway_in: ["x", $gw]}) }`},
		{"unknown position: the JSON value's type",
			`query { a(x: [$n, $flag], y: [$list]) }`,
			`query ($n: Float, $flag: Boolean, $list: [String]) { a(x: [$n, $flag], y: [$list]) }`},
		{"object value: not declared",
			`query { a(x: [$obj]) }`,
			`query { a(x: [$obj]) }`},
		{"used twice, declared once",
			`query { a(limit: $limit) b(limit: $limit) }`,
			`query ($limit: uint64!) { a(limit: $limit) b(limit: $limit) }`},
		{"fragment",
			`query Q { ...F } fragment F on Account { a(limit: $limit) }`,
			`query Q($limit: uint64!) { ...F } fragment F on Account { a(limit: $limit) }`},
		{"two operations",
			`query A { a(limit: $limit) } query B($limit: uint64!) { a(limit: $limit) }`,
			`query A($limit: uint64!) { a(limit: $limit) } query B($limit: uint64!) { a(limit: $limit) }`},
		{"strings and comments are not variables",
			"query { # $limit\n a(s: \"$limit\", d: \"\"\"$limit\"\"\") }",
			"query { # $limit\n a(s: \"$limit\", d: \"\"\"$limit\"\"\") }"},
		{"unreadable document: unchanged",
			`query { a(limit: $limit) ~ }`,
			`query { a(limit: $limit) ~ }`},
		{"unbalanced: unchanged",
			`query { a(limit: $limit) `,
			`query { a(limit: $limit) `},
	}
	for _, c := range cases {
		if got := declareVariables(c.in, vars, types); got != c.want {
			t.Errorf("%s:\n got  %s\n want %s", c.name, got, c.want)
		}
	}
}

// referenceQuery is the hosted documentation's example (the Analytics page), verbatim.
const referenceQuery = "query{\n  viewer {\n  accounts(filter: { accountTag: \"{account_id}\" }) {\n  requests: aiGatewayRequestsAdaptiveGroups(\n      limit: $limit\n      filter: { datetimeHour_geq: $start, datetimeHour_leq: $end }\n      orderBy: [datetimeMinute_ASC]\n    ) {\n      count,\n      dimensions {\n          model,\n          provider,\n          gateway,\n          ts: datetimeMinute\n      }\n      \n    }\n      \n  }\n  }\n}"

type gqlAnswer struct {
	Data   json.RawMessage
	Errors []struct {
		Message    string
		Path       []any
		Extensions map[string]any
	}
}

func postGraphQL(t *testing.T, f *fixture, s *API, tok string, body any) (int, gqlAnswer) {
	t.Helper()
	b, _ := json.Marshal(body)
	v := f.tokens[tok]
	if v == "" {
		v = tok
	}
	ctx := serve(t, s, "POST", "/client/v4/graphql", string(b), map[string]string{"Authorization": "Bearer " + v, "Content-Type": "application/json"})
	var ans gqlAnswer
	if err := json.Unmarshal(ctx.Response.Body(), &ans); err != nil {
		t.Fatalf("%v: %s", err, ctx.Response.Body())
	}
	return ctx.Response.StatusCode(), ans
}

func TestGraphQLHandler(t *testing.T) {
	f, s := analyticsFixture(t)
	ref := map[string]any{
		"query":     strings.Replace(referenceQuery, "{account_id}", "acc", 1),
		"variables": map[string]any{"limit": 1000, "start": "2025-03-01T12:00:00.000Z", "end": "2025-03-01T13:00:00.000Z", "orderBy": "date_ASC"},
	}
	code, ans := postGraphQL(t, f, s, "admin-bootstrap", ref)
	want := `{"viewer":{"accounts":[{"requests":[` +
		`{"count":1,"dimensions":{"model":"gpt-4o-mini","provider":"openai","gateway":"gw","ts":"2025-03-01T12:00:00Z"}},` +
		`{"count":1,"dimensions":{"model":"gpt-4o","provider":"openai","gateway":"other","ts":"2025-03-01T12:00:00Z"}},` +
		`{"count":1,"dimensions":{"model":"gpt-4o-mini","provider":"openai","gateway":"gw","ts":"2025-03-01T12:30:00Z"}},` +
		`{"count":1,"dimensions":{"model":"claude-sonnet-4-5","provider":"anthropic","gateway":"gw","ts":"2025-03-01T13:10:00Z"}}]}]}}`
	if code != 200 || len(ans.Errors) != 0 || string(ans.Data) != want {
		t.Fatalf("reference query: %d %+v\n got  %s\n want %s", code, ans.Errors, ans.Data, want)
	}

	// A gateway-scoped token sees its gateway only; GET works too.
	q := url.Values{"query": {`query($a: string!) { viewer { accounts(filter: {accountTag: $a}) { aiGatewayRequestsAdaptiveGroups(limit: 10) { count sum { cost cachedRequests erroredRequests uncachedTokensIn cachedTokensIn } dimensions { gateway } } } } }`},
		"variables": {`{"a":"acc"}`}}
	ctx := serve(t, s, "GET", "/client/v4/graphql?"+q.Encode(), "", map[string]string{"Authorization": "Bearer " + f.tokens["read-gw"]})
	if got, want := string(ctx.Response.Body()), `{"data":{"viewer":{"accounts":[{"aiGatewayRequestsAdaptiveGroups":[{"count":3,"sum":{"cost":0.75,"cachedRequests":1,"erroredRequests":1,"uncachedTokensIn":17,"cachedTokensIn":5},"dimensions":{"gateway":"gw"}}]}]}},"errors":null}`; got != want {
		t.Errorf("scoped GET:\n got  %s\n want %s", got, want)
	}

	errs := []struct {
		name, tok, query, want string
	}{
		{"unknown field", "admin-bootstrap", `{ viewer { accounts(filter: {accountTag: "acc"}) { aiGatewayRequestsAdaptiveGroups(limit: 1) { count colour } } } }`, `Cannot query field "colour"`},
		{"unknown filter", "admin-bootstrap", `{ viewer { accounts(filter: {accountTag: "acc"}) { aiGatewayRequestsAdaptiveGroups(limit: 1, filter: {userId: "x"}) { count } } } }`, `userId`},
		{"no read permission", "run", `{ viewer { accounts(filter: {accountTag: "acc"}) { aiGatewayRequestsAdaptiveGroups(limit: 1) { count } } } }`, "not authorized for that account"},
		{"another account", "admin-acc2", `{ viewer { accounts(filter: {accountTag: "acc"}) { aiGatewayRequestsAdaptiveGroups(limit: 1) { count } } } }`, "not authorized for that account"},
		{"order by an unselected dimension", "admin-bootstrap", `{ viewer { accounts(filter: {accountTag: "acc"}) { aiGatewayRequestsAdaptiveGroups(limit: 1, orderBy: [model_ASC]) { count } } } }`, "needs the dimension model"},
		{"limit too large", "admin-bootstrap", `{ viewer { accounts(filter: {accountTag: "acc"}) { aiGatewayRequestsAdaptiveGroups(limit: 10001) { count } } } }`, "at most 10000"},
		{"bad time", "admin-bootstrap", `{ viewer { accounts(filter: {accountTag: "acc"}) { aiGatewayRequestsAdaptiveGroups(limit: 1, filter: {datetime_geq: "yesterday"}) { count } } } }`, "RFC 3339"},
	}
	for _, e := range errs {
		code, ans := postGraphQL(t, f, s, e.tok, map[string]any{"query": e.query})
		if code != 200 || len(ans.Errors) == 0 || !strings.Contains(ans.Errors[0].Message, e.want) {
			t.Errorf("%s: %d %+v, want 200 with an error containing %q", e.name, code, ans.Errors, e.want)
		}
	}
	// No token: the control API's 401.
	ctx = serve(t, s, "POST", "/client/v4/graphql", `{"query":"{ viewer { accounts(filter: {accountTag: \"acc\"}) { aiGatewayRequestsAdaptiveGroups(limit: 1) { count } } } }"}`, nil)
	if ctx.Response.StatusCode() != 401 {
		t.Errorf("no token: %d %s", ctx.Response.StatusCode(), ctx.Response.Body())
	}
	// Filters and sums: errors only, by provider.
	code, ans = postGraphQL(t, f, s, "read", map[string]any{"query": `{ viewer { accounts(filter: {accountTag: "acc"}) { aiGatewayRequestsAdaptiveGroups(limit: 5, filter: {cached: false, provider_in: ["openai"], date_geq: "2025-03-01", date_leq: "2025-03-01"}, orderBy: [sum_cost_DESC]) { count sum { cost } dimensions { gateway date } } } } }`})
	if got, want := string(ans.Data), `{"viewer":{"accounts":[{"aiGatewayRequestsAdaptiveGroups":[{"count":1,"sum":{"cost":1},"dimensions":{"gateway":"other","date":"2025-03-01"}},{"count":1,"sum":{"cost":0.25},"dimensions":{"gateway":"gw","date":"2025-03-01"}}]}]}}`; code != 200 || got != want {
		t.Errorf("filters: %d %+v\n got  %s\n want %s", code, ans.Errors, got, want)
	}
}
