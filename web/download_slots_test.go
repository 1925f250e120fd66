package web_test

import (
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/ofsted-portal/evidence/portal/store"
)

// TestDownloadsPerPersonAreBounded: one person has at most
// PORTAL_DOWNLOADS_PER_PERSON downloads (files, zips and exports of the
// audit trail) under way at once; one more waits
// up to PORTAL_DOWNLOAD_WAIT for one of them to end, then is answered 429
// and not recorded as a download. Another person's download is not held
// up, and once one of the first person's downloads ends, their next one
// goes. Before, one account (a script, a stolen session) could open
// downloads without end, each holding its decrypted segments and its
// object store connections, and take the store's connections of
// everyone; and an export of the audit trail was outside the bound
// after it.
func TestDownloadsPerPersonAreBounded(t *testing.T) {
	ts := startStackWith(t, map[string]string{"PORTAL_DOWNLOADS_PER_PERSON": "2", "PORTAL_DOWNLOAD_WAIT": "1s"})
	ctx := context.Background()
	v := ts.demoVisit(t)
	up := ts.signIn(t, "cafcass", "uploader@cafcass.example")
	lead := ts.signIn(t, "ofsted", "lead@ofsted.example")
	qam := ts.signIn(t, "ofsted", "qam@ofsted.example")
	f := up.uploadItem(v.ID, "1.01 Large.pdf", "", bytes.Repeat([]byte("large evidence!!"), 24<<20/16))
	path := "/api/v1/visits/" + v.ID + "/files/" + f.ID + "/content"
	downloads := func() int {
		t.Helper()
		recs, err := ts.Portal.Store().AuditRecords(ctx, store.AuditFilter{VisitID: v.ID, Action: "file.download", Object: f.ID})
		if err != nil {
			t.Fatal(err)
		}
		return len(recs)
	}
	// Two downloads the lead's client does not read: under way, held.
	held := []net.Conn{stalledGet(t, lead, path), stalledGet(t, lead, path)}
	for deadline := time.Now().Add(30 * time.Second); downloads() < 2; time.Sleep(100 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the two downloads held did not begin")
		}
	}
	resp := lead.get(path)
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusTooManyRequests || !strings.Contains(string(body), "too_many_downloads") || resp.Header.Get("Retry-After") == "" {
		t.Errorf("a third download by one person with two under way: %d (%d bytes), want 429 too_many_downloads with Retry-After", resp.StatusCode, len(body))
	}
	// An export of the audit trail is a download too: it reads the
	// whole trail, a page at a time, for as long as its reader takes.
	if resp := lead.get("/api/v1/visits/" + v.ID + "/audit?format=csv"); resp.StatusCode != http.StatusTooManyRequests {
		body, _ := io.ReadAll(resp.Body)
		t.Errorf("an export of the audit trail by one person with two downloads under way: %d (%d bytes), want 429", resp.StatusCode, len(body))
		resp.Body.Close()
	} else {
		resp.Body.Close()
	}
	if n := downloads(); n != 2 {
		t.Errorf("%d downloads recorded, want the two under way and not the one refused", n)
	}
	if s := qam.status(http.MethodGet, path, nil); s != http.StatusOK {
		t.Errorf("another person's download while the lead has two under way: %d, want 200", s)
	}
	held[0].Close()
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(200 * time.Millisecond) {
		if s := lead.status(http.MethodGet, path, nil); s == http.StatusOK {
			break
		} else if time.Now().After(deadline) {
			t.Fatalf("the lead's download once one of theirs ended: %d, want 200", s)
		}
	}
}
