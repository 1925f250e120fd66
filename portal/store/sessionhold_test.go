package store

import (
	"context"
	"testing"
	"time"
)

// TestHoldMovesALiveSessionOnOnly: a transfer's re-check holds its
// session while the session is there and within its deadlines, and moves
// its idle deadline on once half the idle time is gone, never past its
// absolute deadline; a session past its idle deadline that the janitor
// has not yet removed is not brought back, nor is one past its lifetime.
func TestHoldMovesALiveSessionOnOnly(t *testing.T) {
	s := openTest(t)
	ctx := context.Background()
	now := time.Now()
	clock := now
	ss := s.Sessions(func() time.Time { return clock })
	expiry := func(token string) time.Time {
		t.Helper()
		var e float64
		if err := s.DB().QueryRow(`SELECT expiry FROM sessions WHERE token = ?`, token).Scan(&e); err != nil {
			t.Fatal(err)
		}
		return fromUnixFloat(e)
	}
	for token, e := range map[string]time.Time{"live": now.Add(20 * time.Second), "idle": now.Add(-time.Second)} {
		if err := ss.CommitCtx(NewSession(ctx), token, []byte("data"), e); err != nil {
			t.Fatal(err)
		}
	}
	idle, until := time.Minute, now.Add(90*time.Second)
	if ok, err := ss.Hold(ctx, "live", idle, until); err != nil || !ok {
		t.Fatalf("a live session: held %v (%v)", ok, err)
	}
	if got := expiry("live"); got.Sub(now.Add(idle)).Abs() > time.Millisecond {
		t.Errorf("the idle deadline, with 20 s of a minute left, moved to %s, want %s", got, now.Add(idle))
	}
	clock = now.Add(40 * time.Second) // 20 s of the idle deadline left, 50 s of the lifetime
	if ok, err := ss.Hold(ctx, "live", idle, until); err != nil || !ok {
		t.Fatalf("a live session later: held %v (%v)", ok, err)
	}
	if got := expiry("live"); got.Sub(until).Abs() > time.Millisecond {
		t.Errorf("the idle deadline moved to %s, want the session's lifetime, %s", got, until)
	}
	clock = until
	if ok, _ := ss.Hold(ctx, "live", idle, until); ok {
		t.Error("a session past its lifetime is held")
	}
	clock = now
	if ok, err := ss.Hold(ctx, "idle", idle, until); err != nil || ok {
		t.Errorf("a session past its idle deadline: held %v (%v), want not", ok, err)
	}
	if got := expiry("idle"); got.After(now) {
		t.Errorf("a session past its idle deadline was brought back to %s", got)
	}
	if ok, _ := ss.Hold(ctx, "gone", idle, until); ok {
		t.Error("a session not there is held")
	}
}
