package web

import (
	"net/http"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/ofsted-portal/evidence/policy"
	"github.com/ofsted-portal/evidence/portal"
	"github.com/ofsted-portal/evidence/portal/retention"
)

// The visit's life on pages: letter events and the legal hold on the visit
// page, and the record a destroyed visit keeps.

// letterEvent is a letter event as the form offers it.
type letterEvent struct{ Code, Label, Hint string }

var letterEvents = []letterEvent{
	{retention.DraftSent, "Draft letter sent to the provider", "Usually 10 working days after fieldwork ends"},
	{retention.FinalSent, "Final letter sent", "After the draft letter; usually 22 working days after fieldwork"},
	{retention.ComplaintReceived, "Complaint received", "Up to 5 working days after the final letter is sent; publication stops until the complaint is resolved"},
	{retention.ComplaintResolved, "Complaint resolved", ""},
	{retention.Published, "Letter published", "From the day after the provider's 5 working days to complain; evidence is destroyed once the retention period after publication has passed"},
}

// eventLabel is a letter event in words.
func eventLabel(code string) string {
	for _, e := range letterEvents {
		if e.Code == code {
			return e.Label
		}
	}
	return code
}

// visitLife is what the visit page offers of the visit's life: the forms
// for letter events and the legal hold, to those who may use them.
func visitLife(c *gin.Context, acc *portal.Access) gin.H {
	ctx := c.Request.Context()
	life := gin.H{"CanRecord": acc.Can(ctx, policy.VisitRecordEvent), "CanHold": acc.Can(ctx, policy.LegalHoldSet),
		"CanLift": acc.Can(ctx, policy.LegalHoldLift), "Events": letterEvents}
	// Administrators with no part in the visit withdraw the last event,
	// recorded in error.
	if evs := acc.Status.Events; len(evs) > 0 && acc.Can(ctx, policy.EventWithdraw) {
		life["Last"] = evs[len(evs)-1]
	}
	return life
}

// recordEventForm records a letter event from the visit page.
func (s *Server) recordEventForm(c *gin.Context) {
	acc := accessOf(c)
	f := postedForm(c, "event")
	date, dateOK := f.dateField(c.PostForm, "event_date", "The date of the event", true)
	if f.Value("event") == "" || !retention.IsEvent(f.Value("event")) {
		f.Errors = append([]fieldError{{Field: "event", Msg: "Choose the letter event to record"}}, f.Errors...)
	}
	if len(f.Errors) > 0 || !dateOK {
		s.showForm(c, f, http.StatusBadRequest, s.visitPage)
		return
	}
	if _, err := acc.RecordEvent(c.Request.Context(), f.Value("event"), date); err != nil {
		s.refuse(c, f, err, map[string]string{"date": "event_date-day", "event": "event"}, "event", s.visitPage)
		return
	}
	d, _ := time.Parse(time.DateOnly, date)
	s.flash(c, eventLabel(f.Value("event"))+": recorded on "+d.Format("2 January 2006")+".")
	c.Redirect(http.StatusSeeOther, "/visits/"+acc.Visit.ID+"#life")
}

// withdrawEventForm withdraws the last letter event from the visit page.
func (s *Server) withdrawEventForm(c *gin.Context) {
	acc := accessOf(c)
	event, date := c.PostForm("event"), c.PostForm("date")
	if _, err := acc.WithdrawEvent(c.Request.Context(), event, date); err != nil {
		// The refusal is shown by the withdrawal's own button, and what
		// it posted is not put in the form that records an event: that
		// form would show the error, with the event chosen.
		s.refuse(c, &form{}, err, nil, "withdraw-event", s.visitPage)
		return
	}
	d, _ := time.Parse(time.DateOnly, date)
	s.flash(c, eventLabel(event)+" on "+d.Format("2 January 2006")+": withdrawn. Record the right event and date.")
	c.Redirect(http.StatusSeeOther, "/visits/"+acc.Visit.ID+"#life")
}

// legalHoldForm sets or lifts the legal hold from the visit page.
func (s *Server) legalHoldForm(c *gin.Context) {
	acc := accessOf(c)
	f := postedForm(c, "on", "hold_reason")
	on := f.Value("on") == "yes"
	if f.Value("on") != "yes" && f.Value("on") != "no" {
		s.fail(c, badRequest("Choose to set or lift the legal hold."))
		return
	}
	if _, err := acc.SetLegalHold(c.Request.Context(), on, f.Value("hold_reason")); err != nil {
		s.refuse(c, f, err, map[string]string{"reason": "hold_reason"}, "hold_reason", s.visitPage)
		return
	}
	msg := "The legal hold is lifted: destruction follows the retention schedule again."
	if on {
		msg = "The legal hold is set: nothing of this visit can be destroyed, deleted or replaced until it is lifted."
	}
	s.flash(c, msg)
	c.Redirect(http.StatusSeeOther, "/visits/"+acc.Visit.ID+"#life")
}

// recordPage is what a destroyed visit keeps, for those who may see its
// certificate: reference, dates, team, letter events, the certificate and
// how to verify it, and the way to its audit trail. Anyone else, and
// anyone while the destruction is under way, gets the visit page's short
// account of it.
func (s *Server) recordPage(c *gin.Context, acc *portal.Access, vj portal.VisitView, page gin.H) {
	ctx := c.Request.Context()
	if vj.State == portal.StateDestroyed && acc.Can(ctx, policy.CertificateView) {
		rec, err := acc.DestroyedRecord(ctx)
		if err != nil {
			s.fail(c, err)
			return
		}
		page["Record"] = rec
		page["CanAudit"] = acc.Can(ctx, policy.AuditView)
		s.renderNav(c, "record", acc.Visit.Reference+" (destroyed)", "visits", page)
		return
	}
	page["CanCertificate"] = acc.Can(ctx, policy.CertificateView)
	s.renderNav(c, "visit", acc.Visit.Reference, "visits", page)
}

// downloadSelected sends the files chosen on the visit page to the zip
// download; with none chosen it says so on the visit page.
func (s *Server) downloadSelected(c *gin.Context) {
	acc := accessOf(c)
	files := c.QueryArray("file")
	if len(files) == 0 {
		f := &form{}
		f.Add("files", "Select at least one file to download, or use the link under an item to download all of its files")
		s.showForm(c, f, http.StatusBadRequest, s.visitPage)
		return
	}
	q := c.Request.URL.Query()
	c.Redirect(http.StatusSeeOther, "/api/v1/visits/"+acc.Visit.ID+"/archive?"+q.Encode())
}
