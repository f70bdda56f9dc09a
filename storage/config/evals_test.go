// evals_test.go: datasets (validation with field paths, update and delete, conversion to
// log filters) and evaluations (the evaluators over a known set of logs, validation of
// the create body, stored results, replay, and what a gateway's deletion takes with it).
package config_test

import (
	"encoding/json"
	"errors"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/switchyard/switchyard/events"
	"github.com/switchyard/switchyard/storage/config"
)

func mustDataset(t *testing.T, svc *config.Service, gw, body string) *config.Dataset {
	t.Helper()
	d, err := svc.CreateDataset(bg, actor, acct, gw, []byte(body))
	if err != nil {
		t.Fatalf("CreateDataset(%s): %v", body, err)
	}
	return d
}

func TestCreateDatasetValidation(t *testing.T) {
	svc, _, _ := newSvc(t)
	mustGateway(t, svc, acct, `{"id":"gw"}`)
	f := func(s string) string { return `{"name":"n","enable":true,"filters":[` + s + `]}` }
	cases := []struct {
		name, body string
		path       []string
	}{
		{"empty name", `{"name":"  ","filters":[]}`, []string{"body", "name"}},
		{"no name", `{"filters":[]}`, []string{"body", "name"}},
		{"name too long", `{"name":"` + strings.Repeat("x", 201) + `","filters":[]}`, []string{"body", "name"}},
		{"no filters", `{"name":"n"}`, []string{"body", "filters"}},
		{"filters not a list", `{"name":"n","filters":"provider"}`, []string{"body", "filters"}},
		{"unknown key", f(`{"key":"colour","operator":"eq","value":["red"]}`), []string{"body", "filters", "0", "key"}},
		{"unknown operator", f(`{"key":"provider","operator":"neq","value":["openai"]}`), []string{"body", "filters", "0", "operator"}},
		{"lt on text", f(`{"key":"model","operator":"lt","value":["a"]}`), []string{"body", "filters", "0", "operator"}},
		{"contains on number", f(`{"key":"cost","operator":"contains","value":[1]}`), []string{"body", "filters", "0", "operator"}},
		{"contains on time", f(`{"key":"created_at","operator":"contains","value":["2025-01-01T00:00:00Z"]}`), []string{"body", "filters", "0", "operator"}},
		{"eq on a time placeholder", f(`{"key":"created_at","operator":"eq","value":["string"]}`), []string{"body", "filters", "0", "value"}},
		{"no value", f(`{"key":"provider","operator":"eq","value":[]}`), []string{"body", "filters", "0", "value"}},
		{"two values for gt", f(`{"key":"cost","operator":"gt","value":[1,2]}`), []string{"body", "filters", "0", "value"}},
		{"text as number", f(`{"key":"provider","operator":"eq","value":[3]}`), []string{"body", "filters", "0", "value"}},
		{"number as word", f(`{"key":"tokens_in","operator":"gt","value":["many"]}`), []string{"body", "filters", "0", "value"}},
		{"negative duration", f(`{"key":"duration","operator":"lt","value":[-5]}`), []string{"body", "filters", "0", "value"}},
		{"bool as number", f(`{"key":"success","operator":"eq","value":[1]}`), []string{"body", "filters", "0", "value"}},
		{"feedback 2", f(`{"key":"feedback","operator":"eq","value":[2]}`), []string{"body", "filters", "0", "value"}},
		{"bad time", f(`{"key":"created_at","operator":"gt","value":["yesterday"]}`), []string{"body", "filters", "0", "value"}},
		{"object value", f(`{"key":"model","operator":"eq","value":[{"a":1}]}`), []string{"body", "filters", "0", "value"}},
		{"second filter bad", f(`{"key":"provider","operator":"eq","value":["openai"]},{"key":"cached","operator":"gt","value":[true]}`), []string{"body", "filters", "1", "operator"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := svc.CreateDataset(bg, actor, acct, "gw", []byte(c.body))
			wantErr(t, err, 400, config.CodeInvalid, c.path...)
		})
	}
	_, err := svc.CreateDataset(bg, actor, acct, "nosuch", []byte(`{"name":"n","filters":[]}`))
	wantErr(t, err, 404, config.CodeNotFound, "path", "gateway_id")
	if n := len(snap(svc).Datasets(acct, "gw")); n != 0 {
		t.Fatalf("refused writes stored %d datasets", n)
	}
}

func TestDatasetFiltersAccepted(t *testing.T) {
	svc, _, _ := newSvc(t)
	mustGateway(t, svc, acct, `{"id":"gw"}`)
	d := mustDataset(t, svc, "gw", `{"name":"all kinds","filters":[
		{"key":"provider","operator":"eq","value":["openai","anthropic"]},
		{"key":"model","operator":"contains","value":["gpt"]},
		{"key":"success","operator":"eq","value":[true]},
		{"key":"cached","operator":"eq","value":["false"]},
		{"key":"cost","operator":"gt","value":[0.00125]},
		{"key":"tokens","operator":"lt","value":["1e3"]},
		{"key":"duration","operator":"eq","value":[250]},
		{"key":"feedback","operator":"eq","value":[-1, 1]},
		{"key":"created_at","operator":"gt","value":["2025-03-01T12:00:00+02:00"]},
		{"key":"created_at","operator":"eq","value":["2025-03-01T12:00:00.250+02:00","2025-03-02T00:00:00Z"]},
		{"key":"request_content_type","operator":"contains","value":["json"]}]}`)
	if !d.Enable {
		t.Error("enable should default to true")
	}
	want := []events.LogFilter{
		{Key: "provider", Operator: "eq", Values: []string{"openai", "anthropic"}},
		{Key: "model", Operator: "contains", Values: []string{"gpt"}},
		{Key: "success", Operator: "eq", Values: []string{"true"}},
		{Key: "cached", Operator: "eq", Values: []string{"false"}},
		{Key: "cost", Operator: "gt", Values: []string{"0.00125"}},
		{Key: "tokens", Operator: "lt", Values: []string{"1000"}},
		{Key: "duration", Operator: "eq", Values: []string{"250"}},
		{Key: "feedback", Operator: "eq", Values: []string{"-1", "1"}},
		{Key: "created_at", Operator: "gt", Values: []string{"2025-03-01T10:00:00Z"}},
		{Key: "created_at", Operator: "eq", Values: []string{"2025-03-01T10:00:00.25Z", "2025-03-02T00:00:00Z"}},
		{Key: "request_content_type", Operator: "contains", Values: []string{"json"}},
	}
	for i, f := range snap(svc).Dataset(acct, "gw", d.ID).Filters {
		if got := f.LogFilter(); !reflect.DeepEqual(got, want[i]) {
			t.Errorf("filter %d: LogFilter() = %+v, want %+v", i, got, want[i])
		}
	}
	// Values are answered as sent (the hosted shape echoes them).
	if v := d.Filters[3].Value[0]; v != "false" {
		t.Errorf("value kept as %#v, want the string sent", v)
	}
}

func TestUpdateDeleteDataset(t *testing.T) {
	svc, log, clk := newSvc(t)
	mustGateway(t, svc, acct, `{"id":"gw"}`)
	mustGateway(t, svc, acct, `{"id":"gw2"}`)
	d := mustDataset(t, svc, "gw", `{"name":"openai","enable":true,"filters":[{"key":"provider","operator":"eq","value":["openai"]}]}`)
	_, c := decodeEvent(t, log.Events[len(log.Events)-1])
	if c.Resource != config.ResDataset || c.Action != "create" || c.ResourceID != d.ID || c.GatewayID != "gw" {
		t.Fatalf("create event = %+v", c)
	}
	if snap(svc).Dataset(acct, "gw2", d.ID) != nil || snap(svc).Dataset("other", "gw", d.ID) != nil {
		t.Fatal("a dataset is visible from another gateway or account")
	}

	clk.set(t0.Add(time.Hour))
	u, err := svc.UpdateDataset(bg, actor, acct, "gw", d.ID, []byte(`{"enable":false}`))
	if err != nil {
		t.Fatal(err)
	}
	if u.Enable || u.Name != "openai" || len(u.Filters) != 1 || !u.CreatedAt.Equal(t0) || !u.ModifiedAt.Equal(t0.Add(time.Hour)) {
		t.Fatalf("partial update = %+v", u)
	}
	u, err = svc.UpdateDataset(bg, actor, acct, "gw", d.ID, []byte(`{"name":"all","enable":true,"filters":[]}`))
	if err != nil || u.Name != "all" || len(u.Filters) != 0 || !u.Enable {
		t.Fatalf("full update = %+v, %v", u, err)
	}
	if got := snap(svc).Dataset(acct, "gw", d.ID); got.Name != "all" {
		t.Fatalf("update not visible on the next read: %+v", got)
	}
	_, err = svc.UpdateDataset(bg, actor, acct, "gw", d.ID, []byte(`{"filters":[{"key":"nope","operator":"eq","value":["x"]}]}`))
	wantErr(t, err, 400, config.CodeInvalid, "body", "filters", "0", "key")
	_, err = svc.UpdateDataset(bg, actor, acct, "gw2", d.ID, []byte(`{"enable":true}`))
	wantErr(t, err, 404, config.CodeNotFound, "path", "id")

	if _, err := svc.DeleteDataset(bg, actor, acct, "gw", d.ID); err != nil {
		t.Fatal(err)
	}
	if snap(svc).Dataset(acct, "gw", d.ID) != nil {
		t.Fatal("deleted dataset still there")
	}
	_, err = svc.DeleteDataset(bg, actor, acct, "gw", d.ID)
	wantErr(t, err, 404, config.CodeNotFound, "path", "id")
}

func f64(v float64) *float64 { return &v }

// evalLogs is a fixed set of logs: ten logs, d1 holds 1-6 and d2 holds 5-10.
func evalLogs() map[string][]config.EvalSample {
	all := []config.EvalSample{
		{ID: "l01", Cost: f64(0.001), DurationMs: 100, Feedback: 1},
		{ID: "l02", Cost: f64(0.002), DurationMs: 200, Feedback: 1},
		{ID: "l03", Cost: nil, DurationMs: 300, Feedback: -1},
		{ID: "l04", Cost: f64(0.003), DurationMs: 400},
		{ID: "l05", Cost: f64(0.004), DurationMs: 500, Feedback: 1},
		{ID: "l06", Cost: nil, DurationMs: 600},
		{ID: "l07", Cost: f64(0.005), DurationMs: 700, Feedback: -1},
		{ID: "l08", Cost: f64(0.006), DurationMs: 800},
		{ID: "l09", Cost: f64(0.007), DurationMs: 900, Feedback: 1},
		{ID: "l10", Cost: f64(0), DurationMs: 1000},
	}
	return map[string][]config.EvalSample{"d1": all[:6], "d2": all[4:]}
}

func TestEvaluate(t *testing.T) {
	logs := evalLogs()
	all := append(append([]config.EvalSample{}, logs["d1"]...), logs["d2"][2:]...)
	cases := []struct {
		name, typ string
		samples   []config.EvalSample
		want      any
		status    int
		used      int
	}{
		{"cost over ten", config.EvalCost, all,
			config.CostResult{TotalCostUSD: 0.028, AverageCostUSD: 0.0035, Logs: 8, LogsWithoutCost: 2}, config.EvalStatusCompleted, 8},
		{"cost without prices", config.EvalCost, []config.EvalSample{{ID: "a"}, {ID: "b"}},
			config.CostResult{LogsWithoutCost: 2}, config.EvalStatusError, 0},
		{"speed over ten", config.EvalSpeed, all,
			config.SpeedResult{AverageMs: 550, P50Ms: 500, P95Ms: 1000, Logs: 10}, config.EvalStatusCompleted, 10},
		{"speed of one", config.EvalSpeed, all[:1],
			config.SpeedResult{AverageMs: 100, P50Ms: 100, P95Ms: 100, Logs: 1}, config.EvalStatusCompleted, 1},
		{"speed of none", config.EvalSpeed, nil, config.SpeedResult{}, config.EvalStatusError, 0},
		{"feedback over ten", config.EvalHumanFeedback, all,
			config.FeedbackResult{PositiveShare: 0.6667, Positive: 4, Negative: 2, Logs: 6, LogsWithoutFeedback: 4}, config.EvalStatusCompleted, 6},
		{"feedback none given", config.EvalHumanFeedback, all[3:4],
			config.FeedbackResult{LogsWithoutFeedback: 1}, config.EvalStatusError, 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, status, desc, used := config.Evaluate(c.typ, c.samples)
			if !reflect.DeepEqual(got, c.want) || status != c.status || used != c.used || desc == "" {
				t.Errorf("Evaluate = %+v, %d, %q, %d; want %+v, %d, %d", got, status, desc, used, c.want, c.status, c.used)
			}
		})
	}
}

// reader answers the fixed logs by dataset name, recording the limit asked for.
func reader(logs map[string][]config.EvalSample, matched map[string]int) config.EvalLogs {
	return func(d *config.Dataset, limit int) ([]config.EvalSample, int, error) {
		if limit != config.MaxEvalLogs {
			return nil, 0, errors.New("unexpected limit")
		}
		got := logs[d.Name]
		if m, ok := matched[d.Name]; ok {
			return got, m, nil
		}
		return got, len(got), nil
	}
}

func TestCreateEvaluation(t *testing.T) {
	svc, log, clk := newSvc(t)
	mustGateway(t, svc, acct, `{"id":"gw"}`)
	d1 := mustDataset(t, svc, "gw", `{"name":"d1","filters":[{"key":"provider","operator":"eq","value":["openai"]}]}`)
	d2 := mustDataset(t, svc, "gw", `{"name":"d2","filters":[]}`)
	clk.set(t0.Add(time.Minute))
	body := `{"name":"first","dataset_ids":["` + d1.ID + `","` + d2.ID + `","` + d1.ID + `"],"evaluation_type_ids":["human-feedback"]}`
	ev, err := svc.CreateEvaluation(bg, actor, acct, "gw", []byte(body), reader(evalLogs(), nil))
	if err != nil {
		t.Fatal(err)
	}
	if ev.Name != "first" || !ev.Processed || ev.TotalLogs != 10 || len(ev.Datasets) != 2 || ev.Datasets[0].ID != d1.ID ||
		ev.GatewayID != "gw" || ev.AccountID != acct || !ev.CreatedAt.Equal(t0.Add(time.Minute)) {
		t.Fatalf("evaluation = %+v", ev)
	}
	// cost and speed are mandatory: they run although only human feedback was asked for.
	wantTypes := []string{config.EvalCost, config.EvalSpeed, config.EvalHumanFeedback}
	wantUsed := []int{8, 10, 6}
	if len(ev.Results) != 3 {
		t.Fatalf("results = %+v", ev.Results)
	}
	for i, r := range ev.Results {
		if r.EvaluationTypeID != wantTypes[i] || r.EvaluationID != ev.ID || r.TotalLogs != wantUsed[i] ||
			r.Status != config.EvalStatusCompleted || r.ID == "" || r.StatusDescription == "" {
			t.Errorf("result %d = %+v", i, r)
		}
	}
	var fb config.FeedbackResult
	if err := json.Unmarshal([]byte(ev.Results[2].Result), &fb); err != nil || fb.Positive != 4 || fb.Negative != 2 || fb.PositiveShare != 0.6667 {
		t.Errorf("human feedback result %q (%v)", ev.Results[2].Result, err)
	}
	var cost config.CostResult
	if err := json.Unmarshal([]byte(ev.Results[0].Result), &cost); err != nil || cost.TotalCostUSD != 0.028 || cost.AverageCostUSD != 0.0035 {
		t.Errorf("cost result %q (%v)", ev.Results[0].Result, err)
	}

	// Stored as an event and read back; the dataset copy does not follow later edits.
	_, c := decodeEvent(t, log.Events[len(log.Events)-1])
	if c.Resource != config.ResEvaluation || c.Action != "create" || c.ResourceID != ev.ID {
		t.Fatalf("event = %+v", c)
	}
	if _, err := svc.UpdateDataset(bg, actor, acct, "gw", d1.ID, []byte(`{"name":"renamed"}`)); err != nil {
		t.Fatal(err)
	}
	got := snap(svc).Evaluation(acct, "gw", ev.ID)
	if got == nil || !reflect.DeepEqual(got.Results, ev.Results) || got.Datasets[0].Name != "d1" {
		t.Fatalf("stored evaluation = %+v", got)
	}
	if l := snap(svc).Evaluations(acct, "gw"); len(l) != 1 || l[0].ID != ev.ID {
		t.Fatalf("list = %+v", l)
	}

	// Replaying the log rebuilds the same evaluation.
	sealer, _ := config.NewSealer(make([]byte, 32))
	p := config.NewProjection(log, sealer, nil)
	for _, m := range log.Events {
		if err := p.Apply(m); err != nil {
			t.Fatal(err)
		}
	}
	if r := p.Current().Evaluation(acct, "gw", ev.ID); !reflect.DeepEqual(r, got) {
		t.Fatalf("replayed evaluation differs:\n%+v\n%+v", r, got)
	}

	// A dataset holding more logs than an evaluation reads says so.
	big, err := svc.CreateEvaluation(bg, actor, acct, "gw", []byte(`{"name":"big","dataset_ids":["`+d2.ID+`"],"evaluation_type_ids":["cost"]}`),
		reader(map[string][]config.EvalSample{"d2": evalLogs()["d2"]}, map[string]int{"d2": 25000}))
	if err != nil {
		t.Fatal(err)
	}
	if len(big.Results) != 2 || !strings.Contains(big.Results[0].StatusDescription, "the newest 6 logs, of at least 25000") {
		t.Errorf("capped evaluation results = %+v", big.Results)
	}

	if _, err := svc.DeleteEvaluation(bg, actor, acct, "gw", ev.ID); err != nil {
		t.Fatal(err)
	}
	if snap(svc).Evaluation(acct, "gw", ev.ID) != nil {
		t.Fatal("deleted evaluation still there")
	}
	_, err = svc.DeleteEvaluation(bg, actor, acct, "gw", ev.ID)
	wantErr(t, err, 404, config.CodeNotFound, "path", "id")
}

func TestCreateEvaluationRefused(t *testing.T) {
	svc, _, _ := newSvc(t)
	mustGateway(t, svc, acct, `{"id":"gw"}`)
	mustGateway(t, svc, acct, `{"id":"gw2"}`)
	d := mustDataset(t, svc, "gw", `{"name":"d1","filters":[]}`)
	off := mustDataset(t, svc, "gw", `{"name":"off","enable":false,"filters":[]}`)
	elsewhere := mustDataset(t, svc, "gw2", `{"name":"d1","filters":[]}`)
	read := reader(evalLogs(), nil)
	if _, err := svc.CreateEvaluation(bg, actor, acct, "gw", []byte(`{"name":"taken","dataset_ids":["`+d.ID+`"],"evaluation_type_ids":["cost"]}`), read); err != nil {
		t.Fatal(err)
	}
	ds := func(ids ...string) string { return `["` + strings.Join(ids, `","`) + `"]` }
	cases := []struct {
		name, gw, body string
		status, code   int
		path           []string
	}{
		{"no name", "gw", `{"dataset_ids":` + ds(d.ID) + `,"evaluation_type_ids":["cost"]}`, 400, config.CodeInvalid, []string{"body", "name"}},
		{"duplicate name", "gw", `{"name":"taken","dataset_ids":` + ds(d.ID) + `}`, 409, config.CodeConflict, []string{"body", "name"}},
		{"no datasets", "gw", `{"name":"n","dataset_ids":[],"evaluation_type_ids":["cost"]}`, 400, config.CodeInvalid, []string{"body", "dataset_ids"}},
		{"unknown dataset", "gw", `{"name":"n","dataset_ids":` + ds(d.ID, "nope") + `}`, 400, config.CodeInvalid, []string{"body", "dataset_ids", "1"}},
		{"other gateway's dataset", "gw", `{"name":"n","dataset_ids":` + ds(elsewhere.ID) + `}`, 400, config.CodeInvalid, []string{"body", "dataset_ids", "0"}},
		{"disabled dataset", "gw", `{"name":"n","dataset_ids":` + ds(off.ID) + `}`, 400, config.CodeInvalid, []string{"body", "dataset_ids", "0"}},
		{"unknown type", "gw", `{"name":"n","dataset_ids":` + ds(d.ID) + `,"evaluation_type_ids":["cost","accuracy"]}`, 400, config.CodeInvalid, []string{"body", "evaluation_type_ids", "1"}},
		{"ids not strings", "gw", `{"name":"n","dataset_ids":[1]}`, 400, config.CodeInvalid, []string{"body", "dataset_ids", "0"}},
		{"unknown gateway", "nosuch", `{"name":"n","dataset_ids":` + ds(d.ID) + `}`, 404, config.CodeNotFound, []string{"path", "gateway_id"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := svc.CreateEvaluation(bg, actor, acct, c.gw, []byte(c.body), read)
			wantErr(t, err, c.status, c.code, c.path...)
		})
	}
	failing := func(*config.Dataset, int) ([]config.EvalSample, int, error) {
		return nil, 0, errors.New("disk on fire")
	}
	_, err := svc.CreateEvaluation(bg, actor, acct, "gw", []byte(`{"name":"n","dataset_ids":`+ds(d.ID)+`}`), failing)
	wantErr(t, err, 500, config.CodeWriteFailed)
	if n := len(snap(svc).Evaluations(acct, "gw")); n != 1 {
		t.Fatalf("refused evaluations were stored: %d", n)
	}
}

func TestEvaluationTypes(t *testing.T) {
	types := config.EvaluationTypes()
	var ids []string
	for _, ty := range types {
		ids = append(ids, ty.ID)
		if ty.Name == "" || ty.Description == "" || ty.Type == "" || !ty.Enable || ty.CreatedAt.IsZero() {
			t.Errorf("type %+v incomplete", ty)
		}
		if ty.Mandatory != (ty.ID != config.EvalHumanFeedback) {
			t.Errorf("type %s mandatory = %v", ty.ID, ty.Mandatory)
		}
	}
	if !reflect.DeepEqual(ids, []string{"cost", "speed", "human-feedback"}) {
		t.Fatalf("ids = %v", ids)
	}
	types[0].Name = "changed"
	if config.EvaluationTypes()[0].Name != "Cost" {
		t.Fatal("EvaluationTypes hands out the table itself")
	}
}

func TestDeleteGatewayDropsDatasetsAndEvaluations(t *testing.T) {
	svc, _, _ := newSvc(t)
	mustGateway(t, svc, acct, `{"id":"gw"}`)
	mustGateway(t, svc, acct, `{"id":"keep"}`)
	d := mustDataset(t, svc, "gw", `{"name":"d1","filters":[]}`)
	kept := mustDataset(t, svc, "keep", `{"name":"d1","filters":[]}`)
	ev, err := svc.CreateEvaluation(bg, actor, acct, "gw", []byte(`{"name":"e","dataset_ids":["`+d.ID+`"]}`), reader(evalLogs(), nil))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := svc.DeleteGateway(bg, actor, acct, "gw"); err != nil {
		t.Fatal(err)
	}
	s := snap(svc)
	if s.Dataset(acct, "gw", d.ID) != nil || s.Evaluation(acct, "gw", ev.ID) != nil {
		t.Fatal("the deleted gateway's dataset or evaluation survived")
	}
	// A gateway created again with the same id starts without them.
	mustGateway(t, svc, acct, `{"id":"gw"}`)
	if len(snap(svc).Datasets(acct, "gw")) != 0 || len(snap(svc).Evaluations(acct, "gw")) != 0 {
		t.Fatal("a new gateway inherited datasets or evaluations")
	}
	if snap(svc).Dataset(acct, "keep", kept.ID) == nil {
		t.Fatal("another gateway's dataset went too")
	}
}

// BenchmarkEvaluate runs the three evaluators over the most logs an evaluation reads from
// one dataset.
func BenchmarkEvaluate(b *testing.B) {
	samples := make([]config.EvalSample, config.MaxEvalLogs)
	for i := range samples {
		samples[i] = config.EvalSample{ID: strconv.Itoa(i), Cost: f64(float64(i%7) / 1000), DurationMs: float64(i%997 + 1), Feedback: i%3 - 1}
	}
	b.ReportAllocs()
	for b.Loop() {
		for _, ty := range []string{config.EvalCost, config.EvalSpeed, config.EvalHumanFeedback} {
			config.Evaluate(ty, samples)
		}
	}
}
