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
