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
