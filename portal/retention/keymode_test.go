//go:build unix

package retention

import (
	"os"
	"path/filepath"
	"testing"
)

// TestSigningKeyFileMode: the signing key is held to the master key's
// rule. One readable by others, or writable by its group, is refused: with
// it anyone could forge destruction certificates, receipts and the audit
// trail's checkpoints. Readable by its group only when that group is the
// process's own (a Kubernetes secret mounted for the pod's fsGroup).
func TestSigningKeyFileMode(t *testing.T) {
	key, err := GenerateSigningKey()
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name  string
		mode  os.FileMode
		group int // -1: the process's own
		ok    bool
	}{
		{"owner only", 0o600, -1, true},
		{"owner read-only", 0o400, -1, true},
		{"own group reads", 0o440, -1, true},
		{"others read", 0o604, -1, false},
		{"others write", 0o666, -1, false},
		{"own group writes", 0o460, -1, false},
		{"another group reads", 0o440, os.Getegid() + 1, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "signing.key")
			if err := os.WriteFile(path, key, 0o600); err != nil {
				t.Fatal(err)
			}
			if tc.group >= 0 {
				if err := os.Chown(path, -1, tc.group); err != nil {
					t.Skipf("cannot give the file another group (needs root): %v", err)
				}
			}
			if err := os.Chmod(path, tc.mode); err != nil {
				t.Fatal(err)
			}
			_, err := LoadSigningKey(path)
			if (err == nil) != tc.ok {
				t.Fatalf("mode %v: err = %v, want ok %v", tc.mode, err, tc.ok)
			}
		})
	}
}
