package web

import (
	"net/http"
	"time"

	"github.com/gin-gonic/gin"
)

func (s *Server) destructionReview(c *gin.Context) {
	out, err := s.svc.DestructionReview(c.Request.Context(), accessOf(c).Actor, c.Query("after"))
	if err != nil {
		s.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, out)
}

func (s *Server) approveDestruction(c *gin.Context) {
	v, err := accessOf(c).ApproveDestruction(c.Request.Context())
	if err != nil {
		s.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, v)
}

func (s *Server) destructionPage(c *gin.Context) {
	page, err := s.svc.DestructionReview(c.Request.Context(), accessOf(c).Actor, c.Query("after"))
	if err != nil {
		s.fail(c, err)
		return
	}
	reviews := page.Visits
	can, own := map[string]bool{}, map[string]string{}
	for _, r := range reviews {
		can[r.Visit.ID], own[r.Visit.ID] = r.CanApprove, r.OwnDecision
	}
	notice := s.cfg.DestructionNotice.String()
	if d := s.cfg.DestructionNotice; d%(24*time.Hour) == 0 {
		notice = plural(int(d/(24*time.Hour)), "day")
	}
	// Mail that could not be delivered is an administrator's concern too.
	failed, err := s.svc.FailedDeliveries(c.Request.Context(), accessOf(c).Actor)
	if err != nil {
		s.fail(c, err)
		return
	}
	s.renderNav(c, "destruction", "Destruction review", "destruction", gin.H{"Reviews": reviews, "Next": page.Next, "First": c.Query("after") != "", "CanApprove": can, "OwnDecision": own, "Notice": notice, "Failed": failed})
}

func (s *Server) approveDestructionForm(c *gin.Context) {
	acc := accessOf(c)
	if _, err := acc.ApproveDestruction(c.Request.Context()); err != nil {
		s.refuse(c, &form{}, err, nil, "approve-"+acc.Visit.ID, s.destructionPage)
		return
	}
	s.flash(c, "The destruction of "+acc.Visit.Reference+" is approved: the next destruction sweep destroys it.")
	c.Redirect(http.StatusSeeOther, "/destruction")
}
