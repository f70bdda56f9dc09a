// analytics_test.go drives the analytics API through the real handler over a real
// (in-memory) rollup projection: the answer's shape and figures for a known set of
// requests, the all-gateways summary and who sees which gateway, the default range, and
// the 400s for every kind of bad parameter.
package controlapi

import (
	"context"
	"encoding/json"
	"math"
	"net/url"
	"testing"
	"time"

	"github.com/switchyard/switchyard/engine/providers"
	"github.com/switchyard/switchyard/events"
	"github.com/switchyard/switchyard/storage"
)

var at0 = time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)

// analyticsFixture is the control fixture's configuration and tokens in front of an
// analytics projection holding: on gw, two openai requests at 12:00 and 12:30 (one failed,
// one cached) and an anthropic one at 13:10 with an unknown price; on other, one request.
func analyticsFixture(t *testing.T) (*fixture, *API) {
	t.Helper()
	f := newFixture(t)
	_, v, err := f.cfg.CreateToken(context.Background(), testActor, "acc", []byte(`{"name":"rg","permissions":["read"],"gateways":["gw"]}`))
	if err != nil {
		t.Fatal(err)
	}
	f.tokens["read-gw"] = v
	st, err := storage.Open(storage.Options{InMemory: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	a, err := storage.NewAnalytics(st)
	if err != nil {
		t.Fatal(err)
	}
	cost := func(v float64) *float64 { return &v }
	evs := []events.RequestFinished{
		{LogID: "1", AccountID: "acc", GatewayID: "gw", Provider: "openai", Model: "gpt-4o-mini", Success: true,
			StartedAt: at0, DurationMs: 100, TokensIn: 10, TokensOut: 20, Cost: cost(0.25), Metadata: events.Metadata{"team": "search"}},
		{LogID: "2", AccountID: "acc", GatewayID: "gw", Provider: "openai", Model: "gpt-4o-mini", Success: false, Cached: true,
			StartedAt: at0.Add(30 * time.Minute), DurationMs: 300, TokensIn: 5, Cost: cost(0.5), NoLog: true},
		{LogID: "3", AccountID: "acc", GatewayID: "gw", Provider: "anthropic", Model: "claude-sonnet-4-5", Success: true,
			StartedAt: at0.Add(70 * time.Minute), DurationMs: 1000, TokensIn: 7, TokensOut: 3, Metadata: events.Metadata{"team": "ads"}},
		{LogID: "4", AccountID: "acc", GatewayID: "other", Provider: "openai", Model: "gpt-4o", Success: true,
			StartedAt: at0, DurationMs: 50, Cost: cost(1)},
	}
	var msgs []events.Msg
	for i, e := range evs {
		b, err := events.Encode(events.TypeRequestFinished, events.VersionRequestFinished, e.LogID, e.StartedAt, e)
		if err != nil {
			t.Fatal(err)
		}
		msgs = append(msgs, events.Msg{Seq: uint64(i + 1), Data: b})
	}
	if err := a.Apply(msgs); err != nil {
		t.Fatal(err)
	}
	s := New(Options{Providers: providers.NewTable(func(string) string { return "" }), Config: f.cfg,
		Logs: noLogs{}, AdminToken: adminTok, Analytics: a})
	return f, s
}

type analyticsAnswer struct {
	Success bool       `json:"success"`
	Errors  []apiError `json:"errors"`
	Result  struct {
		Start, End, Step string
		GroupByJSON      string `json:"group_by"`
		Totals           map[string]any
		Series           []struct {
			Group  string
			Others bool
			Totals map[string]any
			Points []map[string]any
		}
	} `json:"result"`
}

func getAnalytics(t *testing.T, f *fixture, s *API, path string, q url.Values, tok string) (int, analyticsAnswer) {
	t.Helper()
	uri := "/client/v4/accounts/acc/ai-gateway" + path
	if len(q) > 0 {
		uri += "?" + q.Encode()
	}
	v := f.tokens[tok]
	if v == "" {
		v = tok
	}
	ctx := serve(t, s, "GET", uri, "", map[string]string{"Authorization": "Bearer " + v})
	var ans analyticsAnswer
	if err := json.Unmarshal(ctx.Response.Body(), &ans); err != nil {
		t.Fatalf("%s: %v: %s", uri, err, ctx.Response.Body())
	}
	return ctx.Response.StatusCode(), ans
}

func TestGatewayAnalytics(t *testing.T) {
	f, s := analyticsFixture(t)
	q := url.Values{"start": {"2025-03-01T12:00:00Z"}, "end": {"2025-03-01T14:00:00Z"}, "step": {"hour"}, "group_by": {"provider"}}
	status, ans := getAnalytics(t, f, s, "/gateways/gw/analytics", q, "read-gw")
	if status != 200 || !ans.Success {
		t.Fatalf("status %d: %+v", status, ans.Errors)
	}
	r := ans.Result
	if r.Start != "2025-03-01T12:00:00Z" || r.End != "2025-03-01T14:00:00Z" || r.Step != "hour" || r.GroupByJSON != "provider" {
		t.Errorf("range %s..%s step %s group_by %s", r.Start, r.End, r.Step, r.GroupByJSON)
	}
	wantTotals := map[string]any{"requests": 3.0, "errors": 1.0, "cached": 1.0, "cache_hit_ratio": 1.0 / 3,
		"tokens_in": 22.0, "tokens_out": 23.0, "cost": 0.75, "priced_requests": 2.0}
	for k, want := range wantTotals {
		if got := r.Totals[k]; got != want {
			t.Errorf("totals.%s = %v, want %v", k, got, want)
		}
	}
	if p50, _ := r.Totals["duration_p50_ms"].(float64); math.Abs(p50-300) > 0.049*300 {
		t.Errorf("totals p50 %v, want 300 within 4.9%%", r.Totals["duration_p50_ms"])
	}
	if p95, _ := r.Totals["duration_p95_ms"].(float64); math.Abs(p95-1000) > 0.049*1000 {
		t.Errorf("totals p95 %v, want 1000 within 4.9%%", r.Totals["duration_p95_ms"])
	}
	if len(r.Series) != 2 || r.Series[0].Group != "openai" || r.Series[1].Group != "anthropic" {
		t.Fatalf("series %+v, want openai then anthropic", r.Series)
	}
	openai := r.Series[0].Points
	if len(openai) != 2 || openai[0]["time"] != "2025-03-01T12:00:00Z" || openai[1]["time"] != "2025-03-01T13:00:00Z" {
		t.Fatalf("openai points %v", openai)
	}
	if openai[0]["requests"] != 2.0 || openai[0]["cost"] != 0.75 || openai[0]["cache_hit_ratio"] != 0.5 {
		t.Errorf("openai 12:00 point %v", openai[0])
	}
	// An empty step is there, zero, with no durations.
	if openai[1]["requests"] != 0.0 || openai[1]["duration_p50_ms"] != nil || openai[1]["cost"] != 0.0 {
		t.Errorf("empty openai 13:00 point %v", openai[1])
	}
	anth := r.Series[1].Points
	if anth[1]["requests"] != 1.0 || anth[1]["priced_requests"] != 0.0 || anth[1]["cost"] != 0.0 {
		t.Errorf("anthropic 13:00 point (unknown price) %v", anth[1])
	}

	// Metadata grouping: requests without the key are the "" group.
	q.Set("group_by", "metadata.team")
	_, ans = getAnalytics(t, f, s, "/gateways/gw/analytics", q, "read")
	groups := map[string]float64{}
	for _, se := range ans.Result.Series {
		groups[se.Group] = se.Totals["requests"].(float64)
	}
	if len(groups) != 3 || groups["search"] != 1 || groups["ads"] != 1 || groups[""] != 1 {
		t.Errorf("metadata groups %v", groups)
	}

	// Filters.
	q = url.Values{"start": {"2025-03-01T12:00:00Z"}, "end": {"2025-03-01T14:00:00Z"}, "model": {"gpt-4o-mini"}}
	_, ans = getAnalytics(t, f, s, "/gateways/gw/analytics", q, "read")
	if ans.Result.Step != "minute" || ans.Result.Totals["requests"] != 2.0 || len(ans.Result.Series) != 1 || len(ans.Result.Series[0].Points) != 120 {
		t.Errorf("model filter: step %s totals %v, %d series", ans.Result.Step, ans.Result.Totals, len(ans.Result.Series))
	}
}

func TestAccountAnalytics(t *testing.T) {
	f, s := analyticsFixture(t)
	q := url.Values{"start": {"2025-03-01T00:00:00Z"}, "end": {"2025-03-02T00:00:00Z"}, "step": {"day"}}
	cases := []struct {
		tok    string
		groups map[string]float64
	}{
		{"read", map[string]float64{"gw": 3, "other": 1}},
		{"admin-bootstrap", map[string]float64{"gw": 3, "other": 1}},
		{"read-gw", map[string]float64{"gw": 3}}, // a gateway-scoped token sees its gateways only
	}
	for _, tc := range cases {
		t.Run(tc.tok, func(t *testing.T) {
			status, ans := getAnalytics(t, f, s, "/analytics", q, tc.tok)
			if status != 200 {
				t.Fatalf("status %d %+v", status, ans.Errors)
			}
			var total float64
			got := map[string]float64{}
			for _, se := range ans.Result.Series {
				got[se.Group] = se.Totals["requests"].(float64)
				total += got[se.Group]
			}
			if len(got) != len(tc.groups) || ans.Result.GroupByJSON != "gateway" || ans.Result.Totals["requests"] != total {
				t.Errorf("groups %v (group_by %s, totals %v), want %v", got, ans.Result.GroupByJSON, ans.Result.Totals, tc.groups)
			}
			for g, n := range tc.groups {
				if got[g] != n {
					t.Errorf("gateway %s: %v requests, want %v", g, got[g], n)
				}
			}
		})
	}
	q.Set("group_by", "model")
	_, ans := getAnalytics(t, f, s, "/analytics", q, "read")
	if len(ans.Result.Series) != 3 || ans.Result.Series[0].Group != "gpt-4o-mini" {
		t.Errorf("all gateways by model: %+v", ans.Result.Series)
	}
}

func TestAnalyticsDefaultRange(t *testing.T) {
	f, s := analyticsFixture(t)
	before := time.Now().UTC()
	status, ans := getAnalytics(t, f, s, "/gateways/gw/analytics", nil, "read")
	if status != 200 {
		t.Fatalf("status %d %+v", status, ans.Errors)
	}
	start, _ := time.Parse(time.RFC3339, ans.Result.Start)
	end, _ := time.Parse(time.RFC3339, ans.Result.End)
	if ans.Result.Step != "minute" || end.Before(before) || end.Sub(before) > 2*time.Minute || end.Sub(start) < 24*time.Hour {
		t.Errorf("default range %s..%s step %s", ans.Result.Start, ans.Result.End, ans.Result.Step)
	}
	if len(ans.Result.Series) != 1 || len(ans.Result.Series[0].Points) != int(end.Sub(start)/time.Minute) {
		t.Errorf("default range: %d series", len(ans.Result.Series))
	}
}

func TestAnalyticsBadRequests(t *testing.T) {
	f, s := analyticsFixture(t)
	cases := []struct {
		name, path string
		q          url.Values
		tok        string
		status     int
		field      string
	}{
		{"start not RFC 3339", "/gateways/gw/analytics", url.Values{"start": {"yesterday"}}, "read", 400, "start"},
		{"end not RFC 3339", "/gateways/gw/analytics", url.Values{"end": {"2025-03-01"}}, "read", 400, "end"},
		{"end before start", "/gateways/gw/analytics", url.Values{"start": {"2025-03-02T00:00:00Z"}, "end": {"2025-03-01T00:00:00Z"}}, "read", 400, "end"},
		{"start in the future", "/gateways/gw/analytics", url.Values{"start": {"2999-01-01T00:00:00Z"}}, "read", 400, "end"},
		{"unknown step", "/gateways/gw/analytics", url.Values{"step": {"week"}}, "read", 400, "step"},
		{"too many points", "/gateways/gw/analytics", url.Values{"start": {"2025-01-01T00:00:00Z"}, "end": {"2025-03-01T00:00:00Z"}, "step": {"minute"}}, "read", 400, "step"},
		{"too many default points", "/analytics", url.Values{"start": {"2020-01-01T00:00:00Z"}, "end": {"2025-03-01T00:00:00Z"}}, "read", 400, "step"},
		{"unknown grouping", "/gateways/gw/analytics", url.Values{"group_by": {"path"}}, "read", 400, "group_by"},
		{"gateway grouping on one gateway", "/gateways/gw/analytics", url.Values{"group_by": {"gateway"}}, "read", 400, "group_by"},
		{"metadata without a key", "/analytics", url.Values{"group_by": {"metadata."}}, "read", 400, "group_by"},
		{"limit zero", "/gateways/gw/analytics", url.Values{"limit": {"0"}}, "read", 400, "limit"},
		{"limit too big", "/gateways/gw/analytics", url.Values{"limit": {"500"}}, "read", 400, "limit"},
		{"unknown parameter", "/gateways/gw/analytics", url.Values{"success": {"true"}}, "read", 400, "success"},
		{"run token", "/gateways/gw/analytics", nil, "run", 403, "Authorization"},
		{"token for another gateway", "/gateways/gw/analytics", nil, "edit-other", 403, "Authorization"},
		{"no valid token", "/analytics", nil, "made-up", 401, "Authorization"},
		{"run token on the summary", "/analytics", nil, "run", 403, "Authorization"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			status, ans := getAnalytics(t, f, s, tc.path, tc.q, tc.tok)
			if status != tc.status || ans.Success || len(ans.Errors) != 1 {
				t.Fatalf("status %d %+v, want %d", status, ans, tc.status)
			}
			e := ans.Errors[0]
			if len(e.Path) == 0 || e.Path[len(e.Path)-1] != tc.field || e.Message == "" {
				t.Errorf("error %+v, want one naming %s", e, tc.field)
			}
			if tc.status == 400 && e.Code != codeBadRequest {
				t.Errorf("code %d, want %d", e.Code, codeBadRequest)
			}
		})
	}
	// Without a projection wired the API says so rather than failing.
	bare := New(Options{Providers: providers.NewTable(func(string) string { return "" }), Config: f.cfg, Logs: noLogs{}, AdminToken: adminTok})
	ctx := serve(t, bare, "GET", "/client/v4/accounts/acc/ai-gateway/analytics", "", map[string]string{"Authorization": "Bearer " + adminTok})
	if ctx.Response.StatusCode() != 503 {
		t.Errorf("no projection: status %d", ctx.Response.StatusCode())
	}
}
