// spend.go enforces a gateway's spend limits (spend_limits rules: daily, weekly, monthly
// or any window of cost in USD). The spend so far comes from the analytics rollup, which
// every node's requests feed; a reading is reused for a quarter of a second, so a burst
// may overshoot a limit by what it spends in that time plus the projection's lag.
package server

import (
	"fmt"
	"math"
	"sync"
	"time"

	"github.com/switchyard/switchyard/engine"
	"github.com/switchyard/switchyard/storage/config"
)

// SpendReader sums the cost (USD) a gateway spent in [from, to) (storage.Analytics).
type SpendReader interface {
	Spend(acct, gw string, from, to time.Time) float64
}

// spendReuse is how long one reading of a gateway's spend is trusted.
const spendReuse = 250 * time.Millisecond

type spendReading struct {
	from  time.Time
	at    time.Time
	spent float64
}

// spendGuard caches spend readings per gateway and rule period, and each gateway's parsed
// spend_limits (reparsed only when the setting's bytes change with a config update).
type spendGuard struct {
	mu     sync.Mutex
	seen   map[string]spendReading
	parsed map[string]parsedLimits
}

type parsedLimits struct {
	raw *byte // first byte of the spend_limits value parsed
	sl  *config.SpendLimits
}

// limits is the gateway's parsed spend_limits, nil when absent, off or invalid.
func (g *spendGuard) limits(gw *config.Gateway) *config.SpendLimits {
	key := gw.AccountID + "/" + gw.ID
	g.mu.Lock()
	p, ok := g.parsed[key]
	g.mu.Unlock()
	if ok && p.raw == &gw.SpendLimits[0] {
		return p.sl
	}
	sl, err := config.ParseSpendLimits(gw.SpendLimits)
	if err != nil || sl == nil || !sl.Enabled {
		sl = nil
	}
	g.mu.Lock()
	if g.parsed == nil {
		g.parsed = map[string]parsedLimits{}
	}
	g.parsed[key] = parsedLimits{raw: &gw.SpendLimits[0], sl: sl}
	g.mu.Unlock()
	return sl
}

// spent is the gateway's spend since from, read at most every spendReuse. A fixed
// period's reading is reused only within the same period; a sliding one's moves with
// now, so any recent reading is reused. The store is read outside the lock.
func (g *spendGuard) spent(r SpendReader, acct, gw, rule string, sliding bool, from, now time.Time) float64 {
	key := acct + "/" + gw + "/" + rule
	g.mu.Lock()
	v, ok := g.seen[key]
	g.mu.Unlock()
	if ok && (sliding || v.from.Equal(from)) && now.Sub(v.at) < spendReuse {
		return v.spent
	}
	v = spendReading{from: from, at: now, spent: r.Spend(acct, gw, from, now.Add(time.Minute))}
	g.mu.Lock()
	if g.seen == nil {
		g.seen = map[string]spendReading{}
	}
	g.seen[key] = v
	g.mu.Unlock()
	return v.spent
}

// overSpend is the refusal of a request to a gateway whose spend limit is reached, or nil.
func (s *Server) overSpend(g *config.Gateway, now time.Time) *engine.GatewayError {
	if len(g.SpendLimits) == 0 || s.opts.Spend == nil {
		return nil
	}
	sl := s.spend.limits(g)
	if sl == nil {
		return nil
	}
	for i := range sl.Rules {
		r := &sl.Rules[i]
		if !r.On() {
			continue
		}
		from, resets := r.Period(now)
		id := r.ID
		if id == "" {
			id = fmt.Sprint(i)
		}
		spent := s.spend.spent(s.opts.Spend, g.AccountID, g.ID, id, r.Technique == "sliding", from, now)
		if spent < r.Limit {
			continue
		}
		e := engine.Errorf(429, engine.CodeSpendLimit, fmt.Sprintf("spend limit reached: gateway %s has spent $%.6f of its $%.6f %s limit", g.ID, spent, r.Limit, periodName(r)))
		if !resets.IsZero() {
			e.Message += "; it resets at " + resets.Format(time.RFC3339)
			e.RetryAfter = int(math.Ceil(resets.Sub(now).Seconds()))
		} else {
			e.Message += "; it frees up as older spending leaves the window"
		}
		return e
	}
	return nil
}

// periodName says a rule's window in words.
func periodName(r *config.SpendRule) string {
	w := time.Duration(max(r.Window, config.MinSpendWindow)) * time.Second
	switch {
	case r.Technique == "sliding":
		return "trailing " + w.String()
	case r.Window == config.SpendDaily:
		return "daily"
	case r.Window == config.SpendWeekly:
		return "weekly"
	case r.Window == config.SpendMonthly || r.Window == 31*86400 || r.Window == 2628000:
		return "monthly"
	}
	return w.String()
}
