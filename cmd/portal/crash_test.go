package main

import (
	"context"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ofsted-portal/evidence/deploy/devstack"
	"github.com/ofsted-portal/evidence/deploy/pgserver"
	"github.com/ofsted-portal/evidence/policy"
	"github.com/ofsted-portal/evidence/portal"
	"github.com/ofsted-portal/evidence/portal/retention"
	"github.com/ofsted-portal/evidence/portal/store"
)

// TestMain runs this test binary as the portal command when asked to (a
// child process a test kills part-way).
func TestMain(m *testing.M) {
	if args := os.Getenv("PORTAL_TEST_COMMAND"); args != "" {
		if step := os.Getenv("PORTAL_TEST_KILL_AFTER"); step != "" {
			domainOptions = append(domainOptions, portal.WithRetentionHook(func(s string) error {
				if s == step {
					syscall.Kill(os.Getpid(), syscall.SIGKILL) // as a crash or an operator's kill -9
				}
				return nil
			}))
		}
		if err := run(context.Background(), strings.Fields(args)); err != nil {
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(pgserver.RunTests(m))
}

// dropAuditTriggers are the statements that remove the trail's append-only
// triggers, as an attacker with the database would.
func dropAuditTriggers(s *store.Store) []string {
	if s.Postgres() {
		return []string{`DROP TRIGGER IF EXISTS audit_no_update ON audit`, `DROP TRIGGER IF EXISTS audit_no_delete ON audit`}
	}
	return []string{`DROP TRIGGER IF EXISTS audit_no_update`, `DROP TRIGGER IF EXISTS audit_no_delete`}
}

// testDatabase makes an empty database for a command's test and points
// the environment at it: SQLite in a temporary folder, or a PostgreSQL
// database on the PostgreSQL run. open opens it.
func testDatabase(t *testing.T) (open func() *store.Store) {
	t.Helper()
	ctx := context.Background()
	if pgserver.TestDatabaseWanted() {
		url, err := pgserver.NewTestDatabase(ctx)
		if err != nil {
			t.Fatal(err)
		}
		t.Setenv("PORTAL_DATABASE_URL", url)
		return func() *store.Store {
			s, err := store.OpenPostgres(ctx, url, store.PostgresOptions{})
			if err != nil {
				t.Fatal(err)
			}
			return s
		}
	}
	db := filepath.Join(t.TempDir(), "p.db")
	t.Setenv("PORTAL_DB_PATH", db)
	return func() *store.Store {
		s, err := store.Open(ctx, db)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
}

// domainStack starts MinIO and the domain (no HTTP door, no background
// work) in a temporary folder, or skips when MinIO is not installed and the
// run does not require integration tests.
func domainStack(t *testing.T) *devstack.Stack {
	t.Helper()
	return domainStackWith(t, nil)
}

// domainStackWith is domainStack with options setup changes.
func domainStackWith(t *testing.T, setup func(*devstack.Options)) *devstack.Stack {
	t.Helper()
	bin, err := devstack.FindMinIO()
	if err != nil {
		if os.Getenv("PORTAL_REQUIRE_INTEGRATION") != "" {
			t.Fatal(err)
		}
		t.Skip(err)
	}
	o := devstack.Options{Dir: t.TempDir(), MinIOBinary: bin, DomainOnly: true, Logger: portal.NewLogger(io.Discard, "error")}
	if setup != nil {
		setup(&o)
	}
	st, err := devstack.Start(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(st.Close)
	return st
}

// oldVisit creates a visit published long ago, due for destruction.
func oldVisit(t *testing.T, svc *portal.Service, st *devstack.Stack, ref string) string {
	t.Helper()
	ctx := context.Background()
	admin, err := svc.SignIn(ctx, portal.Actor{}, portal.Identity{IdP: "ofsted", Issuer: st.Config.IdPs[1].Issuer, Subject: "a", Email: "admin@ofsted.example"})
	if err != nil {
		t.Fatal(err)
	}
	cal := svc.Calendar()
	notified := cal.AddWorkingDays(svc.Today(), -80)
	v, err := svc.CreateVisit(ctx, admin, portal.NewVisit{Reference: ref, Title: "Old", Provider: "Cafcass",
		NotificationDate: notified.Format(time.DateOnly), FieldworkStart: cal.AddWorkingDays(notified, 5).Format(time.DateOnly)})
	if err != nil {
		t.Fatal(err)
	}
	acc, err := svc.Authorize(ctx, admin, policy.VisitRecordEvent, v.ID, "")
	if err != nil {
		t.Fatal(err)
	}
	// Published on the working day after Cafcass's 5 working days to
	// complain about the final letter.
	for i, ev := range []string{"draft_sent", "final_sent", "published"} {
		if _, err := acc.RecordEvent(ctx, ev, cal.AddWorkingDays(notified, 10+[]int{0, 1, 7}[i]).Format(time.DateOnly)); err != nil {
			t.Fatal(err)
		}
	}
	return v.ID
}

// TestKilledSweepDoesNotBlockTheNext: portal retention run killed at each
// step of a destruction leaves its lease for no longer than its short
// lifetime; meanwhile a second run says who holds it and until when and
// fails; then the next run finishes the destruction, with one certificate.
func TestKilledSweepDoesNotBlockTheNext(t *testing.T) {
	ctx := context.Background()
	st := domainStack(t)
	steps := []string{"destroying", "key_deleted", "key_destroyed", "objects_deleted"}
	ids := map[string]string{}
	st.Portal.Close()
	env := []string{"PORTAL_DESTRUCTION_NOTICE=0d", "PORTAL_RETENTION_LEASE=2s"}
	for k, v := range st.Env {
		env = append(env, k+"="+v)
	}
	for _, e := range env {
		k, v, _ := strings.Cut(e, "=")
		t.Setenv(k, v)
	}
	for _, step := range steps {
		svc, err := portal.New(ctx, st.Config, portal.WithLogger(portal.NewLogger(io.Discard, "error")))
		if err != nil {
			t.Fatal(err)
		}
		ids[step] = oldVisit(t, svc, st, "FV-KILL-"+strings.ReplaceAll(step, "_", "-"))
		svc.Close()
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), "PORTAL_TEST_COMMAND=retention run", "PORTAL_TEST_KILL_AFTER="+step)
		err = cmd.Run()
		var exit *exec.ExitError
		if !errors.As(err, &exit) || exit.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
			t.Fatalf("killed after %s: %v", step, err)
		}
		// The lease is still held by the dead process: a second run says so.
		err = retentionRun(ctx, nil)
		var held *retention.LeaseHeldError
		if !errors.As(err, &held) || held.Holder == "" || held.Until.IsZero() {
			t.Fatalf("after a kill at %s, a second run: %v, want the lease holder and its end", step, err)
		}
		time.Sleep(time.Until(held.Until) + 100*time.Millisecond)
		if err := retentionRun(ctx, nil); err != nil {
			t.Fatalf("after the lease ran out (killed at %s): %v", step, err)
		}
	}
	db, err := portal.OpenDatabase(ctx, st.Config)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for step, id := range ids {
		v, err := db.Visit(ctx, id)
		d, derr := db.GetDestruction(ctx, id)
		if err != nil || derr != nil || v.State != "destroyed" || d.Certificate == nil {
			t.Errorf("killed at %s: state %s, certificate %v (%v %v)", step, v.State, d.Certificate != nil, err, derr)
		}
		recs, _ := db.AuditRecords(ctx, store.AuditFilter{VisitID: id, Action: "destruction.certificate_issued"})
		if len(recs) != 1 {
			t.Errorf("killed at %s: %d certificates issued", step, len(recs))
		}
		if ok, _ := st.Portal.Blobs().BucketExists(ctx, v.Bucket); ok {
			t.Errorf("killed at %s: bucket left", step)
		}
	}
}
