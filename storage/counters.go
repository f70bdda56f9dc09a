// counters.go is the counters projection: it sums the limiter events (limit.consumed and
// limit.charged) into per-limiter buckets in Badger, each kept only as long as it can
// still count in its window, so a limiter actor that starts (after a restart, after being
// stopped for idleness, on another node) rebuilds its window from here.
package storage

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/dgraph-io/badger/v4"
	"github.com/switchyard/switchyard/events"
)

// CountersProjection is the projection's name, used for its checkpoint and consumer.
const CountersProjection = "counters"

// Key layout:
//
//	n sep 'b' sep uvarint(len(limiter id)) limiter id  T     a bucket's units (varint)
//	n sep 's' sep event id                                  event applied (expires)
//
// T is the bucket's start as 8 big-endian bytes of Unix seconds, so one limiter's buckets
// are one key range in time order. The length before the limiter id keeps one id from
// being a prefix of another, whatever bytes ids hold.
const (
	counterBucketPrefix = "n" + sep + "b" + sep
	counterSeenPrefix   = "n" + sep + "s" + sep
)

// counterMargin is how long a bucket outlives the last moment it can count in a window
// (its end plus the interval), for clocks that differ a little between nodes.
const counterMargin = time.Minute

// counterDupWindow is how long an applied event's id is remembered: an event republished
// after a failed asynchronous publish is stored twice seconds apart (events/bus.go), and
// the marker makes the second copy add nothing.
const counterDupWindow = time.Hour

// counterCheckpointEvery: a batch without limiter events writes nothing, so the stored
// checkpoint trails the position by up to this much (a restart re-reads those events and
// finds nothing to count in them); Flush writes it at once.
const counterCheckpointEvery = time.Second

// Counters is the limiter counters projection over a Store.
type Counters struct {
	s    *Store
	prog *progress
	mu   sync.Mutex // Apply and Flush
	// stored is the checkpoint last written, at lastWrite.
	stored    uint64
	lastWrite time.Time
}

// NewCounters opens the projection, reading its checkpoint.
func NewCounters(s *Store) (*Counters, error) {
	seq, err := s.Checkpoint(CountersProjection)
	if err != nil {
		return nil, err
	}
	return &Counters{s: s, prog: newProgress(seq), stored: seq, lastWrite: time.Now()}, nil
}

// Flush writes the checkpoint of the last event applied, if a batch without limiter
// events has moved it. Shutdown and replay flush at the end.
func (c *Counters) Flush() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.writeCheckpoint(c.Applied())
}

func (c *Counters) writeCheckpoint(seq uint64) error {
	if seq == c.stored {
		return nil
	}
	if err := c.s.SetCheckpoint(CountersProjection, seq); err != nil {
		return fmt.Errorf("counters checkpoint: %w", err)
	}
	c.stored, c.lastWrite = seq, time.Now()
	return nil
}

// Applied is the last stream sequence applied.
func (c *Counters) Applied() uint64 { seq, _ := c.prog.get(); return seq }

// WaitFor blocks until the projection has applied seq.
func (c *Counters) WaitFor(ctx context.Context, seq uint64) error { return c.prog.wait(ctx, seq) }

// Apply adds a batch of events to the buckets, with the checkpoint of the last in the
// same transaction. Events at or below the checkpoint are skipped, and so is an event
// whose id was applied before. Should Badger find the transaction too big, the batch is
// applied in smaller chunks, each with its own checkpoint. A chunk without limiter events
// (most of them: request.finished alone) opens no transaction; only its position moves,
// written about once a second (counterCheckpointEvery).
func (c *Counters) Apply(batch []events.Msg) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	size := len(batch)
	for len(batch) > 0 {
		n := events.Whole(batch, size) // a chunk never ends inside a stored message
		err := c.applyChunk(batch[:n])
		if errors.Is(err, badger.ErrTxnTooBig) && events.Whole(batch, n/2) < n {
			size = n / 2
			continue
		}
		if err != nil {
			return err
		}
		batch = batch[n:]
	}
	return nil
}

// counterBucket is a bucket being updated in a transaction.
type counterBucket struct {
	units     int64
	expiresAt uint64
}

func (c *Counters) applyChunk(batch []events.Msg) error {
	done := c.Applied()
	var txn *badger.Txn // opened by the first limiter event
	defer func() {
		if txn != nil {
			txn.Discard()
		}
	}()
	dirty := map[string]*counterBucket{}
	now := time.Now()
	last := done
	for _, m := range batch {
		if m.Seq <= done {
			continue
		}
		last = m.Seq
		u, ok := counterEvent(m)
		if !ok {
			continue // not ours or unreadable: skip rather than wedge the projection
		}
		expires := u.BucketEnd().Add(time.Duration(u.IntervalSeconds)*time.Second + counterMargin)
		if !expires.After(now) {
			continue // the bucket can no longer count in any window
		}
		if txn == nil {
			txn = c.s.db.NewTransaction(true)
		}
		dup, err := counterSeenBefore(txn, u.EventID)
		if err != nil {
			return fmt.Errorf("apply seq %d: %w", m.Seq, err)
		}
		if dup {
			continue
		}
		if len(u.LimiterID) > maxLimiterID {
			continue // Badger refuses long keys: one odd event must not wedge the projection
		}
		k := string(counterBucketKey(u.LimiterID, u.BucketStart))
		b := dirty[k]
		if b == nil {
			units, err := readCounterUnits(txn, []byte(k))
			if err != nil {
				return fmt.Errorf("apply seq %d: %w", m.Seq, err)
			}
			b = &counterBucket{units: units}
			dirty[k] = b
		}
		b.units += u.Units()
		b.expiresAt = max(b.expiresAt, uint64(expires.Unix()))
	}
	if last == done {
		return nil
	}
	if txn == nil {
		c.prog.set(last)
		if time.Since(c.lastWrite) >= counterCheckpointEvery {
			return c.writeCheckpoint(last)
		}
		return nil
	}
	for k, b := range dirty {
		e := badger.NewEntry([]byte(k), binary.AppendVarint(nil, b.units))
		e.ExpiresAt = b.expiresAt
		if err := txn.SetEntry(e); err != nil {
			return err
		}
	}
	if err := putCheckpoint(txn, CountersProjection, last); err != nil {
		return err
	}
	if err := txn.Commit(); err != nil {
		return err
	}
	c.stored, c.lastWrite = last, now
	c.prog.set(last)
	return nil
}

// counterEvent decodes a limiter event whose bucket can be keyed.
func counterEvent(m events.Msg) (events.LimitUsage, bool) {
	env, err := m.Envelope()
	if err != nil || (env.Type != events.TypeLimitConsumed && env.Type != events.TypeLimitCharged) {
		return events.LimitUsage{}, false
	}
	u, err := events.DecodeLimitUsage(env)
	if err != nil || u.BucketStart.Unix() < 0 || u.IntervalSeconds < 0 {
		return u, false
	}
	return u, true
}

// counterSeenBefore reports whether the event was applied already, and marks it if not.
func counterSeenBefore(txn *badger.Txn, eventID string) (bool, error) {
	if eventID == "" {
		return false, nil
	}
	k := []byte(counterSeenPrefix + eventID)
	_, err := txn.Get(k)
	if err == nil {
		return true, nil
	}
	if !errors.Is(err, badger.ErrKeyNotFound) {
		return false, err
	}
	return false, txn.SetEntry(badger.NewEntry(k, nil).WithTTL(counterDupWindow))
}

func counterLimiterPrefix(limiterID string) []byte {
	k := make([]byte, 0, len(counterBucketPrefix)+binary.MaxVarintLen64+len(limiterID)+8)
	k = append(k, counterBucketPrefix...)
	k = binary.AppendUvarint(k, uint64(len(limiterID)))
	return append(k, limiterID...)
}

// maxLimiterID bounds a limiter id kept as a key (Badger's limit is 65,000 bytes); the
// engine keeps key values short, so only a malformed event can be longer.
const maxLimiterID = 4096

func counterBucketKey(limiterID string, start time.Time) []byte {
	return binary.BigEndian.AppendUint64(counterLimiterPrefix(limiterID), uint64(max(start.Unix(), 0)))
}

var errCounterEncoding = errors.New("counters: bad bucket encoding")

func decodeCounterUnits(v []byte) (int64, error) {
	units, n := binary.Varint(v)
	if n <= 0 || n != len(v) {
		return 0, errCounterEncoding
	}
	return units, nil
}

func readCounterUnits(txn *badger.Txn, key []byte) (int64, error) {
	it, err := txn.Get(key)
	if errors.Is(err, badger.ErrKeyNotFound) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	var units int64
	err = it.Value(func(v []byte) error {
		units, err = decodeCounterUnits(v)
		return err
	})
	return units, err
}

// Buckets returns a limiter's buckets that start at or after from, oldest first. Buckets
// past their time to live are gone. It satisfies the limiter actors' CounterReader.
func (c *Counters) Buckets(limiterID string, from time.Time) ([]events.LimitBucket, error) {
	prefix := counterLimiterPrefix(limiterID)
	var out []events.LimitBucket
	err := c.s.db.View(func(txn *badger.Txn) error {
		opts := badger.DefaultIteratorOptions
		opts.Prefix = prefix
		opts.PrefetchValues = false // a few small values kept in the LSM tree
		it := txn.NewIterator(opts)
		defer it.Close()
		for it.Seek(counterBucketKey(limiterID, from)); it.Valid(); it.Next() {
			k := it.Item().Key()[len(prefix):]
			if len(k) != 8 {
				continue
			}
			var units int64
			if err := it.Item().Value(func(v []byte) error {
				var err error
				units, err = decodeCounterUnits(v)
				return err
			}); err != nil {
				return fmt.Errorf("counters key %q: %w", it.Item().Key(), err)
			}
			start := time.Unix(int64(binary.BigEndian.Uint64(k)), 0).UTC()
			out = append(out, events.LimitBucket{Start: start, Units: units})
		}
		return nil
	})
	return out, err
}
