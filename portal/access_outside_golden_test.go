package portal

import (
	"crypto/ed25519"
	"reflect"
	"testing"
	"time"

	"github.com/ofsted-portal/evidence/portal/store"
)

// TestGoldenAccessNotes: the signed notes outside the database of a
// member removed, a role revoked and an item restricted, written once by
// `UPDATE_ACCESS_NOTES=1 go test ./portal -run TestGoldenAccessNotes
// -update` and read by every later build: a restore years on must still
// end that access again.
func TestGoldenAccessNotes(t *testing.T) {
	at := time.Date(2026, 12, 7, 10, 0, 0, 123456000, time.UTC)
	notes := map[string]accessNote{
		"access-note-member-v1.json": {Type: accessNoteType, Seq: 4021, Hash: "9f3c0d5b1a7e2f4c6d8b0a1e3f5c7d9b2a4e6f8c0d1b3a5e7f9c2d4b6a8e0f1c",
			Action: "member.removed", At: at, VisitID: "0f1e2d3c4b5a69788796a5b4c3d2e1f0", MemberID: "95797e43f822190fb321f7985963e498"},
		"access-note-role-v1.json": {Type: accessNoteType, Seq: 4022, Hash: "1c0f8e6a4b2d9c7f5e3a1b0d8f6c4e2a9b7d5f3e1c0a8b6d4f2e7c5a3b1d0e9f",
			Action: "portal_role.revoked", At: at.Add(time.Minute), Role: "administrator", Issuer: "https://login.ofsted.example/", Email: "leaver@ofsted.example",
			People: []store.Identity{{Subject: "00u1a2b3c4d5e6f7g8h9", Email: "leaver@ofsted.example"}}},
		"access-note-restriction-v1.json": {Type: accessNoteType, Seq: 4023, Hash: "5e7a9c1b3d0f2e4a6c8b1d3f5a7e9c0b2d4f6a8e1c3b5d7f9a0e2c4b6d8f1a3c",
			Action: "item.restriction_changed", At: at.Add(2 * time.Minute), VisitID: "0f1e2d3c4b5a69788796a5b4c3d2e1f0", Item: "1.03", Restricted: true,
			Roles: []string{"lead_inspector"}},
	}
	sign := map[string]func(ed25519.PrivateKey) []byte{}
	for name, n := range notes {
		sign[name] = func(k ed25519.PrivateKey) []byte { return signNote(k, n) }
	}
	files, key := signedGolden(t, "access-note-signing.pub", "UPDATE_ACCESS_NOTES", sign)
	for name, want := range notes {
		got, err := trustedKeys{key}.access(files[name])
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("the golden %s reads\n%+v\nwant\n%+v", name, got, want)
		}
		if _, err := (trustedKeys{otherKey}).access(files[name]); err == nil {
			t.Fatalf("%s verifies with another key", name)
		}
	}
}
