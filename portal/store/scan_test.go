package store

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"
)

// TestScanResult: a verdict is recorded once, with its audit record, and
// only on a file still waiting for one; the worker finds waiting files of
// every visit; turning scanning off releases them as unscanned.
func TestScanResult(t *testing.T) {
	ctx := context.Background()
	s := openTest(t)
	now := time.Now()
	for _, id := range []string{"v1", "v2"} {
		if err := s.CreateVisit(ctx, Visit{ID: id, Reference: "FV-" + id, TitleSealed: []byte("t"), Provider: "Cafcass", RetentionDays: 30, NotificationDate: now, FieldworkStart: now,
			State: "active", Bucket: "b" + id, CreatedAt: now, CreatedBy: "system"}, VisitKey{VisitID: id, Wrapped: []byte("w"), Fingerprint: "f", CreatedAt: now}, nil, nil); err != nil {
			t.Fatal(err)
		}
	}
	u, _ := s.SignIn(ctx, "https://i", "sub", "a@x.example", "A", nil, now)
	commit := func(visit, id, scan string) {
		t.Helper()
		if err := s.BeginUpload(ctx, id, visit, "u1", now); err != nil {
			t.Fatal(err)
		}
		if err := s.CommitFile(ctx, File{ID: id, VisitID: visit, NameSealed: []byte("n"), Item: "1.01", SHA256: "x", SegmentSize: 1, Segments: 1, UploadedBy: u.ID, UploadedAt: now, Scan: scan}); err != nil {
			t.Fatal(err)
		}
	}
	commit("v1", "f-wait", ScanScanning)
	commit("v2", "f-wait2", ScanScanning)
	commit("v1", "f-clean", ScanClean)
	commit("v1", "f-old", "") // stored without a status: unscanned

	if f, err := s.File(ctx, "v1", "f-old"); err != nil || f.Scan != ScanUnscanned {
		t.Fatalf("a file committed without a status: %+v %v", f, err)
	}
	waiting, err := s.FilesToScan(ctx, []string{ScanScanning}, 1<<30, "", 10)
	if err != nil || len(waiting) != 2 {
		t.Fatalf("files to scan: %d %v", len(waiting), err)
	}
	// Paged by id: each page starts after the last id of the one before.
	first, err := s.FilesToScan(ctx, []string{ScanScanning}, 1<<30, "", 1)
	if err != nil || len(first) != 1 {
		t.Fatalf("first page: %d %v", len(first), err)
	}
	second, err := s.FilesToScan(ctx, []string{ScanScanning}, 1<<30, first[0].ID, 1)
	if err != nil || len(second) != 1 || second[0].ID <= first[0].ID {
		t.Fatalf("second page after %s: %+v %v", first[0].ID, second, err)
	}
	if rest, err := s.FilesToScan(ctx, []string{ScanScanning}, 1<<30, second[0].ID, 1); err != nil || len(rest) != 0 {
		t.Fatalf("after the last: %+v %v", rest, err)
	}
	// Only what needs an administrator's eye is counted (reading every
	// clean file's row would grow with the files held).
	if counts, err := s.ScanCounts(ctx); err != nil || counts[ScanScanning] != 2 || len(counts) != 1 {
		t.Fatalf("counts: %v %v", counts, err)
	}
	before, _, _ := s.AuditHead(ctx)
	rec := AuditRecord{Time: now, ActorSubject: "portal", Role: "system", VisitID: "v1", Action: "file.infected", Object: "f-wait", Outcome: "infected", Detail: `{"signature":"Eicar"}`}
	if err := s.SetScanResult(ctx, "v1", "f-wait", ScanInfected, "Eicar", now, rec); err != nil {
		t.Fatal(err)
	}
	if f, _ := s.File(ctx, "v1", "f-wait"); f.Scan != ScanInfected || f.ScanSignature != "Eicar" || f.ScannedAt.IsZero() {
		t.Fatalf("after the verdict: %+v", f)
	}
	if counts, err := s.ScanCounts(ctx); err != nil || counts[ScanScanning] != 1 || counts[ScanInfected] != 1 {
		t.Fatalf("counts after the verdict: %v %v", counts, err)
	}
	// A second verdict (another instance) changes nothing and records nothing.
	if err := s.SetScanResult(ctx, "v1", "f-wait", ScanClean, "", now, rec); !errors.Is(err, ErrNotFound) {
		t.Fatalf("a second verdict: %v", err)
	}
	if err := s.SetScanResult(ctx, "v1", "f-clean", ScanClean, "", now, rec); !errors.Is(err, ErrNotFound) {
		t.Fatalf("a second clean verdict on a clean file: %v", err)
	}
	if after, _, _ := s.AuditHead(ctx); after != before+1 {
		t.Fatalf("audit records: %d before, %d after; want one more", before, after)
	}
	// An infected verdict on a file another instance found clean (its
	// scanner's signatures older) wins, recorded: the file is withheld.
	// Before, it was dropped, with no record, while the infected count
	// (and its alert) went up.
	over := rec
	over.Object, over.Detail = "f-clean", `{"scan":"infected","was":"scanning","signature":"X"}` // as the scanning instance read it
	if err := s.SetScanResult(ctx, "v1", "f-clean", ScanInfected, "X", now, over); err != nil {
		t.Fatalf("an infected verdict on a clean file: %v, want it recorded", err)
	}
	// Its record says what it overturned: the file was clean, and may
	// have been served.
	if recs, err := s.AuditRecords(ctx, AuditFilter{Action: "file.infected", Object: "f-clean"}); err != nil || len(recs) != 1 || !strings.Contains(recs[0].Detail, `"was":"clean"`) {
		t.Fatalf("the record of the verdict that overturned a clean one: %+v %v, want it to say the file was clean", recs, err)
	}
	if f, _ := s.File(ctx, "v1", "f-clean"); f.Scan != ScanInfected || f.ScanSignature != "X" {
		t.Fatalf("the clean file found infected later: %+v", f)
	}
	if after, _, _ := s.AuditHead(ctx); after != before+2 {
		t.Fatalf("audit records: %d before, %d after; want two more", before, after)
	}
	// An operator's release serves a waiting file unscanned.
	release := AuditRecord{Time: now, ActorSubject: "operator:op", Role: "operator", VisitID: "v2", Action: "file.scan_released", Object: "f-wait2", Outcome: "success"}
	if err := s.SetScanResult(ctx, "v2", "f-wait2", ScanUnscanned, "", now, release); err != nil {
		t.Fatalf("release: %v", err)
	}
	if f, _ := s.File(ctx, "v2", "f-wait2"); f.Scan != ScanUnscanned {
		t.Fatalf("released: %+v", f)
	}
}
