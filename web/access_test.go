package web_test

import (
	"bytes"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"
)

func (b *browser) uploadItem(visitID, name, item string, data []byte) fileResp {
	b.t.Helper()
	q := url.Values{"name": {name}, "item": {item}}
	req, _ := http.NewRequest("POST", b.base+"/api/v1/visits/"+visitID+"/files?"+q.Encode(), bytes.NewReader(data))
	return decode[fileResp](b.t, b.do(req), http.StatusCreated)
}

func (b *browser) fileNames(visitID string) []string {
	b.t.Helper()
	l := decode[struct {
		Files []fileResp `json:"files"`
	}](b.t, b.get("/api/v1/visits/"+visitID+"/files"), http.StatusOK)
	var names []string
	for _, f := range l.Files {
		names = append(names, f.Name)
	}
	slices.Sort(names)
	return names
}

func (b *browser) status(method, path string, body any) int {
	b.t.Helper()
	var resp *http.Response
	if body != nil {
		resp = b.sendJSON(method, path, body)
	} else {
		req, _ := http.NewRequest(method, b.base+path, nil)
		resp = b.do(req)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// TestAccessPolicies runs the policy rules against the real stack: who sees
// which files, restricted items, and changes that take effect on the next
// request of sessions already open.
func TestAccessPolicies(t *testing.T) {
	ts := startStack(t)
	v := ts.demoVisit(t)
	admin := ts.signIn(t, "ofsted", "admin@ofsted.example")
	uploader := ts.signIn(t, "cafcass", "uploader@cafcass.example")
	coordinator := ts.signIn(t, "cafcass", "coordinator@cafcass.example")
	hmi := ts.signIn(t, "ofsted", "hmi@ofsted.example")
	sao := ts.signIn(t, "ofsted", "sao@ofsted.example")
	lead := ts.signIn(t, "ofsted", "lead@ofsted.example")

	mine := uploader.uploadItem(v.ID, "1.01 Structure.pdf", "", []byte("structure"))
	theirs := coordinator.uploadItem(v.ID, "1.04 Complaints.pdf", "", []byte("complaints"))
	cld := coordinator.uploadItem(v.ID, "Closed cases list.xlsx", "cld", []byte("child-level data"))
	files := "/api/v1/visits/" + v.ID + "/files/"

	t.Run("uploader sees only their own files", func(t *testing.T) {
		if got := uploader.fileNames(v.ID); strings.Join(got, "|") != "1.01 Structure.pdf" {
			t.Fatalf("uploader lists %v", got)
		}
		// Not theirs to list: to them, no file at all.
		if s := uploader.status("GET", files+theirs.ID+"/content", nil); s != http.StatusNotFound {
			t.Fatalf("uploader downloading the coordinator's file: %d, want 404", s)
		}
		if s := uploader.status("DELETE", files+theirs.ID, nil); s != http.StatusNotFound {
			t.Fatalf("uploader deleting the coordinator's file: %d, want 404", s)
		}
	})

	t.Run("coordinator sees every provider file", func(t *testing.T) {
		if got := coordinator.fileNames(v.ID); len(got) != 3 {
			t.Fatalf("coordinator lists %v", got)
		}
		if s := coordinator.status("GET", files+mine.ID+"/content", nil); s != http.StatusOK {
			t.Fatalf("coordinator downloading the uploader's file: %d", s)
		}
	})

	t.Run("inspector cannot list or read a restricted item; analyst and lead can", func(t *testing.T) {
		if got := hmi.fileNames(v.ID); slices.Contains(got, "Closed cases list.xlsx") || len(got) != 2 {
			t.Fatalf("inspector lists %v", got)
		}
		// A file they may not list answers as one that does not exist
		// (before, 403 against 404: whether an id is a hidden file).
		if s := hmi.status("GET", files+cld.ID+"/content", nil); s != http.StatusNotFound {
			t.Fatalf("inspector downloading child-level data: %d, want 404 as for no such file", s)
		}
		if s := hmi.status("GET", files+"0123456789abcdef0123456789abcdef/content", nil); s != http.StatusNotFound {
			t.Fatalf("inspector downloading a file that does not exist: %d", s)
		}
		for _, req := range []struct{ method, path string }{{"DELETE", files + cld.ID}, {"PATCH", files + cld.ID}, {"POST", files + cld.ID + "/versions"}} {
			if s := hmi.status(req.method, req.path, nil); s != http.StatusNotFound {
				t.Fatalf("inspector: %s of child-level data: %d, want 404 as for no such file", req.method, s)
			}
		}
		for who, b := range map[string]*browser{"analyst": sao, "lead": lead} {
			if got := b.fileNames(v.ID); len(got) != 3 {
				t.Fatalf("%s lists %v", who, got)
			}
			if s := b.status("GET", files+cld.ID+"/content", nil); s != http.StatusOK {
				t.Fatalf("%s downloading child-level data: %d", who, s)
			}
		}
	})

	t.Run("the administrator's explain view gives the decision and why", func(t *testing.T) {
		members := decode[struct {
			Members []struct{ ID, Email string } `json:"members"`
		}](t, admin.get("/api/v1/visits/"+v.ID+"/members"), http.StatusOK)
		var hmiID string
		for _, m := range members.Members {
			if m.Email == "hmi@ofsted.example" {
				hmiID = m.ID
			}
		}
		q := "?member=" + hmiID + "&action=file.download&file=" + cld.ID
		e := decode[struct {
			Allow    bool     `json:"allow"`
			Status   int      `json:"status"`
			Policies []string `json:"policies"`
			Reason   string   `json:"reason"`
		}](t, admin.get("/api/v1/visits/"+v.ID+"/explain"+q), http.StatusOK)
		if e.Allow || e.Status != http.StatusNotFound || strings.Join(e.Policies, ",") != "restricted-item" || !strings.Contains(e.Reason, "restricted") {
			t.Fatalf("explain = %+v", e)
		}
		page := readAll(t, admin.get("/visits/"+v.ID+"/explain"+q))
		if !strings.Contains(page, "Denied") || !strings.Contains(page, "restricted-item") || strings.Contains(page, "Closed cases list") {
			t.Fatalf("explain page (must decide, and must not show file names to an administrator):\n%s", page)
		}
		// A file beyond the latest listed is given by its reference.
		byRef := readAll(t, admin.get("/visits/"+v.ID+"/explain?member="+hmiID+"&action=file.download&file_ref=+"+cld.ID+"+"))
		if !strings.Contains(byRef, "Denied") || !strings.Contains(byRef, "restricted-item") {
			t.Fatalf("explain page, file by reference:\n%s", byRef)
		}
		// A reference to no file of the visit is said by the field, with what was typed.
		r := admin.get("/visits/" + v.ID + "/explain?member=" + hmiID + "&action=file.download&file_ref=nosuchfile")
		if body := readAll(t, r); r.StatusCode != http.StatusBadRequest && r.StatusCode != http.StatusUnprocessableEntity ||
			!strings.Contains(body, `id="file_ref-error"`) || !strings.Contains(body, `value="nosuchfile"`) {
			t.Fatalf("explain page, an unknown reference: %d\n%s", r.StatusCode, body)
		}
	})

	t.Run("an administrator's change to a restriction applies to open sessions", func(t *testing.T) {
		body := map[string]any{"restricted": true, "roles": []string{"lead_inspector", "qa_manager", "analyst", "inspector"}}
		if s := admin.status("PUT", "/api/v1/visits/"+v.ID+"/items/cld", body); s != http.StatusOK {
			t.Fatalf("admin changing the restriction: %d", s)
		}
		if s := hmi.status("GET", files+cld.ID+"/content", nil); s != http.StatusOK {
			t.Fatalf("inspector after the change: %d", s)
		}
		if s := lead.status("PUT", "/api/v1/visits/"+v.ID+"/items/cld", body); s != http.StatusForbidden {
			t.Fatalf("lead changing a restriction: %d, want 403", s)
		}
	})

	t.Run("a member removed while signed in loses access on the next request", func(t *testing.T) {
		members := decode[struct {
			Members []struct{ ID, Email string } `json:"members"`
		}](t, admin.get("/api/v1/visits/"+v.ID+"/members"), http.StatusOK)
		var id string
		for _, m := range members.Members {
			if m.Email == "hmi@ofsted.example" {
				id = m.ID
			}
		}
		if s := admin.status("DELETE", "/api/v1/visits/"+v.ID+"/members/"+id, nil); s != http.StatusNoContent {
			t.Fatalf("remove: %d", s)
		}
		if s := hmi.status("GET", "/api/v1/visits/"+v.ID+"/files", nil); s != http.StatusNotFound {
			t.Fatalf("removed member listing files: %d, want 404", s)
		}
	})

	t.Run("a window set in the past closes access with a 423 that says when", func(t *testing.T) {
		past := time.Now().Add(-time.Hour).UTC().Format(time.RFC3339)
		body := map[string]string{"email": "sao@ofsted.example", "role": "analyst", "valid_until": past}
		if s := admin.status("PUT", "/api/v1/visits/"+v.ID+"/members", body); s != http.StatusOK {
			t.Fatalf("set window: %d", s)
		}
		e := decode[apiError](t, sao.get("/api/v1/visits/"+v.ID+"/files"), http.StatusLocked)
		if e.Code != "window_closed" || !strings.Contains(e.Error, "closed on") {
			t.Fatalf("error %+v", e)
		}
	})

	t.Run("the provider's window closes after fieldwork while a session is open", func(t *testing.T) {
		ts.offset.Store(int64(40 * 24 * time.Hour))
		defer ts.offset.Store(0)
		e := decode[apiError](t, uploader.get("/api/v1/visits/"+v.ID+"/files"), http.StatusLocked)
		if e.Code != "window_closed" {
			t.Fatalf("error %+v", e)
		}
		// The lead inspector keeps access until destruction.
		if s := lead.status("GET", "/api/v1/visits/"+v.ID+"/files", nil); s != http.StatusOK {
			t.Fatalf("lead after fieldwork: %d", s)
		}
	})
}
