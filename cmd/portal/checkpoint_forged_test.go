package main

import (
	"context"
	"encoding/base64"
	"strings"
	"testing"
	"time"

	"github.com/ofsted-portal/evidence/portal"
	"github.com/ofsted-portal/evidence/portal/store"
)

// TestForgedCheckpointIsNotAnchored: someone who can write to the
// database adds a checkpoint of their own, far beyond the head and dated
// in the future. The portal took the latest row of audit_checkpoints as
// its own: it wrote it, write-once, to the anchor store (where it breaks
// every later verification, even once the row is gone) and, the row being
// "newer" than the head, signed no checkpoint again, so nothing vouched
// for the records after it. A checkpoint whose signature is not the
// portal's is now passed over: the portal signs and anchors its own.
func TestForgedCheckpointIsNotAnchored(t *testing.T) {
	ctx := context.Background()
	st, svc := trailOf250(t)
	svc.Stop()
	defer svc.Close()
	head, _, _ := svc.Store().AuditHead(ctx)
	forged := store.Checkpoint{Seq: head + 1_000_000, Hash: strings.Repeat("ab", 32), SignedAt: time.Now().Add(365 * 24 * time.Hour),
		PublicKey: base64.StdEncoding.EncodeToString(svc.SigningPublicKey()), Signature: base64.StdEncoding.EncodeToString(make([]byte, 64)), Format: 1}
	if err := svc.Store().AddCheckpoint(ctx, forged); err != nil {
		t.Fatal(err)
	}
	for range 150 {
		if err := svc.Store().Audit(ctx, store.AuditRecord{Time: time.Now(), ActorSubject: "portal", Action: "test.act", Outcome: "success"}); err != nil {
			t.Fatal(err)
		}
	}
	// The round a serving portal runs after its appends.
	err := svc.Checkpoint(ctx, false)
	t.Logf("checkpoint with a forged one in the database: %v", err)
	anchors, err := portal.FindAnchors(ctx, st.Config)
	if err != nil || anchors == nil {
		t.Fatalf("anchors: %v", err)
	}
	cps, err := anchors.List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range cps {
		if c.Seq == forged.Seq {
			t.Fatalf("the forged checkpoint of record %d was written to the anchor store (%s)", c.Seq, anchors.Where())
		}
	}
	head, hash, _ := svc.Store().AuditHead(ctx)
	if last := cps[len(cps)-1]; last.Seq != head || last.Hash != hash {
		t.Fatalf("the last anchor is record %d, the head %d", last.Seq, head)
	}
}

// TestCheckpointDatedAheadIsDue: a checkpoint's signature covers its
// record and hash, not when it was signed. Someone who can write to the
// database dates the portal's last checkpoint a year ahead: the portal,
// which signs the next every 100 records or 10 minutes after the last,
// took it as signed just now and left a quiet trail's records unsigned
// for that year. A checkpoint dated ahead of the clock is due now.
func TestCheckpointDatedAheadIsDue(t *testing.T) {
	ctx := context.Background()
	_, svc := trailOf250(t)
	svc.Stop()
	defer svc.Close()
	last, err := svc.Store().LastCheckpoint(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Store().DB().Exec(`UPDATE audit_checkpoints SET signed_at = ? WHERE seq = ?`,
		time.Now().AddDate(1, 0, 0).UTC().Format(time.RFC3339Nano), last.Seq); err != nil {
		t.Fatal(err)
	}
	for range 5 {
		if err := svc.Store().Audit(ctx, store.AuditRecord{Time: time.Now(), ActorSubject: "portal", Action: "test.act", Outcome: "success"}); err != nil {
			t.Fatal(err)
		}
	}
	if err := svc.Checkpoint(ctx, false); err != nil {
		t.Fatal(err)
	}
	head, _, _ := svc.Store().AuditHead(ctx)
	if now, err := svc.Store().LastCheckpoint(ctx); err != nil || now.Seq != head {
		t.Fatalf("with the last checkpoint (record %d) dated a year ahead, the latest is record %d, the head %d (%v)", last.Seq, now.Seq, head, err)
	}
}

// TestForgedCheckpointKeepsTheCadence: with a forged checkpoint beyond the
// head still the latest row, the portal signed and anchored the head at
// every round with a new record, not every 100 records or 10 minutes, for
// as long as the trail stayed short of the forged record (for ever, in
// practice): a checkpoint and an anchor object each round. The cadence is
// kept from the last checkpoint the portal itself signed.
func TestForgedCheckpointKeepsTheCadence(t *testing.T) {
	ctx := context.Background()
	_, svc := trailOf250(t)
	svc.Stop()
	defer svc.Close()
	head, _, _ := svc.Store().AuditHead(ctx)
	forged := store.Checkpoint{Seq: head + 1_000_000, Hash: strings.Repeat("ab", 32), SignedAt: time.Now(),
		PublicKey: base64.StdEncoding.EncodeToString(svc.SigningPublicKey()), Signature: base64.StdEncoding.EncodeToString(make([]byte, 64)), Format: 1}
	if err := svc.Store().AddCheckpoint(ctx, forged); err != nil {
		t.Fatal(err)
	}
	count := func() int {
		t.Helper()
		var n int
		if err := svc.Store().DB().QueryRow(`SELECT COUNT(*) FROM audit_checkpoints`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	round := func() {
		t.Helper()
		if err := svc.Store().Audit(ctx, store.AuditRecord{Time: time.Now(), ActorSubject: "portal", Action: "test.act", Outcome: "success"}); err != nil {
			t.Fatal(err)
		}
		if err := svc.Checkpoint(ctx, false); err != nil {
			t.Fatal(err)
		}
	}
	round() // the head is signed anew, once
	before := count()
	for range 5 {
		round()
	}
	if n := count() - before; n != 0 {
		t.Fatalf("5 rounds of one record each with a forged checkpoint in the database signed %d checkpoints, want none before 100 records or 10 minutes", n)
	}
}
