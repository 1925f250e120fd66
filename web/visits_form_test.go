package web_test

import (
	"context"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
)

// TestCreateVisitFormListsEveryError: the "Create a visit" form reports
// everything wrong with it at once, in the order of its fields: a reference
// with a space, a title of spaces only, a provider with a control
// character and a date missing its month. Before, the dates were checked
// first and alone, then the reference, then the title: each error showed
// only once the one before it was put right.
func TestCreateVisitFormListsEveryError(t *testing.T) {
	ts := startStack(t)
	admin := ts.signIn(t, "ofsted", "admin@ofsted.example")
	s, page := admin.submitForm("/visits", url.Values{"reference": {"FV LIFE"}, "title": {"   "}, "provider": {"Caf\u0007cass"},
		"notification_date-day": {"3"}, "notification_date-year": {"2026"}, "fieldwork_start-day": {"10"}, "fieldwork_start-month": {"3"}, "fieldwork_start-year": {"2026"}})
	if s != http.StatusBadRequest {
		t.Fatalf("a visit with four errors: %d, want 400", s)
	}
	var links []string
	for _, m := range regexp.MustCompile(`<li><a href="#([a-z_-]+)">`).FindAllStringSubmatch(page, -1) {
		links = append(links, m[1])
	}
	want := []string{"reference", "title", "provider", "notification_date-month"}
	if len(links) != len(want) {
		t.Fatalf("the error summary links to %v, want %v", links, want)
	}
	for i := range want {
		if links[i] != want[i] {
			t.Fatalf("the error summary links to %v, want %v", links, want)
		}
	}
	mustContain(t, "create visit", page, `value="FV LIFE"`, `id="reference-error"`, `id="title-error"`, `id="provider-error"`)
}

// TestDueDateOnAWeekendSaysSo: a due date typed in the information
// request's date input that falls on a weekend is refused by its field in
// words that fit it: the day and why it is not a working day. Before, the
// page said "The due date must be a working day in the form YYYY-MM-DD",
// a format the page never asks for, which reads as if the date were
// mistyped.
func TestDueDateOnAWeekendSaysSo(t *testing.T) {
	ts := startStack(t)
	v := ts.demoVisit(t)
	lead := ts.signIn(t, "ofsted", "lead@ofsted.example")
	s, page := lead.submitForm("/visits/"+v.ID+"/request", url.Values{"kind": {"annex_a"}, "code": {"1.06"}, "title": {"Staff survey"},
		"annex_due-day": {"7"}, "annex_due-month": {"3"}, "annex_due-year": {"2026"}})
	if s != http.StatusBadRequest {
		t.Fatalf("a due date on a Saturday: %d, want 400", s)
	}
	mustContain(t, "due on a Saturday", page, `href="#annex_due-day"`, "The due date must be a working day, but Saturday 7 March 2026 is a weekend", `value="Staff survey"`)
	if strings.Contains(page, "YYYY-MM-DD") {
		t.Fatal("the page asks for a date in the form YYYY-MM-DD")
	}
}

// TestRequestTitleRefusalSaysWhy: a request whose title holds a control
// character is refused for that, by its field, and kept. Before, every
// refusal of a title said "Enter what is requested, in up to 300
// characters.", as if nothing, or too much, had been typed.
func TestRequestTitleRefusalSaysWhy(t *testing.T) {
	ts := startStack(t)
	v := ts.demoVisit(t)
	lead := ts.signIn(t, "ofsted", "lead@ofsted.example")
	s, page := lead.submitForm("/visits/"+v.ID+"/request", url.Values{"kind": {"case_file"}, "title": {"Child\u0007 A"}})
	if s != http.StatusBadRequest {
		t.Fatalf("a case title with a control character: %d, want 400", s)
	}
	mustContain(t, "a case title with a control character", page, `href="#case-title"`, "must not contain control characters")
}

// TestVisitTitleIsTrimmed: the spaces around a new visit's title and
// provider are dropped before they are checked, as they are before they
// are kept. Before, a title of 200 characters typed with a space either
// side was refused as "200 characters or fewer", and a tab after the
// provider as a control character, though neither would have been kept.
func TestVisitTitleIsTrimmed(t *testing.T) {
	ts := startStack(t)
	admin := ts.signIn(t, "ofsted", "admin@ofsted.example")
	title := strings.Repeat("t", 200)
	s, page := admin.submitForm("/visits", url.Values{"reference": {" FV-TRIM "}, "title": {" " + title + " "}, "provider": {"Cafcass\t"},
		"notification_date-day": {"2"}, "notification_date-month": {"3"}, "notification_date-year": {"2026"},
		"fieldwork_start-day": {"9"}, "fieldwork_start-month": {"3"}, "fieldwork_start-year": {"2026"}})
	if s != http.StatusOK || strings.Contains(page, "govuk-error-summary") {
		t.Fatalf("a title of 200 characters between spaces: %d, want the visit created:\n%s", s, page)
	}
	v, err := ts.Portal.Store().VisitByReference(context.Background(), "FV-TRIM")
	if err != nil {
		t.Fatal(err)
	}
	got := decode[struct {
		Title    string `json:"title"`
		Provider string `json:"provider"`
	}](t, admin.get("/api/v1/visits/"+v.ID), http.StatusOK)
	if got.Title != title || got.Provider != "Cafcass" {
		t.Fatalf("kept title %q, provider %q; want them without the spaces around them", got.Title, got.Provider)
	}
}
