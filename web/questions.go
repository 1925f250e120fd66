package web

import (
	"net/http"
	"net/url"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/ofsted-portal/evidence/policy"
	"github.com/ofsted-portal/evidence/portal"
)

// Questions and answers on items and files: the JSON API, the page of one
// item's or file's threads, its forms, and the visit page's part.

func (s *Server) listQuestions(c *gin.Context) {
	out, err := accessOf(c).Questions(c.Request.Context(), portal.QuestionQuery{Item: c.Query("item"), FileID: c.Query("file"), Open: c.Query("open") == "true"})
	if err != nil {
		s.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, gin.H{"questions": out})
}

func (s *Server) askQuestion(c *gin.Context) {
	var in portal.QuestionInput
	if !s.bindJSON(c, &in, `Send {"item": "1.03", "text": "…"} or {"file": "…", "text": "…"}.`) {
		return
	}
	q, err := accessOf(c).Ask(c.Request.Context(), in)
	if err != nil {
		s.fail(c, err)
		return
	}
	c.JSON(http.StatusCreated, q)
}

func (s *Server) replyQuestion(c *gin.Context) {
	var in struct {
		Text string `json:"text"`
	}
	if !s.bindJSON(c, &in, `Send {"text": "…"}: the answer.`) {
		return
	}
	q, err := accessOf(c).Reply(c.Request.Context(), c.Param("question"), in.Text)
	if err != nil {
		s.fail(c, err)
		return
	}
	c.JSON(http.StatusCreated, q)
}

func (s *Server) answeredQuestion(c *gin.Context) {
	q, err := accessOf(c).MarkAnswered(c.Request.Context(), c.Param("question"))
	if err != nil {
		s.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, q)
}

// questionsPage shows the threads on an item (?item=) or a file (?file=),
// or every thread the person may see, with the forms to ask and answer.
func (s *Server) questionsPage(c *gin.Context) {
	ctx := c.Request.Context()
	acc := accessOf(c)
	item, file := c.Query("item"), c.Query("file")
	if f := formOf(c); len(f.Errors) > 0 {
		// A refused form: the page it was sent from.
		item, file = f.Value("subject-item"), f.Value("subject-file")
	}
	subject, err := acc.QuestionSubject(ctx, item, file)
	if err != nil {
		s.fail(c, err)
		return
	}
	threads, err := acc.Questions(ctx, portal.QuestionQuery{Item: item, FileID: file})
	if err != nil {
		s.fail(c, err)
		return
	}
	page := gin.H{"Visit": acc.View(ctx), "Subject": subject, "Item": item, "File": file, "Threads": threads,
		"CanAsk": acc.Can(ctx, policy.QuestionPost), "Side": acc.Side(), "Max": portal.MaxQuestionText}
	if subject == "" {
		request, err := acc.InformationRequest(ctx)
		if err != nil {
			s.fail(c, err)
			return
		}
		var askable []portal.RequestItemView
		for _, it := range request {
			if acc.CanAskOn(ctx, it.Code) {
				askable = append(askable, it)
			}
		}
		page["Request"] = askable
	}
	title := "Questions and answers"
	if subject != "" {
		title = "Questions on " + subject
	}
	s.renderNav(c, "questions", forVisit(accessOf(c), title), "visits", page)
}

// backToThreads is where a form returns: the page of the thread's item or
// file.
func backToThreads(visitID string, q portal.QuestionView) string {
	v := url.Values{}
	if q.FileID != "" {
		v.Set("file", q.FileID)
	} else {
		v.Set("item", q.Item)
	}
	return "/visits/" + visitID + "/questions?" + v.Encode() + "#q-" + q.ID
}

// askForm asks a question from the page of an item's or a file's threads
// (its hidden item or file), or from the page of every thread (page=all,
// the item chosen there). A refusal shows that page again, with the text.
func (s *Server) askForm(c *gin.Context) {
	acc := accessOf(c)
	f := postedForm(c, "item", "file")
	f.Set("ask-text", c.PostForm("text"))
	if c.PostForm("page") != "all" {
		f.Set("subject-item", f.Value("item"))
		f.Set("subject-file", f.Value("file"))
	}
	q, err := acc.Ask(c.Request.Context(), portal.QuestionInput{Item: f.Value("item"), FileID: f.Value("file"), Text: c.PostForm("text")})
	if err != nil {
		if e, ok := portal.AsError(err); ok && e.Field == "item" {
			// Not an item one may ask on here: the page of every thread,
			// where one is chosen.
			f.Set("subject-item", "")
			f.Set("subject-file", "")
		}
		s.refuse(c, f, err, map[string]string{"text": "ask-text", "item": "ask-item"}, "ask-text", s.questionsPage)
		return
	}
	c.Redirect(http.StatusSeeOther, backToThreads(acc.Visit.ID, q))
}

// replyForm answers in a thread; a refusal shows the thread's page again
// with the text in the thread's box.
func (s *Server) replyForm(c *gin.Context) {
	acc := accessOf(c)
	q, err := acc.Reply(c.Request.Context(), c.Param("question"), c.PostForm("text"))
	if err != nil {
		s.refuseInThread(c, err, c.PostForm("text"))
		return
	}
	c.Redirect(http.StatusSeeOther, backToThreads(acc.Visit.ID, q))
}

// answeredForm marks a thread answered. The button sends the thread's
// box with it: an answer typed there is posted first, not dropped.
func (s *Server) answeredForm(c *gin.Context) {
	ctx := c.Request.Context()
	acc := accessOf(c)
	if text := c.PostForm("text"); strings.TrimSpace(text) != "" {
		if _, err := acc.Reply(ctx, c.Param("question"), text); err != nil {
			s.refuseInThread(c, err, text)
			return
		}
		s.flash(c, "Your answer is posted.")
	}
	q, err := acc.MarkAnswered(ctx, c.Param("question"))
	if err != nil {
		s.refuseInThread(c, err, "") // an answer typed is posted: not to send again
		return
	}
	c.Redirect(http.StatusSeeOther, backToThreads(acc.Visit.ID, q))
}

// refuseInThread shows the page of the thread the form was sent in again,
// with err by its box and text there; an error no form can put right, or
// a thread not to be seen, gets the error page.
func (s *Server) refuseInThread(c *gin.Context, err error, text string) {
	id := c.Param("question")
	thread, terr := accessOf(c).Question(c.Request.Context(), id)
	if terr != nil || formStatus(err) == 0 {
		s.fail(c, err)
		return
	}
	box := "reply-" + id
	f := &form{}
	f.Set(box, text)
	// The page the thread is on: its file's, or its item's (a thread on
	// a file carries the file's item too).
	if thread.FileID != "" {
		f.Set("subject-file", thread.FileID)
	} else {
		f.Set("subject-item", thread.Item)
	}
	s.refuse(c, f, err, map[string]string{"text": box}, box, s.questionsPage)
}

// visitReceipts is how many receipts the visit page lists, the latest; the
// API lists them all, a page at a time.
const visitReceipts = 20

// visitQuestions adds the visit page's part: the open questions of the
// person's side, and the provider's receipts.
func (s *Server) visitQuestions(c *gin.Context, acc *portal.Access, page gin.H) error {
	ctx := c.Request.Context()
	if acc.Can(ctx, policy.QuestionView) {
		open, err := acc.Questions(ctx, portal.QuestionQuery{Open: true})
		if err != nil {
			return err
		}
		var awaiting, asked []portal.QuestionView
		for _, q := range open {
			if q.Awaits {
				awaiting = append(awaiting, q)
			} else {
				asked = append(asked, q)
			}
		}
		page["QuestionsShown"], page["QuestionsAwaiting"], page["QuestionsAsked"] = true, awaiting, asked
		page["CanAsk"] = acc.Can(ctx, policy.QuestionPost)
	}
	if acc.Can(ctx, policy.ReceiptView) {
		list, err := acc.Receipts(ctx, portal.ReceiptQuery{Limit: visitReceipts, Count: true})
		if err != nil {
			return err
		}
		page["ReceiptsShown"], page["Receipts"], page["ReceiptsTotal"] = true, list.Receipts, list.Total
	}
	return nil
}
