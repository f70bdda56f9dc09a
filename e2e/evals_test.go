// evals_test.go drives datasets, evaluations and evaluation types with the hosted API's Go
// client (cloudflare-go v7) against the real binary: requests go through the data plane
// to the OpenAI and Anthropic mocks, some get feedback, a dataset keeps the OpenAI ones,
// and an evaluation's stored cost, speed and human-feedback numbers must match the logs.
package e2e

import (
	"context"
	"encoding/json"
	"math"
	"net/http"
	"sort"
	"strings"
	"testing"

	"github.com/cloudflare/cloudflare-go/v7"
	"github.com/cloudflare/cloudflare-go/v7/ai_gateway"
	"github.com/cloudflare/cloudflare-go/v7/shared"
	"github.com/openai/openai-go/v3"
	"github.com/switchyard/switchyard/mock"
)

func TestEvaluationsWithHostedClient(t *testing.T) {
	oai, ant := mock.NewOpenAI(), mock.NewAnthropic()
	defer oai.Close()
	defer ant.Close()
	g := startGateway(t, "", []string{"SWITCHYARD_UPSTREAM_OPENAI=" + oai.URL, "SWITCHYARD_UPSTREAM_ANTHROPIC=" + ant.URL})
	api := g.API()
	ctx := context.Background()
	acct := cloudflare.F(account)

	// Four OpenAI requests and two Anthropic ones.
	var openaiIDs []string
	for range 4 {
		var hdr http.Header
		c := openaiClient(g, &hdr)
		if _, err := c.Chat.Completions.New(ctx, openai.ChatCompletionNewParams{
			Model: "gpt-4o-mini", Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("Say hello")},
		}); err != nil {
			t.Fatal(err)
		}
		openaiIDs = append(openaiIDs, hdr.Get("cf-aig-log-id"))
	}
	for range 2 {
		req, _ := http.NewRequest("POST", g.Base("anthropic")+"/v1/messages",
			strings.NewReader(`{"model":"claude-sonnet-4-5","max_tokens":64,"messages":[{"role":"user","content":"Say hello"}]}`))
		req.Header.Set("x-api-key", "sk-ant-test")
		req.Header.Set("anthropic-version", "2023-06-01")
		req.Header.Set("content-type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("anthropic request: %d", resp.StatusCode)
		}
		g.WaitLog(resp.Header.Get("cf-aig-log-id"))
	}
	for _, id := range openaiIDs {
		g.WaitLog(id)
	}

	// Thumbs up on two OpenAI logs, down on one, none on the fourth.
	feedback := map[string]float64{openaiIDs[0]: 1, openaiIDs[1]: 1, openaiIDs[2]: -1}
	withFeedback := true
	for id, fb := range feedback {
		_, err := api.AIGateway.Logs.Edit(ctx, gateway, id, ai_gateway.LogEditParams{AccountID: acct, Feedback: cloudflare.F(fb)})
		var apiErr *cloudflare.Error
		if asError(err, &apiErr) && apiErr.StatusCode == 404 && strings.Contains(apiErr.Error(), "no route") {
			t.Log("PATCH .../logs/{id} is not served: the human-feedback numbers are checked without feedback")
			withFeedback = false
			break
		}
		if err != nil {
			t.Fatalf("feedback on %s: %v", id, err)
		}
	}

	// What the logs say, to compare the evaluation with.
	var costs []float64
	var durations []float64
	up, down := 0, 0
	for _, id := range openaiIDs {
		status, env := apiCall(t, g, token, "GET", "/ai-gateway/gateways/"+gateway+"/logs/"+id, nil)
		rec, _ := env["result"].(map[string]any)
		if status != 200 || rec == nil {
			t.Fatalf("log %s: %d %v", id, status, env)
		}
		if c, ok := rec["cost"].(float64); ok {
			costs = append(costs, c)
		}
		durations = append(durations, rec["duration"].(float64))
		switch fb, _ := rec["feedback"].(float64); fb {
		case 1:
			up++
		case -1:
			down++
		}
	}
	if withFeedback && (up != 2 || down != 1) {
		t.Fatalf("feedback not on the logs: %d up, %d down", up, down)
	}

	types, err := api.AIGateway.EvaluationTypes.List(ctx, ai_gateway.EvaluationTypeListParams{AccountID: acct})
	if err != nil {
		t.Fatal(err)
	}
	var typeIDs []string
	for _, ty := range types.Result {
		typeIDs = append(typeIDs, ty.ID)
	}
	if strings.Join(typeIDs, ",") != "cost,speed,human-feedback" || types.Result[0].Name != "Cost" || !types.Result[0].Mandatory {
		t.Fatalf("evaluation types: %s", types.JSON.RawJSON())
	}

	ds, err := api.AIGateway.Datasets.New(ctx, gateway, ai_gateway.DatasetNewParams{AccountID: acct, Name: cloudflare.F("openai traffic"),
		Enable: cloudflare.F(true), Filters: cloudflare.F([]ai_gateway.DatasetNewParamsFilter{{
			Key:      cloudflare.F(ai_gateway.DatasetNewParamsFiltersKeyProvider),
			Operator: cloudflare.F(ai_gateway.DatasetNewParamsFiltersOperatorEq),
			Value:    cloudflare.F([]ai_gateway.DatasetNewParamsFiltersValueUnion{shared.UnionString("openai")}),
		}})})
	if err != nil {
		t.Fatal(err)
	}
	if ds.Name != "openai traffic" || !ds.Enable || ds.GatewayID != gateway || len(ds.Filters) != 1 ||
		ds.Filters[0].Key != ai_gateway.DatasetNewResponseFiltersKeyProvider || ds.Filters[0].Value[0] != shared.UnionString("openai") {
		t.Fatalf("dataset: %s", ds.JSON.RawJSON())
	}
	// A bad filter is a 400 naming it.
	_, err = api.AIGateway.Datasets.New(ctx, gateway, ai_gateway.DatasetNewParams{AccountID: acct, Name: cloudflare.F("bad"),
		Enable: cloudflare.F(true), Filters: cloudflare.F([]ai_gateway.DatasetNewParamsFilter{{
			Key:      cloudflare.F(ai_gateway.DatasetNewParamsFiltersKeyCost),
			Operator: cloudflare.F(ai_gateway.DatasetNewParamsFiltersOperatorContains),
			Value:    cloudflare.F([]ai_gateway.DatasetNewParamsFiltersValueUnion{shared.UnionFloat(1)}),
		}})})
	var apiErr *cloudflare.Error
	if !asError(err, &apiErr) || apiErr.StatusCode != 400 || !strings.Contains(apiErr.Error(), "operator") {
		t.Fatalf("bad filter: %v", err)
	}
	listed := api.AIGateway.Datasets.ListAutoPaging(ctx, gateway, ai_gateway.DatasetListParams{AccountID: acct, Enable: cloudflare.F(true)})
	n := 0
	for listed.Next() {
		if listed.Current().ID != ds.ID {
			t.Errorf("listed dataset %s", listed.Current().ID)
		}
		n++
	}
	if listed.Err() != nil || n != 1 {
		t.Fatalf("dataset list: %d, %v", n, listed.Err())
	}

	_, err = api.AIGateway.Evaluations.New(ctx, gateway, ai_gateway.EvaluationNewParams{AccountID: acct, Name: cloudflare.F("x"),
		DatasetIDs: cloudflare.F([]string{"no-such-dataset"}), EvaluationTypeIDs: cloudflare.F([]string{"cost"})})
	if !asError(err, &apiErr) || apiErr.StatusCode != 400 || !strings.Contains(apiErr.Error(), "no-such-dataset") {
		t.Fatalf("unknown dataset: %v", err)
	}
	ev, err := api.AIGateway.Evaluations.New(ctx, gateway, ai_gateway.EvaluationNewParams{AccountID: acct, Name: cloudflare.F("gpt-4o-mini baseline"),
		DatasetIDs: cloudflare.F([]string{ds.ID}), EvaluationTypeIDs: cloudflare.F([]string{"cost", "speed", "human-feedback"})})
	if err != nil {
		t.Fatal(err)
	}
	if !ev.Processed || ev.TotalLogs != 4 || len(ev.Datasets) != 1 || ev.Datasets[0].ID != ds.ID || len(ev.Results) != 3 {
		t.Fatalf("evaluation: %s", ev.JSON.RawJSON())
	}
	results := map[string]ai_gateway.EvaluationNewResponseResult{}
	for _, r := range ev.Results {
		results[r.EvaluationTypeID] = r
	}

	var cost struct {
		Total   float64 `json:"total_cost_usd"`
		Average float64 `json:"average_cost_usd"`
		Logs    int     `json:"logs"`
		Without int     `json:"logs_without_cost"`
	}
	decodeResult(t, results["cost"], &cost)
	sum := 0.0
	for _, c := range costs {
		sum += c
	}
	if cost.Logs != len(costs) || cost.Without != 4-len(costs) || math.Abs(cost.Total-sum) > 1e-9 {
		t.Errorf("cost result %s; the logs have costs %v", results["cost"].Result, costs)
	}
	if len(costs) > 0 && (results["cost"].Status != 1 || math.Abs(cost.Average-sum/float64(len(costs))) > 1e-9) {
		t.Errorf("cost result %s", results["cost"].JSON.RawJSON())
	}

	var speed struct {
		Average float64 `json:"average_ms"`
		P50     float64 `json:"p50_ms"`
		P95     float64 `json:"p95_ms"`
		Logs    int     `json:"logs"`
	}
	decodeResult(t, results["speed"], &speed)
	sort.Float64s(durations)
	total := 0.0
	for _, d := range durations {
		total += d
	}
	if speed.Logs != 4 || results["speed"].TotalLogs != 4 || math.Abs(speed.Average-total/4) > 0.01 ||
		speed.P50 != durations[1] || speed.P95 != durations[3] || results["speed"].Status != 1 {
		t.Errorf("speed result %s; durations %v", results["speed"].Result, durations)
	}

	var human struct {
		Share    float64 `json:"positive_share"`
		Positive int     `json:"positive"`
		Negative int     `json:"negative"`
		Logs     int     `json:"logs"`
	}
	decodeResult(t, results["human-feedback"], &human)
	if withFeedback {
		if human.Positive != 2 || human.Negative != 1 || human.Share != 0.6667 || results["human-feedback"].TotalLogs != 3 || results["human-feedback"].Status != 1 {
			t.Errorf("human feedback result %s", results["human-feedback"].JSON.RawJSON())
		}
	} else if human.Logs != 0 || results["human-feedback"].Status != 2 {
		t.Errorf("human feedback without feedback: %s", results["human-feedback"].JSON.RawJSON())
	}

	// Read back, listed, kept across a restart (rebuilt from the event log), then deleted.
	check := func(when string) {
		t.Helper()
		got, err := api.AIGateway.Evaluations.Get(ctx, gateway, ev.ID, ai_gateway.EvaluationGetParams{AccountID: acct})
		if err != nil {
			t.Fatalf("%s: %v", when, err)
		}
		if got.Name != ev.Name || got.TotalLogs != 4 || len(got.Results) != 3 {
			t.Fatalf("%s: %s", when, got.JSON.RawJSON())
		}
		for _, r := range got.Results {
			if r.Result != results[r.EvaluationTypeID].Result || r.ID != results[r.EvaluationTypeID].ID {
				t.Errorf("%s: result %s = %s, created as %s", when, r.EvaluationTypeID, r.Result, results[r.EvaluationTypeID].Result)
			}
		}
		page, err := api.AIGateway.Evaluations.List(ctx, gateway, ai_gateway.EvaluationListParams{AccountID: acct, Processed: cloudflare.F(true)})
		if err != nil || len(page.Result) != 1 || page.Result[0].ID != ev.ID {
			t.Fatalf("%s: list %v %v", when, page, err)
		}
	}
	check("after create")
	g.Stop()
	g.Restart()
	api = g.API() // the restarted process listens on a new port
	check("after restart")
	if _, err := api.AIGateway.Evaluations.Delete(ctx, gateway, ev.ID, ai_gateway.EvaluationDeleteParams{AccountID: acct}); err != nil {
		t.Fatal(err)
	}
	if _, err := api.AIGateway.Evaluations.Get(ctx, gateway, ev.ID, ai_gateway.EvaluationGetParams{AccountID: acct}); !asError(err, &apiErr) || apiErr.StatusCode != 404 {
		t.Fatalf("deleted evaluation: %v", err)
	}
	if _, err := api.AIGateway.Datasets.Delete(ctx, gateway, ds.ID, ai_gateway.DatasetDeleteParams{AccountID: acct}); err != nil {
		t.Fatal(err)
	}
}

// decodeResult reads an evaluation result's JSON string.
func decodeResult(t *testing.T, r ai_gateway.EvaluationNewResponseResult, v any) {
	t.Helper()
	if err := json.Unmarshal([]byte(r.Result), v); err != nil {
		t.Fatalf("result of %s is not a JSON object: %q", r.EvaluationTypeID, r.Result)
	}
}
