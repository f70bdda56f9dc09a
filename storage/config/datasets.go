// datasets.go: datasets, the saved log filters of a gateway that evaluations run over, in
// the hosted shape (cloudflare-go v7 ai_gateway.Dataset*). A dataset is a config resource:
// each write is a config.changed event ("dataset") applied to the snapshot, so it is
// replayed, audited and read back like every other control-plane write.
package config

import (
	"context"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
	"time"

	json "github.com/goccy/go-json"
	"github.com/google/uuid"
	"github.com/switchyard/switchyard/events"
)

// Resource names of this file and evaluations.go, in events and audit entries.
const (
	ResDataset    = "dataset"
	ResEvaluation = "evaluation"
)

// Dataset limits.
const (
	maxNameLen          = 200
	maxDatasetFilters   = 20
	maxFilterValues     = 20
	maxFilterValueBytes = 256
)

// Dataset is a saved log filter of one gateway. The account fields are there because the
// hosted evaluation answer embeds its datasets with them.
type Dataset struct {
	ID         string          `json:"id"`
	AccountID  string          `json:"account_id"`
	AccountTag string          `json:"account_tag"`
	GatewayID  string          `json:"gateway_id"`
	Name       string          `json:"name"`
	Enable     bool            `json:"enable"`
	Filters    []DatasetFilter `json:"filters"`
	CreatedAt  time.Time       `json:"created_at"`
	ModifiedAt time.Time       `json:"modified_at"`
}

// DatasetFilter is one hosted log filter: a key, an operator and its values (strings,
// numbers or booleans, kept as sent). eq and contains match when any value matches; lt and
// gt take exactly one value. All the filters of a dataset must hold.
type DatasetFilter struct {
	Key      string `json:"key"`
	Operator string `json:"operator"`
	Value    []any  `json:"value"`
}

// filterKind says which operators and values a filter key takes.
type filterKind int

const (
	kindText     filterKind = iota // eq, contains; string values
	kindBool                       // eq; true/false
	kindNumber                     // eq, lt, gt; numbers
	kindTime                       // eq (at the millisecond), lt, gt; RFC 3339 times
	kindFeedback                   // eq; -1, 0 or 1
)

// datasetKeys are the hosted filter keys (DatasetNewParamsFiltersKey) and their kinds.
var datasetKeys = map[string]filterKind{
	"created_at": kindTime, "request_content_type": kindText, "response_content_type": kindText,
	"success": kindBool, "cached": kindBool, "provider": kindText, "model": kindText,
	"cost": kindNumber, "tokens": kindNumber, "tokens_in": kindNumber, "tokens_out": kindNumber,
	"duration": kindNumber, "feedback": kindFeedback,
}

var kindOperators = map[filterKind][]string{
	kindText: {"eq", "contains"}, kindBool: {"eq"}, kindNumber: {"eq", "lt", "gt"},
	kindTime: {"eq", "lt", "gt"}, kindFeedback: {"eq"},
}

func datasetKeyList() string {
	keys := make([]string, 0, len(datasetKeys))
	for k := range datasetKeys {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return strings.Join(keys, ", ")
}

// validateDataset checks a dataset's name and filters, naming the field at fault.
func validateDataset(d *Dataset) *Error {
	d.Name = strings.TrimSpace(d.Name)
	if d.Name == "" || len(d.Name) > maxNameLen {
		return invalid("name is required (1-200 characters)", "body", "name")
	}
	if d.Filters == nil {
		return invalid("filters is required (an empty list selects every log of the gateway)", "body", "filters")
	}
	if len(d.Filters) > maxDatasetFilters {
		return invalid(fmt.Sprintf("at most %d filters", maxDatasetFilters), "body", "filters")
	}
	for i, f := range d.Filters {
		if e := validateFilter(f, "filters", strconv.Itoa(i)); e != nil {
			return e
		}
	}
	return nil
}

func validateFilter(f DatasetFilter, path ...string) *Error {
	at := func(field string) []string { return append(append([]string{"body"}, path...), field) }
	kind, known := datasetKeys[f.Key]
	if !known {
		return invalid(fmt.Sprintf("filter key %q is not one of %s", f.Key, datasetKeyList()), at("key")...)
	}
	ops := kindOperators[kind]
	allowed := false
	for _, o := range ops {
		allowed = allowed || o == f.Operator
	}
	if !allowed {
		return invalid(fmt.Sprintf("filter operator %q is not valid for key %s (use %s)", f.Operator, f.Key, join(ops)), at("operator")...)
	}
	switch {
	case len(f.Value) == 0:
		return invalid("filter on "+f.Key+" needs at least one value", at("value")...)
	case (f.Operator == "lt" || f.Operator == "gt") && len(f.Value) != 1:
		return invalid("filter "+f.Key+" "+f.Operator+" takes exactly one value", at("value")...)
	case len(f.Value) > maxFilterValues:
		return invalid(fmt.Sprintf("filter on %s takes at most %d values", f.Key, maxFilterValues), at("value")...)
	}
	for _, v := range f.Value {
		if _, e := filterValue(kind, f.Key, v); e != nil {
			return invalid(e.Error(), at("value")...)
		}
	}
	return nil
}

// filterValue checks one value against its key's kind and answers it in the text form of
// events.LogFilter: numbers without exponent or trailing zeros, booleans as true/false,
// times in RFC 3339. Numbers and booleans may also be sent as strings.
func filterValue(kind filterKind, key string, v any) (string, error) {
	switch kind {
	case kindText:
		s, isStr := v.(string)
		if !isStr || s == "" || len(s) > maxFilterValueBytes {
			return "", fmt.Errorf("values of %s must be non-empty strings of at most %d bytes", key, maxFilterValueBytes)
		}
		return s, nil
	case kindBool:
		switch b := v.(type) {
		case bool:
			return strconv.FormatBool(b), nil
		case string:
			if p, err := strconv.ParseBool(b); err == nil {
				return strconv.FormatBool(p), nil
			}
		}
		return "", fmt.Errorf("values of %s must be true or false", key)
	case kindTime:
		s, _ := v.(string)
		t, err := time.Parse(time.RFC3339, s)
		if err != nil {
			return "", fmt.Errorf("values of %s must be RFC 3339 times", key)
		}
		return t.UTC().Format(time.RFC3339Nano), nil
	}
	n, isNum := v.(float64)
	if s, isStr := v.(string); isStr {
		p, err := strconv.ParseFloat(s, 64)
		n, isNum = p, err == nil
	}
	if !isNum || math.IsNaN(n) || math.IsInf(n, 0) {
		return "", fmt.Errorf("values of %s must be numbers", key)
	}
	if kind == kindFeedback && n != -1 && n != 0 && n != 1 {
		return "", fmt.Errorf("values of feedback must be -1 (thumbs down), 0 (none) or 1 (thumbs up)")
	}
	if kind == kindNumber && n < 0 {
		return "", fmt.Errorf("values of %s must not be negative", key)
	}
	return strconv.FormatFloat(n, 'f', -1, 64), nil
}

// LogFilter is the filter in the form of log queries. Times are RFC 3339 (UTC).
func (f DatasetFilter) LogFilter() events.LogFilter {
	kind := datasetKeys[f.Key]
	out := events.LogFilter{Key: f.Key, Operator: f.Operator, Values: make([]string, 0, len(f.Value))}
	for _, v := range f.Value {
		s, err := filterValue(kind, f.Key, v)
		if err == nil { // stored filters were validated; this only guards old events
			out.Values = append(out.Values, s)
		}
	}
	return out
}

func datasetNotFound() *Error {
	return notFound("dataset", "path", "id")
}

func gatewayNotFound(gw string) *Error {
	return notFound("gateway "+gw, "path", "gateway_id")
}

// CreateDataset creates a dataset on a gateway from a hosted create body ({name, enable,
// filters}); enable defaults to true.
func (s *Service) CreateDataset(ctx context.Context, actor events.Actor, acct, gw string, body []byte) (*Dataset, error) {
	r, err := s.write(ctx, actor, func(snap *Snapshot) (*change, error) {
		if snap.Gateway(acct, gw) == nil {
			return nil, gatewayNotFound(gw)
		}
		d := Dataset{Enable: true}
		if e := decode(body, &d); e != nil {
			return nil, e
		}
		if e := validateDataset(&d); e != nil {
			return nil, e
		}
		now := s.Now().UTC()
		d.ID, d.AccountID, d.AccountTag, d.GatewayID, d.CreatedAt, d.ModifiedAt = uuid.NewString(), acct, acct, gw, now, now
		return &change{ev: events.ConfigChanged{Action: "create", Resource: ResDataset, ResourceID: d.ID,
			AccountID: acct, GatewayID: gw, Old: []byte("null"), New: mustJSON(d)}, result: &d}, nil
	})
	if err != nil {
		return nil, err
	}
	return r.(*Dataset), nil
}

// UpdateDataset applies a hosted update body (PUT): fields present replace the stored ones.
func (s *Service) UpdateDataset(ctx context.Context, actor events.Actor, acct, gw, id string, body []byte) (*Dataset, error) {
	r, err := s.write(ctx, actor, func(snap *Snapshot) (*change, error) {
		old := snap.Dataset(acct, gw, id)
		if old == nil {
			return nil, datasetNotFound()
		}
		d := *old
		d.Filters = nil // filters sent replace the old list; absent, the old list stays
		if e := decode(body, &d); e != nil {
			return nil, e
		}
		if d.Filters == nil {
			d.Filters = old.Filters
		}
		if e := validateDataset(&d); e != nil {
			return nil, e
		}
		d.ID, d.AccountID, d.AccountTag, d.GatewayID, d.CreatedAt, d.ModifiedAt = old.ID, acct, acct, gw, old.CreatedAt, s.Now().UTC()
		return &change{ev: events.ConfigChanged{Action: "update", Resource: ResDataset, ResourceID: id,
			AccountID: acct, GatewayID: gw, Old: mustJSON(old), New: mustJSON(d)}, result: &d}, nil
	})
	if err != nil {
		return nil, err
	}
	return r.(*Dataset), nil
}

// DeleteDataset deletes a dataset. Evaluations run on it keep their copy of it.
func (s *Service) DeleteDataset(ctx context.Context, actor events.Actor, acct, gw, id string) (*Dataset, error) {
	r, err := s.write(ctx, actor, func(snap *Snapshot) (*change, error) {
		old := snap.Dataset(acct, gw, id)
		if old == nil {
			return nil, datasetNotFound()
		}
		return &change{ev: events.ConfigChanged{Action: "delete", Resource: ResDataset, ResourceID: id,
			AccountID: acct, GatewayID: gw, Old: mustJSON(old), New: []byte("null")}, result: old}, nil
	})
	if err != nil {
		return nil, err
	}
	return r.(*Dataset), nil
}

// Dataset returns a gateway's dataset by id, or nil.
func (s *Snapshot) Dataset(acct, gw, id string) *Dataset { return scopedGet(s.datasets, acct, gw, id) }

// Datasets lists a gateway's datasets, newest first.
func (s *Snapshot) Datasets(acct, gw string) []*Dataset { return scopedList(s.datasets, acct, gw) }

func (d *Dataset) owner() (string, string, string, time.Time) {
	return d.AccountID, d.GatewayID, d.ID, d.CreatedAt
}

// scoped is a resource of one gateway (datasets, evaluations), kept by id in the snapshot.
type scoped interface {
	owner() (acct, gw, id string, created time.Time)
}

func scopedGet[T scoped](m map[string]T, acct, gw, id string) T {
	v, found := m[id]
	if found {
		if a, g, _, _ := v.owner(); a == acct && g == gw {
			return v
		}
	}
	var none T
	return none
}

// scopedList lists a gateway's resources, newest first.
func scopedList[T scoped](m map[string]T, acct, gw string) []T {
	var out []T
	for _, v := range m {
		if a, g, _, _ := v.owner(); a == acct && g == gw {
			out = append(out, v)
		}
	}
	sort.Slice(out, func(i, j int) bool {
		_, _, a, at := out[i].owner()
		_, _, b, bt := out[j].owner()
		if !at.Equal(bt) {
			return at.After(bt)
		}
		return a > b
	})
	return out
}

// applyScoped applies a create, update or delete event of a gateway resource to m.
func applyScoped[T any, P interface {
	*T
	scoped
}](m map[string]P, c events.ConfigChanged) error {
	delete(m, c.ResourceID)
	if c.Action == "delete" {
		return nil
	}
	v := P(new(T))
	if err := json.Unmarshal(c.New, v); err != nil {
		return err
	}
	_, _, id, _ := v.owner()
	m[id] = v
	return nil
}

// dropScoped removes a deleted gateway's resources from m.
func dropScoped[T scoped](m map[string]T, acct, gw string) {
	for id, v := range m {
		if a, g, _, _ := v.owner(); a == acct && g == gw {
			delete(m, id)
		}
	}
}

// applyDataset applies a dataset event to the next snapshot.
func (s *Snapshot) applyDataset(c events.ConfigChanged) error { return applyScoped(s.datasets, c) }

// dropGatewayEvals removes the datasets and evaluations of a deleted gateway.
func (s *Snapshot) dropGatewayEvals(acct, gw string) {
	dropScoped(s.datasets, acct, gw)
	dropScoped(s.evals, acct, gw)
}
