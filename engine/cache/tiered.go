// tiered.go puts a cluster-wide cache behind a node's own: a lookup reads the node's store
// first and the shared one on a miss (keeping what it found locally for the rest of its
// life); a store writes locally at once and to the shared store in the background, so no
// request waits for the cluster. An answer cached by one node is then a hit on the others.
package cache

import (
	"encoding/binary"
	"sync"
	"time"
)

// Tiered is a Store over a node's Local store and a Shared one. Shared entries carry their
// expiry (the shared store keeps them for its own longest TTL).
type Tiered struct {
	Local, Shared Store
	// Now is the clock (tests inject one).
	Now func() time.Time
	// OnError is told of a shared read or write that failed (nil: ignored); a failure
	// only costs a miss.
	OnError func(op string, err error)

	slots chan struct{}
	wg    sync.WaitGroup
}

// sharedWrites bounds the background writes in flight; past it a write is skipped (the
// answer stays cached on this node).
const sharedWrites = 64

// NewTiered builds the two-level store.
func NewTiered(local, shared Store) *Tiered {
	return &Tiered{Local: local, Shared: shared, Now: time.Now, slots: make(chan struct{}, sharedWrites)}
}

// Get reads the node's store, then the shared one; a shared hit is copied to the node's
// store for the time it has left.
func (t *Tiered) Get(key string) ([]byte, error) {
	if v, err := t.Local.Get(key); err != nil || v != nil {
		return v, err
	}
	w, err := t.Shared.Get(key)
	if err != nil {
		t.fail("get", err)
		return nil, nil
	}
	v, left, ok := unwrapShared(w, t.Now())
	if !ok {
		return nil, nil
	}
	_ = t.Local.Put(key, v, left)
	return v, nil
}

// Put writes the node's store now and the shared one in the background.
func (t *Tiered) Put(key string, value []byte, ttl time.Duration) error {
	err := t.Local.Put(key, value, ttl)
	select {
	case t.slots <- struct{}{}:
	default:
		return err
	}
	w := wrapShared(value, t.Now().Add(ttl))
	t.wg.Add(1)
	go func() {
		defer func() { <-t.slots; t.wg.Done() }()
		if err := t.Shared.Put(key, w, ttl); err != nil {
			t.fail("put", err)
		}
	}()
	return err
}

// Wait waits for the background writes (shutdown, tests).
func (t *Tiered) Wait() { t.wg.Wait() }

func (t *Tiered) fail(op string, err error) {
	if t.OnError != nil {
		t.OnError(op, err)
	}
}

// wrapShared prefixes an entry with its expiry (Unix nanoseconds, 8 bytes).
func wrapShared(v []byte, expires time.Time) []byte {
	return append(binary.BigEndian.AppendUint64(make([]byte, 0, 8+len(v)), uint64(expires.UnixNano())), v...)
}

// unwrapShared returns a shared entry and how long it has left; false when it is
// malformed or expired.
func unwrapShared(w []byte, now time.Time) ([]byte, time.Duration, bool) {
	if len(w) < 8 {
		return nil, 0, false
	}
	left := time.Unix(0, int64(binary.BigEndian.Uint64(w))).Sub(now)
	if left <= 0 {
		return nil, 0, false
	}
	return w[8:], left, true
}
