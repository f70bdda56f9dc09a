// evals_test.go: datasets, evaluations and evaluation types through the real
// handler, with answers decoded by cloudflare-go v7's own response types; evaluations run
// over a fake logs projection that pages like the real one.
package controlapi

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/cloudflare/cloudflare-go/v7/ai_gateway"
	"github.com/switchyard/switchyard/engine/providers"
	"github.com/switchyard/switchyard/storage"
)

// pagedLogs answers List from a fixed set of records, newest first, applying provider eq
// filters and Until, at most 100 per page, and counts the calls.
type pagedLogs struct {
	noLogs
	recs  []storage.LogRecord
	calls int
}

func (p *pagedLogs) List(q storage.LogQuery) ([]storage.LogRecord, int, error) {
	p.calls++
	var match []storage.LogRecord
	for _, r := range p.recs {
		keep := r.AccountID == q.AccountID && r.GatewayID == q.GatewayID && (q.Until.IsZero() || !r.CreatedAt.After(q.Until))
		for _, f := range q.Filters {
			if f.Key != "provider" || f.Operator != "eq" {
				return nil, 0, fmt.Errorf("fake logs: filter %+v", f)
			}
			keep = keep && slices.Contains(f.Values, r.Provider)
		}
		if keep {
			match = append(match, r)
		}
	}
	per := min(q.PerPage, 100)
	from := (q.Page - 1) * per
	if from >= len(match) {
		return nil, len(match), nil
	}
	return match[from:min(from+per, len(match))], len(match), nil
}

// evalRecords: 250 openai logs (durations 1..250 ms, cost 0.001 on even ones, none on odd
// ones, thumbs up on the first 30, down on the next 10) and 50 anthropic ones.
func evalRecords() []storage.LogRecord {
	base := time.Now().Add(-time.Hour)
	var out []storage.LogRecord
	for i := 1; i <= 300; i++ {
		r := storage.LogRecord{ID: fmt.Sprintf("log%03d", i), AccountID: "acc", GatewayID: "gw", Provider: "openai",
			Duration: int64(i), CreatedAt: base.Add(time.Duration(300-i) * time.Second)}
		if i > 250 {
			r.Provider = "anthropic"
		}
		if i%2 == 0 {
			c := 0.001
			r.Cost = &c
		}
		switch {
		case i <= 30:
			fb := 1
			r.Feedback = &fb
		case i <= 40:
			fb := -1
			r.Feedback = &fb
		}
		out = append(out, r)
	}
	return out
}

func evalServer(t *testing.T) (*API, *pagedLogs) {
	t.Helper()
	logs := &pagedLogs{recs: evalRecords()}
	return New(Options{Providers: providers.NewTable(func(string) string { return "" }),
		Config: testConfig(t), Logs: logs, AdminToken: adminTok}), logs
}

const evalBase = "/client/v4/accounts/acc/ai-gateway"

func call(t *testing.T, s *API, method, path, body string) (int, []byte) {
	t.Helper()
	ctx := serve(t, s, method, evalBase+path, body, map[string]string{"Authorization": "Bearer " + adminTok, "Content-Type": "application/json"})
	return ctx.Response.StatusCode(), ctx.Response.Body()
}

func mustDecode(t *testing.T, raw []byte, v any) {
	t.Helper()
	if err := json.Unmarshal(raw, v); err != nil {
		t.Fatalf("decode %s: %v", raw, err)
	}
}

// failure is the envelope of a refused call.
type failure struct {
	Success bool `json:"success"`
	Errors  []struct {
		Code    int      `json:"code"`
		Message string   `json:"message"`
		Path    []string `json:"path"`
	} `json:"errors"`
}

func wantFailure(t *testing.T, status int, raw []byte, wantStatus int, path ...string) {
	t.Helper()
	var f failure
	mustDecode(t, raw, &f)
	if status != wantStatus || f.Success || len(f.Errors) != 1 || f.Errors[0].Message == "" || !slices.Equal(f.Errors[0].Path, path) {
		t.Fatalf("status %d %s; want %d at %v", status, raw, wantStatus, path)
	}
}

func TestEvaluationTypesEndpoint(t *testing.T) {
	s, _ := evalServer(t)
	cases := []struct {
		query   string
		ids     []string
		message string // the one message expected, if any
	}{
		{"", []string{"cost", "speed", "human-feedback"}, ""},
		{"?order_by=name", []string{"cost", "human-feedback", "speed"}, ""},
		{"?order_by=id&order_by_direction=desc", []string{"speed", "human-feedback", "cost"}, ""},
		{"?per_page=2&page=2", []string{"human-feedback"}, ""},
		// cloudflare-go's generated test: any string is an order_by in the hosted API.
		{"?order_by=order_by&order_by_direction=asc&page=1&per_page=5", []string{"cost", "speed", "human-feedback"}, `order_by "order_by" is not a field`},
		{"?order_by=colour&order_by_direction=desc", []string{"human-feedback", "speed", "cost"}, `order_by "colour" is not a field`},
	}
	for _, c := range cases {
		status, raw := call(t, s, "GET", "/evaluation-types"+c.query, "")
		var page struct {
			Result     []ai_gateway.EvaluationTypeListResponse `json:"result"`
			Messages   []apiMessage                            `json:"messages"`
			ResultInfo struct {
				TotalCount int `json:"total_count"`
			} `json:"result_info"`
		}
		mustDecode(t, raw, &page)
		var ids []string
		for _, r := range page.Result {
			ids = append(ids, r.ID)
			if r.Name == "" || r.Description == "" || r.Type == "" || !r.Enable || r.CreatedAt.IsZero() {
				t.Errorf("type %s incomplete: %s", r.ID, r.JSON.RawJSON())
			}
		}
		if status != 200 || !slices.Equal(ids, c.ids) || page.ResultInfo.TotalCount != 3 {
			t.Errorf("%s: %d %v (total %d), want %v", c.query, status, ids, page.ResultInfo.TotalCount, c.ids)
		}
		switch {
		case c.message == "" && len(page.Messages) != 0,
			c.message != "" && (len(page.Messages) != 1 || page.Messages[0].Code != msgAdjusted || !strings.Contains(page.Messages[0].Message, c.message)):
			t.Errorf("%s: messages %+v, want %q", c.query, page.Messages, c.message)
		}
	}
	status, raw := call(t, s, "GET", "/evaluation-types?order_by_direction=up", "")
	wantFailure(t, status, raw, 400, "query", "order_by_direction")
	status, raw = call(t, s, "GET", "/evaluation-types?sort=name", "")
	wantFailure(t, status, raw, 400, "query", "sort")
}

func TestDatasetsEndpoints(t *testing.T) {
	s, _ := evalServer(t)
	status, raw := call(t, s, "POST", "/gateways/gw/datasets", `{"name":"openai","enable":true,"filters":[{"key":"provider","operator":"eq","value":["openai"]}]}`)
	var created ai_gateway.DatasetNewResponseEnvelope
	mustDecode(t, raw, &created)
	d := created.Result
	if status != 200 || !created.Success || d.ID == "" || d.Name != "openai" || !d.Enable || d.GatewayID != "gw" || d.CreatedAt.IsZero() ||
		len(d.Filters) != 1 || d.Filters[0].Key != "provider" || d.Filters[0].Operator != "eq" || len(d.Filters[0].Value) != 1 {
		t.Fatalf("create: %d %s", status, raw)
	}
	call(t, s, "POST", "/gateways/gw/datasets", `{"name":"slow","enable":false,"filters":[{"key":"duration","operator":"gt","value":[1000]}]}`)

	refused := []struct {
		method, path, body string
		status             int
		at                 []string
	}{
		{"POST", "/gateways/gw/datasets", `{"name":"x","filters":[{"key":"colour","operator":"eq","value":["red"]}]}`, 400, []string{"body", "filters", "0", "key"}},
		{"POST", "/gateways/gw/datasets", `{"name":"x","filters":[{"key":"cost","operator":"contains","value":[1]}]}`, 400, []string{"body", "filters", "0", "operator"}},
		{"POST", "/gateways/gw/datasets", `{"name":"","filters":[]}`, 400, []string{"body", "name"}},
		{"POST", "/gateways/gw/datasets", `not json`, 400, []string{"body"}},
		{"POST", "/gateways/nosuch/datasets", `{"name":"x","filters":[]}`, 404, []string{"path", "gateway_id"}},
		{"GET", "/gateways/gw/datasets/nosuch", ``, 404, []string{"path", "id"}},
		{"PUT", "/gateways/gw/datasets/nosuch", `{"name":"x"}`, 404, []string{"path", "id"}},
		{"GET", "/gateways/gw/datasets?enable=maybe", ``, 400, []string{"query", "enable"}},
		{"GET", "/gateways/gw/datasets?provider=openai", ``, 400, []string{"query", "provider"}},
		{"GET", "/gateways/nosuch/datasets", ``, 404, []string{"path", "gateway_id"}},
	}
	for _, c := range refused {
		status, raw := call(t, s, c.method, c.path, c.body)
		wantFailure(t, status, raw, c.status, c.at...)
	}

	lists := []struct {
		query string
		names []string
	}{
		{"", []string{"slow", "openai"}},
		{"?enable=true", []string{"openai"}},
		{"?name=slow", []string{"slow"}},
		{"?search=DURATION", []string{"slow"}},
		{"?search=" + d.ID[:8], []string{"openai"}},
		{"?per_page=1&page=2", []string{"openai"}},
	}
	for _, c := range lists {
		status, raw := call(t, s, "GET", "/gateways/gw/datasets"+c.query, "")
		var page struct {
			Result     []ai_gateway.DatasetListResponse `json:"result"`
			ResultInfo struct {
				Count int `json:"count"`
			} `json:"result_info"`
		}
		mustDecode(t, raw, &page)
		var names []string
		for _, r := range page.Result {
			names = append(names, r.Name)
		}
		if status != 200 || !slices.Equal(names, c.names) || page.ResultInfo.Count != len(c.names) {
			t.Errorf("list%s: %d %v, want %v", c.query, status, names, c.names)
		}
	}

	status, raw = call(t, s, "PUT", "/gateways/gw/datasets/"+d.ID, `{"name":"openai models","enable":true,"filters":[{"key":"model","operator":"contains","value":["gpt"]}]}`)
	var updated ai_gateway.DatasetUpdateResponseEnvelope
	mustDecode(t, raw, &updated)
	if status != 200 || updated.Result.Name != "openai models" || updated.Result.Filters[0].Key != "model" {
		t.Fatalf("update: %d %s", status, raw)
	}
	status, raw = call(t, s, "GET", "/gateways/gw/datasets/"+d.ID, "")
	var got ai_gateway.DatasetGetResponseEnvelope
	mustDecode(t, raw, &got)
	if status != 200 || got.Result.Name != "openai models" {
		t.Fatalf("get after update: %d %s", status, raw)
	}
	status, _ = call(t, s, "DELETE", "/gateways/gw/datasets/"+d.ID, "")
	if status != 200 {
		t.Fatalf("delete: %d", status)
	}
	status, raw = call(t, s, "GET", "/gateways/gw/datasets/"+d.ID, "")
	wantFailure(t, status, raw, 404, "path", "id")
}

func TestEvaluationsEndpoints(t *testing.T) {
	s, logs := evalServer(t)
	_, raw := call(t, s, "POST", "/gateways/gw/datasets", `{"name":"openai","enable":true,"filters":[{"key":"provider","operator":"eq","value":["openai"]}]}`)
	var d ai_gateway.DatasetNewResponseEnvelope
	mustDecode(t, raw, &d)

	status, raw := call(t, s, "POST", "/gateways/gw/evaluations",
		`{"name":"baseline","dataset_ids":["`+d.Result.ID+`"],"evaluation_type_ids":["cost","speed","human-feedback"]}`)
	var created ai_gateway.EvaluationNewResponseEnvelope
	mustDecode(t, raw, &created)
	e := created.Result
	if status != 200 || e.Name != "baseline" || !e.Processed || e.TotalLogs != 250 || len(e.Datasets) != 1 ||
		e.Datasets[0].ID != d.Result.ID || e.Datasets[0].AccountID != "acc" || len(e.Results) != 3 {
		t.Fatalf("create: %d %s", status, raw)
	}
	if logs.calls != 3 {
		t.Errorf("250 logs read in %d pages, want 3", logs.calls)
	}
	want := map[string]struct {
		result string
		logs   float64
	}{
		"cost":           {`{"total_cost_usd":0.125,"average_cost_usd":0.001,"logs":125,"logs_without_cost":125}`, 125},
		"speed":          {`{"average_ms":125.5,"p50_ms":125,"p95_ms":238,"logs":250}`, 250},
		"human-feedback": {`{"positive_share":0.75,"positive":30,"negative":10,"logs":40,"logs_without_feedback":210}`, 40},
	}
	for _, r := range e.Results {
		w := want[r.EvaluationTypeID]
		if r.Result != w.result || r.TotalLogs != w.logs || r.Status != 1 || r.StatusDescription == "" || r.EvaluationID != e.ID || r.ID == "" {
			t.Errorf("result %s = %s, want %s over %v logs", r.EvaluationTypeID, r.JSON.RawJSON(), w.result, w.logs)
		}
	}

	// Stored: get and list answer the same results, also after new logs arrive.
	logs.recs = append(logs.recs, storage.LogRecord{ID: "late", AccountID: "acc", GatewayID: "gw", Provider: "openai", Duration: 99999, CreatedAt: time.Now()})
	status, raw = call(t, s, "GET", "/gateways/gw/evaluations/"+e.ID, "")
	var got ai_gateway.EvaluationGetResponseEnvelope
	mustDecode(t, raw, &got)
	if status != 200 || got.Result.TotalLogs != 250 || len(got.Result.Results) != 3 || got.Result.Results[1].Result != want["speed"].result {
		t.Fatalf("get: %d %s", status, raw)
	}
	for _, q := range []string{"", "?processed=true", "?name=baseline", "?search=BASE"} {
		status, raw = call(t, s, "GET", "/gateways/gw/evaluations"+q, "")
		var page struct {
			Result []ai_gateway.EvaluationListResponse `json:"result"`
		}
		mustDecode(t, raw, &page)
		if status != 200 || len(page.Result) != 1 || page.Result[0].ID != e.ID || len(page.Result[0].Results) != 3 {
			t.Errorf("list%s: %d %s", q, status, raw)
		}
	}
	status, raw = call(t, s, "GET", "/gateways/gw/evaluations?processed=false", "")
	if status != 200 || !strings.Contains(string(raw), `"result":[]`) {
		t.Errorf("list processed=false: %d %s", status, raw)
	}

	refused := []struct {
		method, path, body string
		status             int
		at                 []string
	}{
		{"POST", "/gateways/gw/evaluations", `{"name":"x","dataset_ids":["nosuch"],"evaluation_type_ids":["cost"]}`, 400, []string{"body", "dataset_ids", "0"}},
		{"POST", "/gateways/gw/evaluations", `{"name":"x","dataset_ids":["` + d.Result.ID + `"],"evaluation_type_ids":["vibes"]}`, 400, []string{"body", "evaluation_type_ids", "0"}},
		{"POST", "/gateways/gw/evaluations", `{"name":"baseline","dataset_ids":["` + d.Result.ID + `"]}`, 409, []string{"body", "name"}},
		{"POST", "/gateways/gw/evaluations", `{"dataset_ids":["` + d.Result.ID + `"]}`, 400, []string{"body", "name"}},
		{"GET", "/gateways/gw/evaluations/nosuch", ``, 404, []string{"path", "id"}},
		{"DELETE", "/gateways/gw/evaluations/nosuch", ``, 404, []string{"path", "id"}},
		{"GET", "/gateways/gw/evaluations?page=0", ``, 400, []string{"query", "page"}},
		{"PUT", "/gateways/gw/evaluations/" + e.ID, `{}`, 404, []string{"path"}},
	}
	for _, c := range refused {
		status, raw := call(t, s, c.method, c.path, c.body)
		wantFailure(t, status, raw, c.status, c.at...)
	}

	status, raw = call(t, s, "DELETE", "/gateways/gw/evaluations/"+e.ID, "")
	var deleted ai_gateway.EvaluationDeleteResponseEnvelope
	mustDecode(t, raw, &deleted)
	if status != 200 || deleted.Result.ID != e.ID {
		t.Fatalf("delete: %d %s", status, raw)
	}
	status, raw = call(t, s, "GET", "/gateways/gw/evaluations/"+e.ID, "")
	wantFailure(t, status, raw, 404, "path", "id")
}

func TestEvalsPermissions(t *testing.T) {
	f := newFixture(t)
	f.s.opts.Logs = &pagedLogs{recs: evalRecords()}
	const G = "/client/v4/accounts/acc/ai-gateway/gateways/gw"
	cases := []struct {
		method, path, body, token string
		status                    int
	}{
		{"GET", "/client/v4/accounts/acc/ai-gateway/evaluation-types", "", "read", 200},
		{"GET", "/client/v4/accounts/acc/ai-gateway/evaluation-types", "", "run", 403},
		{"GET", G + "/datasets", "", "read", 200},
		{"POST", G + "/datasets", `{"name":"n","filters":[]}`, "read", 403},
		{"POST", G + "/datasets", `{"name":"n","filters":[]}`, "edit-other", 403},
		{"POST", G + "/datasets", `{"name":"n","filters":[]}`, "edit", 200},
		{"GET", G + "/evaluations", "", "read", 200},
		{"POST", G + "/evaluations", `{"name":"n","dataset_ids":["x"]}`, "read", 403},
		{"GET", G + "/evaluations", "", "", 401},
		{"GET", "/client/v4/accounts/acc/ai-gateway/gateways/gw/datasets", "", "admin-acc2", 403},
	}
	for _, c := range cases {
		ctx := f.call(t, c.method, c.path, c.body, c.token, nil)
		if got := ctx.Response.StatusCode(); got != c.status {
			t.Errorf("%s %s as %s = %d, want %d: %s", c.method, c.path, c.token, got, c.status, ctx.Response.Body())
		}
	}
}

// Every filter a dataset accepts is one the logs projection runs: an evaluation never
// fails on a saved filter.
func TestDatasetFiltersRunOnLogs(t *testing.T) {
	s, _ := evalServer(t)
	status, raw := call(t, s, "POST", "/gateways/gw/datasets", `{"name":"all","filters":[
		{"key":"provider","operator":"contains","value":["open"]},{"key":"model","operator":"eq","value":["a","b"]},
		{"key":"request_content_type","operator":"eq","value":["application/json"]},
		{"key":"response_content_type","operator":"contains","value":["json"]},
		{"key":"success","operator":"eq","value":[true]},{"key":"cached","operator":"eq","value":["false"]},
		{"key":"cost","operator":"gt","value":[0.5]},{"key":"tokens","operator":"lt","value":[100]},
		{"key":"tokens_in","operator":"eq","value":[3]},{"key":"tokens_out","operator":"gt","value":["7"]},
		{"key":"duration","operator":"lt","value":[250.5]},{"key":"feedback","operator":"eq","value":[-1,0]},
		{"key":"created_at","operator":"gt","value":["2025-01-01T00:00:00+01:00"]},
		{"key":"created_at","operator":"lt","value":["2025-02-01T00:00:00.123Z"]}]}`)
	if status != 200 {
		t.Fatalf("create: %d %s", status, raw)
	}
	var d struct{ Result struct{ ID string } }
	mustDecode(t, raw, &d)
	q := datasetQuery("acc", "gw", s.snap().Dataset("acc", "gw", d.Result.ID))
	if len(q.Filters) != 14 {
		t.Fatalf("filters = %+v", q.Filters)
	}
	if err := storage.ValidateLogFilters(q.Filters); err != nil {
		t.Fatalf("the logs projection refuses a saved dataset filter: %v", err)
	}
}
