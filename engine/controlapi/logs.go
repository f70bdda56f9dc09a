// logs.go is the logs part of the control API: list and delete with the hosted
// filters (cloudflare-go v7 LogListParams / LogDeleteParams), one record, its stored
// request and response bodies, and feedback (PATCH, LogEditParams). Deletes and feedback
// are events (logs.deleted, log.feedback): the answer comes once the logs projection has
// applied them, so the next read shows the change.
package controlapi

import (
	"bytes"
	"context"
	"errors"
	"math"
	"strconv"
	"strings"
	"time"

	json "github.com/goccy/go-json"
	"github.com/oklog/ulid/v2"
	"github.com/switchyard/switchyard/events"
	"github.com/switchyard/switchyard/storage"
	"github.com/valyala/fasthttp"
)

// EventPublisher appends an encoded event and waits for its acknowledgement (events.Bus).
type EventPublisher interface {
	Publish(ctx context.Context, t events.Type, id string, data []byte) (uint64, error)
}

// logPager is implemented by storage.Logs: a page with whether its total is exact.
type logPager interface {
	ListPage(q storage.LogQuery) (storage.LogPage, error)
}

// logResultInfo is result_info of the list call; total_count_capped says the total is a
// lower bound (counting a filtered list stops at storage.CountCap matches or after
// storage.CountBudget).
type logResultInfo struct {
	resultInfo
	TotalCountCapped bool `json:"total_count_capped,omitempty"`
}

// The query parameters that become filters: their filter key and operator.
var logParamFilters = map[string][2]string{
	"provider":              {"provider", storage.OpEq},
	"model":                 {"model", storage.OpEq},
	"model_type":            {"model_type", storage.OpEq},
	"request_content_type":  {"request_content_type", storage.OpEq},
	"response_content_type": {"response_content_type", storage.OpEq},
	"success":               {"success", storage.OpEq},
	"cached":                {"cached", storage.OpEq},
	"feedback":              {"feedback", storage.OpEq},
	"min_cost":              {"cost", storage.OpGt},
	"max_cost":              {"cost", storage.OpLt},
	"min_duration":          {"duration", storage.OpGt},
	"max_duration":          {"duration", storage.OpLt},
	"min_tokens_in":         {"tokens_in", storage.OpGt},
	"max_tokens_in":         {"tokens_in", storage.OpLt},
	"min_tokens_out":        {"tokens_out", storage.OpGt},
	"max_tokens_out":        {"tokens_out", storage.OpLt},
	"min_total_tokens":      {"tokens", storage.OpGt},
	"max_total_tokens":      {"tokens", storage.OpLt},
	"start_date":            {"created_at", storage.OpGt},
	"end_date":              {"created_at", storage.OpLt},
}

// logQueryArgs reads the list (or, with del, the delete) call's query into a LogQuery:
// every filter parameter becomes a storage filter. It returns the delete's limit.
func logQueryArgs(ctx *fasthttp.RequestCtx, acct, gw string, del bool) (storage.LogQuery, int, *apiError) {
	q := storage.LogQuery{AccountID: acct, GatewayID: gw, Page: 1, PerPage: 20}
	limit := 0
	bad := func(at, msg string) (storage.LogQuery, int, *apiError) {
		return q, 0, &apiError{Code: codeBadRequest, Message: msg, Path: []string{"query", at}}
	}
	var fkeys, fops, fvals []string
	for k, v := range ctx.QueryArgs().All() {
		key, val := string(k), string(v)
		if f, ok := logParamFilters[key]; ok {
			lf, err := paramFilter(key, f[0], f[1], val)
			if err != "" {
				return bad(key, err)
			}
			q.Filters = append(q.Filters, lf)
			continue
		}
		switch {
		case key == "filters.key":
			fkeys = append(fkeys, val)
		case key == "filters.operator":
			fops = append(fops, val)
		case key == "filters.value":
			fvals = append(fvals, val)
		case key == "direction" || key == "order_by_direction":
			switch val {
			case "asc":
				q.Ascending = true
			case "desc":
				q.Ascending = false
			default:
				return bad(key, key+" must be asc or desc")
			}
		case key == "order_by":
			// Without a limit a delete's order changes nothing; otherwise only time order is kept.
			if val != "created_at" && !(del && ctx.QueryArgs().Peek("limit") == nil && knownDeleteOrder(val)) {
				return bad(key, "order_by "+strconv.Quote(val)+" is not supported (created_at only)")
			}
		case !del && (key == "page" || key == "per_page"):
			n, err := strconv.Atoi(val)
			if err != nil || n < 1 {
				return bad(key, key+" must be a positive integer")
			}
			if key == "page" {
				q.Page = n
			} else {
				q.PerPage = min(n, 100)
			}
		case !del && key == "meta_info":
			if _, err := strconv.ParseBool(val); err != nil {
				return bad(key, "meta_info must be true or false")
			}
		case !del && key == "search":
			q.Search = val
		case del && key == "limit":
			n, err := strconv.Atoi(val)
			if err != nil || n < 1 {
				return bad(key, "limit must be a positive integer")
			}
			limit = n
		default:
			return bad(key, "query parameter "+key+" is not supported")
		}
	}
	fs, msg := pairFilters(fkeys, fops, fvals)
	if msg != "" {
		return bad("filters", msg)
	}
	q.Filters = append(q.Filters, fs...)
	if err := storage.ValidateLogFilters(q.Filters); err != nil {
		var fe *storage.FilterError
		if errors.As(err, &fe) {
			return bad("filters", fe.Message)
		}
		return bad("filters", err.Error())
	}
	return q, limit, nil
}

func knownDeleteOrder(v string) bool {
	switch v {
	case "provider", "model", "model_type", "success", "cached", "cost", "tokens_in", "tokens_out", "duration", "feedback":
		return true
	}
	return false
}

// paramFilter turns one list parameter into a filter. min_ and max_ are inclusive, as are
// start_date and end_date: they become gt/lt just outside the bound (the next float
// below or above, one millisecond before or after; created_at has millisecond precision).
func paramFilter(param, key, op, val string) (events.LogFilter, string) {
	f := events.LogFilter{Key: key, Operator: op, Values: []string{val}}
	switch {
	case key == "created_at":
		t, err := time.Parse(time.RFC3339Nano, val)
		if err != nil {
			return f, param + " must be an RFC 3339 time"
		}
		if op == storage.OpGt {
			t = t.Add(-time.Millisecond)
		} else {
			t = t.Add(time.Millisecond)
		}
		f.Values[0] = t.UTC().Format(time.RFC3339Nano)
	case op != storage.OpEq:
		n, err := strconv.ParseFloat(val, 64)
		if err != nil || math.IsNaN(n) || math.IsInf(n, 0) {
			return f, param + " must be a number"
		}
		if op == storage.OpGt {
			n = math.Nextafter(n, math.Inf(-1))
		} else {
			n = math.Nextafter(n, math.Inf(1))
		}
		f.Values[0] = strconv.FormatFloat(n, 'g', -1, 64)
	case key == "success" || key == "cached":
		if _, err := strconv.ParseBool(val); err != nil {
			return f, param + " must be true or false"
		}
	case key == "feedback":
		if val != "-1" && val != "0" && val != "1" {
			return f, "feedback must be 1 (thumbs up), -1 (thumbs down) or 0 (none)"
		}
	}
	return f, ""
}

// pairFilters groups the filters.key / filters.operator / filters.value parameters.
// cloudflare-go sends each array field repeated, and the URL's keys sorted, so with one
// filter every value is its own, and with several each must carry exactly one value.
func pairFilters(keys, ops, vals []string) ([]events.LogFilter, string) {
	if len(keys) == 0 && len(ops) == 0 && len(vals) == 0 {
		return nil, ""
	}
	if len(keys) != len(ops) {
		return nil, "every filter needs one filters.key and one filters.operator"
	}
	if len(vals) == 0 {
		return nil, "filter on " + keys[0] + " has no filters.value"
	}
	if len(keys) == 1 {
		return []events.LogFilter{{Key: keys[0], Operator: ops[0], Values: vals}}, ""
	}
	if len(vals) != len(keys) {
		return nil, "with several filters each needs exactly one filters.value (values cannot be told apart otherwise); got " +
			strconv.Itoa(len(keys)) + " filters and " + strconv.Itoa(len(vals)) + " values"
	}
	out := make([]events.LogFilter, len(keys))
	for i := range keys {
		out[i] = events.LogFilter{Key: keys[i], Operator: ops[i], Values: []string{vals[i]}}
	}
	return out, ""
}

// listLogs serves GET .../logs.
func (s *API) listLogs(ctx *fasthttp.RequestCtx, acct, gw string) {
	q, _, aerr := logQueryArgs(ctx, acct, gw, false)
	if aerr != nil {
		apiFail(ctx, 400, aerr.Code, aerr.Message, aerr.Path...)
		return
	}
	var page storage.LogPage
	var err error
	if p, ok := s.opts.Logs.(logPager); ok {
		page, err = p.ListPage(q)
	} else {
		page.Records, page.Total, err = s.opts.Logs.List(q)
		page.Exact = true
	}
	if err != nil {
		s.logsFail(ctx, err)
		return
	}
	if page.Records == nil {
		page.Records = []storage.LogRecord{}
	}
	writeJSON(ctx, 200, struct {
		envelope
		ResultInfo logResultInfo `json:"result_info"`
	}{
		envelope:   envelope{Success: true, Errors: []apiError{}, Messages: []apiMessage{}, Result: page.Records},
		ResultInfo: logResultInfo{*newResultInfo(q.Page, q.PerPage, len(page.Records), page.Total), !page.Exact},
	})
}

// logsFail answers a store error; a filter the store refuses is the caller's 400.
func (s *API) logsFail(ctx *fasthttp.RequestCtx, err error) {
	var fe *storage.FilterError
	if errors.As(err, &fe) {
		apiFail(ctx, 400, codeBadRequest, fe.Message, "query", "filters")
		return
	}
	s.storeFail(ctx, err, "logs")
}

// deleteLogs serves DELETE .../logs: a logs.deleted event with the filters, applied by
// the logs projection before the answer.
func (s *API) deleteLogs(ctx *fasthttp.RequestCtx, acct, gw string) {
	q, limit, aerr := logQueryArgs(ctx, acct, gw, true)
	if aerr != nil {
		apiFail(ctx, 400, aerr.Code, aerr.Message, aerr.Path...)
		return
	}
	d := events.LogsDeleted{AccountID: acct, GatewayID: gw, Filters: q.Filters, Limit: limit, Ascending: q.Ascending}
	if !s.logEvent(ctx, events.TypeLogsDeleted, events.VersionLogsDeleted, d) {
		return
	}
	writeJSON(ctx, 200, envelope{Success: true, Errors: []apiError{}, Messages: []apiMessage{}, Result: nil})
}

// editLog serves PATCH .../logs/{id} (feedback, score, metadata) and answers the record
// as it now is.
func (s *API) editLog(ctx *fasthttp.RequestCtx, acct, gw, id string, body []byte) {
	fb, aerr := parseFeedback(body)
	if aerr != nil {
		apiFail(ctx, 400, aerr.Code, aerr.Message, aerr.Path...)
		return
	}
	if _, err := s.logRecord(acct, gw, id); err != nil {
		s.storeFail(ctx, err, "log "+id)
		return
	}
	fb.AccountID, fb.GatewayID, fb.LogID = acct, gw, id
	if !s.logEvent(ctx, events.TypeLogFeedback, events.VersionLogFeedback, fb) {
		return
	}
	rec, err := s.logRecord(acct, gw, id)
	if err != nil {
		s.storeFail(ctx, err, "log "+id) // deleted in between
		return
	}
	ok(ctx, rec)
}

// parseFeedback validates a PATCH body: feedback -1, 0 or 1; score 0 to 100; metadata an
// object of string, number and boolean values.
func parseFeedback(body []byte) (events.LogFeedback, *apiError) {
	var fb events.LogFeedback
	fail := func(at, msg string) (events.LogFeedback, *apiError) {
		return fb, &apiError{Code: codeBadRequest, Message: msg, Path: []string{"body", at}}
	}
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(body, &raw); err != nil || raw == nil {
		return fail("", "the body must be a JSON object with feedback, score and/or metadata")
	}
	for k, v := range raw {
		switch k {
		case "feedback":
			var n float64
			if json.Unmarshal(v, &n) != nil || (n != -1 && n != 0 && n != 1) {
				return fail(k, "feedback must be 1 (thumbs up), -1 (thumbs down) or 0 (none)")
			}
			i := int(n)
			fb.Feedback = &i
		case "score":
			var n float64
			if string(bytes.TrimSpace(v)) == "null" || json.Unmarshal(v, &n) != nil || n < 0 || n > 100 {
				return fail(k, "score must be a number from 0 to 100")
			}
			fb.Score = &n
		case "metadata":
			var m map[string]any
			if json.Unmarshal(v, &m) != nil || m == nil {
				return fail(k, "metadata must be an object of string, number and boolean values")
			}
			for mk, mv := range m {
				switch mv.(type) {
				case string, float64, bool:
				default:
					return fail(k+"."+mk, "metadata values must be strings, numbers or booleans")
				}
			}
			fb.Metadata = m
		default:
			return fail(k, "field "+k+" is not supported (feedback, score, metadata)")
		}
	}
	if fb.Feedback == nil && fb.Score == nil && fb.Metadata == nil {
		return fail("", "set feedback, score or metadata")
	}
	return fb, nil
}

// logEvent publishes a log event and waits for the logs projection to apply it; false
// when it has answered an error.
func (s *API) logEvent(ctx *fasthttp.RequestCtx, t events.Type, v int, data any) bool {
	if s.opts.Events == nil || s.opts.LogsApplied == nil {
		apiFail(ctx, 503, codeInternal, "log changes are not available on this node")
		return false
	}
	b, err := events.Encode(t, v, ulid.Make().String()+"."+string(t), time.Now().UTC(), data)
	if err != nil {
		s.opts.Logger.Error("encode log event", "type", t, "err", err)
		apiFail(ctx, 500, codeInternal, "internal error")
		return false
	}
	c, cancel := writeCtx()
	defer cancel()
	seq, err := s.opts.Events.Publish(c, t, "", b)
	if err == nil {
		err = s.opts.LogsApplied(c, seq)
	}
	if err != nil {
		s.opts.Logger.Error("log event", "type", t, "err", err)
		apiFail(ctx, 503, codeInternal, "the change was not applied in time: "+strings.TrimSpace(err.Error()))
		return false
	}
	return true
}

// logRecord reads one log. A log not found yet may be one another node answered a moment
// ago whose event this node has not applied: it waits (briefly) until the logs projection
// has applied every event in the log, then looks again.
func (s *API) logRecord(acct, gw, id string) (storage.LogRecord, error) {
	rec, err := s.opts.Logs.Get(acct, gw, id)
	if !errors.Is(err, storage.ErrNotFound) || s.opts.LogsCaughtUp == nil {
		return rec, err
	}
	c, cancel := context.WithTimeout(context.Background(), logCatchUpWait)
	defer cancel()
	if s.opts.LogsCaughtUp(c) != nil {
		return rec, err
	}
	return s.opts.Logs.Get(acct, gw, id)
}

// logCatchUpWait bounds how long a read of a log not found waits for the projection.
const logCatchUpWait = 5 * time.Second

func (s *API) getLog(ctx *fasthttp.RequestCtx, acct, gw, id string) {
	rec, err := s.logRecord(acct, gw, id)
	if err != nil {
		s.storeFail(ctx, err, "log "+id)
		return
	}
	ok(ctx, rec)
}

// payload answers the stored body itself (not wrapped), with its content type, as the
// hosted API does. Bodies live in the request.finished event (inline) or in the payload
// object store (larger ones); the log record points at the event.
func (s *API) payload(ctx *fasthttp.RequestCtx, acct, gw, id, which string) {
	rec, err := s.logRecord(acct, gw, id)
	if err != nil {
		s.storeFail(ctx, err, "log "+id)
		return
	}
	c, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	raw, err := s.opts.Payloads.EventAt(c, rec.EventSeq)
	if err != nil {
		s.opts.Logger.Error("read event for payload", "seq", rec.EventSeq, "err", err)
		apiFail(ctx, 404, codeNotFound, "the event holding the "+which+" body of log "+id+" is no longer in the log")
		return
	}
	f, found := events.FindFinished(raw, id)
	if !found {
		s.opts.Logger.Error("decode event for payload", "seq", rec.EventSeq, "log_id", id)
		apiFail(ctx, 500, codeInternal, "stored "+which+" body could not be read")
		return
	}
	p, ct := f.RequestPayload, f.RequestCType
	if which == "response" {
		p, ct = f.ResponsePayload, f.ResponseCType
	}
	if p == nil {
		apiFail(ctx, 404, codeNotFound, "no "+which+" body stored for log "+id)
		return
	}
	body := p.Body()
	if p.Ref != "" {
		if body, err = s.opts.Payloads.GetPayload(c, p.Ref); err != nil {
			s.opts.Logger.Error("payload fetch", "ref", p.Ref, "err", err)
			apiFail(ctx, 500, codeInternal, "stored "+which+" body could not be read")
			return
		}
	}
	if ct == "" {
		ct = "application/octet-stream"
	}
	ctx.SetContentType(ct)
	if p.Truncated {
		ctx.Response.Header.Set("x-switchyard-payload-truncated", "true")
	}
	ctx.SetBody(body)
}
