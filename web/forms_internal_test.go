package web

import (
	"html/template"
	"reflect"
	"strings"
	"testing"

	"github.com/gin-gonic/gin"
	"github.com/ofsted-portal/evidence/portal"
)

// TestDateField: the GOV.UK date input's rules, in its words.
func TestDateField(t *testing.T) {
	for _, tc := range []struct {
		name             string
		day, month, year string
		required         bool
		want, err        string
	}{
		{"empty and optional", "", "", "", false, "", ""},
		{"empty and required", "", "", "", true, "", "Enter the date of the event"},
		{"a real date", "7", "3", "2026", true, "2026-03-07", ""},
		{"leading zeros and spaces", " 07", "03 ", "2026", true, "2026-03-07", ""},
		{"no month", "7", "", "2026", true, "", "The date of the event must include a month"},
		{"no year", "7", "3", "", false, "", "The date of the event must include a year"},
		{"30 February", "30", "2", "2026", true, "", "The date of the event must be a real date"},
		{"29 February in a leap year", "29", "2", "2028", true, "2028-02-29", ""},
		{"month 13", "1", "13", "2026", true, "", "The date of the event must be a real date"},
		{"words", "seven", "3", "2026", true, "", "The date of the event must be a real date"},
		{"two-digit year", "7", "3", "26", true, "", "The date of the event must include a year with 4 numbers"},
		{"five-digit year", "7", "3", "02026", true, "", "The date of the event must include a year with 4 numbers"},
		{"31 February", "31", "2", "2027", true, "", "The date of the event must be a real date"},
		{"a sign before the day", "+7", "3", "2026", true, "", "The date of the event must be a real date"},
		{"a minus month", "7", "-3", "2026", true, "", "The date of the event must be a real date"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := map[string]string{"d-day": tc.day, "d-month": tc.month, "d-year": tc.year}
			f := &form{}
			got, ok := f.dateField(func(k string) string { return in[k] }, "d", "The date of the event", tc.required)
			msg := ""
			if len(f.Errors) > 0 {
				msg = f.Errors[0].Msg
			}
			if got != tc.want || msg != tc.err || ok != (tc.err == "") {
				t.Fatalf("got %q %v %q, want %q %q", got, ok, msg, tc.want, tc.err)
			}
			if f.Value("d-day") != tc.day && f.Value("d-day") != strings.TrimSpace(tc.day) {
				t.Fatalf("what was typed is not kept: %q", f.Value("d-day"))
			}
			if tc.err != "" && f.Err("d") == "" {
				t.Fatal("the error is not by the field")
			}
		})
	}
}

// TestAuditInWords: acts and details as text; unknown codes as they are.
func TestAuditInWords(t *testing.T) {
	for code, want := range map[string]string{
		"file.download": "downloaded", "member.changed": "changed the role of", "letter.published": "recorded: letter published",
		"letter.complaint_received": "recorded: complaint received", "something.new": "something.new",
	} {
		if got := actionInWords(code); got != want {
			t.Errorf("%s: %q, want %q", code, got, want)
		}
	}
	if got := detailText(`{"to":"1.02","from":"1.01","policies":["a","b"],"resumable":true,"offset":1024}`); !reflect.DeepEqual(got,
		[]string{"From: 1.01", "Offset: 1024", "Policies: a, b", "Resumable: yes", "To: 1.02"}) {
		t.Errorf("details: %q", got)
	}
	if got := detailText(`{"issuer":"","role":"lead_inspector"}`); !reflect.DeepEqual(got, []string{"Role: Lead inspector"}) {
		t.Errorf("empty details are left out, roles in words: %q", got)
	}
	if got := detailText("{}"); got != nil {
		t.Errorf("no details: %q", got)
	}
	if got := detailText("not json"); !reflect.DeepEqual(got, []string{"not json"}) {
		t.Errorf("text: %q", got)
	}
	// The same field name must not catch another field's error.
	f := &form{}
	f.Add("roles", "x")
	f.Add("event_date-day", "y")
	if f.Err("role") != "" || f.Err("event") != "" || f.Err("event_date") != "y" {
		t.Errorf("errors matched to the wrong fields: %+v", f.Errors)
	}
}

// TestDateInputMarksThePartAtFault: the GOV.UK date input highlights only
// the input at fault (a missing month, a year without 4 numbers), and all
// three when the date as a whole is wrong (31 February); the error summary
// links to that input. Before, a two-digit year was "must be a real date"
// linked to the day, and every error highlighted all three inputs.
func TestDateInputMarksThePartAtFault(t *testing.T) {
	tmpl := template.Must(template.New("forms").Funcs(funcs).ParseFS(templateFS, "templates/forms.html"))
	for _, tc := range []struct {
		name             string
		day, month, year string
		field            string
		marked           []string
	}{
		{"no month", "7", "", "2026", "d-month", []string{"month"}},
		{"two-digit year", "7", "3", "26", "d-year", []string{"year"}},
		{"31 February", "31", "2", "2027", "d-day", []string{"day", "month", "year"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := map[string]string{"d-day": tc.day, "d-month": tc.month, "d-year": tc.year}
			f := &form{}
			f.dateField(func(k string) string { return in[k] }, "d", "The date of the event", true)
			if len(f.Errors) != 1 || f.Errors[0].Field != tc.field {
				t.Fatalf("errors %+v, want one on %s", f.Errors, tc.field)
			}
			var b strings.Builder
			if err := tmpl.ExecuteTemplate(&b, "date-input", map[string]any{"Form": f, "Name": "d", "Legend": "Date", "Hint": ""}); err != nil {
				t.Fatal(err)
			}
			var marked []string
			for _, part := range []string{"day", "month", "year"} {
				i := strings.Index(b.String(), `id="d-`+part+`"`)
				start := strings.LastIndex(b.String()[:i], "<input")
				if strings.Contains(b.String()[start:i], "govuk-input--error") {
					marked = append(marked, part)
				}
			}
			if !reflect.DeepEqual(marked, tc.marked) {
				t.Fatalf("inputs marked in error: %v, want %v", marked, tc.marked)
			}
		})
	}
	// An error given on the input as a whole (the files page's filters)
	// marks all three.
	f := &form{}
	f.Add("d", "The first day must be a real date")
	for _, part := range []string{"day", "month", "year"} {
		if !f.PartErr("d", part) {
			t.Errorf("an error on the whole input does not mark its %s", part)
		}
	}
}

// TestErrorSummaryComesBeforeTheBanner: a page that confirms part of what
// was sent and refuses the rest (two files of three uploaded) shows the
// error summary first, and its banner does not take the focus (role
// "alert" moves it there when the page loads): a keyboard or screen
// reader user lands on what was refused, as the GOV.UK pattern has it.
// Before, the "Success" banner came first and took the focus from the
// summary.
func TestErrorSummaryComesBeforeTheBanner(t *testing.T) {
	tmpl := template.Must(template.New("forms").Funcs(funcs).ParseFS(templateFS, "templates/forms.html"))
	f := &form{}
	f.Add("file", "The name is too long")
	var b strings.Builder
	if err := tmpl.ExecuteTemplate(&b, "form-top", map[string]any{"Form": f, "Flash": "2 files uploaded."}); err != nil {
		t.Fatal(err)
	}
	page := b.String()
	summary, banner := strings.Index(page, "govuk-error-summary"), strings.Index(page, "govuk-notification-banner")
	if summary < 0 || banner < 0 || summary > banner {
		t.Fatalf("error summary at %d, banner at %d: want the summary first\n%s", summary, banner, page)
	}
	bannerTag := page[strings.LastIndex(page[:banner], "<div"):]
	bannerTag = bannerTag[:strings.Index(bannerTag, ">")]
	if strings.Contains(bannerTag, `role="alert"`) || !strings.Contains(bannerTag, `data-disable-auto-focus="true"`) {
		t.Errorf("the banner beside an error summary: %s, want no alert role and no focus of its own", bannerTag)
	}
	// Alone, the banner is the alert it was.
	b.Reset()
	if err := tmpl.ExecuteTemplate(&b, "form-top", map[string]any{"Form": &form{}, "Flash": "2 files uploaded."}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(b.String(), `role="alert"`) {
		t.Errorf("the banner alone is not an alert:\n%s", b.String())
	}
	b.Reset()
	if err := tmpl.ExecuteTemplate(&b, "form-top", map[string]any{"Flash": "Saved."}); err != nil {
		t.Fatalf("a page with no form: %v", err)
	}
}

// TestRefusalsOfUnlistedFilesLinkToTheList: a refusal shown by a file's
// own control (re-file menu, replacement, the file itself) when the page
// does not list that file (another page of the list, a search) is moved to
// the files' heading, so the error summary never links to nothing. Before,
// a refused re-filing or replacement of a file not on the page linked to
// an id the page did not have.
func TestRefusalsOfUnlistedFilesLinkToTheList(t *testing.T) {
	const listed, other = "0123456789abcdef0123456789abcdef", "fedcba9876543210fedcba9876543210"
	page := gin.H{"CanRefile": true, "Groups": []fileGroup{{Files: []portal.FileView{{ID: listed, Refilable: true, Correctable: true}}}}}
	f := &form{}
	for _, id := range []string{listed, other} {
		f.Add("file-"+id, "x")
		f.Add("refile-item-"+id, "x")
		f.Add("replace-file-"+id, "x")
	}
	listedErrors(f, page)
	var got []string
	for _, e := range f.Errors {
		got = append(got, e.Field)
	}
	want := []string{"file-" + listed, "refile-item-" + listed, "replace-file-" + listed, "files", "files", "files"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("fields after listedErrors: %v, want %v", got, want)
	}
	// A withdrawal refused because the event was withdrawn meanwhile: no
	// button is left to link to, so the letter events' heading is.
	for _, tc := range []struct {
		life gin.H
		want string
	}{{gin.H{"CanRecord": true, "Last": struct{}{}}, "withdraw-event"}, {gin.H{"CanRecord": true}, "life"}} {
		f := &form{}
		f.Add("withdraw-event", "x")
		listedErrors(f, gin.H{"Life": tc.life})
		if f.Errors[0].Field != tc.want {
			t.Errorf("a refused withdrawal, the page's letter events %v: linked to %s, want %s", tc.life, f.Errors[0].Field, tc.want)
		}
	}
}
