package portal

import (
	"fmt"
	"os"
)

// WriteNewKeyFile writes a secret to a new file readable only by its owner.
// It refuses to overwrite: losing a master key loses every visit.
func WriteNewKeyFile(path string, key []byte) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("write key: %w", err)
	}
	if _, err := f.Write(key); err != nil {
		f.Close()
		os.Remove(path)
		return fmt.Errorf("write key: %w", err)
	}
	return f.Close()
}
