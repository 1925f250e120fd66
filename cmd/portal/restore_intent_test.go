package main

import (
	"bytes"
	"context"
	"errors"
	"io"
	"strconv"
	"strings"
	"testing"

	"github.com/ofsted-portal/evidence/portal"
)

// TestRestoreMarkNeedsItsIntentOutsideTheDatabase: someone who can only
// write to the database cuts the trail's anchored tail and adds a pending
// restore. Serve must not sign a restore for them: it refuses to start,
// naming the way out, and audit verify still reports the cut. A genuine
// restore's intent is not reused for a row put back by hand, and portal
// restore --resume takes in such a row only when the operator names it.
func TestRestoreMarkNeedsItsIntentOutsideTheDatabase(t *testing.T) {
	ctx := context.Background()
	st := stoppedTrailOf250(t)
	if err := auditVerify(ctx, nil); err != nil {
		t.Fatalf("intact trail: %v", err)
	}
	tamper := func(queries ...string) {
		t.Helper()
		s, err := portal.OpenDatabase(ctx, st.Config)
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		for _, q := range append(dropAuditTriggers(s), queries...) {
			if _, err := s.DB().Exec(q); err != nil {
				t.Fatal(err)
			}
		}
	}
	cutAt := func(seq int) []string {
		return []string{
			`DELETE FROM audit WHERE seq > ` + strconv.Itoa(seq), `DELETE FROM audit_checkpoints WHERE seq > ` + strconv.Itoa(seq), `DELETE FROM restores`,
		}
	}
	serveCheck := func() (portal.RestoreReport, error) {
		t.Helper()
		p, err := portal.New(ctx, st.Config)
		if err != nil {
			t.Fatal(err)
		}
		defer p.Close()
		return p.CheckRestored(ctx)
	}
	stillBroken := func(when string) {
		t.Helper()
		var out bytes.Buffer
		if err := auditVerifyTo(ctx, nil, &out); err == nil || !strings.Contains(err.Error(), "BROKEN") {
			t.Errorf("audit verify %s: %v\n%s", when, err, out.String())
		}
	}

	tamper(append(cutAt(20), `INSERT INTO restores (id, backup_created_at, backup_seq, backup_hash, started_at)
		VALUES ('by-hand', '2020-01-01T00:00:00.000000000Z', 20, '', '2020-01-01T00:00:00.000000000Z')`)...)
	rep, err := serveCheck()
	if !errors.Is(err, portal.ErrNoRestoreIntent) || rep.MarkSeq != 0 {
		t.Fatalf("serve's check of a restore written into the database alone: %+v %v, want a refusal (%v)", rep, err, portal.ErrNoRestoreIntent)
	}
	if !strings.Contains(err.Error(), "portal restore --resume --confirm by-hand") {
		t.Errorf("the refusal does not name the way out: %v", err)
	}
	t.Logf("serve refused: %v", err)
	stillBroken("after serve refused the restore")
	var out bytes.Buffer
	if err := restoreCmd(ctx, []string{"--resume"}, &out); !errors.Is(err, portal.ErrNoRestoreIntent) {
		t.Fatalf("portal restore --resume of that restore, unconfirmed: %v\n%s", err, out.String())
	}
	stillBroken("after an unconfirmed --resume")

	// A genuine restore (the operator's, confirmed), then the same row
	// put back by hand over a trail cut again: its intent is spent.
	if err := restoreCmd(ctx, []string{"--resume", "--confirm", "by-hand"}, &out); err != nil {
		t.Fatalf("portal restore --resume --confirm: %v\n%s", err, out.String())
	}
	out.Reset()
	if err := auditVerifyTo(ctx, nil, &out); err != nil || !strings.Contains(out.String(), "restored at record 20;") {
		t.Fatalf("audit verify after the confirmed restore: %v\n%s", err, out.String())
	}
	// A row naming that restore's genuine mark as its own, over the trail
	// cut just after the mark: the mark verifies, but the records anchored
	// after it are gone.
	var mark int
	func() {
		s, err := portal.OpenDatabase(ctx, st.Config)
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		if err := s.DB().QueryRow(`SELECT MAX(seq) FROM audit WHERE action = 'audit.restored'`).Scan(&mark); err != nil {
			t.Fatal(err)
		}
	}()
	tamper(append(cutAt(mark), `INSERT INTO restores (id, backup_created_at, backup_seq, backup_hash, started_at, mark_seq)
		VALUES ('by-hand-3', '2020-01-01T00:00:00.000000000Z', 20, '', '2020-01-01T00:00:00.000000000Z', `+strconv.Itoa(mark)+`)`)...)
	if rep, err := serveCheck(); !errors.Is(err, portal.ErrNoRestoreIntent) {
		t.Fatalf("serve's check of a restore row claiming an earlier restore's mark (record %d) over a trail cut after it: %+v %v, want %v", mark, rep, err, portal.ErrNoRestoreIntent)
	}
	stillBroken("after a restore row claiming an earlier restore's mark")
	tamper(append(cutAt(20), `INSERT INTO restores (id, backup_created_at, backup_seq, backup_hash, started_at)
		VALUES ('by-hand', '2020-01-01T00:00:00.000000000Z', 20, '', '2020-01-01T00:00:00.000000000Z')`)...)
	if _, err := serveCheck(); !errors.Is(err, portal.ErrNoRestoreIntent) {
		t.Fatalf("serve's check of a spent restore put back: %v, want %v", err, portal.ErrNoRestoreIntent)
	}
	stillBroken("after a spent restore was put back")

	// The row put back claiming its mark written already (mark_seq), on a
	// record that is no restore's mark. Before, the pending restore was
	// finished without a look at it, a checkpoint signed and anchored over
	// the cut trail, and the portal served.
	for _, mark := range []string{"20"} {
		tamper(append(cutAt(30), `INSERT INTO restores (id, backup_created_at, backup_seq, backup_hash, started_at, mark_seq)
			VALUES ('by-hand-2', '2020-01-01T00:00:00.000000000Z', 20, '', '2020-01-01T00:00:00.000000000Z', `+mark+`)`)...)
		if rep, err := serveCheck(); !errors.Is(err, portal.ErrNoRestoreIntent) {
			t.Fatalf("serve's check of a restore row claiming its mark at record %s over a cut trail: %+v %v, want %v", mark, rep, err, portal.ErrNoRestoreIntent)
		}
		stillBroken("after a restore row claiming its mark at record " + mark)
	}
}

// TestOperatorCommandsWaitForAPendingRestore: while a restore of the
// database is not finished, an operator's command that would write to it
// (admin grant, disable, retention run...) refuses, naming the restore:
// its records would follow the restored trail before the restore's mark,
// where the anchors outside the database hold others, and the restore
// could not then be finished.
func TestOperatorCommandsWaitForAPendingRestore(t *testing.T) {
	ctx := context.Background()
	st := stoppedTrailOf250(t)
	s, err := portal.OpenDatabase(ctx, st.Config)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.DB().Exec(`INSERT INTO restores (id, backup_created_at, backup_seq, backup_hash, started_at)
		VALUES ('pending-one', '2026-12-01T00:00:00.000000000Z', 250, '', '2026-12-05T00:00:00.000000000Z')`); err != nil {
		t.Fatal(err)
	}
	head, _, err := s.AuditHead(ctx)
	s.Close()
	if err != nil {
		t.Fatal(err)
	}
	iss := st.Config.IdPs[0].Issuer
	for name, run := range map[string]func() error{
		"admin grant": func() error { return adminGrant(ctx, []string{"--issuer", iss, "--email", "new.admin@ofsted.example"}) },
		"admin disable": func() error {
			return adminDisable(ctx, "disable", []string{"--issuer", iss, "--email", "lead@ofsted.example"}, io.Discard)
		},
		"retention run": func() error { return retentionRun(ctx, nil) },
		"admin member": func() error {
			return adminMember(ctx, []string{"--visit", portal.DemoReference, "--email", "new.hmi@ofsted.example", "--role", "inspector"})
		},
		"evidence verify": func() error { return evidenceVerify(ctx, nil) },
	} {
		if err := run(); err == nil || !strings.Contains(err.Error(), "pending-one") {
			t.Errorf("portal %s with a restore pending: %v, want a refusal naming the restore", name, err)
		}
	}
	s, err = portal.OpenDatabase(ctx, st.Config)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if now, _, err := s.AuditHead(ctx); err != nil || now != head {
		t.Fatalf("the trail went from %d to %d (%v) while the restore was pending", head, now, err)
	}
}

// TestTakingInNeedsTheOperatorsWord: someone who can only write to the
// database cuts the trail's anchored tail, and adds no restore. Serve
// refuses, and says to take the database in only if the operator
// restored it; portal restore --resume alone refuses too, and the cut
// stays reported. Before, --resume alone took the cut trail in and signed
// it as a restore: audit verify then passed it. Taken in with the
// operator's word, audit verify says no backup vouched for it.
func TestTakingInNeedsTheOperatorsWord(t *testing.T) {
	ctx := context.Background()
	st := stoppedTrailOf250(t)
	func() {
		s, err := portal.OpenDatabase(ctx, st.Config)
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		for _, q := range append(dropAuditTriggers(s), `DELETE FROM audit WHERE seq > 20`, `DELETE FROM audit_checkpoints WHERE seq > 20`) {
			if _, err := s.DB().Exec(q); err != nil {
				t.Fatal(err)
			}
		}
	}()
	p, err := portal.New(ctx, st.Config)
	if err != nil {
		t.Fatal(err)
	}
	_, err = p.CheckRestored(ctx)
	p.Close()
	if !errors.Is(err, portal.ErrBehindAnchors) || !strings.Contains(err.Error(), "portal restore --resume --confirm taken-in") || !strings.Contains(err.Error(), "break") {
		t.Errorf("serve's check of a trail cut in the database: %v, want a refusal naming --confirm taken-in for a restore the operator made, and a break otherwise", err)
	}
	stillBroken := func(when string) {
		t.Helper()
		var out bytes.Buffer
		if err := auditVerifyTo(ctx, nil, &out); err == nil || !strings.Contains(err.Error(), "BROKEN") {
			t.Errorf("audit verify %s: %v\n%s", when, err, out.String())
		}
	}
	stillBroken("after serve refused")
	var out bytes.Buffer
	if err := restoreCmd(ctx, []string{"--resume"}, &out); err == nil || !strings.Contains(err.Error(), "--confirm taken-in") {
		t.Errorf("portal restore --resume of a database no restore is pending for, unconfirmed: %v, want it refused naming --confirm taken-in\n%s", err, out.String())
	}
	stillBroken("after an unconfirmed --resume")
	out.Reset()
	if err := restoreCmd(ctx, []string{"--resume", "--confirm", "taken-in"}, &out); err != nil {
		t.Fatalf("portal restore --resume --confirm taken-in: %v\n%s", err, out.String())
	}
	out.Reset()
	if err := auditVerifyTo(ctx, nil, &out); err != nil || !strings.Contains(out.String(), "restored at record 20;") || !strings.Contains(out.String(), "taken in") {
		t.Errorf("audit verify after the database was taken in: %v, want it to say so\n%s", err, out.String())
	}
}
