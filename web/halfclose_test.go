package web_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/ofsted-portal/evidence/portal/store"
)

// TestHalfClosedZipIsCut: a client that half-closes its side of the
// connection once the zip's answer has begun still reads what comes, but
// the server takes it as gone and stops the zip. The zip must then end in
// a cut connection, not a clean end of the chunked body: a truncated zip
// must never arrive looking whole. The trail says the archive was
// interrupted, and which file never went.
func TestHalfClosedZipIsCut(t *testing.T) {
	ts := startStackWith(t, map[string]string{"PORTAL_SEGMENT_SIZE": "1MiB"})
	ctx := context.Background()
	v := ts.demoVisit(t)
	uploader := ts.signIn(t, "cafcass", "uploader@cafcass.example")
	lead := ts.signIn(t, "ofsted", "lead@ofsted.example")
	const n = 32 << 20
	big := decode[fileResp](t, uploader.upload(v.ID, "1.01 Big.pdf", bytes.NewReader(evidenceBytes(7, n)), n), http.StatusCreated)
	after := uploader.uploadItem(v.ID, "1.02 After.pdf", "", bytes.Repeat([]byte("a"), 1000))

	conn, host, cookies := lead.dial(t)
	defer conn.Close()
	fmt.Fprintf(conn, "GET /api/v1/visits/%s/archive?file=%s&file=%s HTTP/1.1\r\nHost: %s\r\nCookie: %s\r\n\r\n", v.ID, big.ID, after.ID, host, cookies)
	conn.SetReadDeadline(time.Now().Add(time.Minute))
	br := bufio.NewReader(conn)
	resp, err := http.ReadResponse(br, nil)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("zip: %v %v", resp, err)
	}
	conn.(*net.TCPConn).CloseWrite()
	got, err := io.ReadAll(resp.Body)
	if err == nil {
		t.Fatalf("a zip stopped when its client half-closed ended cleanly after %d of %d bytes: want the connection cut", len(got), n)
	}
	// The trail is written once the handler has stopped.
	deadline := time.Now().Add(10 * time.Second)
	for {
		recs, err := ts.Portal.Store().AuditRecords(ctx, store.AuditFilter{VisitID: v.ID, Action: "archive.download"})
		if err != nil {
			t.Fatal(err)
		}
		if len(recs) == 1 {
			var d struct {
				FilesWhole *int `json:"files_whole"`
			}
			if recs[0].Outcome != "interrupted" || json.Unmarshal([]byte(recs[0].Detail), &d) != nil || d.FilesWhole == nil || *d.FilesWhole != 0 {
				t.Errorf("the archive's cut record: %s %s, want interrupted with no file whole", recs[0].Outcome, recs[0].Detail)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d records of the archive cut, want 1", len(recs))
		}
		time.Sleep(50 * time.Millisecond)
	}
	recs, err := ts.Portal.Store().AuditRecords(ctx, store.AuditFilter{VisitID: v.ID, Action: "file.download"})
	if err != nil {
		t.Fatal(err)
	}
	var outcomes []string
	for _, r := range recs {
		outcomes = append(outcomes, r.Object[:4]+" "+r.Outcome)
	}
	want := []string{big.ID[:4] + " success", after.ID[:4] + " success", big.ID[:4] + " interrupted", after.ID[:4] + " not_sent"}
	if !slices.Equal(outcomes, want) {
		t.Errorf("the files' trail: %v, want %v", outcomes, want)
	}
}
