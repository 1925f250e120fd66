package portal

import (
	"crypto/ed25519"
	"reflect"
	"testing"
	"time"
)

// TestGoldenRestoreFinished: a restore's finished note outside the
// database, written once by `UPDATE_RESTORE_FINISHED=1 go test ./portal
// -run TestGoldenRestoreFinished -update` and read by every later build:
// a restore years on must still know which records an earlier one lost.
func TestGoldenRestoreFinished(t *testing.T) {
	at := time.Date(2026, 12, 7, 11, 0, 0, 250000000, time.UTC)
	checkGoldenRestoreFinished(t, "restore-finished-v1.json", "restore-finished-signing.pub", "UPDATE_RESTORE_FINISHED",
		restoreFinished{Type: restoreFinishedType, RestoreID: "0123456789abcdef0123456789abcdef", RestoredSeq: 4000, MarkSeq: 4022, FinishedAt: at})
	// With the notes of a lost timeline past its mark, written later
	// with a key of its own (UPDATE_RESTORE_FINISHED_BEYOND=1).
	checkGoldenRestoreFinished(t, "restore-finished-beyond-v1.json", "restore-finished-beyond-signing.pub", "UPDATE_RESTORE_FINISHED_BEYOND",
		restoreFinished{Type: restoreFinishedType, RestoreID: "fedcba9876543210fedcba9876543210", RestoredSeq: 4000, MarkSeq: 4022, FinishedAt: at,
			Beyond: []string{"access/00000000000000004030-7d9b2a4e6f8c0d1b3a5e7f9c2d4b6a8e0f1c9f3c0d5b1a7e2f4c6d8b0a1e3f5c"}})
}

// checkGoldenRestoreFinished reads the golden finished note name, signed
// with the key in testdata/pub, as want.
func checkGoldenRestoreFinished(t *testing.T, name, pub, env string, want restoreFinished) {
	t.Helper()
	files, key := signedGolden(t, pub, env, map[string]func(ed25519.PrivateKey) []byte{
		name: func(k ed25519.PrivateKey) []byte { return signNote(k, want) },
	})
	b := files[name]
	if got, verified, ok := (trustedKeys{key}).restoreFinished(b); !verified || !ok || !reflect.DeepEqual(got, want) {
		t.Fatalf("the golden finished note %s reads %+v (verified %v, %v), want %+v", name, got, verified, ok, want)
	}
	if _, verified, _ := (trustedKeys{otherKey}).restoreFinished(b); verified {
		t.Fatalf("the note %s verifies with another key", name)
	}
}
