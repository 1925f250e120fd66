package web

import (
	"testing"
	"time"

	"github.com/ofsted-portal/evidence/portal"
)

func TestLimiter(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	l := newLimiter(portal.Rate{N: 3, Per: time.Minute})
	l.now = func() time.Time { return now }
	for i := range 3 {
		if ok, _ := l.allow("192.0.2.1"); !ok {
			t.Fatalf("event %d refused within the burst", i)
		}
	}
	ok, wait := l.allow("192.0.2.1")
	if ok || wait <= 0 || wait > 20*time.Second {
		t.Fatalf("the fourth event: %v, wait %s", ok, wait)
	}
	if b, _ := l.blocked("192.0.2.1"); !b {
		t.Fatal("blocked does not see the spent rate")
	}
	if ok, _ := l.allow("192.0.2.2"); !ok {
		t.Fatal("another address shares the limit")
	}
	// IPv6 counts per /64.
	for range 3 {
		l.allow("2001:db8::1")
	}
	if ok, _ := l.allow("2001:db8::ffff"); ok {
		t.Fatal("another address of the same /64 is not limited")
	}
	now = now.Add(20 * time.Second)
	if ok, _ := l.allow("192.0.2.1"); !ok {
		t.Fatal("an event is refused after its interval")
	}
	if ok, _ := l.allow("192.0.2.1"); ok {
		t.Fatal("two events allowed after one interval")
	}
	now = now.Add(time.Hour)
	if b, _ := l.blocked("192.0.2.1"); b {
		t.Fatal("still blocked an hour later")
	}
}
