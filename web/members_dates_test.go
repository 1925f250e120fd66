package web_test

import (
	"html"
	"net/http"
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
