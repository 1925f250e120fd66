package portal_test

import (
	"context"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ofsted-portal/evidence/portal"
	"github.com/ofsted-portal/evidence/portal/store"
)

// TestBackupManifest: a SQLite backup is the database at one moment with
// its manifest and without sessions; a copy that no longer matches its
// manifest is refused, and so is a backup into a folder already in use.
func TestBackupManifest(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	st, err := store.Open(ctx, filepath.Join(dir, "p.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if err := st.Audit(ctx, store.AuditRecord{Time: time.Now(), ActorSubject: "portal", Action: "test.act", Outcome: "success"}); err != nil {
		t.Fatal(err)
	}
	if err := st.Sessions(time.Now).CommitCtx(store.NewSession(ctx), "tok", []byte("x"), time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	backup := filepath.Join(dir, "backup")
	pub, key, _ := ed25519.GenerateKey(nil)
	m, err := portal.BackupSQLite(ctx, st, backup, key)
	if err != nil {
		t.Fatal(err)
	}
	read, err := portal.ReadManifest(backup)
	if err != nil || read.SHA256 != m.SHA256 || read.AuditSeq != 1 || read.Database != "sqlite" || read.SchemaVersion == 0 {
		t.Fatalf("manifest %+v: %v", read, err)
	}
	// Signed with the signing key: changing any of it, or another
	// deployment's key, fails.
	other, _, _ := ed25519.GenerateKey(nil)
	if err := portal.VerifyManifest(read, other, pub); err != nil {
		t.Fatalf("the manifest does not verify with the key that signed it: %v", err)
	}
	if err := portal.VerifyManifest(read, other); err == nil {
		t.Fatal("the manifest verifies with another key")
	}
	for name, change := range map[string]func(*portal.Manifest){
		"audit head": func(m *portal.Manifest) { m.AuditHash = strings.Repeat("0", 64) },
		"digest":     func(m *portal.Manifest) { m.SHA256 = strings.Repeat("0", 64) },
		"size":       func(m *portal.Manifest) { m.Size++ },
		"time":       func(m *portal.Manifest) { m.CreatedAt = m.CreatedAt.Add(time.Second) },
		"key":        func(m *portal.Manifest) { m.SigningKey = "" },
	} {
		changed := read
		change(&changed)
		if err := portal.VerifyManifest(changed, pub); err == nil {
			t.Errorf("a manifest with its %s changed verifies", name)
		}
	}
	unsigned := read
	unsigned.Signature, unsigned.SigningKey = "", ""
	if err := portal.VerifyManifest(unsigned, pub); !errors.Is(err, portal.ErrUnsignedBackup) {
		t.Errorf("an unsigned manifest: %v, want %v", err, portal.ErrUnsignedBackup)
	}
	cp, err := store.Open(ctx, filepath.Join(backup, m.File))
	if err != nil {
		t.Fatal(err)
	}
	n, err := cp.Sessions(time.Now).Count(ctx)
	cp.Close()
	if err != nil || n != 0 {
		t.Fatalf("%d sessions in the backup (%v)", n, err)
	}
	if _, err := portal.ReadManifest(backup); err != nil {
		t.Fatalf("opening the copy changed it: %v", err)
	}
	if _, err := portal.BackupSQLite(ctx, st, backup, key); err == nil || !strings.Contains(err.Error(), "not empty") {
		t.Fatalf("a backup into a used folder: %v", err)
	}
	f, err := os.OpenFile(filepath.Join(backup, m.File), os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.Write([]byte{0})
	f.Close()
	if _, err := portal.ReadManifest(backup); err == nil || !strings.Contains(err.Error(), "does not match its manifest") {
		t.Fatalf("a damaged copy: %v", err)
	}
}

// TestGoldenBackupManifest: a manifest of format 1, as an earlier build
// wrote it, is read by every later one (a backup outlives releases).
func TestGoldenBackupManifest(t *testing.T) {
	m, err := portal.ReadManifest("testdata/backup-v1")
	if err != nil {
		t.Fatal(err)
	}
	if m.Format != 1 || m.Database != "sqlite" || m.File != "portal.db" || m.AuditSeq != 412 || m.SchemaVersion != 11 ||
		m.LastCheckpoint == nil || m.LastCheckpoint.Seq != 400 || !m.CreatedAt.Equal(time.Date(2026, 11, 30, 2, 0, 0, 0, time.UTC)) {
		t.Fatalf("manifest-v1 reads as %+v", m)
	}
}

// TestGoldenSignedBackupManifest: a signed manifest, as this build writes
// it, verifies in every later one with the key that signed it (the key is
// made from a fixed seed, and Ed25519 signatures are deterministic).
func TestGoldenSignedBackupManifest(t *testing.T) {
	const path = "testdata/backup-manifest-signed-v1.json"
	key := ed25519.NewKeyFromSeed([]byte("backup-manifest-golden-seed-0001"))
	// -update is declared by the package's own tests (sessioncodec_test.go).
	if f := flag.Lookup("update"); f != nil && f.Value.String() == "true" {
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, "portal.db"), []byte("a database copy"), 0o600); err != nil {
			t.Fatal(err)
		}
		m := portal.Manifest{Format: 1, CreatedAt: time.Date(2026, 12, 5, 2, 0, 0, 0, time.UTC), PortalVersion: "v1.5.0 0123abcd", Database: "sqlite",
			File: "portal.db", SchemaVersion: 39, AuditSeq: 2_000_112, AuditHash: strings.Repeat("5d41402abc4b2a76", 4),
			LastCheckpoint: &store.Checkpoint{Seq: 2_000_100, Hash: strings.Repeat("9e107d9d372bb682", 4), SignedAt: time.Date(2026, 12, 5, 1, 58, 0, 0, time.UTC), PublicKey: "MCowBQYDK2VwAyEA", Signature: "c2ln", Format: 1}}
		if err := portal.WriteManifest(dir, &m, key); err != nil {
			t.Fatal(err)
		}
		b, err := os.ReadFile(filepath.Join(dir, portal.BackupManifestName))
		if err != nil {
			t.Fatal(err)
		}
		os.WriteFile(path, b, 0o644)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var m portal.Manifest
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	if err := portal.VerifyManifest(m, key.Public().(ed25519.PublicKey)); err != nil {
		t.Fatalf("the golden signed manifest: %v", err)
	}
	if m.AuditSeq != 2_000_112 || m.SHA256 == "" || m.LastCheckpoint == nil || m.LastCheckpoint.Seq != 2_000_100 {
		t.Fatalf("the golden signed manifest reads as %+v", m)
	}
}

// TestBackupRecordedIsThisBackups: whether a backup whose record's answer
// was lost was recorded is read from the record of that backup, not from
// the latest one. Another backup may have been recorded since, and two
// copies of a portal that did not change between them hash alike: each
// copy holds every wrapped visit key, and each is recorded on its own.
func TestBackupRecordedIsThisBackups(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	st, err := store.Open(ctx, filepath.Join(dir, "p.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	_, key, _ := ed25519.GenerateKey(nil)
	first, err := portal.BackupSQLite(ctx, st, filepath.Join(dir, "first"), key)
	if err != nil {
		t.Fatal(err)
	}
	second, err := portal.BackupSQLite(ctx, st, filepath.Join(dir, "second"), key)
	if err != nil {
		t.Fatal(err)
	}
	if first.SHA256 != second.SHA256 {
		t.Fatalf("two copies of a portal that did not change differ (%s, %s): the test needs them alike", first.SHA256, second.SHA256)
	}
	op := portal.OperatorActor("ops", "backup")
	if err := portal.RecordBackup(ctx, st, op, second); err != nil {
		t.Fatal(err)
	}
	if portal.BackupRecorded(ctx, st, first) {
		t.Error("a backup never recorded is taken for recorded: another copy, alike, was recorded")
	}
	if err := portal.RecordBackup(ctx, st, op, first); err != nil {
		t.Fatal(err)
	}
	third, err := portal.BackupSQLite(ctx, st, filepath.Join(dir, "third"), key)
	if err != nil {
		t.Fatal(err)
	}
	if err := portal.RecordBackup(ctx, st, op, third); err != nil {
		t.Fatal(err)
	}
	for name, m := range map[string]portal.Manifest{"first": first, "second": second, "third": third} {
		if !portal.BackupRecorded(ctx, st, m) {
			t.Errorf("the %s backup, recorded, is taken for not recorded", name)
		}
	}
}
