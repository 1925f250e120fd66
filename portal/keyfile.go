package portal

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/ofsted-portal/evidence/portal/store"
)

// WriteNewKeyFile writes a secret to a new file readable only by its owner.
// It refuses to overwrite: losing a master key loses every visit.
// The mode is set explicitly, and a folder made for it is 0700, whatever
// the umask.
func WriteNewKeyFile(path string, key []byte) error {
	if err := store.MkdirPrivate(filepath.Dir(path)); err != nil {
		return fmt.Errorf("write key: %w", err)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("write key: %w", err)
	}
	if err := f.Chmod(0o600); err != nil {
		f.Close()
		os.Remove(path)
		return fmt.Errorf("write key: %w", err)
	}
	if _, err := f.Write(key); err != nil {
		f.Close()
		os.Remove(path)
		return fmt.Errorf("write key: %w", err)
	}
	// On disk, name and all, before anything is wrapped or signed with it:
	// a master key that a power cut takes back loses every visit whose key
	// it wrapped.
	if err := syncFile(f); err != nil {
		f.Close()
		os.Remove(path)
		return fmt.Errorf("write key: %w", err)
	}
	if err := f.Close(); err != nil {
		os.Remove(path)
		return fmt.Errorf("write key: %w", err)
	}
	if err := syncPaths(filepath.Dir(path), filepath.Dir(filepath.Dir(path))); err != nil {
		os.Remove(path)
		return fmt.Errorf("write key: %w", err)
	}
	return nil
}
