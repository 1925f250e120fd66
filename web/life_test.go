package web_test

import (
	"bytes"
	"context"
	"mime/multipart"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/ofsted-portal/evidence/portal/calendar"
)

// submitForm posts a form as a browser does (redirects followed) and returns
// the status and page it ends on.
func (b *browser) submitForm(path string, v url.Values) (int, string) {
	b.t.Helper()
	resp, err := b.c.PostForm(b.base+path, v)
	if err != nil {
		b.t.Fatal(err)
	}
	return resp.StatusCode, readAll(b.t, resp)
}

func dateParts(prefix string, d time.Time) url.Values {
	return url.Values{prefix + "-day": {d.Format("2")}, prefix + "-month": {d.Format("1")}, prefix + "-year": {d.Format("2006")}}
}

func with(v url.Values, more url.Values) url.Values {
	for k, vs := range more {
		v[k] = vs
	}
	return v
}

func mustContain(t *testing.T, what, page string, want ...string) {
	t.Helper()
	for _, w := range want {
		if !strings.Contains(page, w) {
			t.Fatalf("%s: no %q in:\n%s", what, w, page)
		}
	}
}

// TestVisitLifePages: the visit's life through its pages, as the API's
// rules have it. Letter events go in order (a wrong date is shown by its
// field with what was typed, a publication while a complaint is open is a
// sentence on the page with 409); a legal hold needs its reason and is set
// and lifted; a form error keeps what was typed; "Download selected" with
// nothing chosen says so; the audit trail is in words, with names only for
// those who may see the file; the destruction is approved on its page and
// the destroyed visit keeps a record page for administrators.
func TestVisitLifePages(t *testing.T) {
	ts := startStack(t)
	ctx := context.Background()
	admin := ts.signIn(t, "ofsted", "admin@ofsted.example")
	// A second administrator, who approves the destruction the first set
	// going (recording the publication again, lifting the hold).
	me := decode[struct{ Issuer string }](t, admin.get("/api/v1/me"), http.StatusOK)
	if err := ts.Portal.Store().GrantPortalRole(ctx, "administrator", me.Issuer, "outsider@ofsted.example", time.Now()); err != nil {
		t.Fatal(err)
	}
	second := ts.signIn(t, "ofsted", "outsider@ofsted.example")
	v := setUpVisit(t, ts, admin, "FV-LIFE-1")
	uploader := ts.signIn(t, "cafcass", "uploader@cafcass.example")
	lead := ts.signIn(t, "ofsted", "lead@ofsted.example")
	f := uploader.uploadItem(v.ID, "1.01 Structure chart.pdf", "", []byte("structure"))
	readAll(t, lead.get("/api/v1/visits/"+v.ID+"/files/"+f.ID+"/content"))
	// A file the lead may not see: item 1.03 restricted to analysts.
	decode[map[string]any](t, admin.sendJSON("PUT", "/api/v1/visits/"+v.ID+"/items/1.03", map[string]any{"restricted": true, "roles": []string{"analyst"}}), http.StatusOK)
	hidden := uploader.uploadItem(v.ID, "1.03 Restricted report.pdf", "", []byte("restricted"))
	// The plain upload form: a refused file is shown in place, the item kept.
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	mw.WriteField("item", "1.02")
	fw, _ := mw.CreateFormFile("file", "x.pdf")
	fw.Write([]byte("hello"))
	mw.Close()
	raw := bytes.Replace(body.Bytes(), []byte(`filename="x.pdf"`), []byte("filename=\"a\u202Efdp.exe\""), 1)
	req, _ := http.NewRequest("POST", uploader.base+"/visits/"+v.ID+"/files", bytes.NewReader(raw))
	req.Header.Set("Content-Type", mw.FormDataContentType())
	resp := uploader.do(req)
	page := readAll(t, resp)
	if resp.StatusCode != http.StatusBadRequest {
		t.Fatalf("a refused upload: %d", resp.StatusCode)
	}
	mustContain(t, "upload form", page, "govuk-error-summary", `href="#file"`, `id="file-error"`, "text-direction", `value="1.02" selected`)

	end := fieldworkEnd(t, lead, v)
	ts.offset.Store(int64(30 * 24 * time.Hour))
	visit := "/visits/" + v.ID

	// The forms are offered to the lead inspector; not to the uploader.
	mustContain(t, "lead's visit page", readAll(t, lead.get(visit)), "Record a letter event", `name="event_date-day"`,
		"Last day for the provider to complain (planned:")
	if page := readAll(t, uploader.get(visit)); strings.Contains(page, "Record a letter event") || strings.Contains(page, "Set a legal hold") {
		t.Fatal("the uploader is offered the visit's life forms")
	}
	if s, _ := uploader.submitForm(visit+"/events", with(url.Values{"event": {"draft_sent"}}, dateParts("event_date", end.AddDate(0, 0, 1)))); s != http.StatusForbidden {
		t.Fatalf("uploader recording an event: %d", s)
	}

	// A date that is not a real date: shown in place, with what was typed.
	s, page := lead.submitForm(visit+"/events", url.Values{"event": {"draft_sent"}, "event_date-day": {"31"}, "event_date-month": {"2"}, "event_date-year": {"2026"}})
	if s != http.StatusBadRequest {
		t.Fatalf("a date that is not real: %d", s)
	}
	mustContain(t, "bad date", page, "<title>Error: ", "govuk-error-summary", `href="#event_date-day"`, "The date of the event must be a real date",
		`id="event_date-error"`, `value="31"`, `value="draft_sent" checked`)
	// No event chosen, and a date in the future: the rule the API enforces.
	if s, page = lead.submitForm(visit+"/events", dateParts("event_date", time.Now().AddDate(0, 0, 60))); s != http.StatusBadRequest {
		t.Fatalf("no event chosen: %d", s)
	}
	mustContain(t, "no event", page, "Choose the letter event to record", `href="#event"`)
	s, page = lead.submitForm(visit+"/events", with(url.Values{"event": {"draft_sent"}}, dateParts("event_date", time.Now().AddDate(0, 0, 60))))
	if s != http.StatusBadRequest {
		t.Fatalf("a date in the future: %d", s)
	}
	mustContain(t, "future date", page, "A letter event cannot be dated in the future.")

	record := func(who *browser, ev string, day int) (int, string) {
		return who.submitForm(visit+"/events", with(url.Values{"event": {ev}}, dateParts("event_date", end.AddDate(0, 0, day))))
	}
	s, page = record(lead, "draft_sent", 1)
	if s != http.StatusOK {
		t.Fatalf("draft sent: %d", s)
	}
	mustContain(t, "after the draft", page, "govuk-notification-banner--success", "Draft letter sent to the provider: recorded on")
	if s, _ = record(lead, "final_sent", 2); s != http.StatusOK {
		t.Fatalf("final sent: %d", s)
	}
	// Not published while Cafcass may still complain: the page names the
	// first day it may be recorded.
	first := publishedOn(ts, end.AddDate(0, 0, 2))
	pub := int(first.Sub(end).Hours() / 24)
	// The timeline, on the page and through the API, shows the deadline the
	// portal enforces from the recorded final letter, not the plan's.
	until := first.AddDate(0, 0, -1)
	mustContain(t, "timeline after the final letter", readAll(t, lead.get(visit)),
		`<td class="govuk-table__cell">`+until.Format("Monday 2 January 2006")+`</td><td class="govuk-table__cell">Last day for the provider to complain:`,
		`<td class="govuk-table__cell">`+first.Format("Monday 2 January 2006")+`</td><td class="govuk-table__cell">Publication can be recorded from this day</td>`)
	vj := decode[map[string]any](t, lead.get("/api/v1/visits/"+v.ID), http.StatusOK)
	if tl, _ := vj["timeline"].(map[string]any); tl["complaints_until"] != until.Format(time.DateOnly) || vj["publication_from"] != first.Format(time.DateOnly) || vj["complaints_planned"] != false {
		t.Fatalf("API timeline after the final letter: %v, planned %v; want complaints until %s, publication from %s", tl, vj["complaints_planned"], until.Format(time.DateOnly), first.Format(time.DateOnly))
	}
	s, page = record(lead, "published", 2)
	if s != http.StatusConflict {
		t.Fatalf("publication the day the final letter is sent: %d", s)
	}
	mustContain(t, "publication refused in the complaint window", page, "govuk-error-summary", `href="#event"`, "Publication can be recorded from "+first.Format("2 January 2006"))
	if s, _ = record(admin, "complaint_received", 3); s != http.StatusOK {
		t.Fatalf("complaint received: %d", s)
	}
	s, page = record(lead, "published", pub)
	if s != http.StatusConflict {
		t.Fatalf("publication with a complaint open: %d", s)
	}
	mustContain(t, "publication refused", page, "govuk-error-summary", `href="#event"`, "complaint", `value="published" checked`)
	if s, _ = record(lead, "complaint_resolved", 4); s != http.StatusOK {
		t.Fatalf("complaint resolved: %d", s)
	}
	if s, page = record(lead, "published", pub); s != http.StatusOK {
		t.Fatalf("published: %d\n%s", s, page)
	}
	mustContain(t, "published", page, "Letter published: recorded on")

	// A publication recorded in error: administrators withdraw it from the
	// page (the last event only), and the right one is recorded again.
	if strings.Contains(readAll(t, lead.get(visit)), "withdraw-event-form") {
		t.Fatal("the lead inspector is offered to withdraw a letter event")
	}
	mustContain(t, "admin's visit page", readAll(t, admin.get(visit)), `id="withdraw-event-form"`, `name="event" value="published"`,
		`name="date" value="`+end.AddDate(0, 0, pub).Format(time.DateOnly)+`"`)
	withdraw := url.Values{"event": {"published"}, "date": {end.AddDate(0, 0, pub).Format(time.DateOnly)}}
	if s, _ = lead.submitForm(visit+"/events/withdraw", withdraw); s != http.StatusForbidden {
		t.Fatalf("the lead withdrawing an event: %d", s)
	}
	s, page = admin.submitForm(visit+"/events/withdraw", url.Values{"event": {"final_sent"}, "date": {end.AddDate(0, 0, 2).Format(time.DateOnly)}})
	if s != http.StatusConflict {
		t.Fatalf("withdrawing an event that is not the last: %d", s)
	}
	mustContain(t, "not the last", page, "govuk-error-summary", "Only the last letter event can be withdrawn",
		`href="#withdraw-event"`, `id="withdraw-event"`, `id="withdraw-event-error"`)
	// The refusal is the withdrawal's: the form that records an event
	// shows no error, and has no event chosen for the person (they would
	// record the one they meant to withdraw).
	if strings.Contains(page, `id="event-error"`) || strings.Contains(page, `value="final_sent" checked`) {
		t.Fatal("a refused withdrawal is shown on the form that records a letter event, with the event chosen")
	}
	if s, page = admin.submitForm(visit+"/events/withdraw", withdraw); s != http.StatusOK {
		t.Fatalf("withdrawing the publication: %d\n%s", s, page)
	}
	mustContain(t, "withdrawn", page, "Letter published on "+end.AddDate(0, 0, pub).Format("2 January 2006")+": withdrawn.", `name="event" value="complaint_resolved"`)
	if s, _ = record(admin, "published", pub+1); s != http.StatusOK {
		t.Fatalf("published again: %d", s)
	}

	// The legal hold: its reason is required; it is set and lifted.
	if s, _ = lead.submitForm(visit+"/legal-hold", url.Values{"on": {"yes"}, "hold_reason": {"x"}}); s != http.StatusForbidden {
		t.Fatalf("the lead setting a legal hold: %d", s)
	}
	s, page = admin.submitForm(visit+"/legal-hold", url.Values{"on": {"yes"}, "hold_reason": {" "}})
	if s != http.StatusBadRequest {
		t.Fatalf("a hold without a reason: %d", s)
	}
	mustContain(t, "no reason", page, `href="#hold_reason"`, "Give the reason for setting or lifting the legal hold.")
	if s, page = admin.submitForm(visit+"/legal-hold", url.Values{"on": {"yes"}, "hold_reason": {"Complaint escalated"}}); s != http.StatusOK {
		t.Fatalf("a hold with its reason: %d", s)
	}
	mustContain(t, "hold set", page, "The legal hold is set", "Lift the legal hold")
	if vj := decode[struct {
		LegalHold bool `json:"legal_hold"`
	}](t, admin.get("/api/v1/visits/"+v.ID), http.StatusOK); !vj.LegalHold {
		t.Fatal("the form did not set the hold")
	}
	_, page = admin.submitForm(visit+"/legal-hold", url.Values{"on": {"no"}, "hold_reason": {"Complaint closed"}})
	mustContain(t, "hold lifted", page, "The legal hold is lifted", "Set a legal hold")

	// A form error elsewhere keeps what was typed (members).
	s, page = admin.submitForm(visit+"/members", with(url.Values{"email": {"not an email"}, "role": {"inspector"}}, dateParts("valid_from", end)))
	if s != http.StatusBadRequest {
		t.Fatalf("a bad email: %d", s)
	}
	mustContain(t, "members form", page, `href="#email"`, `id="email-error"`, `value="not an email"`, `value="inspector" selected`, `name="valid_from-day" type="text" inputmode="numeric" value="`+end.Format("2")+`"`)

	// The information request, the visit's creation and the plain upload
	// form: errors in place, values kept.
	s, page = lead.submitForm(visit+"/request", with(url.Values{"kind": {"annex_a"}, "code": {"one"}, "title": {"Staff survey"}}, dateParts("annex_due", end)))
	if s != http.StatusBadRequest {
		t.Fatalf("a bad item number: %d", s)
	}
	mustContain(t, "request form", page, `href="#annex-code"`, `id="annex-code-error"`, `value="one"`, `value="Staff survey"`, `id="annex_due-day" name="annex_due-day" type="text" inputmode="numeric" value="`+end.Format("2")+`"`)
	if strings.Contains(page, `id="case-title" name="title" type="text" autocomplete="off" value="Staff survey"`) {
		t.Fatal("the Annex A form's title shows in the case file form too")
	}
	s, page = admin.submitForm("/visits", url.Values{"reference": {"FV LIFE"}, "title": {"A visit"}, "provider": {"Cafcass"}, "notification_date-day": {"3"}})
	if s != http.StatusBadRequest {
		t.Fatalf("a visit with a date missing its month: %d", s)
	}
	mustContain(t, "create visit", page, "The notification date must include a month", "Enter the fieldwork start", `value="A visit"`, `href="#notification_date-month"`)
	// "Download selected" with nothing chosen.
	resp = lead.get(visit + "/download")
	page = readAll(t, resp)
	if resp.StatusCode != http.StatusBadRequest || !strings.Contains(page, "Select at least one file to download") || strings.Contains(page, `"code"`) {
		t.Fatalf("download with nothing chosen: %d\n%s", resp.StatusCode, page)
	}
	resp = lead.get(visit + "/download?file=" + f.ID)
	readAll(t, resp)
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "application/zip" {
		t.Fatalf("download of one chosen file: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}

	// The audit trail in words: the lead sees the file's name; the
	// administrator, who may not see the file, its id.
	page = readAll(t, lead.get(visit+"/audit?actor=lead@ofsted.example"))
	mustContain(t, "lead's audit page", page, "lead@ofsted.example (Lead inspector) downloaded <strong>1.01 Structure chart.pdf</strong>", "recorded: letter published", "Date: ")
	page = readAll(t, lead.get(visit+"/audit"))
	mustContain(t, "lead's whole trail", page, `uploaded <span class="portal-hash">`+hidden.ID, "uploaded <strong>1.01 Structure chart.pdf</strong>")
	if strings.Contains(page, "Restricted report") {
		t.Fatal("the lead sees the name of a file restricted to analysts in the audit trail")
	}
	page = readAll(t, admin.get(visit+"/audit"))
	mustContain(t, "admin's audit page", page, "set a legal hold", "lifted the legal hold", "downloaded <span class=\"portal-hash\">"+f.ID)
	if strings.Contains(page, "Structure chart") {
		t.Fatal("the administrator, not a member, sees a file's name in the audit trail")
	}
	page = readAll(t, admin.get(visit+"/audit?action=letter.&from-day="+end.Format("2")+"&from-month="+end.Format("1")+"&from-year="+end.Format("2006")))
	if !strings.Contains(page, "recorded: complaint received") || strings.Contains(page, "set a legal hold") || !strings.Contains(page, `value="letter." selected`) {
		t.Fatalf("audit filtered by kind and date:\n%s", page)
	}
	resp = admin.get(visit + "/audit?from-day=30&from-month=2&from-year=2026")
	page = readAll(t, resp)
	if resp.StatusCode != http.StatusBadRequest || !strings.Contains(page, "The date to show acts from must be a real date") {
		t.Fatalf("audit filter with a date that is not real: %d", resp.StatusCode)
	}

	// Destruction: approved on the review page, then the record page.
	y, m, d := time.Now().In(london).Date()
	// The publication recorded again on pub+1, and the 30 days kept.
	ts.offset.Store(int64(end.AddDate(0, 0, pub+1+30).Sub(calendar.Date(y, m, d))))
	if ids, err := ts.Portal.RunRetention(ctx); err != nil || len(ids) != 0 {
		t.Fatalf("first sweep: %v %v", ids, err)
	}
	page = readAll(t, admin.get("/destruction"))
	mustContain(t, "destruction review, to the administrator who set it going", page, "FV-LIFE-1", "You recorded this visit’s publication", `data-label="Decision"`)
	if strings.Contains(page, "Approve destruction") {
		t.Fatal("the review offers the administrator who recorded the publication its approval")
	}
	page = readAll(t, second.get("/destruction"))
	mustContain(t, "destruction review", page, "FV-LIFE-1", "Approve destruction", `data-label="Decision"`)
	notice := regexp.MustCompile(`name="notice" value="([^"]+)"`).FindStringSubmatch(page)
	if notice == nil {
		t.Fatalf("the review's approval names no notice:\n%s", page)
	}
	_, page = second.submitForm(visit+"/destruction/approve", url.Values{"notice": {notice[1]}})
	mustContain(t, "approved", page, "The destruction of FV-LIFE-1 is approved")
	if ids, err := ts.Portal.RunRetention(ctx); err != nil || len(ids) != 1 {
		t.Fatalf("sweep: %v %v", ids, err)
	}
	resp = admin.get(visit)
	page = readAll(t, resp)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("record page: %d", resp.StatusCode)
	}
	mustContain(t, "record page", page, "FV-LIFE-1: record of a destroyed visit", "Letter published on", "lead@ofsted.example", "Lead inspector",
		"/api/v1/visits/"+v.ID+"/certificate", "portal certificate verify --public-key", "Files destroyed", "2 (19 bytes)", "/visits/"+v.ID+"/audit")
	if strings.Contains(page, "Structure chart") {
		t.Fatal("the record page names a file")
	}
	const unchecked = "This certificate’s signature does not check with the portal’s signing key"
	if strings.Contains(page, unchecked) {
		t.Fatal("the record page says the portal's own certificate does not check")
	}
	// A certificate changed where it is held (one figure) is shown as
	// one whose signature does not check, not as the portal's.
	var held []byte
	if err := ts.Portal.Store().DB().QueryRow(`SELECT certificate FROM destructions WHERE visit_id = ?`, v.ID).Scan(&held); err != nil {
		t.Fatal(err)
	}
	changed := bytes.Replace(held, []byte(`"file_count":2`), []byte(`"file_count":3`), 1)
	if bytes.Equal(changed, held) {
		t.Fatalf("no file count of 2 in the certificate: %s", held)
	}
	if _, err := ts.Portal.Store().DB().Exec(`UPDATE destructions SET certificate = ? WHERE visit_id = ?`, changed, v.ID); err != nil {
		t.Fatal(err)
	}
	mustContain(t, "record page of a changed certificate", readAll(t, admin.get(visit)), unchecked)
	if s := lead.status("GET", visit, nil); s != http.StatusGone {
		t.Fatalf("the lead on a destroyed visit: %d, want 410", s)
	}
}
