// Package export holds what the event-log exporters (storage/otel, storage/logpush) share:
// a position kept in the store, with the marker that the exporter ever ran, and the loop
// that runs a durable consumer of the log from that position and starts it again after an
// error. Neither runs on the request path.
package export

import (
	"context"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/switchyard/switchyard/events"
	"github.com/switchyard/switchyard/storage"
)

// Position is an exporter's place in the event log: the last sequence delivered (or
// dropped on purpose), kept in the store under its name.
type Position struct {
	store   *storage.Store
	name    string
	applied atomic.Uint64
}

// OpenPosition reads the position kept under name.
func OpenPosition(store *storage.Store, name string) (*Position, error) {
	seq, err := store.Checkpoint(name)
	if err != nil {
		return nil, err
	}
	p := &Position{store: store, name: name}
	p.applied.Store(seq)
	return p, nil
}

// Applied is the last sequence delivered.
func (p *Position) Applied() uint64 { return p.applied.Load() }

// Advance keeps seq as the position when it is past the current one.
func (p *Position) Advance(seq uint64) error {
	if seq <= p.applied.Load() {
		return nil
	}
	if err := p.store.SetCheckpoint(p.name, seq); err != nil {
		return err
	}
	p.applied.Store(seq)
	return nil
}

// StartAt places an exporter that never ran at seq (the log's end when it starts), so the
// requests made before it existed are not exported; a position kept is left alone. That it
// ran is kept apart from the position: an exporter first started on an empty log (seq 0)
// whose sink failed until a restart still has position 0 and must not skip ahead then.
func (p *Position) StartAt(seq uint64) error {
	started, err := p.store.Checkpoint(p.name + ".started")
	if err != nil {
		return err
	}
	if started == 0 && p.applied.Load() == 0 && seq > 0 {
		if err := p.Advance(seq); err != nil {
			return err
		}
	}
	if started == 0 {
		return p.store.SetCheckpoint(p.name+".started", 1)
	}
	return nil
}

// SkipTo moves the position forward to seq (nothing before it is exported): for an exporter
// that was idle while nothing was to be exported.
func (p *Position) SkipTo(seq uint64) error { return p.Advance(seq) }

// Consumer is the event log's durable consumer (events.Bus).
type Consumer interface {
	Consume(ctx context.Context, name string, after uint64, h events.BatchHandler) error
}

// Run consumes the log as name from p until ctx ends, handing each batch to apply; after an
// error it starts again from the position kept, waiting retryMin, doubling up to retryMax.
func Run(ctx context.Context, log Consumer, name string, p *Position, apply events.BatchHandler,
	logger *slog.Logger, retryMin, retryMax time.Duration) {
	wait := retryMin
	for ctx.Err() == nil {
		err := log.Consume(ctx, name, p.Applied(), apply)
		if ctx.Err() != nil {
			return
		}
		logger.Warn("exporter stopped, starting again", "consumer", name, "err", err, "after", wait)
		select {
		case <-ctx.Done():
		case <-time.After(wait):
		}
		wait = min(wait*2, retryMax)
	}
}
