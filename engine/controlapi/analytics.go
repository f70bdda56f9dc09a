// analytics.go serves the analytics API (our own shape; the hosted product answers
// GraphQL): time series of one gateway, GET .../ai-gateway/gateways/{id}/analytics, and the
// all-gateways summary, GET .../ai-gateway/analytics, both read from the rollup projection
// (storage.Analytics).
package controlapi

import (
	"errors"
	"strconv"
	"time"

	"github.com/switchyard/switchyard/storage"
	"github.com/switchyard/switchyard/storage/config"
	"github.com/valyala/fasthttp"
)

// AnalyticsReader answers analytics queries (storage.Analytics).
type AnalyticsReader interface {
	Query(q storage.AnalyticsQuery) (storage.AnalyticsResult, error)
}

// maxAnalyticsSeries bounds the limit parameter (the number of groups shown).
const maxAnalyticsSeries = 50

// gatewayAnalytics answers the time series of one gateway.
func (s *API) gatewayAnalytics(ctx *fasthttp.RequestCtx, acct, gw string) {
	q := storage.AnalyticsQuery{AccountID: acct, GatewayID: gw}
	s.analytics(ctx, q)
}

// accountAnalytics answers the all-gateways summary: by default one series per gateway the
// caller may read, with the totals over all of them.
func (s *API) accountAnalytics(ctx *fasthttp.RequestCtx, who config.Principal, acct string) {
	q := storage.AnalyticsQuery{AccountID: acct, GroupBy: "gateway",
		Gateways: func(gw string) bool { return who.Can(config.PermRead, acct, gw) }}
	s.analytics(ctx, q)
}

func (s *API) analytics(ctx *fasthttp.RequestCtx, q storage.AnalyticsQuery) {
	if s.opts.Analytics == nil {
		apiFail(ctx, 503, codeInternal, "analytics are not available on this node")
		return
	}
	if e := analyticsArgs(ctx.QueryArgs(), &q, time.Now()); e != nil {
		apiFail(ctx, 400, e.Code, e.Message, e.Path...)
		return
	}
	res, err := s.opts.Analytics.Query(q)
	var qe *storage.QueryError
	if errors.As(err, &qe) {
		apiFail(ctx, 400, codeBadRequest, qe.Message, "query", qe.Field)
		return
	}
	if err != nil {
		s.storeFail(ctx, err, "analytics")
		return
	}
	ok(ctx, res)
}

// analyticsArgs reads start, end, step, group_by, provider, model and limit into q;
// anything else is refused by name. The range defaults to the 24 hours before now.
func analyticsArgs(args *fasthttp.Args, q *storage.AnalyticsQuery, now time.Time) *apiError {
	bad := func(field, msg string) *apiError {
		return &apiError{Code: codeBadRequest, Message: msg, Path: []string{"query", field}}
	}
	var start, end time.Time
	for k, v := range args.All() {
		key, val := string(k), string(v)
		switch key {
		case "start", "end":
			t, err := time.Parse(time.RFC3339, val)
			if err != nil {
				return bad(key, key+" must be an RFC 3339 time, e.g. 2025-03-01T00:00:00Z")
			}
			if key == "start" {
				start = t
			} else {
				end = t
			}
		case "step":
			switch val {
			case storage.StepMinute, storage.StepHour, storage.StepDay:
				q.Step = val
			default:
				return bad(key, "step must be minute, hour or day")
			}
		case "group_by":
			q.GroupBy = val // checked by the query
			if val == "none" {
				q.GroupBy = ""
			}
		case "provider":
			q.Provider = val
		case "model":
			q.Model = val
		case "limit":
			n, err := strconv.Atoi(val)
			if err != nil || n < 1 || n > maxAnalyticsSeries {
				return bad(key, "limit must be an integer from 1 to "+strconv.Itoa(maxAnalyticsSeries))
			}
			q.Limit = n
		default:
			return bad(key, "query parameter "+key+" is not supported (start, end, step, group_by, provider, model, limit)")
		}
	}
	switch {
	case start.IsZero() && end.IsZero():
		end = now
		start = end.Add(-24 * time.Hour)
	case start.IsZero():
		start = end.Add(-24 * time.Hour)
	case end.IsZero():
		end = now
	}
	q.Start, q.End = start, end
	return nil
}
