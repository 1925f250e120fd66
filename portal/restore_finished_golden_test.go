package portal

import (
	"crypto/ed25519"
	"testing"
	"time"
)

// TestGoldenRestoreFinished: a restore's finished note outside the
// database, written once by `UPDATE_RESTORE_FINISHED=1 go test ./portal
// -run TestGoldenRestoreFinished -update` and read by every later build:
// a restore years on must still know which records an earlier one lost.
func TestGoldenRestoreFinished(t *testing.T) {
	want := restoreFinished{Type: restoreFinishedType, RestoreID: "0123456789abcdef0123456789abcdef", RestoredSeq: 4000, MarkSeq: 4022,
		FinishedAt: time.Date(2026, 12, 7, 11, 0, 0, 250000000, time.UTC)}
	files, key := signedGolden(t, "restore-finished-signing.pub", "UPDATE_RESTORE_FINISHED", map[string]func(ed25519.PrivateKey) []byte{
		"restore-finished-v1.json": func(k ed25519.PrivateKey) []byte { return signNote(k, want) },
	})
	b := files["restore-finished-v1.json"]
	if got, verified, ok := (trustedKeys{key}).restoreFinished(b); !verified || !ok || got != want {
		t.Fatalf("the golden finished note reads %+v (verified %v, %v), want %+v", got, verified, ok, want)
	}
	if _, verified, _ := (trustedKeys{otherKey}).restoreFinished(b); verified {
		t.Fatal("the note verifies with another key")
	}
}
