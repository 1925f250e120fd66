package portal_test

import (
	"context"
	"errors"
	"io"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ofsted-portal/evidence/deploy/pgserver"
	"github.com/ofsted-portal/evidence/policy"
	"github.com/ofsted-portal/evidence/portal"
	"github.com/ofsted-portal/evidence/portal/store"
)

// TestUploadWhoseCommitAnswerIsLost: the database stores an upload's file,
// but its answer to the COMMIT never reaches the portal (the connection cut
// as it came back, the server stopped a moment after writing it). The file
// is in the database, with its receipt and upload.completed: its objects
// must stay. Before, the upload took the lost answer as a failure and
// removed every object of a file the database holds: a file listed, with a
// receipt, that no one could ever download again.
func TestUploadWhoseCommitAnswerIsLost(t *testing.T) {
	d := startDomainOn(t, nil, map[string]string{"PORTAL_SEGMENT_SIZE": "1MiB"})
	ctx := context.Background()
	v := d.demo()
	up := d.person("cafcass", "uploader@cafcass.example")
	acc, err := d.svc.Authorize(ctx, up, policy.FileUpload, v.ID, "")
	if err != nil {
		t.Fatal(err)
	}
	var lost atomic.Bool
	d.svc.Store().LoseCommitAnswers(func(audit []store.AuditRecord) error {
		for _, r := range audit {
			if r.Action == "upload.completed" && lost.CompareAndSwap(false, true) {
				return errors.New("unexpected EOF")
			}
		}
		return nil
	})
	t.Cleanup(func() { d.svc.Store().LoseCommitAnswers(nil) })
	const size = 3 << 20
	f, err := acc.Upload(ctx, portal.NewFile{Name: "1.05 Answer lost.zip", Size: size}, &stallingReader{n: size})
	if !lost.Load() {
		t.Fatal("the upload's commit was not reached")
	}
	var fileID string
	if err := d.svc.Store().DB().QueryRow(`SELECT object FROM audit WHERE action = 'upload.completed' AND visit_id = ?`, v.ID).Scan(&fileID); err != nil {
		t.Fatalf("the committed upload's record: %v", err)
	}
	if err != nil {
		t.Errorf("an upload the database stored was answered %v", err)
	} else if f.ID != fileID {
		t.Errorf("the upload answered file %s, the database holds %s", f.ID, fileID)
	}
	// Whatever a failed upload cleans up a moment later, and the
	// janitor's next rounds, leave the file whole.
	time.Sleep(3 * time.Second)
	d.offset.Store(int64(10 * time.Minute))
	d.svc.Sweep(ctx)
	if n, err := d.downloadAll(fileID); err != nil || n != size {
		left, _ := d.svc.Blobs().Versions(ctx, v.Bucket, fileID+"/")
		t.Fatalf("the stored file downloads %d bytes (%v), want %d; %d of its objects left", n, err, size, len(left))
	}
	if got := uploadTrail(t, d, v.ID, fileID); got != "upload.started:started: upload.completed:success:" {
		t.Fatalf("the upload's records: %s", got)
	}
}

// TestDownloadNotStartedIsNotRecorded: the inspection team's first
// download of a file is recorded, and the file marked as downloaded by
// the team, when the download opens. When the mark cannot be written (the
// file's row held past the statement timeout), the download is refused,
// and the trail must not say it happened. Before, the record was written
// first, in a transaction of its own: the trail said the file was
// downloaded, with no byte sent and no record of the cut.
func TestDownloadNotStartedIsNotRecorded(t *testing.T) {
	if !pgserver.TestDatabaseWanted() {
		t.Skip("row locks are PostgreSQL's: this runs in make test's PostgreSQL pass (PORTAL_TEST_DATABASE=postgres)")
	}
	d := startDomainOn(t, nil, map[string]string{"PORTAL_DB_STATEMENT_TIMEOUT": "1s"})
	ctx := context.Background()
	v := d.demo()
	up := d.person("cafcass", "uploader@cafcass.example")
	acc, err := d.svc.Authorize(ctx, up, policy.FileUpload, v.ID, "")
	if err != nil {
		t.Fatal(err)
	}
	f, err := acc.Upload(ctx, portal.NewFile{Name: "1.05 Held row.zip", Size: 1000}, &stallingReader{n: 1000})
	if err != nil {
		t.Fatal(err)
	}
	lead := d.person("ofsted", "lead@ofsted.example")
	check := func(what, file string, open func(acc *portal.Access) error) {
		t.Helper()
		conn, err := d.svc.Store().DB().Conn(ctx)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		tx, err := conn.BeginTx(ctx, nil)
		if err != nil {
			t.Fatal(err)
		}
		defer tx.Rollback()
		var id string
		if err := tx.QueryRowContext(ctx, `SELECT id FROM files WHERE id = $1 FOR UPDATE`, f.ID).Scan(&id); err != nil {
			t.Fatal(err)
		}
		acc, err := d.svc.Authorize(ctx, lead, policy.FileDownload, v.ID, file)
		if err != nil {
			t.Fatal(err)
		}
		if err := open(acc); err == nil {
			t.Fatalf("%s opened with the file's row held", what)
		}
		tx.Rollback()
		recs, err := d.svc.Store().AuditRecords(ctx, store.AuditFilter{VisitID: v.ID, Action: "file.download"})
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range recs {
			if r.Object == f.ID {
				t.Errorf("%s refused, but the trail has %s %s %s", what, r.Action, r.Outcome, r.Detail)
			}
		}
	}
	check("a download", f.ID, func(acc *portal.Access) error {
		dl, err := acc.OpenDownload(ctx, 0, 1000, false)
		if err == nil {
			dl.Close()
		}
		return err
	})
	check("an archive", "", func(acc *portal.Access) error {
		a, err := acc.PrepareArchive(ctx, []string{f.ID}, nil)
		if err == nil {
			a.WriteTo(ctx, io.Discard)
		}
		return err
	})
}
