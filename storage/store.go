// Package storage is Switchyard's Badger side: the store (sized for a small footprint),
// the projections that apply events from the log with their stream position in the same
// transaction, and the queries the control API serves from them.
package storage

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/dgraph-io/badger/v4"
	"github.com/dgraph-io/badger/v4/options"
)

// Options opens a store.
type Options struct {
	Dir      string // ignored when InMemory
	InMemory bool
	Logger   *slog.Logger
	// Bulk sizes the store for one writer loading many events at once (switchyard replay):
	// bigger memtables, flushed and compacted less often, at the cost of memory.
	Bulk bool
}

// Store is the Badger database shared by the projections.
type Store struct {
	db   *badger.DB
	log  *slog.Logger // what the projections report (a store upgrade); never nil
	stop chan struct{}
	wg   sync.WaitGroup
}

// Open opens (or creates) the store, sized down from Badger's defaults, and starts the
// value-log garbage collector.
func Open(o Options) (*Store, error) {
	bo := badger.DefaultOptions(o.Dir).
		WithInMemory(o.InMemory).
		WithMemTableSize(8 << 20).
		WithNumMemtables(2).
		WithNumLevelZeroTables(8).
		WithNumLevelZeroTablesStall(16).
		WithBaseLevelSize(32 << 20).
		WithBaseTableSize(1 << 20).
		WithBlockCacheSize(0).
		WithIndexCacheSize(8 << 20).
		WithValueLogFileSize(64 << 20).
		WithNumVersionsToKeep(1).
		WithNumCompactors(2).
		WithDetectConflicts(false).
		WithCompression(options.None).
		WithLogger(nil)
	if o.Bulk {
		bo = bo.WithMemTableSize(64 << 20).WithNumMemtables(3).WithNumLevelZeroTables(16).WithNumLevelZeroTablesStall(32)
	}
	// Every level's tables the base size: a compaction builds up to eight tables at a
	// time, each in memory, so bigger tables further down cost tens of MB of heap.
	bo.TableSizeMultiplier = 1
	if o.InMemory {
		bo.Dir, bo.ValueDir = "", "" // and values stay in the tree: there is no value log
	} else {
		// Larger values (a log record with a long error message, a cached answer) go to
		// the value log, written once; the tree keeps a pointer, so compactions move small
		// entries instead of rewriting them. A typical log record with its facts, about 300
		// bytes (record.go), goes to the value log, as do posting lists; counts and
		// checkpoints stay in the tree.
		bo = bo.WithValueThreshold(valueThreshold)
	}
	db, err := badger.Open(bo)
	if err != nil {
		return nil, fmt.Errorf("open badger: %w", err)
	}
	s := &Store{db: db, log: o.Logger, stop: make(chan struct{})}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if !o.InMemory {
		s.maintain(o.Dir)
	}
	return s, nil
}

// valueThreshold: values this large or larger go to Badger's value log, smaller ones
// stay in its tree.
const valueThreshold = 128

// The pages of Badger's file mappings are dropped (trim_linux.go) every trimEvery, and
// sooner when the process's file-backed resident memory has grown by trimGrowth since the
// last trim: a compaction reads and writes tens of MB of tables through their mappings in
// a fraction of a second. The growth is read every trimCheck (one small /proc read).
const (
	trimEvery  = 500 * time.Millisecond
	trimCheck  = 100 * time.Millisecond
	trimGrowth = 8 << 20
)

// valueLogGCEvery is how often the value log is collected.
const valueLogGCEvery = 5 * time.Minute

// maintain reclaims value-log space (without it the log only grows) and keeps the mapped
// files' pages out of the resident set.
func (s *Store) maintain(dir string) {
	lastTrim := time.Now()
	base, _ := fileResident() // file-backed resident bytes right after the last trim
	housekeeping{
		gcEvery:    valueLogGCEvery,
		checkEvery: trimCheck,
		collect: func() {
			for s.db.RunValueLogGC(0.5) == nil {
			}
		},
		check: func(now time.Time) {
			cur, ok := fileResident()
			if !trimDue(now.Sub(lastTrim), cur-base, ok) {
				return
			}
			trimMappings(dir)
			lastTrim = now
			base, _ = fileResident()
		},
	}.run(s.stop, &s.wg)
}

// housekeeping is the store's two background loops. Each has its own goroutine: a
// value-log collection rewrites a whole value-log file through its mapping, which is when
// the mapped pages most need trimming.
type housekeeping struct {
	gcEvery, checkEvery time.Duration
	collect             func()          // collects the value log
	check               func(time.Time) // trims the mappings when due
}

// run starts both loops; they end when stop is closed (wg counts them).
func (h housekeeping) run(stop <-chan struct{}, wg *sync.WaitGroup) {
	loop := func(every time.Duration, f func(time.Time)) {
		defer wg.Done()
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-stop:
				return
			case now := <-t.C:
				f(now)
			}
		}
	}
	wg.Add(2)
	go loop(h.gcEvery, func(time.Time) { h.collect() })
	go loop(h.checkEvery, h.check)
}

// trimDue: the mappings are trimmed every trimEvery, or sooner once the file-backed
// resident memory grew by trimGrowth (when it can be read).
func trimDue(since time.Duration, grown int64, known bool) bool {
	return since >= trimEvery || known && grown >= trimGrowth
}

// Close stops the collector and closes Badger.
func (s *Store) Close() error {
	close(s.stop)
	s.wg.Wait()
	return s.db.Close()
}

// checkpointKey is where a projection keeps the last stream sequence it applied.
func checkpointKey(projection string) []byte { return []byte("c\x00" + projection) }

// Checkpoint reads a projection's last applied sequence (0 when it never ran).
func (s *Store) Checkpoint(projection string) (uint64, error) {
	var seq uint64
	err := s.db.View(func(txn *badger.Txn) error {
		it, err := txn.Get(checkpointKey(projection))
		if errors.Is(err, badger.ErrKeyNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		return it.Value(func(v []byte) error {
			if len(v) == 8 {
				seq = binary.BigEndian.Uint64(v)
			}
			return nil
		})
	})
	return seq, err
}

// SetCheckpoint keeps a consumer's position on its own, for a consumer that writes nothing
// else to the store (the OpenTelemetry exporter).
func (s *Store) SetCheckpoint(name string, seq uint64) error {
	return s.db.Update(func(txn *badger.Txn) error { return putCheckpoint(txn, name, seq) })
}

func putCheckpoint(txn *badger.Txn, projection string, seq uint64) error {
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], seq)
	return txn.Set(checkpointKey(projection), b[:])
}

// progress lets readers wait until a projection has applied a given sequence.
type progress struct {
	mu      sync.Mutex
	applied uint64
	changed chan struct{}
}

func newProgress(seq uint64) *progress { return &progress{applied: seq, changed: make(chan struct{})} }

func (p *progress) set(seq uint64) {
	p.mu.Lock()
	p.applied = seq
	close(p.changed)
	p.changed = make(chan struct{})
	p.mu.Unlock()
}

func (p *progress) get() (uint64, chan struct{}) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.applied, p.changed
}

// wait blocks until at least seq is applied or ctx ends.
func (p *progress) wait(ctx context.Context, seq uint64) error {
	for {
		applied, ch := p.get()
		if applied >= seq {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}
