// evaluations.go: the built-in evaluation types (cost, speed, human feedback) and
// evaluations, in the hosted shape (cloudflare-go v7 ai_gateway.Evaluation*). Creating an
// evaluation runs it at once over the logs of its datasets; the results are stored in the
// evaluation's config.changed event ("evaluation") and never change afterwards, like the
// hosted product, where "evaluations do not [update]: create a new one for new logs".
package config

import (
	"context"
	"fmt"
	"math"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	json "github.com/goccy/go-json"
	"github.com/google/uuid"
	"github.com/switchyard/switchyard/events"
)

// Evaluation type ids: stable, and what evaluation_type_ids refers to.
const (
	EvalCost          = "cost"
	EvalSpeed         = "speed"
	EvalHumanFeedback = "human-feedback"
)

// Result statuses: the hosted field is a number. An evaluation runs when it is created,
// so a stored result is either completed or in error (no log of the datasets carries
// what the type measures).
const (
	EvalStatusCompleted = 1
	EvalStatusError     = 2
)

const (
	maxEvalDatasets = 10
	// MaxEvalLogs bounds the logs an evaluation reads from one dataset: the newest ones.
	MaxEvalLogs = 10000
)

// EvaluationType is a built-in evaluator as GET .../evaluation-types lists it.
type EvaluationType struct {
	ID          string    `json:"id"`
	Name        string    `json:"name"`
	Description string    `json:"description"`
	Type        string    `json:"type"`
	Enable      bool      `json:"enable"`
	Mandatory   bool      `json:"mandatory"`
	CreatedAt   time.Time `json:"created_at"`
	ModifiedAt  time.Time `json:"modified_at"`
}

var evalTypesSince = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// evaluationTypes are the evaluators of the reference's "Set up Evaluations": cost and
// speed are mandatory (every evaluation computes them), human feedback is optional.
var evaluationTypes = []EvaluationType{
	{ID: EvalCost, Name: "Cost", Type: "cost", Enable: true, Mandatory: true, CreatedAt: evalTypesSince, ModifiedAt: evalTypesSince,
		Description: "Total and average cost in USD of the requests in the dataset, over the requests with cost data (a known price or cf-aig-custom-cost)."},
	{ID: EvalSpeed, Name: "Speed", Type: "speed", Enable: true, Mandatory: true, CreatedAt: evalTypesSince, ModifiedAt: evalTypesSince,
		Description: "Average, median (p50) and p95 duration in milliseconds of the requests in the dataset."},
	{ID: EvalHumanFeedback, Name: "Human feedback", Type: "performance", Enable: true, CreatedAt: evalTypesSince, ModifiedAt: evalTypesSince,
		Description: "Share of positive feedback (thumbs up) among the requests given feedback with PATCH .../logs/{id}, and the counts of thumbs up and down."},
}

// EvaluationTypes lists the built-in evaluation types.
func EvaluationTypes() []EvaluationType { return slices.Clone(evaluationTypes) }

func evaluationType(id string) *EvaluationType {
	for i := range evaluationTypes {
		if evaluationTypes[i].ID == id {
			return &evaluationTypes[i]
		}
	}
	return nil
}

// Evaluation is one run of evaluators over datasets, with its stored results. Datasets are
// copies taken when it ran.
type Evaluation struct {
	ID         string             `json:"id"`
	AccountID  string             `json:"account_id"`
	AccountTag string             `json:"account_tag"`
	GatewayID  string             `json:"gateway_id"`
	Name       string             `json:"name"`
	Datasets   []Dataset          `json:"datasets"`
	Processed  bool               `json:"processed"`
	Results    []EvaluationResult `json:"results"`
	TotalLogs  int                `json:"total_logs"`
	CreatedAt  time.Time          `json:"created_at"`
	ModifiedAt time.Time          `json:"modified_at"`
}

// EvaluationResult is one evaluator's outcome. Result is a JSON object in a string (the
// hosted field is a string): see CostResult, SpeedResult and FeedbackResult. TotalLogs is
// the number of logs the metric was computed over.
type EvaluationResult struct {
	ID                string    `json:"id"`
	EvaluationID      string    `json:"evaluation_id"`
	EvaluationTypeID  string    `json:"evaluation_type_id"`
	Name              string    `json:"name"`
	Result            string    `json:"result"`
	Status            int       `json:"status"`
	StatusDescription string    `json:"status_description"`
	TotalLogs         int       `json:"total_logs"`
	CreatedAt         time.Time `json:"created_at"`
	ModifiedAt        time.Time `json:"modified_at"`
}

// CostResult is the result of the cost evaluator, over the logs with a known cost.
type CostResult struct {
	TotalCostUSD    float64 `json:"total_cost_usd"`
	AverageCostUSD  float64 `json:"average_cost_usd"`
	Logs            int     `json:"logs"`
	LogsWithoutCost int     `json:"logs_without_cost"`
}

// SpeedResult is the result of the speed evaluator: request durations in milliseconds
// (p50 and p95 by nearest rank).
type SpeedResult struct {
	AverageMs float64 `json:"average_ms"`
	P50Ms     float64 `json:"p50_ms"`
	P95Ms     float64 `json:"p95_ms"`
	Logs      int     `json:"logs"`
}

// FeedbackResult is the result of the human-feedback evaluator, over the logs given
// thumbs up (1) or down (-1); PositiveShare is between 0 and 1.
type FeedbackResult struct {
	PositiveShare       float64 `json:"positive_share"`
	Positive            int     `json:"positive"`
	Negative            int     `json:"negative"`
	Logs                int     `json:"logs"`
	LogsWithoutFeedback int     `json:"logs_without_feedback"`
}

// EvalSample is what the evaluators read of one log record.
type EvalSample struct {
	ID         string
	Cost       *float64
	DurationMs float64
	Feedback   int // -1, 0 (none) or 1
}

// EvalLogs reads the logs of one dataset of gateway gw, newest first, at most limit of
// them; it answers them and how many logs the dataset holds in all (a lower bound when
// there are more than limit: the logs projection stops counting a filtered list).
type EvalLogs func(d *Dataset, limit int) (samples []EvalSample, matched int, err error)

func round(v float64, digits int) float64 {
	p := math.Pow(10, float64(digits))
	return math.Round(v*p) / p
}

// nearestRank is the q-quantile of sorted values by the nearest-rank method.
func nearestRank(sorted []float64, q float64) float64 {
	i := int(math.Ceil(q*float64(len(sorted)))) - 1
	return sorted[max(i, 0)]
}

// Evaluate computes one evaluator over samples: its result object, status, description and
// the number of logs used. It is a pure function of its input.
func Evaluate(typeID string, samples []EvalSample) (result any, status int, desc string, used int) {
	switch typeID {
	case EvalCost:
		var r CostResult
		for _, s := range samples {
			if s.Cost == nil {
				r.LogsWithoutCost++
				continue
			}
			r.TotalCostUSD += *s.Cost
			r.Logs++
		}
		if r.Logs > 0 {
			r.AverageCostUSD = round(r.TotalCostUSD/float64(r.Logs), 12)
		}
		r.TotalCostUSD = round(r.TotalCostUSD, 12)
		if r.Logs == 0 {
			return r, EvalStatusError, "no log of the datasets has cost data", 0
		}
		return r, EvalStatusCompleted, fmt.Sprintf("completed over %d logs with cost data", r.Logs), r.Logs
	case EvalSpeed:
		var r SpeedResult
		ds := make([]float64, 0, len(samples))
		sum := 0.0
		for _, s := range samples {
			ds = append(ds, s.DurationMs)
			sum += s.DurationMs
		}
		r.Logs = len(ds)
		if r.Logs == 0 {
			return r, EvalStatusError, "the datasets hold no logs", 0
		}
		sort.Float64s(ds)
		r.AverageMs, r.P50Ms, r.P95Ms = round(sum/float64(r.Logs), 2), nearestRank(ds, 0.50), nearestRank(ds, 0.95)
		return r, EvalStatusCompleted, fmt.Sprintf("completed over %d logs", r.Logs), r.Logs
	case EvalHumanFeedback:
		var r FeedbackResult
		for _, s := range samples {
			switch s.Feedback {
			case 1:
				r.Positive++
			case -1:
				r.Negative++
			default:
				r.LogsWithoutFeedback++
			}
		}
		r.Logs = r.Positive + r.Negative
		if r.Logs == 0 {
			return r, EvalStatusError, "no log of the datasets has feedback", 0
		}
		r.PositiveShare = round(float64(r.Positive)/float64(r.Logs), 4)
		return r, EvalStatusCompleted, fmt.Sprintf("completed over %d logs with feedback", r.Logs), r.Logs
	}
	return nil, EvalStatusError, "unknown evaluation type " + typeID, 0
}

// evaluationBody is the hosted create body.
type evaluationBody struct {
	Name              string   `json:"name"`
	DatasetIDs        []string `json:"dataset_ids"`
	EvaluationTypeIDs []string `json:"evaluation_type_ids"`
}

// planEvaluation validates a create body against the snapshot: the datasets (existing and
// enabled, on this gateway) and the evaluator types, mandatory ones added, in table order.
func planEvaluation(snap *Snapshot, acct, gw string, body []byte) (*evaluationBody, []*Dataset, []EvaluationType, *Error) {
	if snap.Gateway(acct, gw) == nil {
		return nil, nil, nil, gatewayNotFound(gw)
	}
	var b evaluationBody
	if e := decode(body, &b); e != nil {
		return nil, nil, nil, e
	}
	b.Name = strings.TrimSpace(b.Name)
	if b.Name == "" || len(b.Name) > maxNameLen {
		return nil, nil, nil, invalid("name is required (1-200 characters)", "body", "name")
	}
	for _, e := range snap.Evaluations(acct, gw) {
		if e.Name == b.Name {
			return nil, nil, nil, &Error{Status: 409, Code: CodeConflict, Message: "an evaluation named " + strconv.Quote(b.Name) + " already exists on this gateway", Path: []string{"body", "name"}}
		}
	}
	if len(b.DatasetIDs) == 0 || len(b.DatasetIDs) > maxEvalDatasets {
		return nil, nil, nil, invalid(fmt.Sprintf("dataset_ids must name 1 to %d datasets of this gateway", maxEvalDatasets), "body", "dataset_ids")
	}
	var sets []*Dataset
	for i, id := range b.DatasetIDs {
		d := snap.Dataset(acct, gw, id)
		at := []string{"body", "dataset_ids", strconv.Itoa(i)}
		switch {
		case d == nil:
			return nil, nil, nil, invalid("dataset "+strconv.Quote(id)+" does not exist on gateway "+gw, at...)
		case !d.Enable:
			return nil, nil, nil, invalid("dataset "+strconv.Quote(id)+" is disabled (enable it to evaluate it)", at...)
		}
		if !slices.ContainsFunc(sets, func(x *Dataset) bool { return x.ID == d.ID }) {
			sets = append(sets, d)
		}
	}
	want := map[string]bool{}
	for i, id := range b.EvaluationTypeIDs {
		if evaluationType(id) == nil {
			ids := make([]string, len(evaluationTypes))
			for j, t := range evaluationTypes {
				ids[j] = t.ID
			}
			return nil, nil, nil, invalid("evaluation type "+strconv.Quote(id)+" does not exist (use "+join(ids)+")", "body", "evaluation_type_ids", strconv.Itoa(i))
		}
		want[id] = true
	}
	var types []EvaluationType
	for _, t := range evaluationTypes {
		if t.Mandatory || want[t.ID] {
			types = append(types, t)
		}
	}
	return &b, sets, types, nil
}

// CreateEvaluation validates a hosted create body ({name, dataset_ids,
// evaluation_type_ids}), reads the logs of each dataset through read (outside the write
// lock: a large dataset does not hold up other configuration writes), computes every
// evaluator over the logs of all the datasets (a log in two datasets counts once) and
// stores the evaluation with its results.
func (s *Service) CreateEvaluation(ctx context.Context, actor events.Actor, acct, gw string, body []byte, read EvalLogs) (*Evaluation, error) {
	b, sets, types, e := planEvaluation(s.proj.Current(), acct, gw, body)
	if e != nil {
		return nil, e
	}
	var samples []EvalSample
	seen := map[string]bool{}
	var capped []string
	for _, d := range sets {
		got, matched, err := read(d, MaxEvalLogs)
		if err != nil {
			return nil, &Error{Status: 500, Code: CodeWriteFailed, Message: "reading the logs of dataset " + d.ID + " failed: " + err.Error()}
		}
		if matched > len(got) {
			capped = append(capped, fmt.Sprintf("dataset %s: the newest %d logs, of at least %d", d.Name, len(got), matched))
		}
		for _, smp := range got {
			if !seen[smp.ID] {
				seen[smp.ID] = true
				samples = append(samples, smp)
			}
		}
	}
	now := s.Now().UTC()
	ev := Evaluation{ID: uuid.NewString(), AccountID: acct, AccountTag: acct, GatewayID: gw, Name: b.Name,
		Processed: true, TotalLogs: len(samples), CreatedAt: now, ModifiedAt: now}
	for _, d := range sets {
		ev.Datasets = append(ev.Datasets, *d)
	}
	for _, t := range types {
		res, status, desc, used := Evaluate(t.ID, samples)
		if len(capped) > 0 {
			desc += " (" + strings.Join(capped, "; ") + ")"
		}
		raw, err := json.Marshal(res)
		if err != nil {
			return nil, writeFailed(err)
		}
		ev.Results = append(ev.Results, EvaluationResult{ID: uuid.NewString(), EvaluationID: ev.ID, EvaluationTypeID: t.ID,
			Name: t.Name, Result: string(raw), Status: status, StatusDescription: desc, TotalLogs: used, CreatedAt: now, ModifiedAt: now})
	}
	r, err := s.write(ctx, actor, func(snap *Snapshot) (*change, error) {
		if snap.Gateway(acct, gw) == nil {
			return nil, gatewayNotFound(gw)
		}
		for _, o := range snap.Evaluations(acct, gw) {
			if o.Name == ev.Name {
				return nil, &Error{Status: 409, Code: CodeConflict, Message: "an evaluation named " + strconv.Quote(ev.Name) + " already exists on this gateway", Path: []string{"body", "name"}}
			}
		}
		return &change{ev: events.ConfigChanged{Action: "create", Resource: ResEvaluation, ResourceID: ev.ID,
			AccountID: acct, GatewayID: gw, Old: []byte("null"), New: mustJSON(ev)}, result: &ev}, nil
	})
	if err != nil {
		return nil, err
	}
	return r.(*Evaluation), nil
}

// DeleteEvaluation deletes an evaluation and its results.
func (s *Service) DeleteEvaluation(ctx context.Context, actor events.Actor, acct, gw, id string) (*Evaluation, error) {
	r, err := s.write(ctx, actor, func(snap *Snapshot) (*change, error) {
		old := snap.Evaluation(acct, gw, id)
		if old == nil {
			return nil, notFound("evaluation", "path", "id")
		}
		return &change{ev: events.ConfigChanged{Action: "delete", Resource: ResEvaluation, ResourceID: id,
			AccountID: acct, GatewayID: gw, Old: mustJSON(old), New: []byte("null")}, result: old}, nil
	})
	if err != nil {
		return nil, err
	}
	return r.(*Evaluation), nil
}

// Evaluation returns a gateway's evaluation by id, or nil.
func (s *Snapshot) Evaluation(acct, gw, id string) *Evaluation {
	return scopedGet(s.evals, acct, gw, id)
}

// Evaluations lists a gateway's evaluations, newest first.
func (s *Snapshot) Evaluations(acct, gw string) []*Evaluation { return scopedList(s.evals, acct, gw) }

func (e *Evaluation) owner() (string, string, string, time.Time) {
	return e.AccountID, e.GatewayID, e.ID, e.CreatedAt
}

// applyEvaluation applies an evaluation event to the next snapshot.
func (s *Snapshot) applyEvaluation(c events.ConfigChanged) error { return applyScoped(s.evals, c) }
