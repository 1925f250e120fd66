package web_test

import (
	"net/http"
	"strings"
	"testing"
)

// TestInlineView: ?disposition=inline shows a PDF with its type, nosniff
// and no sandbox, and a PNG or JPEG under a sandboxing policy; a file
// whose first bytes are not what its name says, an SVG or an HTML file is
// sent as an attachment all the same; attachment stays the default, and
// an unknown disposition is refused.
func TestInlineView(t *testing.T) {
	ts := startStack(t)
	v := ts.demoVisit(t)
	coordinator := ts.signIn(t, "cafcass", "coordinator@cafcass.example")
	cases := []struct {
		name, body, wantType, wantDisposition string
		sandbox                               bool
	}{
		{"1.01 Structure.pdf", "%PDF-1.7\n%\xe2\xe3\n", "application/pdf", "inline", false},
		{"1.01 Chart.png", "\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "image/png", "inline", true},
		{"1.01 Photo.JPG", "\xff\xd8\xff\xe0\x00\x10JFIF", "image/jpeg", "inline", true},
		{"1.01 Fake.png", "<html><script>alert(1)</script>", "application/octet-stream", "attachment", false},
		{"1.01 Fake.pdf", "<html>not a pdf</html>", "application/octet-stream", "attachment", false},
		{"1.01 Drawing.svg", "<svg xmlns='http://www.w3.org/2000/svg'><script>alert(1)</script></svg>", "application/octet-stream", "attachment", false},
		{"1.01 Page.html", "<!doctype html><script>alert(1)</script>", "application/octet-stream", "attachment", false},
		{"1.01 Tiny.pdf", "%P", "application/octet-stream", "attachment", false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := coordinator.uploadItem(v.ID, tc.name, "", []byte(tc.body))
			path := "/api/v1/visits/" + v.ID + "/files/" + f.ID + "/content"
			req, _ := http.NewRequest("GET", coordinator.base+path+"?disposition=inline", nil)
			req.Header.Set("Range", "bytes=1-2") // ignored: an inline view is the whole file
			resp := coordinator.do(req)
			body := readAll(t, resp)
			h := resp.Header
			if resp.StatusCode != http.StatusOK || body != tc.body {
				t.Fatalf("status %d, body %q", resp.StatusCode, body)
			}
			if h.Get("Content-Type") != tc.wantType || !strings.HasPrefix(h.Get("Content-Disposition"), tc.wantDisposition+";") {
				t.Fatalf("Content-Type %q, Content-Disposition %q", h.Get("Content-Type"), h.Get("Content-Disposition"))
			}
			if h.Get("X-Content-Type-Options") != "nosniff" {
				t.Fatal("no nosniff")
			}
			csp := h.Get("Content-Security-Policy")
			if got := strings.Contains(csp, "sandbox"); got != tc.sandbox {
				t.Fatalf("sandbox %v in %q", got, csp)
			}
			if !strings.Contains(csp, "frame-ancestors 'none'") || strings.Contains(csp, "script-src") {
				t.Fatalf("policy %q", csp)
			}
			// The default is an attachment.
			resp = coordinator.get(path)
			readAll(t, resp)
			if !strings.HasPrefix(resp.Header.Get("Content-Disposition"), "attachment;") || resp.Header.Get("Content-Type") != "application/octet-stream" {
				t.Fatalf("default: %q %q", resp.Header.Get("Content-Disposition"), resp.Header.Get("Content-Type"))
			}
		})
	}
	f := coordinator.uploadItem(v.ID, "1.01 Other.pdf", "", []byte("%PDF-1.4"))
	if s := coordinator.status("GET", "/api/v1/visits/"+v.ID+"/files/"+f.ID+"/content?disposition=evil", nil); s != http.StatusBadRequest {
		t.Fatalf("an unknown disposition: %d", s)
	}
}
