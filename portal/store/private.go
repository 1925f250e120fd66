package store

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// The database holds wrapped keys and sessions: it, its WAL and its
// shared-memory file are readable by their owner only, and so is a folder
// made for it, whatever the umask. SQLite gives the WAL and shared-memory
// files the mode of the database file, so the file is made (or tightened)
// before SQLite opens it.

// MkdirPrivate makes dir and any missing parents with mode 0700 (set
// explicitly, so the umask cannot widen or narrow it). Folders that exist
// already are left as they are: they may be shared.
func MkdirPrivate(dir string) error {
	var missing []string
	for d := filepath.Clean(dir); ; d = filepath.Dir(d) {
		if _, err := os.Stat(d); err == nil {
			break
		} else if !errors.Is(err, fs.ErrNotExist) {
			return err
		}
		missing = append(missing, d)
		if filepath.Dir(d) == d {
			break
		}
	}
	for i := len(missing) - 1; i >= 0; i-- {
		if err := os.Mkdir(missing[i], 0o700); err != nil && !errors.Is(err, fs.ErrExist) {
			return err
		}
		if err := os.Chmod(missing[i], 0o700); err != nil {
			return err
		}
	}
	return nil
}

// preparePrivate makes the database file 0600 (and any WAL or
// shared-memory file left by an earlier run) before SQLite opens it.
func preparePrivate(path string) error {
	if err := MkdirPrivate(filepath.Dir(path)); err != nil {
		return fmt.Errorf("store: folder of %s: %w", path, err)
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return fmt.Errorf("store: %w", err)
	}
	f.Close()
	for _, p := range []string{path, path + "-wal", path + "-shm", path + "-journal"} {
		if err := os.Chmod(p, 0o600); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("store: %w", err)
		}
	}
	return nil
}
