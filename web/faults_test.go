package web_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"

	"github.com/ofsted-portal/evidence/deploy/devstack"
	"github.com/ofsted-portal/evidence/portal/store"
)

// TestReadinessAnswersWhateverIsDown: with the object store frozen (a
// process that accepts connections and never answers), /readyz still
// answers within a second, and says the portal is not ready.
func TestReadinessAnswersWhateverIsDown(t *testing.T) {
	ts := startStack(t)
	b := ts.newBrowser(t)
	// Ready first: the portal's first check (which tests the store) may
	// take longer than /readyz waits on a loaded machine, and is then
	// answered as failing until it ends.
	for deadline := time.Now().Add(15 * time.Second); ; time.Sleep(200 * time.Millisecond) {
		resp := b.get("/readyz")
		resp.Body.Close()
		if resp.StatusCode == http.StatusOK {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("/readyz: %d, want 200 before the store is frozen", resp.StatusCode)
		}
	}
	pid := ts.MinIO.Pid()
	if err := syscall.Kill(pid, syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	defer syscall.Kill(pid, syscall.SIGCONT)
	deadline := time.Now().Add(10 * time.Second)
	for {
		start := time.Now()
		resp := b.get("/readyz")
		took := time.Since(start)
		var r readyResp
		json.NewDecoder(resp.Body).Decode(&r)
		resp.Body.Close()
		if took > time.Second {
			t.Fatalf("/readyz took %s with the store frozen", took)
		}
		if resp.StatusCode == http.StatusServiceUnavailable && !r.Ready {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("/readyz still %d %+v with the store frozen", resp.StatusCode, r)
		}
		time.Sleep(200 * time.Millisecond)
	}
	syscall.Kill(pid, syscall.SIGCONT)
	deadline = time.Now().Add(15 * time.Second)
	for resp := b.get("/readyz"); resp.StatusCode != http.StatusOK; resp = b.get("/readyz") {
		resp.Body.Close()
		if time.Now().After(deadline) {
			t.Fatal("/readyz did not recover once the store answered again")
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// TestMalformedIDs: an id the portal could not have made is "not found",
// never "damaged in storage", and costs no lookup in the store.
func TestMalformedIDs(t *testing.T) {
	ts := startStack(t)
	v := ts.demoVisit(t)
	lead := ts.signIn(t, "ofsted", "lead@ofsted.example")
	admin := ts.signIn(t, "ofsted", "admin@ofsted.example")
	f := ts.signIn(t, "cafcass", "uploader@cafcass.example").uploadItem(v.ID, "1.01 Structure.pdf", "", []byte("structure"))
	for _, path := range []string{
		"/api/v1/visits/not-a-visit",
		"/api/v1/visits/%20/files",
		"/api/v1/visits/" + strings.ToUpper(v.ID) + "/files",
		"/api/v1/visits/" + v.ID + "/files/x/content",
		"/api/v1/visits/" + v.ID + "/files//content",
		"/api/v1/visits//files",
		"/api/v1/visits/" + v.ID + "/files/%20/content",
		"/api/v1/visits/" + v.ID + "/files/" + f.ID + "0/content",
		"/api/v1/visits/" + v.ID + "/files/" + f.ID[:len(f.ID)-1] + "/content",
		"/api/v1/visits/" + v.ID + "/files/..%2f" + f.ID + "/content",
		"/visits/" + v.ID[:8],
		"/visits/" + v.ID + "/files/" + strings.Repeat("z", len(f.ID)) + "/content",
	} {
		resp := lead.get(path)
		body := readAll(t, resp)
		if resp.StatusCode != http.StatusNotFound || strings.Contains(strings.ToLower(body), "damaged") {
			t.Errorf("GET %s: %d, want 404: %s", path, resp.StatusCode, body)
		}
	}
	if s := admin.status("DELETE", "/api/v1/visits/"+v.ID+"/files/not-a-file", nil); s != http.StatusNotFound {
		t.Errorf("DELETE of a malformed file id: %d", s)
	}
	if s := lead.status("GET", "/api/v1/visits/"+v.ID+"/files/"+f.ID+"/content", nil); s != http.StatusOK {
		t.Fatalf("the real file: %d", s)
	}
}

// TestCutDownloadRecorded: a download the client abandons part-way is
// recorded as interrupted, with the bytes actually sent.
func TestCutDownloadRecorded(t *testing.T) {
	ts := startStackWith(t, map[string]string{"PORTAL_SEGMENT_SIZE": "1MiB"})
	v := ts.demoVisit(t)
	const size = 64 << 20
	uploader := ts.signIn(t, "cafcass", "uploader@cafcass.example")
	resp := uploader.upload(v.ID, "1.01 Large.zip", newEvidence(7, size), size)
	f := decode[fileResp](t, resp, http.StatusCreated)
	lead := ts.signIn(t, "ofsted", "lead@ofsted.example")
	resp = lead.get("/api/v1/visits/" + v.ID + "/files/" + f.ID + "/content")
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("download: %d", resp.StatusCode)
	}
	if _, err := io.CopyN(io.Discard, resp.Body, 3<<20); err != nil {
		t.Fatal(err)
	}
	resp.Body.Close() // the client goes away
	var rec store.AuditRecord
	waitFor(t, 20*time.Second, "the cut download's record", func() bool {
		recs, err := ts.Portal.Store().AuditRecords(context.Background(), store.AuditFilter{VisitID: v.ID, Action: "file.download"})
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range recs {
			if r.Outcome == "interrupted" && r.Object == f.ID {
				rec = r
				return true
			}
		}
		return false
	})
	var d struct {
		Bytes, Sent int64
	}
	if err := json.Unmarshal([]byte(rec.Detail), &d); err != nil {
		t.Fatal(err)
	}
	if d.Bytes != size || d.Sent < 3<<20 || d.Sent >= size {
		t.Fatalf("recorded %+v: want %d asked for and at least 3 MiB but not all sent", d, size)
	}
}

// TestStorageFull: an upload that finds the object store's disk full is
// answered 507 with a sentence and a clean close; nothing of it stays
// visible or in the bucket, and what was stored before is intact. (When
// the space comes back is the store's business: MinIO frees deleted data
// from its trash in the background.)
func TestStorageFull(t *testing.T) {
	dir := t.TempDir()
	data := filepath.Join(dir, "minio")
	if err := os.MkdirAll(data, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mount("tmpfs", data, "tmpfs", 0, "size=96m"); err != nil {
		if os.Geteuid() != 0 {
			t.Skipf("a small disk needs a tmpfs mount, which needs root: %v", err)
		}
		t.Fatalf("mount a small disk: %v", err)
	}
	t.Cleanup(func() { syscall.Unmount(data, syscall.MNT_DETACH) })
	ts := startStackSetup(t, func(o *devstack.Options) {
		o.Dir = dir
		o.Env = map[string]string{"PORTAL_SEGMENT_SIZE": "4MiB"}
	})
	v := ts.demoVisit(t)
	uploader := ts.signIn(t, "cafcass", "uploader@cafcass.example")
	kept := evidenceBytes(3, 5<<20)
	a := uploader.uploadItem(v.ID, "1.01 Structure.pdf", "", kept)
	before, err := ts.Portal.Blobs().Versions(context.Background(), v.Bucket, "")
	if err != nil {
		t.Fatal(err)
	}

	const size = 200 << 20
	resp := uploader.upload(v.ID, "1.02 Too large for the disk.zip", newEvidence(9, size), size)
	body := readAll(t, resp)
	var e struct{ Error, Code string }
	json.Unmarshal([]byte(body), &e)
	if resp.StatusCode != http.StatusInsufficientStorage || e.Code != "storage_full" || e.Error == "" {
		t.Fatalf("upload onto a full disk: %d %s", resp.StatusCode, body)
	}
	if !resp.Close {
		t.Error("the connection was not closed after the refusal")
	}
	if names := uploader.fileNames(v.ID); len(names) != 1 || names[0] != "1.01 Structure.pdf" {
		t.Fatalf("files after the failed upload: %v", names)
	}
	waitFor(t, 30*time.Second, "the failed upload's objects and pending record to go", func() bool {
		var n int
		ts.Portal.Store().DB().QueryRow(`SELECT COUNT(*) FROM pending_uploads`).Scan(&n)
		objs, err := ts.Portal.Blobs().Versions(context.Background(), v.Bucket, "")
		return err == nil && n == 0 && len(objs) == len(before)
	})
	lead := ts.signIn(t, "ofsted", "lead@ofsted.example")
	resp = lead.get("/api/v1/visits/" + v.ID + "/files/" + a.ID + "/content")
	if got := readAll(t, resp); resp.StatusCode != http.StatusOK || got != string(kept) {
		t.Fatalf("the file stored before: %d, %d bytes", resp.StatusCode, len(got))
	}
}

// TestDestructionFailureShownToAdministrators: a destruction the store
// refuses (an object under an S3 legal hold set outside the portal) is
// recorded, shown to administrators and retried with backoff; once the
// store allows it the next attempt finishes and the failure is cleared.
func TestDestructionFailureShownToAdministrators(t *testing.T) {
	ts := startStack(t)
	ctx := context.Background()
	admin := ts.signIn(t, "ofsted", "admin@ofsted.example")
	v := setUpVisit(t, ts, admin, "FV-FAIL-1")
	uploader := ts.signIn(t, "cafcass", "uploader@cafcass.example")
	lead := ts.signIn(t, "ofsted", "lead@ofsted.example")
	f := uploader.uploadItem(v.ID, "1.01 Structure.pdf", "", evidenceBytes(1, 1000))
	publish(t, ts, lead, v, 30)
	ts.offset.Store(int64(90 * 24 * time.Hour))
	if ids, err := ts.Portal.RunRetention(ctx); err != nil || len(ids) != 0 {
		t.Fatalf("the first sweep gives notice: %v %v", ids, err)
	}
	decode[visitResp](t, admin.sendJSON("POST", "/api/v1/visits/"+v.ID+"/destruction/approve", nil), http.StatusOK)

	// Someone with the store's credentials put a legal hold on an object.
	mc := ts.Portal.Blobs().Client()
	on := minio.LegalHoldEnabled
	if err := mc.PutObjectLegalHold(ctx, v.Bucket, f.ID+"/0", minio.PutObjectLegalHoldOptions{Status: &on}); err != nil {
		t.Fatal(err)
	}
	if _, err := ts.Portal.RunRetention(ctx); err == nil {
		t.Fatal("the destruction of a bucket the store will not empty succeeded")
	}
	recs, err := ts.Portal.Store().AuditRecords(ctx, store.AuditFilter{VisitID: v.ID, Action: "destruction.failed"})
	if err != nil || len(recs) != 1 {
		t.Fatalf("destruction.failed records: %d %v", len(recs), err)
	}
	if !strings.Contains(ts.log.String(), `"level":"ERROR","msg":"destruction failed"`) {
		t.Error("the failure was not logged at error level")
	}
	view := decode[struct {
		Destruction struct {
			FailedAt *time.Time `json:"failed_at"`
			Attempts int        `json:"attempts"`
			RetryAt  *time.Time `json:"retry_at"`
		} `json:"destruction"`
	}](t, admin.get("/api/v1/visits/"+v.ID), http.StatusOK)
	if view.Destruction.FailedAt == nil || view.Destruction.Attempts != 1 || view.Destruction.RetryAt == nil {
		t.Fatalf("the visit's destruction: %+v", view.Destruction)
	}
	for _, page := range []string{"/visits", "/visits/" + v.ID} {
		if body := readAll(t, admin.get(page)); !strings.Contains(body, "The destruction of FV-FAIL-1 failed") {
			t.Errorf("%s does not show the failure to administrators:\n%s", page, body)
		}
	}
	if body := readAll(t, lead.get("/visits")); strings.Contains(body, "destruction of FV-FAIL-1 failed") {
		t.Error("the failure is shown to an inspector")
	}
	// Backing off: a sweep at once does not try again.
	if ids, err := ts.Portal.RunRetention(ctx); err != nil || len(ids) != 0 {
		t.Fatalf("a sweep during the backoff: %v %v", ids, err)
	}
	if recs, _ := ts.Portal.Store().AuditRecords(ctx, store.AuditFilter{VisitID: v.ID, Action: "destruction.failed"}); len(recs) != 1 {
		t.Fatalf("retried during the backoff: %d failures", len(recs))
	}
	off := minio.LegalHoldDisabled
	if err := mc.PutObjectLegalHold(ctx, v.Bucket, f.ID+"/0", minio.PutObjectLegalHoldOptions{Status: &off}); err != nil {
		t.Fatal(err)
	}
	ts.offset.Add(int64(2 * time.Minute))
	if ids, err := ts.Portal.RunRetention(ctx); err != nil || len(ids) != 1 {
		t.Fatalf("the retry: %v %v", ids, err)
	}
	if body := readAll(t, admin.get("/visits")); strings.Contains(body, "destruction of FV-FAIL-1 failed") {
		t.Error("the failure is still shown after the destruction finished")
	}
	if _, err := ts.Portal.Store().GetFailure(ctx, v.ID); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("the failure record stays: %v", err)
	}
}

// waitFor polls cond until it holds or the time runs out.
func waitFor(t *testing.T, limit time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("waited %s for %s", limit, what)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
