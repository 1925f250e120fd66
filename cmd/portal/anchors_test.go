package main

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ofsted-portal/evidence/portal"
	"github.com/ofsted-portal/evidence/portal/store"
)

// TestAnchoredTrail: checkpoints are signed every 100 records and anchored
// outside the database (an object under compliance retention); a trail
// whose last rows were deleted, cut short, or emptied with its
// checkpoints is reported broken, naming the last anchored record.
func TestAnchoredTrail(t *testing.T) {
	ctx := context.Background()
	st := domainStack(t)
	svc := st.Portal
	svc.Start(ctx)
	for i := 0; i < 250; i++ {
		if err := svc.Store().Audit(ctx, store.AuditRecord{Time: time.Now(), ActorSubject: "portal", Action: "test.act", Outcome: "success"}); err != nil {
			t.Fatal(err)
		}
	}
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
