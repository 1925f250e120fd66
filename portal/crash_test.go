package portal_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ofsted-portal/evidence/deploy/pgserver"
	"github.com/ofsted-portal/evidence/policy"
	"github.com/ofsted-portal/evidence/portal"
	"github.com/ofsted-portal/evidence/portal/store"
)

// TestMain runs this test binary as a portal process that a test kills
// part-way through an upload, when asked to.
func TestMain(m *testing.M) {
	if os.Getenv("PORTAL_TEST_UPLOAD_THEN_DIE") != "" {
		if err := uploadThenDie(); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(2)
		}
		os.Exit(0) // not reached: the upload kills the process
	}
	os.Exit(pgserver.RunTests(m))
}

// uploadThenDie uploads a file as the demo uploader and kills its own
// process (SIGKILL: nothing runs after it) once 2 MiB of 3 have been read.
func uploadThenDie() error {
	ctx := context.Background()
	cfg, err := portal.LoadConfig(os.Getenv)
	if err != nil {
		return err
	}
	svc, err := portal.New(ctx, cfg)
	if err != nil {
		return err
	}
	var issuer string
	for _, p := range cfg.IdPs {
		if p.Name == "cafcass" {
			issuer = p.Issuer
		}
	}
	a, err := svc.SignIn(ctx, portal.Actor{Via: "test"}, portal.Identity{IdP: "cafcass", Issuer: issuer, Subject: "sub-uploader@cafcass.example", Email: "uploader@cafcass.example"})
	if err != nil {
		return err
	}
	acc, err := svc.Authorize(ctx, a, policy.FileUpload, os.Getenv("PORTAL_TEST_VISIT"), "")
	if err != nil {
		return err
	}
	_, err = acc.Upload(ctx, portal.NewFile{Name: "1.05 Cut by a crash.zip", Size: 3 << 20}, &failingReader{n: 2<<20 + 1000, die: true})
	return fmt.Errorf("the upload returned: %v", err)
}

// TestCrashCutUploadCleanedUp: a plain upload whose process is killed
// part-way leaves segments in the bucket and its pending record; the next
// process's janitor leaves it alone while it might still be live, then
// within minutes removes what it stored and records upload.failed against
// its upload.started.
func TestCrashCutUploadCleanedUp(t *testing.T) {
	d := startDomainOn(t, nil, map[string]string{"PORTAL_SEGMENT_SIZE": "1MiB"})
	ctx := context.Background()
	v := d.demo()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "PORTAL_TEST_UPLOAD_THEN_DIE=1", "PORTAL_TEST_VISIT="+v.ID)
	for k, val := range d.Env {
		cmd.Env = append(cmd.Env, k+"="+val)
	}
	out, err := cmd.CombinedOutput()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
		t.Fatalf("the uploading process was not killed: %v\n%s", err, out)
	}

	pending := func() []string {
		rows, err := d.svc.Store().DB().Query(`SELECT file_id FROM pending_uploads WHERE visit_id = ?`, v.ID)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		var ids []string
		for rows.Next() {
			var id string
			rows.Scan(&id)
			ids = append(ids, id)
		}
		return ids
	}
	ids := pending()
	if len(ids) != 1 {
		t.Fatalf("pending uploads after the crash: %v", ids)
	}
	fileID := ids[0]
	left, err := d.svc.Blobs().Versions(ctx, v.Bucket, fileID+"/")
	if err != nil || len(left) < 2 {
		t.Fatalf("the crashed upload's segments: %d (%v), want those it stored", len(left), err)
	}

	// A minute on, it could still be a live upload in another process.
	d.offset.Store(int64(time.Minute))
	d.svc.Sweep(ctx)
	if ids := pending(); len(ids) != 1 {
		t.Fatalf("a possibly live upload was swept after a minute: %v", ids)
	}
	// Within minutes, it is taken as cut off.
	d.offset.Store(int64(3 * time.Minute))
	d.svc.Sweep(ctx)
	if ids := pending(); len(ids) != 0 {
		t.Fatalf("pending after the janitor: %v", ids)
	}
	if left, err := d.svc.Blobs().Versions(ctx, v.Bucket, fileID+"/"); err != nil || len(left) != 0 {
		t.Fatalf("objects left: %d %v", len(left), err)
	}
	if got := uploadTrail(t, d, v.ID, fileID); got != "upload.started:started: upload.failed:failure:interrupted" {
		t.Fatalf("the cut upload's records: %s", got)
	}
}

// uploadTrail is an upload's records, each as action:outcome:reason.
func uploadTrail(t *testing.T, d *domain, visitID, fileID string) string {
	t.Helper()
	recs, err := d.svc.Store().AuditRecords(context.Background(), store.AuditFilter{VisitID: visitID, Actions: []string{"upload.started", "upload.completed", "upload.failed"}})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, r := range recs {
		if r.Object != fileID {
			continue
		}
		var detail struct{ Reason string }
		json.Unmarshal([]byte(r.Detail), &detail)
		got = append(got, r.Action+":"+r.Outcome+":"+detail.Reason)
	}
	return strings.Join(got, " ")
}
