package store

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ofsted-portal/evidence/deploy/pgserver"
)

// openTest opens a new database for one test: SQLite in a temporary folder,
// or a new database on the test cluster when PORTAL_TEST_DATABASE=postgres.
func openTest(t *testing.T) *Store {
	t.Helper()
	s, err := testDatabase(t)()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// testDatabase makes a new test database (PostgreSQL when the run asks
// for it, else a SQLite file) and returns what opens it, again each time.
func testDatabase(t *testing.T) func() (*Store, error) {
	t.Helper()
	ctx := context.Background()
	if pgserver.TestDatabaseWanted() {
		url, err := pgserver.NewTestDatabase(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return func() (*Store, error) { return OpenPostgres(ctx, url, PostgresOptions{}) }
	}
	path := filepath.Join(t.TempDir(), "t.db")
	return func() (*Store, error) { return Open(ctx, path) }
}

// sqliteOnly skips a test of SQLite's files on a PostgreSQL run.
func sqliteOnly(t *testing.T) {
	if pgserver.TestDatabaseWanted() {
		t.Skip("a test of SQLite's database file")
	}
}

func TestMain(m *testing.M) { os.Exit(pgserver.RunTests(m)) }

func TestEmailMembershipBinding(t *testing.T) {
	ctx := context.Background()
	s := openTest(t)
	now := time.Now()
	v := Visit{ID: "v1", Reference: "FV-1", TitleSealed: []byte("x"), Provider: "Cafcass", RetentionDays: 30, NotificationDate: now, FieldworkStart: now,
		State: "active", Bucket: "b1", CreatedAt: now, CreatedBy: "system"}
	if err := s.CreateVisit(ctx, v, VisitKey{VisitID: "v1", Wrapped: []byte("w"), Fingerprint: "f", CreatedAt: now}, nil, nil); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.PutMember(ctx, Member{VisitID: "v1", Email: "lead@ofsted.example", Issuer: "https://ofsted.example", Role: "lead_inspector"}, now); err != nil {
		t.Fatal(err)
	}
	inspectorRoles := []string{"lead_inspector", "inspector", "qa_manager", "analyst"}
	providerRoles := []string{"provider_coordinator", "provider_uploader"}

	// From another issuer that may hold the role (a second inspectorate
	// provider): the invitation is for its own issuer only.
	contractor, err := s.SignIn(ctx, "https://contractor.example", "sub-c", "lead@ofsted.example", "C", inspectorRoles, now)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.MembershipOf(ctx, "v1", contractor.ID); err != ErrNotFound {
		t.Fatalf("another issuer claimed an invitation by email: %v", err)
	}

	// From an issuer not allowed for the role: no binding.
	intruder, err := s.SignIn(ctx, "https://cafcass.example", "sub-x", "lead@ofsted.example", "X", providerRoles, now)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.MembershipOf(ctx, "v1", intruder.ID); err != ErrNotFound {
		t.Fatalf("a provider issuer claimed an inspector membership: %v", err)
	}
	// First sign-in from the right issuer binds (issuer, subject).
	lead, err := s.SignIn(ctx, "https://ofsted.example", "sub-lead", "lead@ofsted.example", "Lead", inspectorRoles, now)
	if err != nil {
		t.Fatal(err)
	}
	m, err := s.MembershipOf(ctx, "v1", lead.ID)
	if err != nil || m.Subject != "sub-lead" || m.Issuer != "https://ofsted.example" {
		t.Fatalf("binding: %+v, %v", m, err)
	}
	// Another subject with the same email cannot take the binding over.
	other, err := s.SignIn(ctx, "https://ofsted.example", "sub-other", "lead@ofsted.example", "Other", inspectorRoles, now)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.MembershipOf(ctx, "v1", other.ID); err != ErrNotFound {
		t.Fatalf("binding taken over: %v", err)
	}
	// The same person signing in again is the same user.
	again, _ := s.SignIn(ctx, "https://ofsted.example", "sub-lead", "new-address@ofsted.example", "Lead", inspectorRoles, now)
	if again.ID != lead.ID {
		t.Fatal("users must be keyed by (issuer, subject), not email")
	}

	// An invitation an earlier version stored without an issuer binds to
	// nobody until it is settled on one; then only from that issuer.
	if _, err := s.DB().Exec(`INSERT INTO members (id, visit_id, role, email, created_at, updated_at) VALUES ('m-old', 'v1', 'inspector', 'hmi@ofsted.example', ?, ?)`,
		formatTime(now), formatTime(now)); err != nil {
		t.Fatal(err)
	}
	hmi, err := s.SignIn(ctx, "https://ofsted.example", "sub-hmi", "hmi@ofsted.example", "HMI", inspectorRoles, now)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.MembershipOf(ctx, "v1", hmi.ID); err != ErrNotFound {
		t.Fatalf("an invitation without an issuer was claimed: %v", err)
	}
	n, err := s.SettleInvitations(ctx, inspectorRoles, "https://ofsted.example", now, func(m Member) AuditRecord {
		return AuditRecord{Time: now, Action: "member.changed", Object: m.ID}
	})
	if err != nil || n != 1 {
		t.Fatalf("settled %d: %v", n, err)
	}
	if n, err := s.SettleInvitations(ctx, inspectorRoles, "https://contractor.example", now, func(m Member) AuditRecord {
		return AuditRecord{Time: now, Action: "member.changed", Object: m.ID}
	}); err != nil || n != 0 {
		t.Fatalf("settled again: %d, %v", n, err)
	}
	if _, err := s.SignIn(ctx, "https://ofsted.example", "sub-hmi", "hmi@ofsted.example", "HMI", inspectorRoles, now); err != nil {
		t.Fatal(err)
	}
	if m, err := s.MembershipOf(ctx, "v1", hmi.ID); err != nil || m.Issuer != "https://ofsted.example" {
		t.Fatalf("the settled invitation: %+v, %v", m, err)
	}
}

// TestSessionTouchIsBatched: an unchanged session whose idle deadline moves
// by less than a minute is not written again; a change of data or a
// deadline a minute later are. A deleted session is never written again.
// With a short idle timeout, a tenth of it takes the minute's place.
func TestSessionTouchIsBatched(t *testing.T) {
	ctx := context.Background()
	s := openTest(t)
	ss := s.Sessions(time.Now)
	expiryOf := func(token string) float64 {
		var e float64
		if err := s.DB().QueryRow(`SELECT expiry FROM sessions WHERE token = ?`, token).Scan(&e); err != nil {
			t.Fatal(err)
		}
		return e
	}
	// touch commits token's unchanged data with its deadline moved by
	// later from was (the stored deadline), and checks whether the store
	// wrote it.
	touch := func(ss *SessionStore, token string, was time.Time, later time.Duration, written bool) {
		t.Helper()
		ss.CommitCtx(ctx, token, []byte("a"), was.Add(later))
		if got := expiryOf(token) == unixFloat(was.Add(later)); got != written {
			t.Fatalf("a touch %s later (idle deadlines moved every %s): written %v, want %v", later, ss.touch, got, written)
		}
	}
	t0 := time.Now().Add(30 * time.Minute)
	if err := ss.CommitCtx(NewSession(ctx), "t", []byte("a"), t0); err != nil {
		t.Fatal(err)
	}
	touch(ss, "t", t0, 30*time.Second, false)
	touch(ss, "t", t0, 61*time.Second, true)
	ss.CommitCtx(ctx, "t", []byte("b"), t0.Add(62*time.Second))
	if b, ok, _ := ss.FindCtx(ctx, "t"); !ok || string(b) != "b" {
		t.Fatalf("changed data not written: %q", b)
	}
	ss.DeleteCtx(ctx, "t")
	if err := ss.CommitCtx(ctx, "t", []byte("b"), t0.Add(62*time.Second)); !errors.Is(err, ErrSessionEnded) {
		t.Fatalf("a commit after the deletion: %v, want ErrSessionEnded", err)
	}
	if _, ok, _ := ss.FindCtx(ctx, "t"); ok {
		t.Fatal("a session committed after its deletion was written again")
	}
	// Only a commit marked as creating a session inserts one.
	if err := ss.CommitCtx(ctx, "u", []byte("a"), t0); !errors.Is(err, ErrSessionEnded) {
		t.Fatalf("an unmarked commit of an unknown token: %v", err)
	}
	// A short idle timeout is moved a tenth of itself at a time: a minute
	// would never move a session of 30 s.
	short := s.Sessions(time.Now).Touch(30 * time.Second)
	t1 := time.Now().Add(30 * time.Second)
	if err := short.CommitCtx(NewSession(ctx), "s", []byte("a"), t1); err != nil {
		t.Fatal(err)
	}
	touch(short, "s", t1, 2*time.Second, false)
	touch(short, "s", t1, 4*time.Second, true)
	if long := s.Sessions(time.Now).Touch(8 * time.Hour); long.touch != time.Minute {
		t.Fatalf("an idle timeout of 8 h is moved %s at a time, want a minute at most", long.touch)
	}
}

// TestMigrationKeepsGrants: the migration that lets roles be granted by
// subject keeps every grant made by email, bound or not, and ends the
// sessions stored under their plain tokens.
func TestMigrationKeepsGrants(t *testing.T) {
	sqliteOnly(t)
	ctx := context.Background()
	path := t.TempDir() + "/p.db"
	all := migrations
	defer func() { migrations = all }()
	for i, m := range all {
		if strings.Contains(m, "portal_roles_v2") {
			migrations = all[:i] // the schema before it
		}
	}
	s, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	// The earlier schema's rows, as the earlier code wrote them.
	for _, q := range []string{
		`INSERT INTO users (id, issuer, subject, email, name, created_at) VALUES ('u-a', 'https://ofsted.example', 'sub-a', 'a@ofsted.example', 'A', '2026-01-01T00:00:00Z')`,
		`INSERT INTO portal_roles (id, role, issuer, email, user_id, created_at) VALUES ('r-a', 'administrator', 'https://ofsted.example', 'a@ofsted.example', 'u-a', '2026-01-01T00:00:00Z')`,
		`INSERT INTO portal_roles (id, role, issuer, email, created_at) VALUES ('r-b', 'administrator', 'https://ofsted.example', 'b@ofsted.example', '2026-01-01T00:00:00Z')`,
		`INSERT INTO sessions (token, data, expiry) VALUES ('plain-token', x'00', 9e9)`,
	} {
		if _, err := s.DB().Exec(q); err != nil {
			t.Fatal(err)
		}
	}
	bound := User{ID: "u-a"}
	s.Close()

	migrations = all
	if s, err = Open(ctx, path); err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if ok, _ := s.HasPortalRole(ctx, bound.ID, RoleAdministrator); !ok {
		t.Fatal("a bound grant was lost")
	}
	b, _ := s.SignIn(ctx, "https://ofsted.example", "sub-b", "b@ofsted.example", "B", nil, now)
	if ok, _ := s.HasPortalRole(ctx, b.ID, RoleAdministrator); !ok {
		t.Fatal("a pending grant by email no longer binds")
	}
	if n, _ := s.Sessions(time.Now).Count(ctx); n != 0 {
		t.Fatalf("%d sessions under plain tokens survived", n)
	}
}

// TestFullDiskIsReported: a database whose disk fills reports it as
// full (the web door answers 507), and what was written before stays.
func TestFullDiskIsReported(t *testing.T) {
	sqliteOnly(t)
	dir := t.TempDir()
	if err := syscall.Mount("tmpfs", dir, "tmpfs", 0, "size=2m"); err != nil {
		if os.Geteuid() != 0 {
			t.Skipf("a small disk needs a tmpfs mount, which needs root: %v", err)
		}
		t.Fatal(err)
	}
	t.Cleanup(func() { syscall.Unmount(dir, syscall.MNT_DETACH) })
	ctx := context.Background()
	s, err := Open(ctx, filepath.Join(dir, "t.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	detail := `{"reason":"` + strings.Repeat("x", 16<<10) + `"}`
	var full error
	n := 0
	for ; n < 1000 && full == nil; n++ {
		full = s.Audit(ctx, AuditRecord{Time: time.Now(), Action: "test.fill", Outcome: "success", Detail: detail})
	}
	if full == nil || !IsFull(full) {
		t.Fatalf("after %d records: %v, want the disk reported full", n, full)
	}
	recs, err := s.AuditRecords(ctx, AuditFilter{Action: "test.fill"})
	if err != nil || len(recs) != n-1 {
		t.Fatalf("records kept: %d of %d (%v)", len(recs), n-1, err)
	}
	if IsFull(errors.New("disk full")) {
		t.Error("any error taken for a full disk")
	}
}

// TestPutMemberChecksTheRowItChanges: the check a change of membership is
// made with runs on the row as the change's transaction reads it: a
// person who signed in after the request looked (binding the invitation
// to their provider's issuer) is seen, and a role their organisation may
// not hold is refused, not written.
func TestPutMemberChecksTheRowItChanges(t *testing.T) {
	ctx := context.Background()
	s := openTest(t)
	now := time.Now()
	if err := s.CreateVisit(ctx, Visit{ID: "v1", Reference: "FV-1", TitleSealed: []byte("x"), Provider: "Cafcass", RetentionDays: 30, NotificationDate: now, FieldworkStart: now,
		State: "active", Bucket: "b1", CreatedAt: now, CreatedBy: "system"}, VisitKey{VisitID: "v1", Wrapped: []byte("w"), Fingerprint: "f", CreatedAt: now}, nil, nil); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.PutMember(ctx, Member{VisitID: "v1", Email: "x@cafcass.example", Issuer: "https://cafcass.example", Role: "provider_uploader"}, now); err != nil {
		t.Fatal(err)
	}
	// The request read the invitation unbound; the person signs in.
	if _, err := s.SignIn(ctx, "https://cafcass.example", "sub-x", "x@cafcass.example", "X", []string{"provider_coordinator", "provider_uploader"}, now); err != nil {
		t.Fatal(err)
	}
	refused := errors.New("a provider's person cannot be a lead inspector")
	var seen Member
	_, _, err := s.PutMemberChecked(ctx, Member{VisitID: "v1", Email: "x@cafcass.example", Issuer: "https://ofsted.example", Role: "lead_inspector"}, now,
		func(old Member) error {
			seen = old
			if old.IsBound() {
				return refused
			}
			return nil
		})
	if !errors.Is(err, refused) || !seen.IsBound() || seen.Issuer != "https://cafcass.example" {
		t.Fatalf("the change checked %+v and answered %v; want the bound row seen and the change refused", seen, err)
	}
	ms, err := s.Members(ctx, "v1")
	if err != nil || len(ms) != 1 || ms[0].Role != "provider_uploader" || ms[0].Issuer != "https://cafcass.example" {
		t.Fatalf("the membership after the refused change: %+v %v", ms, err)
	}
}
