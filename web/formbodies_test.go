package web_test

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"
)

// watchTemp sends body to "METHOD path" on one connection, holding back
// its last held bytes, and watches dir until the server answers: a file
// the server writes there while it reads the body fails the test. Held
// bytes keep a server that parses the form waiting with its temporary
// file open, so the file is seen however soon it would be removed.
func (b *browser) watchTemp(t *testing.T, dir, method, path, contentType string, body []byte, held int) (*http.Response, string) {
	t.Helper()
	conn, host, cookies := b.dial(t)
	defer conn.Close()
	fmt.Fprintf(conn, "%s %s HTTP/1.1\r\nHost: %s\r\nCookie: %s\r\nContent-Type: %s\r\nContent-Length: %d\r\n\r\n",
		method, path, host, cookies, contentType, len(body))
	// The server may answer without reading the body; the write then
	// fails, and that is not this test's concern.
	go conn.Write(body[:len(body)-held])
	type answer struct {
		resp *http.Response
		body string
		err  error
	}
	answered := make(chan answer, 1)
	go func() {
		resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
		if err != nil {
			answered <- answer{err: err}
			return
		}
		out, err := io.ReadAll(resp.Body)
		answered <- answer{resp, string(out), err}
	}()
	spooled := func() {
		t.Helper()
		entries, _ := os.ReadDir(dir)
		for _, e := range entries {
			info, _ := e.Info()
			var size int64
			if info != nil {
				size = info.Size()
			}
			t.Fatalf("%s %s: the server wrote %s (%d bytes) to the temporary folder", method, path, e.Name(), size)
		}
	}
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	deadline := time.After(2 * time.Minute)
	for {
		select {
		case a := <-answered:
			spooled()
			if a.err != nil {
				t.Fatalf("%s %s: no answer: %v", method, path, a.err)
			}
			return a.resp, a.body
		case <-tick.C:
			spooled()
		case <-deadline:
			t.Fatalf("%s %s: no answer in 2 minutes", method, path)
		}
	}
}

// bigFileForm is a multipart form with fields and one file part of size
// bytes, larger than what Gin keeps in memory (32 MiB).
func bigFileForm(fields map[string]string, size int) ([]byte, string) {
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	for k, v := range fields {
		mw.WriteField(k, v)
	}
	fw, _ := mw.CreateFormFile("file", "chart.pdf")
	line := []byte("plaintext evidence that must not reach the disk\n")
	for n := 0; n < size; n += len(line) {
		fw.Write(line[:min(len(line), size-n)])
	}
	mw.Close()
	return body.Bytes(), mw.FormDataContentType()
}

// titleOf is a page's title, to say briefly what a page was.
func titleOf(page string) string {
	_, title, _ := strings.Cut(page, "<title>")
	title, _, _ = strings.Cut(title, "</title>")
	return title
}

// itemStatus is an item's status in the information request.
func itemStatus(t *testing.T, b *browser, visitID, code string) string {
	t.Helper()
	request := decode[struct {
		Items []struct{ Code, Status string }
	}](t, b.get("/api/v1/visits/"+visitID+"/request"), http.StatusOK)
	for _, it := range request.Items {
		if it.Code == code {
			return it.Status
		}
	}
	t.Fatalf("item %s is not in the request", code)
	return ""
}

// TestFormBodies: a form route never parses a multipart body (net/http
// would keep a file part over 32 MiB in a temporary file, in plaintext),
// the upload form streams one without writing it to disk, and a
// urlencoded form is read whole, up to its bound, or refused: never read
// as empty because it was too large or cut off.
func TestFormBodies(t *testing.T) {
	ts := startStack(t)
	v := ts.demoVisit(t)
	hmi := ts.signIn(t, "ofsted", "hmi@ofsted.example")
	uploader := ts.signIn(t, "cafcass", "uploader@cafcass.example")
	coordinator := ts.signIn(t, "cafcass", "coordinator@cafcass.example")
	// A fresh temporary folder, for the server too (os.TempDir reads
	// TMPDIR each time): it must stay empty.
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp)
	asked := func() int { return len(hmi.threads(v.ID, "")) }

	t.Run("a multipart form to a form route is refused, nothing spooled", func(t *testing.T) {
		before := asked()
		body, ct := bigFileForm(map[string]string{"item": "1.01", "text": "Is the attached chart current?"}, 33<<20)
		resp, page := hmi.watchTemp(t, tmp, "POST", "/visits/"+v.ID+"/questions", ct, body, 64)
		if resp.StatusCode != http.StatusUnsupportedMediaType {
			t.Fatalf("a multipart form to a form route: %d %q", resp.StatusCode, titleOf(page))
		}
		mustContain(t, "the refusal", page, "govuk-heading-l", "only the upload forms", "Nothing in it was saved")
		if n := asked(); n != before {
			t.Errorf("the refused form asked a question: %d questions, had %d", n, before)
		}
		// The API answers in its own shape.
		resp, page = hmi.watchTemp(t, tmp, "POST", "/api/v1/visits/"+v.ID+"/questions", ct, body, 64)
		if resp.StatusCode != http.StatusUnsupportedMediaType || !strings.Contains(page, `"code":"unsupported_media_type"`) {
			t.Fatalf("a multipart body to a JSON route: %d %s", resp.StatusCode, page)
		}
	})

	t.Run("the upload form streams a large file without spooling it", func(t *testing.T) {
		body, ct := bigFileForm(map[string]string{"item": "1.01"}, 33<<20)
		resp, page := uploader.watchTemp(t, tmp, "POST", "/visits/"+v.ID+"/files", ct, body, 0)
		if resp.StatusCode != http.StatusSeeOther {
			t.Fatalf("the upload form: %d %q", resp.StatusCode, titleOf(page))
		}
	})

	t.Run("a urlencoded form over its bound is refused with 413", func(t *testing.T) {
		// The longest question, in characters of four bytes, each byte
		// percent-encoded: 24,000 bytes, comfortably taken.
		before := asked()
		status, page := hmi.submitForm("/visits/"+v.ID+"/questions", url.Values{"item": {"1.01"}, "text": {strings.Repeat("\U0001F600", 2000)}})
		if status != http.StatusOK || asked() != before+1 {
			t.Fatalf("the longest question: %d %q, %d questions (had %d)", status, titleOf(page), asked(), before)
		}
		status, page = hmi.submitForm("/visits/"+v.ID+"/questions", url.Values{"item": {"1.01"}, "text": {strings.Repeat("a", 64<<10)}})
		if status != http.StatusRequestEntityTooLarge {
			t.Fatalf("a form over 64 KiB: %d %q", status, titleOf(page))
		}
		mustContain(t, "the refusal", page, "The form is too large", "larger than 64 KiB", "Nothing in it was saved")
		if n := asked(); n != before+1 {
			t.Errorf("the refused form asked a question: %d questions, want %d", n, before+1)
		}
	})

	t.Run("a form too large or cut off is never read as empty", func(t *testing.T) {
		complete := "/visits/" + v.ID + "/request/1.03/complete"
		if s := itemStatus(t, coordinator, v.ID, "1.03"); s == "complete" {
			t.Fatalf("item 1.03 is complete before the test")
		}
		notCompleted := func(what string) {
			t.Helper()
			if s := itemStatus(t, coordinator, v.ID, "1.03"); s == "complete" {
				t.Fatalf("%s, refused, marked the item complete: read as empty, \"complete=false\" is \"complete\"", what)
			}
		}
		form := "complete=false"
		resp, page := coordinator.rawRequest(t, fmt.Sprintf("POST %s HTTP/1.1\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: %d", complete, len(form)+100),
			[]byte(form), true, 10*time.Second)
		if resp.StatusCode != http.StatusBadRequest || !strings.Contains(page, "did not all arrive") {
			t.Errorf("a form cut off: %d %q", resp.StatusCode, titleOf(page))
		}
		notCompleted("a form cut off")
		status, page := coordinator.submitForm(complete, url.Values{"complete": {"false"}, "note": {strings.Repeat("a", 11<<20)}})
		if status != http.StatusRequestEntityTooLarge {
			t.Errorf("a form over 10 MB: %d %q", status, titleOf(page))
		}
		notCompleted("a form over 10 MB")
		for _, ct := range []string{"text/plain", "application/octet-stream", ""} {
			head := fmt.Sprintf("POST %s HTTP/1.1\r\nContent-Length: %d", complete, len(form))
			if ct != "" {
				head += "\r\nContent-Type: " + ct
			}
			resp, page := coordinator.rawRequest(t, head, []byte(form), false, 10*time.Second)
			if resp.StatusCode != http.StatusUnsupportedMediaType {
				t.Errorf("a form sent as %q: %d %q, want 415", ct, resp.StatusCode, titleOf(page))
			}
			notCompleted(fmt.Sprintf("a form sent as %q", ct))
		}
	})
}
