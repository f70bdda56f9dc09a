// Package logpush is a consumer of the event log exporting the logs of the gateways with
// `logpush` on and a `logpush_public_key` (Workers Logpush in the reference): each log
// their log store keeps becomes one record (record.go) with its metadata and bodies
// encrypted for the gateway's key (encrypt.go), gathered per gateway into gzipped
// newline-delimited JSON files put to the node's sink (sink.go). It runs its own durable
// consumer and keeps its position in the store, advanced only once the sink has durably
// taken every file before it; a failing sink is tried again with backoff without end, so a
// slow or dead sink costs a request nothing and loses nothing (delivery resumes from the
// position after an outage or a restart; a file may then be written twice).
package logpush

import (
	"context"
	"crypto/rsa"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/switchyard/switchyard/events"
	"github.com/switchyard/switchyard/storage"
	"github.com/switchyard/switchyard/storage/config"
	"github.com/switchyard/switchyard/storage/export"
	"github.com/tidwall/gjson"
)

// CheckpointName is the exporter's position in the store.
const CheckpointName = "logpush"

// Bounds of one chunk of the log exported at once: records and bytes before compression.
const (
	chunkRecords = 1000
	chunkBytes   = 16 << 20
)

// Results counted by Options.Count.
const (
	Exported = "exported" // written to the sink
	Retried  = "retried"  // the sink failed: written again later
	Skipped  = "skipped"  // not kept by the log store (over the gateway's log limit, or deleted)
)

// Logs is the logs projection: a log is exported only once the projection has applied its
// event and only if it kept it (the reference: a gateway over its log limit stops
// exporting).
type Logs interface {
	WaitFor(ctx context.Context, seq uint64) error
	Get(acct, gw, id string) (storage.LogRecord, error)
}

// Options configure an Exporter.
type Options struct {
	Store    *storage.Store
	Config   func() *config.Snapshot
	Payloads interface {
		GetPayload(ctx context.Context, name string) ([]byte, error)
	}
	Sink Sink
	// Logs decides which logs were kept; nil exports every log not marked no_log.
	Logs Logs
	// Limits gives a gateway's log limit strategy: with DELETE_OLDEST every new log is
	// kept (then maybe trimmed before it is exported), so it is exported without looking.
	Limits storage.LogLimits
	// Node names the files, so that several nodes writing to one sink do not collide.
	Node   string
	Logger *slog.Logger
	// Count counts records by result (Exported, Retried, Skipped); nil counts nothing.
	Count func(result string, n int)
	// RetryMin and RetryMax bound the backoff between tries (default 500 ms and 30 s).
	RetryMin, RetryMax time.Duration
}

// Exporter is the consumer.
type Exporter struct {
	o   Options
	pos *export.Position

	mu   sync.Mutex
	snap *config.Snapshot
	keys map[string]*rsa.PublicKey
}

// New reads the exporter's position from the store.
func New(o Options) (*Exporter, error) {
	if o.Sink == nil {
		return nil, errors.New("logpush: no sink")
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Count == nil {
		o.Count = func(string, int) {}
	}
	if o.RetryMin <= 0 {
		o.RetryMin = 500 * time.Millisecond
	}
	if o.RetryMax < o.RetryMin {
		o.RetryMax = max(30*time.Second, o.RetryMin)
	}
	if o.Node == "" {
		o.Node = "node"
	}
	x := &Exporter{o: o}
	pos, err := export.OpenPosition(o.Store, CheckpointName)
	if err != nil {
		return nil, err
	}
	x.pos = pos
	return x, nil
}

// Applied is the position of the last event whose log is written to the sink (or skipped).
func (x *Exporter) Applied() uint64 { return x.pos.Applied() }

// StartAt places an exporter that never ran at seq (the log's end when it starts); see
// export.Position.StartAt.
func (x *Exporter) StartAt(seq uint64) error { return x.pos.StartAt(seq) }

// Run consumes the log as name from the exporter's position until ctx ends; after an error
// it starts again from the position kept.
func (x *Exporter) Run(ctx context.Context, log export.Consumer, name string) {
	export.Run(ctx, log, name, x.pos, func(b []events.Msg) error { return x.Apply(ctx, b) }, x.o.Logger, x.o.RetryMin, x.o.RetryMax)
}

// file is one gateway's records in a chunk.
type file struct {
	acct, gw string
	first    uint64
	last     uint64
	at       time.Time
	batch    Batch
}

type chunk struct {
	files   map[string]*file
	order   []string
	records int
	bytes   int
}

func newChunk() *chunk { return &chunk{files: map[string]*file{}} }

func (c *chunk) full() bool { return c.records >= chunkRecords || c.bytes >= chunkBytes }

// Apply exports the logs of a batch, chunk by chunk, and advances the position after each
// (at a message boundary). It returns only when the sink took them, or ctx ended.
func (x *Exporter) Apply(ctx context.Context, batch []events.Msg) error {
	keys := x.gatewayKeys()
	c := newChunk()
	for i, m := range batch {
		if m.Seq <= x.pos.Applied() {
			continue
		}
		if i > 0 && batch[i-1].Seq != m.Seq && c.full() {
			if err := x.flush(ctx, c, batch[i-1].Seq); err != nil {
				return err
			}
			c = newChunk()
			keys = x.gatewayKeys()
		}
		if len(keys) == 0 {
			continue
		}
		env, err := m.Envelope()
		if err != nil || env.Type != events.TypeRequestFinished {
			continue
		}
		ids := gjson.GetManyBytes(env.Data, "account_id", "gateway_id")
		key := ids[0].String() + "/" + ids[1].String()
		pub := keys[key]
		if pub == nil {
			continue
		}
		f, err := events.DecodeRequestFinished(env)
		if err != nil {
			x.o.Logger.Warn("logpush: undecodable request.finished event skipped", "seq", m.Seq, "err", err)
			continue
		}
		if f.NoLog || f.LogID == "" {
			continue
		}
		kept, err := x.kept(ctx, &f, m.Seq)
		if err != nil {
			return err
		}
		if !kept {
			x.o.Count(Skipped, 1)
			continue
		}
		rec, err := NewRecord(&f, x.bodies(ctx, &f), pub)
		if err != nil {
			x.o.Logger.Error("logpush: log could not be encrypted: skipped", "log_id", f.LogID, "err", err)
			continue
		}
		fl := c.files[key]
		if fl == nil {
			fl = &file{acct: f.AccountID, gw: f.GatewayID, first: m.Seq, at: f.StartedAt.UTC()}
			c.files[key] = fl
			c.order = append(c.order, key)
		}
		before := fl.batch.Size()
		if err := fl.batch.Add(rec); err != nil {
			return err
		}
		fl.last = m.Seq
		c.records++
		c.bytes += fl.batch.Size() - before
	}
	if len(batch) == 0 {
		return nil
	}
	return x.flush(ctx, c, batch[len(batch)-1].Seq)
}

// kept tells whether the log store kept a log (after its projection applied the event).
func (x *Exporter) kept(ctx context.Context, f *events.RequestFinished, seq uint64) (bool, error) {
	if x.o.Logs == nil {
		return true, nil
	}
	if x.o.Limits != nil {
		if _, strategy := x.o.Limits(f.AccountID, f.GatewayID); strategy == storage.StrategyDeleteOldest {
			return true, nil
		}
	}
	if err := x.o.Logs.WaitFor(ctx, seq); err != nil {
		return false, err
	}
	_, err := x.o.Logs.Get(f.AccountID, f.GatewayID, f.LogID)
	if errors.Is(err, storage.ErrNotFound) {
		return false, nil
	}
	return err == nil, err
}

// Name is a file's name at the sink: acct/gw/YYYYMMDD/{first seq}_{last seq}_{node}.log.gz,
// the date of its first log (UTC).
func Name(acct, gw string, at time.Time, first, last uint64, node string) string {
	return acct + "/" + gw + "/" + at.Format("20060102") + "/" + fmt.Sprintf("%020d_%020d", first, last) + "_" + node + ".log.gz"
}

// flush puts the chunk's files to the sink, then keeps upto as the position.
func (x *Exporter) flush(ctx context.Context, c *chunk, upto uint64) error {
	for _, key := range c.order {
		fl := c.files[key]
		body, err := fl.batch.Bytes()
		if err != nil {
			return err
		}
		if err := x.put(ctx, Name(fl.acct, fl.gw, fl.at, fl.first, fl.last, x.o.Node), body, fl.batch.Len()); err != nil {
			return err
		}
	}
	if upto <= x.pos.Applied() {
		return nil
	}
	if err := x.pos.Advance(upto); err != nil {
		return fmt.Errorf("logpush checkpoint: %w", err)
	}
	return nil
}

// put writes one file until the sink takes it; it fails only when ctx ends.
func (x *Exporter) put(ctx context.Context, name string, body []byte, n int) error {
	wait := x.o.RetryMin
	for {
		pctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
		err := x.o.Sink.Put(pctx, name, body)
		cancel()
		if err == nil {
			x.o.Count(Exported, n)
			return nil
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		x.o.Count(Retried, n)
		delay := wait/2 + rand.N(wait/2+1)
		var se *StatusError
		if errors.As(err, &se) && se.RetryAfter > delay {
			delay = min(se.RetryAfter, x.o.RetryMax)
		}
		x.o.Logger.Warn("logpush: sink failed, trying again", "sink", x.o.Sink.String(), "file", name, "records", n,
			"err", err, "in", delay.Round(time.Millisecond))
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(delay):
		}
		wait = min(wait*2, x.o.RetryMax)
	}
}

// bodies reads a request's recorded bodies: inline in the event, or from the payload
// store. A body that cannot be read is left out (and said), not retried.
func (x *Exporter) bodies(ctx context.Context, f *events.RequestFinished) Bodies {
	read := func(p *events.Payload) []byte {
		if p == nil {
			return nil
		}
		if p.Ref == "" {
			return p.Body()
		}
		c, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		body, err := x.o.Payloads.GetPayload(c, p.Ref)
		if err != nil {
			if !errors.Is(err, context.Canceled) {
				x.o.Logger.Warn("logpush: stored body unreadable, left out", "log_id", f.LogID, "ref", p.Ref, "err", err)
			}
			return nil
		}
		return body
	}
	return Bodies{Request: read(f.RequestPayload), Response: read(f.ResponsePayload),
		RequestTruncated:  f.RequestPayload != nil && f.RequestPayload.Truncated,
		ResponseTruncated: f.ResponsePayload != nil && f.ResponsePayload.Truncated}
}

// gatewayKeys are the current configuration's exporting gateways' keys by "acct/gw"
// (parsed once per configuration snapshot).
func (x *Exporter) gatewayKeys() map[string]*rsa.PublicKey {
	snap := x.o.Config()
	x.mu.Lock()
	defer x.mu.Unlock()
	if snap != x.snap {
		x.snap, x.keys = snap, snap.LogpushKeys()
	}
	return x.keys
}
