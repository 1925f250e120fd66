package web

import (
	"net/netip"
	"sync"
	"time"

	"github.com/ofsted-portal/evidence/portal"
)

// limiter allows a rate of events per client address (GCRA: N events at
// once, then one per Per/N). It keeps one time per address it has seen
// lately, in memory: limits are per portal process. IPv6 addresses count
// per /64, which one client usually holds whole.
type limiter struct {
	rate     portal.Rate
	interval time.Duration // Per / N
	now      func() time.Time

	mu   sync.Mutex
	next map[string]time.Time // theoretical arrival time of the next event
}

// limiterCap bounds the memory: past it, expired entries are dropped, and
// if none has expired new addresses are let through untracked rather than
// locked out together.
const limiterCap = 100_000

func newLimiter(r portal.Rate) *limiter {
	return &limiter{rate: r, interval: r.Per / time.Duration(r.N), now: time.Now, next: map[string]time.Time{}}
}

// limitKey is the address the limit applies to.
func limitKey(clientIP string) string {
	a, err := netip.ParseAddr(clientIP)
	if err != nil {
		return clientIP
	}
	a = a.Unmap()
	if a.Is6() {
		p, _ := a.Prefix(64)
		return p.String()
	}
	return a.String()
}

// allow takes one event for ip; when the rate is spent it takes none and
// says how long until one is allowed.
func (l *limiter) allow(ip string) (bool, time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	key, now := limitKey(ip), l.now()
	tat, ok := l.next[key]
	if !ok && len(l.next) >= limiterCap {
		l.prune(now)
		if len(l.next) >= limiterCap {
			return true, 0
		}
	}
	if tat.Before(now) {
		tat = now
	}
	if wait := tat.Sub(now) - (l.rate.Per - l.interval); wait > 0 {
		return false, wait
	}
	l.next[key] = tat.Add(l.interval)
	return true, 0
}

// blocked says whether the next event of ip would be refused, and for how
// long, without taking one.
func (l *limiter) blocked(ip string) (bool, time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	tat, ok := l.next[limitKey(ip)]
	if !ok {
		return false, 0
	}
	wait := tat.Sub(l.now()) - (l.rate.Per - l.interval)
	return wait > 0, wait
}

func (l *limiter) prune(now time.Time) {
	for k, t := range l.next {
		if !t.After(now) {
			delete(l.next, k)
		}
	}
}
