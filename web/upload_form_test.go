package web_test

import (
	"bytes"
	"mime/multipart"
	"net/http"
	"strings"
	"testing"
)

// TestUploadFormWithOneBadFileAmongSeveral: on the plain upload form, a
// file refused among several chosen at once (its name 300 characters long)
// is named in the error, and the files after it are uploaded as those
// before it are. Before, the refusal did not say which file it was about,
// and every file after it was dropped unsent: the page said only how many
// had been uploaded "before the problem below".
func TestUploadFormWithOneBadFileAmongSeveral(t *testing.T) {
	ts := startStack(t)
	v := ts.demoVisit(t)
	uploader := ts.signIn(t, "cafcass", "uploader@cafcass.example")
	long := "1.02 " + strings.Repeat("a", 291) + ".pdf" // 300 characters
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	mw.WriteField("item", "1.01")
	for _, name := range []string{"Structure chart.pdf", long, "Team plan.pdf"} {
		fw, _ := mw.CreateFormFile("file", name)
		fw.Write([]byte("content of " + name))
	}
	mw.Close()
	req, _ := http.NewRequest("POST", uploader.base+"/visits/"+v.ID+"/files", &body)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	resp := uploader.do(req)
	page := readAll(t, resp)
	if resp.StatusCode != http.StatusBadRequest {
		t.Fatalf("three files, the second with a name too long: %d, want 400", resp.StatusCode)
	}
	mustContain(t, "the upload form", page, "<title>Error: ", "govuk-error-summary", `href="#file"`, "2 files uploaded", long[:40], "255 characters or fewer")
	names := strings.Join(uploader.fileNames(v.ID), "|")
	if !strings.Contains(names, "Structure chart.pdf") || !strings.Contains(names, "Team plan.pdf") || strings.Contains(names, "aaaa") {
		t.Fatalf("files stored: %s; want the first and the third", names)
	}
}

// TestUploadFormSaysAFileWasEmpty: a file of 0 bytes sent with the plain
// upload form is stored, as the API stores it, and the page that confirms
// the upload says it was empty: an empty file is most often a failed
// export, which the page with JavaScript asks about before sending. Before,
// the plain form's confirmation said only "2 files uploaded."
func TestUploadFormSaysAFileWasEmpty(t *testing.T) {
	ts := startStack(t)
	v := ts.demoVisit(t)
	uploader := ts.signIn(t, "cafcass", "uploader@cafcass.example")
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	mw.WriteField("item", "1.01")
	fw, _ := mw.CreateFormFile("file", "Structure chart.pdf")
	fw.Write([]byte("structure"))
	mw.CreateFormFile("file", "Team plan.pdf") // 0 bytes
	mw.Close()
	req, _ := http.NewRequest("POST", uploader.base+"/visits/"+v.ID+"/files", &body)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	resp := uploader.do(req)
	page := readAll(t, resp)
	if resp.StatusCode != http.StatusOK || resp.Request.URL.Path != "/visits/"+v.ID {
		t.Fatalf("two files, one empty: ended at %s with %d", resp.Request.URL, resp.StatusCode)
	}
	mustContain(t, "the visit page after the upload", page, "2 files uploaded.", "1 of them is empty (0 bytes)")
}

// TestUploadFormNamesEveryRefusedFileByTheField: two files refused among
// several are both named in the message by the file input, not only in the
// error summary. Before, the input's message gave the first only.
func TestUploadFormNamesEveryRefusedFileByTheField(t *testing.T) {
	ts := startStack(t)
	v := ts.demoVisit(t)
	uploader := ts.signIn(t, "cafcass", "uploader@cafcass.example")
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	for _, name := range []string{"First " + strings.Repeat("a", 260) + ".pdf", "Fine.pdf", "Second " + strings.Repeat("b", 260) + ".pdf"} {
		fw, _ := mw.CreateFormFile("file", name)
		fw.Write([]byte("content"))
	}
	mw.Close()
	req, _ := http.NewRequest("POST", uploader.base+"/visits/"+v.ID+"/files", &body)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	resp := uploader.do(req)
	page := readAll(t, resp)
	i := strings.Index(page, `id="file-error"`)
	if resp.StatusCode != http.StatusBadRequest || i < 0 {
		t.Fatalf("two files refused: %d, no message by the input", resp.StatusCode)
	}
	byField := page[i : i+strings.Index(page[i:], "</p>")]
	if !strings.Contains(byField, "“First aaa") || !strings.Contains(byField, "“Second bbb") {
		t.Fatalf("the message by the file input names %q, want both refused files", byField)
	}
}

// TestUploadFormChecksTheItemAsSent: the plain form's item is checked as
// it was sent, whole. Before, it was cut to 16 bytes, so "1.01" followed
// by spaces and more was taken for "1.01" and the file stored under it.
func TestUploadFormChecksTheItemAsSent(t *testing.T) {
	ts := startStack(t)
	v := ts.demoVisit(t)
	uploader := ts.signIn(t, "cafcass", "uploader@cafcass.example")
	for _, item := range []string{"1.01" + strings.Repeat(" ", 20) + "9", "1.01" + strings.Repeat(" ", 300)} {
		var body bytes.Buffer
		mw := multipart.NewWriter(&body)
		mw.WriteField("item", item)
		fw, _ := mw.CreateFormFile("file", "Structure chart.pdf")
		fw.Write([]byte("structure"))
		mw.Close()
		req, _ := http.NewRequest("POST", uploader.base+"/visits/"+v.ID+"/files", &body)
		req.Header.Set("Content-Type", mw.FormDataContentType())
		resp := uploader.do(req)
		page := readAll(t, resp)
		if resp.StatusCode != http.StatusBadRequest {
			t.Errorf("item %q: %d at %s, want 400", item, resp.StatusCode, resp.Request.URL)
			continue
		}
		mustContain(t, "the upload form", page, "<title>Error: ", "govuk-error-summary")
	}
	if names := uploader.fileNames(v.ID); len(names) != 0 {
		t.Errorf("files stored under an item not sent: %v", names)
	}
}
