package store

import (
	"context"
	"errors"
	"testing"
	"time"
)

// TestLogoutTokenTakenOnce: a logout token's key is taken once while it is
// kept, on every instance (two stores on one database); once its time has
// passed it may be taken again (the token itself is refused as old by
// then), and the janitor's prune forgets it. A token for nobody is taken
// all the same.
func TestLogoutTokenTakenOnce(t *testing.T) {
	ctx := context.Background()
	open := testDatabase(t)
	a, err := open()
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	b, err := open()
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	now := time.Date(2026, 12, 3, 9, 0, 0, 0, time.UTC)
	if _, err := a.SignIn(ctx, "https://i", "sub", "a@x.example", "A", nil, now); err != nil {
		t.Fatal(err)
	}
	none := func(User) []AuditRecord { return nil }
	take := func(s *Store, sub string, at time.Time) error {
		_, err := s.EndUserSessions(ctx, "key-1", now.Add(time.Minute), "https://i", sub, at, none)
		return err
	}
	if err := take(a, "nobody", now); err != nil {
		t.Fatalf("the first use, for nobody: %v", err)
	}
	if err := take(b, "sub", now.Add(30*time.Second)); !errors.Is(err, ErrLogoutTokenUsed) {
		t.Fatalf("the same token at another instance: %v, want ErrLogoutTokenUsed", err)
	}
	if _, err := b.EndIdPSessions(ctx, "key-1", now.Add(time.Minute), "sid", now, func([]byte) ([]AuditRecord, bool, error) { return nil, true, nil }); !errors.Is(err, ErrLogoutTokenUsed) {
		t.Fatalf("the same token by session: %v, want ErrLogoutTokenUsed", err)
	}
	var epoch int64
	if err := a.DB().QueryRow(`SELECT session_epoch FROM users WHERE subject = 'sub'`).Scan(&epoch); err != nil || epoch != 0 {
		t.Fatalf("a refused replay moved the session epoch to %d (%v)", epoch, err)
	}
	if err := take(b, "sub", now.Add(2*time.Minute)); err != nil {
		t.Fatalf("the key taken again once its time had passed: %v", err)
	}
	if err := a.PruneLogoutTokens(ctx, now.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	var n int
	if err := a.DB().QueryRow(`SELECT COUNT(*) FROM logout_tokens`).Scan(&n); err != nil || n != 0 {
		t.Fatalf("%d logout tokens kept after the prune (%v)", n, err)
	}
}
