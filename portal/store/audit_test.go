package store

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"testing"
	"time"
)

func chainOf(t *testing.T, n int) (*Store, ed25519.PrivateKey) {
	t.Helper()
	s := openTest(t)
	ctx := context.Background()
	for i := 0; i < n; i++ {
		if err := s.Audit(ctx, AuditRecord{Time: time.Now(), ActorEmail: "lead@ofsted.example", Action: "file.download", Object: fmt.Sprintf("f%d", i), Outcome: "success"}); err != nil {
			t.Fatal(err)
		}
	}
	_, key, _ := ed25519.GenerateKey(nil)
	seq, hash, _ := s.AuditHead(ctx)
	if err := s.AddCheckpoint(ctx, SignCheckpoint(seq, hash, time.Now(), key)); err != nil {
		t.Fatal(err)
	}
	return s, key
}

// tamper runs SQL as an attacker with the database file would: with the
// append-only triggers dropped.
func tamper(t *testing.T, s *Store, q string) {
	t.Helper()
	drop := []string{`DROP TRIGGER audit_no_update`, `DROP TRIGGER audit_no_delete`}
	if s.Postgres() {
		drop = []string{`DROP TRIGGER audit_no_update ON audit`, `DROP TRIGGER audit_no_delete ON audit`}
	}
	for _, stmt := range append(drop, q) {
		if _, err := s.DB().Exec(stmt); err != nil {
			t.Fatalf("%s: %v", stmt, err)
		}
	}
}

func verify(t *testing.T, s *Store, pub ed25519.PublicKey) error {
	t.Helper()
	ctx := context.Background()
	recs, _ := s.AuditRecords(ctx, AuditFilter{})
	cps, _ := s.Checkpoints(ctx)
	return VerifyAudit(recs, cps, pub)
}

func TestAuditChainDetectsTampering(t *testing.T) {
	for _, tc := range []struct {
		name string
		sql  string
		seq  int64
	}{
		{"edited record", `UPDATE audit SET actor_email = 'someone@else.example' WHERE seq = 3`, 3},
		{"edited record with its hash recomputed", ``, 4},
		{"deleted record", `DELETE FROM audit WHERE seq = 2`, 2},
		{"reordered records", `UPDATE audit SET seq = 100 WHERE seq = 2; UPDATE audit SET seq = 2 WHERE seq = 3; UPDATE audit SET seq = 3 WHERE seq = 100`, 2},
		{"records deleted from the end", `DELETE FROM audit WHERE seq >= 4`, 5},
		// The same instant in another form: the hash is over the instant,
		// but a filter by date compares the text, and the record would
		// fall out of a day's export.
		{"time written in another form", `time`, 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, key := chainOf(t, 5)
			pub := key.Public().(ed25519.PublicKey)
			if err := verify(t, s, pub); err != nil {
				t.Fatalf("intact chain: %v", err)
			}
			if tc.sql == "time" {
				recs, _ := s.AuditRecords(context.Background(), AuditFilter{})
				other := recs[2].Time.In(time.FixedZone("", 3600)).Format("2006-01-02T15:04:05.000000000-07:00")
				tc.sql = fmt.Sprintf(`UPDATE audit SET time = '%s' WHERE seq = 3`, other)
			}
			if tc.sql == "" {
				// Rewrite record 4 and fix up its own hash: the next link breaks.
				recs, _ := s.AuditRecords(context.Background(), AuditFilter{})
				r := recs[3]
				r.Outcome = "failure"
				tamper(t, s, fmt.Sprintf(`UPDATE audit SET outcome = 'failure', hash = '%s' WHERE seq = 4`, ChainHash(r)))
				tc.seq = 5
			} else {
				tamper(t, s, tc.sql)
			}
			err := verify(t, s, pub)
			var ce *ChainError
			if !errors.As(err, &ce) || ce.Seq != tc.seq {
				t.Fatalf("err = %v, want a break at record %d", err, tc.seq)
			}
		})
	}
}

func TestCheckpointMustBeSignedByTrustedKey(t *testing.T) {
	s, _ := chainOf(t, 3)
	_, other, _ := ed25519.GenerateKey(nil)
	if err := verify(t, s, other.Public().(ed25519.PublicKey)); err == nil {
		t.Fatal("a checkpoint verified with an untrusted key")
	}
}

func TestAuditIsAppendOnly(t *testing.T) {
	s, _ := chainOf(t, 2)
	if _, err := s.DB().Exec(`UPDATE audit SET outcome = 'x'`); err == nil {
		t.Fatal("update allowed")
	}
	if _, err := s.DB().Exec(`DELETE FROM audit`); err == nil {
		t.Fatal("delete allowed")
	}
}

// TestFailedAuditWriteFailsTheAct: when the record cannot be written, the
// act it records does not happen.
func TestFailedAuditWriteFailsTheAct(t *testing.T) {
	ctx := context.Background()
	s := openTest(t)
	now := time.Now()
	v := Visit{ID: "v1", Reference: "FV-1", TitleSealed: []byte("x"), Provider: "Cafcass", RetentionDays: 30, NotificationDate: now, FieldworkStart: now,
		State: "active", Bucket: "b1", CreatedAt: now, CreatedBy: "system"}
	if err := s.CreateVisit(ctx, v, VisitKey{VisitID: "v1", Wrapped: []byte("w"), Fingerprint: "f", CreatedAt: now}, nil, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := s.DB().Exec(`ALTER TABLE audit RENAME TO audit_gone`); err != nil {
		t.Fatal(err)
	}
	_, _, err := s.PutMember(ctx, Member{VisitID: "v1", Email: "x@ofsted.example", Role: "inspector"}, now, AuditRecord{Time: now})
	if err == nil {
		t.Fatal("member added without its audit record")
	}
	if ms, _ := s.Members(ctx, "v1"); len(ms) != 0 {
		t.Fatalf("the act happened anyway: %v", ms)
	}
}

// TestConcurrentAppendsFormOneChain: appends from many connections at once
// (as from several requests, or several portal instances on one
// PostgreSQL) form one linear chain, every record once.
func TestConcurrentAppendsFormOneChain(t *testing.T) {
	s := openTest(t)
	ctx := context.Background()
	const writers, each = 8, 40
	errs := make(chan error, writers)
	for w := 0; w < writers; w++ {
		go func(w int) {
			var err error
			for i := 0; i < each && err == nil; i++ {
				err = s.Audit(ctx, AuditRecord{Time: time.Now(), Action: "test.append", Object: fmt.Sprintf("w%d-%d", w, i), Outcome: "success"})
			}
			errs <- err
		}(w)
	}
	for w := 0; w < writers; w++ {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	recs, err := s.AuditRecords(ctx, AuditFilter{})
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, r := range recs {
		seen[r.Object] = true
	}
	if len(recs) != writers*each || len(seen) != writers*each {
		t.Fatalf("%d records, %d distinct, want %d", len(recs), len(seen), writers*each)
	}
	if err := VerifyAudit(recs, nil, nil); err != nil {
		t.Fatalf("the chain forked or broke: %v", err)
	}
}
