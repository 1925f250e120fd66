package web_test

import (
	"archive/zip"
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"html"
	"io"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"

	"github.com/ofsted-portal/evidence/policy"
	"github.com/ofsted-portal/evidence/portal"
	"github.com/ofsted-portal/evidence/portal/calendar"
	"github.com/ofsted-portal/evidence/portal/store"
)

// memberOf adds a member as the administrator.
func memberOf(t *testing.T, admin *browser, visitID, email, role string) {
	t.Helper()
	resp := admin.sendJSON("PUT", "/api/v1/visits/"+visitID+"/members", map[string]string{"email": email, "role": role})
	if resp.StatusCode != http.StatusCreated && resp.StatusCode != http.StatusOK {
		t.Fatalf("add %s: %d %s", email, resp.StatusCode, readAll(t, resp))
	}
	resp.Body.Close()
}

// TestUnfiledFiles: a child-level data list uploaded without an item
// prefix is seen, until someone files it, only by provider staff, the lead
// inspector and the QAM; others learn only that files wait to be filed.
// Names starting with any code of the request are filed by themselves.
func TestUnfiledFiles(t *testing.T) {
	ts := startStack(t)
	v := ts.demoVisit(t)
	uploader := ts.signIn(t, "cafcass", "uploader@cafcass.example")
	coordinator := ts.signIn(t, "cafcass", "coordinator@cafcass.example")
	lead := ts.signIn(t, "ofsted", "lead@ofsted.example")
	qam := ts.signIn(t, "ofsted", "qam@ofsted.example")
	hmi := ts.signIn(t, "ofsted", "hmi@ofsted.example")
	sao := ts.signIn(t, "ofsted", "sao@ofsted.example")
	admin := ts.signIn(t, "ofsted", "admin@ofsted.example")

	slip := uploader.uploadItem(v.ID, "Cases closed 3-14 November.xlsx", "", []byte("child,case\nA,1\n"))
	if slip.Item != "" {
		t.Fatalf("filed as %q", slip.Item)
	}
	for name, b := range map[string]*browser{"uploader": uploader, "coordinator": coordinator, "lead": lead, "qam": qam} {
		if !slices.Contains(b.fileNames(v.ID), slip.Name) {
			t.Errorf("%s does not see the unfiled file", name)
		}
	}
	content := "/api/v1/visits/" + v.ID + "/files/" + slip.ID + "/content"
	for name, b := range map[string]*browser{"inspector": hmi, "analyst": sao} {
		if slices.Contains(b.fileNames(v.ID), slip.Name) {
			t.Errorf("%s lists the unfiled file", name)
		}
		if s := b.status("GET", content, nil); s != http.StatusNotFound {
			t.Errorf("%s downloads the unfiled file: %d, want 404 (a file they may not list)", name, s)
		}
		if s := b.status("GET", "/api/v1/visits/"+v.ID+"/archive?item=unfiled", nil); s != http.StatusNotFound {
			t.Errorf("%s zips the unfiled files: %d", name, s)
		}
		if s := b.status("GET", "/api/v1/visits/"+v.ID+"/archive?file="+slip.ID, nil); s != http.StatusNotFound {
			t.Errorf("%s zips the unfiled file by id: %d", name, s)
		}
		page := readAll(t, b.get("/visits/"+v.ID))
		if strings.Contains(page, slip.Name) || !strings.Contains(page, "1 file is waiting to be filed") {
			t.Errorf("%s's visit page: shows the name or not the count", name)
		}
	}
	ex := decode[struct {
		Allow    bool     `json:"allow"`
		Policies []string `json:"policies"`
	}](t, admin.get("/api/v1/visits/"+v.ID+"/explain?member="+memberID(t, admin, v.ID, "hmi@ofsted.example")+"&action=file.download&file="+slip.ID), http.StatusOK)
	if ex.Allow || !slices.Contains(ex.Policies, "unfiled-until-filed") {
		t.Fatalf("explain: %+v", ex)
	}

	// Names that start with a code of the request file themselves.
	for name, want := range map[string]string{"CLD - cases closed.xlsx": "cld", "audits_list.docx": "audits", "1.03.Q2 MI.xlsx": "1.03"} {
		if got := uploader.uploadItem(v.ID, name, "", []byte(name)); got.Item != want {
			t.Errorf("%q filed under %q, want %q", name, got.Item, want)
		}
	}

	// The coordinator files the slip under child-level data: access follows
	// at once, and the act is recorded.
	if s := hmi.status("PATCH", "/api/v1/visits/"+v.ID+"/files/"+slip.ID, map[string]string{"item": "cld"}); s != http.StatusNotFound {
		t.Fatalf("an inspector filing an unfiled file they may not list: %d, want 404", s)
	}
	f := decode[fileResp](t, coordinator.sendJSON("PATCH", "/api/v1/visits/"+v.ID+"/files/"+slip.ID, map[string]string{"item": "cld"}), http.StatusOK)
	if f.Item != "cld" {
		t.Fatalf("refiled as %q", f.Item)
	}
	if !slices.Contains(sao.fileNames(v.ID), slip.Name) || slices.Contains(hmi.fileNames(v.ID), slip.Name) {
		t.Fatal("after filing under cld: the analyst must see it, the inspector not")
	}
	// The lead files it back through the page's control.
	resp := lead.postForm("/visits/"+v.ID+"/files/"+slip.ID+"/item", map[string]string{"item": "1.01"})
	if resp.StatusCode != http.StatusOK || !strings.Contains(readAll(t, resp), "now filed under item 1.01") {
		t.Fatalf("the page's filing control: %d", resp.StatusCode)
	}
	if !slices.Contains(hmi.fileNames(v.ID), slip.Name) {
		t.Fatal("the inspector does not see the file filed under 1.01")
	}
	var n int
	ts.Portal.Store().DB().QueryRow(`SELECT COUNT(*) FROM audit WHERE action = 'file.refiled' AND object = ?`, slip.ID).Scan(&n)
	if n != 2 {
		t.Fatalf("%d refiling records, want 2", n)
	}
}

// memberID is a member's id by email, as the administrator sees it.
func memberID(t *testing.T, admin *browser, visitID, email string) string {
	t.Helper()
	ms := decode[struct {
		Members []struct{ ID, Email string } `json:"members"`
	}](t, admin.get("/api/v1/visits/"+visitID+"/members"), http.StatusOK)
	for _, m := range ms.Members {
		if m.Email == email {
			return m.ID
		}
	}
	t.Fatalf("no member %s", email)
	return ""
}

// postForm posts a form as a browser on the portal's page would.
func (b *browser) postForm(path string, fields map[string]string) *http.Response {
	b.t.Helper()
	var body strings.Builder
	for k, v := range fields {
		if body.Len() > 0 {
			body.WriteByte('&')
		}
		fmt.Fprintf(&body, "%s=%s", k, v)
	}
	req, _ := http.NewRequest(http.MethodPost, b.base+path, strings.NewReader(body.String()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", b.base)
	return b.do(req)
}

// TestLegalHoldFreezesEvidence: under a legal hold no file is deleted or
// re-filed, by anyone, and nothing is lost by trying.
func TestLegalHoldFreezesEvidence(t *testing.T) {
	ts := startStack(t)
	v := ts.demoVisit(t)
	uploader := ts.signIn(t, "cafcass", "uploader@cafcass.example")
	coordinator := ts.signIn(t, "cafcass", "coordinator@cafcass.example")
	lead := ts.signIn(t, "ofsted", "lead@ofsted.example")
	admin := ts.signIn(t, "ofsted", "admin@ofsted.example")
	f := uploader.uploadItem(v.ID, "1.02 Allocation.pdf", "", []byte("allocation policy"))
	decode[visitResp](t, admin.sendJSON("PUT", "/api/v1/visits/"+v.ID+"/legal-hold", map[string]any{"on": true, "reason": "Judicial review"}), http.StatusOK)
	for name, b := range map[string]*browser{"uploader": uploader, "coordinator": coordinator} {
		e := decode[apiError](t, b.sendJSON("DELETE", "/api/v1/visits/"+v.ID+"/files/"+f.ID, nil), http.StatusLocked)
		if e.Code != "legal_hold" || !strings.Contains(e.Error, "legal hold") {
			t.Fatalf("%s deleting under hold: %+v", name, e)
		}
	}
	for name, b := range map[string]*browser{"coordinator": coordinator, "lead": lead} {
		e := decode[apiError](t, b.sendJSON("PATCH", "/api/v1/visits/"+v.ID+"/files/"+f.ID, map[string]string{"item": "1.03"}), http.StatusLocked)
		if e.Code != "legal_hold" {
			t.Fatalf("%s refiling under hold: %+v", name, e)
		}
	}
	if !slices.Contains(lead.fileNames(v.ID), f.Name) || objectCount(t, ts, v.Bucket) == 0 {
		t.Fatal("the held file is gone")
	}
	if s := lead.status("GET", "/api/v1/visits/"+v.ID+"/files/"+f.ID+"/content", nil); s != http.StatusOK {
		t.Fatalf("download of the held file: %d", s)
	}
	decode[visitResp](t, admin.sendJSON("PUT", "/api/v1/visits/"+v.ID+"/legal-hold", map[string]any{"on": false, "reason": "Review ended"}), http.StatusOK)
	// The lead downloaded it: deleting it now withdraws it (kept, marked).
	if st := decode[map[string]string](t, uploader.sendJSON("DELETE", "/api/v1/visits/"+v.ID+"/files/"+f.ID, nil), http.StatusOK); st["status"] != "withdrawn" {
		t.Fatalf("delete after the hold is lifted: %v", st)
	}
}

// TestBackdatedPublication: back-dated letter events do not let one person
// bring a destruction forward: the sweep gives notice, and destroys only
// once an administrator with no part in the visit approves (or the notice
// has run).
func TestBackdatedPublication(t *testing.T) {
	ts := startStack(t)
	ctx := context.Background()
	admin := ts.signIn(t, "ofsted", "admin@ofsted.example")
	v := setUpVisit(t, ts, admin, "FV-BACK-1")
	lead := ts.signIn(t, "ofsted", "lead@ofsted.example")
	publish(t, ts, lead, v, 200) // months later
	if ids, err := ts.Portal.RunRetention(ctx); err != nil || len(ids) != 0 {
		t.Fatalf("destroyed at once after back-dated events: %v %v", ids, err)
	}
	var notices int
	ts.Portal.Store().DB().QueryRow(`SELECT COUNT(*) FROM audit WHERE action = 'destruction.notice' AND visit_id = ?`, v.ID).Scan(&notices)
	if notices != 1 {
		t.Fatalf("%d notice records", notices)
	}
	if page := readAll(t, admin.get("/visits")); !strings.Contains(page, "FV-BACK-1 was due for destruction on") {
		t.Fatal("administrators are not warned")
	}
	if page := readAll(t, admin.get("/destruction")); !strings.Contains(page, "FV-BACK-1") || !strings.Contains(page, "Approve destruction") {
		t.Fatal("the destruction review page does not offer the visit")
	}
	// A second sweep gives no second notice, and still destroys nothing.
	if ids, _ := ts.Portal.RunRetention(ctx); len(ids) != 0 {
		t.Fatal("destroyed before approval or notice")
	}
	// An administrator who is a member of the visit cannot approve.
	acc, err := ts.Portal.Authorize(ctx, portal.OperatorActor("test", "test"), policy.MemberManage, v.ID, "")
	if err != nil {
		t.Fatal(err)
	}
	me := decode[struct{ Issuer, Subject string }](t, admin.get("/api/v1/me"), http.StatusOK)
	if _, _, err := acc.PutMember(ctx, portal.MemberRequest{Issuer: me.Issuer, Subject: me.Subject, Role: policy.RoleQAManager}); err != nil {
		t.Fatal(err)
	}
	if s := admin.status("POST", "/api/v1/visits/"+v.ID+"/destruction/approve", nil); s != http.StatusForbidden {
		t.Fatalf("a member approving: %d", s)
	}
	ts.Portal.Store().DB().Exec(`DELETE FROM members WHERE visit_id = ? AND subject = ?`, v.ID, me.Subject)
	decode[visitResp](t, admin.sendJSON("POST", "/api/v1/visits/"+v.ID+"/destruction/approve", nil), http.StatusOK)
	if ids, err := ts.Portal.RunRetention(ctx); err != nil || len(ids) != 1 {
		t.Fatalf("approved: %v %v", ids, err)
	}
	cert := readAll(t, admin.get("/api/v1/visits/"+v.ID+"/certificate"))
	if !strings.Contains(cert, `"approval":{"issuer"`) || !strings.Contains(cert, "admin@ofsted.example") || !strings.Contains(cert, "certificate v5") ||
		!strings.Contains(cert, `"bucket":"`) || !strings.Contains(cert, `"due":{"destroy_on":`) {
		t.Fatalf("certificate without the approval: %s", cert)
	}
}

// TestSwappedSegment: a segment copied from another file of the same visit
// (same key, same size) is refused as corrupt before any byte of it is
// served, whole, by range and in a zip.
func TestSwappedSegment(t *testing.T) {
	ts := startStack(t)
	ctx := context.Background()
	v := ts.demoVisit(t)
	uploader := ts.signIn(t, "cafcass", "uploader@cafcass.example")
	lead := ts.signIn(t, "ofsted", "lead@ofsted.example")
	a := uploader.uploadItem(v.ID, "1.01 Structure.pdf", "", bytes.Repeat([]byte("A"), 100_000))
	b := uploader.uploadItem(v.ID, "1.02 Allocation.pdf", "", bytes.Repeat([]byte("B"), 100_000))
	mc := ts.Portal.Blobs().Client()
	if _, err := mc.CopyObject(ctx, minio.CopyDestOptions{Bucket: v.Bucket, Object: a.ID + "/0"}, minio.CopySrcOptions{Bucket: v.Bucket, Object: b.ID + "/0"}); err != nil {
		t.Fatal(err)
	}
	resp := lead.get("/api/v1/visits/" + v.ID + "/files/" + a.ID + "/content")
	body := readAll(t, resp)
	if resp.StatusCode != http.StatusInternalServerError || !strings.Contains(body, "corrupt") || strings.Contains(body, "BBBB") {
		t.Fatalf("whole download of a swapped segment: %d %.80s", resp.StatusCode, body)
	}
	req, _ := http.NewRequest("GET", lead.base+"/api/v1/visits/"+v.ID+"/files/"+a.ID+"/content", nil)
	req.Header.Set("Range", "bytes=70000-70100")
	resp = lead.do(req)
	body = readAll(t, resp)
	if resp.StatusCode != http.StatusInternalServerError || strings.Contains(body, "BBBB") {
		t.Fatalf("range of a swapped segment: %d %.80s", resp.StatusCode, body)
	}
	resp, err := lead.c.Get(lead.base + "/api/v1/visits/" + v.ID + "/archive?file=" + a.ID)
	if err == nil {
		zb, rerr := io.ReadAll(resp.Body)
		resp.Body.Close()
		if rerr == nil {
			if zr, err := zip.NewReader(bytes.NewReader(zb), int64(len(zb))); err == nil {
				t.Fatalf("a zip with the swapped segment completed (%d entries)", len(zr.File))
			}
		}
		if bytes.Contains(zb, []byte("BBBB")) {
			t.Fatal("the zip carries the other file's bytes")
		}
	}
	// The untouched file is still whole.
	if got := readAll(t, lead.get("/api/v1/visits/"+v.ID+"/files/"+b.ID+"/content")); got != strings.Repeat("B", 100_000) {
		t.Fatal("the other file changed")
	}
}

// TestDamageFoundMidStreamIsRecorded: damage found once a download has
// begun cuts the connection, and the audit trail says the file was found
// corrupt, with what was sent: not "interrupted", as for a client that
// hung up. A zip's damage is recorded against the archive and the file.
// A zip whose first file is damaged at its start is answered with the
// error page, as a single download of it is, before any record of it
// being downloaded.
func TestDamageFoundMidStreamIsRecorded(t *testing.T) {
	ts := startStackWith(t, map[string]string{"PORTAL_SEGMENT_SIZE": "1MiB"})
	ctx := context.Background()
	v := ts.demoVisit(t)
	uploader := ts.signIn(t, "cafcass", "uploader@cafcass.example")
	lead := ts.signIn(t, "ofsted", "lead@ofsted.example")
	spoil := func(key string) {
		t.Helper()
		mc := ts.Portal.Blobs().Client()
		o, err := mc.GetObject(ctx, v.Bucket, key, minio.GetObjectOptions{})
		if err != nil {
			t.Fatal(err)
		}
		data, err := io.ReadAll(o)
		if err != nil {
			t.Fatal(err)
		}
		data[len(data)-100] ^= 1
		if _, err := mc.PutObject(ctx, v.Bucket, key, bytes.NewReader(data), int64(len(data)), minio.PutObjectOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	outcomes := func(action, object string) []string {
		t.Helper()
		recs, err := ts.Portal.Store().AuditRecords(ctx, store.AuditFilter{VisitID: v.ID, Action: action})
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, r := range recs {
			if object == "" || r.Object == object {
				out = append(out, r.Outcome)
			}
		}
		return out
	}
	const n = 8 << 20
	big := decode[fileResp](t, uploader.upload(v.ID, "1.01 Big.pdf", bytes.NewReader(evidenceBytes(5, n)), n), http.StatusCreated)
	spoil(big.ID + "/6") // past the part authenticated before the status line

	resp := lead.get("/api/v1/visits/" + v.ID + "/files/" + big.ID + "/content")
	got, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || err == nil || len(got) >= n {
		t.Fatalf("download damaged in its 7th segment: %d, %d of %d bytes, %v: want the connection cut", resp.StatusCode, len(got), n, err)
	}
	if got, want := outcomes("file.download", big.ID), []string{"success", "corrupt"}; !slices.Equal(got, want) {
		t.Errorf("download damaged in its 7th segment: the trail says %v, want %v", got, want)
	}

	// A file after the damaged one in the zip was never sent: its trail
	// says so, not only that its download began.
	after := uploader.uploadItem(v.ID, "1.03 After.pdf", "", bytes.Repeat([]byte("a"), 1000))
	resp = lead.get("/api/v1/visits/" + v.ID + "/archive?file=" + big.ID + "&file=" + after.ID)
	_, err = io.ReadAll(resp.Body)
	resp.Body.Close()
	if err == nil {
		t.Fatal("zip of a file damaged in its 7th segment: the connection was not cut")
	}
	if got, want := outcomes("file.download", big.ID), []string{"success", "corrupt", "success", "corrupt"}; !slices.Equal(got, want) {
		t.Errorf("zip of a file damaged in its 7th segment: the file's trail says %v, want %v", got, want)
	}
	if got, want := outcomes("archive.download", ""), []string{"corrupt"}; !slices.Equal(got, want) {
		t.Errorf("zip of a file damaged in its 7th segment: the archive's trail says %v, want %v", got, want)
	}
	if got, want := outcomes("file.download", after.ID), []string{"success", "not_sent"}; !slices.Equal(got, want) {
		t.Errorf("zip cut by damage in the file before: the trail of the file after says %v, want %v", got, want)
	}
	recs, err := ts.Portal.Store().AuditRecords(ctx, store.AuditFilter{VisitID: v.ID, Action: "file.download"})
	if err != nil {
		t.Fatal(err)
	}
	var cut struct{ Sent *int64 }
	if r := recs[len(recs)-2]; r.Object != big.ID || json.Unmarshal([]byte(r.Detail), &cut) != nil || cut.Sent == nil || *cut.Sent < 6<<20 || *cut.Sent >= n {
		t.Errorf("zip of a file damaged in its 7th segment: its cut record %s %s, want the bytes of it sent (6 MiB of 8)", r.Object, r.Detail)
	}

	small := uploader.uploadItem(v.ID, "1.02 Small.pdf", "", bytes.Repeat([]byte("s"), 1000))
	spoil(small.ID + "/0")
	resp, err = lead.c.Get(lead.base + "/api/v1/visits/" + v.ID + "/archive?file=" + small.ID)
	if err != nil {
		t.Fatalf("zip of a file damaged at its start: no answer (%v), want the error page", err)
	}
	if body := readAll(t, resp); resp.StatusCode != http.StatusInternalServerError || !strings.Contains(body, "corrupt") {
		t.Fatalf("zip of a file damaged at its start: %d %.80s, want 500 corrupt", resp.StatusCode, body)
	}
	if got, want := outcomes("file.download", small.ID), []string{"corrupt"}; !slices.Equal(got, want) {
		t.Errorf("zip of a file damaged at its start: the file's trail says %v, want %v", got, want)
	}
}

// TestConcurrentCaseFiles: twenty "add a case file" requests at once give
// twenty distinct case-N items, all present.
func TestConcurrentCaseFiles(t *testing.T) {
	ts := startStack(t)
	v := ts.demoVisit(t)
	lead := ts.signIn(t, "ofsted", "lead@ofsted.example")
	var wg sync.WaitGroup
	codes := make(chan string, 20)
	for i := 0; i < 20; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			resp := lead.sendJSON("POST", "/api/v1/visits/"+v.ID+"/request", map[string]string{"kind": "case_file", "title": fmt.Sprintf("Case file of child %d", i)})
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			var it struct{ Code string }
			if err := json.Unmarshal(body, &it); err != nil || resp.StatusCode != http.StatusCreated {
				t.Errorf("add %d: %d %s", i, resp.StatusCode, body)
			}
			codes <- it.Code
		}(i)
	}
	wg.Wait()
	close(codes)
	seen := map[string]bool{}
	for c := range codes {
		seen[c] = true
	}
	present := lead.request(v.ID)
	for i := 1; i <= 20; i++ {
		code := fmt.Sprintf("case-%d", i)
		if !seen[code] {
			t.Errorf("no request answered with %s", code)
		}
		if _, ok := present[code]; !ok {
			t.Errorf("%s is not in the information request", code)
		}
	}
}

// TestAnnouncementAndWindows: provider staff see nothing of a visit before
// its notification date; the lead inspector has access from the day the
// visit is set up; each member sees when their access ends and why.
func TestAnnouncementAndWindows(t *testing.T) {
	ts := startStack(t)
	admin := ts.signIn(t, "ofsted", "admin@ofsted.example")
	cal, _ := calendar.New()
	today := calendar.Today(time.Now())
	nd := cal.AddWorkingDays(today, 2)
	v := decode[visitResp](t, admin.sendJSON("POST", "/api/v1/visits", map[string]any{
		"reference": "FV-SOON-1", "title": "Unannounced visit", "provider": "Cafcass",
		"notification_date": nd.Format(time.DateOnly), "fieldwork_start": cal.AddWorkingDays(nd, 5).Format(time.DateOnly),
	}), http.StatusCreated)
	memberOf(t, admin, v.ID, "uploader@cafcass.example", "provider_uploader")
	memberOf(t, admin, v.ID, "lead@ofsted.example", "lead_inspector")
	memberOf(t, admin, v.ID, "hmi@ofsted.example", "inspector")
	uploader := ts.signIn(t, "cafcass", "uploader@cafcass.example")
	lead := ts.signIn(t, "ofsted", "lead@ofsted.example")
	hmi := ts.signIn(t, "ofsted", "hmi@ofsted.example")

	for path, want := range map[string]int{"/api/v1/visits/" + v.ID: 404, "/api/v1/visits/" + v.ID + "/request": 404, "/visits/" + v.ID: 404} {
		if s := uploader.status("GET", path, nil); s != want {
			t.Errorf("uploader before the notification: GET %s = %d, want %d", path, s, want)
		}
	}
	for _, path := range []string{"/api/v1/visits", "/api/v1/me", "/visits"} {
		if body := readAll(t, uploader.get(path)); strings.Contains(body, "FV-SOON-1") || strings.Contains(body, "Unannounced") {
			t.Errorf("uploader before the notification: %s shows the visit", path)
		}
	}
	if s := lead.status("GET", "/api/v1/visits/"+v.ID+"/request", nil); s != http.StatusOK {
		t.Fatalf("lead inspector on the day the visit is set up: %d", s)
	}
	e := decode[apiError](t, hmi.get("/api/v1/visits/"+v.ID+"/request"), http.StatusLocked)
	if e.Code != "window_closed" || !strings.Contains(e.Error, "opens on") || !strings.Contains(e.Error, "Sign in again then") {
		t.Fatalf("inspector before the notification: %+v", e)
	}
	// On the notification date the provider sees it, and when access ends.
	ts.offset.Store(int64(time.Until(calendar.StartOfDay(nd).Add(10 * time.Hour))))
	page := readAll(t, uploader.get("/visits/"+v.ID))
	if !strings.Contains(page, "FV-SOON-1") || !strings.Contains(page, "fifth working day after fieldwork") {
		t.Fatal("the visit page does not say when the provider's access ends and why")
	}
	if page := readAll(t, lead.get("/visits/"+v.ID)); !strings.Contains(page, "until the evidence is destroyed") {
		t.Fatal("the lead's visit page does not say how long access lasts")
	}
}

// TestSeparationOfDuties: administrators cannot give themselves a role or
// change their own membership; a member added by issuer and subject is held
// to that issuer's organisation like one added by email.
func TestSeparationOfDuties(t *testing.T) {
	ts := startStack(t)
	admin := ts.signIn(t, "ofsted", "admin@ofsted.example")
	v := setUpVisit(t, ts, admin, "FV-DUTY-1")
	e := decode[apiError](t, admin.sendJSON("PUT", "/api/v1/visits/"+v.ID+"/members", map[string]string{"email": "Admin@Ofsted.example", "role": "lead_inspector"}), http.StatusForbidden)
	if e.Code != "own_membership" {
		t.Fatalf("an administrator adding themselves: %+v", e)
	}
	me := decode[struct{ Issuer, Subject string }](t, admin.get("/api/v1/me"), http.StatusOK)
	decode[apiError](t, admin.sendJSON("PUT", "/api/v1/visits/"+v.ID+"/members", map[string]string{"issuer": me.Issuer, "subject": me.Subject, "role": "qa_manager"}), http.StatusForbidden)
	// Made a member by the operator, they cannot change or remove it.
	acc, err := ts.Portal.Authorize(context.Background(), portal.OperatorActor("test", "test"), policy.MemberManage, v.ID, "")
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := acc.PutMember(context.Background(), portal.MemberRequest{Email: "admin@ofsted.example", Role: policy.RoleQAManager}); err != nil {
		t.Fatal(err)
	}
	admin = ts.signIn(t, "ofsted", "admin@ofsted.example")
	decode[apiError](t, admin.sendJSON("PUT", "/api/v1/visits/"+v.ID+"/members", map[string]string{"email": "admin@ofsted.example", "role": "lead_inspector"}), http.StatusForbidden)
	if s := admin.status("DELETE", "/api/v1/visits/"+v.ID+"/members/"+memberID(t, admin, v.ID, "admin@ofsted.example"), nil); s != http.StatusForbidden {
		t.Fatalf("an administrator removing themselves: %d", s)
	}
	// Someone from the provider's issuer cannot be made an inspector by
	// subject, any more than by email.
	var cafcass string
	for _, p := range ts.Config.IdPs {
		if p.Name == "cafcass" {
			cafcass = p.Issuer
		}
	}
	decode[apiError](t, admin.sendJSON("PUT", "/api/v1/visits/"+v.ID+"/members", map[string]string{"issuer": cafcass, "subject": "someone", "role": "inspector"}), http.StatusBadRequest)
	decode[map[string]any](t, admin.sendJSON("PUT", "/api/v1/visits/"+v.ID+"/members", map[string]string{"issuer": cafcass, "subject": "someone", "role": "provider_uploader"}), http.StatusCreated)
}

// TestFailClosed: a stored window or hold that cannot be read refuses the
// act; it is never taken as "no end" or "no hold".
func TestFailClosed(t *testing.T) {
	ts := startStack(t)
	v := ts.demoVisit(t)
	uploader := ts.signIn(t, "cafcass", "uploader@cafcass.example")
	hmi := ts.signIn(t, "ofsted", "hmi@ofsted.example")
	f := uploader.uploadItem(v.ID, "1.01 Structure.pdf", "", []byte("structure"))
	db := ts.Portal.Store().DB()
	if _, err := db.Exec(`UPDATE members SET valid_until = 'next Tuesday' WHERE visit_id = ? AND email = 'hmi@ofsted.example'`, v.ID); err != nil {
		t.Fatal(err)
	}
	if s := hmi.status("GET", "/api/v1/visits/"+v.ID+"/files/"+f.ID+"/content", nil); s != http.StatusInternalServerError {
		t.Fatalf("an unreadable window: %d, want 500 (refused)", s)
	}
	if _, err := db.Exec(`UPDATE visits SET legal_hold_at = 'yesterday' WHERE id = ?`, v.ID); err != nil {
		t.Fatal(err)
	}
	if s := uploader.status("DELETE", "/api/v1/visits/"+v.ID+"/files/"+f.ID, nil); s != http.StatusInternalServerError {
		t.Fatalf("delete with an unreadable legal hold: %d, want 500 (refused)", s)
	}
	if objectCount(t, ts, v.Bucket) == 0 {
		t.Fatal("the file's objects went")
	}
}

// TestFilesWithoutMACsAreCheckedWhole: a file stored before segment MACs
// were recorded has no per-segment check, so a segment of another file of
// the visit copied over one of its own decrypts and authenticates. Such a
// file is checked whole against its SHA-256 as it is sent: a substitution
// is refused before the status line when the file is small, and cuts the
// connection before its last bytes when it is not, the trail saying
// "corrupt" either way. A Range of such a file is answered with the whole
// file, checked the same way, since a range alone cannot be checked. A
// download that checks out records the MACs it read, and from then on a
// substitution is found per segment, in ranges too.
func TestFilesWithoutMACsAreCheckedWhole(t *testing.T) {
	ts := startStackWith(t, map[string]string{"PORTAL_SEGMENT_SIZE": "1MiB"})
	ctx := context.Background()
	v := ts.demoVisit(t)
	uploader := ts.signIn(t, "cafcass", "uploader@cafcass.example")
	lead := ts.signIn(t, "ofsted", "lead@ofsted.example")
	db := ts.Portal.Store().DB()
	mc := ts.Portal.Blobs().Client()
	legacy := func(id string) {
		t.Helper()
		if _, err := db.Exec(`UPDATE files SET segment_macs = NULL WHERE id = ?`, id); err != nil {
			t.Fatal(err)
		}
	}
	macs := func(id string) []byte {
		t.Helper()
		var m []byte
		if err := db.QueryRow(`SELECT segment_macs FROM files WHERE id = ?`, id).Scan(&m); err != nil {
			t.Fatal(err)
		}
		return m
	}
	substitute := func(dst, src string) {
		t.Helper()
		if _, err := mc.CopyObject(ctx, minio.CopyDestOptions{Bucket: v.Bucket, Object: dst}, minio.CopySrcOptions{Bucket: v.Bucket, Object: src}); err != nil {
			t.Fatal(err)
		}
	}
	outcomes := func(id string) []string {
		t.Helper()
		recs, err := ts.Portal.Store().AuditRecords(ctx, store.AuditFilter{VisitID: v.ID, Action: "file.download"})
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, r := range recs {
			if r.Object == id {
				out = append(out, r.Outcome)
			}
		}
		return out
	}
	content := func(id, rng string) (*http.Response, []byte, error) {
		t.Helper()
		req, _ := http.NewRequest("GET", lead.base+"/api/v1/visits/"+v.ID+"/files/"+id+"/content", nil)
		if rng != "" {
			req.Header.Set("Range", rng)
		}
		resp, err := lead.c.Do(req)
		if err != nil {
			return nil, nil, err
		}
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		return resp, body, err
	}

	// Small: the whole file is read before the status line.
	x := uploader.uploadItem(v.ID, "1.01 Structure.pdf", "", bytes.Repeat([]byte("X"), 100_000))
	y := uploader.uploadItem(v.ID, "1.02 Allocation.pdf", "", bytes.Repeat([]byte("Y"), 100_000))
	legacy(x.ID)
	substitute(x.ID+"/0", y.ID+"/0")
	for _, rng := range []string{"", "bytes=70000-70100"} {
		resp, body, err := content(x.ID, rng)
		if err != nil {
			t.Fatal(err)
		}
		if resp.StatusCode != http.StatusInternalServerError || !strings.Contains(string(body), "corrupt") || bytes.Contains(body, []byte("YYYY")) {
			t.Fatalf("download (Range %q) of a file without MACs whose object is another's: %d %.80s, want 500 corrupt", rng, resp.StatusCode, body)
		}
	}
	if got, want := outcomes(x.ID), []string{"corrupt", "corrupt"}; !slices.Equal(got, want) {
		t.Errorf("file without MACs whose object is another's: the trail says %v, want %v", got, want)
	}
	if macs(x.ID) != nil {
		t.Error("a substituted file without MACs was given the MACs of what it holds")
	}

	// Large: the substituted segment is past the part checked before the
	// status line (4 MiB), or before it; none of another file's bytes is
	// sent. Before, a file was checked whole only as it was sent: the
	// segments before the last were sent, another file's among them, and
	// the connection cut at the end.
	const n = 6 << 20
	bigData := evidenceBytes(7, n)
	otherData := evidenceBytes(8, n)
	other := decode[fileResp](t, uploader.upload(v.ID, "1.04 Other.pdf", bytes.NewReader(otherData), n), http.StatusCreated)
	for i, seg := range []string{"5", "1"} {
		big := decode[fileResp](t, uploader.upload(v.ID, fmt.Sprintf("1.03 Big %d.pdf", i), bytes.NewReader(bigData), n), http.StatusCreated)
		legacy(big.ID)
		substitute(big.ID+"/"+seg, other.ID+"/"+seg)
		for _, rng := range []string{"", "bytes=5300000-5300099"} {
			resp, got, err := content(big.ID, rng)
			if resp == nil {
				t.Fatalf("download (Range %q) of a file without MACs, its segment %s another's: no answer (%v)", rng, seg, err)
			}
			if resp.StatusCode != http.StatusInternalServerError || bytes.Contains(got, otherData[1<<20:1<<20+4096]) || bytes.Contains(got, otherData[5<<20:5<<20+4096]) {
				t.Fatalf("download (Range %q) of a file without MACs, its segment %s another's: %d, %d bytes (%v): want 500 corrupt and none of the other file's bytes", rng, seg, resp.StatusCode, len(got), err)
			}
		}
		if got, want := outcomes(big.ID), []string{"corrupt", "corrupt"}; !slices.Equal(got, want) {
			t.Errorf("file without MACs, its segment %s another's: the trail says %v, want %v", seg, got, want)
		}
		if macs(big.ID) != nil {
			t.Errorf("a substituted file without MACs (segment %s) was given the MACs of what it holds", seg)
		}
	}

	// Intact: a Range is answered whole, and the file heals.
	whole := decode[fileResp](t, uploader.upload(v.ID, "1.05 Whole.pdf", bytes.NewReader(bigData), n), http.StatusCreated)
	want := macs(whole.ID)
	legacy(whole.ID)
	resp, got, err := content(whole.ID, "bytes=100-199")
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK || !bytes.Equal(got, bigData) || resp.Header.Get("Content-Range") != "" || resp.Header.Get("Accept-Ranges") != "none" {
		t.Fatalf("Range of an intact file without MACs: %d, %d bytes (%v), Content-Range %q, Accept-Ranges %q: want the whole file, 200, and no ranges offered",
			resp.StatusCode, len(got), err, resp.Header.Get("Content-Range"), resp.Header.Get("Accept-Ranges"))
	}
	// The MACs, and the download's record, are written once the server
	// has read the last block, which may be after the client has it.
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		got, trail := macs(whole.ID), outcomes(whole.ID)
		if bytes.Equal(got, want) && slices.Equal(trail, []string{"success"}) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("an intact file without MACs, downloaded whole: MACs %x, want those recorded at upload %x; the trail says %v, want [success]", got, want, trail)
		}
	}
	// Healed: a substitution is found per segment, in a range too.
	substitute(whole.ID+"/5", other.ID+"/5")
	resp, got, err = content(whole.ID, "bytes=5300000-5300099")
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusInternalServerError {
		t.Fatalf("Range into a substituted segment of a healed file: %d, %d bytes, want 500", resp.StatusCode, len(got))
	}
}

// TestDestructionReviewHeld: a visit put under a legal hold after its
// destruction was noticed stays on the review, with no approval offered
// (it would be refused) and the reason why; the API's can_approve says
// the same.
func TestDestructionReviewHeld(t *testing.T) {
	ts := startStack(t)
	ctx := context.Background()
	admin := ts.signIn(t, "ofsted", "admin@ofsted.example")
	v := setUpVisit(t, ts, admin, "FV-HELD-1")
	lead := ts.signIn(t, "ofsted", "lead@ofsted.example")
	publish(t, ts, lead, v, 200)
	if _, err := ts.Portal.RunRetention(ctx); err != nil { // the notice
		t.Fatal(err)
	}
	decode[visitResp](t, admin.sendJSON("PUT", "/api/v1/visits/"+v.ID+"/legal-hold", map[string]any{"on": true, "reason": "Judicial review"}), http.StatusOK)
	page := readAll(t, admin.get("/destruction"))
	mustContain(t, "destruction review", page, "FV-HELD-1", "On legal hold: its destruction cannot be approved until an administrator lifts the hold")
	if strings.Contains(page, "approve-"+v.ID) {
		t.Fatal("the destruction review offers to approve a visit under a legal hold")
	}
	review := decode[struct {
		Visits []struct {
			CanApprove bool `json:"can_approve"`
		} `json:"visits"`
	}](t, admin.get("/api/v1/destruction-review"), http.StatusOK)
	if len(review.Visits) != 1 || review.Visits[0].CanApprove {
		t.Fatalf("the API's review of a visit under a legal hold: %+v", review)
	}
}

// TestDestructionReviewShowsFailuresAndDestructionsUnderWay: the
// destruction review, where the warnings on the list of visits send
// administrators ("see the destruction review page"), lists each visit
// whose destruction failed, with the reason and when it is tried again,
// whether or not its notice could be given, and each visit being
// destroyed; neither is offered for approval. Before, it listed active
// visits under notice alone, and showed no failure.
func TestDestructionReviewShowsFailuresAndDestructionsUnderWay(t *testing.T) {
	ts := startStack(t)
	ctx := context.Background()
	admin := ts.signIn(t, "ofsted", "admin@ofsted.example")
	failing := setUpVisit(t, ts, admin, "FV-FAIL-1")
	underWay := setUpVisit(t, ts, admin, "FV-GOING-1")
	noNotice := setUpVisit(t, ts, admin, "FV-NONOTICE-1")
	lead := ts.signIn(t, "ofsted", "lead@ofsted.example")
	publish(t, ts, lead, failing, 200)
	publish(t, ts, lead, underWay, 200)
	publish(t, ts, lead, noNotice, 200)
	if _, err := ts.Portal.RunRetention(ctx); err != nil { // the notices
		t.Fatal(err)
	}
	st := ts.Portal.Store()
	// The third's notice could not be given (the sweep records that as
	// its destruction's failure).
	if _, err := st.DB().Exec(`DELETE FROM destruction_notices WHERE visit_id = ?`, noNotice.ID); err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	for id, reason := range map[string]string{failing.ID: "the object store did not answer", noNotice.ID: "the destruction notice: database refused it"} {
		if _, err := st.RecordFailure(ctx, id, reason, now, func(int) time.Time { return now.Add(time.Hour) }); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := st.DB().Exec(`UPDATE visits SET state = 'destroying' WHERE id = ?`, underWay.ID); err != nil {
		t.Fatal(err)
	}
	page := readAll(t, admin.get("/destruction"))
	mustContain(t, "destruction review", page, "FV-FAIL-1", "the object store did not answer", "FV-GOING-1", "Being destroyed",
		"FV-NONOTICE-1", "the destruction notice: database refused it", "Tried again from")
	if !strings.Contains(page, "approve-"+failing.ID) {
		t.Errorf("the destruction review does not offer to approve %s, under notice and failing", failing.Reference)
	}
	for _, v := range []visitResp{underWay, noNotice} {
		if strings.Contains(page, "approve-"+v.ID) {
			t.Errorf("the destruction review offers to approve %s", v.Reference)
		}
	}
	review := decode[struct {
		Visits []struct {
			Visit struct {
				ID          string `json:"id"`
				State       string `json:"state"`
				Destruction struct {
					Failure string `json:"failure"`
				} `json:"destruction"`
			} `json:"visit"`
			CanApprove bool `json:"can_approve"`
		} `json:"visits"`
	}](t, admin.get("/api/v1/destruction-review"), http.StatusOK)
	got := map[string]string{}
	for _, r := range review.Visits {
		got[r.Visit.ID] = r.Visit.State + ":" + r.Visit.Destruction.Failure
		if r.CanApprove && r.Visit.ID != failing.ID {
			t.Errorf("the API offers to approve %s (%s)", r.Visit.ID, r.Visit.State)
		}
	}
	if got[failing.ID] != "published:the object store did not answer" || got[underWay.ID] != "destroying:" || got[noNotice.ID] != "published:the destruction notice: database refused it" {
		t.Errorf("the API's review: %v", got)
	}
}

// TestLegalHoldLiftedFromOutside: an administrator who is a member of the
// visit may set a legal hold, but is not offered to lift it, and the API
// refuses the lift: destruction follows a lift, and so it is for an
// administrator with no part in the visit, as its approval is.
func TestLegalHoldLiftedFromOutside(t *testing.T) {
	ts := startStack(t)
	ctx := context.Background()
	admin := ts.signIn(t, "ofsted", "admin@ofsted.example")
	v := setUpVisit(t, ts, admin, "FV-LIFT-1")
	acc, err := ts.Portal.Authorize(ctx, portal.OperatorActor("test", "test"), policy.MemberManage, v.ID, "")
	if err != nil {
		t.Fatal(err)
	}
	me := decode[struct{ Issuer, Subject string }](t, admin.get("/api/v1/me"), http.StatusOK)
	if _, _, err := acc.PutMember(ctx, portal.MemberRequest{Issuer: me.Issuer, Subject: me.Subject, Role: policy.RoleQAManager}); err != nil {
		t.Fatal(err)
	}
	decode[visitResp](t, admin.sendJSON("PUT", "/api/v1/visits/"+v.ID+"/legal-hold", map[string]any{"on": true, "reason": "Judicial review"}), http.StatusOK)
	page := readAll(t, admin.get("/visits/"+v.ID))
	mustContain(t, "visit page", page, "A legal hold is set", "You are a member of this visit: another administrator lifts the hold")
	if strings.Contains(page, "Lift the legal hold") {
		t.Fatal("a member administrator is offered to lift the hold")
	}
	if s := admin.status("PUT", "/api/v1/visits/"+v.ID+"/legal-hold", map[string]any{"on": false, "reason": "Review ended"}); s != http.StatusForbidden {
		t.Fatalf("a member administrator lifting the hold: %d", s)
	}
	ts.Portal.Store().DB().Exec(`DELETE FROM members WHERE visit_id = ? AND subject = ?`, v.ID, me.Subject)
	mustContain(t, "visit page", readAll(t, admin.get("/visits/"+v.ID)), "Lift the legal hold")
	decode[visitResp](t, admin.sendJSON("PUT", "/api/v1/visits/"+v.ID+"/legal-hold", map[string]any{"on": false, "reason": "Review ended"}), http.StatusOK)
}

// TestOneAdministratorCannotBringDestructionForward: an administrator who
// is no member of a visit may record its letter events and lift its hold,
// and may approve its destruction; but not both. One who recorded a
// back-dated publication, or lifted the hold, and then approved, could
// destroy a visit within minutes alone. A second administrator approves,
// or the notice runs.
func TestOneAdministratorCannotBringDestructionForward(t *testing.T) {
	ts := startStack(t)
	ctx := context.Background()
	admin := ts.signIn(t, "ofsted", "admin@ofsted.example")
	me := decode[struct{ Issuer, Subject string }](t, admin.get("/api/v1/me"), http.StatusOK)
	if err := ts.Portal.Store().GrantPortalRole(ctx, "administrator", me.Issuer, "outsider@ofsted.example", time.Now()); err != nil {
		t.Fatal(err)
	}
	second := ts.signIn(t, "ofsted", "outsider@ofsted.example")

	// The publication, back-dated, recorded by the administrator.
	v := setUpVisit(t, ts, admin, "FV-ONE-1")
	publish(t, ts, admin, v, 200)
	if ids, err := ts.Portal.RunRetention(ctx); err != nil || len(ids) != 0 {
		t.Fatalf("destroyed at once: %v %v", ids, err)
	}
	resp := admin.sendJSON("POST", "/api/v1/visits/"+v.ID+"/destruction/approve", nil)
	if body := readAll(t, resp); resp.StatusCode != http.StatusConflict || !strings.Contains(body, "another administrator") {
		t.Fatalf("the administrator who recorded the publication approving: %d %s", resp.StatusCode, body)
	}
	if page := readAll(t, admin.get("/destruction")); !strings.Contains(page, "FV-ONE-1") || strings.Contains(page, "Approve destruction") {
		t.Fatalf("the review offers its own publication's approval to the administrator who recorded it:\n%s", page)
	}
	if ids, err := ts.Portal.RunRetention(ctx); err != nil || len(ids) != 0 {
		t.Fatalf("destroyed after one administrator's publication and approval: %v %v", ids, err)
	}
	decode[visitResp](t, second.sendJSON("POST", "/api/v1/visits/"+v.ID+"/destruction/approve", nil), http.StatusOK)
	if ids, err := ts.Portal.RunRetention(ctx); err != nil || len(ids) != 1 {
		t.Fatalf("approved by a second administrator: %v %v", ids, err)
	}

	// A hold lifted after the date: the lift gives a fresh notice, which
	// the administrator who lifted it may not approve.
	ts.offset.Store(0)
	w := setUpVisit(t, ts, admin, "FV-ONE-2")
	lead := ts.signIn(t, "ofsted", "lead@ofsted.example")
	decode[visitResp](t, second.sendJSON("PUT", "/api/v1/visits/"+w.ID+"/legal-hold", map[string]any{"on": true, "reason": "Judicial review"}), http.StatusOK)
	publish(t, ts, lead, w, 200)
	decode[visitResp](t, admin.sendJSON("PUT", "/api/v1/visits/"+w.ID+"/legal-hold", map[string]any{"on": false, "reason": "Review ended"}), http.StatusOK)
	if ids, err := ts.Portal.RunRetention(ctx); err != nil || len(ids) != 0 {
		t.Fatalf("destroyed at once after the lift: %v %v", ids, err)
	}
	if s := admin.status("POST", "/api/v1/visits/"+w.ID+"/destruction/approve", nil); s != http.StatusConflict {
		t.Fatalf("the administrator who lifted the hold approving: %d", s)
	}
	if ids, err := ts.Portal.RunRetention(ctx); err != nil || len(ids) != 0 {
		t.Fatalf("destroyed after one administrator's lift and approval: %v %v", ids, err)
	}
	// An API client that sends an empty body, whatever its content type
	// (curl -d ''), approves as one that sends none.
	req, _ := http.NewRequest("POST", second.base+"/api/v1/visits/"+w.ID+"/destruction/approve", strings.NewReader(""))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	decode[visitResp](t, second.do(req), http.StatusOK)
}

// TestApprovalIsOfTheNoticeReviewed: an administrator approves the
// destruction the review showed them. A publication withdrawn and
// recorded again since (another date, a fresh notice) is not approved by
// their click on the page as it was, nor by an API call naming the notice
// they reviewed: 409, nothing approved. Before, the approval took
// whichever notice stood when it arrived.
func TestApprovalIsOfTheNoticeReviewed(t *testing.T) {
	ts := startStack(t)
	ctx := context.Background()
	admin := ts.signIn(t, "ofsted", "admin@ofsted.example")
	v := setUpVisit(t, ts, admin, "FV-REVIEWED-1")
	lead := ts.signIn(t, "ofsted", "lead@ofsted.example") // members bind at sign-in
	end := publish(t, ts, lead, v, 200)
	if ids, err := ts.Portal.RunRetention(ctx); err != nil || len(ids) != 0 {
		t.Fatalf("destroyed at once: %v %v", ids, err)
	}
	page := readAll(t, admin.get("/destruction"))
	reviewed := ""
	if m := regexp.MustCompile(`action="/visits/` + v.ID + `/destruction/approve"[^>]*>\s*<input type="hidden" name="notice" value="([^"]+)"`).FindStringSubmatch(page); m != nil {
		reviewed = m[1]
	}
	first, err := ts.Portal.Store().GetNotice(ctx, v.ID)
	if err != nil {
		t.Fatal(err)
	}

	// The publication withdrawn, recorded again on another day, noticed
	// afresh.
	published := publishedOn(ts, end.AddDate(0, 0, 2))
	decode[visitResp](t, admin.sendJSON("POST", "/api/v1/visits/"+v.ID+"/events/withdraw", map[string]string{"event": "published", "date": published.Format(time.DateOnly)}), http.StatusOK)
	decode[visitResp](t, lead.sendJSON("POST", "/api/v1/visits/"+v.ID+"/events", map[string]string{"event": "published", "date": published.AddDate(0, 0, 1).Format(time.DateOnly)}), http.StatusOK)
	if ids, err := ts.Portal.RunRetention(ctx); err != nil || len(ids) != 0 {
		t.Fatalf("destroyed at once: %v %v", ids, err)
	}
	if n, err := ts.Portal.Store().GetNotice(ctx, v.ID); err != nil || n.GivenAt.Equal(first.GivenAt) {
		t.Fatalf("no fresh notice: %+v %v", n, err)
	}

	if reviewed == "" {
		t.Fatalf("the review's approval names no notice:\n%s", page)
	}
	resp := admin.postForm("/visits/"+v.ID+"/destruction/approve", map[string]string{"notice": url.QueryEscape(reviewed)})
	body := readAll(t, resp)
	if resp.StatusCode != http.StatusConflict || !strings.Contains(body, "has changed since it was reviewed") {
		t.Errorf("the approval from the review page as it was: %d, want 409 saying the notice changed since it was reviewed", resp.StatusCode)
	}
	resp = admin.sendJSON("POST", "/api/v1/visits/"+v.ID+"/destruction/approve", map[string]string{"notice_given_at": first.GivenAt.Format(time.RFC3339Nano)})
	if body := readAll(t, resp); resp.StatusCode != http.StatusConflict {
		t.Errorf("the API's approval of the notice reviewed before: %d %s, want 409", resp.StatusCode, body)
	}
	if n, err := ts.Portal.Store().GetNotice(ctx, v.ID); err != nil || !n.ApprovedAt.IsZero() {
		t.Fatalf("the fresh notice was approved: %+v %v", n, err)
	}
	// The review as it is now approves it.
	page = readAll(t, admin.get("/destruction"))
	m := regexp.MustCompile(`action="/visits/` + v.ID + `/destruction/approve"[^>]*>\s*<input type="hidden" name="notice" value="([^"]+)"`).FindStringSubmatch(page)
	if m == nil {
		t.Fatalf("the review's approval names no notice:\n%s", page)
	}
	resp = admin.postForm("/visits/"+v.ID+"/destruction/approve", map[string]string{"notice": url.QueryEscape(m[1])})
	resp.Body.Close()
	if n, err := ts.Portal.Store().GetNotice(ctx, v.ID); err != nil || n.ApprovedAt.IsZero() || resp.Request.URL.Path != "/destruction" {
		t.Fatalf("the approval from the review as it is: %d at %s, notice %+v %v", resp.StatusCode, resp.Request.URL.Path, n, err)
	}
	// Approved again (a second press, another administrator's page): the
	// refusal is shown in the visit's row, and the error summary links to
	// it, though the row has no button any more.
	resp = admin.postForm("/visits/"+v.ID+"/destruction/approve", map[string]string{"notice": url.QueryEscape(m[1])})
	body = readAll(t, resp)
	if resp.StatusCode != http.StatusConflict {
		t.Fatalf("approving an approved destruction: %d", resp.StatusCode)
	}
	summaryLinksLand(t, "approving an approved destruction", body)
	mustContain(t, "approving an approved destruction", body, `href="#review-`+v.ID+`"`, `id="review-`+v.ID+`-error"`)
}

// summaryLinksLand fails the test when a link of the page's error summary
// leads to no element of the page.
func summaryLinksLand(t *testing.T, what, page string) {
	t.Helper()
	i := strings.Index(page, `class="govuk-error-summary"`)
	if i < 0 {
		t.Fatalf("%s: no error summary", what)
	}
	end := strings.Index(page[i:], "</ul>")
	for _, m := range regexp.MustCompile(`href="#([^"]+)"`).FindAllStringSubmatch(page[i:i+end], -1) {
		if !strings.Contains(page, `id="`+m[1]+`"`) {
			t.Errorf("%s: the error summary links to #%s, which the page does not have", what, m[1])
		}
	}
}

// TestApprovalWithABrokenBodyApprovesNothing: an approval whose chunked
// body stalls before its first byte (PORTAL_READ_IDLE_TIMEOUT passes) is a
// failed request, not one with no body: nothing is approved. Taken for
// none, it approved whatever notice stood, unchecked.
func TestApprovalWithABrokenBodyApprovesNothing(t *testing.T) {
	ts := startStackWith(t, map[string]string{"PORTAL_READ_IDLE_TIMEOUT": "1s"})
	ctx := context.Background()
	admin := ts.signIn(t, "ofsted", "admin@ofsted.example")
	v := setUpVisit(t, ts, admin, "FV-BROKEN-1")
	lead := ts.signIn(t, "ofsted", "lead@ofsted.example")
	publish(t, ts, lead, v, 200)
	if ids, err := ts.Portal.RunRetention(ctx); err != nil || len(ids) != 0 {
		t.Fatalf("destroyed at once: %v %v", ids, err)
	}
	u, _ := url.Parse(admin.base)
	var cookies []string
	for _, c := range admin.c.Jar.Cookies(u) {
		cookies = append(cookies, c.Name+"="+c.Value)
	}
	conn, err := net.Dial("tcp", u.Host)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(conn, "POST /api/v1/visits/%s/destruction/approve HTTP/1.1\r\nHost: %s\r\nCookie: %s\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n40\r\n",
		v.ID, u.Host, strings.Join(cookies, "; "))
	// The body stalls before its first byte, the connection open: the
	// portal gives up on it after a second.
	conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	answer, _ := bufio.NewReader(conn).ReadString('\n')
	conn.Close()
	if !strings.Contains(answer, " 400 ") {
		t.Errorf("an approval whose body stalled: %q, want 400", answer)
	}
	if n, err := ts.Portal.Store().GetNotice(ctx, v.ID); err != nil || !n.ApprovedAt.IsZero() {
		t.Fatalf("an approval whose body broke off approved the notice: %+v %v", n, err)
	}
}

// TestListsWithholdVisitsOutsideTheWindow: a member whose access window
// has closed, or not yet opened, may not view the visit (its page says
// when), and the lists say no more: the visit's reference, that access
// has ended or when it opens, and the member's role, never its title,
// state, dates or timeline. Before, the list of visits and
// GET /api/v1/visits showed all of them to a member the visit's own page
// refused. An administrator's list shows every visit whole.
func TestListsWithholdVisitsOutsideTheWindow(t *testing.T) {
	ts := startStack(t)
	admin := ts.signIn(t, "ofsted", "admin@ofsted.example")
	v := setUpVisit(t, ts, admin, "FV-WINDOW-1")
	title := "Focused visit FV-WINDOW-1"
	// Added by email, bound at the next sign-in.
	memberOf(t, admin, v.ID, "hmi@ofsted.example", "inspector")
	hmi := ts.signIn(t, "ofsted", "hmi@ofsted.example")
	type row = struct {
		ID               string          `json:"id"`
		Reference        string          `json:"reference"`
		Title            string          `json:"title"`
		Provider         string          `json:"provider"`
		State            string          `json:"state"`
		NotificationDate string          `json:"notification_date"`
		FieldworkStart   string          `json:"fieldwork_start"`
		Timeline         json.RawMessage `json:"timeline"`
		Events           []any           `json:"events"`
		RetentionDays    int             `json:"retention_days"`
		CreatedAt        time.Time       `json:"created_at"`
		Role             string          `json:"role"`
		Access           string          `json:"access"`
		AccessMessage    string          `json:"access_message"`
	}
	type listed struct {
		Visits []row `json:"visits"`
	}
	// hmi is a member of the demo visit too, whose window is open.
	find := func(when string) row {
		t.Helper()
		l := decode[listed](t, hmi.get("/api/v1/visits"), http.StatusOK)
		for _, r := range l.Visits {
			if r.ID == v.ID {
				return r
			}
		}
		t.Fatalf("%s: the visit is not listed: %+v", when, l.Visits)
		return row{}
	}
	// The row of the page of visits that links to the visit.
	pageRow := func(when string) string {
		t.Helper()
		page := readAll(t, hmi.get("/visits"))
		i := strings.Index(page, `href="/visits/`+v.ID+`"`)
		if i < 0 {
			t.Fatalf("%s: the page of visits does not list the visit", when)
		}
		start, end := strings.LastIndex(page[:i], "<tr"), strings.Index(page[i:], "</tr>")
		return page[start : i+end]
	}
	check := func(when, access, tag, words, role string) {
		t.Helper()
		got := find(when)
		if got.Reference != "FV-WINDOW-1" || got.Role != role || got.Access != access || !strings.Contains(got.AccessMessage, words) {
			t.Errorf("%s: listed as %+v, want the reference, the role %s, access %q and a message saying %q", when, got, role, access, words)
		}
		if got.Title != "" || got.Provider != "" || got.State != "" || got.NotificationDate != "" || got.FieldworkStart != "" ||
			len(got.Timeline) > 0 && string(got.Timeline) != "null" || len(got.Events) > 0 || got.RetentionDays != 0 || !got.CreatedAt.IsZero() {
			t.Errorf("%s: the list shows more of the visit than its reference: %+v", when, got)
		}
		r := pageRow(when)
		if strings.Contains(r, title) || strings.Contains(r, "Cafcass") || !strings.Contains(r, "FV-WINDOW-1") || !strings.Contains(r, tag) ||
			!strings.Contains(html.UnescapeString(r), words) || strings.Count(r, "Not shown") != 2 {
			t.Errorf("%s: the visit's row on the page of visits, want its reference, %q, %q and nothing of the visit:\n%s", when, tag, words, r)
		}
		if a := readAll(t, admin.get("/visits")); !strings.Contains(a, title) {
			t.Errorf("%s: the administrators' list does not show the visit's title", when)
		}
	}
	// Open: shown whole.
	if got := find("in the window"); got.Title != title || got.Access != "" || got.State == "" || got.Provider != "Cafcass" {
		t.Fatalf("in the window: %+v", got)
	}
	if r := pageRow("in the window"); !strings.Contains(r, title) || strings.Contains(r, "Not shown") {
		t.Fatalf("in the window, the visit's row: %s", r)
	}
	// Closed.
	past := time.Now().Add(-time.Hour).UTC().Format(time.RFC3339)
	if s := admin.status("PUT", "/api/v1/visits/"+v.ID+"/members", map[string]string{"email": "hmi@ofsted.example", "role": "inspector", "valid_until": past}); s != http.StatusOK {
		t.Fatalf("close the window: %d", s)
	}
	if s := hmi.status("GET", "/visits/"+v.ID, nil); s != http.StatusLocked {
		t.Fatalf("the visit's page after the window closed: %d, want 423", s)
	}
	check("after the window closed", "closed", "Access ended", "Your access to this visit closed", "inspector")
	// Not open yet.
	future := time.Now().Add(72 * time.Hour).UTC().Format(time.RFC3339)
	if s := admin.status("PUT", "/api/v1/visits/"+v.ID+"/members", map[string]string{"email": "hmi@ofsted.example", "role": "inspector", "valid_from": future}); s != http.StatusOK {
		t.Fatalf("move the window: %d", s)
	}
	check("before the window opens", "not_open", "Access not open yet", "opens on", "inspector")
	// A second membership, bound to the person by address, open, and
	// first in the order the page of visits reads memberships: the
	// visit's page still decides by the person's own (bound to their
	// identity), not yet open, and so does the list.
	var hmiID string
	db := ts.Portal.Store().DB()
	if err := db.QueryRow(`SELECT id FROM users WHERE email = ?`, "hmi@ofsted.example").Scan(&hmiID); err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	if err := ts.Portal.Store().SeedMembers(context.Background(), []store.Member{{ID: "00000000000000000000000000000000", VisitID: v.ID, Role: "analyst",
		Email: "hmi.old@ofsted.example", UserID: hmiID, CreatedAt: now, UpdatedAt: now}}); err != nil {
		t.Fatal(err)
	}
	if s := hmi.status("GET", "/visits/"+v.ID, nil); s != http.StatusLocked {
		t.Fatalf("the visit's page with a second membership: %d, want 423", s)
	}
	check("with a second membership by address", "not_open", "Access not open yet", "opens on", "inspector")
	// Neither bound to the identity, and they differ: the visit's page
	// refuses (403), and the list says why rather than show the visit.
	if _, err := db.Exec(`UPDATE members SET issuer = NULL, subject = NULL WHERE visit_id = ? AND email = ?`, v.ID, "hmi@ofsted.example"); err != nil {
		t.Fatal(err)
	}
	if s := hmi.status("GET", "/visits/"+v.ID, nil); s != http.StatusForbidden {
		t.Fatalf("the visit's page with two memberships that differ: %d, want 403", s)
	}
	got := find("with two memberships")
	check("with two memberships that differ", "suspended", "Access suspended", "two memberships", got.Role)
	if got.Role != "inspector" && got.Role != "analyst" {
		t.Errorf("with two memberships: role %q", got.Role)
	}
}

// TestListsWithholdVisitsBeingDestroyed: once a visit's destruction has
// begun, nothing of it is served to its members (its page answers 410),
// and the lists say no more: its reference, the member's role and that
// it is being destroyed, never its title (its key is still stored until
// the destruction removes it), state, dates or timeline. Before, a
// destruction stopped part-way (retried for hours) left the title and
// timeline on the members' lists. An administrator's list shows it whole.
func TestListsWithholdVisitsBeingDestroyed(t *testing.T) {
	ts := startStack(t)
	admin := ts.signIn(t, "ofsted", "admin@ofsted.example")
	v := setUpVisit(t, ts, admin, "FV-GOING-2")
	title := "Focused visit FV-GOING-2"
	lead := ts.signIn(t, "ofsted", "lead@ofsted.example")
	// A destruction begun and stopped before the key went.
	if _, err := ts.Portal.Store().DB().Exec(`UPDATE visits SET state = 'destroying' WHERE id = ?`, v.ID); err != nil {
		t.Fatal(err)
	}
	if s := lead.status("GET", "/visits/"+v.ID, nil); s != http.StatusGone {
		t.Fatalf("the visit's page once its destruction began: %d, want 410", s)
	}
	l := decode[struct {
		Visits []map[string]any `json:"visits"`
	}](t, lead.get("/api/v1/visits"), http.StatusOK)
	var got map[string]any
	for _, r := range l.Visits {
		if r["id"] == v.ID {
			got = r
		}
	}
	if got == nil {
		t.Fatalf("the lead's list does not name the visit: %v", l.Visits)
	}
	if got["reference"] != "FV-GOING-2" || got["role"] != "lead_inspector" || got["access"] != "destroyed" ||
		!strings.Contains(fmt.Sprint(got["access_message"]), "being destroyed") {
		t.Errorf("listed as %v, want its reference, the role, access \"destroyed\" and a message saying it is being destroyed", got)
	}
	for _, f := range []string{"title", "provider", "state", "notification_date", "fieldwork_start", "timeline", "destroy_on"} {
		if x, ok := got[f]; ok && x != "" && x != nil {
			t.Errorf("the list shows the visit's %s (%v) to a member once its destruction began", f, x)
		}
	}
	page := readAll(t, lead.get("/visits"))
	i := strings.Index(page, `href="/visits/`+v.ID+`"`)
	if i < 0 {
		t.Fatal("the page of visits does not list the visit")
	}
	start, end := strings.LastIndex(page[:i], "<tr"), strings.Index(page[i:], "</tr>")
	if r := page[start : i+end]; strings.Contains(r, title) || !strings.Contains(r, "Destroyed") || !strings.Contains(r, "being destroyed") {
		t.Errorf("the visit's row on the page of visits, want its reference, \"Destroyed\" and nothing of the visit:\n%s", r)
	}
	if a := readAll(t, admin.get("/visits")); !strings.Contains(a, title) {
		t.Errorf("the administrators' list does not show the visit's title")
	}
	// Once done, listed the same way, as destroyed.
	if _, err := ts.Portal.Store().DB().Exec(`UPDATE visits SET state = 'destroyed' WHERE id = ?`, v.ID); err != nil {
		t.Fatal(err)
	}
	l = decode[struct {
		Visits []map[string]any `json:"visits"`
	}](t, lead.get("/api/v1/visits"), http.StatusOK)
	for _, r := range l.Visits {
		if title, _ := r["title"].(string); r["id"] == v.ID && (r["access"] != "destroyed" || !strings.Contains(fmt.Sprint(r["access_message"]), "has been destroyed") || title != "") {
			t.Errorf("once destroyed, listed as %v, want access \"destroyed\", a message saying it has been destroyed, and no title", r)
		}
	}
}

// TestWaitingCountsWhatTheTeamWillSee: the count of files waiting to be
// filed that an inspector is shown counts only those they will see once
// filed: not one found infected (kept, never served) nor one the scanner
// has not cleared (withheld until scanned), which the information request
// leaves out of its counts for the team too. Before, both were counted:
// the team learnt of a file the provider's staff alone may know of.
func TestWaitingCountsWhatTheTeamWillSee(t *testing.T) {
	ts := startStack(t)
	v := ts.demoVisit(t)
	ctx := context.Background()
	uploader := ts.signIn(t, "cafcass", "uploader@cafcass.example")
	hmi := ts.signIn(t, "ofsted", "hmi@ofsted.example")
	st := ts.Portal.Store()
	waiting := func(when, want string) {
		t.Helper()
		page := readAll(t, hmi.get("/visits/"+v.ID))
		got := "none"
		if i := strings.Index(page, `id="files-waiting">`); i >= 0 {
			got = page[i+len(`id="files-waiting">`):]
			got = got[:strings.Index(got, " waiting")]
		}
		if got != want {
			t.Errorf("%s: the inspector's visit page says %q waiting to be filed, want %q", when, got, want)
		}
	}
	uploader.uploadItem(v.ID, "Cases closed in November.xlsx", "", []byte("child,case\nA,1\n"))
	waiting("one unfiled file", "1 file is")
	infected := uploader.uploadItem(v.ID, "Cases open in November.xlsx", "", []byte("child,case\nB,2\n"))
	if err := st.SetScanResult(ctx, v.ID, infected.ID, store.ScanInfected, "Eicar-Test-Signature", time.Now()); err != nil {
		t.Fatal(err)
	}
	waiting("with a second, found infected", "1 file is")
	scanning := uploader.uploadItem(v.ID, "Cases allocated in November.xlsx", "", []byte("child,case\nC,3\n"))
	if _, err := st.DB().Exec(`UPDATE files SET scan_status = ? WHERE id = ?`, store.ScanScanning, scanning.ID); err != nil {
		t.Fatal(err)
	}
	waiting("with a third, not yet scanned", "1 file is")
	uploader.uploadItem(v.ID, "Cases transferred in November.xlsx", "", []byte("child,case\nD,4\n"))
	waiting("with a fourth, clean", "2 files are")
}
