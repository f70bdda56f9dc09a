// keylimit.go enforces a stored provider key's own rate limit (rate_limit requests per
// rate_limit_period seconds, the hosted provider_configs fields) with a fixed window per
// key on this node. Gateway-wide limits and limits shared across nodes are the limiter
// actors' job; this one only keeps a single key under its provider quota.
package engine

import (
	"sync"
	"time"
)

// KeyLimiter counts requests per stored key.
type KeyLimiter struct {
	mu sync.Mutex
	w  map[string]*keyWindow
}

type keyWindow struct {
	start time.Time
	n     float64
}

// Allow counts one request on key id and reports whether it is within limit per period
// seconds. A limit or period of zero means no limit.
func (l *KeyLimiter) Allow(id string, limit, periodSeconds float64, now time.Time) bool {
	if limit <= 0 || periodSeconds <= 0 {
		return true
	}
	period := time.Duration(periodSeconds * float64(time.Second))
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.w == nil {
		l.w = map[string]*keyWindow{}
	}
	w := l.w[id]
	if w == nil || now.Sub(w.start) >= period {
		if w == nil {
			w = &keyWindow{}
			l.w[id] = w
		}
		w.start, w.n = now, 0
	}
	if w.n >= limit {
		return false
	}
	w.n++
	return true
}
