package web_test

import (
	"bytes"
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/ofsted-portal/evidence/portal/store"
)

type threadResp struct {
	ID     string `json:"id"`
	Item   string `json:"item"`
	FileID string `json:"file"`
	Side   string `json:"side"`
	Open   bool   `json:"open"`
	Awaits bool   `json:"awaits_my_side"`
	Posts  []struct {
		Side string `json:"side"`
		Text string `json:"text"`
	} `json:"posts"`
}

func (b *browser) threads(visitID, query string) []threadResp {
	b.t.Helper()
	return decode[struct {
		Questions []threadResp `json:"questions"`
	}](b.t, b.get("/api/v1/visits/"+visitID+"/questions"+query), http.StatusOK).Questions
}

func has(ts []threadResp, id string) bool {
	for _, q := range ts {
		if q.ID == id {
			return true
		}
	}
	return false
}

// TestQuestions: threads on items and files between the two sides, seen by
// exactly those who may see the item or file (restricted item, another
// uploader's file, non-members), their text sealed and never in the audit
// trail or the mail, and the other side told through the outbox.
func TestQuestions(t *testing.T) {
	ts := startStack(t)
	v := ts.demoVisit(t)
	hmi := ts.signIn(t, "ofsted", "hmi@ofsted.example")
	lead := ts.signIn(t, "ofsted", "lead@ofsted.example")
	sao := ts.signIn(t, "ofsted", "sao@ofsted.example")
	coordinator := ts.signIn(t, "cafcass", "coordinator@cafcass.example")
	uploader := ts.signIn(t, "cafcass", "uploader@cafcass.example")
	outsider := ts.signIn(t, "ofsted", "outsider@ofsted.example")
	admin := ts.signIn(t, "ofsted", "admin@ofsted.example")
	api := "/api/v1/visits/" + v.ID + "/questions"
	const secret = "Why does the 1.01 chart leave out the Midlands team?"

	q := decode[threadResp](t, hmi.sendJSON("POST", api, map[string]string{"item": "1.01", "text": secret}), http.StatusCreated)
	if q.Side != store.SideInspectorate || !q.Open || len(q.Posts) != 1 || q.Posts[0].Text != secret || q.Awaits {
		t.Fatalf("asked: %+v", q)
	}
	t.Run("answered across the two organisations", func(t *testing.T) {
		open := coordinator.threads(v.ID, "?open=true")
		if len(open) != 1 || open[0].ID != q.ID || !open[0].Awaits {
			t.Fatalf("coordinator's open questions: %+v", open)
		}
		if !has(uploader.threads(v.ID, ""), q.ID) {
			t.Error("an uploader does not see a question on an item")
		}
		r := decode[threadResp](t, coordinator.sendJSON("POST", api+"/"+q.ID+"/posts", map[string]string{"text": "It joined in October: see 1.01 v2."}), http.StatusCreated)
		if len(r.Posts) != 2 || r.Posts[1].Side != store.SideProvider {
			t.Fatalf("answer: %+v", r)
		}
		a := decode[threadResp](t, hmi.sendJSON("PUT", api+"/"+q.ID+"/answered", nil), http.StatusOK)
		if a.Open {
			t.Fatal("still open after being marked answered")
		}
		if s := coordinator.status("PUT", api+"/"+q.ID+"/answered", nil); s != http.StatusConflict {
			t.Errorf("marked answered twice: %d", s)
		}
		if open := coordinator.threads(v.ID, "?open=true"); len(open) != 0 {
			t.Errorf("answered question still open: %+v", open)
		}
		// A further question from the side that asked opens it again; an
		// answer from the other side does not.
		decode[threadResp](t, coordinator.sendJSON("POST", api+"/"+q.ID+"/posts", map[string]string{"text": "Glad to help."}), http.StatusCreated)
		if open := coordinator.threads(v.ID, "?open=true"); len(open) != 0 {
			t.Errorf("the answering side's post reopened the question: %+v", open)
		}
		again := decode[threadResp](t, hmi.sendJSON("POST", api+"/"+q.ID+"/posts", map[string]string{"text": "And for the South West?"}), http.StatusCreated)
		if !again.Open {
			t.Error("a further question from the asking side leaves the thread answered")
		}
		decode[threadResp](t, hmi.sendJSON("PUT", api+"/"+q.ID+"/answered", nil), http.StatusOK)
	})

	t.Run("a restricted item's questions only to those who may see the item", func(t *testing.T) {
		cld := decode[threadResp](t, lead.sendJSON("POST", api, map[string]string{"item": "cld", "text": "Is the date range of the list the last two weeks?"}), http.StatusCreated)
		if has(hmi.threads(v.ID, ""), cld.ID) {
			t.Fatal("an inspector sees a question on child-level data")
		}
		for _, probe := range []struct{ method, path string }{{"GET", "/visits/" + v.ID + "/questions?item=cld"}, {"PUT", api + "/" + cld.ID + "/answered"}} {
			if s := hmi.status(probe.method, probe.path, nil); s != http.StatusNotFound {
				t.Errorf("inspector %s %s: %d, want 404", probe.method, probe.path, s)
			}
		}
		if s := hmi.status("POST", api+"/"+cld.ID+"/posts", map[string]string{"text": "me too"}); s != http.StatusNotFound {
			t.Errorf("inspector answering on child-level data: %d", s)
		}
		if s := hmi.status("POST", api, map[string]string{"item": "cld", "text": "may I?"}); s != http.StatusNotFound {
			t.Errorf("inspector asking on child-level data: %d", s)
		}
		if page := readAll(t, hmi.get("/visits/"+v.ID+"/questions")); strings.Contains(page, `<option value="cld">`) || !strings.Contains(page, `<option value="1.01">`) {
			t.Error("the inspector is offered child-level data to ask about, or not the open items")
		}
		if page := readAll(t, sao.get("/visits/"+v.ID+"/questions")); !strings.Contains(page, `<option value="cld">`) {
			t.Error("the analyst is not offered child-level data to ask about")
		}
		if !has(sao.threads(v.ID, ""), cld.ID) || !has(coordinator.threads(v.ID, ""), cld.ID) || !has(uploader.threads(v.ID, ""), cld.ID) {
			t.Error("the analyst or the provider's staff do not see it")
		}
	})

	t.Run("a file's questions only to those who may see the file", func(t *testing.T) {
		theirs := coordinator.uploadItem(v.ID, "1.04 Complaints.pdf", "", []byte("complaints"))
		mine := uploader.uploadItem(v.ID, "1.02 Allocation.pdf", "", []byte("allocation"))
		onTheirs := decode[threadResp](t, hmi.sendJSON("POST", api, map[string]string{"file": theirs.ID, "text": "Which year?"}), http.StatusCreated)
		onMine := decode[threadResp](t, hmi.sendJSON("POST", api, map[string]string{"file": mine.ID, "text": "Is this the current policy?"}), http.StatusCreated)
		got := uploader.threads(v.ID, "")
		if has(got, onTheirs.ID) || !has(got, onMine.ID) {
			t.Errorf("uploader sees another's file's question %v, their own's %v", has(got, onTheirs.ID), has(got, onMine.ID))
		}
		if s := uploader.status("POST", api+"/"+onTheirs.ID+"/posts", map[string]string{"text": "2025"}); s != http.StatusNotFound {
			t.Errorf("uploader answering on another's file: %d", s)
		}
		decode[threadResp](t, uploader.sendJSON("POST", api+"/"+onMine.ID+"/posts", map[string]string{"text": "Yes, since April."}), http.StatusCreated)
		if !has(coordinator.threads(v.ID, "?file="+theirs.ID), onTheirs.ID) {
			t.Error("the coordinator does not see a question on a provider file")
		}
		page := readAll(t, uploader.get("/visits/"+v.ID+"/questions?file="+mine.ID))
		if !strings.Contains(page, "Yes, since April.") || !strings.Contains(page, "1.02 Allocation.pdf") {
			t.Error("the page of a file's questions does not show them")
		}
	})

	t.Run("members only", func(t *testing.T) {
		if s := outsider.status("GET", api, nil); s != http.StatusNotFound {
			t.Errorf("outsider: %d, want 404", s)
		}
		if s := admin.status("GET", api, nil); s != http.StatusForbidden {
			t.Errorf("administrator, not a member: %d, want 403", s)
		}
		if s := admin.status("POST", api, map[string]string{"item": "1.01", "text": "hello"}); s != http.StatusForbidden {
			t.Errorf("administrator asking: %d, want 403", s)
		}
	})

	t.Run("bad input", func(t *testing.T) {
		for _, in := range []map[string]string{{"item": "1.01", "text": "  "}, {"item": "1.01", "text": strings.Repeat("x", 2001)}, {"item": "9.99", "text": "x"}, {"text": "x"}} {
			if s := hmi.status("POST", api, in); s != http.StatusBadRequest {
				t.Errorf("%v: %d, want 400", in, s)
			}
		}
	})

	t.Run("sealed, audited by code, told without text", func(t *testing.T) {
		ctx := context.Background()
		db := ts.Portal.Store().DB()
		rows, err := db.Query(`SELECT text_sealed FROM question_posts WHERE visit_id = ?`, v.ID)
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for rows.Next() {
			var sealed []byte
			rows.Scan(&sealed)
			n++
			if bytes.Contains(sealed, []byte("Midlands")) {
				t.Error("a question is stored in plaintext")
			}
		}
		rows.Close()
		if n < 8 {
			t.Errorf("%d posts stored", n)
		}
		recs, err := ts.Portal.Store().AuditRecords(ctx, store.AuditFilter{VisitID: v.ID, Actions: []string{"question.asked", "question.replied", "question.answered"}})
		if err != nil || len(recs) < 6 {
			t.Fatalf("%d question records (%v)", len(recs), err)
		}
		for _, r := range recs {
			if strings.Contains(r.Detail, "Midlands") || strings.Contains(r.Detail, "April") || r.Object == "" {
				t.Errorf("audit record %s: %s %s", r.Action, r.Object, r.Detail)
			}
		}
		var toProvider, toTeam int
		err = db.QueryRow(`SELECT
			(SELECT COUNT(*) FROM notifications n JOIN members m ON n.recipient = 'member:' || m.id WHERE n.kind = 'questions' AND n.visit_id = ? AND m.role = 'provider_coordinator'),
			(SELECT COUNT(*) FROM notifications n JOIN members m ON n.recipient = 'member:' || m.id WHERE n.kind = 'questions' AND n.visit_id = ? AND m.role = 'lead_inspector')`,
			v.ID, v.ID).Scan(&toProvider, &toTeam)
		if err != nil {
			t.Fatal(err)
		}
		if toProvider == 0 || toTeam == 0 {
			t.Errorf("the other side is not told: %d to the coordinator, %d to the lead", toProvider, toTeam)
		}
		var leak int
		db.QueryRow(`SELECT COUNT(*) FROM notifications WHERE data LIKE '%Midlands%' OR data LIKE '%April%'`).Scan(&leak)
		if leak != 0 {
			t.Error("a notification carries a question's text")
		}
	})

	t.Run("the visit page shows the open questions of one's side", func(t *testing.T) {
		decode[threadResp](t, coordinator.sendJSON("POST", api, map[string]string{"item": "1.03", "text": "Which months do you want?"}), http.StatusCreated)
		page := readAll(t, hmi.get("/visits/"+v.ID))
		if !strings.Contains(page, `id="questions-awaiting"`) || !strings.Contains(page, "On item <span class=\"portal-code\">1.03</span>") {
			t.Error("the inspector's visit page does not show the provider's open question")
		}
		page = readAll(t, coordinator.get("/visits/"+v.ID))
		if !strings.Contains(page, `id="questions-file"`) {
			t.Error("the visit page offers no way to a file's questions")
		}
		if !strings.Contains(page, `id="questions-asked"`) {
			t.Error("the coordinator's visit page does not show the question they asked")
		}
	})
}
