package portal

import (
	"crypto/ed25519"
	"reflect"
	"testing"
	"time"

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
	files, key := signedGolden(t, "purge-note-signing.pub", "UPDATE_PURGE_NOTE", map[string]func(ed25519.PrivateKey) []byte{
		"purge-note-v1.json": func(k ed25519.PrivateKey) []byte { return signPurgeNote(k, p) },
	})
	b := files["purge-note-v1.json"]
	got, err := trustedKeys{key}.purge(b)
	if err != nil {
		t.Fatal(err)
	}
	want := purgeNote{Type: purgeNoteType, VisitID: p.VisitID, FileID: p.FileID, Item: p.Item, Size: p.Size, SHA256: p.SHA256, UploadedBy: p.UploadedBy,
		UploadedAt: p.UploadedAt, PurgedBy: p.PurgedBy, PurgedAt: p.PurgedAt, ReasonSealed: p.ReasonSealed}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("the golden purge note reads\n%+v\nwant\n%+v", got, want)
	}
	if _, err := (trustedKeys{otherKey}).purge(b); err == nil {
		t.Fatal("the note verifies with another key")
	}
}
