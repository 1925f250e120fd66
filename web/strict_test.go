package web_test

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

// rawRequest sends head (with the browser's cookies) and then body on one
// connection, half-closes it when close is set, and reads the response.
func (b *browser) rawRequest(t *testing.T, head string, body []byte, close bool, wait time.Duration) (*http.Response, string) {
	t.Helper()
	conn, host, cookies := b.dial(t)
	defer conn.Close()
	fmt.Fprintf(conn, "%s\r\nHost: %s\r\nCookie: %s\r\n\r\n", head, host, cookies)
	conn.Write(body)
	if close {
		conn.(*net.TCPConn).CloseWrite()
	}
	conn.SetReadDeadline(time.Now().Add(wait))
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("no response: %v", err)
	}
	out, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	return resp, string(out)
}

// dial opens a connection of its own to the portal, for a request written
// by hand: its host and the browser's cookies, as a Cookie header's value.
func (b *browser) dial(t *testing.T) (net.Conn, string, string) {
	t.Helper()
	u, _ := url.Parse(b.base)
	conn, err := net.Dial("tcp", u.Host)
	if err != nil {
		t.Fatal(err)
	}
	var cookies []string
	for _, c := range b.c.Jar.Cookies(u) {
		cookies = append(cookies, c.Name+"="+c.Value)
	}
	return conn, u.Host, strings.Join(cookies, "; ")
}

// TestStrictRequests: a body shorter than its Content-Length, or one that
// stalls, is a 400 that stores nothing; a method a route does not take is a
// 405 with Allow; JSON endpoints take only JSON, of a bounded size, with
// known fields; /static/ lists no folders.
func TestStrictRequests(t *testing.T) {
	ts := startStackWith(t, map[string]string{"PORTAL_READ_IDLE_TIMEOUT": "1s"})
	v := ts.demoVisit(t)
	uploader := ts.signIn(t, "cafcass", "uploader@cafcass.example")
	admin := ts.signIn(t, "ofsted", "admin@ofsted.example")
	nothingStored := func(t *testing.T, objects int) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		// Pending uploads other than open resumable ones.
		pending := func() int {
			var n int
			ts.Portal.Store().DB().QueryRow(`SELECT COUNT(*) FROM pending_uploads WHERE file_id NOT IN (SELECT file_id FROM resumable_uploads)`).Scan(&n)
			return n
		}
		for objectCount(t, ts, v.Bucket) != objects || pending() != 0 {
			if time.Now().After(deadline) {
				t.Fatalf("%d objects (want %d), %d pending uploads", objectCount(t, ts, v.Bucket), objects, pending())
			}
			time.Sleep(100 * time.Millisecond)
		}
		if n := len(listFileIDs(t, uploader, v.ID)); n != 0 {
			t.Fatalf("%d files stored", n)
		}
	}

	t.Run("short body", func(t *testing.T) {
		objects := objectCount(t, ts, v.Bucket)
		resp, body := uploader.rawRequest(t, fmt.Sprintf("POST /api/v1/visits/%s/files?name=short.pdf HTTP/1.1\r\nContent-Length: 1000", v.ID),
			bytes.Repeat([]byte("x"), 500), true, 10*time.Second)
		if resp.StatusCode != http.StatusBadRequest || !strings.Contains(body, `"code":"bad_request"`) {
			t.Fatalf("a body shorter than its Content-Length: %d %s", resp.StatusCode, body)
		}
		nothingStored(t, objects)
		// The plain form, cut short inside the file.
		form := "--b\r\nContent-Disposition: form-data; name=\"file\"; filename=\"short-form.pdf\"\r\nContent-Type: application/pdf\r\n\r\n" + strings.Repeat("x", 500)
		resp, body = uploader.rawRequest(t, fmt.Sprintf("POST /visits/%s/files HTTP/1.1\r\nOrigin: %s\r\nContent-Type: multipart/form-data; boundary=b\r\nContent-Length: %d", v.ID, uploader.base, len(form)+1000),
			[]byte(form), true, 10*time.Second)
		if resp.StatusCode != http.StatusBadRequest {
			t.Fatalf("a form cut short: %d %s", resp.StatusCode, body)
		}
		nothingStored(t, objects)
		// A whole body whose form ends inside the file, without its
		// closing boundary: a truncated file, never stored as complete.
		resp, body = uploader.rawRequest(t, fmt.Sprintf("POST /visits/%s/files HTTP/1.1\r\nOrigin: %s\r\nContent-Type: multipart/form-data; boundary=b\r\nContent-Length: %d", v.ID, uploader.base, len(form)),
			[]byte(form), false, 10*time.Second)
		if resp.StatusCode != http.StatusBadRequest {
			t.Fatalf("a form without its closing boundary: %d %s", resp.StatusCode, body)
		}
		nothingStored(t, objects)
		// A resumable upload's PATCH.
		loc := uploader.tusCreate(v.ID, "short-tus.pdf", 1000)
		resp, body = uploader.rawRequest(t, fmt.Sprintf("PATCH %s HTTP/1.1\r\nTus-Resumable: 1.0.0\r\nUpload-Offset: 0\r\nContent-Type: application/offset+octet-stream\r\nContent-Length: 1000", loc),
			bytes.Repeat([]byte("x"), 500), true, 10*time.Second)
		if resp.StatusCode != http.StatusBadRequest {
			t.Fatalf("a PATCH cut short: %d %s", resp.StatusCode, body)
		}
		if off := uploader.tusOffset(loc); off != 0 {
			t.Fatalf("the short PATCH moved the offset to %d", off)
		}
	})

	t.Run("stalled body", func(t *testing.T) {
		objects := objectCount(t, ts, v.Bucket)
		began := time.Now()
		resp, body := uploader.rawRequest(t, fmt.Sprintf("POST /api/v1/visits/%s/files?name=stalled.pdf HTTP/1.1\r\nContent-Length: 1000", v.ID),
			bytes.Repeat([]byte("x"), 500), false, 10*time.Second)
		if resp.StatusCode != http.StatusBadRequest || time.Since(began) > 8*time.Second {
			t.Fatalf("a body that stalls: %d after %s: %s", resp.StatusCode, time.Since(began), body)
		}
		nothingStored(t, objects)
		// A resumable upload's PATCH too.
		loc := uploader.tusCreate(v.ID, "stalled-tus.pdf", 1000)
		resp, body = uploader.rawRequest(t, fmt.Sprintf("PATCH %s HTTP/1.1\r\nTus-Resumable: 1.0.0\r\nUpload-Offset: 0\r\nContent-Type: application/offset+octet-stream\r\nContent-Length: 1000", loc),
			bytes.Repeat([]byte("x"), 500), false, 10*time.Second)
		if resp.StatusCode != http.StatusBadRequest {
			t.Fatalf("a PATCH that stalls: %d %s", resp.StatusCode, body)
		}
		if off := uploader.tusOffset(loc); off != 0 {
			t.Fatalf("the stalled PATCH moved the offset to %d", off)
		}
	})

	t.Run("method not allowed", func(t *testing.T) {
		for _, tc := range []struct{ method, path, allow string }{
			{"DELETE", "/api/v1/visits", "GET, HEAD, POST"},
			{"PUT", "/api/v1/visits/" + v.ID, "GET, HEAD"},
			{"POST", "/api/v1/me", "GET, HEAD"},
			{"PUT", "/visits/" + v.ID + "/members", "GET, HEAD, POST"},
			{"GET", "/auth/logout", "POST"},
			{"HEAD", "/api/v1/visits/" + v.ID + "/archive", "GET"},
		} {
			req, _ := http.NewRequest(tc.method, admin.base+tc.path, nil)
			req.Header.Set("Origin", admin.base)
			resp := admin.do(req)
			resp.Body.Close()
			if resp.StatusCode != http.StatusMethodNotAllowed || resp.Header.Get("Allow") != tc.allow {
				t.Errorf("%s %s: %d, Allow %q; want 405, Allow %q", tc.method, tc.path, resp.StatusCode, resp.Header.Get("Allow"), tc.allow)
			}
		}
	})

	t.Run("json only", func(t *testing.T) {
		send := func(method, path, contentType, body string) (int, string) {
			req, _ := http.NewRequest(method, admin.base+path, strings.NewReader(body))
			if contentType != "" {
				req.Header.Set("Content-Type", contentType)
			}
			resp := admin.do(req)
			return resp.StatusCode, readAll(t, resp)
		}
		visit := `{"reference":"FV-STRICT-1","title":"Strict","provider":"Cafcass","notification_date":"2026-12-01","fieldwork_start":"2026-12-07"}`
		members := "/api/v1/visits/" + v.ID + "/members"
		for _, tc := range []struct {
			name, method, path, ct, body string
			status                       int
			code                         string
		}{
			{"form body", "POST", "/api/v1/visits", "application/x-www-form-urlencoded", "reference=FV-STRICT-1", 415, "unsupported_media_type"},
			{"no content type", "PUT", members, "", `{"email":"x@ofsted.example","role":"inspector"}`, 415, "unsupported_media_type"},
			{"unknown field", "POST", "/api/v1/visits", "application/json", strings.TrimSuffix(visit, "}") + `,"colour":"red"}`, 400, "bad_request"},
			{"unknown member field", "PUT", members, "application/json", `{"email":"x@ofsted.example","role":"inspector","admin":true}`, 400, "bad_request"},
			{"two values", "PUT", members, "application/json", `{"email":"x@ofsted.example","role":"inspector"}{}`, 400, "bad_request"},
			{"too large", "PUT", members, "application/json", `{"email":"x@ofsted.example","role":"inspector","valid_from":"` + strings.Repeat("9", 2<<20) + `"}`, 413, "too_large"},
			{"json with charset", "PUT", members, "application/json; charset=utf-8", `{"email":"x@ofsted.example","role":"inspector"}`, 201, ""},
		} {
			status, body := send(tc.method, tc.path, tc.ct, tc.body)
			if status != tc.status || tc.code != "" && !strings.Contains(body, `"code":"`+tc.code+`"`) {
				t.Errorf("%s: %d %s; want %d %s", tc.name, status, body, tc.status, tc.code)
			}
		}
	})

	t.Run("static lists no folders", func(t *testing.T) {
		for _, p := range []string{"/static/", "/static/vendor/", "/static/vendor"} {
			resp := admin.get(p)
			body := readAll(t, resp)
			if resp.StatusCode != http.StatusNotFound || strings.Contains(body, `<a href="portal.mjs">`) || strings.Contains(body, `<a href="VERSIONS">`) {
				t.Errorf("GET %s: %d %q", p, resp.StatusCode, body)
			}
		}
		if resp := admin.get("/static/portal.mjs"); resp.StatusCode != http.StatusOK {
			t.Errorf("a static file: %d", resp.StatusCode)
		}
	})
}
