package store

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"errors"
	"os"
	"strings"
	"testing"
	"time"
)

// restoredTrail makes the trail of a restore: records 1..10 were backed
// up, 11..30 were written and anchored (at 20 and 30) and then lost with
// the database; the restore's mark, signed with signer, goes on at 31
// after the anchored hash of 30.
func restoredTrail(t *testing.T, key, signer ed25519.PrivateKey) (*Store, []Checkpoint, RestoreStatement) {
	t.Helper()
	ctx := context.Background()
	lost, _ := chainOf(t, 30)
	recs, _ := lost.AuditRecords(ctx, AuditFilter{})
	anchors := []Checkpoint{SignCheckpoint(20, recs[19].Hash, time.Now(), key), SignCheckpoint(30, recs[29].Hash, time.Now(), key)}

	s := openTest(t)
	for _, r := range recs[:10] {
		if _, err := s.DB().Exec(`INSERT INTO audit (seq, time, actor_issuer, actor_subject, actor_email, role, visit_id, action, object, outcome, detail, client_ip, user_agent, request_id, prev_hash, hash, format)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`, r.Seq, r.Time.Format(timeFormat), r.ActorIssuer, r.ActorSubject, r.ActorEmail, r.Role, r.VisitID,
			r.Action, r.Object, r.Outcome, r.Detail, r.ClientIP, r.UserAgent, r.RequestID, r.PrevHash, r.Hash, r.Format); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.BeginRestore(ctx, Restore{ID: "r1", BackupCreatedAt: time.Now(), BackupSeq: 10, BackupHash: recs[9].Hash, StartedAt: time.Now()}); err != nil {
		t.Fatal(err)
	}
	st := SignRestore(RestoreStatement{RestoredSeq: 10, RestoredHash: recs[9].Hash, AnchoredSeq: 30, AnchoredHash: recs[29].Hash}, signer)
	detail, _ := json.Marshal(st)
	if _, err := s.AppendRestoreMark(ctx, "r1", 30, recs[29].Hash, AuditRecord{Time: time.Now(), ActorSubject: "portal", Action: ActionRestored, Detail: string(detail)}); err != nil {
		t.Fatal(err)
	}
	// The trail goes on after the mark.
	if err := s.Audit(ctx, AuditRecord{Time: time.Now(), ActorSubject: "portal", Action: "test.after", Outcome: "success"}); err != nil {
		t.Fatal(err)
	}
	return s, anchors, st
}

func checkRestored(s *Store, anchors []Checkpoint, pub ed25519.PublicKey) ([]Gap, error) {
	ctx := context.Background()
	recs, _ := s.AuditRecords(ctx, AuditFilter{})
	cps, _ := s.Checkpoints(ctx)
	if err := VerifyAnchors(recs, anchors, pub); err != nil {
		return nil, err
	}
	if err := VerifyAudit(recs, cps, pub); err != nil {
		return nil, err
	}
	return RestoreMarks(recs, pub)
}

// TestRestoredTrail: a trail resumed by a restore's signed mark verifies,
// and reports the records lost; a mark signed by another key, a gap
// without a mark, or a mark naming other records is a break.
func TestRestoredTrail(t *testing.T) {
	_, key, _ := ed25519.GenerateKey(nil)
	pub := key.Public().(ed25519.PublicKey)
	s, anchors, _ := restoredTrail(t, key, key)
	gaps, err := checkRestored(s, anchors, pub)
	if err != nil || len(gaps) != 1 || gaps[0].Restored != 10 || gaps[0].Anchored != 30 || gaps[0].Mark != 31 {
		t.Fatalf("restored trail: %+v %v", gaps, err)
	}
	if head, _, _ := s.AuditHead(context.Background()); head != 32 {
		t.Fatalf("head %d, want 32", head)
	}

	_, other, _ := ed25519.GenerateKey(nil)
	forged, anchors, _ := restoredTrail(t, key, other)
	var ce *ChainError
	if _, err := checkRestored(forged, anchors, pub); !errors.As(err, &ce) || ce.Seq != 31 {
		t.Fatalf("a mark signed by another key: %v", err)
	}

	s, anchors, _ = restoredTrail(t, key, key)
	tamper(t, s, `DELETE FROM audit WHERE seq = 5`)
	if _, err := checkRestored(s, anchors, pub); !errors.As(err, &ce) || ce.Seq != 5 {
		t.Fatalf("a gap without a mark: %v", err)
	}

	s, anchors, _ = restoredTrail(t, key, key)
	tamper(t, s, `DELETE FROM audit WHERE seq = 10`)
	if _, err := checkRestored(s, anchors, pub); !errors.As(err, &ce) {
		t.Fatalf("records removed before a mark: %v", err)
	}

	// An anchor at the lost end that is not what the mark follows.
	s, anchors, _ = restoredTrail(t, key, key)
	anchors[1] = SignCheckpoint(30, GenesisHash, time.Now(), key)
	if _, err := checkRestored(s, anchors, pub); !errors.As(err, &ce) || ce.Seq != 31 {
		t.Fatalf("a mark that does not follow the anchor: %v", err)
	}
}

// TestGoldenRestoreMark: a restore's mark (its statement, format 1), as
// written once (-update) and read by every later build: a trail restored
// today must verify as restored, not broken, in later releases.
func TestGoldenRestoreMark(t *testing.T) {
	const path = "testdata/restore-mark-v1.json"
	var g struct {
		PublicKey string      `json:"public_key"`
		Record    AuditRecord `json:"record"`
	}
	if *update {
		_, key, _ := ed25519.GenerateKey(nil)
		st := SignRestore(RestoreStatement{RestoredSeq: 412, RestoredHash: "5d41402abc4b2a76b9719d911017c592" + "5d41402abc4b2a76b9719d911017c592",
			AnchoredSeq: 530, AnchoredHash: "7d793037a0760186574b0282f2f435e7" + "7d793037a0760186574b0282f2f435e7",
			BackupCreatedAt: time.Date(2026, 11, 29, 2, 0, 0, 0, time.UTC)}, key)
		detail, _ := json.Marshal(st)
		r := AuditRecord{Seq: 531, Time: time.Date(2026, 11, 30, 9, 0, 0, 0, time.UTC), ActorSubject: "portal", Role: "system", Action: ActionRestored,
			Outcome: "success", Detail: string(detail), PrevHash: st.AnchoredHash, Format: 1}
		r.Hash = ChainHash(r)
		g.PublicKey, g.Record = base64.StdEncoding.EncodeToString(key.Public().(ed25519.PublicKey)), r
		b, _ := json.MarshalIndent(g, "", "  ")
		os.WriteFile(path, b, 0o644)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &g); err != nil {
		t.Fatal(err)
	}
	pub, _ := base64.StdEncoding.DecodeString(g.PublicKey)
	gaps, err := RestoreMarks([]AuditRecord{g.Record}, pub)
	if err != nil || len(gaps) != 1 || gaps[0].Restored != 412 || gaps[0].Anchored != 530 || gaps[0].Mark != 531 || ChainHash(g.Record) != g.Record.Hash {
		t.Fatalf("%s reads as %+v (%v)", path, gaps, err)
	}
}

// TestGoldenRestoreIntent: a restore's intent (format 1), as written once
// (-update) and read by every later build: a restore begun before an
// upgrade and finished after it must still find its intent, and an intent
// changed in any field must not verify.
func TestGoldenRestoreIntent(t *testing.T) {
	const path = "testdata/restore-intent-v1.json"
	want := RestoreIntent{RestoreID: "0f1e2d3c4b5a69788796a5b4c3d2e1f0", BackupCreatedAt: time.Date(2026, 11, 29, 2, 0, 0, 0, time.UTC),
		RestoredSeq: 412, RestoredHash: "5d41402abc4b2a76b9719d911017c592" + "5d41402abc4b2a76b9719d911017c592",
		AnchoredSeq: 530, AnchoredHash: "7d793037a0760186574b0282f2f435e7" + "7d793037a0760186574b0282f2f435e7",
		WrittenAt: time.Date(2026, 11, 30, 8, 59, 0, 123456789, time.UTC)}
	var g struct {
		PublicKey string          `json:"public_key"`
		Intent    json.RawMessage `json:"intent"`
	}
	if *update {
		_, key, _ := ed25519.GenerateKey(nil)
		g.PublicKey = base64.StdEncoding.EncodeToString(key.Public().(ed25519.PublicKey))
		g.Intent, _ = json.Marshal(SignRestoreIntent(want, key))
		b, _ := json.MarshalIndent(g, "", "  ")
		os.WriteFile(path, b, 0o644)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &g); err != nil {
		t.Fatal(err)
	}
	pub, _ := base64.StdEncoding.DecodeString(g.PublicKey)
	got, err := ParseRestoreIntent(g.Intent, pub)
	want.Signature = got.Signature
	if err != nil || !got.BackupCreatedAt.Equal(want.BackupCreatedAt) || !got.WrittenAt.Equal(want.WrittenAt) {
		t.Fatalf("%s reads as %+v (%v)", path, got, err)
	}
	got.BackupCreatedAt, got.WrittenAt = want.BackupCreatedAt, want.WrittenAt
	if got != want {
		t.Fatalf("%s reads as %+v, want %+v", path, got, want)
	}
	_, other, _ := ed25519.GenerateKey(nil)
	if _, err := ParseRestoreIntent(g.Intent, other.Public().(ed25519.PublicKey)); err == nil {
		t.Fatal("the intent verifies with another key")
	}
	var compact bytes.Buffer
	if err := json.Compact(&compact, g.Intent); err != nil {
		t.Fatal(err)
	}
	g.Intent = compact.Bytes()
	for _, change := range []struct{ from, to string }{{`"restored_seq":412`, `"restored_seq":413`}, {`"anchored_seq":530`, `"anchored_seq":531`}, {`"restore_id":"0f`, `"restore_id":"1f`}} {
		changed := strings.Replace(string(g.Intent), change.from, change.to, 1)
		if changed == string(g.Intent) {
			t.Fatalf("%s has no %s", path, change.from)
		}
		if _, err := ParseRestoreIntent([]byte(changed), pub); err == nil {
			t.Errorf("the intent with %s verifies", change.to)
		}
	}
	// A restore's mark is not an intent, even signed by the same key.
	var mark struct {
		PublicKey string      `json:"public_key"`
		Record    AuditRecord `json:"record"`
	}
	mb, _ := os.ReadFile("testdata/restore-mark-v1.json")
	if json.Unmarshal(mb, &mark) == nil {
		mpub, _ := base64.StdEncoding.DecodeString(mark.PublicKey)
		if _, err := ParseRestoreIntent([]byte(mark.Record.Detail), mpub); err == nil {
			t.Fatal("a restore's statement read as an intent")
		}
	}
}

// TestGoldenRestoreIntentUnsigned: the intent of a restore of an unsigned
// backup (portal restore --accept-unsigned), as written once (-update,
// with a key from a fixed seed) and read by every later build; without
// its flag it does not verify.
func TestGoldenRestoreIntentUnsigned(t *testing.T) {
	const path = "testdata/restore-intent-unsigned-v1.json"
	key := ed25519.NewKeyFromSeed([]byte("restore-intent-golden-seed-00001"))
	want := RestoreIntent{RestoreID: "8796a5b4c3d2e1f00f1e2d3c4b5a6978", BackupCreatedAt: time.Date(2026, 10, 1, 2, 0, 0, 0, time.UTC),
		RestoredSeq: 1_200_412, RestoredHash: strings.Repeat("5d41402abc4b2a76", 4), AnchoredSeq: 1_200_400, AnchoredHash: strings.Repeat("7d793037a0760186", 4),
		WrittenAt: time.Date(2026, 12, 5, 8, 59, 0, 123456789, time.UTC), UnsignedBackup: true}
	if *update {
		b, _ := json.MarshalIndent(SignRestoreIntent(want, key), "", "  ")
		os.WriteFile(path, b, 0o644)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	got, err := ParseRestoreIntent(b, key.Public().(ed25519.PublicKey))
	if err != nil || !got.UnsignedBackup || got.RestoredSeq != want.RestoredSeq || !got.WrittenAt.Equal(want.WrittenAt) {
		t.Fatalf("%s reads as %+v (%v)", path, got, err)
	}
	got.UnsignedBackup = false
	body, _ := json.Marshal(got)
	if _, err := ParseRestoreIntent(body, key.Public().(ed25519.PublicKey)); err == nil {
		t.Fatal("the intent verifies without its unsigned-backup flag")
	}
}
