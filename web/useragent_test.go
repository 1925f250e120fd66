package web_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/ofsted-portal/evidence/portal/store"
)

// TestRefusalWithABadUserAgentIsRecorded: a client whose User-Agent is not
// UTF-8 (HTTP allows such bytes) is still recorded when refused, on both
// databases (PostgreSQL refuses such text, and the refusal went
// unrecorded), and its user agent is kept as the record's hash covers it:
// the hash is taken over JSON, which cannot hold those bytes, so two
// agents differing in them would have hashed alike.
func TestRefusalWithABadUserAgentIsRecorded(t *testing.T) {
	ts := startStack(t)
	v := ts.demoVisit(t)
	uploader := ts.signIn(t, "cafcass", "uploader@cafcass.example")
	req, _ := http.NewRequest("GET", uploader.base+"/api/v1/visits/"+v.ID+"/audit", nil)
	req.Header.Set("User-Agent", "probe/1.0 \xff\xfe"+strings.Repeat("é", 200))
	resp := uploader.do(req)
	readAll(t, resp)
	if resp.StatusCode != http.StatusForbidden && resp.StatusCode != http.StatusNotFound {
		t.Fatalf("the uploader asking for the audit trail: %d", resp.StatusCode)
	}
	recs, err := ts.Portal.Store().AuditRecords(context.Background(), store.AuditFilter{ActorEmail: "uploader@cafcass.example", Action: "request.denied"})
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, r := range recs {
		if strings.HasPrefix(r.UserAgent, "probe/1.0") {
			found = true
			if !utf8.ValidString(r.UserAgent) {
				t.Errorf("the refusal's user agent is kept as bytes that are not UTF-8: %q", r.UserAgent)
			}
		}
	}
	if !found {
		t.Fatal("a refusal of a client whose User-Agent is not UTF-8 is not recorded")
	}
}
