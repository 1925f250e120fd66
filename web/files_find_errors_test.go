package web_test

import (
	"net/http"
	"net/url"
	"os"
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

// TestLongNameIsExplainedInCharacters: a file name or a search too long
// is refused in words a person counts, characters, and says why fewer
// may be allowed; the upload page's own check says the same. Before,
// each said "255 bytes", which few people can count.
func TestLongNameIsExplainedInCharacters(t *testing.T) {
	ts := startStack(t)
	v := ts.demoVisit(t)
	uploader := ts.signIn(t, "cafcass", "uploader@cafcass.example")
	const want = "255 characters or fewer"
	got := decode[struct {
		Error string `json:"error"`
	}](t, uploader.upload(v.ID, strings.Repeat("n", 300)+".pdf", strings.NewReader("x"), 1), http.StatusBadRequest)
	if !strings.Contains(got.Error, want) || strings.Contains(got.Error, "bytes") {
		t.Errorf("a name of 304 characters is refused with %q, want %q and no bytes", got.Error, want)
	}
	page := readAll(t, uploader.get("/visits/"+v.ID+"?q="+url.QueryEscape(strings.Repeat("é", 128))))
	if !strings.Contains(page, want) || strings.Contains(page, "255 bytes") {
		t.Errorf("a search of 128 accented letters: no %q on the page, or it counts bytes", want)
	}
	script, err := os.ReadFile("static/portal.mjs")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(script), want) || strings.Contains(string(script), "255 bytes") {
		t.Errorf("the upload page's check of a name's length does not say %q, or counts bytes", want)
	}
}

// TestFileListAPIRefusesWhatItCannotDo: the file list's JSON refuses a
// search longer than any name (400 naming q) rather than answering every
// file as if there were no search, and a limit over 1,000 on the limit,
// not as a page that does not exist.
func TestFileListAPIRefusesWhatItCannotDo(t *testing.T) {
	ts := startStack(t)
	v := ts.demoVisit(t)
	uploader := ts.signIn(t, "cafcass", "uploader@cafcass.example")
	uploader.uploadItem(v.ID, "1.01 Structure chart.pdf", "", []byte("structure"))
	for _, tc := range []struct{ query, want string }{
		{"q=" + url.QueryEscape(strings.Repeat("é", 128)), "q: "},
		{"limit=1001", "limit must be a number of files from 1 to 1000"},
	} {
		resp := uploader.get("/api/v1/visits/" + v.ID + "/files?" + tc.query)
		body := readAll(t, resp)
		if resp.StatusCode != http.StatusBadRequest || !strings.Contains(body, tc.want) {
			t.Errorf("the file list with %.30s: %d %s, want 400 saying %q", tc.query, resp.StatusCode, body, tc.want)
		}
	}
}
