package portal

import (
	"os"
	"path/filepath"
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
