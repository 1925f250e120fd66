package web_test

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/ofsted-portal/evidence/portal/store"
)

// TestRemovedMidDownloadIsCut: an inspector removed from a visit while
// she downloads a large file does not receive the rest of it: the
// download goes on for at most a couple of seconds and a block, then the
// connection is cut (the headers are sent: a cut is the only honest
// signal). The trail holds her refusal and the download recorded
// "refused", with the bytes sent.
func TestRemovedMidDownloadIsCut(t *testing.T) {
	ts := startStackWith(t, map[string]string{"PORTAL_SEGMENT_SIZE": "1MiB"})
	ctx := context.Background()
	v := ts.demoVisit(t)
	uploader := ts.signIn(t, "cafcass", "uploader@cafcass.example")
	hmi := ts.signIn(t, "ofsted", "hmi@ofsted.example")
	admin := ts.signIn(t, "ofsted", "admin@ofsted.example")
	const n = 32 << 20 // more than the sockets between them hold
	big := decode[fileResp](t, uploader.upload(v.ID, "1.01 Big.pdf", bytes.NewReader(evidenceBytes(7, n)), n), http.StatusCreated)

	resp := hmi.get("/api/v1/visits/" + v.ID + "/files/" + big.ID + "/content")
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("download: %d", resp.StatusCode)
	}
	if _, err := io.CopyN(io.Discard, resp.Body, 1<<20); err != nil {
		t.Fatal(err)
	}
	if s := admin.status("DELETE", "/api/v1/visits/"+v.ID+"/members/"+memberID(t, admin, v.ID, "hmi@ofsted.example"), nil); s != http.StatusNoContent {
		t.Fatalf("remove the inspector: %d", s)
	}
	time.Sleep(3 * time.Second) // the decision the download began with is old now
	rest, err := io.Copy(io.Discard, resp.Body)
	if err == nil || 1<<20+rest >= n {
		t.Fatalf("the removed inspector received %d of %d bytes (%v): want the connection cut", 1<<20+rest, n, err)
	}
	records := func() []string {
		recs, err := ts.Portal.Store().AuditRecords(ctx, store.AuditFilter{VisitID: v.ID, ActorEmail: "hmi@ofsted.example"})
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, r := range recs {
			got = append(got, r.Action+":"+r.Outcome)
		}
		return got
	}
	// The cut is recorded as the handler returns, after the client saw it.
	got := records()
	for deadline := time.Now().Add(5 * time.Second); !slices.Contains(got, "file.download:refused") && time.Now().Before(deadline); got = records() {
		time.Sleep(50 * time.Millisecond)
	}
	if !slices.Contains(got, "request.denied:denied") || !slices.Contains(got, "file.download:refused") {
		t.Errorf("the removed inspector's records: %v, want her refusal and the download refused", got)
	}
}

// TestRemovedMidExportIsCut: a lead inspector removed from a visit while
// she exports its audit trail (millions of records take minutes) does not
// receive the rest of it, as a download would not: the export takes the
// decision again before each read once it is older than a moment, the
// connection is cut, and the trail holds her refusal.
func TestRemovedMidExportIsCut(t *testing.T) {
	ts := startStack(t)
	ctx := context.Background()
	v := ts.demoVisit(t)
	lead := ts.signIn(t, "ofsted", "lead@ofsted.example")
	admin := ts.signIn(t, "ofsted", "admin@ofsted.example")
	const seeded = 24000 // the export's first read, and more than four after it
	seedDownloads(t, ts, v.ID, seeded)
	client := slowReader(lead) // the export waits on its reader
	resp, err := client.Get(lead.base + "/api/v1/visits/" + v.ID + "/audit?format=csv")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("export: %d", resp.StatusCode)
	}
	if _, err := io.ReadFull(resp.Body, make([]byte, 1000)); err != nil {
		t.Fatal(err)
	}
	if s := admin.status("DELETE", "/api/v1/visits/"+v.ID+"/members/"+memberID(t, admin, v.ID, "lead@ofsted.example"), nil); s != http.StatusNoContent {
		t.Fatalf("remove the lead inspector: %d", s)
	}
	time.Sleep(3 * time.Second) // the decision the export began with is old now
	rest, err := io.ReadAll(resp.Body)
	rows := bytes.Count(rest, []byte(",file.download,"))
	if err == nil || rows >= seeded-200 {
		t.Fatalf("the removed lead inspector received %d more records of %d (%v): want the connection cut", rows, seeded, err)
	}
	denied, err := ts.Portal.Store().AuditRecords(ctx, store.AuditFilter{VisitID: v.ID, ActorEmail: "lead@ofsted.example", Action: "request.denied"})
	if err != nil {
		t.Fatal(err)
	}
	if len(denied) == 0 {
		t.Errorf("the removed lead inspector's export: no refusal in the trail")
	}
	var exports []string
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		recs, err := ts.Portal.Store().AuditRecords(ctx, store.AuditFilter{VisitID: v.ID, ActorEmail: "lead@ofsted.example", Action: "audit.exported"})
		if err != nil {
			t.Fatal(err)
		}
		exports = exports[:0]
		for _, r := range recs {
			exports = append(exports, r.Outcome)
		}
		if len(exports) > 1 || time.Now().After(deadline) {
			break
		}
	}
	if !slices.Equal(exports, []string{"success", "refused"}) {
		t.Errorf("the removed lead inspector's export in the trail: %v, want it begun and then refused", exports)
	}
}
