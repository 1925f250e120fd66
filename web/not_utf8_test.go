package web_test

import (
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/ofsted-portal/evidence/portal/calendar"
)

// TestBytesThatAreNotTextAreRefused: a form field or a path segment
// holding bytes that are not UTF-8 (only forms and paths can carry them:
// JSON cannot) is refused by its field, or not found, on both databases.
// Before, on PostgreSQL, which refuses to store such bytes, each was a
// 500; on SQLite the bytes were stored, a provider or subject no one can
// read.
func TestBytesThatAreNotTextAreRefused(t *testing.T) {
	ts := startStack(t)
	admin := ts.signIn(t, "ofsted", "admin@ofsted.example")
	v := ts.demoVisit(t)
	me := decode[struct{ Issuer string }](t, admin.get("/api/v1/me"), http.StatusOK)
	cal, _ := calendar.New()
	nd := cal.AddWorkingDays(calendar.Today(time.Now()), 2)
	for _, tc := range []struct {
		what, path string
		fields     map[string]string
	}{
		{"a visit's provider", "/visits", map[string]string{"reference": "FV-BYTES-1", "title": "A visit", "provider": "Caf%FFcass",
			"notification_date": nd.Format(time.DateOnly), "fieldwork_start": cal.AddWorkingDays(nd, 5).Format(time.DateOnly)}},
		{"a member's subject", "/visits/" + v.ID + "/members", map[string]string{"issuer": url.QueryEscape(me.Issuer), "subject": "sub%FF", "role": "inspector"}},
	} {
		resp := admin.postForm(tc.path, tc.fields)
		readAll(t, resp)
		if resp.StatusCode != http.StatusBadRequest {
			t.Errorf("%s not UTF-8: %d, want 400 on the form", tc.what, resp.StatusCode)
		}
	}
	for _, path := range []string{"/api/v1/visits/" + v.ID + "/members/%FF", "/api/v1/visits/" + v.ID + "/request/%FF"} {
		if s := admin.status("DELETE", path, nil); s != http.StatusNotFound && s != http.StatusBadRequest {
			t.Errorf("DELETE %s: %d, want 404 or 400", path, s)
		}
	}
	for _, put := range []struct {
		path string
		body any
	}{
		{"/api/v1/visits/" + v.ID + "/items/%FF", map[string]any{"restricted": true, "roles": []string{"lead_inspector"}}},
		{"/api/v1/visits/" + v.ID + "/request/%FF", map[string]string{"title": "A title"}},
		{"/api/v1/visits/" + v.ID + "/request/%FF/complete", map[string]bool{"complete": true}},
	} {
		if s := admin.status("PUT", put.path, put.body); s != http.StatusNotFound && s != http.StatusBadRequest && s != http.StatusForbidden {
			t.Errorf("PUT %s: %d, want 404, 400 or 403", put.path, s)
		}
	}
}
