package portal

import (
	"bytes"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/ofsted-portal/evidence/portal/retention"
	"github.com/ofsted-portal/evidence/portal/store"
)

// TestGoldenPurgeNote: a purge's signed note outside the database,
// written once by `UPDATE_PURGE_NOTE=1 go test ./portal -run
// TestGoldenPurgeNote -update` and read by every later build: a restore
// years on must still purge the file again.
func TestGoldenPurgeNote(t *testing.T) {
	at := time.Date(2026, 12, 4, 10, 0, 0, 0, time.UTC)
	p := store.PurgedFile{FileID: "cc33dd44ee55ff6600778899aa11bb22", VisitID: "0f1e2d3c4b5a69788796a5b4c3d2e1f0", Item: "1.02", Size: 3,
		SHA256: "2c26b46b68ffc68ff99b453c1d30413413422d706483bfa0f98a5e886266e7ae", UploadedBy: "9a8b7c6d5e4f30211203f4e5d6c7b8a9",
		UploadedAt: at.Add(-20 * 24 * time.Hour), PurgedBy: "1a2b3c4d5e6f70811807f6e5d4c3b2a1", PurgedAt: at, ReasonSealed: []byte("sealed reason")}
	note, pub := filepath.Join("testdata", "purge-note-v1.json"), filepath.Join("testdata", "purge-note-signing.pub")
	if *update && os.Getenv("UPDATE_PURGE_NOTE") != "" {
		pk, key, _ := ed25519.GenerateKey(nil)
		if err := os.WriteFile(note, signPurgeNote(key, p), 0o644); err != nil {
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
	key, err := base64.StdEncoding.DecodeString(string(k[:len(k)-1]))
	if err != nil {
		t.Fatal(err)
	}
	got, err := trustedKeys{ed25519.PublicKey(key)}.purge(b)
	if err != nil {
		t.Fatal(err)
	}
	want := purgeNote{Type: purgeNoteType, VisitID: p.VisitID, FileID: p.FileID, Item: p.Item, Size: p.Size, SHA256: p.SHA256, UploadedBy: p.UploadedBy,
		UploadedAt: p.UploadedAt, PurgedBy: p.PurgedBy, PurgedAt: p.PurgedAt, ReasonSealed: p.ReasonSealed}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("the golden purge note reads\n%+v\nwant\n%+v", got, want)
	}
	// And today's writer writes it byte for byte (the signature aside,
	// which is the key's).
	var golden, written retention.Signed
	_, anyKey, _ := ed25519.GenerateKey(nil)
	if json.Unmarshal(b, &golden) != nil || json.Unmarshal(signPurgeNote(anyKey, p), &written) != nil || !bytes.Equal(golden.Certificate, written.Certificate) {
		t.Fatalf("the purge note written today:\n%s\nthe golden one:\n%s", written.Certificate, golden.Certificate)
	}
	if _, err := (trustedKeys{ed25519.PublicKey(make([]byte, ed25519.PublicKeySize))}).purge(b); err == nil {
		t.Fatal("the note verifies with another key")
	}
}
