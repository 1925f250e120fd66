package portal

import (
	"crypto/ed25519"
	"reflect"
	"testing"
	"time"

	"github.com/ofsted-portal/evidence/portal/store"
)

// TestGoldenAccessNotes: the signed notes outside the database of a
// member removed, a role revoked, an item restricted, a membership's
// window narrowed, a legal hold set and a letter event withdrawn and
// recorded (and by whom), written once by
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
	checkGoldenAccessNotes(t, notes, "access-note-signing.pub", "UPDATE_ACCESS_NOTES")
	// Written later, with a key of its own
	// (UPDATE_ACCESS_NOTES_CHANGED=1), so that the notes above stay as
	// they were written.
	checkGoldenAccessNotes(t, map[string]accessNote{
		"access-note-member-changed-v1.json": {Type: accessNoteType, Seq: 4024, Hash: "b2d4f6a8c0e1f3a5b7d9c1e3a5f7b9d0c2e4a6f8b1d3c5e7a9f0b2d4c6e8a1f3",
			Action: "member.changed", At: at.Add(3 * time.Minute), VisitID: "0f1e2d3c4b5a69788796a5b4c3d2e1f0", MemberID: "3c5e7a9f0b2d4c6e8a1f3b5d7e9c0a2b",
			Role: "inspector", ValidUntil: time.Date(2026, 12, 9, 0, 0, 0, 0, time.UTC)},
		"access-note-hold-v1.json": {Type: accessNoteType, Seq: 4025, Hash: "e1c3b5d7f9a0e2c4b6d8f1a3c5e7a9c1b3d0f2e4a6c8b1d3f5a7e9c0b2d4f6a8",
			Action: "legal_hold.set", At: at.Add(4 * time.Minute), VisitID: "0f1e2d3c4b5a69788796a5b4c3d2e1f0"},
		"access-note-withdrawn-v1.json": {Type: accessNoteType, Seq: 4026, Hash: "a8e0f1c9f3c0d5b1a7e2f4c6d8b0a1e3f5c7d9b2a4e6f8c0d1b3a5e7f9c2d4b6",
			Action: "letter.withdrawn", At: at.Add(5 * time.Minute), VisitID: "0f1e2d3c4b5a69788796a5b4c3d2e1f0", Event: "published", Date: "2026-11-02"},
		"access-note-recorded-v1.json": {Type: accessNoteType, Seq: 4027, Hash: "c6d8b0a1e3f5c7d9b2a4e6f8c0d1b3a5e7f9c2d4b6a8e0f1c9f3c0d5b1a7e2f4",
			Action: "letter.published", At: at.Add(6 * time.Minute), VisitID: "0f1e2d3c4b5a69788796a5b4c3d2e1f0", Event: "published", Date: "2026-11-09"},
	}, "access-note-member-changed-signing.pub", "UPDATE_ACCESS_NOTES_CHANGED")
	// A letter event recorded, by whom (UPDATE_ACCESS_NOTES_RECORDED_BY=1):
	// a restore records it again by them.
	checkGoldenAccessNotes(t, map[string]accessNote{
		"access-note-recorded-by-v1.json": {Type: accessNoteType, Seq: 4028, Hash: "d7f9a0e2c4b6d8f1a3c5e7a9c1b3d0f2e4a6c8b1d3f5a7e9c0b2d4f6a8e1c3b5",
			Action: "letter.published", At: at.Add(7 * time.Minute), VisitID: "0f1e2d3c4b5a69788796a5b4c3d2e1f0", Event: "published", Date: "2026-11-10",
			Issuer: "https://login.ofsted.example/", Subject: "00u9z8y7x6w5v4u3t2s1"},
	}, "access-note-recorded-by-signing.pub", "UPDATE_ACCESS_NOTES_RECORDED_BY")
}

// checkGoldenAccessNotes reads the golden access notes, signed with the
// key in testdata/pub, as notes.
func checkGoldenAccessNotes(t *testing.T, notes map[string]accessNote, pub, env string) {
	t.Helper()
	sign := map[string]func(ed25519.PrivateKey) []byte{}
	for name, n := range notes {
		sign[name] = func(k ed25519.PrivateKey) []byte { return signNote(k, n) }
	}
	files, key := signedGolden(t, pub, env, sign)
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

// TestNarrowWindow: a membership's window narrowed again by a restore is
// what both windows allow, each bound kept as the one that gave it (a
// default stays the role's default, which follows the timeline).
func TestNarrowWindow(t *testing.T) {
	day := func(d int) time.Time { return time.Date(2026, 12, d, 0, 0, 0, 0, time.UTC) }
	var zero time.Time
	def := day(7)
	for _, c := range []struct {
		name                                   string
		curFrom, curUntil, noteFrom, noteUntil time.Time
		from, until                            time.Time
	}{
		{"both defaults", zero, zero, zero, zero, zero, zero},
		{"an end given since", zero, zero, zero, day(9), zero, day(9)},
		{"an end taken away since", zero, day(9), zero, zero, zero, day(9)},
		{"an end brought forward since", zero, day(20), zero, day(9), zero, day(9)},
		{"an end put back since", zero, day(9), zero, day(20), zero, day(9)},
		{"a later start given since", zero, zero, day(8), zero, day(8), zero},
		{"a start before the default given since", zero, zero, day(6), zero, zero, zero},
		{"an early start taken away since", day(6), zero, zero, zero, zero, zero},
		{"a late start taken away since", day(8), zero, zero, zero, day(8), zero},
		{"a later start and end given since", day(8), day(20), day(10), day(15), day(10), day(15)},
	} {
		from, until := narrowWindow(c.curFrom, c.curUntil, c.noteFrom, c.noteUntil, def)
		if !from.Equal(c.from) || !until.Equal(c.until) {
			t.Errorf("%s: narrowed to %v .. %v, want %v .. %v", c.name, from, until, c.from, c.until)
		}
	}
}
