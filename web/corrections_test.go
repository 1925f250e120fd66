package web_test

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/ofsted-portal/evidence/portal/store"
)

// correctedFile is a file as listed, with how it was corrected.
type correctedFile struct {
	fileResp
	WithdrawnAt  *time.Time `json:"withdrawn_at"`
	WithdrawnBy  string     `json:"withdrawn_by"`
	SupersededBy string     `json:"superseded_by"`
}

func (b *browser) listCorrected(visitID, query string) map[string]correctedFile {
	b.t.Helper()
	l := decode[struct {
		Files []correctedFile `json:"files"`
	}](b.t, b.get("/api/v1/visits/"+visitID+"/files?"+query), http.StatusOK)
	out := map[string]correctedFile{}
	for _, f := range l.Files {
		out[f.ID] = f
	}
	return out
}

// uploadReplace sends a raw upload with on_conflict=replace.
func (b *browser) uploadReplace(visitID, name string, data []byte) *http.Response {
	b.t.Helper()
	q := url.Values{"name": {name}, "on_conflict": {"replace"}}
	req, _ := http.NewRequest("POST", b.base+"/api/v1/visits/"+visitID+"/files?"+q.Encode(), bytes.NewReader(data))
	return b.do(req)
}

func auditCount(t *testing.T, ts *testStack, visitID, action, object string) int {
	t.Helper()
	var n int
	if err := ts.Portal.Store().DB().QueryRow(`SELECT COUNT(*) FROM audit WHERE visit_id = ? AND action = ? AND object = ?`, visitID, action, object).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// TestCorrections: until fieldwork ends the provider deletes (withdraws,
// once the team has downloaded), re-files and replaces its files, never
// under a legal hold, every change audited; the coordinator marks items
// complete.
func TestCorrections(t *testing.T) {
	ts := startStack(t)
	ctx := context.Background()
	v := ts.demoVisit(t)
	uploader := ts.signIn(t, "cafcass", "uploader@cafcass.example")
	coordinator := ts.signIn(t, "cafcass", "coordinator@cafcass.example")
	lead := ts.signIn(t, "ofsted", "lead@ofsted.example")
	admin := ts.signIn(t, "ofsted", "admin@ofsted.example")
	files := "/api/v1/visits/" + v.ID + "/files/"

	// Deleted for good while no one of the team has downloaded it (the
	// provider's own downloads do not count).
	unseen := uploader.uploadItem(v.ID, "1.03 draft.pdf", "", []byte("draft"))
	if s := coordinator.status("GET", files+unseen.ID+"/content", nil); s != http.StatusOK {
		t.Fatalf("coordinator download: %d", s)
	}
	if s := uploader.status("DELETE", files+unseen.ID, nil); s != http.StatusNoContent {
		t.Fatalf("delete before a team download: %d", s)
	}
	if _, err := ts.Portal.Store().File(ctx, v.ID, unseen.ID); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("deleted file still recorded: %v", err)
	}
	waitFor(t, 10*time.Second, "the deleted file's objects to go", func() bool {
		vs, err := ts.Portal.Blobs().Versions(ctx, v.Bucket, unseen.ID+"/")
		return err == nil && len(vs) == 0
	})
	if auditCount(t, ts, v.ID, "file.deleted", unseen.ID) != 1 {
		t.Fatal("no file.deleted record")
	}

	// Withdrawn once the team has downloaded it: kept, marked, who and when.
	seen := uploader.uploadItem(v.ID, "1.03 MI report.pdf", "", []byte("report"))
	if s := lead.status("GET", files+seen.ID+"/content", nil); s != http.StatusOK {
		t.Fatalf("lead download: %d", s)
	}
	if st := decode[map[string]string](t, uploader.sendJSON("DELETE", files+seen.ID, nil), http.StatusOK); st["status"] != "withdrawn" {
		t.Fatalf("delete after a team download: %v", st)
	}
	got := lead.listCorrected(v.ID, "q=MI+report")[seen.ID]
	if got.WithdrawnAt == nil || !strings.Contains(got.WithdrawnBy, "uploader") {
		t.Fatalf("the team does not see the file withdrawn: %+v", got)
	}
	if s := lead.status("GET", files+seen.ID+"/content", nil); s != http.StatusOK {
		t.Fatalf("the withdrawn file is not kept: %d", s)
	}
	if vs, _ := ts.Portal.Blobs().Versions(ctx, v.Bucket, seen.ID+"/"); len(vs) == 0 {
		t.Fatal("the withdrawn file's objects are gone")
	}
	if s := uploader.status("DELETE", files+seen.ID, nil); s != http.StatusConflict {
		t.Fatalf("deleting a withdrawn file again: %d", s)
	}
	if s := coordinator.status("PATCH", files+seen.ID, map[string]string{"item": "1.04"}); s != http.StatusConflict {
		t.Fatalf("re-filing a withdrawn file: %d", s)
	}
	if auditCount(t, ts, v.ID, "file.withdrawn", seen.ID) != 1 {
		t.Fatal("no file.withdrawn record")
	}
	// Its name is free again for the corrected file.
	uploader.uploadItem(v.ID, "1.03 MI report.pdf", "", []byte("report, corrected"))

	// Re-filed by the coordinator (not by an uploader), audited.
	misfiled := uploader.uploadItem(v.ID, "1.01 chart.pdf", "", []byte("chart"))
	if s := uploader.status("PATCH", files+misfiled.ID, map[string]string{"item": "1.02"}); s != http.StatusForbidden {
		t.Fatalf("uploader re-filing: %d", s)
	}
	if f := decode[fileResp](t, coordinator.sendJSON("PATCH", files+misfiled.ID, map[string]string{"item": "1.02"}), http.StatusOK); f.Item != "1.02" {
		t.Fatalf("re-filed: %+v", f)
	}
	if auditCount(t, ts, v.ID, "file.refiled", misfiled.ID) != 1 {
		t.Fatal("no file.refiled record")
	}
	// The visit page's menu to re-file it offers every item of the
	// request, with the one it is under now selected.
	page := readAll(t, coordinator.get("/visits/"+v.ID+"?q=chart"))
	menu := regexp.MustCompile(`(?s)<select[^>]*id="refile-item-` + misfiled.ID + `"[^>]*>(.*?)</select>`).FindStringSubmatch(page)
	if menu == nil {
		t.Fatalf("no menu to re-file the file on the visit page")
	}
	options := regexp.MustCompile(`<option value="([^"]+)"( selected)?>([^<]+)</option>`).FindAllStringSubmatch(menu[1], -1)
	var selected []string
	for _, o := range options {
		if o[1] != o[3] {
			t.Fatalf("option %q is labelled %q", o[1], o[3])
		}
		if len(o[2]) > 0 {
			selected = append(selected, o[1])
		}
	}
	items := decode[struct{ Items []struct{ Code string } }](t, coordinator.get("/api/v1/visits/"+v.ID+"/request"), http.StatusOK).Items
	if len(options) != len(items) || len(selected) != 1 || selected[0] != "1.02" {
		t.Fatalf("re-file menu: %d options for %d items, selected %q", len(options), len(items), selected)
	}
	// Refused, the menu says why by itself, and the error summary links
	// to it.
	status, refused := coordinator.submitForm("/visits/"+v.ID+"/files/"+misfiled.ID+"/item", url.Values{"item": {"case-9"}})
	if status != http.StatusBadRequest {
		t.Fatalf("re-filing under a case file not asked for: %d", status)
	}
	mustContain(t, "a refused re-filing", refused, `href="#refile-item-`+misfiled.ID+`"`, `id="refile-item-`+misfiled.ID+`-error"`,
		`aria-describedby="refile-item-`+misfiled.ID+`-error"`)

	// Replaced: the new version takes the name, the earlier is kept,
	// superseded, and listed on request.
	v1 := uploader.uploadItem(v.ID, "1.04 feedback.pdf", "", []byte("version one"))
	if r := uploader.upload(v.ID, "1.04 feedback.pdf", strings.NewReader("again"), 5); r.StatusCode != http.StatusConflict {
		t.Fatalf("a taken name without on_conflict: %d", r.StatusCode)
	}
	v2 := decode[fileResp](t, uploader.uploadReplace(v.ID, "1.04 feedback.pdf", []byte("version two")), http.StatusCreated)
	req, _ := http.NewRequest("POST", coordinator.base+files+v2.ID+"/versions", strings.NewReader("version three"))
	v3 := decode[fileResp](t, coordinator.do(req), http.StatusCreated)
	if v2.Name != v1.Name || v3.Name != v1.Name || v3.Item != "1.04" {
		t.Fatalf("versions: %+v %+v %+v", v1, v2, v3)
	}
	current := lead.listCorrected(v.ID, "q=feedback")
	if len(current) != 1 || current[v3.ID].ID == "" {
		t.Fatalf("current versions listed: %+v", current)
	}
	all := lead.listCorrected(v.ID, "q=feedback&versions=1")
	if len(all) != 3 || all[v1.ID].SupersededBy != v2.ID || all[v2.ID].SupersededBy != v3.ID || all[v3.ID].SupersededBy != "" {
		t.Fatalf("every version on request: %+v", all)
	}
	if s := lead.status("GET", files+v1.ID+"/content", nil); s != http.StatusOK {
		t.Fatalf("an earlier version is not kept: %d", s)
	}
	if s := uploader.status("DELETE", files+v1.ID, nil); s != http.StatusConflict {
		t.Fatalf("deleting a superseded version: %d", s)
	}
	if auditCount(t, ts, v.ID, "file.replaced", v1.ID) != 1 || auditCount(t, ts, v.ID, "file.replaced", v2.ID) != 1 {
		t.Fatal("no file.replaced records")
	}
	// An uploader replaces only their own files. Another's, which they
	// cannot see, stays as it is, and is not named by a refusal: their
	// file is kept beside it under a name of its own.
	other := coordinator.uploadItem(v.ID, "1.05 self-evaluation.pdf", "", []byte("coordinator's"))
	mine := decode[fileResp](t, uploader.uploadReplace(v.ID, "1.05 self-evaluation.pdf", []byte("x")), http.StatusCreated)
	if mine.Name != "1.05 self-evaluation (2).pdf" {
		t.Fatalf("uploader replacing another's file: stored as %q", mine.Name)
	}
	if f, err := ts.Portal.Store().File(ctx, v.ID, other.ID); err != nil || !f.Live() {
		t.Fatalf("another's file after an uploader's replacement: %+v %v", f, err)
	}

	// Under a legal hold: no delete, withdrawal or replacement.
	held := uploader.uploadItem(v.ID, "1.02 policy.pdf", "", []byte("policy"))
	decode[visitResp](t, admin.sendJSON("PUT", "/api/v1/visits/"+v.ID+"/legal-hold", map[string]any{"on": true, "reason": "Judicial review"}), http.StatusOK)
	if s := uploader.status("DELETE", files+held.ID, nil); s != http.StatusLocked {
		t.Fatalf("delete under hold: %d", s)
	}
	if s := uploader.uploadReplace(v.ID, "1.02 policy.pdf", []byte("new")); s.StatusCode != http.StatusLocked {
		t.Fatalf("replace under hold: %d", s.StatusCode)
	}
	req, _ = http.NewRequest("POST", coordinator.base+files+held.ID+"/versions", strings.NewReader("new"))
	if r := coordinator.do(req); r.StatusCode != http.StatusLocked {
		t.Fatalf("new version under hold: %d", r.StatusCode)
	}
	if f := lead.listCorrected(v.ID, "q=policy")[held.ID]; f.ID == "" || f.SupersededBy != "" || f.WithdrawnAt != nil {
		t.Fatalf("the held file changed: %+v", f)
	}
	decode[visitResp](t, admin.sendJSON("PUT", "/api/v1/visits/"+v.ID+"/legal-hold", map[string]any{"on": false, "reason": "Review ended"}), http.StatusOK)

	// Item completeness: the coordinator marks it; everyone sees it.
	complete := "/api/v1/visits/" + v.ID + "/request/1.03/complete"
	if s := uploader.status("PUT", complete, map[string]bool{"complete": true}); s != http.StatusForbidden {
		t.Fatalf("uploader completing an item: %d", s)
	}
	if s := coordinator.status("PUT", complete, map[string]bool{"complete": true}); s != http.StatusNoContent {
		t.Fatalf("coordinator completing an item: %d", s)
	}
	type item struct {
		Code, Status string
		CompletedAt  *time.Time `json:"completed_at"`
	}
	request := decode[struct{ Items []item }](t, lead.get("/api/v1/visits/"+v.ID+"/request"), http.StatusOK)
	statuses := map[string]item{}
	for _, it := range request.Items {
		statuses[it.Code] = it
	}
	if statuses["1.03"].Status != "complete" || statuses["1.03"].CompletedAt == nil || statuses["1.04"].Status != "received" {
		t.Fatalf("request statuses: %+v", statuses)
	}
	if page := readAll(t, lead.get("/visits/"+v.ID)); !strings.Contains(page, "Complete</strong>") || !strings.Contains(page, "not yet complete") {
		t.Fatal("the visit page does not show complete and received-but-incomplete items")
	}
	if auditCount(t, ts, v.ID, "request.item_completed", "1.03") != 1 {
		t.Fatal("no request.item_completed record")
	}
	if s := coordinator.status("PUT", "/api/v1/visits/"+v.ID+"/request/9.99/complete", map[string]bool{"complete": true}); s != http.StatusNotFound {
		t.Fatalf("completing an item not requested: %d", s)
	}
}

// TestPurgeMisdirectedUpload: once the provider can no longer delete, an
// administrator from outside the visit purges a misdirected upload with a
// reason, never under a legal hold; its objects go, its record keeps the
// digest and size and who, when and why (sealed); the uploader and the lead
// are told; the destruction certificate lists it apart.
func TestPurgeMisdirectedUpload(t *testing.T) {
	ts := startStack(t)
	ctx := context.Background()
	admin := ts.signIn(t, "ofsted", "admin@ofsted.example")
	v := setUpVisit(t, ts, admin, "FV-PURGE-1")
	uploader := ts.signIn(t, "cafcass", "uploader@cafcass.example")
	lead := ts.signIn(t, "ofsted", "lead@ofsted.example")
	wrong := uploader.uploadItem(v.ID, "1.03 another child.pdf", "", []byte("about the wrong child"))
	kept := uploader.uploadItem(v.ID, "1.03 report.pdf", "", []byte("the right report"))
	purge := "/api/v1/visits/" + v.ID + "/files/" + wrong.ID + "/purge"
	why := map[string]string{"reason": "About a child of another authority"}

	// While the provider may still delete it, nobody purges it.
	if s := admin.status("POST", purge, why); s != http.StatusForbidden {
		t.Fatalf("purge while the visit accepts uploads: %d", s)
	}
	// After fieldwork the provider can no longer delete.
	end := fieldworkEnd(t, lead, v)
	ts.offset.Store(int64(time.Until(end.AddDate(0, 0, 2))))
	if s := uploader.status("DELETE", "/api/v1/visits/"+v.ID+"/files/"+wrong.ID, nil); s != http.StatusLocked {
		t.Fatalf("provider delete after fieldwork: %d", s)
	}
	// Members cannot purge, the administrator not without a reason, and
	// nobody under a legal hold.
	if s := lead.status("POST", purge, why); s != http.StatusForbidden {
		t.Fatalf("lead purging: %d", s)
	}
	if s := admin.status("POST", purge, map[string]string{"reason": "  "}); s != http.StatusBadRequest {
		t.Fatalf("purge without a reason: %d", s)
	}
	decode[visitResp](t, admin.sendJSON("PUT", "/api/v1/visits/"+v.ID+"/legal-hold", map[string]any{"on": true, "reason": "Complaint"}), http.StatusOK)
	if s := admin.status("POST", purge, why); s != http.StatusLocked {
		t.Fatalf("purge under a legal hold: %d", s)
	}
	decode[visitResp](t, admin.sendJSON("PUT", "/api/v1/visits/"+v.ID+"/legal-hold", map[string]any{"on": false, "reason": "Closed"}), http.StatusOK)

	if s := admin.status("POST", purge, why); s != http.StatusNoContent {
		t.Fatalf("purge: %d", s)
	}
	if _, err := ts.Portal.Store().File(ctx, v.ID, wrong.ID); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("the purged file is still listed: %v", err)
	}
	waitFor(t, 10*time.Second, "the purged file's objects to go", func() bool {
		vs, err := ts.Portal.Blobs().Versions(ctx, v.Bucket, wrong.ID+"/")
		return err == nil && len(vs) == 0
	})
	if s := lead.status("GET", "/api/v1/visits/"+v.ID+"/files/"+wrong.ID+"/content", nil); s != http.StatusNotFound {
		t.Fatalf("download of a purged file: %d", s)
	}
	purged := decode[struct {
		Purged []struct {
			ID, SHA256, Reason string
			PurgedBy           string `json:"purged_by"`
			Size               int64
			PurgedAt           time.Time `json:"purged_at"`
		}
	}](t, admin.get("/api/v1/visits/"+v.ID+"/purged"), http.StatusOK)
	if len(purged.Purged) != 1 || purged.Purged[0].SHA256 != wrong.SHA256 || purged.Purged[0].Size != wrong.Size ||
		purged.Purged[0].Reason != why["reason"] || !strings.Contains(purged.Purged[0].PurgedBy, "admin") {
		t.Fatalf("purged record: %+v", purged)
	}
	// The reason is sealed: the database holds no plaintext of it.
	var sealed []byte
	ts.Portal.Store().DB().QueryRow(`SELECT reason_sealed FROM purged_files WHERE file_id = ?`, wrong.ID).Scan(&sealed)
	if len(sealed) == 0 || bytes.Contains(sealed, []byte("another authority")) {
		t.Fatal("the reason is not sealed")
	}
	if auditCount(t, ts, v.ID, "file.purged", wrong.ID) != 1 {
		t.Fatal("no file.purged record")
	}
	var told int
	ts.Portal.Store().DB().QueryRow(`SELECT COUNT(*) FROM notifications WHERE visit_id = ? AND kind = 'file_purged'`, v.ID).Scan(&told)
	if told != 2 {
		t.Fatalf("%d file_purged notifications, want the lead's and the uploader's", told)
	}
	var data string
	ts.Portal.Store().DB().QueryRow(`SELECT data FROM notifications WHERE visit_id = ? AND kind = 'file_purged' LIMIT 1`, v.ID).Scan(&data)
	if strings.Contains(data, "child") || strings.Contains(data, "authority") {
		t.Fatalf("evidence text in a notification: %s", data)
	}

	// Destroyed later: the certificate lists the purged file apart.
	publish(t, ts, lead, v, 200)
	if _, err := ts.Portal.RunRetention(ctx); err != nil {
		t.Fatal(err)
	}
	decode[visitResp](t, admin.sendJSON("POST", "/api/v1/visits/"+v.ID+"/destruction/approve", nil), http.StatusOK)
	if ids, err := ts.Portal.RunRetention(ctx); err != nil || len(ids) != 1 {
		t.Fatalf("destruction: %v %v", ids, err)
	}
	cert := decode[struct {
		Certificate struct {
			Type   string
			Files  []struct{ ID string }
			Purged []struct {
				ID, SHA256 string
				Size       int64
			}
		}
	}](t, admin.get("/api/v1/visits/"+v.ID+"/certificate"), http.StatusOK)
	c := cert.Certificate
	if c.Type != "evidence-portal destruction certificate v5" || len(c.Files) != 1 || c.Files[0].ID != kept.ID ||
		len(c.Purged) != 1 || c.Purged[0].ID != wrong.ID || c.Purged[0].SHA256 != wrong.SHA256 || c.Purged[0].Size != wrong.Size {
		t.Fatalf("certificate: %+v", c)
	}
}
