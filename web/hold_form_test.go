package web_test

import (
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
)

// TestLegalHoldReasonAsTyped: the legal hold's reason is a text box: a
// reason on two lines is taken, and one too long is refused for its length,
// kept to be shortened. Before, both were refused with "Give the reason for
// setting or lifting the legal hold.", as if none had been given: a line
// break counted as a control character, and every refusal of the reason
// said the same.
func TestLegalHoldReasonAsTyped(t *testing.T) {
	ts := startStack(t)
	v := ts.demoVisit(t)
	admin := ts.signIn(t, "ofsted", "admin@ofsted.example")
	hold := "/visits/" + v.ID + "/legal-hold"
	s, page := admin.submitForm(hold, url.Values{"on": {"yes"}, "hold_reason": {"Complaint escalated.\r\nA legal challenge is expected."}})
	if s != http.StatusOK || !strings.Contains(page, "The legal hold is set") {
		summary := regexp.MustCompile(`<li><a href="#[^"]*">([^<]*)</a>`).FindAllStringSubmatch(page, -1)
		t.Fatalf("a reason on two lines: %d, want 200 with the hold set; the error summary: %q", s, summary)
	}
	long := strings.Repeat("The complaint is escalated. ", 75) // 2,100 characters
	s, page = admin.submitForm(hold, url.Values{"on": {"no"}, "hold_reason": {long}})
	if s != http.StatusBadRequest {
		t.Fatalf("a reason of 2,100 characters: %d, want 400", s)
	}
	mustContain(t, "a reason too long", page, `href="#hold_reason"`, "2000 characters or fewer", long+"</textarea>")
}
