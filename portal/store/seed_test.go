package store

import (
	"context"
	"crypto/ed25519"
	"fmt"
	"testing"
	"time"
)

// TestSeedWritesWhatTheActsWrite: bulk-loaded users, members, files and
// audit records read back through the ordinary queries, the seeded chain
// continues the one the acts wrote and verifies, a member seeded by email
// binds at sign-in, and a destroyed visit loses its key and files.
func TestSeedWritesWhatTheActsWrite(t *testing.T) {
	ctx := context.Background()
	s := openTest(t)
	now := time.Now().UTC()
	if err := s.Audit(ctx, AuditRecord{Time: now, Action: "portal.started", Outcome: "success"}); err != nil {
		t.Fatal(err)
	}
	var users []User
	for i := range 3 {
		users = append(users, User{ID: fmt.Sprintf("u%d", i), Issuer: "https://idp.example", Subject: fmt.Sprintf("s%d", i), Email: fmt.Sprintf("p%d@x.example", i), Name: "P", CreatedAt: now})
	}
	if err := s.SeedUsers(ctx, users); err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"v1", "v2"} {
		v := Visit{ID: id, Reference: "FV-" + id, TitleSealed: []byte("x"), Provider: "Cafcass", RetentionDays: 30, NotificationDate: now, FieldworkStart: now, State: "active", Bucket: "b" + id, CreatedAt: now, CreatedBy: "u0"}
		if err := s.CreateVisit(ctx, v, VisitKey{VisitID: id, Wrapped: []byte("w"), Fingerprint: "f", CreatedAt: now}, nil, nil); err != nil {
			t.Fatal(err)
		}
	}
	members := []Member{
		{ID: "m1", VisitID: "v1", Role: "lead_inspector", Issuer: "https://idp.example", Subject: "s1", UserID: "u1", CreatedAt: now, UpdatedAt: now},
		{ID: "m2", VisitID: "v1", Role: "inspector", Email: "new@x.example", Issuer: "https://idp.example", CreatedAt: now, UpdatedAt: now},
	}
	if err := s.SeedMembers(ctx, members); err != nil {
		t.Fatal(err)
	}
	var files []SeededFile
	for i := range 2500 { // more than one statement's worth
		files = append(files, SeededFile{File: File{ID: fmt.Sprintf("f%05d", i), VisitID: "v1", NameSealed: []byte{byte(i)}, Item: "1.01", Size: 10, SHA256: "00",
			SegmentSize: 32 << 20, Segments: 1, HeaderSize: 200, SegmentMACs: make([]byte, 32), UploadedBy: "u0", UploadedAt: now}, NameIndex: []byte(fmt.Sprintf("n%d", i))})
	}
	files = append(files, SeededFile{File: File{ID: "g1", VisitID: "v2", NameSealed: []byte{1}, Size: 1, SHA256: "00", SegmentSize: 1, Segments: 1, SegmentMACs: make([]byte, 32), UploadedBy: "u0", UploadedAt: now}, NameIndex: []byte("g")})
	if err := s.SeedFiles(ctx, files); err != nil {
		t.Fatal(err)
	}
	// A row without segment MACs is one stored before they were
	// recorded: the seed writes none unless told to.
	legacy := SeededFile{File: File{ID: "old", VisitID: "v2", NameSealed: []byte{2}, Size: 1, SHA256: "00", SegmentSize: 1, Segments: 1, UploadedBy: "u0", UploadedAt: now}, NameIndex: []byte("old")}
	if err := s.SeedFiles(ctx, []SeededFile{legacy}); err == nil {
		t.Error("seeded a file without segment MACs")
	}
	legacy.ID = "old2"
	if err := s.InsertFiles(ctx, []File{legacy.File}); err == nil {
		t.Error("inserted a seeded file without segment MACs")
	}
	if got, err := s.Files(ctx, "v1"); err != nil || len(got) != 2500 {
		t.Fatalf("files of v1: %d, %v", len(got), err)
	}
	if m, err := s.MembershipOf(ctx, "v1", "u1"); err != nil || m.Role != "lead_inspector" {
		t.Fatalf("bound member: %+v, %v", m, err)
	}
	u, err := s.SignIn(ctx, "https://idp.example", "s9", "new@x.example", "N", []string{"inspector"}, now)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.MembershipOf(ctx, "v1", u.ID); err != nil {
		t.Fatalf("a member seeded by email did not bind: %v", err)
	}

	recs := make([]AuditRecord, 70000) // more than one transaction's worth
	for i := range recs {
		recs[i] = AuditRecord{Time: now.Add(time.Duration(i) * time.Millisecond), ActorEmail: "p1@x.example", VisitID: "v1", Action: "file.downloaded", Object: fmt.Sprintf("f%05d", i%2500), Outcome: "success"}
	}
	seq, hash, err := s.SeedAudit(ctx, recs)
	if err != nil {
		t.Fatal(err)
	}
	if hs, hh, _ := s.AuditHead(ctx); seq != hs || hash != hh || seq < 70001 {
		t.Fatalf("head %d %s, seeded %d %s", hs, hh, seq, hash)
	}
	if err := s.Audit(ctx, AuditRecord{Time: now, Action: "portal.stopped", Outcome: "success"}); err != nil {
		t.Fatal(err)
	}
	pub, key, _ := ed25519.GenerateKey(nil)
	seq, hash, _ = s.AuditHead(ctx)
	if err := s.AddCheckpoint(ctx, SignCheckpoint(seq, hash, now, key)); err != nil {
		t.Fatal(err)
	}
	if err := verify(t, s, pub); err != nil {
		t.Fatalf("the seeded chain does not verify: %v", err)
	}

	if err := s.SeedDestroyed(ctx, []string{"v2"}, now); err != nil {
		t.Fatal(err)
	}
	if v, err := s.Visit(ctx, "v2"); err != nil || v.State != "destroyed" {
		t.Fatalf("destroyed visit: %+v, %v", v, err)
	}
	if _, err := s.WrappedKey(ctx, "v2"); err != ErrNotFound {
		t.Fatalf("a destroyed visit kept its key: %v", err)
	}
	if got, _ := s.Files(ctx, "v2"); len(got) != 0 {
		t.Fatalf("a destroyed visit kept %d files", len(got))
	}
}
