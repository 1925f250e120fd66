package web_test

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ofsted-portal/evidence/portal/store"
)

// TestStalledDownloadIsCut: a download whose client stops reading (its
// receive window shut, the connection left open) is cut once one write
// has waited PORTAL_WRITE_IDLE_TIMEOUT, and recorded as interrupted.
// Before, the server, which has no write timeout (a large file takes as
// long as the client's line needs), waited on it for ever, holding the
// download's decrypted segments and its object store connections: a few
// hundred such connections took the memory and the store's connections
// of everyone.
func TestStalledDownloadIsCut(t *testing.T) {
	ts := startStackWith(t, map[string]string{"PORTAL_WRITE_IDLE_TIMEOUT": "1s"})
	ctx := context.Background()
	v := ts.demoVisit(t)
	up := ts.signIn(t, "cafcass", "uploader@cafcass.example")
	lead := ts.signIn(t, "ofsted", "lead@ofsted.example")
	f := up.uploadItem(v.ID, "1.01 Large.pdf", "", bytes.Repeat([]byte("large evidence!!"), 24<<20/16))
	u, _ := url.Parse(lead.base)

	// A connection kept alive serves its next response whenever it comes:
	// the deadline of one response's writes is not the next one's (the
	// server clears it once a response is sent).
	keep, err := net.Dial("tcp", u.Host)
	if err != nil {
		t.Fatal(err)
	}
	defer keep.Close()
	br := bufio.NewReader(keep)
	for i := range 2 {
		fmt.Fprintf(keep, "GET /healthz HTTP/1.1\r\nHost: %s\r\n\r\n", u.Host)
		keep.SetReadDeadline(time.Now().Add(10 * time.Second))
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatalf("request %d on a connection kept alive: %v", i+1, err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("request %d on a connection kept alive: %d", i+1, resp.StatusCode)
		}
		time.Sleep(1500 * time.Millisecond)
	}

	stalledGet(t, lead, "/api/v1/visits/"+v.ID+"/files/"+f.ID+"/content")
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(200 * time.Millisecond) {
		recs, err := ts.Portal.Store().AuditRecords(ctx, store.AuditFilter{VisitID: v.ID, Action: "file.download", Object: f.ID})
		if err != nil {
			t.Fatal(err)
		}
		if len(recs) == 2 && recs[1].Outcome == "interrupted" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("a download its client stopped reading is still being sent after 30 s (its records: %d)", len(recs))
		}
	}
}

// stalledGet sends b's GET of path on a connection of its own, with a
// small receive buffer, and reads nothing of the answer: the portal's
// writes fill the connection's buffers and wait. The connection is closed
// at the end of the test, or by the caller.
func stalledGet(t *testing.T, b *browser, path string) net.Conn {
	t.Helper()
	u, _ := url.Parse(b.base)
	var cookies []string
	for _, c := range b.c.Jar.Cookies(u) {
		cookies = append(cookies, c.Name+"="+c.Value)
	}
	dialer := net.Dialer{Control: func(_, _ string, c syscall.RawConn) error {
		return c.Control(func(fd uintptr) { syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 4096) })
	}}
	conn, err := dialer.Dial("tcp", u.Host)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	fmt.Fprintf(conn, "GET %s HTTP/1.1\r\nHost: %s\r\nCookie: %s\r\n\r\n", path, u.Host, strings.Join(cookies, "; "))
	return conn
}
