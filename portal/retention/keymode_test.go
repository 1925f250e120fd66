//go:build unix

package retention

import (
	"os"
	"path/filepath"
	"testing"
)

// TestSigningKeyFileMode: the signing key is held to the master key's
// rule (crypto.OpenKeyFile, whose cases crypto's TestMasterKeyFileMode
// runs). One readable by others is refused: with it anyone could forge
// destruction certificates, receipts and the audit trail's checkpoints.
func TestSigningKeyFileMode(t *testing.T) {
	key, err := GenerateSigningKey()
	if err != nil {
		t.Fatal(err)
	}
	for mode, ok := range map[os.FileMode]bool{0o600: true, 0o604: false, 0o666: false} {
		path := filepath.Join(t.TempDir(), "signing.key")
		if err := os.WriteFile(path, key, 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(path, mode); err != nil {
			t.Fatal(err)
		}
		if _, err := LoadSigningKey(path); (err == nil) != ok {
			t.Errorf("mode %v: err = %v, want ok %v", mode, err, ok)
		}
	}
}
