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
		_, err := s.EndUserSessions(ctx, Logout{TokenKey: "key-1", KeepUntil: now.Add(time.Minute), IssuedAt: at}, "https://i", sub, at, none)
		return err
	}
	if err := take(a, "nobody", now); err != nil {
		t.Fatalf("the first use, for nobody: %v", err)
	}
	if err := take(b, "sub", now.Add(30*time.Second)); !errors.Is(err, ErrLogoutTokenUsed) {
		t.Fatalf("the same token at another instance: %v, want ErrLogoutTokenUsed", err)
	}
	if _, err := b.EndIdPSessions(ctx, Logout{TokenKey: "key-1", KeepUntil: now.Add(time.Minute), IdPSession: "sid", IssuedAt: now}, now, func([]byte) ([]AuditRecord, bool, error) { return nil, true, nil }); !errors.Is(err, ErrLogoutTokenUsed) {
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

// TestLogoutFindsASessionSavedAsItCame: a session saved under the ended
// provider session after the logout first read the sessions (a sign-in
// the provider ended while the portal finished it, whose own look at the
// logouts came before the token was taken) is found by the look the
// logout takes once its token is taken, and ended.
func TestLogoutFindsASessionSavedAsItCame(t *testing.T) {
	ctx := context.Background()
	s, err := testDatabase(t)()
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	now := time.Now()
	save := func(token string) {
		t.Helper()
		if _, err := s.db.ExecContext(ctx, `INSERT INTO sessions (token, data, expiry, idp_session) VALUES (?, ?, ?, ?)`,
			token, []byte("data"), unixFloat(now.Add(time.Hour)), "sid-key"); err != nil {
			t.Fatal(err)
		}
	}
	save("first")
	decided := 0
	ended, err := s.EndIdPSessions(ctx, Logout{TokenKey: "jti-key", KeepUntil: now.Add(time.Minute), IdPSession: "sid-key", IssuedAt: now}, now, func([]byte) ([]AuditRecord, bool, error) {
		if decided++; decided == 1 {
			save("signed-in-meanwhile")
		}
		return []AuditRecord{{Time: now, Action: "signout", Outcome: "success"}}, true, nil
	})
	if err != nil || ended != 2 {
		t.Fatalf("%d sessions ended (%v), want the first and the one saved meanwhile", ended, err)
	}
	var n int
	if err := s.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM sessions`).Scan(&n); err != nil || n != 0 {
		t.Fatalf("%d sessions left (%v)", n, err)
	}
	if gone, err := s.LoggedOutSince(ctx, "sid-key", "", now.Add(time.Hour)); err != nil || !gone {
		t.Fatalf("a session saved under the ended provider session after the logout: ended %v (%v), want true", gone, err)
	}
}

// TestLogoutSecondLookFailing: when the look a logout takes once its
// token is taken fails, the token stays taken (the provider's retry is a
// replay) and the session saved as it came is left live; the janitor's
// round (EndLoggedOutSessions) ends it, and a session under another
// provider session goes on.
func TestLogoutSecondLookFailing(t *testing.T) {
	ctx := context.Background()
	s, err := testDatabase(t)()
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	now := time.Now()
	save := func(token, sid string) {
		t.Helper()
		if _, err := s.db.ExecContext(ctx, `INSERT INTO sessions (token, data, expiry, idp_session) VALUES (?, ?, ?, ?)`,
			token, []byte("data"), unixFloat(now.Add(time.Hour)), sid); err != nil {
			t.Fatal(err)
		}
	}
	save("first", "sid-key")
	save("other", "other-sid-key")
	l := Logout{TokenKey: "jti-key", KeepUntil: now.Add(time.Minute), IdPSession: "sid-key", IssuedAt: now}
	failure := errors.New("the database went away")
	decided := 0
	ended, err := s.EndIdPSessions(ctx, l, now, func([]byte) ([]AuditRecord, bool, error) {
		if decided++; decided == 1 {
			save("signed-in-meanwhile", "sid-key")
			return []AuditRecord{{Time: now, Action: "signout", Outcome: "success"}}, true, nil
		}
		return nil, false, failure // the second look fails
	})
	if !errors.Is(err, failure) || ended != 1 {
		t.Fatalf("%d sessions ended (%v), want the first and the second look's failure", ended, err)
	}
	if _, err := s.EndIdPSessions(ctx, l, now, func([]byte) ([]AuditRecord, bool, error) { return nil, true, nil }); !errors.Is(err, ErrLogoutTokenUsed) {
		t.Fatalf("the provider's retry: %v, want ErrLogoutTokenUsed", err)
	}
	var got []Logout
	n, err := s.EndLoggedOutSessions(ctx, now, func(l Logout, _ []byte) ([]AuditRecord, bool, error) {
		got = append(got, l)
		return []AuditRecord{{Time: now, Action: "signout", Outcome: "success"}}, true, nil
	})
	if err != nil || n != 1 || len(got) != 1 || got[0].TokenKey != l.TokenKey || got[0].IdPSession != l.IdPSession {
		t.Fatalf("the janitor's round: %d sessions ended (%v), decided under %+v; want the one saved meanwhile, under the token", n, err, got)
	}
	var left []string
	rows, err := s.db.QueryContext(ctx, `SELECT token FROM sessions ORDER BY token`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	for rows.Next() {
		var tok string
		if err := rows.Scan(&tok); err != nil {
			t.Fatal(err)
		}
		left = append(left, tok)
	}
	if len(left) != 1 || left[0] != "other" {
		t.Fatalf("sessions left: %v, want only the other provider session's", left)
	}
	if n, err := s.EndLoggedOutSessions(ctx, now, func(Logout, []byte) ([]AuditRecord, bool, error) { return nil, true, nil }); err != nil || n != 0 {
		t.Fatalf("the next round: %d ended (%v), want none", n, err)
	}
}
