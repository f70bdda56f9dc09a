package cache

import (
	"errors"
	"sync"
	"testing"
	"time"
)

// memStore is a Store in memory with expiries on a test clock.
type memStore struct {
	mu   sync.Mutex
	m    map[string][]byte
	exp  map[string]time.Time
	now  *time.Time
	fail error
}

func newMemStore(now *time.Time) *memStore {
	return &memStore{m: map[string][]byte{}, exp: map[string]time.Time{}, now: now}
}

func (s *memStore) Get(k string) ([]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.fail != nil {
		return nil, s.fail
	}
	if !s.now.Before(s.exp[k]) {
		return nil, nil
	}
	return s.m[k], nil
}

func (s *memStore) Put(k string, v []byte, ttl time.Duration) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.fail != nil {
		return s.fail
	}
	s.m[k], s.exp[k] = v, s.now.Add(ttl)
	return nil
}

// Two nodes with their own stores over one shared store: an answer cached by one is a hit
// on the other, for the time it has left; expired shared entries are misses; a shared
// store that fails costs misses, never an error.
func TestTieredAcrossNodes(t *testing.T) {
	now := time.Date(2026, 12, 5, 12, 0, 0, 0, time.UTC)
	shared := newMemStore(&now)
	shared.now = new(time.Time) // the shared store keeps entries longer than their TTL (its own bucket age)
	a, b := NewTiered(newMemStore(&now), shared), NewTiered(newMemStore(&now), shared)
	a.Now, b.Now = func() time.Time { return now }, func() time.Time { return now }
	if err := a.Put("k", []byte("answer"), time.Minute); err != nil {
		t.Fatal(err)
	}
	a.Wait()
	now = now.Add(20 * time.Second)
	if v, err := b.Get("k"); err != nil || string(v) != "answer" {
		t.Fatalf("node b: %q, %v; want the answer node a cached", v, err)
	}
	shared.mu.Lock()
	shared.fail = errors.New("cluster down")
	shared.mu.Unlock()
	now = now.Add(39 * time.Second)
	if v, _ := b.Get("k"); string(v) != "answer" {
		t.Fatal("node b lost its local copy before the entry's 60 s were up")
	}
	now = now.Add(2 * time.Second)
	if v, err := b.Get("k"); v != nil || err != nil {
		t.Fatalf("after the TTL: %q, %v; want a miss", v, err)
	}
	shared.mu.Lock()
	shared.fail = nil
	shared.mu.Unlock()
	c := NewTiered(newMemStore(&now), shared)
	c.Now = func() time.Time { return now }
	if v, err := c.Get("k"); v != nil || err != nil {
		t.Fatalf("expired shared entry: %q, %v; want a miss", v, err)
	}
	if _, _, ok := unwrapShared([]byte{1, 2}, now); ok {
		t.Fatal("short shared entry accepted")
	}
}
