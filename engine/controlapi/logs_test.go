// logs_test.go: the logs API — list filters, delete with filters, feedback —
// through cloudflare-go v7's client against a real listener, over a real (in-memory)
// logs projection fed by a bus that applies each published event at once.
package controlapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand"
	"net"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cloudflare/cloudflare-go/v7"
	"github.com/cloudflare/cloudflare-go/v7/ai_gateway"
	"github.com/cloudflare/cloudflare-go/v7/option"
	"github.com/cloudflare/cloudflare-go/v7/shared"
	"github.com/oklog/ulid/v2"
	"github.com/switchyard/switchyard/engine/providers"
	"github.com/switchyard/switchyard/events"
	"github.com/switchyard/switchyard/storage"
	"github.com/valyala/fasthttp"
)

// applyingBus numbers each published event and applies it to the projection.
type applyingBus struct {
	mu   sync.Mutex
	seq  uint64
	logs *storage.Logs
}

func (b *applyingBus) Publish(_ context.Context, _ events.Type, _ string, data []byte) (uint64, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.seq++
	return b.seq, b.logs.Apply([]events.Msg{{Seq: b.seq, Data: data}})
}

func (b *applyingBus) finished(t *testing.T, f events.RequestFinished) {
	t.Helper()
	raw, err := events.Encode(events.TypeRequestFinished, events.VersionRequestFinished, f.LogID, f.StartedAt, f)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.Publish(context.Background(), events.TypeRequestFinished, "", raw); err != nil {
		t.Fatal(err)
	}
}

// logsServer serves the control API on a real port over an in-memory logs projection.
func logsServer(t *testing.T) (*cloudflare.Client, *applyingBus) {
	t.Helper()
	st, err := storage.Open(storage.Options{InMemory: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	logs, err := storage.NewLogs(st)
	if err != nil {
		t.Fatal(err)
	}
	bus := &applyingBus{logs: logs}
	s := New(Options{Providers: providers.NewTable(func(string) string { return "" }),
		Config: testConfig(t), Logs: logs, AdminToken: adminTok, Events: bus, LogsApplied: logs.WaitFor})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &fasthttp.Server{Handler: s.Handle}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Shutdown() })
	return cloudflare.NewClient(option.WithBaseURL("http://"+ln.Addr().String()+"/client/v4/"),
		option.WithAPIToken(adminTok), option.WithMaxRetries(0)), bus
}

// seedLogs stores 40 requests: provider openai (even) or anthropic (odd), every fifth
// failed, cost i/1000 except none on multiples of 7, metadata team a/b on the first 20.
func seedLogs(t *testing.T, bus *applyingBus) []string {
	t.Helper()
	rng := rand.New(rand.NewSource(1))
	base := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	var ids []string
	for i := 0; i < 40; i++ {
		at := base.Add(time.Duration(i) * time.Minute)
		id := ulid.MustNew(ulid.Timestamp(at), rng).String()
		f := events.RequestFinished{LogID: id, EventID: fmt.Sprintf("ev%d", i), AccountID: "acc", GatewayID: "gw",
			Provider: "openai", Model: "gpt-4o", Method: "POST", Path: "/chat/completions", Status: 200, Success: true,
			StartedAt: at, DurationMs: float64(100 * i), TokensIn: int64(10 * i), TokensOut: 5,
			RequestCType: "application/json", ResponseCType: "application/json"}
		if i%2 == 1 {
			f.Provider, f.Model = "anthropic", "claude-sonnet-4"
		}
		if i%5 == 0 {
			f.Success, f.Status = false, 500
		}
		if i%7 != 0 {
			c := float64(i) / 1000
			f.Cost = &c
		}
		if i < 20 {
			f.Metadata = events.Metadata{"team": []string{"a", "b"}[i%2], "n": float64(i)}
		}
		bus.finished(t, f)
		ids = append(ids, id)
	}
	return ids
}

func listIDs(t *testing.T, c *cloudflare.Client, p ai_gateway.LogListParams) ([]string, float64) {
	t.Helper()
	p.AccountID = cloudflare.F("acc")
	if !p.PerPage.Present {
		p.PerPage = cloudflare.F[int64](100)
	}
	res, err := c.AIGateway.Logs.List(context.Background(), "gw", p)
	if err != nil {
		t.Fatalf("list: %v", err)
	}
	var out []string
	for _, r := range res.Result {
		out = append(out, r.ID)
	}
	var info struct {
		TotalCount float64 `json:"total_count"`
	}
	if err := json.Unmarshal([]byte(res.ResultInfo.JSON.RawJSON()), &info); err != nil {
		t.Fatalf("result_info %q: %v", res.ResultInfo.JSON.RawJSON(), err)
	}
	return out, info.TotalCount
}

func filter(key ai_gateway.LogListParamsFiltersKey, op ai_gateway.LogListParamsFiltersOperator, v ...ai_gateway.LogListParamsFiltersValueUnion) ai_gateway.LogListParamsFilter {
	return ai_gateway.LogListParamsFilter{Key: cloudflare.F(key), Operator: cloudflare.F(op), Value: cloudflare.F(v)}
}

func pick(ids []string, keep func(i int) bool) []string {
	var out []string
	for i := len(ids) - 1; i >= 0; i-- { // newest first
		if keep(i) {
			out = append(out, ids[i])
		}
	}
	return out
}

func TestLogsListFiltersThroughClient(t *testing.T) {
	c, bus := logsServer(t)
	ids := seedLogs(t, bus)
	cases := []struct {
		name string
		p    ai_gateway.LogListParams
		want func(i int) bool
	}{
		{"all", ai_gateway.LogListParams{}, func(int) bool { return true }},
		{"provider and failed", ai_gateway.LogListParams{Provider: cloudflare.F("anthropic"), Success: cloudflare.F(false)},
			func(i int) bool { return i%2 == 1 && i%5 == 0 }},
		{"min_cost inclusive", ai_gateway.LogListParams{MinCost: cloudflare.F(0.03)}, func(i int) bool { return i >= 30 && i%7 != 0 }},
		{"max_duration inclusive", ai_gateway.LogListParams{MaxDuration: cloudflare.F(500.0)}, func(i int) bool { return i <= 5 }},
		{"total tokens", ai_gateway.LogListParams{MinTotalTokens: cloudflare.F(300.0), MaxTokensIn: cloudflare.F(320.0)},
			func(i int) bool { return i >= 30 && i <= 32 }},
		{"time range", ai_gateway.LogListParams{StartDate: cloudflare.F(time.Date(2026, 3, 1, 10, 10, 0, 0, time.UTC)),
			EndDate: cloudflare.F(time.Date(2026, 3, 1, 10, 12, 0, 0, time.UTC))}, func(i int) bool { return i >= 10 && i <= 12 }},
		{"metadata key and value", ai_gateway.LogListParams{Filters: cloudflare.F([]ai_gateway.LogListParamsFilter{
			filter("metadata.key", "eq", shared.UnionString("team")), filter("metadata.value", "eq", shared.UnionString("b"))})},
			func(i int) bool { return i < 20 && i%2 == 1 }},
		{"metadata number value", ai_gateway.LogListParams{Filters: cloudflare.F([]ai_gateway.LogListParamsFilter{
			filter("metadata.value", "eq", shared.UnionFloat(7))})}, func(i int) bool { return i == 7 }},
		{"cost gt and model neq", ai_gateway.LogListParams{Filters: cloudflare.F([]ai_gateway.LogListParamsFilter{
			filter("cost", "gt", shared.UnionFloat(0.02)), filter("model", "neq", shared.UnionString("gpt-4o"))})},
			func(i int) bool { return i > 20 && i%7 != 0 && i%2 == 1 }},
		{"one filter, several values", ai_gateway.LogListParams{Filters: cloudflare.F([]ai_gateway.LogListParamsFilter{
			filter("event_id", "eq", shared.UnionString("ev3"), shared.UnionString("ev4"))})}, func(i int) bool { return i == 3 || i == 4 }},
		{"model contains", ai_gateway.LogListParams{Filters: cloudflare.F([]ai_gateway.LogListParamsFilter{
			filter("model", "contains", shared.UnionString("CLAUDE"))})}, func(i int) bool { return i%2 == 1 }},
		{"success bool filter", ai_gateway.LogListParams{Filters: cloudflare.F([]ai_gateway.LogListParamsFilter{
			filter("success", "eq", shared.UnionBool(false))})}, func(i int) bool { return i%5 == 0 }},
		{"search", ai_gateway.LogListParams{Search: cloudflare.F("ev39")}, func(i int) bool { return i == 39 }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, total := listIDs(t, c, tc.p)
			want := pick(ids, tc.want)
			if !slices.Equal(got, want) || int(total) != len(want) {
				t.Fatalf("got %d ids (total %v), want %d:\n got %v\nwant %v", len(got), total, len(want), got, want)
			}
		})
	}
	// Oldest first, paged.
	got, total := listIDs(t, c, ai_gateway.LogListParams{Direction: cloudflare.F(ai_gateway.LogListParamsDirectionAsc),
		Page: cloudflare.F[int64](2), PerPage: cloudflare.F[int64](15)})
	if total != 40 || !slices.Equal(got, ids[15:30]) {
		t.Fatalf("page 2 ascending: %v (total %v)", got, total)
	}
}

func TestLogsFeedbackAndDeleteThroughClient(t *testing.T) {
	c, bus := logsServer(t)
	ids := seedLogs(t, bus)
	ctx := context.Background()
	acc := cloudflare.F("acc")

	// Feedback, score and metadata merged in; the next read shows them.
	if _, err := c.AIGateway.Logs.Edit(ctx, "gw", ids[4], ai_gateway.LogEditParams{AccountID: acc,
		Feedback: cloudflare.F(1.0), Score: cloudflare.F(87.5),
		Metadata: cloudflare.F(map[string]ai_gateway.LogEditParamsMetadataUnion{"reviewed": shared.UnionBool(true)})}); err != nil {
		t.Fatalf("edit: %v", err)
	}
	got, err := c.AIGateway.Logs.Get(ctx, "gw", ids[4], ai_gateway.LogGetParams{AccountID: acc})
	if err != nil {
		t.Fatal(err)
	}
	if got.Metadata != `{"n":4,"reviewed":true,"team":"a"}` || !containsAll(got.JSON.RawJSON(), `"feedback":1`, `"score":87.5`) {
		t.Fatalf("record after feedback: metadata %s, %s", got.Metadata, got.JSON.RawJSON())
	}
	if up, _ := listIDs(t, c, ai_gateway.LogListParams{Feedback: cloudflare.F(ai_gateway.LogListParamsFeedback1)}); !slices.Equal(up, []string{ids[4]}) {
		t.Fatalf("feedback=1 lists %v", up)
	}
	if none, total := listIDs(t, c, ai_gateway.LogListParams{Feedback: cloudflare.F(ai_gateway.LogListParamsFeedback0)}); total != 39 || slices.Contains(none, ids[4]) {
		t.Fatalf("feedback=0 (none) lists %d", int(total))
	}
	if ok, _ := listIDs(t, c, ai_gateway.LogListParams{Filters: cloudflare.F([]ai_gateway.LogListParamsFilter{
		filter("metadata.key", "eq", shared.UnionString("reviewed"))})}); !slices.Equal(ok, []string{ids[4]}) {
		t.Fatalf("merged metadata is not indexed: %v", ok)
	}

	// Bad feedback and unknown logs.
	var apiErr *cloudflare.Error
	_, err = c.AIGateway.Logs.Edit(ctx, "gw", ids[4], ai_gateway.LogEditParams{AccountID: acc, Feedback: cloudflare.F(2.0)})
	if !errors.As(err, &apiErr) || apiErr.StatusCode != 400 {
		t.Fatalf("feedback 2: %v", err)
	}
	_, err = c.AIGateway.Logs.Edit(ctx, "gw", "01NOSUCHLOG0000000000000000", ai_gateway.LogEditParams{AccountID: acc, Score: cloudflare.F(5.0)})
	if !errors.As(err, &apiErr) || apiErr.StatusCode != 404 {
		t.Fatalf("unknown log: %v", err)
	}

	// Delete the failed anthropic-or-openai requests with cost over 0.01, then the two
	// oldest of the rest.
	res, err := c.AIGateway.Logs.Delete(ctx, "gw", ai_gateway.LogDeleteParams{AccountID: acc,
		Filters: cloudflare.F([]ai_gateway.LogDeleteParamsFilter{
			{Key: cloudflare.F(ai_gateway.LogDeleteParamsFiltersKeySuccess), Operator: cloudflare.F(ai_gateway.LogDeleteParamsFiltersOperatorEq),
				Value: cloudflare.F([]ai_gateway.LogDeleteParamsFiltersValueUnion{shared.UnionBool(false)})},
			{Key: cloudflare.F(ai_gateway.LogDeleteParamsFiltersKeyCost), Operator: cloudflare.F(ai_gateway.LogDeleteParamsFiltersOperatorGt),
				Value: cloudflare.F([]ai_gateway.LogDeleteParamsFiltersValueUnion{shared.UnionFloat(0.01)})},
		})})
	if err != nil || !res.Success {
		t.Fatalf("delete: %v %+v", err, res)
	}
	left, total := listIDs(t, c, ai_gateway.LogListParams{})
	want := pick(ids, func(i int) bool { return !(i%5 == 0 && i > 10 && i%7 != 0) })
	if !slices.Equal(left, want) || int(total) != len(want) {
		t.Fatalf("after delete: %d left, want %d", len(left), len(want))
	}
	if _, err := c.AIGateway.Logs.Delete(ctx, "gw", ai_gateway.LogDeleteParams{AccountID: acc, Limit: cloudflare.F[int64](2),
		OrderBy: cloudflare.F(ai_gateway.LogDeleteParamsOrderByCreatedAt), OrderByDirection: cloudflare.F(ai_gateway.LogDeleteParamsOrderByDirectionAsc)}); err != nil {
		t.Fatal(err)
	}
	left, _ = listIDs(t, c, ai_gateway.LogListParams{})
	if !slices.Equal(left, want[:len(want)-2]) {
		t.Fatalf("after deleting the two oldest: %v", left)
	}
	_, err = c.AIGateway.Logs.Get(ctx, "gw", ids[0], ai_gateway.LogGetParams{AccountID: acc})
	if !errors.As(err, &apiErr) || apiErr.StatusCode != 404 {
		t.Fatalf("deleted log still readable: %v", err)
	}
}

func containsAll(s string, subs ...string) bool {
	for _, sub := range subs {
		if !strings.Contains(s, sub) {
			return false
		}
	}
	return true
}

// TestLogQueryArgs: each query parameter becomes filters, and bad ones a 400 naming them.
func TestLogQueryArgs(t *testing.T) {
	f := func(key, op string, v ...string) events.LogFilter {
		return events.LogFilter{Key: key, Operator: op, Values: v}
	}
	cases := []struct {
		query   string
		del     bool
		want    []events.LogFilter
		limit   int
		badAt   string
		message string
	}{
		{query: "provider=openai&success=false", want: []events.LogFilter{f("provider", "eq", "openai"), f("success", "eq", "false")}},
		{query: "min_tokens_out=10&max_cost=0.5", want: []events.LogFilter{f("tokens_out", "gt", "9.999999999999998"), f("cost", "lt", "0.5000000000000001")}},
		{query: "start_date=2026-03-01T10:00:00Z", want: []events.LogFilter{f("created_at", "gt", "2026-03-01T09:59:59.999Z")}},
		{query: "filters.key=model&filters.operator=contains&filters.value=gpt&filters.value=claude", want: []events.LogFilter{f("model", "contains", "gpt", "claude")}},
		{query: "filters.key=cost&filters.key=metadata.key&filters.operator=gt&filters.operator=eq&filters.value=1&filters.value=team",
			want: []events.LogFilter{f("cost", "gt", "1"), f("metadata.key", "eq", "team")}},
		{query: "limit=5&order_by=cost", del: true, badAt: "order_by", message: "created_at only"},
		{query: "order_by=cost", del: true},
		{query: "limit=5&filters.key=id&filters.operator=eq&filters.value=x", del: true, limit: 5, want: []events.LogFilter{f("id", "eq", "x")}},
		{query: "page=2", del: true, badAt: "page", message: "not supported"},
		{query: "color=red", badAt: "color", message: "not supported"},
		{query: "success=maybe", badAt: "success", message: "true or false"},
		{query: "feedback=2", badAt: "feedback", message: "thumbs up"},
		{query: "min_cost=cheap", badAt: "min_cost", message: "number"},
		{query: "start_date=yesterday", badAt: "start_date", message: "RFC 3339"},
		{query: "filters.key=user_agent&filters.operator=eq&filters.value=curl", badAt: "filters", message: `"user_agent" is not supported`},
		{query: "filters.key=authentication&filters.operator=eq&filters.value=true", badAt: "filters", message: `"authentication" is not supported`},
		{query: "filters.key=cost&filters.operator=contains&filters.value=1", badAt: "filters", message: "operator"},
		{query: "filters.key=created_at&filters.operator=eq&filters.value=2026-03-01T10:00:00Z", want: []events.LogFilter{f("created_at", "eq", "2026-03-01T10:00:00Z")}},
		{query: "filters.key=created_at&filters.operator=contains&filters.value=2026", badAt: "filters", message: "operator"},
		{query: "filters.key=tokens&filters.operator=gt&filters.value=many", badAt: "filters", message: "number"},
		{query: "filters.key=a&filters.key=b&filters.operator=eq&filters.operator=eq&filters.value=1", badAt: "filters", message: "exactly one"},
		{query: "filters.key=model&filters.value=x", badAt: "filters", message: "filters.operator"},
		{query: "per_page=0", badAt: "per_page", message: "positive"},
		{query: "direction=up", badAt: "direction", message: "asc or desc"},
	}
	for _, c := range cases {
		t.Run(c.query, func(t *testing.T) {
			var ctx fasthttp.RequestCtx
			ctx.Request.SetRequestURI("/x?" + c.query)
			q, limit, aerr := logQueryArgs(&ctx, "acc", "gw", c.del)
			if c.badAt != "" {
				if aerr == nil || !slices.Equal(aerr.Path, []string{"query", c.badAt}) || !strings.Contains(aerr.Message, c.message) {
					t.Fatalf("want 400 at %s (%q), got %+v", c.badAt, c.message, aerr)
				}
				return
			}
			if aerr != nil {
				t.Fatalf("unexpected error %+v", aerr)
			}
			if limit != c.limit || fmt.Sprint(q.Filters) != fmt.Sprint(c.want) {
				t.Fatalf("got filters %v limit %d, want %v limit %d", q.Filters, limit, c.want, c.limit)
			}
		})
	}
}

func TestParseFeedback(t *testing.T) {
	cases := []struct {
		body, badAt string
	}{
		{`{"feedback":-1}`, ""},
		{`{"score":0,"metadata":{"a":"b","n":1,"ok":false}}`, ""},
		{`{"feedback":0.5}`, "feedback"},
		{`{"score":101}`, "score"},
		{`{"score":null}`, "score"},
		{`{"score":"high"}`, "score"},
		{`{"metadata":{"o":{"nested":true}}}`, "metadata.o"},
		{`{"metadata":[1]}`, "metadata"},
		{`{"rating":5}`, "rating"},
		{`{}`, ""},
		{`[]`, ""},
	}
	for _, c := range cases {
		t.Run(c.body, func(t *testing.T) {
			_, aerr := parseFeedback([]byte(c.body))
			valid := c.badAt == "" && c.body != "{}" && c.body != "[]"
			if valid != (aerr == nil) {
				t.Fatalf("valid %v, got %+v", valid, aerr)
			}
			if aerr != nil && c.badAt != "" && !slices.Equal(aerr.Path, []string{"body", c.badAt}) {
				t.Fatalf("path %v, want body.%s", aerr.Path, c.badAt)
			}
		})
	}
}
