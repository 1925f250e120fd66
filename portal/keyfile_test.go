package portal

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"syscall"
	"testing"
)

// TestKeyFilesPrivate: a new key file is 0600 and a folder made for it 0700,
// whatever the umask (0 would give group and others access; 0277 would
// leave the owner unable to write).
func TestKeyFilesPrivate(t *testing.T) {
	for _, mask := range []int{0, 0o277} {
		old := syscall.Umask(mask)
		dir := filepath.Join(t.TempDir(), "keys")
		err := WriteNewKeyFile(filepath.Join(dir, "master.key"), []byte("secret"))
		syscall.Umask(old)
		if err != nil {
			t.Fatal(err)
		}
		fi, _ := os.Stat(filepath.Join(dir, "master.key"))
		di, _ := os.Stat(dir)
		if fi.Mode().Perm() != 0o600 || di.Mode().Perm() != 0o700 {
			t.Errorf("umask %04o: key file %v, folder %v; want 0600 and 0700", mask, fi.Mode().Perm(), di.Mode().Perm())
		}
	}
}

// TestNewFilesAreOnDisk: a new key file, and a record put in an anchor
// folder (a checkpoint, a destruction's tombstone or certificate), are
// flushed to disk with their names before they are used or relied on: the
// file (an anchor record under its temporary name, before it is linked to
// its own), then every folder made for it, up to the folder holding the
// one it was written under.
func TestNewFilesAreOnDisk(t *testing.T) {
	root := t.TempDir()
	synced := watchSyncs(t, root, nil)
	keys := filepath.Join(root, "keys")
	if err := WriteNewKeyFile(filepath.Join(keys, "master.key"), []byte("secret")); err != nil {
		t.Fatal(err)
	}
	if want := []string{filepath.Join(keys, "master.key"), keys, root}; !slices.Equal(*synced, want) {
		t.Errorf("a new key file flushed %q, want %q in that order", *synced, want)
	}

	*synced = nil
	anchors := filepath.Join(root, "audit-anchors")
	if err := (dirAnchors{anchors}).PutRecord(context.Background(), "destructions/v1/started.json", []byte("{}")); err != nil {
		t.Fatal(err)
	}
	// The record is flushed under its temporary name (the same file,
	// linked to its own name once whole), then the folders of its name.
	want := []string{filepath.Join(anchors, "destructions", "v1"),
		filepath.Join(anchors, "destructions"), anchors, root}
	if len(*synced) == 0 || filepath.Dir((*synced)[0]) != filepath.Join(anchors, partialDir) || !slices.Equal((*synced)[1:], want) {
		t.Errorf("a record in the anchor folder flushed %q, want %q in that order", *synced, want)
	}
}
