package portal_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ofsted-portal/evidence/portal"
	"github.com/ofsted-portal/evidence/portal/store"
)

// TestBackupManifest: a SQLite backup is the database at one moment with
// its manifest and without sessions; a copy that no longer matches its
// manifest is refused, and so is a backup into a folder already in use.
func TestBackupManifest(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	st, err := store.Open(ctx, filepath.Join(dir, "p.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if err := st.Audit(ctx, store.AuditRecord{Time: time.Now(), ActorSubject: "portal", Action: "test.act", Outcome: "success"}); err != nil {
		t.Fatal(err)
	}
	if err := st.Sessions(time.Now).CommitCtx(store.NewSession(ctx), "tok", []byte("x"), time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	backup := filepath.Join(dir, "backup")
	m, err := portal.BackupSQLite(ctx, st, backup)
	if err != nil {
		t.Fatal(err)
	}
	read, err := portal.ReadManifest(backup)
	if err != nil || read.SHA256 != m.SHA256 || read.AuditSeq != 1 || read.Database != "sqlite" || read.SchemaVersion == 0 {
		t.Fatalf("manifest %+v: %v", read, err)
	}
	cp, err := store.Open(ctx, filepath.Join(backup, m.File))
	if err != nil {
		t.Fatal(err)
	}
	n, err := cp.Sessions(time.Now).Count(ctx)
	cp.Close()
	if err != nil || n != 0 {
		t.Fatalf("%d sessions in the backup (%v)", n, err)
	}
	if _, err := portal.ReadManifest(backup); err != nil {
		t.Fatalf("opening the copy changed it: %v", err)
	}
	if _, err := portal.BackupSQLite(ctx, st, backup); err == nil || !strings.Contains(err.Error(), "not empty") {
		t.Fatalf("a backup into a used folder: %v", err)
	}
	f, err := os.OpenFile(filepath.Join(backup, m.File), os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.Write([]byte{0})
	f.Close()
	if _, err := portal.ReadManifest(backup); err == nil || !strings.Contains(err.Error(), "does not match its manifest") {
		t.Fatalf("a damaged copy: %v", err)
	}
}

// TestGoldenBackupManifest: a manifest of format 1, as an earlier build
// wrote it, is read by every later one (a backup outlives releases).
func TestGoldenBackupManifest(t *testing.T) {
	m, err := portal.ReadManifest("testdata/backup-v1")
	if err != nil {
		t.Fatal(err)
	}
	if m.Format != 1 || m.Database != "sqlite" || m.File != "portal.db" || m.AuditSeq != 412 || m.SchemaVersion != 11 ||
		m.LastCheckpoint == nil || m.LastCheckpoint.Seq != 400 || !m.CreatedAt.Equal(time.Date(2026, 11, 30, 2, 0, 0, 0, time.UTC)) {
		t.Fatalf("manifest-v1 reads as %+v", m)
	}
}
