package web_test

import (
	"archive/zip"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ofsted-portal/evidence/deploy/devstack"
	"github.com/ofsted-portal/evidence/portal"
)

// listScans is the visit's files as the browser's user sees them: id to
// scan status.
func (b *browser) listScans(visitID string) map[string]fileResp {
	b.t.Helper()
	l := decode[struct {
		Files []fileResp `json:"files"`
	}](b.t, b.get("/api/v1/visits/"+visitID+"/files"), http.StatusOK)
	out := map[string]fileResp{}
	for _, f := range l.Files {
		out[f.ID] = f
	}
	return out
}

func (b *browser) download(visitID, fileID string) (int, string, []byte) {
	b.t.Helper()
	resp := b.get("/api/v1/visits/" + visitID + "/files/" + fileID + "/content")
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	var e apiError
	json.Unmarshal(body, &e)
	return resp.StatusCode, e.Code, body
}

func needScanner(t *testing.T, ts *testStack) {
	t.Helper()
	if ts.Clamd == nil {
		t.Skip("no clamd: run make clamd (make test requires it)")
	}
}

func zipWith(t *testing.T, files map[string][]byte) []byte {
	t.Helper()
	var b bytes.Buffer
	z := zip.NewWriter(&b)
	for name, data := range files {
		w, err := z.Create(name)
		if err != nil {
			t.Fatal(err)
		}
		w.Write(data)
	}
	if err := z.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// tusWhole sends data as one resumable upload and returns the file id and
// the scanner's verdict from the last PATCH, with its reason in brackets
// when the answer gives one.
func (b *browser) tusWhole(visitID, name string, data []byte) (string, string) {
	b.t.Helper()
	loc := b.tusCreate(visitID, name, int64(len(data)))
	resp := b.tus("PATCH", loc, bytes.NewReader(data), int64(len(data)), map[string]string{"Upload-Offset": "0"})
	body := readAll(b.t, resp)
	if resp.StatusCode != http.StatusNoContent || resp.Header.Get("Evidence-File-Id") == "" {
		b.t.Fatalf("PATCH: %d %v %s", resp.StatusCode, resp.Header, body)
	}
	verdict := resp.Header.Get("Evidence-Scan")
	if reason := resp.Header.Get("Evidence-Scan-Reason"); reason != "" {
		verdict += " (" + reason + ")"
	}
	return resp.Header.Get("Evidence-File-Id"), verdict
}

// TestMalwareScanning runs uploads through a real clamd with the test
// signature: a clean file reaches the inspection team; the EICAR test
// string in a plain upload, a resumable upload and a zip is found, shown to
// its uploader with the signature, audited, and served to nobody.
func TestMalwareScanning(t *testing.T) {
	ts := startStack(t)
	needScanner(t, ts)
	v := ts.demoVisit(t)
	uploader := ts.signIn(t, "cafcass", "uploader@cafcass.example")
	coordinator := ts.signIn(t, "cafcass", "coordinator@cafcass.example")
	hmi := ts.signIn(t, "ofsted", "hmi@ofsted.example")
	lead := ts.signIn(t, "ofsted", "lead@ofsted.example")
	admin := ts.signIn(t, "ofsted", "admin@ofsted.example")
	eicar := devstack.EICAR()

	clean := evidenceBytes(3, 3<<20)
	ok := uploader.uploadItem(v.ID, "1.01 Structure.pdf", "", clean)
	if ok.Scan != "clean" {
		t.Fatalf("clean upload: %+v", ok)
	}
	if code, _, body := hmi.download(v.ID, ok.ID); code != http.StatusOK || !bytes.Equal(body, clean) {
		t.Fatalf("inspector downloads a clean file: %d", code)
	}

	infected := map[string]string{} // file id -> how it came
	plain := uploader.uploadItem(v.ID, "1.03 MI report.txt", "", append(append([]byte("monthly figures\n"), eicar...), "\nend\n"...))
	infected[plain.ID] = "plain upload"
	zipped := uploader.uploadItem(v.ID, "1.03 returns.zip", "", zipWith(t, map[string][]byte{"notes.txt": []byte("fine"), "deep/eicar.com": eicar}))
	infected[zipped.ID] = "zip"
	for _, f := range []fileResp{plain, zipped} {
		if f.Scan != "infected" || f.ScanSignature != devstack.EICARSignature {
			t.Fatalf("%s: %+v", infected[f.ID], f)
		}
	}
	tusID, verdict := uploader.tusWhole(v.ID, "1.03 chronology.txt", append([]byte("case chronology "), eicar...))
	infected[tusID] = "resumable upload"
	if verdict != "infected" {
		t.Fatalf("resumable upload: Evidence-Scan %q", verdict)
	}
	tusClean, verdict := uploader.tusWhole(v.ID, "1.03 figures.csv", evidenceBytes(4, 1<<20))
	if verdict != "clean" {
		t.Fatalf("clean resumable upload: Evidence-Scan %q", verdict)
	}

	// The uploader and the coordinator see the infected files, with the
	// signature; nobody downloads them; the inspection team never sees them.
	for _, who := range []*browser{uploader, coordinator} {
		files := who.listScans(v.ID)
		for id, how := range infected {
			if f := files[id]; f.Scan != "infected" || f.ScanSignature != devstack.EICARSignature {
				t.Fatalf("%s as the provider sees it: %+v", how, f)
			}
			if code, ecode, _ := who.download(v.ID, id); code != http.StatusForbidden || ecode != "infected" {
				t.Fatalf("provider downloads the %s: %d %s", how, code, ecode)
			}
		}
	}
	page := readAll(t, uploader.get("/visits/"+v.ID))
	if !strings.Contains(page, "This file contains malware ("+devstack.EICARSignature+")") {
		t.Fatalf("the uploader's page does not say the file is infected")
	}
	for _, who := range []*browser{hmi, lead, admin} {
		for id, how := range infected {
			if code, _, _ := who.download(v.ID, id); code == http.StatusOK || code >= 500 {
				t.Fatalf("the %s was served: %d", how, code)
			}
		}
	}
	// An infected file answers no item of the request: kept, never served,
	// it leaves the item as due (or overdue) as it was, for both sides.
	infected[uploader.uploadItem(v.ID, "1.04 Self-evaluation.txt", "", eicar).ID] = "plain upload, alone in its item"
	for _, who := range []*browser{uploader, lead} {
		if it := who.request(v.ID)["1.04"]; it.Status == "received" || it.Files != 0 {
			t.Errorf("item 1.04, whose only file is infected: %s with %d files, want it not received", it.Status, it.Files)
		}
	}
	for _, who := range []*browser{hmi, lead} {
		files := who.listScans(v.ID)
		for id, how := range infected {
			if _, seen := files[id]; seen {
				t.Fatalf("the inspection team sees the %s", how)
			}
		}
		if files[ok.ID].Scan != "clean" || files[tusClean].Scan != "clean" {
			t.Fatalf("the inspection team does not see the clean files: %+v", files)
		}
		// A zip of the item holds the clean file only.
		resp := who.get("/api/v1/visits/" + v.ID + "/archive?item=1.03")
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		zr, err := zip.NewReader(bytes.NewReader(body), int64(len(body)))
		if resp.StatusCode != http.StatusOK || err != nil {
			t.Fatalf("archive: %d %v", resp.StatusCode, err)
		}
		var names []string
		for _, f := range zr.File {
			names = append(names, f.Name)
		}
		slices.Sort(names)
		if want := []string{"1.03/1.03 figures.csv", "manifest-sha256.txt"}; !slices.Equal(names, want) {
			t.Fatalf("archive holds %v; want %v", names, want)
		}
		for id := range infected {
			if code := who.status("GET", "/api/v1/visits/"+v.ID+"/archive?file="+id, nil); code != http.StatusNotFound {
				t.Fatalf("archive naming an infected file: %d", code)
			}
		}
	}
	// Infected files are kept: the provider cannot delete them.
	if code := uploader.status("DELETE", "/api/v1/visits/"+v.ID+"/files/"+plain.ID, nil); code != http.StatusForbidden {
		t.Fatalf("uploader deletes an infected file: %d", code)
	}
	// Each is audited with its signature.
	audit := readAll(t, lead.get("/api/v1/visits/"+v.ID+"/audit?format=csv"))
	for id, how := range infected {
		found := false
		for _, line := range strings.Split(audit, "\n") {
			found = found || strings.Contains(line, "file.infected") && strings.Contains(line, id) && strings.Contains(line, devstack.EICARSignature)
		}
		if !found {
			t.Fatalf("no file.infected record for the %s", how)
		}
	}
	// The administrators are told.
	if page := readAll(t, admin.get("/visits")); !strings.Contains(page, "The malware scanner found 4 infected files") {
		t.Fatalf("the administrators' page does not tell of the infected files")
	}
}

// TestScannerDown kills clamd in the middle of an upload: the upload still
// succeeds, the file waits as being checked (unseen by the inspection
// team), /readyz says the scanner is degraded, and once clamd is back the
// worker scans what waited, from the store.
func TestScannerDown(t *testing.T) {
	ts := startStackWith(t, map[string]string{"PORTAL_SCAN_RETRY": "1s"})
	needScanner(t, ts)
	v := ts.demoVisit(t)
	uploader := ts.signIn(t, "cafcass", "uploader@cafcass.example")
	hmi := ts.signIn(t, "ofsted", "hmi@ofsted.example")

	// Kill clamd once 8 MiB of a 48 MiB upload have gone through.
	const size = 48 << 20
	data := evidenceBytes(5, size)
	pr, pw := io.Pipe()
	go func() {
		pw.Write(data[:8<<20])
		ts.Clamd.Kill()
		pw.Write(data[8<<20:])
		pw.Close()
	}()
	waiting := decode[fileResp](t, uploader.upload(v.ID, "1.02 Allocation.pdf", pr, size), http.StatusCreated)
	if waiting.Scan != "scanning" || waiting.SHA256 != fmt.Sprintf("%x", sha256.Sum256(data)) {
		t.Fatalf("upload while the scanner died: %+v", waiting)
	}
	// Another while it is down, infected.
	bad := uploader.uploadItem(v.ID, "1.02 Flowchart.txt", "", devstack.EICAR())
	if bad.Scan != "scanning" {
		t.Fatalf("upload while the scanner is down: %+v", bad)
	}
	if _, seen := hmi.listScans(v.ID)[waiting.ID]; seen {
		t.Fatal("the inspection team sees a file being checked")
	}
	// Nor counts it: item 1.02 holds only files being checked, and is
	// not received for them (before, the information request said
	// "received", 2 files, of files they could not see). The uploader
	// counts them.
	if it := hmi.request(v.ID)["1.02"]; it.Files != 0 || it.Status == "received" {
		t.Errorf("the inspection team's information request, item 1.02 of files being checked: %+v, want no files and not received", it)
	}
	if it := uploader.request(v.ID)["1.02"]; it.Files != 2 || it.Status != "received" {
		t.Errorf("the uploader's information request, item 1.02 of files being checked: %+v, want 2 files, received", it)
	}
	if code, ecode, _ := uploader.download(v.ID, waiting.ID); code != http.StatusLocked || ecode != "scanning" {
		t.Fatalf("download of a file being checked: %d %s", code, ecode)
	}
	if page := readAll(t, uploader.get("/visits/"+v.ID)); !strings.Contains(page, "This file is being checked for malware") {
		t.Fatal("the uploader's page does not say the file is being checked")
	}
	ready := waitReady(t, ts, func(r readiness) bool { return r.Degraded["scanner:clamd"] != "" })
	if !ready.Ready {
		t.Fatalf("readiness with the scanner down: %+v", ready)
	}
	// /readyz answers anyone: where the scanner is, is for the log
	// ("malware scanner unreachable", with its address).
	if addr := ts.Config.ClamdAddr; addr == "" || strings.Contains(ready.Degraded["scanner:clamd"], addr) {
		t.Errorf("readiness names the scanner's address (%q): %s", addr, ready.Degraded["scanner:clamd"])
	}

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := ts.Clamd.Restart(ctx); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(time.Minute)
	for {
		files := uploader.listScans(v.ID)
		if files[waiting.ID].Scan == "clean" && files[bad.ID].Scan == "infected" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("files not scanned after the scanner came back: %+v", files)
		}
		time.Sleep(200 * time.Millisecond)
	}
	if code, _, body := hmi.download(v.ID, waiting.ID); code != http.StatusOK || !bytes.Equal(body, data) {
		t.Fatalf("the inspector downloads the file scanned late: %d", code)
	}
	if _, seen := hmi.listScans(v.ID)[bad.ID]; seen {
		t.Fatal("the inspection team sees the infected file")
	}
	waitReady(t, ts, func(r readiness) bool { return r.Degraded["scanner:clamd"] == "" })
}

// TestScanningOff stores files unscanned, and every file page says so.
func TestScanningOff(t *testing.T) {
	ts := startStackWith(t, map[string]string{"PORTAL_SCAN": "off"})
	if ts.Clamd != nil {
		t.Fatal("a clamd was started with scanning off")
	}
	v := ts.demoVisit(t)
	uploader := ts.signIn(t, "cafcass", "uploader@cafcass.example")
	f := uploader.uploadItem(v.ID, "1.01 Structure.pdf", "", []byte("structure"))
	if f.Scan != "unscanned" {
		t.Fatalf("upload with scanning off: %+v", f)
	}
	page := readAll(t, uploader.get("/visits/"+v.ID))
	if !strings.Contains(page, "not scanned for malware: scanning is turned off") || !strings.Contains(page, "This file was not scanned for malware.") {
		t.Fatal("the page does not say the files are not scanned")
	}
	if code, _, _ := uploader.download(v.ID, f.ID); code != http.StatusOK {
		t.Fatalf("download with scanning off: %d", code)
	}
	r := waitReady(t, ts, func(readiness) bool { return true })
	if _, ok := r.Degraded["scanner:clamd"]; ok {
		t.Fatalf("readiness names the scanner with scanning off: %+v", r)
	}
}

type readiness struct {
	Ready    bool              `json:"ready"`
	Degraded map[string]string `json:"degraded"`
}

// waitReady polls /readyz (always 200 here) until ok holds.
func waitReady(t *testing.T, ts *testStack, ok func(readiness) bool) readiness {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get(ts.PortalURL + "/readyz")
		if err != nil {
			t.Fatal(err)
		}
		var r readiness
		json.NewDecoder(resp.Body).Decode(&r)
		resp.Body.Close()
		if resp.StatusCode == http.StatusOK && ok(r) {
			return r
		}
		if time.Now().After(deadline) {
			t.Fatalf("/readyz: %d %+v", resp.StatusCode, r)
		}
		time.Sleep(300 * time.Millisecond)
	}
}

// TestArchivesClamdCannotRead: a zip clamd cannot look inside (encrypted
// with a password, sent as a plain upload; nested past clamd's
// MaxRecursion, sent resumably) holding the test signature is never
// filed as clean: it is kept from the inspection team, downloaded by
// nobody, and audited with what clamd reported.
func TestArchivesClamdCannotRead(t *testing.T) {
	ts := startStack(t)
	needScanner(t, ts)
	v := ts.demoVisit(t)
	uploader := ts.signIn(t, "cafcass", "uploader@cafcass.example")
	hmi := ts.signIn(t, "ofsted", "hmi@ofsted.example")
	lead := ts.signIn(t, "ofsted", "lead@ofsted.example")
	eicar := devstack.EICAR()
	encrypted, err := devstack.EncryptedZip("chronology.txt", eicar, "school2026")
	if err != nil {
		t.Fatal(err)
	}
	nested, err := devstack.NestedZip("chronology.txt", eicar, 20)
	if err != nil {
		t.Fatal(err)
	}
	sigs := map[string]string{} // file id -> what clamd reports
	plain := uploader.uploadItem(v.ID, "1.03 returns.zip", "", encrypted)
	sigs[plain.ID] = "Heuristics.Encrypted.Zip"
	tusID, verdict := uploader.tusWhole(v.ID, "1.03 archive.zip", nested)
	sigs[tusID] = "Heuristics.Limits.Exceeded.MaxRecursion"
	// The resumable upload's answer says why, so that the upload page
	// does not tell the uploader malware was found.
	if plain.Scan != "infected" || verdict != "infected (unreadable)" {
		t.Fatalf("encrypted zip: %+v; nested zips: Evidence-Scan %q", plain, verdict)
	}
	files := uploader.listScans(v.ID)
	for id, sig := range sigs {
		if f := files[id]; f.Scan != "infected" || f.ScanSignature != sig {
			t.Fatalf("as the uploader sees it: %+v; want %s", f, sig)
		}
		if code, _, _ := hmi.download(v.ID, id); code == http.StatusOK || code >= 500 {
			t.Fatalf("%s served to the inspector: %d", sig, code)
		}
		if _, seen := hmi.listScans(v.ID)[id]; seen {
			t.Fatalf("the inspector sees the file reported %s", sig)
		}
	}
	// The uploader is told the scanner could not look inside, not that
	// the file holds malware, and what to do.
	page := readAll(t, uploader.get("/visits/"+v.ID))
	for _, sig := range sigs {
		if !strings.Contains(page, "The malware scanner could not look inside this file ("+sig+")") || strings.Contains(page, "This file contains malware ("+sig) {
			t.Fatalf("the uploader's page does not say the scanner could not look inside the file (%s)", sig)
		}
	}
	if code, ecode, body := uploader.download(v.ID, plain.ID); code != http.StatusForbidden || ecode != "infected" || !strings.Contains(string(body), "could not look inside") {
		t.Fatalf("the uploader downloads the encrypted zip: %d %s %s", code, ecode, body)
	}
	audit := readAll(t, lead.get("/api/v1/visits/"+v.ID+"/audit?format=csv"))
	for id, sig := range sigs {
		found := false
		for _, line := range strings.Split(audit, "\n") {
			found = found || strings.Contains(line, "file.infected") && strings.Contains(line, id) && strings.Contains(line, sig)
		}
		if !found {
			t.Fatalf("no file.infected record with %s", sig)
		}
	}
}

// TestScanWorkerGetsPastRefusedFiles: files clamd refuses every time
// (longer than its StreamMaxLength, here 1K) wait as being checked, and
// more of them than the worker takes in one go do not keep it from a file
// that waits behind them: uploaded while clamd was down, that file is
// scanned once clamd is back.
func TestScanWorkerGetsPastRefusedFiles(t *testing.T) {
	ts := startStackSetup(t, func(o *devstack.Options) {
		o.Env = map[string]string{"PORTAL_SCAN_RETRY": "1s"}
		o.ClamdStreamMaxLength = "1K"
	})
	needScanner(t, ts)
	v := ts.demoVisit(t)
	uploader := ts.signIn(t, "cafcass", "uploader@cafcass.example")
	for i := range 101 {
		if f := uploader.uploadItem(v.ID, fmt.Sprintf("1.02 Minutes %03d.pdf", i), "", evidenceBytes(byte(i), 2048)); f.Scan != "scanning" {
			t.Fatalf("a file longer than StreamMaxLength: %+v", f)
		}
	}
	ts.Clamd.Stop()
	late := uploader.uploadItem(v.ID, "1.02 Note.txt", "", []byte("a short note"))
	if late.Scan != "scanning" {
		t.Fatalf("upload while the scanner is down: %+v", late)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := ts.Clamd.Restart(ctx); err != nil {
		t.Fatal(err)
	}
	scanOf := func(id string) string {
		l := decode[struct {
			Files []fileResp `json:"files"`
		}](t, uploader.get("/api/v1/visits/"+v.ID+"/files?limit=1000"), http.StatusOK)
		for _, f := range l.Files {
			if f.ID == id {
				return f.Scan
			}
		}
		return "missing"
	}
	deadline := time.Now().Add(20 * time.Second)
	for scanOf(late.ID) != "clean" {
		if time.Now().After(deadline) {
			t.Fatalf("a file behind 101 that clamd refuses is still %q 20s after clamd came back", scanOf(late.ID))
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// TestRefusedFileBacksOff: a file clamd refuses every time (longer than its
// StreamMaxLength) is not read from the store, decrypted and sent again
// every PORTAL_SCAN_RETRY for ever: the tries back off, doubling, so a
// large file misconfigured clamd will not take does not load the store and
// the scanner all day.
func TestRefusedFileBacksOff(t *testing.T) {
	waitsMostly(t)
	ts := startStackSetup(t, func(o *devstack.Options) {
		o.Env = map[string]string{"PORTAL_SCAN_RETRY": "1s"}
		o.ClamdStreamMaxLength = "1K"
	})
	needScanner(t, ts)
	v := ts.demoVisit(t)
	uploader := ts.signIn(t, "cafcass", "uploader@cafcass.example")
	f := uploader.uploadItem(v.ID, "1.02 Minutes.pdf", "", evidenceBytes(7, 4096))
	if f.Scan != "scanning" {
		t.Fatalf("a file longer than StreamMaxLength: %+v", f)
	}
	start := strings.Count(ts.log.String(), `"file still waiting for a scan"`)
	time.Sleep(15 * time.Second)
	// Every second for 15 s is 15 tries; doubling from a second, 4.
	if tries := strings.Count(ts.log.String(), `"file still waiting for a scan"`) - start; tries > 6 {
		t.Fatalf("a file clamd refuses was sent to it %d times in 15s at a retry of 1s; want the tries to back off", tries)
	}
	// A scanner that goes and comes back (an operator mending clamd's
	// settings) has the refused file tried again at once, not at the end
	// of its back-off: from just after a try, at least 8 s away.
	tried := func() int { return strings.Count(ts.log.String(), `"file still waiting for a scan"`) }
	last := tried()
	deadline := time.Now().Add(20 * time.Second)
	for tried() == last {
		if time.Now().After(deadline) {
			t.Fatal("the refused file was not tried again in 20s")
		}
		time.Sleep(100 * time.Millisecond)
	}
	ts.Clamd.Stop()
	deadline = time.Now().Add(10 * time.Second)
	for !strings.Contains(ts.log.String(), "malware scanner unreachable") {
		if time.Now().After(deadline) {
			t.Fatal("the portal did not notice clamd stop")
		}
		time.Sleep(100 * time.Millisecond)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := ts.Clamd.Restart(ctx); err != nil {
		t.Fatal(err)
	}
	back := tried()
	deadline = time.Now().Add(4 * time.Second)
	for tried() == back {
		if time.Now().After(deadline) {
			t.Fatal("the refused file was not tried again within 4s of clamd coming back")
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestScanningOffReleasesNothing: an instance started with scanning off
// (a configuration left behind in a rolling change, say) does not serve
// the files other instances hold back for the scanner: they wait, unseen
// by the inspection team, until clamd clears them or an operator releases
// them with portal scan release, which the audit trail records.
func TestScanningOffReleasesNothing(t *testing.T) {
	ts := startStackWith(t, map[string]string{"PORTAL_SCAN_RETRY": "1s"})
	needScanner(t, ts)
	v := ts.demoVisit(t)
	uploader := ts.signIn(t, "cafcass", "uploader@cafcass.example")
	hmi := ts.signIn(t, "ofsted", "hmi@ofsted.example")
	ts.Clamd.Stop()
	f := uploader.uploadItem(v.ID, "1.02 Flowchart.txt", "", devstack.EICAR())
	if f.Scan != "scanning" {
		t.Fatalf("upload while the scanner is down: %+v", f)
	}
	ctx := context.Background()
	cfg := ts.Config
	ts.Config.Scan = portal.ScanOff
	off, err := ts.StartInstance(ctx)
	ts.Config = cfg
	if err != nil {
		t.Fatal(err)
	}
	defer off.Stop()
	time.Sleep(3 * time.Second) // three rounds of its worker
	if code, _, _ := hmi.download(v.ID, f.ID); code == http.StatusOK {
		t.Fatal("an instance with scanning off released a file held for the scanner: the inspector downloaded it")
	}
	if got := uploader.listScans(v.ID)[f.ID].Scan; got != "scanning" {
		t.Fatalf("the file held for the scanner is %q after an instance with scanning off ran", got)
	}
	// Nor does it serve what is uploaded through it while another
	// instance requires scanning: the upload waits for the scanner, as
	// it would there. Before, it was stored "unscanned", and the
	// inspector downloaded the EICAR file at once.
	req, _ := http.NewRequest(http.MethodPost, off.URL+"/api/v1/visits/"+v.ID+"/files?name=1.02+Through+the+off+instance.txt", bytes.NewReader(devstack.EICAR()))
	resp := uploader.do(req)
	var through fileResp
	if err := json.Unmarshal([]byte(readAll(t, resp)), &through); err != nil || resp.StatusCode != http.StatusCreated {
		t.Fatalf("upload through the instance with scanning off: %d %v", resp.StatusCode, err)
	}
	if through.Scan != "scanning" {
		t.Errorf("an upload through an instance with scanning off, while another requires it, is %q: want it held for the scanner", through.Scan)
	}
	if code, _, _ := hmi.download(v.ID, through.ID); code == http.StatusOK {
		t.Error("the inspector downloaded a file uploaded unscanned through an instance with scanning off, while another required scanning")
	}
	// The operator's release, file by file, audited.
	n, err := off.Portal.ReleaseWaiting(ctx, portal.OperatorActor("op", "scan release"), f.ID)
	if err != nil || n != 1 {
		t.Fatalf("release: %d %v", n, err)
	}
	if got := uploader.listScans(v.ID)[f.ID].Scan; got != "unscanned" {
		t.Fatalf("released: %q", got)
	}
	lead := ts.signIn(t, "ofsted", "lead@ofsted.example")
	audit := readAll(t, lead.get("/api/v1/visits/"+v.ID+"/audit?format=csv"))
	if !strings.Contains(audit, "file.scan_released") || !strings.Contains(audit, "operator:op") {
		t.Fatalf("the release is not in the audit trail:\n%s", audit)
	}
	if n, err := off.Portal.ReleaseWaiting(ctx, portal.OperatorActor("op", "scan release"), f.ID); err == nil || n != 0 {
		t.Fatalf("releasing a file no longer waiting: %d %v", n, err)
	}
}

// TestTooLargeToScanIsSaid: a file larger than the scanner checks (2 GiB)
// waits for an administrator's release, never for a verdict: its
// uploader is told so on the visit's page and when they try to download
// it, with what to do. Before, it read "being checked" for good.
func TestTooLargeToScanIsSaid(t *testing.T) {
	ts := startStack(t)
	needScanner(t, ts)
	v := ts.demoVisit(t)
	uploader := ts.signIn(t, "cafcass", "uploader@cafcass.example")
	ts.Clamd.Stop()
	f := uploader.uploadItem(v.ID, "1.02 Recording.mp4", "", []byte("a recording"))
	if f.Scan != "scanning" {
		t.Fatalf("upload while the scanner is down: %+v", f)
	}
	// As a file over 2 GiB is stored (its size alone differs here).
	if _, err := ts.Portal.Store().DB().Exec(`UPDATE files SET size = ? WHERE id = ?`, int64(3)<<30, f.ID); err != nil {
		t.Fatal(err)
	}
	page := readAll(t, uploader.get("/visits/"+v.ID))
	if !strings.Contains(page, "Too large to check") || strings.Contains(page, "This file is being checked for malware") {
		t.Errorf("the visit page does not say the file is too large to check")
	}
	code, _, body := uploader.download(v.ID, f.ID)
	if code != http.StatusLocked || !bytes.Contains(body, []byte("larger than the malware scanner can check")) {
		t.Errorf("download of a file too large to check: %d %s", code, body)
	}
}
