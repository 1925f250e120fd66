package web_test

import (
	"archive/zip"
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"
)

type requestItemResp struct {
	Code   string `json:"code"`
	Kind   string `json:"kind"`
	Title  string `json:"title"`
	Due    string `json:"due"`
	Status string `json:"status"`
	Files  int    `json:"files"`
}

func (b *browser) request(visitID string) map[string]requestItemResp {
	b.t.Helper()
	r := decode[struct {
		Items []requestItemResp `json:"items"`
	}](b.t, b.get("/api/v1/visits/"+visitID+"/request"), http.StatusOK)
	out := map[string]requestItemResp{}
	for _, it := range r.Items {
		out[it.Code] = it
	}
	return out
}

// TestInformationRequest: the default Annex A template with due dates from
// the timeline, automatic filing by name, the lead's case file requests, the
// same checklist for both sides, overdue items, and no titles in the trail.
func TestInformationRequest(t *testing.T) {
	ts := startStack(t)
	admin := ts.signIn(t, "ofsted", "admin@ofsted.example")
	v := setUpVisit(t, ts, admin, "FV-REQ-1")
	uploader := ts.signIn(t, "cafcass", "uploader@cafcass.example")
	lead := ts.signIn(t, "ofsted", "lead@ofsted.example")
	tl := decode[struct {
		Timeline struct {
			DataListsDue   string `json:"data_lists_due"`
			AnnexADue      string `json:"annex_a_due"`
			FieldworkStart string `json:"fieldwork_start"`
		} `json:"timeline"`
	}](t, lead.get("/api/v1/visits/"+v.ID), http.StatusOK).Timeline

	req := lead.request(v.ID)
	for _, code := range []string{"cld", "audits", "1.01", "1.02", "1.03", "1.04", "1.05"} {
		it, ok := req[code]
		if !ok {
			t.Fatalf("default template lacks %s: %v", code, req)
		}
		want := tl.AnnexADue
		if code == "cld" || code == "audits" {
			want = tl.DataListsDue
		}
		if it.Due != want || it.Status != "due" || it.Title == "" {
			t.Errorf("%s: %+v, want due %s", code, it, want)
		}
	}

	uploader.uploadItem(v.ID, "1.03 MI report.xlsx", "", []byte("mi"))
	uploader.uploadItem(v.ID, "Closed cases.csv", "cld", []byte("cases"))
	req = lead.request(v.ID)
	if req["1.03"].Status != "received" || req["1.03"].Files != 1 || req["cld"].Status != "received" || req["1.01"].Status != "due" {
		t.Fatalf("after uploads: %+v", req)
	}
	// The provider sees the same checklist as the lead inspector.
	if got := uploader.request(v.ID); len(got) != len(req) || got["1.03"] != req["1.03"] || got["cld"] != req["cld"] {
		t.Fatalf("provider's checklist differs: %+v vs %+v", got, req)
	}

	// The lead asks for a named child's case file; it is due at fieldwork.
	const child = "Case 4471 Jordan Whitfield"
	c := decode[requestItemResp](t, lead.sendJSON("POST", "/api/v1/visits/"+v.ID+"/request", map[string]string{"kind": "case_file", "title": child}), http.StatusCreated)
	if c.Code != "case-1" || c.Due != tl.FieldworkStart || c.Status != "due" {
		t.Fatalf("case file request: %+v", c)
	}
	uploader.uploadItem(v.ID, "case-1 Whitfield file.pdf", "", []byte("case"))
	if lead.request(v.ID)["case-1"].Status != "received" {
		t.Fatal("a case file named with its request code was not filed under it")
	}
	// An Annex A item added and edited; its due date moved.
	decode[requestItemResp](t, lead.sendJSON("POST", "/api/v1/visits/"+v.ID+"/request", map[string]string{"kind": "annex_a", "code": "1.06", "title": "Quality assurance framework"}), http.StatusCreated)
	if s := lead.status("POST", "/api/v1/visits/"+v.ID+"/request", map[string]string{"kind": "annex_a", "code": "1.06", "title": "Again"}); s != http.StatusConflict {
		t.Fatalf("adding 1.06 twice: %d", s)
	}
	ch := decode[requestItemResp](t, admin.sendJSON("PUT", "/api/v1/visits/"+v.ID+"/request/1.06", map[string]string{"title": "Quality assurance framework and audits", "due": tl.FieldworkStart}), http.StatusOK)
	if ch.Due != tl.FieldworkStart || ch.Title != "Quality assurance framework and audits" {
		t.Fatalf("changed item: %+v", ch)
	}
	for _, bad := range []map[string]string{{"kind": "annex_a", "code": "x", "title": "t"}, {"kind": "annex_a", "code": "1.07", "title": ""}, {"kind": "other", "title": "t"},
		{"kind": "annex_a", "code": "1.08", "title": "t", "due": "2026-13-01"}} {
		if s := lead.status("POST", "/api/v1/visits/"+v.ID+"/request", bad); s != http.StatusBadRequest {
			t.Errorf("%v: %d, want 400", bad, s)
		}
	}
	// Only the lead and administrators edit it.
	decode[map[string]any](t, admin.sendJSON("PUT", "/api/v1/visits/"+v.ID+"/members", map[string]string{"email": "hmi@ofsted.example", "role": "inspector"}), http.StatusCreated)
	hmi := ts.signIn(t, "ofsted", "hmi@ofsted.example")
	for _, b := range []*browser{uploader, hmi} {
		if s := b.status("DELETE", "/api/v1/visits/"+v.ID+"/request/1.06", nil); s != http.StatusForbidden {
			t.Errorf("delete by a non-lead: %d", s)
		}
	}
	if s := lead.status("DELETE", "/api/v1/visits/"+v.ID+"/request/1.06", nil); s != http.StatusNoContent {
		t.Fatalf("delete: %d", s)
	}
	if _, ok := lead.request(v.ID)["1.06"]; ok {
		t.Fatal("1.06 still listed")
	}

	// Past the Annex A due date, items without files are overdue.
	annex, _ := time.Parse(time.DateOnly, tl.AnnexADue)
	ts.offset.Add(int64(time.Until(annex) + 3*24*time.Hour))
	req = lead.request(v.ID)
	ts.offset.Store(0)
	if req["1.01"].Status != "overdue" || req["1.03"].Status != "received" {
		t.Fatalf("after the due date: 1.01 %s, 1.03 %s", req["1.01"].Status, req["1.03"].Status)
	}

	// The visit page shows the checklist; the trail never holds a title.
	page := readAll(t, uploader.get("/visits/"+v.ID))
	if !strings.Contains(page, `id="item-1.03-status"`) || !strings.Contains(page, "Received") || !strings.Contains(page, "Overdue") && !strings.Contains(page, "Due") {
		t.Fatal("the visit page lacks the checklist")
	}
	rows, err := ts.Portal.Store().DB().Query(`SELECT action, object, detail FROM audit WHERE action LIKE 'request.item%' ORDER BY seq`)
	if err != nil {
		t.Fatal(err)
	}
	var actions []string
	for rows.Next() {
		var a, o, d string
		rows.Scan(&a, &o, &d)
		actions = append(actions, a+" "+o)
		if strings.Contains(d, "Whitfield") || strings.Contains(d, "Quality") {
			t.Errorf("audit detail holds a title: %s", d)
		}
	}
	rows.Close()
	if !slices.Equal(actions, []string{"request.item_added case-1", "request.item_added 1.06", "request.item_changed 1.06", "request.item_removed 1.06"}) {
		t.Fatalf("request records: %v", actions)
	}
}

// readArchive returns the SHA-256 of every file in a zip but the manifest,
// and the manifest's text.
func readArchive(t *testing.T, files []*zip.File) (sums map[string]string, manifest string) {
	t.Helper()
	sums = map[string]string{}
	for _, f := range files {
		rc, err := f.Open()
		if err != nil {
			t.Fatal(err)
		}
		h := sha256.New()
		var m strings.Builder
		w := io.Writer(h)
		if f.Name == "manifest-sha256.txt" {
			w = &m
		}
		_, err = io.Copy(w, rc)
		rc.Close()
		if err != nil {
			t.Fatalf("%s: %v", f.Name, err)
		}
		if f.Name == "manifest-sha256.txt" {
			manifest = m.String()
		} else {
			sums[f.Name] = hex.EncodeToString(h.Sum(nil))
		}
	}
	return sums, manifest
}

// TestArchiveDownload: a zip streamed with every file's SHA-256 in a
// manifest that matches the content; policy applies per file.
func TestArchiveDownload(t *testing.T) {
	ts := startStack(t)
	admin := ts.signIn(t, "ofsted", "admin@ofsted.example")
	v := setUpVisit(t, ts, admin, "FV-ZIP-1")
	decode[map[string]any](t, admin.sendJSON("PUT", "/api/v1/visits/"+v.ID+"/members", map[string]string{"email": "hmi@ofsted.example", "role": "inspector"}), http.StatusCreated)
	uploader := ts.signIn(t, "cafcass", "uploader@cafcass.example")
	lead := ts.signIn(t, "ofsted", "lead@ofsted.example")
	hmi := ts.signIn(t, "ofsted", "hmi@ofsted.example")

	big := evidenceBytes(7, 40<<20) // two segments
	a := decode[fileResp](t, uploader.upload(v.ID, "1.01 Structure.pdf", bytes.NewReader(big), int64(len(big))), http.StatusCreated)
	// A second file of the same name in the item is kept beside the first
	// only when the upload asks for it.
	var b fileResp
	status, sent := uploader.uploadTo(v.ID, url.Values{"name": {"1.01 Structure.pdf"}, "on_conflict": {"rename"}}, []byte("a second file with the same name"))
	if decodeString(t, sent, &b); status != http.StatusCreated || b.Name != "1.01 Structure (2).pdf" {
		t.Fatalf("a second file of the name: %d %s", status, sent)
	}
	c := uploader.uploadItem(v.ID, "1.03 MI.xlsx", "", []byte("mi"))
	cld := uploader.uploadItem(v.ID, "Closed cases.csv", "cld", []byte("child-level data"))

	get := func(br *browser, query string) (*http.Response, []byte) {
		resp := br.get("/api/v1/visits/" + v.ID + "/archive?" + query)
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		return resp, body
	}
	resp, body := get(lead, "item=1.01&file="+c.ID+"&file="+cld.ID)
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "application/zip" || !strings.Contains(resp.Header.Get("Content-Disposition"), "FV-ZIP-1") {
		t.Fatalf("archive: %d %v", resp.StatusCode, resp.Header)
	}
	zr, err := zip.NewReader(bytes.NewReader(body), int64(len(body)))
	if err != nil {
		t.Fatal(err)
	}
	content, manifest := readArchive(t, zr.File)
	want := map[string]string{"1.01/1.01 Structure.pdf": a.SHA256, "1.01/1.01 Structure (2).pdf": b.SHA256, "1.03/1.03 MI.xlsx": c.SHA256, "cld/Closed cases.csv": cld.SHA256}
	if len(content) != len(want) {
		t.Fatalf("archive holds %v", content)
	}
	for name, sum := range want {
		if content[name] != sum {
			t.Errorf("%s: sha256 %s, want %s", name, content[name], sum)
		}
	}
	sc := bufio.NewScanner(strings.NewReader(manifest))
	lines := 0
	for sc.Scan() {
		sum, name, ok := strings.Cut(sc.Text(), "  ")
		if !ok || want[name] != sum || content[name] != sum {
			t.Errorf("manifest line %q does not match the file", sc.Text())
		}
		lines++
	}
	if lines != len(want) {
		t.Fatalf("manifest has %d lines:\n%s", lines, manifest)
	}
	var records int
	ts.Portal.Store().DB().QueryRow(`SELECT COUNT(*) FROM audit WHERE action = 'file.download' AND detail LIKE '%"archive":true%'`).Scan(&records)
	if records != 4 {
		t.Fatalf("%d download records for 4 archived files", records)
	}

	// The inspector may not see child-level data: asked by item it is left
	// out, asked by id the whole request is refused.
	resp, body = get(hmi, "item=cld&item=1.03")
	zr, err = zip.NewReader(bytes.NewReader(body), int64(len(body)))
	if resp.StatusCode != http.StatusOK || err != nil {
		t.Fatalf("inspector's archive: %d %v", resp.StatusCode, err)
	}
	for _, f := range zr.File {
		if strings.HasPrefix(f.Name, "cld/") {
			t.Fatalf("the inspector's archive holds %s", f.Name)
		}
	}
	if resp, _ := get(hmi, "file="+cld.ID); resp.StatusCode != http.StatusNotFound {
		t.Fatalf("inspector asking for a restricted file: %d", resp.StatusCode)
	}
	if resp, _ := get(hmi, "item=cld"); resp.StatusCode != http.StatusNotFound {
		t.Fatalf("inspector asking only for a restricted item: %d", resp.StatusCode)
	}
	if resp, _ := get(uploader, "item=1.01"); resp.StatusCode != http.StatusForbidden {
		t.Fatalf("uploader asking for an archive: %d", resp.StatusCode)
	}
	if resp, _ := get(lead, ""); resp.StatusCode != http.StatusBadRequest {
		t.Fatalf("an empty choice: %d", resp.StatusCode)
	}
}
