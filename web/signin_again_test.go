package web_test

import (
	"html"
	"net/http"
	"net/url"
	"regexp"
	"testing"

	"github.com/ofsted-portal/evidence/deploy/devidp"
)

// TestFormSentAfterSignOutLeadsBackToIt: a form sent once the session has
// ended (the idle timeout passed with the page open and no script to warn)
// is answered with a page that says nothing sent was saved, and its link to
// sign in returns the person to the form's page. Before, the page did not
// say so, and its link led to the start page without return_to: after
// signing in the person was on their list of visits, not the form.
func TestFormSentAfterSignOutLeadsBackToIt(t *testing.T) {
	ts := startStack(t)
	v := ts.demoVisit(t)
	ended := ts.newBrowser(t) // its session is gone: no cookie at all
	for _, tc := range []struct{ post, page string }{
		{"/visits/" + v.ID + "/questions", "/visits/" + v.ID + "/questions"},
		{"/visits/" + v.ID + "/members", "/visits/" + v.ID + "/members"},
		{"/visits/" + v.ID + "/events", "/visits/" + v.ID},
		{"/visits", "/visits"},
	} {
		s, page := ended.submitForm(tc.post, url.Values{"item": {"1.01"}, "text": {"Where is the chart?"}})
		if s != http.StatusUnauthorized {
			t.Fatalf("%s with no session: %d, want 401", tc.post, s)
		}
		link := `href="/?return_to=` + url.QueryEscape(tc.page) + `"`
		mustContain(t, tc.post+" with no session", page, "What you sent was not saved", link)
	}
	// Signing in from there ends on the form's page.
	start := readAll(t, ended.get("/?return_to="+url.QueryEscape("/visits/"+v.ID+"/questions")))
	m := regexp.MustCompile(`href="(/auth/ofsted/login[^"]*)"`).FindStringSubmatch(start)
	if m == nil {
		t.Fatalf("no Ofsted sign-in on the start page:\n%s", start)
	}
	resp := ended.get(html.UnescapeString(m[1]))
	body := readAll(t, resp)
	resp = ended.submitLogin(resp.Request.URL, body, "hmi@ofsted.example", devidp.DemoPassword)
	readAll(t, resp)
	if resp.StatusCode != http.StatusOK || resp.Request.URL.Path != "/visits/"+v.ID+"/questions" {
		t.Fatalf("signed in from the page of a form sent too late: ended at %s with %d, want the form's page", resp.Request.URL, resp.StatusCode)
	}
}

// TestFailedSignInKeepsWhereThePersonWasGoing: a sign-in that fails at the
// provider (the person cancels, or refuses consent) ends on a page whose
// link to start again keeps where the person was going. Before, the link
// was the bare start page: once signed in at the second try, the person
// was on their list of visits, not the page (or form) they had been sent
// from.
func TestFailedSignInKeepsWhereThePersonWasGoing(t *testing.T) {
	ts := startStack(t)
	v := ts.demoVisit(t)
	b := ts.newBrowser(t)
	b.c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	members := "/visits/" + v.ID + "/members"
	resp := b.get("/auth/ofsted/login?return_to=" + url.QueryEscape(members))
	readAll(t, resp)
	to, err := url.Parse(resp.Header.Get("Location"))
	if err != nil || to.Query().Get("state") == "" {
		t.Fatalf("sign-in did not go to the provider with a state: %d %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	resp = b.get("/auth/ofsted/callback?error=access_denied&state=" + url.QueryEscape(to.Query().Get("state")))
	page := readAll(t, resp)
	if resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("a sign-in the person cancelled: %d, want 401", resp.StatusCode)
	}
	mustContain(t, "sign-in cancelled", page, `href="/?return_to=`+url.QueryEscape(members)+`"`)
}
