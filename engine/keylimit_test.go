// keylimit_test.go: a stored key's own rate limit.
package engine

import (
	"testing"
	"time"
)

func TestKeyLimiter(t *testing.T) {
	var l KeyLimiter
	t0 := time.Unix(1000, 0)
	steps := []struct {
		key  string
		at   time.Duration
		want bool
	}{
		{"a", 0, true}, {"a", time.Second, true}, {"a", 2 * time.Second, false}, // 2 per 10 s
		{"b", 2 * time.Second, true}, // keys are counted apart
		{"a", 10 * time.Second, true}, {"a", 11 * time.Second, true}, {"a", 12 * time.Second, false},
	}
	for i, s := range steps {
		if got := l.Allow(s.key, 2, 10, t0.Add(s.at)); got != s.want {
			t.Errorf("step %d (%s at %v): Allow = %v, want %v", i, s.key, s.at, got, s.want)
		}
	}
	if !l.Allow("c", 0, 0, t0) {
		t.Error("no limit refused a request")
	}
}
