// logs.go is the logs projection: it turns request.finished events into log records (one
// key per record, ordered by time through the ULID log id, its filterable facts stored in
// front of it) and posting lists (postings.go: provider, model, success, cached, feedback, event
// id, request type, metadata), applies feedback (log.feedback) and deletes (logs.deleted),
// keeps each gateway within its log limit, and answers the log queries of the control API
// (the filters are compiled in logfilter.go).
package storage

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"maps"
	"strings"
	"sync"
	"time"

	"github.com/dgraph-io/badger/v4"
	json "github.com/goccy/go-json"
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
	Cost                *float64  `json:"cost"`               // USD; null when the model has no known price
	CustomCost          bool      `json:"custom_cost"`        // Cost came from cf-aig-custom-cost
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
	// Route is the dynamic route walked (model "dynamic/{name}"): its name, id, the
	// version the request ran on and every node it went through.
	Route *events.RouteWalk `json:"route,omitempty"`
	// DLPAction (FLAG, BLOCK, REDACT) and DLP (the findings, as in the cf-aig-dlp header:
	// policies, profiles, entries, check) say what the gateway's DLP policies found.
	DLPAction string            `json:"dlp_action,omitempty"`
	DLP       *events.DLPResult `json:"dlp,omitempty"`
	// GuardrailsAction (FLAG, BLOCK) and Guardrails (per side: the categories the guard
	// model found, the action, the model, its latency, whether it was unavailable) say what
	// the gateway's guardrails found. A blocked request's error_code says which side
	// (2016 the prompt, 2017 the response).
	GuardrailsAction string                   `json:"guardrails_action,omitempty"`
	Guardrails       *events.GuardrailsResult `json:"guardrails,omitempty"`
	// EventSeq is the stream sequence of the request.finished event, which carries the
	// request and response bodies: they are read from the log, not copied into Badger.
	EventSeq uint64 `json:"event_seq"`
}

// LogLimits tells the projection a gateway's log limit: the most records it keeps (0 or
// less: DefaultLogLimit) and what happens when a new record would pass it
// (StrategyStopInserting, the default, or StrategyDeleteOldest).
type LogLimits func(acct, gw string) (max int64, strategy string)

// The gateway settings log_management and log_management_strategy, as the hosted gateway
// applies them: 10 million logs by default, then new logs are not stored.
const (
	DefaultLogLimit       = 10_000_000
	StrategyStopInserting = "STOP_INSERTING"
	StrategyDeleteOldest  = "DELETE_OLDEST"
)

// CountCap and CountBudget bound the counting of a filtered list: once the page is full
// (and one more match is known, so a client sees there is a next page), counting stops at
// CountCap matches or after CountBudget of work, and the total is then a lower bound
// (LogPage.Exact false). Unfiltered totals are exact at any size: each gateway's count is kept.
const (
	CountCap    = 10_000
	CountBudget = 40 * time.Millisecond
)

// Logs is the logs projection over a Store.
type Logs struct {
	s    *Store
	prog *progress // the records' checkpoint
	post *postings // the posting lists waiting in memory, and their checkpoint
	// prunable: posting lists (prefix and second) of records DELETE_OLDEST removed; once
	// every record of their second is gone they are deleted.
	prunable map[string]struct{}
	// resumed: no batch applied since the projection was opened. The first batch after a
	// restart may redo part of a message committed before a crash, so its records are
	// checked for before they are counted.
	resumed bool
	// counts: each gateway's number of records as last committed (by count key), so a
	// batch reads a count from the store only the first time its gateway is seen. Only
	// Apply writes counts, under post.mu.
	counts map[string]int64
	// submitted is the last sequence whose records are committed or being committed:
	// Apply hands its transaction to Badger (CommitWith) and returns, so the next batch is
	// made while this one is written; prog moves once the write has landed. inflight ends
	// with that commit's error; commitErr keeps the first error (the projection cannot go
	// on from a lost write: every Apply after it fails). All three under post.mu.
	submitted uint64
	inflight  chan error
	commitErr error
	// Limits gives each gateway's log limit; set it before the first Apply. Nil means
	// DefaultLogLimit with StrategyStopInserting for every gateway.
	Limits LogLimits
}

// NewLogs opens the projection, reading its checkpoint; a store written by an older
// version gets its new indexes and per-gateway counts built once.
func NewLogs(s *Store) (*Logs, error) {
	seq, err := s.Checkpoint(LogsProjection)
	if err != nil {
		return nil, err
	}
	pseq, flushes, err := readPostingsMeta(s)
	if err != nil {
		return nil, err
	}
	l := &Logs{s: s, prog: newProgress(seq), post: newPostings(min(pseq, seq), flushes),
		prunable: map[string]struct{}{}, resumed: true, counts: map[string]int64{}, submitted: seq}
	if err := l.upgrade(); err != nil {
		return nil, fmt.Errorf("upgrade logs indexes: %w", err)
	}
	return l, nil
}

// Applied is the last stream sequence applied to the records and the posting lists (in
// memory, written, or being written: WaitFor waits for the write); the consumer resumes
// after it.
func (l *Logs) Applied() uint64 {
	l.post.mu.Lock()
	defer l.post.mu.Unlock()
	return min(l.submitted, l.post.through)
}

// records is the last stream sequence whose records are written.
func (l *Logs) records() uint64 { seq, _ := l.prog.get(); return seq }

// Settle waits for the last batch's write to land and returns its error, if any. Call it
// before closing the store (shutdown, the end of a replay).
func (l *Logs) Settle() error {
	l.post.mu.Lock()
	defer l.post.mu.Unlock()
	return l.settle()
}

// settle: Settle, under post.mu.
func (l *Logs) settle() error {
	if l.inflight != nil {
		if err := <-l.inflight; err != nil && l.commitErr == nil {
			l.commitErr = fmt.Errorf("logs: commit: %w", err)
		}
		l.inflight = nil
	}
	return l.commitErr
}

// WaitFor blocks until the projection has applied seq (read your writes).
func (l *Logs) WaitFor(ctx context.Context, seq uint64) error { return l.prog.wait(ctx, seq) }

const sep = "\x00"

func recordPrefix(acct, gw string) string { return "r" + sep + acct + sep + gw + sep }

func recordKey(acct, gw, id string) []byte { return []byte(recordPrefix(acct, gw) + id) }

func clean(v string) string { return strings.ReplaceAll(v, sep, "") }

// countKey holds a gateway's exact number of records (8 bytes, big endian).
func countKey(acct, gw string) []byte { return []byte("ln" + sep + acct + sep + gw) }

// deleteProgressKey holds how far a logs.deleted event got (its sequence and the records
// deleted so far) while it is applied in several transactions.
var deleteProgressKey = []byte("ld" + sep + LogsProjection)

// filterDeletedKey marks a gateway some of whose records a logs.deleted event removed:
// its posting lists may name records that are gone anywhere in time (DELETE_OLDEST only
// removes the oldest, which walks skip by starting at the oldest record).
func filterDeletedKey(acct, gw string) []byte { return []byte("lx" + sep + acct + sep + gw) }

// metaPatchedKey marks a gateway where PATCH has changed a record's metadata: its
// metadata posting lists may name records whose metadata no longer matches.
func metaPatchedKey(acct, gw string) []byte { return []byte("lm" + sep + acct + sep + gw) }

// layoutKey holds the version of the store's layout: 2 added the facts and the
// per-gateway counts, 3 replaced the index key per record and value ("x" keys) by the
// posting lists, 4 moved each record's facts from a key of their own ("f" keys) into the
// record's value, in front (record.go): one key per record instead of two.
var layoutKey = []byte("lv" + sep + LogsProjection)

const layoutVersion = 4

// factsKeys is where layouts 2 and 3 kept each record's facts.
var factsKeys = []byte("f" + sep)

// maxIndexKey: longer posting keys (a huge model name or metadata value) are not
// written, so one odd request cannot wedge the projection on Badger's key size limit.
const maxIndexKey = 1024

func successValue(b bool) string {
	if b {
		return "1"
	}
	return "0"
}

func u64(n uint64) []byte {
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], n)
	return b[:]
}

// applier is the write transaction of a batch. Bulk deletes commit it part way (flush);
// the checkpoint in it is always that of the last event fully applied. The transaction
// is opened only when a read needs it or the batch commits (tx): opening one waits for
// every commit before it, so until then writes wait in pend, and the batch is made while
// the one before is being written.
type applier struct {
	l         *Logs
	txn       *badger.Txn
	pend      []pendingWrite
	done      uint64
	ops, size int
	txnOps    int // writes in txn itself
	// counts: each gateway's number of records as this batch has left it (by count key),
	// not yet committed; Logs.counts has them once committed.
	counts map[string]int64
	// slab: room the batch's encoded records are cut from, so a record costs no buffer
	// of its own (the transaction keeps the values until it commits).
	slab []byte
}

// pendingWrite is a write made before the batch's transaction was opened.
type pendingWrite struct {
	k, v []byte
	del  bool
}

// tx is the batch's transaction, opened (after the last batch's commit has landed) with
// the writes waiting in pend.
func (a *applier) tx() (*badger.Txn, error) {
	if a.txn != nil {
		return a.txn, nil
	}
	if err := a.l.settle(); err != nil {
		return nil, err
	}
	a.txn, a.txnOps = a.l.s.db.NewTransaction(true), 0
	pend := a.pend
	a.pend = nil
	for _, w := range pend {
		if err := a.writeTxn(w.k, w.v, w.del); err != nil {
			return nil, err
		}
	}
	return a.txn, nil
}

// record reads a record as this batch has left it.
func (a *applier) record(key []byte) (LogRecord, bool, error) {
	txn, err := a.tx()
	if err != nil {
		return LogRecord{}, false, err
	}
	return getRecord(txn, key)
}

// discard drops the transaction, if one is open.
func (a *applier) discard() {
	if a.txn != nil {
		a.txn.Discard()
	}
}

// count is a gateway's number of records, as written so far in this batch.
func (a *applier) count(acct, gw string) (int64, error) {
	k := countKey(acct, gw)
	if n, ok := a.counts[string(k)]; ok {
		return n, nil
	}
	if n, ok := a.l.counts[string(k)]; ok {
		return n, nil
	}
	txn, err := a.tx()
	if err != nil {
		return 0, err
	}
	n, err := getCount(txn, acct, gw)
	if err != nil {
		return 0, err
	}
	if a.counts == nil {
		a.counts = map[string]int64{}
	}
	a.counts[string(k)] = n
	return n, nil
}

// setCount writes a gateway's number of records.
func (a *applier) setCount(acct, gw string, n int64) error {
	k := countKey(acct, gw)
	if err := a.set(k, u64(uint64(n))); err != nil {
		return err
	}
	if a.counts == nil {
		a.counts = map[string]int64{}
	}
	a.counts[string(k)] = n
	return nil
}

// slabSize: the room cut at a time for encoded records (about 70 bench records; a batch
// under load holds hundreds to thousands).
const slabSize = 16 << 10

// encode encodes a record into the batch's slab.
func (a *applier) encode(rec *LogRecord) ([]byte, error) {
	var v []byte
	var err error
	v, a.slab, err = encodeInSlab(a.slab, rec)
	return v, err
}

// encodeInSlab encodes a record with its facts into room cut from slab (a new slab when
// it is full) and returns the encoding and the slab.
func encodeInSlab(slab []byte, rec *LogRecord) (v, rest []byte, err error) {
	sc := recordScratchPool.Get().(*recordScratch)
	defer recordScratchPool.Put(sc)
	plain, err := sc.marshal(rec)
	if err != nil {
		return nil, slab, err
	}
	sc.facts = appendFacts(sc.facts[:0], rec)
	need := maxEncodedRecord(len(plain), len(sc.facts))
	if need < 0 {
		return nil, slab, fmt.Errorf("storage: log record of %d bytes is too large", len(plain))
	}
	if cap(slab)-len(slab) < need {
		slab = make([]byte, 0, max(slabSize, need))
	}
	start := len(slab)
	slab = appendRecord(slab, sc.facts, plain)
	return slab[start:len(slab):len(slab)], slab, nil
}

// recordScratch is where a record's JSON and facts are written before they are
// encoded into a slab: json.Marshal would allocate a copy of the JSON per record.
type recordScratch struct {
	buf   bytes.Buffer
	enc   *json.Encoder
	facts []byte
}

var recordScratchPool = sync.Pool{New: func() any {
	sc := &recordScratch{}
	sc.enc = json.NewEncoder(&sc.buf) // HTML-escaping, as json.Marshal
	return sc
}}

// marshal is json.Marshal(rec), in sc's buffer: valid until the next call.
func (sc *recordScratch) marshal(rec *LogRecord) ([]byte, error) {
	sc.buf.Reset()
	if sc.buf.Cap() > 64<<10 {
		sc.buf = bytes.Buffer{} // not kept after a record with a very long message
	}
	if cap(sc.facts) > 4<<10 {
		sc.facts = nil
	}
	if err := sc.enc.Encode(rec); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(sc.buf.Bytes(), []byte("\n")), nil
}

// prepared is a request.finished event's record and its encoding, made by Prepare.
type prepared struct {
	rec LogRecord
	enc []byte
}

// Prepare makes the record of each request.finished event of batch, and its encoding,
// and keeps them with the event (Msg.SetAhead) for Apply. It reads and writes nothing of
// the projection, so another goroutine can run it on the next batch while Apply writes
// this one (switchyard replay does). Apply makes what Prepare did not.
func (l *Logs) Prepare(batch []events.Msg) {
	var slab []byte
	for _, m := range batch {
		if env, err := m.Envelope(); err != nil || env.Type != events.TypeRequestFinished {
			continue
		}
		f, err := m.Finished()
		if err != nil || f.GatewayID == "" || f.LogID == "" || f.NoLog {
			continue
		}
		p := &prepared{rec: RecordFromEvent(f)}
		p.rec.EventSeq = m.Seq
		if p.enc, slab, err = encodeInSlab(slab, &p.rec); err != nil {
			continue // Apply encodes it again and reports the error
		}
		m.SetAhead(p)
	}
}

// commit commits the transaction and waits for the write; the counts it wrote become the
// committed ones.
func (a *applier) commit() error {
	txn, err := a.tx()
	if err != nil {
		return err
	}
	a.txn = nil
	if err := txn.Commit(); err != nil {
		return err
	}
	a.committed()
	return nil
}

// submit hands the transaction to Badger and returns before the write lands (the next
// batch's tx waits for it); the records' checkpoint moves when it has.
func (a *applier) submit() error {
	txn, err := a.tx()
	if err != nil {
		return err
	}
	a.txn = nil
	landed := make(chan error, 1)
	prog, seq := a.l.prog, a.done
	txn.CommitWith(func(err error) {
		if err == nil {
			prog.set(seq)
		}
		landed <- err
	})
	a.l.inflight = landed
	a.committed()
	return nil
}

// committed: the transaction is committed (or on its way); its counts and checkpoint are
// the projection's.
func (a *applier) committed() {
	for k, n := range a.counts {
		a.l.counts[k] = n
	}
	clear(a.counts)
	a.l.submitted = max(a.l.submitted, a.done)
}

func (a *applier) flush() error {
	if err := a.commit(); err != nil {
		return err
	}
	a.l.prog.set(a.done)
	a.ops, a.size = 0, 0
	return nil
}

// roomy: the transaction is far from Badger's size limit.
func (a *applier) roomy() bool { return a.ops < 2000 && a.size < 512<<10 }

func (a *applier) write(k, v []byte, del bool) error {
	if a.txn == nil {
		a.pend = append(a.pend, pendingWrite{k, v, del})
	} else if err := a.writeTxn(k, v, del); err != nil {
		return err
	}
	a.ops++
	a.size += len(k) + len(v)
	return nil
}

// writeTxn writes into the transaction, committing it part way when Badger finds it full.
func (a *applier) writeTxn(k, v []byte, del bool) error {
	for {
		txn, err := a.tx()
		if err != nil {
			return err
		}
		if del {
			err = txn.Delete(k)
		} else {
			err = txn.Set(k, v)
		}
		if errors.Is(err, badger.ErrTxnTooBig) && a.txnOps > 0 {
			if err := a.flush(); err != nil {
				return err
			}
			continue
		}
		if err == nil {
			a.txnOps++
		}
		return err
	}
}

func (a *applier) set(k, v []byte) error { return a.write(k, v, false) }
func (a *applier) del(k []byte) error    { return a.write(k, nil, true) }

// Apply writes a batch of events in one transaction with the checkpoint (a bulk delete
// commits in steps); events at or below the checkpoint are skipped, so a batch delivered
// twice is applied once. The events of one stored message share its sequence: the
// checkpoint moves only past whole messages, so a commit part way through a message is
// redone from the message's start after a restart (every write here is idempotent).
// The posting lists have their own checkpoint, written with them about once a second:
// events between it and the records' checkpoint only add their ids to the lists.
func (l *Logs) Apply(batch []events.Msg) error {
	if len(batch) == 0 {
		return nil
	}
	l.post.mu.Lock()
	defer l.post.mu.Unlock()
	if l.commitErr != nil {
		return l.commitErr
	}
	recDone, postDone := l.submitted, l.post.through
	done := min(recDone, postDone)
	a := &applier{l: l, done: recDone}
	defer a.discard()
	// whole marks the message being applied as complete.
	whole := func(seq uint64) error {
		if seq > recDone {
			if err := a.set(checkpointKey(LogsProjection), u64(seq)); err != nil {
				return fmt.Errorf("apply seq %d: %w", seq, err)
			}
			a.done = seq
		}
		l.post.through = max(l.post.through, seq)
		return nil
	}
	cur := done // the message being applied
	for _, m := range batch {
		if m.Seq <= done {
			continue
		}
		if m.Seq != cur {
			if cur != done { // the previous message is whole
				if err := whole(cur); err != nil {
					return err
				}
			}
			if !a.roomy() {
				if err := a.flush(); err != nil {
					return err
				}
			}
			cur = m.Seq
		}
		if err := l.apply(a, m, m.Seq > recDone, m.Seq > postDone); err != nil {
			return fmt.Errorf("apply seq %d: %w", m.Seq, err)
		}
	}
	if cur == done {
		return nil
	}
	if err := whole(cur); err != nil {
		return err
	}
	if l.post.due() {
		if err := l.post.flush(a); err != nil {
			return err
		}
	}
	if err := a.submit(); err != nil {
		return err
	}
	l.resumed = false
	return nil
}

// apply applies one event to the records (rec) and to the posting lists (post).
func (l *Logs) apply(a *applier, m events.Msg, rec, post bool) error {
	env, err := m.Envelope()
	if err != nil {
		return nil // not an event of ours: skip rather than wedge the projection
	}
	switch env.Type {
	case events.TypeRequestFinished:
		f, err := m.Finished()
		if err != nil || f.GatewayID == "" || f.LogID == "" {
			return nil
		}
		var r *LogRecord
		var enc []byte // the record's encoding, when Prepare made it
		if p, ok := m.Ahead().(*prepared); ok {
			r, enc = &p.rec, p.enc
		} else {
			rec := RecordFromEvent(f)
			rec.EventSeq = m.Seq
			r = &rec
		}
		if post && !f.NoLog {
			l.post.add(r)
		}
		if !rec {
			return nil
		}
		return l.insert(a, f, r, enc, l.resumed || !m.Batched)
	case events.TypeLogFeedback:
		var fb events.LogFeedback
		if env.Version != events.VersionLogFeedback || json.Unmarshal(env.Data, &fb) != nil {
			return nil
		}
		if post {
			l.post.addFeedback(fb)
		}
		if !rec {
			return nil
		}
		return l.feedback(a, fb)
	case events.TypeLogsDeleted:
		var d events.LogsDeleted
		if env.Version != events.VersionLogsDeleted || json.Unmarshal(env.Data, &d) != nil || !rec {
			return nil
		}
		return l.deleteMatching(a, m.Seq, d)
	}
	return nil
}

func (l *Logs) limit(acct, gw string) (int64, string) {
	max, strategy := int64(0), StrategyStopInserting
	if l.Limits != nil {
		max, strategy = l.Limits(acct, gw)
	}
	if max <= 0 {
		max = DefaultLogLimit
	}
	return max, strategy
}

// insert stores a finished request's record, within the gateway's log limit. verify looks
// for a record already stored under the log id (an event stored or applied twice) so it
// is not counted twice; it is skipped for batched events, which are stored once (see
// events.Msg.Batched) and applied once (the checkpoint commits with them), except in the
// first batch after a restart.
func (l *Logs) insert(a *applier, f events.RequestFinished, rec *LogRecord, enc []byte, verify bool) error {
	if f.KeyID != "" {
		at := f.StartedAt.Add(time.Duration(f.DurationMs * float64(time.Millisecond))).UTC()
		if err := a.set(keyUsedKey(f.KeyID), []byte(at.Format(time.RFC3339Nano))); err != nil {
			return err
		}
	}
	if f.NoLog {
		return nil // counted by analytics and costs, but no log record
	}
	var old LogRecord
	found := false
	if verify {
		var err error
		if old, found, err = a.record(recordKey(f.AccountID, f.GatewayID, f.LogID)); err != nil {
			return err
		}
	}
	max, strategy := l.limit(f.AccountID, f.GatewayID)
	if found {
		// The same event stored twice: keep what feedback has added since.
		rec.Feedback, rec.Score, rec.Metadata = old.Feedback, old.Score, old.Metadata
		if err := l.put(a, rec, nil); err != nil {
			return err
		}
	} else {
		n, err := a.count(f.AccountID, f.GatewayID)
		if err != nil {
			return err
		}
		if n >= max && strategy != StrategyDeleteOldest {
			return nil // STOP_INSERTING: the gateway is full
		}
		if err := a.setCount(f.AccountID, f.GatewayID, n+1); err != nil {
			return err
		}
		if err := l.put(a, rec, enc); err != nil {
			return err
		}
	}
	if strategy == StrategyDeleteOldest {
		return l.trimOldest(a, f.AccountID, f.GatewayID, max)
	}
	return nil
}

// put writes a record with its facts (its posting lists are added by the caller); enc is
// the record's encoding, or nil to encode it here.
func (l *Logs) put(a *applier, rec *LogRecord, enc []byte) error {
	if enc == nil {
		var err error
		if enc, err = a.encode(rec); err != nil {
			return err
		}
	}
	return a.set(recordKey(rec.AccountID, rec.GatewayID, rec.ID), enc)
}

// remove deletes a record and one from its gateway's count. Its ids in the posting lists
// stay (walks check every listed id on the record's facts) until pruned.
func (l *Logs) remove(a *applier, rec *LogRecord) error {
	n, err := a.count(rec.AccountID, rec.GatewayID)
	if err != nil {
		return err
	}
	if err := a.setCount(rec.AccountID, rec.GatewayID, max(n-1, 0)); err != nil {
		return err
	}
	return a.del(recordKey(rec.AccountID, rec.GatewayID, rec.ID))
}

func getRecord(txn *badger.Txn, key []byte) (LogRecord, bool, error) {
	var r LogRecord
	it, err := txn.Get(key)
	if errors.Is(err, badger.ErrKeyNotFound) {
		return r, false, nil
	}
	if err != nil {
		return r, false, err
	}
	err = it.Value(func(v []byte) error { return decodeRecord(v, &r) })
	return r, err == nil, err
}

func getCount(txn *badger.Txn, acct, gw string) (int64, error) {
	var n int64
	it, err := txn.Get(countKey(acct, gw))
	if errors.Is(err, badger.ErrKeyNotFound) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	err = it.Value(func(v []byte) error {
		if len(v) == 8 {
			n = int64(binary.BigEndian.Uint64(v))
		}
		return nil
	})
	return n, err
}

// deleteChunk is how many records a bulk delete removes per transaction.
const deleteChunk = 256

// trimOldest deletes a gateway's oldest records (log id order) down to max.
func (l *Logs) trimOldest(a *applier, acct, gw string, max int64) error {
	for {
		n, err := a.count(acct, gw)
		if err != nil || n <= max {
			return err
		}
		// A read-write transaction allows one iterator at a time: collect, then delete.
		var recs []LogRecord
		opts := badger.DefaultIteratorOptions
		opts.Prefix = []byte(recordPrefix(acct, gw))
		txn, err := a.tx()
		if err != nil {
			return err
		}
		it := txn.NewIterator(opts)
		for it.Rewind(); it.Valid() && int64(len(recs)) < min(n-max, deleteChunk); it.Next() {
			var r LogRecord
			if err := it.Item().Value(func(v []byte) error { return decodeRecord(v, &r) }); err != nil {
				it.Close()
				return err
			}
			recs = append(recs, r)
		}
		it.Close()
		if len(recs) == 0 {
			// The count is ahead of the records (it cannot be, but never loop forever).
			return a.setCount(acct, gw, 0)
		}
		for i := range recs {
			if err := l.remove(a, &recs[i]); err != nil {
				return err
			}
			sec := binary.BigEndian.AppendUint64(nil, idSecond(recs[i].ID))
			postingValues(&recs[i], func(field, value string) {
				l.prunable[postingPrefix(acct, gw, field, value)+string(sec)] = struct{}{}
			})
		}
		if err := l.prune(a, idSecond(recs[len(recs)-1].ID)); err != nil {
			return err
		}
		if n-int64(len(recs)) > max {
			if err := a.flush(); err != nil {
				return err
			}
		}
	}
}

// prune deletes the posting lists of seconds before cutoff that DELETE_OLDEST emptied:
// records are trimmed in id order, so none of those seconds has a record left.
func (l *Logs) prune(a *applier, cutoff uint64) error {
	var keys [][]byte
	for k := range l.prunable {
		if binary.BigEndian.Uint64([]byte(k[len(k)-8:])) >= cutoff {
			continue
		}
		delete(l.prunable, k)
		opts := badger.DefaultIteratorOptions
		opts.PrefetchValues = false
		opts.Prefix = []byte(k)
		txn, err := a.tx()
		if err != nil {
			return err
		}
		it := txn.NewIterator(opts)
		for it.Rewind(); it.Valid(); it.Next() {
			keys = append(keys, it.Item().KeyCopy(nil))
		}
		it.Close()
	}
	for _, k := range keys {
		if err := a.del(k); err != nil {
			return err
		}
	}
	return nil
}

// feedback applies PATCH .../logs/{id}: feedback, score, metadata merged in. Feedback on
// a record that is not there (deleted since) changes nothing.
func (l *Logs) feedback(a *applier, fb events.LogFeedback) error {
	old, found, err := a.record(recordKey(fb.AccountID, fb.GatewayID, fb.LogID))
	if err != nil || !found {
		return err
	}
	rec := old
	if fb.Feedback != nil {
		v := *fb.Feedback
		rec.Feedback = &v
	}
	if fb.Score != nil {
		v := *fb.Score
		rec.Score = &v
	}
	if len(fb.Metadata) > 0 {
		if err := a.set(metaPatchedKey(fb.AccountID, fb.GatewayID), nil); err != nil {
			return err
		}
		m := map[string]any{}
		if old.Metadata != "" {
			_ = json.Unmarshal([]byte(old.Metadata), &m)
		}
		maps.Copy(m, fb.Metadata)
		b, err := json.Marshal(m) // map keys sorted: the same bytes on every replay
		if err != nil {
			return err
		}
		rec.Metadata = string(b)
	}
	return l.put(a, &rec, nil)
}

// deleteMatching applies DELETE .../logs: the gateway's records matching the filters, at
// most Limit, oldest or newest first. It commits every deleteChunk records with its
// progress, so a restart part way neither deletes more than Limit nor misses any.
func (l *Logs) deleteMatching(a *applier, seq uint64, d events.LogsDeleted) error {
	p, err := compileLogPlan(LogQuery{AccountID: d.AccountID, GatewayID: d.GatewayID, Filters: d.Filters})
	if err != nil {
		return nil // a filter this version cannot run (the API refuses them): nothing matches
	}
	deleted := 0
	txn, err := a.tx()
	if err != nil {
		return err
	}
	if it, err := txn.Get(deleteProgressKey); err == nil {
		_ = it.Value(func(v []byte) error {
			if len(v) == 16 && binary.BigEndian.Uint64(v[:8]) == seq {
				deleted = int(binary.BigEndian.Uint64(v[8:]))
			}
			return nil
		})
	}
	for d.Limit <= 0 || deleted < d.Limit {
		// The walk reads committed state: commit what the batch has written so far,
		// the posting lists waiting in memory with it.
		if err := l.post.flush(a); err != nil {
			return err
		}
		if err := a.flush(); err != nil {
			return err
		}
		n := deleteChunk
		if d.Limit > 0 {
			n = min(n, d.Limit-deleted)
		}
		var ids []string
		err := l.s.db.View(func(txn *badger.Txn) error {
			return walk(txn, p, d.Ascending, func(id string) bool {
				ids = append(ids, id)
				return len(ids) < n
			})
		})
		if err != nil {
			return err
		}
		for _, id := range ids {
			rec, found, err := a.record(recordKey(d.AccountID, d.GatewayID, id))
			if err != nil {
				return err
			}
			if found {
				if err := l.remove(a, &rec); err != nil {
					return err
				}
			}
		}
		if deleted == 0 && len(ids) > 0 {
			// The posting lists now name records that are gone: walks check ids on the facts.
			if err := a.set(filterDeletedKey(d.AccountID, d.GatewayID), nil); err != nil {
				return err
			}
		}
		deleted += len(ids)
		if len(ids) < n {
			break
		}
		if err := a.set(deleteProgressKey, append(u64(seq), u64(uint64(deleted))...)); err != nil {
			return err
		}
	}
	return a.del(deleteProgressKey)
}

// upgrade brings a store written by an older version to layoutVersion: the per-gateway
// counts (layout 2) and the posting lists (layout 3) are built from the records, every
// record is written again with its facts in front (layout 4), and the index keys of
// layout 2 and the facts keys of layouts 2 and 3 are dropped. A restart part way does it
// again from the start (every write is idempotent; the version is written last).
func (l *Logs) upgrade() error {
	var version uint64
	err := l.s.db.View(func(txn *badger.Txn) error {
		it, err := txn.Get(layoutKey)
		if errors.Is(err, badger.ErrKeyNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		return it.Value(func(v []byte) error {
			if len(v) == 8 {
				version = binary.BigEndian.Uint64(v)
			}
			return nil
		})
	})
	if err != nil || version >= layoutVersion {
		return err
	}
	// Every record is read and written again: about 14 µs each on a 2-core VM (395,843
	// records of a bench run in 5.4 s).
	began, rewritten := time.Now(), 0
	counts := map[string]int64{}
	a := &applier{l: l, done: l.records()}
	defer a.discard()
	after := []byte("r" + sep)
	for {
		var recs []LogRecord
		err := l.s.db.View(func(txn *badger.Txn) error {
			opts := badger.DefaultIteratorOptions
			opts.Prefix = []byte("r" + sep)
			it := txn.NewIterator(opts)
			defer it.Close()
			for it.Seek(after); it.Valid() && len(recs) < deleteChunk; it.Next() {
				if string(it.Item().Key()) == string(after) {
					continue
				}
				var r LogRecord
				if err := it.Item().Value(func(v []byte) error { return decodeRecord(v, &r) }); err != nil {
					return err
				}
				recs = append(recs, r)
				after = it.Item().KeyCopy(nil)
			}
			return nil
		})
		if err != nil {
			return err
		}
		if rewritten == 0 && len(recs) > 0 { // a new store has nothing to upgrade: no word
			l.s.log.Info("logs store: upgrading its layout, every record is written again", "from", version, "to", layoutVersion)
		}
		for i := range recs {
			if version < 2 {
				counts[string(countKey(recs[i].AccountID, recs[i].GatewayID))]++
			}
			if err := l.put(a, &recs[i], nil); err != nil {
				return err
			}
			rewritten++
			if version < 3 {
				l.post.add(&recs[i])
			}
		}
		if l.post.ids >= postingMaxIDs {
			if err := l.post.flush(a); err != nil {
				return err
			}
		}
		if !a.roomy() {
			if err := a.flush(); err != nil {
				return err
			}
		}
		if len(recs) < deleteChunk {
			break
		}
	}
	if version < 3 {
		l.post.through = l.records() // the lists now hold every record stored
		if err := l.post.flush(a); err != nil {
			return err
		}
	}
	for k, n := range counts {
		if err := a.set([]byte(k), u64(uint64(n))); err != nil {
			return err
		}
	}
	if err := a.commit(); err != nil {
		return err
	}
	if version == 2 {
		if err := l.s.db.DropPrefix([]byte("x" + sep)); err != nil { // the index keys of layout 2
			return err
		}
	}
	if version >= 2 {
		if err := l.s.db.DropPrefix(factsKeys); err != nil {
			return err
		}
	}
	if err := a.set(layoutKey, u64(layoutVersion)); err != nil {
		return err
	}
	if err := a.commit(); err != nil {
		return err
	}
	if rewritten > 0 {
		l.s.log.Info("logs store: upgraded", "layout", layoutVersion, "records", rewritten, "took", time.Since(began).Round(time.Millisecond))
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
		Attempts: f.Attempts, Cost: f.Cost, CustomCost: f.CustomCost, Route: f.Route, DLP: f.DLP,
	}
	if f.DLP != nil {
		r.DLPAction = f.DLP.Action
	}
	if f.Guardrails != nil {
		r.Guardrails, r.GuardrailsAction = f.Guardrails, f.Guardrails.Action
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
	Since, Until         time.Time // zero: unbounded; both inclusive
	Ascending            bool      // default newest first
	Page, PerPage        int       // 1-based
	// Filters are the hosted filters (key, operator, values); all must hold.
	Filters []events.LogFilter
	// Search keeps records whose id, event id, provider, model, path, metadata or error
	// message contains it (any case).
	Search string
}

// LogPage is one page of a query. Total is exact when Exact; otherwise counting stopped
// at CountCap matches and Total is a lower bound.
type LogPage struct {
	Records []LogRecord
	Total   int
	Exact   bool
}

// List answers a query: the page of records and the number matching (see ListPage).
func (l *Logs) List(q LogQuery) ([]LogRecord, int, error) {
	p, err := l.ListPage(q)
	return p.Records, p.Total, err
}

// ListPage answers a query: the page of records and how many match.
func (l *Logs) ListPage(q LogQuery) (LogPage, error) {
	if q.Page < 1 {
		q.Page = 1
	}
	if q.PerPage < 1 {
		q.PerPage = 20
	}
	p, err := compileLogPlan(q)
	if err != nil {
		return LogPage{}, err
	}
	if len(p.streams) > 0 || len(p.events) > 0 {
		if err := l.flushPostings(); err != nil {
			return LogPage{}, err
		}
	}
	skip := (q.Page - 1) * q.PerPage
	out := LogPage{Records: []LogRecord{}, Exact: true}
	var ids []string
	err = l.s.db.View(func(txn *badger.Txn) error {
		if !p.filtered && p.ids == nil {
			n, err := getCount(txn, q.AccountID, q.GatewayID)
			if err != nil {
				return err
			}
			out.Total = int(n)
			// No condition: the page is the skip-th to the end of the page-th key.
			return walk(txn, p, q.Ascending, func(id string) bool {
				skip--
				if skip < 0 {
					ids = append(ids, id)
				}
				return len(ids) < q.PerPage
			})
		}
		began := time.Now()
		return walk(txn, p, q.Ascending, func(id string) bool {
			if out.Total >= skip && len(ids) < q.PerPage {
				ids = append(ids, id)
			}
			out.Total++
			if len(ids) == q.PerPage && out.Total > skip+q.PerPage &&
				(out.Total >= CountCap || (out.Total%64 == 0 && time.Since(began) > CountBudget)) {
				out.Exact = false
				return false
			}
			return true
		})
	})
	if err != nil {
		return LogPage{}, err
	}
	for _, id := range ids {
		r, err := l.Get(q.AccountID, q.GatewayID, id)
		if errors.Is(err, ErrNotFound) {
			continue
		}
		if err != nil {
			return LogPage{}, err
		}
		out.Records = append(out.Records, r)
	}
	return out, nil
}

// flushPostings writes the posting lists waiting in memory, so that a query reads every
// record applied (read your writes).
func (l *Logs) flushPostings() error {
	l.post.mu.Lock()
	defer l.post.mu.Unlock()
	if l.post.ids == 0 {
		return nil
	}
	a := &applier{l: l, done: l.submitted}
	defer a.discard()
	if err := l.post.flush(a); err != nil {
		return err
	}
	return a.commit()
}

// ulidBounds turns a time range into the smallest and largest ULID strings inside it.
func ulidBounds(since, until time.Time) (string, string) {
	lo, hi := strings.Repeat("0", 26), strings.Repeat("Z", 26)
	if !since.IsZero() {
		lo = ulidAt(since.UnixMilli(), 0)
	}
	if !until.IsZero() {
		hi = ulidAt(until.UnixMilli(), 0xff)
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
		return it.Value(func(v []byte) error { return decodeRecord(v, &r) })
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
			if err := it.Item().Value(func(v []byte) error { return decodeRecord(v, &r) }); err != nil {
				return err
			}
			out = append(out, r)
		}
		return nil
	})
	return out, err
}
