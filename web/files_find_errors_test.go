package web_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// TestFileFiltersReportTheirErrorsAtTheTop: a day in the visit page's
// filters that is not a real date, or a last day before the first, is
// reported as every form's error is: "Error: " in the title, the error
// summary linking to the date's first input, and 400, with the days kept
// as typed. Before, only the message by the field said so: the title and
// the top of the page, where a screen reader starts, did not.
func TestFileFiltersReportTheirErrorsAtTheTop(t *testing.T) {
	ts := startStack(t)
	v := ts.demoVisit(t)
	uploader := ts.signIn(t, "cafcass", "uploader@cafcass.example")
	uploader.uploadItem(v.ID, "1.01 Structure chart.pdf", "", []byte("structure"))
	for _, tc := range []struct{ query, link, msg, typed string }{
		{"from-day=31&from-month=2&from-year=2026", `href="#from-day"`, "The first day must be a real date", `id="from-day" name="from-day" type="text" inputmode="numeric" value="31"`},
		{"to-day=1&to-month=13&to-year=2026", `href="#to-day"`, "The last day must be a real date", `id="to-month" name="to-month" type="text" inputmode="numeric" value="13"`},
		{"from=2026-03-10&to=2026-03-09", `href="#to-day"`, "The last day must be the same as or after the first day", `id="from-day" name="from-day" type="text" inputmode="numeric" value="10"`},
	} {
		resp := uploader.get("/visits/" + v.ID + "?" + tc.query)
		page := readAll(t, resp)
		if resp.StatusCode != http.StatusBadRequest {
			t.Errorf("%s: %d, want 400", tc.query, resp.StatusCode)
		}
		for _, want := range []string{"<title>Error: ", "govuk-error-summary", tc.link, tc.msg, tc.typed} {
			if !strings.Contains(page, want) {
				t.Errorf("%s: no %q on the page", tc.query, want)
			}
		}
	}
}

// TestLongSearchIsReportedByItsBox: a search longer than any file name can
// be (over 255 bytes: a long name pasted, 128 accented letters) is
// reported by the search box, kept as typed, with the visit's files still
// listed. Before, it was the error page, saying "This page of files does
// not exist: go back to the first page", and the search was lost.
func TestLongSearchIsReportedByItsBox(t *testing.T) {
	ts := startStack(t)
	v := ts.demoVisit(t)
	uploader := ts.signIn(t, "cafcass", "uploader@cafcass.example")
	uploader.uploadItem(v.ID, "1.01 Structure chart.pdf", "", []byte("structure"))
	long := strings.Repeat("é", 128) // 256 bytes
	resp := uploader.get("/visits/" + v.ID + "?q=" + url.QueryEscape(long))
	page := readAll(t, resp)
	if resp.StatusCode != http.StatusBadRequest {
		t.Errorf("a search of 256 bytes: %d, want 400", resp.StatusCode)
	}
	for _, want := range []string{"<title>Error: " + v.Reference, `href="#file-search"`, `id="file-search-error"`, `value="` + long + `"`, "1.01 Structure chart.pdf"} {
		if !strings.Contains(page, want) {
			t.Errorf("a search of 256 bytes: no %q on the page", want)
		}
	}
}
