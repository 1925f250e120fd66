package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ofsted-portal/evidence/deploy/pgserver"
	"github.com/ofsted-portal/evidence/portal"
	"github.com/ofsted-portal/evidence/portal/store"
)

// forgeBackup does what someone who can write to the backups, but not to
// the anchor store and without the signing key, can do: it rewrites the
// last record of the backup's trail (after its last checkpoint), chains
// it again, and fixes the manifest's head and digests to match.
func forgeBackup(t *testing.T, dir string) {
	t.Helper()
	ctx := context.Background()
	s, err := store.Open(ctx, filepath.Join(dir, "portal.db"))
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range dropAuditTriggers(s) {
		if _, err := s.DB().Exec(q); err != nil {
			t.Fatal(err)
		}
	}
	head, _, err := s.AuditHead(ctx)
	if err != nil {
		t.Fatal(err)
	}
	recs, err := s.AuditRecords(ctx, store.AuditFilter{AfterSeq: head - 1})
	if err != nil || len(recs) != 1 {
		t.Fatalf("the last record: %v %v", recs, err)
	}
	r := recs[0]
	r.ActorEmail = "nobody@cafcass.example"
	r.Hash = store.ChainHash(r)
	if _, err := s.DB().Exec(`UPDATE audit SET actor_email = ?, hash = ? WHERE seq = ?`, r.ActorEmail, r.Hash, r.Seq); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	rewriteManifest(t, dir, func(m map[string]any) {
		m["audit_hash"] = r.Hash
		m["sha256"], m["size"] = digest(t, dir)
	})
}

// digest is the SHA-256 and size of the SQLite copy in the backup dir.
func digest(t *testing.T, dir string) (string, int) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, "portal.db"))
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:]), len(b)
}

// addIntruder makes someone an administrator in the SQLite copy of the
// backup in dir, leaving its trail as it was.
func addIntruder(t *testing.T, dir string) {
	t.Helper()
	cp, err := store.Open(context.Background(), filepath.Join(dir, "portal.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer cp.Close()
	if err := cp.GrantPortalRole(context.Background(), "administrator", "https://idp.example", "intruder@example.org", time.Now()); err != nil {
		t.Fatal(err)
	}
}

func rewriteManifest(t *testing.T, dir string, change func(map[string]any)) {
	t.Helper()
	name := filepath.Join(dir, portal.BackupManifestName)
	b, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	change(m)
	if b, err = json.Marshal(m); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(name, b, 0o600); err != nil {
		t.Fatal(err)
	}
}

// TestRestoreRefusesAForgedBackup: a backup whose trail was rewritten
// after its last checkpoint, its chain and manifest made to match, is
// refused by portal restore (which would otherwise sign the forged tail
// with its restore mark), before anything changes. Stripped of its
// signature, it is refused unless the operator accepts an unsigned
// backup, and that choice is in the trail.
func TestRestoreRefusesAForgedBackup(t *testing.T) {
	if pgserver.TestDatabaseWanted() {
		t.Skip("the forgery edits an SQLite copy; the manifest's check does not depend on the database")
	}
	ctx := context.Background()
	st, svc := trailOf250(t)
	svc.Stop()
	for k, v := range st.Env {
		t.Setenv(k, v)
	}
	// A backup whose whole trail is anchored (a quiet night's).
	if err := svc.Checkpoint(ctx, true); err != nil {
		t.Fatal(err)
	}
	quiet := filepath.Join(t.TempDir(), "quiet")
	if err := backupCmd(ctx, []string{quiet}, &bytes.Buffer{}); err != nil {
		t.Fatal(err)
	}
	// A tail no checkpoint covers: the background work has stopped.
	for range 5 {
		if err := svc.Store().Audit(ctx, store.AuditRecord{Time: time.Now(), ActorSubject: "portal", ActorEmail: "coordinator@cafcass.example", Action: "test.act", Outcome: "success"}); err != nil {
			t.Fatal(err)
		}
	}
	svc.Close()
	dir := filepath.Join(t.TempDir(), "backup")
	if err := backupCmd(ctx, []string{dir}, &bytes.Buffer{}); err != nil {
		t.Fatal(err)
	}
	// The trail as the forged backup's restore finds it (the backup is
	// recorded in it).
	live, err := portal.OpenDatabase(ctx, st.Config)
	if err != nil {
		t.Fatal(err)
	}
	head, hash, err := live.AuditHead(ctx)
	live.Close()
	if err != nil {
		t.Fatal(err)
	}
	forgeBackup(t, dir)

	var out bytes.Buffer
	err = restoreCmd(ctx, []string{"--force", dir}, &out)
	if err == nil || !strings.Contains(err.Error(), "signature") {
		t.Fatalf("portal restore of a forged backup: %v, want a refusal naming the manifest's signature\n%s", err, out.String())
	}
	t.Logf("refused: %v", err)
	unchanged := func(when string) {
		t.Helper()
		s, err := portal.OpenDatabase(ctx, st.Config)
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		if h, x, err := s.AuditHead(ctx); err != nil || h != head || x != hash {
			t.Fatalf("%s: the database's trail is at %d %s (%v), want %d %s: the refusal came after a change", when, h, x, err, head, hash)
		}
		if _, err := s.PendingRestore(ctx); err == nil {
			t.Fatalf("%s: a restore is pending", when)
		}
	}
	unchanged("after the forged backup was refused")

	// The quiet backup, an administrator added in its copy, its digests
	// fixed and its signature taken away: the anchors vouch for its
	// trail, not for the rest of the copy.
	addIntruder(t, quiet)
	rewriteManifest(t, quiet, func(m map[string]any) {
		delete(m, "signature")
		delete(m, "signing_key")
		m["sha256"], m["size"] = digest(t, quiet)
	})
	out.Reset()
	err = restoreCmd(ctx, []string{"--force", quiet}, &out)
	if err == nil || !strings.Contains(err.Error(), "--accept-unsigned") {
		t.Fatalf("portal restore of a signed backup changed and stripped of its signature, its trail anchored: %v, want a refusal naming --accept-unsigned\n%s", err, out.String())
	}
	unchanged("after the stripped backup was refused")

	// Without its signature, as a backup from before backups were signed.
	rewriteManifest(t, dir, func(m map[string]any) { delete(m, "signature"); delete(m, "signing_key") })
	out.Reset()
	err = restoreCmd(ctx, []string{"--force", dir}, &out)
	if err == nil || !strings.Contains(err.Error(), "--accept-unsigned") {
		t.Fatalf("portal restore of an unsigned backup with an unanchored tail: %v, want a refusal naming --accept-unsigned\n%s", err, out.String())
	}
	unchanged("after the unsigned backup was refused")
	out.Reset()
	if err := restoreCmd(ctx, []string{"--force", "--accept-unsigned", dir}, &out); err != nil {
		t.Fatalf("portal restore --accept-unsigned: %v\n%s", err, out.String())
	}
	if !strings.Contains(out.String(), "not signed") {
		t.Errorf("the restore does not say the backup was not signed:\n%s", out.String())
	}
	s, err := portal.OpenDatabase(ctx, st.Config)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	recs, err := s.AuditRecords(ctx, store.AuditFilter{Action: "restore.finished"})
	if err != nil || len(recs) != 1 || !strings.Contains(recs[0].Detail, `"backup_signed":false`) {
		t.Fatalf("restore.finished: %+v %v, want the unsigned backup recorded", recs, err)
	}
}

// TestRestoreUsesTheCopyItChecked: the copy is checked against the signed
// manifest, and then, after the restore's intent is written, read again
// to be put in place. One swapped in between (the same trail, an
// administrator added) is refused: what is put in place is what was
// checked. Before, the second read took whatever the folder held then.
func TestRestoreUsesTheCopyItChecked(t *testing.T) {
	if pgserver.TestDatabaseWanted() {
		t.Skip("the swap edits an SQLite copy; the dump is checked as it is read the same way")
	}
	ctx := context.Background()
	stoppedTrailOf250(t)
	dir := filepath.Join(t.TempDir(), "backup")
	if err := backupCmd(ctx, []string{dir}, &bytes.Buffer{}); err != nil {
		t.Fatal(err)
	}
	m, err := portal.ReadManifest(dir)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := portal.LoadConfig(os.Getenv)
	if err != nil {
		t.Fatal(err)
	}
	// Checked: now swapped.
	addIntruder(t, dir)
	wipe(t, cfg)
	if _, err := putInPlace(ctx, cfg, dir, m, store.NewID(), nil, false, false); err == nil || !strings.Contains(err.Error(), "changed after it was checked") {
		t.Fatalf("a copy swapped after it was checked was put in place: %v", err)
	}
	s, err := portal.OpenDatabase(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := s.PendingRestore(ctx); err == nil {
		t.Fatal("a restore of the swapped copy is pending")
	}
}
