package web_test

import (
	"bytes"
	"mime/multipart"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// TestPlainFormJourney: without JavaScript, an administrator creates a visit
// and adds a member through the pages, and an uploader uploads through the
// plain form (its file part has no length, so it is stored in buffered
// segments; 40 MiB crosses a segment boundary).
func TestPlainFormJourney(t *testing.T) {
	ts := startStack(t)
	v := ts.demoVisit(t)
	admin := ts.signIn(t, "ofsted", "admin@ofsted.example")
	uploader := ts.signIn(t, "cafcass", "uploader@cafcass.example")

	page := readAll(t, admin.get("/visits"))
	if !strings.Contains(page, "Create a visit") || !strings.Contains(page, "FV-DEMO") {
		t.Fatalf("administrator's visits page:\n%s", page)
	}
	resp, err := admin.c.PostForm(admin.base+"/visits/"+v.ID+"/members", url.Values{"email": {"new.inspector@ofsted.example"}, "role": {"inspector"}})
	if err != nil {
		t.Fatal(err)
	}
	page = readAll(t, resp)
	if resp.StatusCode != http.StatusOK || !strings.Contains(page, "new.inspector@ofsted.example") {
		t.Fatalf("members page after adding: %d\n%s", resp.StatusCode, page)
	}

	data := evidenceBytes(7, 40<<20)
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	mw.WriteField("item", "")
	fw, _ := mw.CreateFormFile("file", "1.02 Allocation policy.docx")
	fw.Write(data)
	mw.Close()
	req, _ := http.NewRequest("POST", uploader.base+"/visits/"+v.ID+"/files", &body)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	resp = uploader.do(req)
	page = readAll(t, resp)
	if resp.StatusCode != http.StatusOK || resp.Request.URL.Path != "/visits/"+v.ID {
		t.Fatalf("form upload ended at %s with %d", resp.Request.URL, resp.StatusCode)
	}
	src := newEvidence(7, 40<<20)
	readAllReader(src)
	if !strings.Contains(page, "1.02 Allocation policy.docx") || !strings.Contains(page, src.sum()) {
		t.Fatalf("visit page does not list the upload with its SHA-256 %s:\n%s", src.sum(), page)
	}
	if n := objectCount(t, ts, v.Bucket); n != 2 {
		t.Fatalf("%d objects, want 2 segments", n)
	}

	// A refused form upload (a name with a right-to-left override) stores
	// nothing.
	body.Reset()
	mw = multipart.NewWriter(&body)
	fw, _ = mw.CreateFormFile("file", "x.pdf")
	fw.Write([]byte("hello"))
	mw.Close()
	raw := bytes.Replace(body.Bytes(), []byte(`filename="x.pdf"`), []byte("filename=\"a\u202Efdp.exe\""), 1)
	req, _ = http.NewRequest("POST", uploader.base+"/visits/"+v.ID+"/files", bytes.NewReader(raw))
	req.Header.Set("Content-Type", mw.FormDataContentType())
	resp = uploader.do(req)
	page = readAll(t, resp)
	if resp.StatusCode != http.StatusBadRequest || !strings.Contains(page, "text-direction") {
		t.Fatalf("bad name: %d\n%s", resp.StatusCode, page)
	}
	if n := objectCount(t, ts, v.Bucket); n != 2 {
		t.Fatalf("%d objects after a refused upload, want 2", n)
	}
}

func readAllReader(r *evidenceReader) {
	buf := make([]byte, 1<<20)
	for {
		if _, err := r.Read(buf); err != nil {
			return
		}
	}
}

// TestVisitPageTitlesNameTheVisit: each page of a visit says which visit
// in its title, so that two visits' pages open side by side (tabs,
// history, a screen reader's list of windows) are told apart (WCAG 2.4.2).
func TestVisitPageTitlesNameTheVisit(t *testing.T) {
	ts := startStack(t)
	v := ts.demoVisit(t)
	uploader := ts.signIn(t, "cafcass", "uploader@cafcass.example")
	lead := ts.signIn(t, "ofsted", "lead@ofsted.example")
	admin := ts.signIn(t, "ofsted", "admin@ofsted.example")
	for _, tc := range []struct {
		who  *browser
		path string
	}{
		{uploader, "/upload"}, {lead, "/request"}, {lead, "/audit"}, {lead, "/questions"}, {admin, "/members"}, {admin, "/explain"},
	} {
		page := readAll(t, tc.who.get("/visits/"+v.ID+tc.path))
		_, title, _ := strings.Cut(page, "<title>")
		title, _, _ = strings.Cut(title, "</title>")
		if !strings.Contains(title, v.Reference) {
			t.Errorf("%s: title %q does not name the visit %s", tc.path, title, v.Reference)
		}
	}
}
