package web_test

import (
	"context"
	"io"
	"mime/multipart"
	"net/http"
	"testing"
	"time"
)

// TestSlowUploadFormActsOnAccessAsItIs: the upload page's form sends its
// files one after another in one request, whose access is decided when
// it begins. A person removed from the visit while the form is still
// being sent stores none of the files that come after: each is decided
// again, on the person as they now are, once the request's decision is
// more than a moment old.
func TestSlowUploadFormActsOnAccessAsItIs(t *testing.T) {
	ts := startStack(t)
	v := ts.demoVisit(t)
	uploader := ts.signIn(t, "cafcass", "uploader@cafcass.example")
	admin := ts.signIn(t, "ofsted", "admin@ofsted.example")
	pr, pw := io.Pipe()
	mw := multipart.NewWriter(pw)
	first, removed := make(chan struct{}), make(chan struct{})
	go func() {
		w, _ := mw.CreateFormFile("file", "1.01 Structure chart.pdf")
		io.WriteString(w, "structure")
		// A field the form ignores, large enough to leave the client's
		// buffers, tells the server the first file has ended; the form
		// then waits on it.
		w, _ = mw.CreateFormField("padding")
		w.Write(make([]byte, 256<<10))
		close(first)
		<-removed
		w, _ = mw.CreateFormFile("file", "1.02 Allocation policy.pdf")
		io.WriteString(w, "allocation")
		mw.Close()
		pw.Close()
	}()
	req, _ := http.NewRequest("POST", uploader.base+"/visits/"+v.ID+"/files", pr)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	type answer struct {
		resp *http.Response
		err  error
	}
	answered := make(chan answer, 1)
	go func() {
		resp, err := uploader.c.Do(req)
		answered <- answer{resp, err}
	}()
	<-first
	// Wait for the first file to be stored, then remove the uploader.
	deadline := time.Now().Add(10 * time.Second)
	stored := func() int {
		fs, err := ts.Portal.Store().Files(context.Background(), v.ID)
		if err != nil {
			t.Fatal(err)
		}
		return len(fs)
	}
	for stored() != 1 {
		if time.Now().After(deadline) {
			t.Fatal("the form's first file was not stored")
		}
		time.Sleep(50 * time.Millisecond)
	}
	if s := admin.status("DELETE", "/api/v1/visits/"+v.ID+"/members/"+memberID(t, admin, v.ID, "uploader@cafcass.example"), nil); s != http.StatusNoContent {
		t.Fatalf("remove the uploader: %d", s)
	}
	time.Sleep(3 * time.Second) // the request's decision is old now
	close(removed)
	a := <-answered
	if a.err != nil {
		t.Fatal(a.err)
	}
	readAll(t, a.resp)
	if n := stored(); n != 1 {
		t.Fatalf("%d files stored, want 1: a file sent after its uploader was removed was stored (the form answered %d)", n, a.resp.StatusCode)
	}
}
