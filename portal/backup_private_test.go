package portal_test

import (
	"context"
	"crypto/ed25519"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/ofsted-portal/evidence/deploy/pgserver"
	"github.com/ofsted-portal/evidence/portal"
	"github.com/ofsted-portal/evidence/portal/store"
)

// TestBackupIsPrivate: a backup holds every wrapped visit key, every
// member's email and the whole audit trail, so the copy and the manifest
// are readable by their owner only, and so is the folder holding them:
// an operator's existing empty folder that others may enter is tightened
// to 0700. On SQLite, or on PostgreSQL (pg_dump) when the run asks for it.
func TestBackupIsPrivate(t *testing.T) {
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "backups")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	var m portal.Manifest
	if pgserver.TestDatabaseWanted() {
		url, err := pgserver.NewTestDatabase(ctx)
		if err != nil {
			t.Fatal(err)
		}
		st, err := store.OpenPostgres(ctx, url, store.PostgresOptions{})
		if err != nil {
			t.Fatal(err)
		}
		defer st.Close()
		audit(t, st)
		bin, err := portal.PostgresTools(os.Getenv)
		if err != nil {
			t.Fatal(err)
		}
		if m, err = portal.BackupPostgres(ctx, st, url, bin, dir, ed25519.NewKeyFromSeed([]byte("portal-tests-backup-signing-key!"))); err != nil {
			t.Fatal(err)
		}
	} else {
		st, err := store.Open(ctx, filepath.Join(t.TempDir(), "p.db"))
		if err != nil {
			t.Fatal(err)
		}
		defer st.Close()
		audit(t, st)
		if m, err = portal.BackupSQLite(ctx, st, dir, ed25519.NewKeyFromSeed([]byte("portal-tests-backup-signing-key!"))); err != nil {
			t.Fatal(err)
		}
	}
	for _, p := range []string{dir, filepath.Join(dir, m.File), filepath.Join(dir, portal.BackupManifestName)} {
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm()&0o077 != 0 {
			t.Errorf("%s is %v: a backup must be its owner's only", p, fi.Mode())
		}
	}
}

func audit(t *testing.T, st *store.Store) {
	t.Helper()
	if err := st.Audit(context.Background(), store.AuditRecord{Time: time.Now(), ActorSubject: "portal", Action: "test.act", Outcome: "success"}); err != nil {
		t.Fatal(err)
	}
}
