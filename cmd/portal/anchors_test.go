package main

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

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
	svc.Stop()
	anchored, _ := svc.Store().LastCheckpoint(ctx)
	svc.Close()
	for k, v := range st.Env {
		t.Setenv(k, v)
	}
	if err := auditVerify(ctx, nil); err != nil {
		t.Fatalf("intact trail: %v", err)
	}
	for name, sql := range map[string]string{
		"last rows deleted":   `DELETE FROM audit WHERE seq > 180; DELETE FROM audit_checkpoints WHERE seq > 180`,
		"cut short":           `DELETE FROM audit WHERE seq > 20; DELETE FROM audit_checkpoints`,
		"both tables emptied": `DELETE FROM audit; DELETE FROM audit_checkpoints`,
	} {
		t.Run(name, func(t *testing.T) {
			db := filepath.Join(t.TempDir(), "copy.db")
			b, err := os.ReadFile(st.Config.DBPath)
			if err != nil {
				t.Fatal(err)
			}
			os.WriteFile(db, b, 0o600)
			s, err := store.Open(ctx, db)
			if err != nil {
				t.Fatal(err)
			}
			for _, q := range append([]string{`DROP TRIGGER audit_no_update`, `DROP TRIGGER audit_no_delete`}, strings.Split(sql, "; ")...) {
				if _, err := s.DB().Exec(q); err != nil {
					t.Fatal(err)
				}
			}
			s.Close()
			t.Setenv("PORTAL_DB_PATH", db)
			err = auditVerify(ctx, nil)
			if err == nil || !strings.Contains(err.Error(), "BROKEN") || !strings.Contains(err.Error(), "last anchored record is "+strconv.FormatInt(anchored.Seq, 10)) {
				t.Fatalf("tampered trail: %v", err)
			}
		})
	}
}
