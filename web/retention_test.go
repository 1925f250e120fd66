package web_test

import (
	"bytes"
	"context"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"

	"github.com/ofsted-portal/evidence/portal/calendar"
	"github.com/ofsted-portal/evidence/portal/retention"
)

// TestRetentionEndToEnd: letter events move a visit to publication, a legal
// hold stops destruction (and holds the objects), and once lifted the sweep
// destroys key, objects and bucket and issues a certificate that verifies.
func TestRetentionEndToEnd(t *testing.T) {
	ts := startStack(t)
	ctx := context.Background()
	admin := ts.signIn(t, "ofsted", "admin@ofsted.example")
	v := setUpVisit(t, ts, admin, "FV-RET-1")
	uploader := ts.signIn(t, "cafcass", "uploader@cafcass.example")
	lead := ts.signIn(t, "ofsted", "lead@ofsted.example")
	// A second administrator, who approves what the first set going.
	me := decode[struct{ Issuer string }](t, admin.get("/api/v1/me"), http.StatusOK)
	if err := ts.Portal.Store().GrantPortalRole(ctx, "administrator", me.Issuer, "outsider@ofsted.example", time.Now()); err != nil {
		t.Fatal(err)
	}
	second := ts.signIn(t, "ofsted", "outsider@ofsted.example")
	a := uploader.uploadItem(v.ID, "1.01 Structure.pdf", "", evidenceBytes(4, 70_000))
	b := uploader.uploadItem(v.ID, "1.02 Allocation.pdf", "", evidenceBytes(5, 1_000))
	wrapped, err := ts.Portal.Store().WrappedKey(ctx, v.ID)
	if err != nil {
		t.Fatal(err)
	}

	tl := decode[struct {
		Timeline struct {
			FieldworkEnd string `json:"fieldwork_end"`
		} `json:"timeline"`
	}](t, admin.get("/api/v1/visits/"+v.ID), http.StatusOK)
	end, _ := calendar.ParseDate(tl.Timeline.FieldworkEnd)
	ts.offset.Store(int64(30 * 24 * time.Hour)) // a month on: fieldwork is over
	day := func(n int) string { return end.AddDate(0, 0, n).Format(time.DateOnly) }
	event := func(who *browser, ev, date string, want int) visitResp {
		t.Helper()
		resp := who.sendJSON("POST", "/api/v1/visits/"+v.ID+"/events", map[string]string{"event": ev, "date": date})
		if want != http.StatusOK {
			body := readAll(t, resp)
			if resp.StatusCode != want {
				t.Fatalf("%s: %d, want %d: %s", ev, resp.StatusCode, want, body)
			}
			return visitResp{}
		}
		return decode[visitResp](t, resp, http.StatusOK)
	}
	event(lead, "draft_sent", day(1), http.StatusOK)
	event(uploader, "final_sent", day(2), http.StatusForbidden)
	event(lead, "final_sent", day(2), http.StatusOK)
	if got := event(admin, "complaint_received", day(3), http.StatusOK); got.State != "complaint" {
		t.Fatalf("state after complaint: %s", got.State)
	}
	// Publication can be recorded from the day after Cafcass's time to
	// complain, and not while a complaint is open.
	pubDay := int(publishedOn(ts, end.AddDate(0, 0, 2)).Sub(end).Hours() / 24)
	event(lead, "published", day(pubDay), http.StatusConflict) // a complaint is open
	event(lead, "complaint_resolved", day(4), http.StatusOK)
	if got := event(lead, "published", day(pubDay), http.StatusOK); got.State != "published" {
		t.Fatalf("state after publication: %s", got.State)
	}

	// Three days before destruction, administrators are warned.
	y, m, d := time.Now().In(london).Date()
	destroyOn := end.AddDate(0, 0, pubDay+30)
	ts.offset.Store(int64(destroyOn.Sub(calendar.Date(y, m, d)) - 3*24*time.Hour))
	if page := readAll(t, admin.get("/visits")); !strings.Contains(page, "FV-RET-1 will be destroyed on "+destroyOn.Format(time.DateOnly)+", in 3 days") {
		t.Fatalf("no warning for administrators:\n%s", page)
	}
	if page := readAll(t, lead.get("/visits")); strings.Contains(page, "will be destroyed on") {
		t.Fatal("the destruction warning is for administrators")
	}

	// Legal hold: nothing is destroyed, objects carry an S3 legal hold.
	hold := admin.sendJSON("PUT", "/api/v1/visits/"+v.ID+"/legal-hold", map[string]any{"on": true, "reason": "Complaint escalated"})
	decode[visitResp](t, hold, http.StatusOK)
	mc := ts.Portal.Blobs().Client()
	st, err := mc.GetObjectLegalHold(ctx, v.Bucket, a.ID+"/0", minio.GetObjectLegalHoldOptions{})
	if err != nil || *st != minio.LegalHoldEnabled {
		t.Fatalf("object legal hold: %v %v", st, err)
	}
	ts.offset.Store(int64(90 * 24 * time.Hour)) // well past publication + 30 days
	if ids, err := ts.Portal.RunRetention(ctx); err != nil || len(ids) != 0 {
		t.Fatalf("destroyed while on hold: %v %v", ids, err)
	}
	if s := lead.status("GET", "/api/v1/visits/"+v.ID+"/files/"+a.ID+"/content", nil); s != http.StatusOK {
		t.Fatalf("lead reading while held: %d", s)
	}
	if exp, _ := ts.Portal.Blobs().Expiry(ctx, v.Bucket); !exp.IsZero() {
		t.Fatalf("backstop expiry %s set while on hold", exp)
	}

	decode[visitResp](t, admin.sendJSON("PUT", "/api/v1/visits/"+v.ID+"/legal-hold", map[string]any{"on": false, "reason": "Complaint closed"}), http.StatusOK)
	// Lifted after its destruction date: the store's own rule comes 14
	// days after the day the notice the lift calls for (7 days) runs out,
	// never from the past date.
	lifted := time.Now().Add(time.Duration(ts.offset.Load())).UTC()
	if exp, _ := ts.Portal.Blobs().Expiry(ctx, v.Bucket); exp.Format(time.DateOnly) != lifted.AddDate(0, 0, 7+14+1).Format(time.DateOnly) {
		t.Fatalf("backstop expiry %s, want the day after the lift + 7 days of notice, + 14 days (%s)", exp, lifted.Format(time.DateOnly))
	}
	// The sweep gives notice and waits for the notice period, or for an
	// administrator's approval.
	if ids, err := ts.Portal.RunRetention(ctx); err != nil || len(ids) != 0 {
		t.Fatalf("destroyed without notice: %v %v", ids, err)
	}
	// Not by the administrator who lifted the hold: by another.
	if s := admin.status("POST", "/api/v1/visits/"+v.ID+"/destruction/approve", nil); s != http.StatusConflict {
		t.Fatalf("the administrator who lifted the hold approving: %d", s)
	}
	decode[visitResp](t, second.sendJSON("POST", "/api/v1/visits/"+v.ID+"/destruction/approve", nil), http.StatusOK)
	// The first sweep after that dies after destroying the key, before the
	// objects.
	ts.crashAt.Store("key_destroyed")
	if _, err := ts.Portal.RunRetention(ctx); err == nil || !strings.Contains(err.Error(), "simulated crash") {
		t.Fatalf("sweep did not stop at the crash: %v", err)
	}
	if ok, _ := ts.Portal.Blobs().BucketExists(ctx, v.Bucket); !ok {
		t.Fatal("objects went before the crash point")
	}
	if s := lead.status("GET", "/api/v1/visits/"+v.ID+"/files/"+a.ID+"/content", nil); s != http.StatusGone {
		t.Fatalf("download between key destruction and object deletion: %d, want 410", s)
	}
	// The next sweep resumes and finishes.
	ts.crashAt.Store("")
	if ids, err := ts.Portal.RunRetention(ctx); err != nil || len(ids) != 1 {
		t.Fatalf("resumed sweep: %v %v", ids, err)
	}

	if ok, _ := ts.Portal.Blobs().BucketExists(ctx, v.Bucket); ok {
		t.Fatal("bucket still exists")
	}
	for path, who := range map[string]*browser{
		"/api/v1/visits/" + v.ID + "/files/" + a.ID + "/content": lead,
		"/api/v1/visits/" + v.ID + "/files":                      uploader,
		"/api/v1/visits/" + v.ID:                                 lead,
		"/api/v1/visits/" + v.ID + "/request":                    admin, // who still sees the visit
	} {
		if s := who.status("GET", path, nil); s != http.StatusGone {
			t.Errorf("GET %s after destruction: %d, want 410", path, s)
		}
	}

	// The certificate verifies offline with the signing public key and
	// lists the uploads' SHA-256, and names no file.
	resp := admin.get("/api/v1/visits/" + v.ID + "/certificate")
	cert := readAll(t, resp)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("certificate: %d %s", resp.StatusCode, cert)
	}
	key, err := retention.LoadSigningKey(ts.Config.SigningKey)
	if err != nil {
		t.Fatal(err)
	}
	pub, _ := retention.ParsePublicKeyPEM(retention.PublicKeyPEM(key))
	c, err := retention.Verify([]byte(cert), pub)
	if err != nil {
		t.Fatal(err)
	}
	var sums []string
	for _, f := range c.Files {
		sums = append(sums, f.SHA256)
	}
	if !slices.Contains(sums, a.SHA256) || !slices.Contains(sums, b.SHA256) || c.Reference != "FV-RET-1" || c.TotalBytes != 71_000 {
		t.Fatalf("certificate %+v", c)
	}
	if strings.Contains(cert, "Structure") || strings.Contains(cert, "Allocation") {
		t.Fatal("certificate names a file")
	}
	if s := lead.status("GET", "/api/v1/visits/"+v.ID+"/certificate", nil); s != http.StatusGone && s != http.StatusForbidden {
		t.Fatalf("lead fetching the certificate: %d", s)
	}

	// The wrapped key is gone from the database file and its log.
	for _, name := range []string{ts.Config.DBPath, ts.Config.DBPath + "-wal"} {
		raw, err := os.ReadFile(name)
		if err != nil && !os.IsNotExist(err) {
			t.Fatal(err)
		}
		if bytes.Contains(raw, wrapped.Wrapped[len(wrapped.Wrapped)-64:]) {
			t.Fatalf("%s still holds the wrapped key", filepath.Base(name))
		}
	}
}
