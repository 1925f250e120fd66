package web_test

import (
	"bytes"
	"mime/multipart"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

// TestCorrectionRefusedOnTheVisitPage: a replacement the portal refuses
// (no file chosen) is shown on the visit page, as a form's error: "Error: "
// in the title, the summary linking to the file's "Replace" input, its
// "Correct" part open with the message by the input. Before, it was the
// error page, away from the visit and the file.
func TestCorrectionRefusedOnTheVisitPage(t *testing.T) {
	ts := startStack(t)
	v := ts.demoVisit(t)
	uploader := ts.signIn(t, "cafcass", "uploader@cafcass.example")
	f := uploader.uploadItem(v.ID, "1.01 Structure chart.pdf", "", []byte("structure"))
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	mw.CreateFormFile("file", "") // nothing chosen
	mw.Close()
	req, _ := http.NewRequest("POST", uploader.base+"/visits/"+v.ID+"/files/"+f.ID+"/replace", &body)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	resp := uploader.do(req)
	page := readAll(t, resp)
	if resp.StatusCode != http.StatusBadRequest {
		t.Fatalf("replace with no file chosen: %d, want 400", resp.StatusCode)
	}
	mustContain(t, "replace with no file", page, "<title>Error: "+v.Reference, `href="#replace-file-`+f.ID+`"`, `id="replace-file-`+f.ID+`-error"`,
		"Choose the new version of the file", `<details class="govuk-details govuk-!-margin-top-2 govuk-!-margin-bottom-0 portal-correct" open>`)
}

// TestLegalHoldRefusalAdvisesNoDates: a file deleted from a visit page
// loaded before a legal hold was set is refused with the hold's sentence
// alone. Before, the page added "Access to a visit opens and closes on
// dates set for each role.", advice about access windows, which sent the
// person looking for a date that would never come.
func TestLegalHoldRefusalAdvisesNoDates(t *testing.T) {
	ts := startStack(t)
	v := ts.demoVisit(t)
	uploader := ts.signIn(t, "cafcass", "uploader@cafcass.example")
	admin := ts.signIn(t, "ofsted", "admin@ofsted.example")
	f := uploader.uploadItem(v.ID, "1.01 Structure chart.pdf", "", []byte("structure"))
	if s, _ := admin.submitForm("/visits/"+v.ID+"/legal-hold", url.Values{"on": {"yes"}, "hold_reason": {"Complaint escalated"}}); s != http.StatusOK {
		t.Fatalf("setting a legal hold: %d", s)
	}
	s, page := uploader.submitForm("/visits/"+v.ID+"/files/"+f.ID+"/delete", nil)
	if s != http.StatusLocked || !strings.Contains(page, "under a legal hold") {
		t.Fatalf("delete under a legal hold: %d, want 423 saying so", s)
	}
	if strings.Contains(page, "opens and closes on dates") {
		t.Fatal("the refusal of a legal hold advises about access dates")
	}
}

// TestDownloadNothingChosenSaysSoByTheFiles: "Download selected files as a
// zip" with no file ticked says so by the files too, not only in the error
// summary at the top of the page. Before, the list of files, where the
// person ticks them, carried no message.
func TestDownloadNothingChosenSaysSoByTheFiles(t *testing.T) {
	ts := startStack(t)
	v := ts.demoVisit(t)
	uploader := ts.signIn(t, "cafcass", "uploader@cafcass.example")
	lead := ts.signIn(t, "ofsted", "lead@ofsted.example")
	uploader.uploadItem(v.ID, "1.01 Structure chart.pdf", "", []byte("structure"))
	resp := lead.get("/visits/" + v.ID + "/download")
	page := readAll(t, resp)
	if resp.StatusCode != http.StatusBadRequest {
		t.Fatalf("download with nothing chosen: %d, want 400", resp.StatusCode)
	}
	mustContain(t, "download with nothing chosen", page, `href="#files"`, `<p id="files-error" class="govuk-error-message"><span class="govuk-visually-hidden">Error:</span> Select at least one file`)
}

// TestDeleteAndCompleteRefusedOnTheVisitPage: a file deleted, or an item
// marked complete, from a visit page loaded before the act was refused (a
// legal hold set since; the visit no longer taking changes) comes back on
// the visit page, as a form's error: "Error: " in the title, the summary
// linking to the file or the item, with the message by it. Before, both
// gave the general error page, away from the visit.
func TestDeleteAndCompleteRefusedOnTheVisitPage(t *testing.T) {
	ts := startStack(t)
	v := ts.demoVisit(t)
	uploader := ts.signIn(t, "cafcass", "uploader@cafcass.example")
	coordinator := ts.signIn(t, "cafcass", "coordinator@cafcass.example")
	admin := ts.signIn(t, "ofsted", "admin@ofsted.example")
	f := uploader.uploadItem(v.ID, "1.01 Structure chart.pdf", "", []byte("structure"))

	if s, _ := admin.submitForm("/visits/"+v.ID+"/legal-hold", url.Values{"on": {"yes"}, "hold_reason": {"Complaint escalated"}}); s != http.StatusOK {
		t.Fatalf("setting a legal hold: %d", s)
	}
	s, page := uploader.submitForm("/visits/"+v.ID+"/files/"+f.ID+"/delete", nil)
	if s != http.StatusLocked {
		t.Fatalf("delete under a legal hold: %d, want 423", s)
	}
	mustContain(t, "delete under a legal hold", page, "<title>Error: "+v.Reference, `<h1 class="govuk-heading-l">`,
		`<a href="#file-`+f.ID+`">This visit is under a legal hold`, `id="file-`+f.ID+`-error"`)

	// The visit stops taking changes: the day after fieldwork ends (the
	// coordinator still sees it for 5 working days).
	end := fieldworkEnd(t, coordinator, v)
	ts.offset.Store(int64(time.Until(end.AddDate(0, 0, 1).Add(12 * time.Hour))))
	defer ts.offset.Store(0)
	s, page = coordinator.submitForm("/visits/"+v.ID+"/request/1.01/complete", nil)
	if s != http.StatusForbidden && s != http.StatusLocked {
		t.Fatalf("complete after the visit stopped taking changes: %d, want 403 or 423", s)
	}
	mustContain(t, "complete refused", page, "<title>Error: "+v.Reference, `<a href="#item-1.01">`, `id="item-1.01-error"`)
}
