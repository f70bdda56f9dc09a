// logs.go is the logs projection: it turns request.finished events into log records with
// indexes by time (the ULID order), provider, model and success, and answers the log
// queries of the control API.
package storage

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/dgraph-io/badger/v4"
	json "github.com/goccy/go-json"
	"github.com/oklog/ulid/v2"
	"github.com/switchyard/switchyard/events"
)

// LogsProjection is the projection's name, used for its checkpoint and consumer.
const LogsProjection = "logs"

// LogRecord is one request as the logs API shows it. The JSON names are the hosted API's
// (cloudflare-go ai_gateway.LogGetResponse); the fields after Step are Switchyard's own.
type LogRecord struct {
	ID                  string    `json:"id"`
	CreatedAt           time.Time `json:"created_at"`
	Cached              bool      `json:"cached"`
	Duration            int64     `json:"duration"`
	Model               string    `json:"model"`
	ModelType           string    `json:"model_type,omitempty"`
	Path                string    `json:"path"`
	Provider            string    `json:"provider"`
	Success             bool      `json:"success"`
	TokensIn            *int64    `json:"tokens_in"`
	TokensOut           *int64    `json:"tokens_out"`
	StatusCode          int       `json:"status_code"`
	Step                int       `json:"step"`
	RequestType         string    `json:"request_type,omitempty"`
	RequestContentType  string    `json:"request_content_type,omitempty"`
	ResponseContentType string    `json:"response_content_type,omitempty"`
	RequestSize         int64     `json:"request_size"`
	ResponseSize        int64     `json:"response_size"`
	Metadata            string    `json:"metadata,omitempty"` // the cf-aig-metadata object, as a JSON string
	Cost                *float64  `json:"cost"`                // USD; null when the model has no known price
	CustomCost          bool      `json:"custom_cost"`         // Cost came from cf-aig-custom-cost
	// Feedback (-1, 0, 1) and Score (0-100) are set by PATCH .../logs/{id}.
	Feedback *int     `json:"feedback,omitempty"`
	Score    *float64 `json:"score,omitempty"`

	EventID      string  `json:"event_id"`
	AccountID    string  `json:"account_id"`
	GatewayID    string  `json:"gateway_id"`
	Method       string  `json:"method"`
	Stream       bool    `json:"stream"`
	TTFB         float64 `json:"ttfb_ms"`
	ErrorCode    int     `json:"error_code,omitempty"`
	ErrorMessage string  `json:"error_message,omitempty"`
	// TokensCached is the input tokens served from the provider's prompt cache;
	// TokensEstimated says the counts come from a tokenizer (the provider gave none).
	TokensCached    int64 `json:"tokens_cached,omitempty"`
	TokensEstimated bool  `json:"tokens_estimated,omitempty"`
	// KeyID and KeyAlias name the stored provider key used (BYOK), never the key.
	KeyID    string `json:"key_id,omitempty"`
	KeyAlias string `json:"key_alias,omitempty"`
	// Attempts lists the upstream calls made when there was more than one, or on the
	// universal endpoint: step, try, status, outcome (retry, fallback, answered, failed).
	Attempts []events.AttemptSummary `json:"attempts,omitempty"`
	// EventSeq is the stream sequence of the request.finished event, which carries the
	// request and response bodies: they are read from the log, not copied into Badger.
	EventSeq uint64 `json:"event_seq"`
}

// Logs is the logs projection over a Store.
type Logs struct {
	s    *Store
	prog *progress
}

// NewLogs opens the projection, reading its checkpoint.
func NewLogs(s *Store) (*Logs, error) {
	seq, err := s.Checkpoint(LogsProjection)
	if err != nil {
		return nil, err
	}
	return &Logs{s: s, prog: newProgress(seq)}, nil
}

// Applied is the last stream sequence applied.
func (l *Logs) Applied() uint64 { seq, _ := l.prog.get(); return seq }

// WaitFor blocks until the projection has applied seq (read your writes).
func (l *Logs) WaitFor(ctx context.Context, seq uint64) error { return l.prog.wait(ctx, seq) }

const sep = "\x00"

func recordPrefix(acct, gw string) string { return "r" + sep + acct + sep + gw + sep }

func indexPrefix(acct, gw, field, value string) string {
	return "x" + sep + acct + sep + gw + sep + field + sep + clean(value) + sep
}

func clean(v string) string { return strings.ReplaceAll(v, sep, "") }

func successValue(b bool) string {
	if b {
		return "1"
	}
	return "0"
}

// Apply writes a batch of events in one transaction with the checkpoint; events at or
// below the checkpoint are skipped, so a batch delivered twice is applied once.
func (l *Logs) Apply(batch []events.Msg) error {
	if len(batch) == 0 {
		return nil
	}
	done := l.Applied()
	txn := l.s.db.NewTransaction(true)
	defer func() { txn.Discard() }()
	last := done
	for _, m := range batch {
		if m.Seq <= done {
			continue
		}
		err := l.apply(txn, m)
		if err == nil {
			err = putCheckpoint(txn, LogsProjection, m.Seq)
		}
		if errors.Is(err, badger.ErrTxnTooBig) {
			if err := txn.Commit(); err != nil {
				return err
			}
			l.prog.set(last)
			txn = l.s.db.NewTransaction(true)
			if err = l.apply(txn, m); err == nil {
				err = putCheckpoint(txn, LogsProjection, m.Seq)
			}
		}
		if err != nil {
			return fmt.Errorf("apply seq %d: %w", m.Seq, err)
		}
		last = m.Seq
	}
	if last == done {
		return nil
	}
	if err := txn.Commit(); err != nil {
		return err
	}
	l.prog.set(last)
	return nil
}

func (l *Logs) apply(txn *badger.Txn, m events.Msg) error {
	env, err := events.Decode(m.Data)
	if err != nil {
		return nil // not an event of ours: skip rather than wedge the projection
	}
	if env.Type != events.TypeRequestFinished {
		return nil
	}
	f, err := events.DecodeRequestFinished(env)
	if err != nil || f.GatewayID == "" || f.LogID == "" {
		return nil
	}
	rec := RecordFromEvent(f)
	rec.EventSeq = m.Seq
	b, err := json.Marshal(rec)
	if err != nil {
		return err
	}
	if err := txn.Set([]byte(recordPrefix(f.AccountID, f.GatewayID)+f.LogID), b); err != nil {
		return err
	}
	for _, ix := range [][2]string{{"provider", f.Provider}, {"model", f.Model}, {"success", successValue(f.Success)}} {
		if err := txn.Set([]byte(indexPrefix(f.AccountID, f.GatewayID, ix[0], ix[1])+f.LogID), nil); err != nil {
			return err
		}
	}
	if f.KeyID != "" {
		at := f.StartedAt.Add(time.Duration(f.DurationMs * float64(time.Millisecond))).UTC()
		if err := txn.Set(keyUsedKey(f.KeyID), []byte(at.Format(time.RFC3339Nano))); err != nil {
			return err
		}
	}
	return nil
}

func keyUsedKey(id string) []byte { return []byte("u\x00" + id) }

// KeyLastUsed is when a stored provider key was last used by a finished request.
func (l *Logs) KeyLastUsed(id string) (time.Time, bool) {
	var at time.Time
	err := l.s.db.View(func(txn *badger.Txn) error {
		it, err := txn.Get(keyUsedKey(id))
		if err != nil {
			return err
		}
		return it.Value(func(v []byte) error {
			at, err = time.Parse(time.RFC3339Nano, string(v))
			return err
		})
	})
	return at, err == nil
}

// RecordFromEvent builds the log record of a finished request.
func RecordFromEvent(f events.RequestFinished) LogRecord {
	r := LogRecord{
		ID: f.LogID, CreatedAt: f.StartedAt.UTC(), Cached: f.Cached, Duration: int64(f.DurationMs + 0.5),
		Model: f.Model, Path: f.Path, Provider: f.Provider, Success: f.Success, StatusCode: f.Status,
		Step: f.Step, RequestType: f.RequestType, RequestContentType: f.RequestCType,
		ResponseContentType: f.ResponseCType, RequestSize: f.RequestSize, ResponseSize: f.ResponseSize,
		EventID: f.EventID, AccountID: f.AccountID, GatewayID: f.GatewayID, Method: f.Method,
		Stream: f.Stream, TTFB: f.TTFBMs, ErrorCode: f.ErrorCode, ErrorMessage: f.ErrorMessage,
		KeyID: f.KeyID, KeyAlias: f.KeyAlias, TokensCached: f.TokensCached, TokensEstimated: f.TokensEstimated,
		Attempts: f.Attempts, Cost: f.Cost, CustomCost: f.CustomCost,
	}
	if len(f.Metadata) > 0 {
		if b, err := json.Marshal(f.Metadata); err == nil {
			r.Metadata = string(b)
		}
	}
	if f.TokensIn > 0 || f.TokensOut > 0 {
		in, out := f.TokensIn, f.TokensOut
		r.TokensIn, r.TokensOut = &in, &out
	}
	return r
}

// LogQuery selects log records of one gateway.
type LogQuery struct {
	AccountID, GatewayID string
	Provider, Model      string
	Success              *bool
	Since, Until         time.Time // zero: unbounded
	Ascending            bool      // default newest first
	Page, PerPage        int       // 1-based
	// Filters are the hosted filters (key, operator, values); all must hold.
	Filters []events.LogFilter
}

// List answers a query: the page of records and the total number matching.
func (l *Logs) List(q LogQuery) ([]LogRecord, int, error) {
	if q.Page < 1 {
		q.Page = 1
	}
	if q.PerPage < 1 {
		q.PerPage = 20
	}
	// Walk the most selective index; check the other filters by index lookups.
	var walk string
	var checks []string
	add := func(field, value string) {
		p := indexPrefix(q.AccountID, q.GatewayID, field, value)
		if walk == "" {
			walk = p
		} else {
			checks = append(checks, p)
		}
	}
	if q.Provider != "" {
		add("provider", q.Provider)
	}
	if q.Model != "" {
		add("model", q.Model)
	}
	if q.Success != nil {
		add("success", successValue(*q.Success))
	}
	if walk == "" {
		walk = recordPrefix(q.AccountID, q.GatewayID)
	}
	lo, hi := ulidBounds(q.Since, q.Until)
	skip := (q.Page - 1) * q.PerPage
	var ids []string
	total := 0
	err := l.s.db.View(func(txn *badger.Txn) error {
		opts := badger.DefaultIteratorOptions
		opts.PrefetchValues = false
		opts.Reverse = !q.Ascending
		opts.Prefix = []byte(walk)
		it := txn.NewIterator(opts)
		defer it.Close()
		start := walk + lo
		if !q.Ascending {
			start = walk + hi
		}
		for it.Seek([]byte(start)); it.Valid(); it.Next() {
			id := string(it.Item().Key()[len(walk):])
			if id < lo || id > hi {
				if (q.Ascending && id > hi) || (!q.Ascending && id < lo) {
					break
				}
				continue
			}
			ok := true
			for _, c := range checks {
				if _, err := txn.Get([]byte(c + id)); err != nil {
					ok = false
					break
				}
			}
			if !ok {
				continue
			}
			if total >= skip && len(ids) < q.PerPage {
				ids = append(ids, id)
			}
			total++
		}
		return nil
	})
	if err != nil {
		return nil, 0, err
	}
	out := make([]LogRecord, 0, len(ids))
	for _, id := range ids {
		r, err := l.Get(q.AccountID, q.GatewayID, id)
		if err != nil {
			return nil, 0, err
		}
		out = append(out, r)
	}
	return out, total, nil
}

// ulidBounds turns a time range into the smallest and largest ULID strings inside it.
func ulidBounds(since, until time.Time) (string, string) {
	lo, hi := strings.Repeat("0", 26), strings.Repeat("Z", 26)
	if !since.IsZero() {
		var u ulid.ULID
		_ = u.SetTime(ulid.Timestamp(since))
		lo = u.String()
	}
	if !until.IsZero() {
		u := ulid.ULID{}
		_ = u.SetTime(ulid.Timestamp(until))
		for i := 6; i < 16; i++ {
			u[i] = 0xff
		}
		hi = u.String()
	}
	return lo, hi
}

// ErrNotFound is returned for a log id that is not stored.
var ErrNotFound = errors.New("not found")

// Get reads one record.
func (l *Logs) Get(acct, gw, id string) (LogRecord, error) {
	var r LogRecord
	err := l.s.db.View(func(txn *badger.Txn) error {
		it, err := txn.Get([]byte(recordPrefix(acct, gw) + id))
		if errors.Is(err, badger.ErrKeyNotFound) {
			return ErrNotFound
		}
		if err != nil {
			return err
		}
		return it.Value(func(v []byte) error { return json.Unmarshal(v, &r) })
	})
	return r, err
}

// Dump lists every record of the store in key order; replay tests compare two stores with it.
func (l *Logs) Dump() ([]LogRecord, error) {
	var out []LogRecord
	err := l.s.db.View(func(txn *badger.Txn) error {
		opts := badger.DefaultIteratorOptions
		opts.Prefix = []byte("r" + sep)
		it := txn.NewIterator(opts)
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			var r LogRecord
			if err := it.Item().Value(func(v []byte) error { return json.Unmarshal(v, &r) }); err != nil {
				return err
			}
			out = append(out, r)
		}
		return nil
	})
	return out, err
}
