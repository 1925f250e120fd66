package portal

import (
	"context"
	"crypto/ed25519"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
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
	ctx := context.Background()
	dir := t.TempDir()
	synced := watchSyncs(t, dir, nil)
	st, err := store.Open(ctx, filepath.Join(dir, "p.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	backup := filepath.Join(dir, "backup")
	m, err := BackupSQLite(ctx, st, backup, testSigningKey)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{filepath.Join(backup, m.File), filepath.Join(backup, BackupManifestName), backup, dir}
	if !slices.Equal(*synced, want) {
		t.Fatalf("a backup flushed %q, want %q in that order", *synced, want)
	}

	target := filepath.Join(t.TempDir(), "restored.db")
	synced = watchSyncs(t, filepath.Dir(target), func() bool { _, err := os.Stat(target); return err == nil })
	if err := RestoreSQLite(ctx, backup, m, target, "r1", store.Defaults{}, false); err != nil {
		t.Fatal(err)
	}
	if want := []string{filepath.Dir(target)}; !slices.Equal(*synced, want) {
		t.Fatalf("once the restored database was in place, the restore flushed %q, want %q", *synced, want)
	}
}

// watchSyncs records, in order, the files and folders under root (and
// root's parent) that are flushed to disk (syncFile) while when holds
// (nil: always), until the test ends.
func watchSyncs(t *testing.T, root string, when func() bool) *[]string {
	var mu sync.Mutex
	synced := &[]string{}
	syncFile = func(f *os.File) error {
		name := f.Name()
		if (name == filepath.Dir(root) || name == root || strings.HasPrefix(name, root+string(filepath.Separator))) && (when == nil || when()) {
			mu.Lock()
			*synced = append(*synced, name)
			mu.Unlock()
		}
		return f.Sync()
	}
	t.Cleanup(func() { syncFile = (*os.File).Sync })
	return synced
}

// testSigningKey signs the backups of this package's tests.
var testSigningKey = ed25519.NewKeyFromSeed([]byte("portal-tests-backup-signing-key!"))
