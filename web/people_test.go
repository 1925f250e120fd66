package web_test

import (
	"html"
	"net/http"
	"strings"
	"testing"
)

// TestMembersBySubject: the members page adds a person by identity provider
// and subject (for providers that give no email) and shows them, like
// everyone, by email, else name, else "subject @ issuer".
func TestMembersBySubject(t *testing.T) {
	ts := startStack(t)
	v := ts.demoVisit(t)
	admin := ts.signIn(t, "ofsted", "admin@ofsted.example")
	page := readAll(t, admin.get("/visits/"+v.ID+"/members"))
	if !strings.Contains(page, `name="issuer"`) || !strings.Contains(page, `name="subject"`) {
		t.Fatal("the members page has no way to add a member by issuer and subject")
	}
	issuer := ts.IdPURL + "/cafcass"
	resp := admin.postForm("/visits/"+v.ID+"/members", map[string]string{"issuer": issuer, "subject": "sub-no-email-1", "role": "provider_uploader"})
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || resp.Request.URL.Path != "/visits/"+v.ID+"/members" {
		t.Fatalf("adding by subject ended at %s with %d", resp.Request.URL, resp.StatusCode)
	}
	page = html.UnescapeString(readAll(t, admin.get("/visits/"+v.ID+"/members")))
	if !strings.Contains(page, "sub-no-email-1 @ "+issuer) {
		t.Fatalf("the member added by subject is not shown as subject @ issuer:\n%s", page)
	}
	// Members with an email are shown by it.
	if !strings.Contains(page, "lead@ofsted.example") {
		t.Fatal("members with an email are not shown by it")
	}
}
