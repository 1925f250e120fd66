package web_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// TestBackLinkComesBeforeTheErrorSummary: on a page whose form was refused,
// the back link comes before <main> and the error summary first inside
// it, as the Design System places them: the summary is the first thing
// read and seen on the page's content, and "Skip to main content" skips
// the back link. Before, the back link was inside <main>, under the
// summary.
func TestBackLinkComesBeforeTheErrorSummary(t *testing.T) {
	ts := startStack(t)
	v := ts.demoVisit(t)
	admin := ts.signIn(t, "ofsted", "admin@ofsted.example")
	hmi := ts.signIn(t, "ofsted", "hmi@ofsted.example")
	lead := ts.signIn(t, "ofsted", "lead@ofsted.example")
	visit := "/visits/" + v.ID
	for _, tc := range []struct {
		who  *browser
		post string
		form url.Values
	}{
		{admin, visit + "/members", url.Values{"email": {"not an email"}, "role": {"inspector"}}},
		{lead, visit + "/request", url.Values{"kind": {"annex_a"}, "code": {"one"}, "title": {"Staff survey"}}},
		{hmi, visit + "/questions", url.Values{"item": {"1.01"}, "text": {" "}}},
	} {
		s, page := tc.who.submitForm(tc.post, tc.form)
		back, main, summary := strings.Index(page, "govuk-back-link"), strings.Index(page, "<main"), strings.Index(page, "govuk-error-summary")
		if s != http.StatusBadRequest || back < 0 || summary < 0 || !(back < main && main < summary) {
			t.Errorf("%s refused: %d; back link at %d, <main> at %d, error summary at %d: want the back link before <main>, the summary in it", tc.post, s, back, main, summary)
		}
	}
}
