package portal

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/ofsted-portal/evidence/portal/store"
)

// TestBackupIsOnDiskWhenDone: a backup reported done has flushed its copy,
// then its manifest, then the folder holding them (and that folder's
// name in its parent) to disk, so a power cut right after `portal backup`
// cannot leave a backup that is gone or fails its manifest. A restore
// flushes the database's folder after its rename, so a power cut cannot
// bring back the database it replaced.
func TestBackupIsOnDiskWhenDone(t *testing.T) {
	var synced []string
	syncFile = func(f *os.File) error {
		synced = append(synced, f.Name())
		return f.Sync()
	}
	t.Cleanup(func() { syncFile = (*os.File).Sync })
	ctx := context.Background()
	dir := t.TempDir()
	st, err := store.Open(ctx, filepath.Join(dir, "p.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	backup := filepath.Join(dir, "backup")
	m, err := BackupSQLite(ctx, st, backup)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{filepath.Join(backup, m.File), filepath.Join(backup, BackupManifestName), backup, dir}
	if !slices.Equal(synced, want) {
		t.Fatalf("a backup flushed %q, want %q in that order", synced, want)
	}

	synced = nil
	target := filepath.Join(t.TempDir(), "restored.db")
	syncFile = func(f *os.File) error {
		if _, err := os.Stat(target); err == nil {
			synced = append(synced, f.Name())
		}
		return f.Sync()
	}
	if err := RestoreSQLite(ctx, backup, m, target, false); err != nil {
		t.Fatal(err)
	}
	if want := []string{filepath.Dir(target)}; !slices.Equal(synced, want) {
		t.Fatalf("once the restored database was in place, the restore flushed %q, want %q", synced, want)
	}
}
