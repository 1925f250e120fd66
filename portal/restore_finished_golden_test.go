package portal

import (
	"bytes"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/ofsted-portal/evidence/portal/retention"
)

// TestGoldenRestoreFinished: a restore's finished note outside the
// database, written once by `UPDATE_RESTORE_FINISHED=1 go test ./portal
// -run TestGoldenRestoreFinished -update` and read by every later build:
// a restore years on must still know which records an earlier one lost.
func TestGoldenRestoreFinished(t *testing.T) {
	want := restoreFinished{Type: restoreFinishedType, RestoreID: "0123456789abcdef0123456789abcdef", RestoredSeq: 4000, MarkSeq: 4022,
		FinishedAt: time.Date(2026, 12, 7, 11, 0, 0, 250000000, time.UTC)}
	note, pub := filepath.Join("testdata", "restore-finished-v1.json"), filepath.Join("testdata", "restore-finished-signing.pub")
	if *update && os.Getenv("UPDATE_RESTORE_FINISHED") != "" {
		pk, key, _ := ed25519.GenerateKey(nil)
		if err := os.WriteFile(note, signRestoreFinished(key, want), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(pub, []byte(base64.StdEncoding.EncodeToString(pk)+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	b, err := os.ReadFile(note)
	if err != nil {
		t.Fatal(err)
	}
	k, err := os.ReadFile(pub)
	if err != nil {
		t.Fatal(err)
	}
	key, err := base64.StdEncoding.DecodeString(string(bytes.TrimSpace(k)))
	if err != nil {
		t.Fatal(err)
	}
	got, ok := trustedKeys{ed25519.PublicKey(key)}.restoreFinished(b)
	if !ok || got != want {
		t.Fatalf("the golden finished note reads %+v (%v), want %+v", got, ok, want)
	}
	var golden, written retention.Signed
	_, anyKey, _ := ed25519.GenerateKey(nil)
	if json.Unmarshal(b, &golden) != nil || json.Unmarshal(signRestoreFinished(anyKey, want), &written) != nil || !bytes.Equal(golden.Certificate, written.Certificate) {
		t.Fatalf("the finished note written today:\n%s\nthe golden one:\n%s", written.Certificate, golden.Certificate)
	}
	if _, ok := (trustedKeys{ed25519.PublicKey(make([]byte, ed25519.PublicKeySize))}).restoreFinished(b); ok {
		t.Fatal("the note verifies with another key")
	}
}
