package web_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// TestQuestionFormsKeepWhatWasTyped: a question or an answer that is
// refused (empty, or longer than the limit) is shown again on its own
// page, in the GOV.UK way: "Error: " in the title, the error summary
// linking to the text box, the message by it, and the text as typed in
// that box only. Before, the refusal was the error page: what was typed
// was gone.
func TestQuestionFormsKeepWhatWasTyped(t *testing.T) {
	ts := startStack(t)
	v := ts.demoVisit(t)
	hmi := ts.signIn(t, "ofsted", "hmi@ofsted.example")
	page := "/visits/" + v.ID + "/questions"
	long := strings.Repeat("Why is the chart of the teams late again ", 50) // 2,100 characters

	// Asked on an item's page: the item's page again.
	s, body := hmi.submitForm(page, url.Values{"item": {"1.01"}, "text": {long}})
	if s != http.StatusBadRequest {
		t.Fatalf("a question too long: %d, want 400 with the form", s)
	}
	mustContain(t, "a question too long", body, "<title>Error: Questions on item 1.01", "govuk-error-summary", `href="#ask-text"`,
		`id="ask-text-error"`, "Keep it to 2000 characters", ">"+long+"</textarea>", `name="item" value="1.01"`)
	// Asked from the page of every question, with the item chosen there.
	s, body = hmi.submitForm(page, url.Values{"item": {"1.02"}, "text": {"  "}, "page": {"all"}})
	if s != http.StatusBadRequest {
		t.Fatalf("an empty question: %d, want 400 with the form", s)
	}
	mustContain(t, "an empty question", body, "<title>Error: Questions and answers", `href="#ask-text"`, "Write a question or an answer.",
		`<option value="1.02" selected>`)

	// An answer: the thread's page, the text in that thread's box.
	q := decode[threadResp](t, hmi.sendJSON("POST", "/api/v1/visits/"+v.ID+"/questions", map[string]string{"item": "1.01", "text": "Where is the chart?"}), http.StatusCreated)
	s, body = hmi.submitForm(page+"/"+q.ID+"/posts", url.Values{"text": {long}})
	if s != http.StatusBadRequest {
		t.Fatalf("an answer too long: %d, want 400 with the form", s)
	}
	mustContain(t, "an answer too long", body, "<title>Error: Questions on item 1.01", `href="#reply-`+q.ID+`"`, `id="reply-`+q.ID+`-error"`,
		`name="text" rows="3" aria-describedby="reply-`+q.ID+`-hint reply-`+q.ID+`-error">`+long+"</textarea>")
	if strings.Count(body, long) != 1 {
		t.Fatalf("the answer as typed is in %d boxes, want the thread's only", strings.Count(body, long))
	}
}

// TestMarkAnsweredKeepsTheAnswerTyped: "Mark as answered" sends the box of
// its thread too: an answer typed there is posted before the thread is
// closed, not dropped; one refused is shown in the box on the thread's
// page, the thread left open; and marking a thread already closed (in
// another tab) is said on the thread's page. Before, the text was dropped
// without a word, and a thread already answered gave the error page.
func TestMarkAnsweredKeepsTheAnswerTyped(t *testing.T) {
	ts := startStack(t)
	v := ts.demoVisit(t)
	hmi := ts.signIn(t, "ofsted", "hmi@ofsted.example")
	coordinator := ts.signIn(t, "cafcass", "coordinator@cafcass.example")
	q := decode[threadResp](t, hmi.sendJSON("POST", "/api/v1/visits/"+v.ID+"/questions", map[string]string{"item": "1.01", "text": "Where is the chart?"}), http.StatusCreated)
	answered := "/visits/" + v.ID + "/questions/" + q.ID + "/answered"
	long := strings.Repeat("It is filed under 1.01 now. ", 80) // 2,240 characters
	s, body := coordinator.submitForm(answered, url.Values{"text": {long}})
	if s != http.StatusBadRequest {
		t.Fatalf("mark as answered with an answer too long: %d, want 400", s)
	}
	mustContain(t, "an answer too long", body, "<title>Error: Questions on item 1.01", `href="#reply-`+q.ID+`"`, long+"</textarea>")
	if got := coordinator.threads(v.ID, "?item=1.01"); len(got) != 1 || !got[0].Open || len(got[0].Posts) != 1 {
		t.Fatalf("after an answer too long: %+v, want the thread open with its question only", got)
	}
	if s, _ := coordinator.submitForm(answered, url.Values{"text": {"It is filed under 1.01 now."}}); s != http.StatusOK {
		t.Fatalf("mark as answered with an answer typed: %d", s)
	}
	got := coordinator.threads(v.ID, "?item=1.01")
	if len(got) != 1 || got[0].Open || len(got[0].Posts) != 2 || got[0].Posts[1].Text != "It is filed under 1.01 now." {
		t.Fatalf("after marking answered with an answer typed: %+v, want the answer posted and the thread closed", got)
	}
	s, body = hmi.submitForm(answered, nil)
	if s != http.StatusConflict {
		t.Fatalf("mark as answered again: %d, want 409 on the thread's page", s)
	}
	mustContain(t, "marked answered again", body, "<title>Error: Questions on item 1.01", "already marked answered")
}

// TestQuestionWithControlCharactersRefused: a question holding a control
// character (an escape) or a text-direction override, which would show the
// other side a text that reads otherwise than it is, is refused by its box
// and kept, as a title or a reason is; its lines are taken. Before, all
// but a NUL was stored and shown.
func TestQuestionWithControlCharactersRefused(t *testing.T) {
	ts := startStack(t)
	v := ts.demoVisit(t)
	hmi := ts.signIn(t, "ofsted", "hmi@ofsted.example")
	page := "/visits/" + v.ID + "/questions"
	for _, text := range []string{"Where is the \x1b[2Jchart?", "Is the total \u202E0001\u202C right?"} {
		s, body := hmi.submitForm(page, url.Values{"item": {"1.01"}, "text": {text}})
		if s != http.StatusBadRequest {
			t.Errorf("a question %q: %d, want 400", text, s)
			continue
		}
		mustContain(t, "a question with a control character", body, `href="#ask-text"`, "control characters")
	}
	if s, _ := hmi.submitForm(page, url.Values{"item": {"1.01"}, "text": {"Where is the chart?\r\n\tAnd the team plan?"}}); s != http.StatusOK {
		t.Fatalf("a question on two lines: %d", s)
	}
}

// TestQuestionsOnARemovedItemStayOpen: an item taken out of the
// information request keeps its threads (they are the visit's record, and
// one may still wait for an answer), so their page opens, an answer is
// posted and one refused is shown again with what was typed. A new
// question on that item is refused: it is no longer asked for. Before,
// the page of the item's threads was 404, and so was every answer sent
// from it, what was typed lost.
func TestQuestionsOnARemovedItemStayOpen(t *testing.T) {
	ts := startStack(t)
	v := ts.demoVisit(t)
	lead := ts.signIn(t, "ofsted", "lead@ofsted.example")
	hmi := ts.signIn(t, "ofsted", "hmi@ofsted.example")
	coordinator := ts.signIn(t, "cafcass", "coordinator@cafcass.example")
	decode[requestItemResp](t, lead.sendJSON("POST", "/api/v1/visits/"+v.ID+"/request", map[string]string{"kind": "annex_a", "code": "1.06", "title": "Quality assurance framework"}), http.StatusCreated)
	q := decode[threadResp](t, hmi.sendJSON("POST", "/api/v1/visits/"+v.ID+"/questions", map[string]string{"item": "1.06", "text": "Which edition is current?"}), http.StatusCreated)
	if s := lead.status("DELETE", "/api/v1/visits/"+v.ID+"/request/1.06", nil); s != http.StatusNoContent {
		t.Fatalf("removing 1.06: %d", s)
	}
	page := "/visits/" + v.ID + "/questions"
	resp := coordinator.get(page + "?item=1.06")
	body := readAll(t, resp)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("the page of a removed item's threads: %d, want 200", resp.StatusCode)
	}
	mustContain(t, "the page of a removed item's threads", body, "Which edition is current?")
	s, body := coordinator.submitForm(page+"/"+q.ID+"/posts", url.Values{"text": {"  "}})
	if s != http.StatusBadRequest {
		t.Fatalf("an empty answer on a removed item's thread: %d, want 400 with the form", s)
	}
	mustContain(t, "an empty answer", body, "<title>Error: Questions on item 1.06", "Write a question or an answer.")
	s, body = coordinator.submitForm(page+"/"+q.ID+"/posts", url.Values{"text": {"The 2026 edition, filed under 1.01."}})
	if s != http.StatusOK {
		t.Fatalf("an answer on a removed item's thread: %d, want the thread's page", s)
	}
	mustContain(t, "the thread after the answer", body, "Which edition is current?", "The 2026 edition, filed under 1.01.")
	if s := hmi.status("POST", "/api/v1/visits/"+v.ID+"/questions", map[string]string{"item": "1.06", "text": "And the audits?"}); s != http.StatusBadRequest {
		t.Errorf("a new question on a removed item: %d, want 400", s)
	}
}

// TestAnswerOnAFilesThreadKeepsWhatWasTyped: an answer refused in a
// thread on a file filed under an item is shown again on that file's
// page of threads with the text as typed, as one on an item's thread is.
// Before, the page was asked for the item and the file at once: 404, the
// text lost.
func TestAnswerOnAFilesThreadKeepsWhatWasTyped(t *testing.T) {
	ts := startStack(t)
	v := ts.demoVisit(t)
	uploader := ts.signIn(t, "cafcass", "uploader@cafcass.example")
	hmi := ts.signIn(t, "ofsted", "hmi@ofsted.example")
	coordinator := ts.signIn(t, "cafcass", "coordinator@cafcass.example")
	f := uploader.uploadItem(v.ID, "1.03 MI report.xlsx", "", []byte("mi"))
	q := decode[threadResp](t, hmi.sendJSON("POST", "/api/v1/visits/"+v.ID+"/questions", map[string]string{"file": f.ID, "text": "Is this the latest?"}), http.StatusCreated)
	page := "/visits/" + v.ID + "/questions/" + q.ID
	long := strings.Repeat("It is the report for the quarter. ", 70) // 2,380 characters
	for _, form := range []string{"/posts", "/answered"} {
		s, body := coordinator.submitForm(page+form, url.Values{"text": {long}})
		if s != http.StatusBadRequest {
			t.Fatalf("%s with an answer too long in a file's thread: %d, want 400 with the form", form, s)
		}
		mustContain(t, form+" with an answer too long", body, "<title>Error: Questions on", "1.03 MI report.xlsx", long+"</textarea>")
	}
}
