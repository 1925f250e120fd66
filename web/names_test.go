package web_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"mime/multipart"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"
)

// uploadTo sends a raw upload with these query parameters.
func (b *browser) uploadTo(visitID string, q url.Values, data []byte) (int, string) {
	b.t.Helper()
	req, _ := http.NewRequest(http.MethodPost, b.base+"/api/v1/visits/"+visitID+"/files?"+q.Encode(), bytes.NewReader(data))
	resp := b.do(req)
	return resp.StatusCode, readAll(b.t, resp)
}

// TestNameCollisions: in one item, a name is taken once, whatever its case
// or Unicode normalisation: a second file of that name is refused (409
// name_exists) unless the request says on_conflict=rename, and then it is
// stored as "name (2).ext". Names are stored in NFC and may not hide
// zero-width characters. A resumable upload holds its name from its
// creation; a deleted file frees it; refiling cannot make two; a race
// cannot either.
func TestNameCollisions(t *testing.T) {
	ts := startStack(t)
	v := ts.demoVisit(t)
	up := ts.signIn(t, "cafcass", "uploader@cafcass.example")
	lead := ts.signIn(t, "ofsted", "lead@ofsted.example")
	upload := func(name, item, onConflict string) (int, string) {
		q := url.Values{"name": {name}, "item": {item}}
		if onConflict != "" {
			q.Set("on_conflict", onConflict)
		}
		return up.uploadTo(v.ID, q, []byte("content of "+name))
	}
	expect := func(status int, body string, want int, contains string) {
		t.Helper()
		if status != want || !strings.Contains(body, contains) {
			t.Fatalf("%d %s; want %d with %q", status, body, want, contains)
		}
	}
	status, body := upload("Report 1.pdf", "1.01", "")
	expect(status, body, 201, `"name":"Report 1.pdf"`)
	first := body
	for _, same := range []string{"Report 1.pdf", "report 1.PDF", "REPORT 1.pdf"} {
		status, body = upload(same, "1.01", "")
		expect(status, body, 409, `"code":"name_exists"`)
	}
	status, body = upload("report 1.PDF", "1.01", "rename")
	expect(status, body, 201, `"name":"report 1 (2).PDF"`)
	status, body = upload("Report 1.pdf", "1.01", "rename")
	expect(status, body, 201, `"name":"Report 1 (3).pdf"`)
	status, body = upload("Report 1.pdf", "1.02", "")
	expect(status, body, 201, `"name":"Report 1.pdf"`)
	status, body = upload("Report 1.pdf", "1.01", "overwrite")
	expect(status, body, 400, `on_conflict`)

	// Normalisation: NFD in, NFC stored, and the same name either way.
	status, body = upload("Cafe\u0301.pdf", "1.01", "")
	expect(status, body, 201, "Caf\u00e9.pdf")
	status, body = upload("CAF\u00c9.pdf", "1.01", "")
	expect(status, body, 409, `"code":"name_exists"`)
	for _, hidden := range []string{"re\u200bport.pdf", "\ufeffreport.pdf", "rep\u2060ort.pdf"} {
		status, body = upload(hidden, "1.01", "")
		expect(status, body, 400, "zero-width")
	}

	// A resumable upload holds its name from its creation.
	create := func(name, onConflict string) *http.Response {
		meta := "filename " + base64.StdEncoding.EncodeToString([]byte(name)) + ",item " + base64.StdEncoding.EncodeToString([]byte("1.03"))
		if onConflict != "" {
			meta += ",on_conflict " + base64.StdEncoding.EncodeToString([]byte(onConflict))
		}
		return up.tus("POST", "/api/v1/visits/"+v.ID+"/uploads", nil, 0, map[string]string{"Upload-Length": "1000", "Upload-Metadata": meta})
	}
	resp := create("big.bin", "")
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("tus create: %d", resp.StatusCode)
	}
	loc := resp.Header.Get("Location")
	status, body = upload("BIG.bin", "1.03", "")
	expect(status, body, 409, `"code":"name_exists"`)
	resp = create("big.bin", "")
	if b := readAll(t, resp); resp.StatusCode != http.StatusConflict || !strings.Contains(b, "name_exists") {
		t.Fatalf("a second resumable upload of the name: %d %s", resp.StatusCode, b)
	}
	resp = create("big.bin", "rename")
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("a resumable upload with on_conflict=rename: %d", resp.StatusCode)
	}
	up.tus("DELETE", loc, nil, 0, nil).Body.Close()
	status, body = upload("big.bin", "1.03", "")
	expect(status, body, 201, `"name":"big.bin"`)

	// A deleted file frees its name.
	var id struct {
		ID string `json:"id"`
	}
	decodeString(t, first, &id)
	if code := up.status("DELETE", "/api/v1/visits/"+v.ID+"/files/"+id.ID, nil); code != http.StatusNoContent {
		t.Fatalf("delete: %d", code)
	}
	status, body = upload("Report 1.pdf", "1.01", "")
	expect(status, body, 201, `"name":"Report 1.pdf"`)

	// Refiling into an item that has the name is refused.
	status, body = upload("Minutes.docx", "1.04", "")
	expect(status, body, 201, "Minutes.docx")
	decodeString(t, body, &id)
	status, body = upload("minutes.DOCX", "1.05", "")
	expect(status, body, 201, "minutes.DOCX")
	resp = lead.sendJSON("PATCH", "/api/v1/visits/"+v.ID+"/files/"+id.ID, map[string]string{"item": "1.05"})
	if b := readAll(t, resp); resp.StatusCode != http.StatusConflict || !strings.Contains(b, "name_exists") {
		t.Fatalf("refiling onto a taken name: %d %s", resp.StatusCode, b)
	}

	// A file stored before names were indexed is indexed when its visit
	// next takes a name (here after a restart of the portal).
	if _, err := ts.Portal.Store().DB().Exec(`DELETE FROM file_names WHERE file_id = ?`, id.ID); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := ts.RestartPortal(ctx, false); err != nil {
		t.Fatal(err)
	}
	status, body = upload("MINUTES.docx", "1.04", "")
	expect(status, body, 409, `"code":"name_exists"`)

	// A race makes one file, never two.
	var wg sync.WaitGroup
	codes := make(chan int, 8)
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			status, _ := upload("race.pdf", "1.01", "")
			codes <- status
		}()
	}
	wg.Wait()
	close(codes)
	count := map[int]int{}
	for c := range codes {
		count[c]++
	}
	if count[201] != 1 || count[409] != 7 {
		t.Fatalf("eight uploads of one name at once: %v", count)
	}

	// The plain form: a collision is explained, and "keep both" renames.
	page := readAll(t, up.get("/visits/"+v.ID+"/upload"))
	if !strings.Contains(page, `name="on_conflict"`) || !strings.Contains(page, `value="rename"`) {
		t.Fatal("the upload page offers no way to keep both files")
	}
	form := func(keepBoth bool) (*http.Response, string) {
		var buf bytes.Buffer
		mw := multipart.NewWriter(&buf)
		mw.WriteField("item", "1.01")
		if keepBoth {
			mw.WriteField("on_conflict", "rename")
		}
		fw, _ := mw.CreateFormFile("file", "Report 1.pdf")
		fw.Write([]byte("again"))
		mw.Close()
		req, _ := http.NewRequest(http.MethodPost, up.base+"/visits/"+v.ID+"/files", &buf)
		req.Header.Set("Content-Type", mw.FormDataContentType())
		req.Header.Set("Origin", up.base)
		resp := up.do(req)
		return resp, readAll(t, resp)
	}
	resp, body = form(false)
	if resp.StatusCode != http.StatusConflict || !strings.Contains(body, "keep both") {
		t.Fatalf("a colliding form upload: %d\n%s", resp.StatusCode, body)
	}
	resp, _ = form(true)
	if resp.StatusCode != http.StatusOK || !strings.Contains(fmt.Sprint(up.fileNames(v.ID)), "Report 1 (4).pdf") {
		t.Fatalf("keep both: %d, files %v", resp.StatusCode, up.fileNames(v.ID))
	}

	// Every refusal above (API, resumable creation, refiling, the form) is
	// in the request log by its code, and no name is.
	log := ts.log.String()
	if !strings.Contains(log, `"status":409,`) || !strings.Contains(log, `"error_code":"name_exists"`) {
		t.Error("the name conflicts are not in the request log by their code")
	}
	for _, name := range []string{"Report 1", "report 1", "big.bin", "BIG.bin", "Minutes", "minutes", "MINUTES", "race.pdf"} {
		if i := strings.Index(log, name); i >= 0 {
			t.Errorf("the file name %q is in the portal's log: %s", name, log[max(0, i-200):min(len(log), i+200)])
		}
	}
}

func decodeString(t *testing.T, s string, v any) {
	t.Helper()
	if err := json.Unmarshal([]byte(s), v); err != nil {
		t.Fatalf("decode %q: %v", s, err)
	}
}

// TestUploadNameInAHeader: a plain upload may send its file's name in
// Content-Disposition (filename*, RFC 6266), out of the address that
// proxies log; the file is stored under it. A header that names no file,
// or a name in ?name= that differs from it, is refused with what to send.
func TestUploadNameInAHeader(t *testing.T) {
	ts := startStack(t)
	v := ts.demoVisit(t)
	up := ts.signIn(t, "cafcass", "uploader@cafcass.example")
	send := func(query, disposition string) (int, string) {
		t.Helper()
		req, _ := http.NewRequest(http.MethodPost, up.base+"/api/v1/visits/"+v.ID+"/files"+query, strings.NewReader("chronology"))
		req.Header.Set("Content-Disposition", disposition)
		resp := up.do(req)
		return resp.StatusCode, readAll(t, resp)
	}
	name := "1.03 Zoë’s chronology (Cafcass).pdf"
	status, body := send("?item=1.03", "attachment; filename*=UTF-8''"+url.PathEscape(name))
	if status != http.StatusCreated || !strings.Contains(body, `"name":"1.03 Zoë’s chronology (Cafcass).pdf"`) {
		t.Fatalf("upload named in Content-Disposition: %d %s", status, body)
	}
	for _, c := range []struct{ query, disposition, want string }{
		{"", "attachment", "filename*=UTF-8''"},
		{"", "attachment; filename*=UTF-8''%FF%FE", "not valid UTF-8"},
		{"?name=other.pdf", "attachment; filename*=UTF-8''" + url.PathEscape("1.03 b.pdf"), "differ"},
	} {
		if status, body := send(c.query, c.disposition); status != http.StatusBadRequest || !strings.Contains(body, c.want) {
			t.Errorf("%q with %q: %d %s, want 400 saying %q", c.query, c.disposition, status, body, c.want)
		}
	}
}
