package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"

	"github.com/ofsted-portal/evidence/deploy/devstack"
	"github.com/ofsted-portal/evidence/portal"
	"github.com/ofsted-portal/evidence/portal/blobs"
	"github.com/ofsted-portal/evidence/portal/retention"
	"github.com/ofsted-portal/evidence/portal/store"
)

// TestAnchoredTrail: checkpoints are signed every 100 records and anchored
// outside the database (an object under compliance retention); a trail
// whose last rows were deleted, cut short, or emptied with its
// checkpoints is reported broken, naming the last anchored record.
func TestAnchoredTrail(t *testing.T) {
	ctx := context.Background()
	st, svc := trailOf250(t)
	head, _, _ := svc.Store().AuditHead(ctx)
	deadline := time.Now().Add(10 * time.Second)
	for {
		last, err := svc.Store().LastCheckpoint(ctx)
		if err == nil && head-last.Seq < 100 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no checkpoint within 100 records of the head %d: %+v %v", head, last, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	// A few more, then a stop: the portal signs and anchors a last
	// checkpoint that covers them.
	for i := 0; i < 5; i++ {
		if err := svc.Store().Audit(ctx, store.AuditRecord{Time: time.Now(), ActorSubject: "portal", Action: "test.act", Outcome: "success"}); err != nil {
			t.Fatal(err)
		}
	}
	svc.Stop()
	anchored, _ := svc.Store().LastCheckpoint(ctx)
	head, _, _ = svc.Store().AuditHead(ctx)
	svc.Close()
	if anchored.Seq != head {
		t.Fatalf("a stopped portal left records %d to %d without a checkpoint", anchored.Seq+1, head)
	}
	for k, v := range st.Env {
		t.Setenv(k, v)
	}
	if err := auditVerify(ctx, nil); err != nil {
		t.Fatalf("intact trail: %v", err)
	}
	// Each tampering takes more than the one before, so they run in turn
	// on the same database.
	for _, tc := range []struct{ name, sql string }{
		{"last rows deleted", `DELETE FROM audit WHERE seq > 180; DELETE FROM audit_checkpoints WHERE seq > 180`},
		{"cut short", `DELETE FROM audit WHERE seq > 20; DELETE FROM audit_checkpoints`},
		{"both tables emptied", `DELETE FROM audit; DELETE FROM audit_checkpoints`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, err := portal.OpenDatabase(ctx, st.Config)
			if err != nil {
				t.Fatal(err)
			}
			for _, q := range append(dropAuditTriggers(s), strings.Split(tc.sql, "; ")...) {
				if _, err := s.DB().Exec(q); err != nil {
					t.Fatal(err)
				}
			}
			s.Close()
			err = auditVerify(ctx, nil)
			if err == nil || !strings.Contains(err.Error(), "BROKEN") || !strings.Contains(err.Error(), "last anchored record is "+strconv.FormatInt(anchored.Seq, 10)) {
				t.Fatalf("tampered trail: %v", err)
			}
		})
	}
}

// TestAnchorsHiddenByDeleteMarkersStillCount: object lock keeps every
// version of an anchor, but a plain delete (no version id) is allowed and
// puts a delete marker over it. The locked versions are still there, so a
// trail cut short is still broken for audit verify and for serve's check,
// a destruction's note under a delete marker is still read, and a new
// version under an anchor's name that holds another record's checkpoint
// is not taken for it.
func TestAnchorsHiddenByDeleteMarkersStillCount(t *testing.T) {
	ctx := context.Background()
	st, svc := trailOf250(t)
	svc.Stop()
	anchored, _ := svc.Store().LastCheckpoint(ctx)
	svc.Close()
	for k, v := range st.Env {
		t.Setenv(k, v)
	}
	anchors, err := portal.FindAnchors(ctx, st.Config)
	if err != nil || anchors == nil {
		t.Fatalf("anchors: %v", err)
	}
	c := st.Config
	b, err := blobs.New(blobs.Config{Endpoint: c.S3Endpoint, AccessKey: c.S3AccessKey, SecretKey: c.S3SecretKey, Secure: c.S3Secure, Region: c.S3Region})
	if err != nil {
		t.Fatal(err)
	}
	note := "destructions/0f1e2d3c/started.json"
	if err := b.PutRetained(ctx, c.AnchorBucket, note, []byte(`{"note":1}`), time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	s, err := portal.OpenDatabase(ctx, st.Config)
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range append(dropAuditTriggers(s), `DELETE FROM audit WHERE seq > 20`, `DELETE FROM audit_checkpoints WHERE seq > 20`) {
		if _, err := s.DB().Exec(q); err != nil {
			t.Fatal(err)
		}
	}
	s.Close()

	cl := b.Client()
	hidden := 0
	for obj := range cl.ListObjects(ctx, c.AnchorBucket, minio.ListObjectsOptions{Recursive: true}) {
		if obj.Err != nil {
			t.Fatal(obj.Err)
		}
		if err := cl.RemoveObject(ctx, c.AnchorBucket, obj.Key, minio.RemoveObjectOptions{}); err != nil {
			t.Fatalf("a delete marker refused: %v", err)
		}
		hidden++
	}
	t.Logf("delete markers over %d objects", hidden)

	err = auditVerify(ctx, nil)
	if err == nil || !strings.Contains(err.Error(), "BROKEN") || !strings.Contains(err.Error(), "last anchored record is "+strconv.FormatInt(anchored.Seq, 10)) {
		t.Errorf("audit verify of a trail cut short, its anchors under delete markers: %v", err)
	}
	p, err := portal.New(ctx, st.Config)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.CheckRestored(ctx); !errors.Is(err, portal.ErrBehindAnchors) {
		t.Errorf("serve's check of a trail cut short, its anchors under delete markers: %v, want %v", err, portal.ErrBehindAnchors)
	}
	p.Close()
	if got, err := anchors.Records(ctx, "destructions/"); err != nil || len(got[note]) == 0 {
		t.Errorf("a destruction's note under a delete marker: %v %v", got, err)
	}

	// A new version under the last anchor's name, holding an earlier
	// checkpoint (signed, but of another record).
	listed, err := anchors.List(ctx)
	if err != nil {
		t.Fatalf("anchors listed: %v", err)
	}
	var first []store.Checkpoint
	for _, a := range listed {
		if a.Seq != anchored.Seq {
			first = append(first, a)
		}
	}
	if len(first) == 0 {
		t.Fatalf("no anchor but the last (record %d): %v", anchored.Seq, listed)
	}
	body, _ := json.Marshal(first[0])
	if err := b.PutRetained(ctx, c.AnchorBucket, fmt.Sprintf("checkpoints/checkpoint-%020d.json", anchored.Seq), body, time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if _, err := anchors.List(ctx); err == nil || !strings.Contains(err.Error(), strconv.FormatInt(first[0].Seq, 10)) {
		t.Errorf("an anchor named for record %d holding record %d's checkpoint: %v", anchored.Seq, first[0].Seq, err)
	}
}

// TestCheckpointsBeyondEveryAnchorAreBroken: the portal anchors each
// checkpoint as it signs it (or, if the anchor store fails, the latest
// one at its next try, every minute). Only the latest checkpoint, signed
// less than 10 minutes ago, may be found without an anchor at or after
// it; any other signed checkpoint beyond every anchor means anchors were
// removed (or the anchor store has not been written since), and audit
// verify reports the trail broken.
func TestCheckpointsBeyondEveryAnchorAreBroken(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	pemKey, _ := retention.GenerateSigningKey()
	keyPath := writeKey(t, dir, "signing.key", pemKey)
	key, _ := retention.LoadSigningKey(keyPath)
	st := testDatabase(t)()
	defer st.Close()
	t.Setenv("PORTAL_SIGNING_KEY_FILE", keyPath)
	t.Setenv("PORTAL_AUDIT_ANCHOR_DIR", filepath.Join(dir, "anchors"))
	sign := func(at time.Time) {
		t.Helper()
		for i := 0; i < 3; i++ {
			if err := st.Audit(ctx, store.AuditRecord{Time: time.Now(), Action: "signin", Outcome: "success"}); err != nil {
				t.Fatal(err)
			}
		}
		seq, hash, _ := st.AuditHead(ctx)
		if err := st.AddCheckpoint(ctx, store.SignCheckpoint(seq, hash, at, key)); err != nil {
			t.Fatal(err)
		}
	}
	sign(time.Now())
	if err := auditVerify(ctx, nil); err != nil {
		t.Fatalf("the latest checkpoint, just signed, not yet anchored: %v", err)
	}
	sign(time.Now())
	if err := auditVerify(ctx, nil); err == nil || !strings.Contains(err.Error(), "BROKEN at record 3") {
		t.Errorf("two signed checkpoints, no anchor: %v", err)
	}

	st2 := testDatabase(t)()
	defer st2.Close()
	st = st2
	sign(time.Now().Add(-time.Hour))
	if err := auditVerify(ctx, nil); err == nil || !strings.Contains(err.Error(), "BROKEN at record 3") {
		t.Errorf("a checkpoint signed an hour ago, no anchor: %v", err)
	}
}

// trailOf250 starts a portal on a stack of its own and writes 250 records:
// two checkpoints signed and anchored, and 50 records after them.
// stoppedTrailOf250 is trailOf250 with its portal stopped and closed, and
// its configuration in the environment, for the commands to read.
func stoppedTrailOf250(t *testing.T) *devstack.Stack {
	t.Helper()
	st, svc := trailOf250(t)
	svc.Stop()
	svc.Close()
	for k, v := range st.Env {
		t.Setenv(k, v)
	}
	return st
}

func trailOf250(t *testing.T) (*devstack.Stack, *portal.Service) {
	t.Helper()
	ctx := context.Background()
	st := domainStack(t)
	svc := st.Portal
	svc.Start(ctx)
	for i := range 250 {
		if err := svc.Store().Audit(ctx, store.AuditRecord{Time: time.Now(), ActorSubject: "portal", Action: "test.act", Outcome: "success"}); err != nil {
			t.Fatal(err)
		}
		if i == 125 {
			// An anchor before the last, whatever the background
			// checkpoints managed on a busy machine (they may sign only
			// the head they find, once the appends are over).
			if err := svc.Checkpoint(ctx, true); err != nil {
				t.Fatal(err)
			}
		}
	}
	return st, svc
}

// TestServeCheckComparesTheAnchoredRecord: a trail cut short and written
// on past its last anchor (a database recovered by hand, then used by
// operator commands before serve started) is refused by serve's check:
// the record at the last anchor is not the one anchored. Before, only
// the record numbers were compared, and serve started on a trail forked
// from its anchors.
func TestServeCheckComparesTheAnchoredRecord(t *testing.T) {
	ctx := context.Background()
	st := stoppedTrailOf250(t)
	s, err := portal.OpenDatabase(ctx, st.Config)
	if err != nil {
		t.Fatal(err)
	}
	last, err := s.LastCheckpoint(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range append(dropAuditTriggers(s), `DELETE FROM audit WHERE seq > 20`, `DELETE FROM audit_checkpoints WHERE seq > 20`) {
		if _, err := s.DB().Exec(q); err != nil {
			t.Fatal(err)
		}
	}
	for range last.Seq {
		if err := s.Audit(ctx, store.AuditRecord{Time: time.Now(), ActorSubject: "operator:op", Action: "test.act", Outcome: "success"}); err != nil {
			t.Fatal(err)
		}
	}
	s.Close()
	p, err := portal.New(ctx, st.Config)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	if _, err := p.CheckRestored(ctx); !errors.Is(err, portal.ErrBehindAnchors) {
		t.Errorf("serve's check of a trail cut at 20 and written on past its last anchor (%d): %v, want %v", last.Seq, err, portal.ErrBehindAnchors)
	}
}
