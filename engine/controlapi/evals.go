// evals.go serves datasets, evaluations and evaluation types in the hosted shapes
// (cloudflare-go v7 ai_gateway Datasets, Evaluations, EvaluationTypes):
//
//	GET            ai-gateway/evaluation-types
//	GET, POST      ai-gateway/gateways/{gw}/datasets
//	GET, PUT, DEL  ai-gateway/gateways/{gw}/datasets/{id}
//	GET, POST      ai-gateway/gateways/{gw}/evaluations
//	GET, DELETE    ai-gateway/gateways/{gw}/evaluations/{id}
//
// Datasets and evaluations are configuration (storage/config); creating an evaluation
// reads the logs of its datasets here, through the logs projection, and hands them to the
// config service, which computes and stores the results.
package controlapi

import (
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/switchyard/switchyard/storage"
	"github.com/switchyard/switchyard/storage/config"
	"github.com/valyala/fasthttp"
)

// evalRoute maps datasets[/{id}] and evaluations[/{id}] of gateway gw (p starts at
// "datasets" or "evaluations") onto their handlers.
func (s *API) evalRoute(ctx *fasthttp.RequestCtx, who config.Principal, acct, gw string, p []string) *route {
	m := string(ctx.Method())
	read, edit := gatewayScoped(gw)
	body := func() []byte { return ctx.Request.Body() }
	switch {
	case len(p) == 1 && p[0] == "datasets":
		switch m {
		case "GET":
			return read(func() { s.listDatasets(ctx, acct, gw) })
		case "POST":
			return edit(func() { s.writeDataset(ctx, who, acct, gw, "", body()) })
		}
	case len(p) == 2 && p[0] == "datasets":
		id := p[1]
		switch m {
		case "GET":
			return read(func() { s.getDataset(ctx, acct, gw, id) })
		case "PUT":
			return edit(func() { s.writeDataset(ctx, who, acct, gw, id, body()) })
		case "DELETE":
			return edit(func() { s.deleteDataset(ctx, who, acct, gw, id) })
		}
	case len(p) == 1 && p[0] == "evaluations":
		switch m {
		case "GET":
			return read(func() { s.listEvaluations(ctx, acct, gw) })
		case "POST":
			return edit(func() { s.createEvaluation(ctx, who, acct, gw, body()) })
		}
	case len(p) == 2 && p[0] == "evaluations":
		id := p[1]
		switch m {
		case "GET":
			return read(func() { s.getEvaluation(ctx, acct, gw, id) })
		case "DELETE":
			return edit(func() { s.deleteEvaluation(ctx, who, acct, gw, id) })
		}
	}
	return nil
}

// onlyQuery refuses query parameters other than allowed (a 400 naming the first one), so
// a misspelt filter is not silently ignored.
func onlyQuery(ctx *fasthttp.RequestCtx, allowed ...string) bool {
	for k := range ctx.QueryArgs().All() {
		key := string(k)
		known := false
		for _, a := range allowed {
			known = known || a == key
		}
		if !known {
			apiFail(ctx, 400, codeBadRequest, "query parameter "+key+" is not supported (use "+strings.Join(allowed, ", ")+")", "query", key)
			return false
		}
	}
	return true
}

// boolQuery reads an optional true/false query parameter; ok is false once it has
// answered a 400.
func boolQuery(ctx *fasthttp.RequestCtx, name string) (v *bool, ok bool) {
	raw := ctx.QueryArgs().Peek(name)
	if raw == nil {
		return nil, true
	}
	b, err := strconv.ParseBool(string(raw))
	if err != nil {
		apiFail(ctx, 400, codeBadRequest, name+" must be true or false", "query", name)
		return nil, false
	}
	return &b, true
}

// listPage answers one page of a filtered list with result_info.
func listPage[T any](ctx *fasthttp.RequestCtx, all []T, page, perPage int, messages ...apiMessage) {
	res := pageOf(all, page, perPage)
	if messages == nil {
		messages = []apiMessage{}
	}
	writeJSON(ctx, 200, envelope{Success: true, Errors: []apiError{}, Messages: messages, Result: res,
		ResultInfo: newResultInfo(page, perPage, len(res), len(all))})
}

// ---- evaluation types ----

// listEvaluationTypes lists the built-in evaluators: order_by (id, name, type, created_at,
// modified_at; the table's order by default), order_by_direction (asc|desc), page, per_page.
// order_by is any string in the hosted API (cloudflare-go sends "order_by"): another field
// keeps the table's order, and the answer's messages say so (code 7102).
func (s *API) listEvaluationTypes(ctx *fasthttp.RequestCtx) {
	if !onlyQuery(ctx, "page", "per_page", "order_by", "order_by_direction") {
		return
	}
	page, perPage, perr := pageArgs(ctx, 20)
	if perr != nil {
		apiFail(ctx, 400, perr.Code, perr.Message, perr.Path...)
		return
	}
	all := config.EvaluationTypes()
	args := ctx.QueryArgs()
	var key func(t config.EvaluationType) string
	var messages []apiMessage
	switch by := string(args.Peek("order_by")); by {
	case "":
	case "id":
		key = func(t config.EvaluationType) string { return t.ID }
	case "name":
		key = func(t config.EvaluationType) string { return strings.ToLower(t.Name) }
	case "type":
		key = func(t config.EvaluationType) string { return t.Type }
	case "created_at":
		key = func(t config.EvaluationType) string { return t.CreatedAt.Format(time.RFC3339Nano) }
	case "modified_at":
		key = func(t config.EvaluationType) string { return t.ModifiedAt.Format(time.RFC3339Nano) }
	default:
		messages = append(messages, apiMessage{msgAdjusted, "order_by " + strconv.Quote(by) +
			" is not a field of evaluation types (id, name, type, created_at or modified_at): they are in their usual order"})
	}
	desc := false
	switch dir := string(args.Peek("order_by_direction")); dir {
	case "", "asc":
	case "desc":
		desc = true
	default:
		apiFail(ctx, 400, codeBadRequest, "order_by_direction must be asc or desc", "query", "order_by_direction")
		return
	}
	if key != nil {
		sort.SliceStable(all, func(i, j int) bool { return key(all[i]) < key(all[j]) })
	}
	if desc {
		slices.Reverse(all)
	}
	listPage(ctx, all, page, perPage, messages...)
}

// ---- datasets ----

// scopedList says how to list a gateway's datasets or evaluations: the items, newest
// first, and what the name, search and boolean (flag) query parameters compare.
type scopedList[T any] struct {
	flag  string // the true/false query parameter
	items func(snap *config.Snapshot) []T
	name  func(T) string
	isSet func(T) bool   // the flag's value on an item
	text  func(T) string // what search looks in (case-insensitive)
}

// listScoped serves a list call with page, per_page, name (exact), search and the flag.
func listScoped[T any](s *API, ctx *fasthttp.RequestCtx, acct, gw string, l scopedList[T]) {
	if !onlyQuery(ctx, "page", "per_page", "name", "search", l.flag) {
		return
	}
	page, perPage, perr := pageArgs(ctx, 20)
	if perr != nil {
		apiFail(ctx, 400, perr.Code, perr.Message, perr.Path...)
		return
	}
	flag, good := boolQuery(ctx, l.flag)
	if !good {
		return
	}
	snap := s.snap()
	if snap.Gateway(acct, gw) == nil {
		apiFail(ctx, 404, codeNotFound, "gateway "+gw+" not found", "path", "gateway_id")
		return
	}
	args := ctx.QueryArgs()
	name, search := string(args.Peek("name")), strings.ToLower(string(args.Peek("search")))
	all := []T{}
	for _, v := range l.items(snap) {
		switch {
		case flag != nil && l.isSet(v) != *flag, name != "" && l.name(v) != name:
			continue
		case search != "" && !strings.Contains(strings.ToLower(l.text(v)), search):
			continue
		}
		all = append(all, v)
	}
	listPage(ctx, all, page, perPage)
}

// listDatasets lists a gateway's datasets: enable, name, search (in id, name and filters).
func (s *API) listDatasets(ctx *fasthttp.RequestCtx, acct, gw string) {
	listScoped(s, ctx, acct, gw, scopedList[*config.Dataset]{flag: "enable",
		items: func(snap *config.Snapshot) []*config.Dataset { return snap.Datasets(acct, gw) },
		name:  func(d *config.Dataset) string { return d.Name },
		isSet: func(d *config.Dataset) bool { return d.Enable },
		text:  datasetText})
}

// datasetText is what search looks in: the id, the name and the filters.
func datasetText(d *config.Dataset) string {
	var b strings.Builder
	b.WriteString(d.ID + "\x00" + d.Name)
	for _, f := range d.Filters {
		lf := f.LogFilter()
		b.WriteString("\x00" + lf.Key + " " + lf.Operator + " " + strings.Join(lf.Values, " "))
	}
	return b.String()
}

func (s *API) getDataset(ctx *fasthttp.RequestCtx, acct, gw, id string) {
	d := s.snap().Dataset(acct, gw, id)
	if d == nil {
		apiFail(ctx, 404, codeNotFound, "dataset "+id+" not found", "path", "id")
		return
	}
	ok(ctx, d)
}

// writeDataset creates (id empty) or updates (PUT) a dataset.
func (s *API) writeDataset(ctx *fasthttp.RequestCtx, who config.Principal, acct, gw, id string, body []byte) {
	c, cancel := writeCtx()
	defer cancel()
	var d *config.Dataset
	var err error
	if id == "" {
		d, err = s.opts.Config.CreateDataset(c, who.Actor(), acct, gw, body)
	} else {
		d, err = s.opts.Config.UpdateDataset(c, who.Actor(), acct, gw, id, body)
	}
	if err != nil {
		s.fail(ctx, err)
		return
	}
	ok(ctx, d)
}

func (s *API) deleteDataset(ctx *fasthttp.RequestCtx, who config.Principal, acct, gw, id string) {
	c, cancel := writeCtx()
	defer cancel()
	d, err := s.opts.Config.DeleteDataset(c, who.Actor(), acct, gw, id)
	if err != nil {
		s.fail(ctx, err)
		return
	}
	ok(ctx, d)
}

// ---- evaluations ----

// listEvaluations lists a gateway's evaluations: processed, name, search (in id and name).
func (s *API) listEvaluations(ctx *fasthttp.RequestCtx, acct, gw string) {
	listScoped(s, ctx, acct, gw, scopedList[*config.Evaluation]{flag: "processed",
		items: func(snap *config.Snapshot) []*config.Evaluation { return snap.Evaluations(acct, gw) },
		name:  func(e *config.Evaluation) string { return e.Name },
		isSet: func(e *config.Evaluation) bool { return e.Processed },
		text:  func(e *config.Evaluation) string { return e.ID + "\x00" + e.Name }})
}

func (s *API) getEvaluation(ctx *fasthttp.RequestCtx, acct, gw, id string) {
	e := s.snap().Evaluation(acct, gw, id)
	if e == nil {
		apiFail(ctx, 404, codeNotFound, "evaluation "+id+" not found", "path", "id")
		return
	}
	ok(ctx, e)
}

// createEvaluation runs an evaluation over the logs of its datasets as they are now
// (logs arriving while it reads are left out) and answers it with its results.
func (s *API) createEvaluation(ctx *fasthttp.RequestCtx, who config.Principal, acct, gw string, body []byte) {
	c, cancel := writeCtx()
	defer cancel()
	e, err := s.opts.Config.CreateEvaluation(c, who.Actor(), acct, gw, body, s.evalLogs(acct, gw, time.Now()))
	if err != nil {
		s.fail(ctx, err)
		return
	}
	ok(ctx, e)
}

func (s *API) deleteEvaluation(ctx *fasthttp.RequestCtx, who config.Principal, acct, gw, id string) {
	c, cancel := writeCtx()
	defer cancel()
	e, err := s.opts.Config.DeleteEvaluation(c, who.Actor(), acct, gw, id)
	if err != nil {
		s.fail(ctx, err)
		return
	}
	ok(ctx, e)
}

// evalPageSize is the page size asked of the logs projection: above the list API's 100,
// because after each page of a filtered list the projection spends up to
// storage.CountBudget counting further matches (10 pages, not 100, for 10,000 logs). A
// projection answering smaller pages is paged through all the same.
const evalPageSize = 1000

// evalLogs reads a dataset's logs up to until, newest first, page by page over that fixed
// window (so logs arriving meanwhile do not shift the pages).
func (s *API) evalLogs(acct, gw string, until time.Time) config.EvalLogs {
	return func(d *config.Dataset, limit int) ([]config.EvalSample, int, error) {
		q := datasetQuery(acct, gw, d)
		q.Until, q.PerPage = until, evalPageSize
		var out []config.EvalSample
		total := 0
		for page := 1; len(out) < limit; page++ {
			q.Page = page
			recs, n, err := s.opts.Logs.List(q)
			if err != nil {
				return nil, 0, err
			}
			total = n
			for _, r := range recs {
				if len(out) == limit {
					break
				}
				out = append(out, evalSample(r))
			}
			if len(recs) == 0 || len(out) >= n {
				break
			}
		}
		return out, max(total, len(out)), nil
	}
}

func evalSample(r storage.LogRecord) config.EvalSample {
	smp := config.EvalSample{ID: r.ID, Cost: r.Cost, DurationMs: float64(r.Duration)}
	if r.Feedback != nil {
		smp.Feedback = *r.Feedback
	}
	return smp
}

// datasetQuery is the log query of a dataset: its filters, all of which must hold.
func datasetQuery(acct, gw string, d *config.Dataset) storage.LogQuery {
	q := storage.LogQuery{AccountID: acct, GatewayID: gw}
	for _, f := range d.Filters {
		q.Filters = append(q.Filters, f.LogFilter())
	}
	return q
}
