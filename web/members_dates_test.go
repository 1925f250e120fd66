package web_test

import (
	"html"
	"net/http"
	"regexp"
	"strings"
	"testing"
)

// TestMembersFormGivesTheLastDayOfAccess: "Access until" on the members
// page is the last day of access, whole, in London: a member given access
// from and until the same day (here the day the clocks go forward) has that
// one day, and the page shows the day typed, not the midnight after it.
// Before, the form refused the same date as "must be after the date access
// starts", and access closed as the day began.
func TestMembersFormGivesTheLastDayOfAccess(t *testing.T) {
	ts := startStack(t)
	v := ts.demoVisit(t)
	admin := ts.signIn(t, "ofsted", "admin@ofsted.example")
	form := map[string]string{"email": "one.day@ofsted.example", "role": "inspector",
		"valid_from-day": "28", "valid_from-month": "3", "valid_from-year": "2027",
		"valid_until-day": " 28 ", "valid_until-month": "03", "valid_until-year": "2027"}
	resp := admin.postForm("/visits/"+v.ID+"/members", form)
	body := html.UnescapeString(readAll(t, resp))
	if resp.StatusCode != http.StatusOK || !strings.Contains(body, "one.day@ofsted.example is added as inspector") {
		t.Fatalf("access from and until 28 March 2027: %d\n%s", resp.StatusCode, body)
	}
	page := html.UnescapeString(readAll(t, admin.get("/visits/"+v.ID+"/members")))
	i := strings.Index(page, "one.day@ofsted.example")
	if i < 0 {
		t.Fatalf("the member is not on the page:\n%s", page)
	}
	row := page[i:]
	row = row[:strings.Index(row, "</tr>")]
	if !strings.Contains(row, "28 Mar 2027 00:00") || !strings.Contains(row, "end of 28 Mar 2027") {
		t.Fatalf("the member's row does not show access from the start to the end of 28 March 2027:\n%s", row)
	}
}

// TestMemberDatesFarAwayRefused: a member's access dates far in the past
// or future (a mistyped year, "until 31/12/9999" for "for ever") are
// refused on their field, and the visit's members can still be read.
// Before, an end on 31 December 9999 was stored as a time in the year
// 10000, which the store cannot read back: every read of the visit's
// members failed, and with it the members page and every member's access.
func TestMemberDatesFarAwayRefused(t *testing.T) {
	ts := startStack(t)
	v := ts.demoVisit(t)
	admin := ts.signIn(t, "ofsted", "admin@ofsted.example")
	for _, tc := range []struct{ field, value string }{
		{"valid_until", "9999-12-31"},
		{"valid_until", "9999-12-31T23:00:00-05:00"},
		{"valid_from", "1066-10-14"},
		{"valid_until", "2207-03-01"},
	} {
		resp := admin.sendJSON("PUT", "/api/v1/visits/"+v.ID+"/members", map[string]string{"email": "far.away@ofsted.example", "role": "inspector", tc.field: tc.value})
		body := readAll(t, resp)
		if resp.StatusCode != http.StatusBadRequest || !strings.Contains(body, tc.field) {
			t.Errorf("%s %s: %d %s, want 400 naming the field", tc.field, tc.value, resp.StatusCode, body)
		}
		if s := admin.status("GET", "/api/v1/visits/"+v.ID+"/members", nil); s != http.StatusOK {
			t.Fatalf("after %s %s the visit's members cannot be read: %d", tc.field, tc.value, s)
		}
	}
}

// TestMemberFormDatesInWords: a member's access date the domain refuses
// (a year beyond 2099, a mistyped "for ever") is reported on the members
// page in the words of its field, as every message of the form is, and
// never by the API's name for it. Before, the page said "valid_until must
// be a date from 2000 to 2099".
func TestMemberFormDatesInWords(t *testing.T) {
	ts := startStack(t)
	v := ts.demoVisit(t)
	admin := ts.signIn(t, "ofsted", "admin@ofsted.example")
	for _, tc := range []struct{ field, words string }{{"valid_until", "The date access ends"}, {"valid_from", "The date access starts"}} {
		resp := admin.postForm("/visits/"+v.ID+"/members", map[string]string{"email": "far.away@ofsted.example", "role": "inspector",
			tc.field + "-day": "31", tc.field + "-month": "12", tc.field + "-year": "2100"})
		body := html.UnescapeString(readAll(t, resp))
		if resp.StatusCode != http.StatusBadRequest || !strings.Contains(body, `href="#`+tc.field+`-day"`) ||
			!strings.Contains(body, tc.words+" must be") || strings.Contains(body, tc.field+" must") {
			summary := regexp.MustCompile(`(?s)govuk-error-summary__list">(.*?)</ul>`).FindStringSubmatch(body)
			t.Errorf("%s in 2100: %d; want 400 with %q, linked to its day, and no %q: the summary has %q", tc.field, resp.StatusCode, tc.words+" must be", tc.field, summary)
		}
	}
}

// TestMemberFormListsEveryError: the members form reports a bad email
// address together with a date that does not exist, in the order of the
// fields. Before, the dates were checked first and alone: the email's
// error showed only once the date was put right.
func TestMemberFormListsEveryError(t *testing.T) {
	ts := startStack(t)
	v := ts.demoVisit(t)
	admin := ts.signIn(t, "ofsted", "admin@ofsted.example")
	resp := admin.postForm("/visits/"+v.ID+"/members", map[string]string{"email": "not+an+email", "role": "inspector",
		"valid_from-day": "31", "valid_from-month": "2", "valid_from-year": "2027"})
	body := readAll(t, resp)
	var links []string
	for _, m := range regexp.MustCompile(`<li><a href="#([a-z_-]+)">`).FindAllStringSubmatch(body, -1) {
		links = append(links, m[1])
	}
	if resp.StatusCode != http.StatusBadRequest || strings.Join(links, " ") != "email valid_from-day" {
		t.Fatalf("a bad email and 31 February: %d, the summary links to %v; want 400 and [email valid_from-day]", resp.StatusCode, links)
	}
}
