// flight.go coalesces identical requests in flight: the first caller of a key leads and
// goes upstream; the others wait for it to finish, then read the entry it stored.
package cache

import "sync"

// Flights is the set of keys being fetched. The zero value is ready to use.
type Flights struct {
	mu sync.Mutex
	m  map[string]chan struct{}
}

// Join makes the caller the leader of key (leader true, and done must be called once the
// answer is stored or known to be uncacheable), or a follower that should wait on the
// returned channel and then look the key up again.
func (f *Flights) Join(key string) (leader bool, wait <-chan struct{}, done func()) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if ch, ok := f.m[key]; ok {
		return false, ch, nil
	}
	if f.m == nil {
		f.m = make(map[string]chan struct{})
	}
	ch := make(chan struct{})
	f.m[key] = ch
	var once sync.Once
	return true, ch, func() {
		once.Do(func() {
			f.mu.Lock()
			delete(f.m, key)
			f.mu.Unlock()
			close(ch)
		})
	}
}
