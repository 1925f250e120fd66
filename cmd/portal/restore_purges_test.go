package main

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ofsted-portal/evidence/policy"
	"github.com/ofsted-portal/evidence/portal"
	"github.com/ofsted-portal/evidence/portal/store"
)

// TestRestorePurgesAgain: a file purged (uploaded about the wrong child)
// after a backup was taken is purged again when that backup is restored:
// the restored database would otherwise list it to the team once more,
// its sealed name and receipt with it, though its objects are gone. The
// purge is recorded outside the database, signed, as a destruction is,
// and the restore applies it again. A file purged before the backup, and
// a file never purged, are as they were.
func TestRestorePurgesAgain(t *testing.T) {
	ctx := context.Background()
	d := newDrill(t, domainStack(t))
	d.open()
	defer func() { d.svc.Close() }()
	demo, err := d.svc.Store().VisitByReference(ctx, portal.DemoReference)
	if err != nil {
		t.Fatal(err)
	}
	d.upload(demo.ID, "1.01 Kept.pdf", "evidence that is kept")
	d.upload(demo.ID, "1.02 About another child.pdf", "evidence sent to the wrong visit")
	files, err := d.svc.Store().Files(ctx, demo.ID)
	if err != nil || len(files) != 2 {
		t.Fatalf("files: %d %v", len(files), err)
	}
	var kept, wrong store.File
	for _, f := range files {
		if f.Item == "1.01" {
			kept = f
		} else {
			wrong = f
		}
	}
	// The scanner found it infected: the team never saw it.
	if _, err := d.svc.Store().DB().Exec(`UPDATE files SET scan_status = 'infected' WHERE id = ?`, wrong.ID); err != nil {
		t.Fatal(err)
	}
	dir := d.backup()
	// Past fieldwork, the provider can no longer delete it: an
	// administrator with no part in the visit purges it.
	d.offset.Store(int64(60 * 24 * time.Hour))
	admin := d.person("ofsted", "admin@ofsted.example")
	acc, err := d.svc.Authorize(ctx, admin, policy.FilePurge, demo.ID, wrong.ID)
	if err != nil {
		t.Fatal(err)
	}
	if err := acc.Purge(ctx, "uploaded about the wrong child"); err != nil {
		t.Fatal(err)
	}
	out := d.restore(dir)
	t.Logf("%s", out)
	d.offset.Store(0)
	d.open()
	db := d.svc.Store()
	if _, err := db.File(ctx, demo.ID, wrong.ID); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("the file purged after the backup is back after its restore (%v)", err)
	}
	purged, err := db.PurgedFiles(ctx, demo.ID)
	if err != nil || len(purged) != 1 || purged[0].FileID != wrong.ID || purged[0].SHA256 != wrong.SHA256 {
		t.Errorf("purged files after the restore: %+v %v", purged, err)
	}
	if f, err := db.File(ctx, demo.ID, kept.ID); err != nil || !f.Live() {
		t.Errorf("the file never purged: %+v %v", f, err)
	}
	if !strings.Contains(out, "purged again: 1") {
		t.Errorf("the restore does not say it purged a file again:\n%s", out)
	}
	// The purge done again tells the lead inspector nothing of a file
	// they could never see, as the purge itself did not.
	var told int
	if err := db.DB().QueryRow(`SELECT COUNT(*) FROM notifications n JOIN members m ON n.recipient = 'member:' || m.id
		WHERE n.kind = 'file_purged' AND m.role = 'lead_inspector' AND m.visit_id = ?`, demo.ID).Scan(&told); err != nil {
		t.Fatal(err)
	}
	if told != 0 {
		t.Errorf("the purge done again by the restore tells the lead inspector of an infected file they never saw (%d notifications)", told)
	}
}

// TestRestorePurgesBeforeItDestroysAgain: a file purged after the backup
// of a visit whose destruction then began and did not finish before the
// database was lost. The restore destroyed the visit again first, from the
// restored rows, which still held the file, and skipped its purge after
// (the visit no longer live): the certificate listed the purged file among
// those destroyed on schedule, not apart as purged, and the purge (who,
// when, why) never came back. Purges are now applied again first.
func TestRestorePurgesBeforeItDestroysAgain(t *testing.T) {
	ctx := context.Background()
	d := newDrill(t, domainStack(t))
	d.cfg.DestructionNotice = 0
	d.opts = stopAt("key_destroyed")
	d.open()
	defer func() { d.svc.Close() }()

	// A visit of long ago, two files uploaded in its window, now past its
	// retention period.
	id := d.pastVisit("FV-PURGED", "1.01 Kept.pdf", "evidence destroyed on schedule", "1.02 About another child.pdf", "evidence sent to the wrong visit")
	admin := d.person("ofsted", "admin@ofsted.example")
	files, err := d.svc.Store().Files(ctx, id)
	if err != nil || len(files) != 2 {
		t.Fatalf("files: %d %v", len(files), err)
	}
	wrong := files[0]
	if wrong.Item != "1.02" {
		wrong = files[1]
	}
	dir := d.backup()
	purge, err := d.svc.Authorize(ctx, admin, policy.FilePurge, id, wrong.ID)
	if err != nil {
		t.Fatal(err)
	}
	if err := purge.Purge(ctx, "uploaded about the wrong child"); err != nil {
		t.Fatal(err)
	}
	if _, err := d.svc.RunRetention(ctx); err == nil {
		t.Fatal("the destruction was not stopped")
	}
	out := d.restore(dir)
	t.Logf("%s", out)
	d.opts = nil
	d.open()
	c := d.certificate(id)
	for _, f := range c.Files {
		if f.ID == wrong.ID {
			t.Errorf("the certificate lists the file purged before the destruction among those destroyed on schedule: %+v", c.Files)
		}
	}
	if len(c.Purged) != 1 || c.Purged[0].ID != wrong.ID {
		t.Errorf("the certificate's purged files: %+v, want the one purged", c.Purged)
	}
}

// TestBackupIsRecorded: portal backup copies every wrapped visit key and
// decides which destroyed keys a restore can bring back within the
// retention window, yet left nothing in the audit trail. It is recorded
// now, as the operator's act, with what the manifest says of the copy.
func TestBackupIsRecorded(t *testing.T) {
	ctx := context.Background()
	st := domainStack(t)
	st.Portal.Close()
	for k, v := range st.Env {
		t.Setenv(k, v)
	}
	t.Setenv("USER", "ops.person")
	dir := filepath.Join(t.TempDir(), "backup")
	if err := backupCmd(ctx, []string{dir}, &bytes.Buffer{}); err != nil {
		t.Fatal(err)
	}
	m, err := portal.ReadManifest(dir)
	if err != nil {
		t.Fatal(err)
	}
	db, err := portal.OpenDatabase(ctx, st.Config)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	recs, err := db.AuditRecords(ctx, store.AuditFilter{Action: "backup.taken"})
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 1 || recs[0].Role != "operator" || recs[0].ActorSubject != "operator:ops.person" || !strings.Contains(recs[0].Detail, m.SHA256) ||
		recs[0].Seq != m.AuditSeq+1 {
		t.Fatalf("the backup is recorded as %+v, want once, by the operator, naming its SHA-256, right after the records it holds (%d)", recs, m.AuditSeq)
	}
}

// TestRestoreDropsUploadsUnderWay: a resumable upload under way when the
// backup was taken, completed after it into a file that was then purged,
// is not taken up again by the restored database. Before, the restore
// left its row as the backup had it: the uploader resumed it, and the
// purged file, its id and name, was listed again over segments the purge
// had removed. Every unfinished upload is now dropped by the restore (its
// uploader sends the file again, as they do everything sent since the
// backup); its objects stay in the bucket, unlisted, as every upload's
// since the backup do.
func TestRestoreDropsUploadsUnderWay(t *testing.T) {
	ctx := context.Background()
	d := newDrill(t, domainStack(t))
	d.open()
	defer func() { d.svc.Close() }()
	demo, err := d.svc.Store().VisitByReference(ctx, portal.DemoReference)
	if err != nil {
		t.Fatal(err)
	}
	uploader := d.person("cafcass", "uploader@cafcass.example")
	up, err := d.svc.Authorize(ctx, uploader, policy.FileUpload, demo.ID, "")
	if err != nil {
		t.Fatal(err)
	}
	r, err := up.CreateResumable(ctx, portal.NewFile{Name: "1.02 About another child.pdf", Size: 5})
	if err != nil {
		t.Fatal(err)
	}
	dir := d.backup()
	_, f, err := up.Append(ctx, r, strings.NewReader("wrong"), nil)
	if err != nil || f == nil {
		t.Fatalf("completing the upload: %v (file %v)", err, f != nil)
	}
	d.offset.Store(int64(60 * 24 * time.Hour))
	acc, err := d.svc.Authorize(ctx, d.person("ofsted", "admin@ofsted.example"), policy.FilePurge, demo.ID, f.ID)
	if err != nil {
		t.Fatal(err)
	}
	if err := acc.Purge(ctx, "uploaded about the wrong child"); err != nil {
		t.Fatal(err)
	}
	d.restore(dir)
	d.offset.Store(0)
	d.open()
	db := d.svc.Store()
	if got, err := db.Resumable(ctx, demo.ID, r.ID); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("the upload under way at the backup is still there after the restore (offset %d, %v), to be taken up again", got.Offset(), err)
	}
	if up, err = d.svc.Authorize(ctx, d.person("cafcass", "uploader@cafcass.example"), policy.FileUpload, demo.ID, ""); err != nil {
		t.Fatal(err)
	}
	if _, f, err := up.Append(ctx, r, strings.NewReader("wrong"), nil); err == nil || f != nil {
		t.Errorf("the upload under way at the backup, resumed after the restore: %v (file %v), want it refused", err, f != nil)
	}
	if _, err := db.File(ctx, demo.ID, r.FileID); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("the file purged after the backup is back after the restore (%v)", err)
	}
}

// TestNoBackupDuringARestore: a backup asked for while a restore of the
// database is not finished is refused, and nothing is written. Before, the
// copy was written (every wrapped visit key in it) and the command said
// "not recorded in the audit trail" and succeeded: a backup the trail
// never heard of.
func TestNoBackupDuringARestore(t *testing.T) {
	ctx := context.Background()
	st := newDrill(t, domainStack(t)).store()
	if err := portal.BeginRestore(ctx, st, "0123456789abcdef0123456789abcdef", time.Now().Add(-time.Hour)); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "backup")
	if err := backupCmd(ctx, []string{dir}, &bytes.Buffer{}); err == nil {
		t.Error("a backup during a restore not finished succeeded")
	}
	if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a backup during a restore not finished left %s (%v)", dir, err)
	}
}

// TestUnrecordedBackupLeavesTheFolderAsItWas: a backup whose record the
// database refuses (busy, failing over) is not kept: what it wrote goes,
// and the folder the operator gave, made empty beforehand, stays. Before,
// the whole folder was removed, the operator's own with it.
func TestUnrecordedBackupLeavesTheFolderAsItWas(t *testing.T) {
	ctx := context.Background()
	st := newDrill(t, domainStack(t)).store()
	if st.Postgres() {
		t.Skip("the refusal is an SQLite trigger; the command's handling does not depend on the database")
	}
	if _, err := st.DB().Exec(`CREATE TRIGGER audit_refused BEFORE INSERT ON audit BEGIN SELECT RAISE(ABORT, 'database is locked'); END`); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "backup")
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := backupCmd(ctx, []string{dir}, &bytes.Buffer{}); err == nil {
		t.Fatal("a backup the trail refused to record succeeded")
	}
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatalf("the operator's backup folder is gone: %v", err)
	}
	if len(ents) != 0 {
		t.Errorf("a backup not recorded left %d files in the folder", len(ents))
	}
}

// TestTwoBackupsIntoOneFolder: two backups given the same folder at once
// (a scheduled one and one by hand): one is taken and recorded, the other
// refused, and neither removes what the other wrote. Before, both found
// the folder empty; the one that then found the other's copy in it
// removed that copy, already recorded in the trail, with its own.
func TestTwoBackupsIntoOneFolder(t *testing.T) {
	ctx := context.Background()
	d := newDrill(t, domainStack(t))
	dir := filepath.Join(t.TempDir(), "backup")
	var second error
	backupClaimed = func() {
		backupClaimed = func() {}
		second = backupCmd(ctx, []string{dir}, io.Discard)
	}
	t.Cleanup(func() { backupClaimed = func() {} })
	first := backupCmd(ctx, []string{dir}, io.Discard)
	if first != nil || second == nil || !strings.Contains(second.Error(), "being written by another backup") {
		t.Fatalf("two backups into one folder at once: %v and %v, want the first taken and the second refused as the folder is the first's", first, second)
	}
	m, err := portal.ReadManifest(dir)
	if err != nil {
		t.Fatalf("the backup taken is not whole in its folder (first: %v, second: %v): %v", first, second, err)
	}
	d.open()
	recs, err := d.svc.Store().AuditRecords(ctx, store.AuditFilter{Action: "backup.taken"})
	if err != nil || len(recs) != 1 || !strings.Contains(recs[0].Detail, m.SHA256) {
		t.Errorf("backups recorded: %+v (%v), want the one in the folder", recs, err)
	}
}

// TestBackupLeavesAnotherHostsFiles: a backup on another host, given the
// same shared folder (where this host's lock does not reach), puts its
// copy and manifest in the folder after this backup found it empty. This
// backup is refused, and the other's files stay as they were; nothing of
// this one is left. Before, it found the folder no longer empty and
// removed what it took for its own files: the other's copy and manifest.
func TestBackupLeavesAnotherHostsFiles(t *testing.T) {
	ctx := context.Background()
	d := newDrill(t, domainStack(t))
	dir := filepath.Join(t.TempDir(), "backup")
	theirs := map[string]string{"portal.db": "another host's copy", "portal.dump": "another host's dump", portal.BackupManifestName: "another host's manifest"}
	backupClaimed = func() {
		for name, content := range theirs {
			if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o600); err != nil {
				t.Error(err)
			}
		}
	}
	t.Cleanup(func() { backupClaimed = func() {} })
	err := backupCmd(ctx, []string{dir}, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "from another backup") {
		t.Errorf("a backup into a folder another host's backup wrote into meanwhile: %v, want it refused", err)
	}
	ents, rerr := os.ReadDir(dir)
	if rerr != nil {
		t.Fatalf("the folder holding another host's backup is gone: %v", rerr)
	}
	for _, e := range ents {
		if _, ok := theirs[e.Name()]; !ok {
			t.Errorf("the refused backup left %s in the folder", e.Name())
		}
	}
	for name, content := range theirs {
		if b, err := os.ReadFile(filepath.Join(dir, name)); err != nil || string(b) != content {
			t.Errorf("another host's %s after the refused backup: %q %v", name, b, err)
		}
	}
	d.open()
	if recs, err := d.svc.Store().AuditRecords(ctx, store.AuditFilter{Action: "backup.taken"}); err != nil || len(recs) != 0 {
		t.Errorf("the refused backup is recorded: %+v %v", recs, err)
	}
}
