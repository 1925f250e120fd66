package web

import (
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/ofsted-portal/evidence/portal"
)

func (s *Server) createVisit(c *gin.Context) {
	var req portal.NewVisit
	if !s.bindJSON(c, &req, "The request body must be a JSON object with reference, title, provider, notification_date and fieldwork_start.") {
		return
	}
	v, err := s.svc.CreateVisit(c.Request.Context(), accessOf(c).Actor, req)
	if err != nil {
		s.fail(c, err)
		return
	}
	c.JSON(http.StatusCreated, v)
}

func (s *Server) listVisits(c *gin.Context) {
	out, err := s.svc.Visits(c.Request.Context(), accessOf(c).Actor, c.Query("after"))
	if err != nil {
		s.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, out)
}

func (s *Server) getVisit(c *gin.Context) {
	c.JSON(http.StatusOK, accessOf(c).View(c.Request.Context()))
}

func (s *Server) me(c *gin.Context) {
	me, err := s.svc.Me(c.Request.Context(), accessOf(c).Actor)
	if err != nil {
		s.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, me)
}

// myActivity shows people their own recent sign-ins and downloads.
func (s *Server) myActivity(c *gin.Context) {
	out, err := s.svc.Activity(c.Request.Context(), accessOf(c).Actor)
	if err != nil {
		s.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, gin.H{"activity": out})
}

// recordEvent records a letter event, in order.
func (s *Server) recordEvent(c *gin.Context) {
	var req struct {
		Event string `json:"event"`
		Date  string `json:"date"`
	}
	if !s.bindJSON(c, &req, "Send {\"event\": one of draft_sent, final_sent, complaint_received, complaint_resolved, published, \"date\": \"YYYY-MM-DD\"}.") {
		return
	}
	v, err := accessOf(c).RecordEvent(c.Request.Context(), req.Event, req.Date)
	if err != nil {
		s.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, v)
}

// withdrawEvent withdraws the last letter event, recorded in error.
func (s *Server) withdrawEvent(c *gin.Context) {
	var req struct {
		Event string `json:"event"`
		Date  string `json:"date"`
	}
	if !s.bindJSON(c, &req, "Send {\"event\": the last letter event recorded, \"date\": its date, \"YYYY-MM-DD\"}.") {
		return
	}
	v, err := accessOf(c).WithdrawEvent(c.Request.Context(), req.Event, req.Date)
	if err != nil {
		s.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, v)
}

// setLegalHold sets or lifts a legal hold.
func (s *Server) setLegalHold(c *gin.Context) {
	var req struct {
		On     *bool  `json:"on"`
		Reason string `json:"reason"`
	}
	const hint = `Send {"on": true|false, "reason": "..."}.`
	if !s.bindJSON(c, &req, hint) {
		return
	}
	if req.On == nil {
		s.fail(c, badRequest(hint))
		return
	}
	v, err := accessOf(c).SetLegalHold(c.Request.Context(), *req.On, req.Reason)
	if err != nil {
		s.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, v)
}

// certificate serves a destroyed visit's signed certificate.
func (s *Server) certificate(c *gin.Context) {
	cert, err := accessOf(c).Certificate(c.Request.Context())
	if err != nil {
		s.fail(c, err)
		return
	}
	c.Header("Content-Disposition", `attachment; filename="destruction-`+cert.Reference+`.json"`)
	c.Data(http.StatusOK, "application/json", cert.Signed)
}
