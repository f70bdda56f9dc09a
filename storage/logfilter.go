// logfilter.go compiles the hosted log filters (key, operator, values: the filters of the
// logs list and delete calls, of datasets and evaluations) into a plan over the logs
// projection: equality on a listed field becomes a walk of its posting lists
// (postings.go), created_at becomes a range of log ids (ULIDs sort by time), and every
// condition is checked on the record's facts.
package storage

import (
	"bytes"
	"encoding/binary"
	"errors"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/dgraph-io/badger/v4"
	json "github.com/goccy/go-json"
	"github.com/oklog/ulid/v2"
	"github.com/switchyard/switchyard/events"
)

// FilterError is a filter the store cannot run; Key names the filter at fault.
type FilterError struct {
	Key     string
	Message string
}

func (e *FilterError) Error() string { return e.Message }

// The filter operators of the hosted API.
const (
	OpEq       = "eq"
	OpNeq      = "neq"
	OpContains = "contains"
	OpLt       = "lt"
	OpGt       = "gt"
)

type fieldKind int

const (
	kindString fieldKind = iota
	kindBool
	kindNumber
	kindTime
	kindMetaKey
	kindMetaValue
)

// filterField is one filterable field: its kind, the index that answers eq on it (empty
// when none) and how to read it from a record.
type filterField struct {
	kind  fieldKind
	index string
	str   func(r *LogRecord) string
	flag  func(r *LogRecord) bool
	num   func(r *LogRecord) (float64, bool) // false: the record has no value
}

func tokens(p *int64) int64 {
	if p == nil {
		return 0
	}
	return *p
}

// filterFields are the filter keys of cloudflare-go v7 LogListParamsFiltersKey that
// Switchyard records. Authentication, wholesale, compatibilityMode and user_agent are not
// recorded, so filtering on them is refused rather than ignored.
var filterFields = map[string]filterField{
	"id":                    {kind: kindString, str: func(r *LogRecord) string { return r.ID }},
	"event_id":              {kind: kindString, str: func(r *LogRecord) string { return r.EventID }}, // eq: eventLogIDs
	"provider":              {kind: kindString, index: "provider", str: func(r *LogRecord) string { return r.Provider }},
	"model":                 {kind: kindString, index: "model", str: func(r *LogRecord) string { return r.Model }},
	"model_type":            {kind: kindString, str: func(r *LogRecord) string { return r.ModelType }},
	"request_type":          {kind: kindString, index: "rtype", str: func(r *LogRecord) string { return r.RequestType }},
	"request_content_type":  {kind: kindString, str: func(r *LogRecord) string { return r.RequestContentType }},
	"response_content_type": {kind: kindString, str: func(r *LogRecord) string { return r.ResponseContentType }},
	"success":               {kind: kindBool, index: "success", flag: func(r *LogRecord) bool { return r.Success }},
	"cached":                {kind: kindBool, index: "cached", flag: func(r *LogRecord) bool { return r.Cached }},
	"cost": {kind: kindNumber, num: func(r *LogRecord) (float64, bool) {
		if r.Cost == nil {
			return 0, false
		}
		return *r.Cost, true
	}},
	"tokens":     {kind: kindNumber, num: func(r *LogRecord) (float64, bool) { return float64(tokens(r.TokensIn) + tokens(r.TokensOut)), true }},
	"tokens_in":  {kind: kindNumber, num: func(r *LogRecord) (float64, bool) { return float64(tokens(r.TokensIn)), true }},
	"tokens_out": {kind: kindNumber, num: func(r *LogRecord) (float64, bool) { return float64(tokens(r.TokensOut)), true }},
	"duration":   {kind: kindNumber, num: func(r *LogRecord) (float64, bool) { return float64(r.Duration), true }},
	"feedback": {kind: kindNumber, index: "feedback", num: func(r *LogRecord) (float64, bool) {
		return float64(feedbackOf(r)), true
	}},
	"dlp_action":     {kind: kindString, index: "dlp", str: func(r *LogRecord) string { return r.DLPAction }},
	"created_at":     {kind: kindTime},
	"metadata.key":   {kind: kindMetaKey},
	"metadata.value": {kind: kindMetaValue},
}

// feedbackOf is a record's feedback: 1 thumbs up, -1 thumbs down, 0 none.
func feedbackOf(r *LogRecord) int {
	if r.Feedback == nil {
		return 0
	}
	return *r.Feedback
}

// operators lists what each kind of field accepts.
var operators = map[fieldKind][]string{
	kindString:    {OpEq, OpNeq, OpContains},
	kindBool:      {OpEq, OpNeq},
	kindNumber:    {OpEq, OpNeq, OpLt, OpGt},
	kindTime:      {OpEq, OpLt, OpGt},
	kindMetaKey:   {OpEq, OpNeq, OpContains},
	kindMetaValue: {OpEq, OpNeq, OpContains},
}

// cond is one filter checked on a record. Several values: any of them matches (for neq:
// none of them equals).
type cond struct {
	key   string
	op    string
	field filterField
	strs  []string // string and metadata values; lower case for contains
	nums  []float64
	bools []bool
	// pairKeys/pairVals: metadata.key eq and metadata.value eq together, which match one
	// entry (the key has that value).
	pairKeys, pairVals []string
}

// logPlan is a compiled query: the log-id range, the index walks that must all hold
// (each a set of index prefixes, any of which holds) and the conditions read from records.
type logPlan struct {
	acct, gw string
	lo, hi   string   // ULID bounds, inclusive
	ids      []string // id eq: the only candidates (nil: not restricted)
	// events are the values of each event_id eq filter: walk turns each into the ids of
	// its records (eventLogIDs) and restricts ids to them.
	events   [][]string
	streams  [][]string
	residual []cond
	// metaChecks are the metadata equalities the posting lists answer; they are also
	// checked on the facts in a gateway where PATCH has changed metadata.
	metaChecks []cond
	search     string // lower case
	empty      bool   // no record can match
	filtered   bool   // any condition at all besides the gateway
}

// metaString renders a metadata value as the filters and indexes compare it.
func metaString(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case bool:
		return strconv.FormatBool(x)
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64)
	case json.Number:
		return x.String()
	default:
		b, _ := json.Marshal(x)
		return string(b)
	}
}

func boolValue(s string) (bool, bool) {
	switch strings.ToLower(s) {
	case "true", "1":
		return true, true
	case "false", "0":
		return false, true
	}
	return false, false
}

// ValidateLogFilters checks filters without running them: a *FilterError names the first
// bad one. Datasets and evaluations use it to refuse a bad saved filter at once.
func ValidateLogFilters(fs []events.LogFilter) error {
	_, err := compileLogPlan(LogQuery{Filters: fs})
	return err
}

// compileLogPlan turns a query into a plan. The LogQuery shortcuts (Provider, Model,
// Success, Since, Until) are filters like the others.
func compileLogPlan(q LogQuery) (*logPlan, error) {
	p := &logPlan{acct: q.AccountID, gw: q.GatewayID, lo: strings.Repeat("0", 26), hi: strings.Repeat("Z", 26)}
	fs := slices.Clone(q.Filters)
	if q.Provider != "" {
		fs = append(fs, events.LogFilter{Key: "provider", Operator: OpEq, Values: []string{q.Provider}})
	}
	if q.Model != "" {
		fs = append(fs, events.LogFilter{Key: "model", Operator: OpEq, Values: []string{q.Model}})
	}
	if q.Success != nil {
		fs = append(fs, events.LogFilter{Key: "success", Operator: OpEq, Values: []string{strconv.FormatBool(*q.Success)}})
	}
	lo, hi := ulidBounds(q.Since, q.Until)
	p.narrow(lo, hi)
	p.filtered = !q.Since.IsZero() || !q.Until.IsZero()
	if q.Search != "" {
		p.search = strings.ToLower(q.Search)
		p.filtered = true
	}
	var metaKeyEq, metaValEq *cond
	for _, f := range fs {
		field, known := filterFields[f.Key]
		if !known {
			return nil, &FilterError{Key: f.Key, Message: "filter on " + strconv.Quote(f.Key) + " is not supported; keys: " + strings.Join(FilterKeys(), ", ")}
		}
		if !slices.Contains(operators[field.kind], f.Operator) {
			return nil, &FilterError{Key: f.Key, Message: "operator " + strconv.Quote(f.Operator) + " is not supported on " + f.Key + " (use " + strings.Join(operators[field.kind], ", ") + ")"}
		}
		if len(f.Values) == 0 {
			return nil, &FilterError{Key: f.Key, Message: "filter on " + f.Key + " has no value"}
		}
		p.filtered = true
		c := cond{key: f.Key, op: f.Operator, field: field}
		switch field.kind {
		case kindTime:
			ms, err := p.timeBound(f)
			if err != nil {
				return nil, err
			}
			if len(ms) > 1 { // eq on several times: the range spans them, each log is checked
				for _, m := range ms {
					c.nums = append(c.nums, float64(m))
				}
				p.residual = append(p.residual, c)
			}
			continue
		case kindBool:
			for _, v := range f.Values {
				b, ok := boolValue(v)
				if !ok {
					return nil, &FilterError{Key: f.Key, Message: f.Key + " takes true or false, not " + strconv.Quote(v)}
				}
				c.bools = append(c.bools, b)
			}
		case kindNumber:
			for _, v := range f.Values {
				n, err := strconv.ParseFloat(v, 64)
				if err != nil || math.IsNaN(n) {
					return nil, &FilterError{Key: f.Key, Message: f.Key + " takes a number, not " + strconv.Quote(v)}
				}
				c.nums = append(c.nums, n)
			}
		default:
			c.strs = slices.Clone(f.Values)
			if f.Operator == OpContains {
				for i, s := range c.strs {
					c.strs[i] = strings.ToLower(s)
				}
			}
		}
		switch {
		case f.Key == "id" && f.Operator == OpEq:
			p.restrictIDs(c.strs)
		case f.Key == "event_id" && f.Operator == OpEq:
			p.events = append(p.events, c.strs)
		case field.kind == kindMetaKey && f.Operator == OpEq && metaKeyEq == nil:
			// PATCH can change metadata: the lists are checked on the facts as well
			// once it has in the gateway (see walk).
			metaKeyEq = &c
			p.metaChecks = append(p.metaChecks, c)
		case field.kind == kindMetaValue && f.Operator == OpEq && metaValEq == nil:
			metaValEq = &c
			p.metaChecks = append(p.metaChecks, c)
		case f.Operator == OpEq && field.index != "" && !(field.index == "dlp" && slices.Contains(c.strs, "")):
			// (records without a DLP action are not listed: eq "" reads the facts)
			p.streams = append(p.streams, p.prefixes(field.index, c.indexValues()))
			if field.index == "feedback" {
				// The one listed field a record changes (PATCH): its old lists still
				// name it, so the condition is checked on the facts too.
				p.residual = append(p.residual, c)
			}
		default:
			p.residual = append(p.residual, c)
		}
	}
	switch {
	case metaKeyEq != nil && metaValEq != nil:
		var vals []string
		for _, k := range metaKeyEq.strs {
			for _, v := range metaValEq.strs {
				vals = append(vals, k+metaPairSep+v)
			}
		}
		p.streams = append(p.streams, p.prefixes("mp", vals))
		p.metaChecks = append(p.metaChecks, cond{key: "metadata", op: OpEq, field: filterField{kind: kindMetaKey},
			pairKeys: metaKeyEq.strs, pairVals: metaValEq.strs})
	case metaKeyEq != nil:
		p.streams = append(p.streams, p.prefixes("mk", metaKeyEq.strs))
	case metaValEq != nil:
		p.streams = append(p.streams, p.prefixes("mv", metaValEq.strs))
	}
	if p.lo > p.hi {
		p.empty = true
	}
	return p, nil
}

// FilterKeys lists the filter keys the store runs, sorted.
func FilterKeys() []string {
	keys := make([]string, 0, len(filterFields))
	for k := range filterFields {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

const metaPairSep = "\x01"

func (p *logPlan) prefixes(index string, values []string) []string {
	out := make([]string, 0, len(values))
	for _, v := range values {
		out = append(out, postingPrefix(p.acct, p.gw, index, v))
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// indexValues renders an eq condition's values as its index stores them.
func (c *cond) indexValues() []string {
	switch c.field.kind {
	case kindBool:
		out := make([]string, len(c.bools))
		for i, b := range c.bools {
			out[i] = successValue(b)
		}
		return out
	case kindNumber:
		out := make([]string, len(c.nums))
		for i, n := range c.nums {
			out[i] = strconv.FormatFloat(n, 'f', -1, 64)
		}
		return out
	}
	return c.strs
}

func (p *logPlan) restrictIDs(ids []string) {
	if p.ids == nil {
		p.ids = slices.Clone(ids)
	} else {
		p.ids = slices.DeleteFunc(p.ids, func(id string) bool { return !slices.Contains(ids, id) })
	}
	slices.Sort(p.ids)
	p.ids = slices.Compact(p.ids)
	if len(p.ids) == 0 {
		p.empty = true
	}
}

func (p *logPlan) narrow(lo, hi string) {
	p.lo, p.hi = max(p.lo, lo), min(p.hi, hi)
}

// timeBound narrows the id range. created_at is compared at the millisecond of the log
// id (a ULID made when the request arrived). Several values: any of them holds. For eq it
// answers the distinct milliseconds asked for: the range spans them all, so with more
// than one each log must be checked against them.
func (p *logPlan) timeBound(f events.LogFilter) ([]int64, error) {
	var bound time.Time
	var eq []int64
	for i, v := range f.Values {
		t, err := time.Parse(time.RFC3339Nano, v)
		if err != nil {
			return nil, &FilterError{Key: f.Key, Message: f.Key + " takes an RFC 3339 time, not " + strconv.Quote(v)}
		}
		if f.Operator == OpEq {
			if ms := t.UnixMilli(); !slices.Contains(eq, ms) {
				eq = append(eq, ms)
			}
			continue
		}
		if i == 0 || (f.Operator == OpGt && t.Before(bound)) || (f.Operator == OpLt && t.After(bound)) {
			bound = t
		}
	}
	if f.Operator == OpEq {
		p.narrow(ulidAt(slices.Min(eq), 0), ulidAt(slices.Max(eq), 0xff))
		return eq, nil
	}
	ms := bound.UnixMilli()
	if f.Operator == OpGt {
		p.narrow(ulidAt(ms+1, 0), p.hi)
	} else {
		if bound.Equal(time.UnixMilli(ms)) {
			ms-- // strictly before a whole millisecond
		}
		p.narrow(p.lo, ulidAt(ms, 0xff))
	}
	return nil, nil
}

// ulidAt is the smallest (fill 0) or largest (fill 0xff) ULID of a millisecond.
func ulidAt(ms int64, fill byte) string {
	if ms < 0 {
		return strings.Repeat("0", 26)
	}
	if uint64(ms) > ulid.MaxTime() {
		return strings.Repeat("Z", 26)
	}
	var u ulid.ULID
	_ = u.SetTime(uint64(ms))
	for i := 6; i < 16; i++ {
		u[i] = fill
	}
	return u.String()
}

// needsRecord: the plan has conditions only the record can answer.
func (p *logPlan) needsRecord() bool { return len(p.residual) > 0 || p.search != "" }

// match checks the residual conditions and the search on a record.
func (p *logPlan) match(r *LogRecord) bool {
	var meta map[string]string
	if r.Metadata != "" && p.needsMeta() {
		meta = parseMeta(r.Metadata)
	}
	for i := range p.residual {
		if !p.residual[i].match(r, meta) {
			return false
		}
	}
	return true
}

func (p *logPlan) needsMeta() bool {
	for _, c := range p.residual {
		if c.field.kind == kindMetaKey || c.field.kind == kindMetaValue {
			return true
		}
	}
	return false
}

func parseMeta(s string) map[string]string {
	var m map[string]any
	if json.Unmarshal([]byte(s), &m) != nil {
		return nil
	}
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[k] = metaString(v)
	}
	return out
}

func searchMatch(r *LogRecord, s string) bool {
	for _, f := range []string{r.ID, r.EventID, r.Provider, r.Model, r.Path, r.Metadata, r.ErrorMessage} {
		if strings.Contains(strings.ToLower(f), s) {
			return true
		}
	}
	return false
}

// match: any value holds (eq, contains, lt, gt); for neq, no value equals.
func (c *cond) match(r *LogRecord, meta map[string]string) bool {
	if c.op == OpNeq {
		eq := *c
		eq.op = OpEq
		return !eq.match(r, meta)
	}
	switch c.field.kind {
	case kindTime: // eq on several times (see timeBound): the millisecond of the log id
		id, err := ulid.Parse(r.ID)
		return err == nil && slices.Contains(c.nums, float64(id.Time()))
	case kindBool:
		return slices.Contains(c.bools, c.field.flag(r))
	case kindNumber:
		v, ok := c.field.num(r)
		if !ok {
			return false // an unknown cost matches no cost filter
		}
		for _, n := range c.nums {
			if (c.op == OpEq && v == n) || (c.op == OpLt && v < n) || (c.op == OpGt && v > n) {
				return true
			}
		}
		return false
	case kindMetaKey, kindMetaValue:
		if c.pairKeys != nil {
			for _, k := range c.pairKeys {
				if v, ok := meta[k]; ok && slices.Contains(c.pairVals, v) {
					return true
				}
			}
			return false
		}
		for k, v := range meta {
			s := k
			if c.field.kind == kindMetaValue {
				s = v
			}
			if stringMatch(c.op, s, c.strs) {
				return true
			}
		}
		return false
	default:
		return stringMatch(c.op, c.field.str(r), c.strs)
	}
}

func stringMatch(op, s string, values []string) bool {
	if op == OpContains {
		s = strings.ToLower(s)
		for _, v := range values {
			if strings.Contains(s, v) {
				return true
			}
		}
		return false
	}
	return slices.Contains(values, s)
}

// probeCap bounds how many entries of each index walk are counted to pick the smallest.
const probeCap = 2000

// walk calls yield with the ids of the records matching p, in id (time) order, newest
// first unless asc, until yield returns false. The driver is the sparsest posting-list
// walk (probed), or the ids of an id filter, or the facts of every record; the other
// posting lists and the facts (every condition is checked on them) are merged in by
// forward cursors.
func walk(txn *badger.Txn, p *logPlan, asc bool, yield func(id string) bool) error {
	if p.empty {
		return nil
	}
	if len(p.events) > 0 {
		q := *p
		q.ids, q.events = slices.Clone(p.ids), nil
		for _, evs := range p.events {
			ids, err := eventLogIDs(txn, p.acct, p.gw, evs)
			if err != nil {
				return err
			}
			if q.restrictIDs(ids); q.empty {
				return nil
			}
		}
		p = &q
	}
	lo, hi := p.lo, p.hi
	// Posting lists keep the ids of deleted records. DELETE_OLDEST deletes the oldest:
	// the walk starts at the oldest record. A delete by filter may leave any: then each
	// id is looked up in the facts.
	exists := false
	if p.ids == nil && len(p.streams) > 0 {
		oldest := ""
		scanIndex(txn, recordPrefix(p.acct, p.gw), true, lo, hi, false, 1, func(id string, _ *badger.Item) bool {
			oldest = id
			return false
		})
		if oldest == "" {
			return nil
		}
		lo = max(lo, oldest)
		if _, err := txn.Get(filterDeletedKey(p.acct, p.gw)); err == nil {
			exists = true
		} else if !errors.Is(err, badger.ErrKeyNotFound) {
			return err
		}
	}
	if len(p.metaChecks) > 0 {
		if _, err := txn.Get(metaPatchedKey(p.acct, p.gw)); err == nil {
			q := *p
			q.residual = append(slices.Clip(p.residual), p.metaChecks...)
			p = &q
		} else if !errors.Is(err, badger.ErrKeyNotFound) {
			return err
		}
	}
	driver := -1
	if p.ids == nil && len(p.streams) > 0 {
		// The sparsest walk drives.
		best := 0.0
		for i, s := range p.streams {
			n := 0
			var first, last string
			mergePostings(txn, s, asc, lo, hi, func(id string) bool {
				if first == "" {
					first = id
				}
				last = id
				n++
				return n < probeCap
			})
			if n == 0 {
				return nil
			}
			// A walk that ended within the probe beats any that did not; among those
			// that did not, the one whose probe spans the most time is the sparsest.
			score := float64(n - 2*probeCap)
			if n >= probeCap {
				score = 1 / (math.Abs(float64(idTime(last)-idTime(first))) + 1)
			}
			if driver < 0 || score < best {
				driver, best = i, score
			}
		}
	}
	var checks [][]*postingIter
	for i, s := range p.streams {
		if i == driver {
			continue
		}
		var cs []*postingIter
		for _, pre := range s {
			c := newPostingIter(txn, pre, asc, lo, hi)
			defer c.close()
			cs = append(cs, c)
		}
		checks = append(checks, cs)
	}
	var facts *cursor
	if (len(p.residual) > 0 && (driver >= 0 || p.search != "" || p.ids != nil)) || exists {
		facts = newCursor(txn, recordPrefix(p.acct, p.gw), asc)
		defer facts.it.Close()
	}
	var rec LogRecord
	var failed error
	// visit checks one candidate; item is its record when the driver walks them.
	visit := func(id string, item *badger.Item) bool {
		for _, cs := range checks {
			found := false
			for _, c := range cs {
				if c.has(id) {
					found = true
					break
				}
			}
			if !found {
				return true
			}
		}
		if exists && len(p.residual) == 0 {
			if _, ok := facts.at(id); !ok {
				return true
			}
		}
		if len(p.residual) > 0 {
			if item == nil {
				var ok bool
				if item, ok = facts.at(id); !ok {
					return true
				}
			}
			rec = LogRecord{ID: id}
			ok := false
			if err := item.Value(func(v []byte) error { ok = readFacts(v, &rec); return nil }); err != nil {
				failed = err
				return false
			}
			if !ok || !p.match(&rec) {
				return true
			}
		}
		if p.search != "" {
			full, found, err := getRecord(txn, recordKey(p.acct, p.gw, id))
			if err != nil {
				failed = err
				return false
			}
			if !found || !searchMatch(&full, p.search) {
				return true
			}
		}
		return yield(id)
	}
	switch {
	case p.ids != nil:
		ids := slices.Clone(p.ids)
		if !asc {
			slices.Reverse(ids)
		}
		for _, id := range ids {
			if id < lo || id > hi {
				continue
			}
			if _, err := txn.Get(recordKey(p.acct, p.gw, id)); errors.Is(err, badger.ErrKeyNotFound) {
				continue
			} else if err != nil {
				return err
			}
			if !visit(id, nil) {
				break
			}
		}
	case driver >= 0:
		mergePostings(txn, p.streams[driver], asc, lo, hi, func(id string) bool { return visit(id, nil) })
	case len(p.residual) > 0:
		scanIndex(txn, recordPrefix(p.acct, p.gw), asc, lo, hi, true, -1, visit)
	default:
		scanIndex(txn, recordPrefix(p.acct, p.gw), asc, lo, hi, false, -1, func(id string, _ *badger.Item) bool { return visit(id, nil) })
	}
	return failed
}

// eventLogIDs is the ids of a gateway's records made for any of the event ids (those
// deleted since included: walk checks each id). A record whose log id and event id are of
// one millisecond, as the gateway makes them, is among the facts of that millisecond; any
// other is listed under its event id (postingValues).
func eventLogIDs(txn *badger.Txn, acct, gw string, evs []string) ([]string, error) {
	var ids []string
	var failed error
	records := recordPrefix(acct, gw)
	lists := make([]string, 0, len(evs))
	for _, ev := range evs {
		lists = append(lists, postingPrefix(acct, gw, "event", ev))
		ms, ok := ulidMillisecond(ev)
		if !ok {
			continue
		}
		// Values are read one by one: a prefetch would read past the millisecond's records.
		scanIndex(txn, records, true, ulidAt(ms, 0), ulidAt(ms, 0xff), false, -1, func(id string, item *badger.Item) bool {
			failed = item.Value(func(v []byte) error {
				var r LogRecord
				if readFacts(v, &r) && r.EventID == ev {
					ids = append(ids, id)
				}
				return nil
			})
			return failed == nil
		})
		if failed != nil {
			return nil, failed
		}
	}
	mergePostings(txn, lists, true, strings.Repeat("0", 26), strings.Repeat("Z", 26), func(id string) bool {
		ids = append(ids, id)
		return true
	})
	return ids, nil
}

// scanIndex walks the keys under prefix whose id suffix is in [lo, hi], in order, at most
// limit of them (negative: no limit), and returns how many it visited.
func scanIndex(txn *badger.Txn, prefix string, asc bool, lo, hi string, values bool, limit int, fn func(id string, item *badger.Item) bool) int {
	if limit == 0 {
		return 0
	}
	opts := badger.DefaultIteratorOptions
	opts.PrefetchValues = values
	opts.PrefetchSize = 32
	opts.Reverse = !asc
	opts.Prefix = []byte(prefix)
	it := txn.NewIterator(opts)
	defer it.Close()
	start := prefix + lo
	if !asc {
		start = prefix + hi + "\xff"
	}
	n := 0
	for it.Seek([]byte(start)); it.Valid(); it.Next() {
		id := string(it.Item().Key()[len(prefix):])
		if id < lo || id > hi {
			if (asc && id > hi) || (!asc && id < lo) {
				break
			}
			continue
		}
		n++
		if !fn(id, it.Item()) || n == limit {
			break
		}
	}
	return n
}

// mergePostings walks the union of several posting prefixes in id order, each id once.
func mergePostings(txn *badger.Txn, prefixes []string, asc bool, lo, hi string, fn func(id string) bool) {
	its := make([]*postingIter, 0, len(prefixes))
	heads := make([]string, 0, len(prefixes))
	for _, pre := range prefixes {
		it := newPostingIter(txn, pre, asc, lo, hi)
		defer it.close()
		if id, ok := it.next(); ok {
			its, heads = append(its, it), append(heads, id)
		}
	}
	last := ""
	for len(its) > 0 {
		best := 0
		for i := range heads {
			if (asc && heads[i] < heads[best]) || (!asc && heads[i] > heads[best]) {
				best = i
			}
		}
		id := heads[best]
		if next, ok := its[best].next(); ok {
			heads[best] = next
		} else {
			its, heads = slices.Delete(its, best, best+1), slices.Delete(heads, best, best+1)
		}
		if id == last {
			continue
		}
		last = id
		if !fn(id) {
			return
		}
	}
}

// A record's facts are the fields the filters read, in a compact binary form stored in
// front of the record (record.go): a residual condition is checked on them without
// decompressing and decoding the whole record.

const (
	factSuccess = 1 << iota
	factCached
	factCost
	factTokens
)

// appendFacts appends a record's filterable fields to b.
func appendFacts(b []byte, r *LogRecord) []byte {
	var flags byte
	if r.Success {
		flags |= factSuccess
	}
	if r.Cached {
		flags |= factCached
	}
	if r.Cost != nil {
		flags |= factCost
	}
	if r.TokensIn != nil || r.TokensOut != nil {
		flags |= factTokens
	}
	b = append(b, flags, byte(int8(feedbackOf(r))))
	if r.Cost != nil {
		b = binary.BigEndian.AppendUint64(b, math.Float64bits(*r.Cost))
	}
	if flags&factTokens != 0 {
		b = binary.AppendVarint(b, tokens(r.TokensIn))
		b = binary.AppendVarint(b, tokens(r.TokensOut))
	}
	b = binary.AppendVarint(b, r.Duration)
	for _, s := range []string{r.EventID, r.Provider, r.Model, r.ModelType, r.RequestType, r.RequestContentType, r.ResponseContentType, r.Metadata} {
		b = binary.AppendUvarint(b, uint64(len(s)))
		b = append(b, s...)
	}
	if r.DLPAction != "" { // optional and last: facts written before it simply end earlier
		b = binary.AppendUvarint(b, uint64(len(r.DLPAction)))
		b = append(b, r.DLPAction...)
	}
	return b
}

// readFacts fills the filterable fields of r from a stored record: from its facts, or
// (a record stored without them) from the whole record.
func readFacts(v []byte, r *LogRecord) bool {
	if facts, ok := storedFacts(v); ok {
		return decodeFacts(facts, r)
	}
	id := r.ID
	if decodeRecord(v, r) != nil {
		return false
	}
	r.ID = id
	return true
}

// decodeFacts fills the filterable fields of r from appendFacts' bytes.
func decodeFacts(b []byte, r *LogRecord) bool {
	if len(b) < 2 {
		return false
	}
	flags := b[0]
	r.Success, r.Cached = flags&factSuccess != 0, flags&factCached != 0
	if fb := int(int8(b[1])); fb != 0 || r.Feedback != nil {
		r.Feedback = &fb
	}
	b = b[2:]
	if flags&factCost != 0 {
		if len(b) < 8 {
			return false
		}
		c := math.Float64frombits(binary.BigEndian.Uint64(b))
		r.Cost, b = &c, b[8:]
	}
	next := func() int64 {
		v, n := binary.Varint(b)
		if n <= 0 {
			b = nil
			return 0
		}
		b = b[n:]
		return v
	}
	if flags&factTokens != 0 {
		in, out := next(), next()
		r.TokensIn, r.TokensOut = &in, &out
	}
	r.Duration = next()
	for _, s := range []*string{&r.EventID, &r.Provider, &r.Model, &r.ModelType, &r.RequestType, &r.RequestContentType, &r.ResponseContentType, &r.Metadata} {
		field, rest, ok := cutPrefixed(b)
		if !ok {
			return false
		}
		*s, b = string(field), rest
	}
	if field, _, ok := cutPrefixed(b); ok {
		r.DLPAction = string(field)
	}
	return true
}

// cursor moves forward through one prefix in walk order, answering "is this id here?"
// for ids asked in that same order: a merge join, far cheaper than a lookup per id.
type cursor struct {
	it  *badger.Iterator
	pre []byte
	asc bool
	key []byte
}

// newCursor reads no value ahead: a record's value is in the value log, and a prefetch
// would read those of the records the cursor steps over (up to 16 per id asked), not only
// the candidates' (walk reads those, one each).
func newCursor(txn *badger.Txn, pre string, asc bool) *cursor {
	opts := badger.DefaultIteratorOptions
	opts.PrefetchValues = false
	opts.Reverse = !asc
	opts.Prefix = []byte(pre)
	c := &cursor{it: txn.NewIterator(opts), pre: []byte(pre), asc: asc}
	if asc {
		c.it.Rewind()
	} else {
		c.it.Seek([]byte(pre + "\xff")) // a reverse Rewind would start before the prefix
	}
	return c
}

// at moves to id and reports whether the prefix holds it (with its item).
func (c *cursor) at(id string) (*badger.Item, bool) {
	for steps := 0; c.it.Valid(); steps++ {
		cmp := bytes.Compare(c.it.Item().Key()[len(c.pre):], []byte(id))
		if cmp == 0 {
			return c.it.Item(), true
		}
		if (c.asc && cmp > 0) || (!c.asc && cmp < 0) {
			return nil, false
		}
		if steps < 8 {
			c.it.Next()
			continue
		}
		c.key = append(append(c.key[:0], c.pre...), id...)
		c.it.Seek(c.key)
		steps = -1 << 30 // after a seek, only step
	}
	return nil, false
}

// idTime is the millisecond of a log id (0 when it is not a ULID).
func idTime(id string) int64 {
	u, err := ulid.Parse(id)
	if err != nil {
		return 0
	}
	return int64(u.Time())
}
