package web

import (
	"bufio"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/ofsted-portal/evidence/portal"
)

func (s *Server) destructionReview(c *gin.Context) {
	out, err := s.svc.DestructionReview(c.Request.Context(), accessOf(c).Actor, c.Query("after"))
	if err != nil {
		s.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, out)
}

// approveDestruction approves a noticed destruction; a body, when sent,
// names the notice reviewed ({"notice_given_at": RFC 3339, as the review
// gives it}): one given since is refused (409).
func (s *Server) approveDestruction(c *gin.Context) {
	var reviewed time.Time
	if hasBody(c) {
		var req struct {
			NoticeGivenAt *time.Time `json:"notice_given_at"`
		}
		if !s.bindJSON(c, &req, `Send nothing, or {"notice_given_at": the notice_given_at of the visit's destruction as reviewed}.`) {
			return
		}
		if req.NoticeGivenAt != nil {
			reviewed = *req.NoticeGivenAt
		}
	}
	v, err := accessOf(c).ApproveDestructionOf(c.Request.Context(), reviewed)
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
	// A refusal is shown in its visit's row; of a visit the page does not
	// list (another page, no longer due), by the list, so the error
	// summary never links to nothing.
	f := formOf(c)
	for i, e := range f.Errors {
		if id, ok := strings.CutPrefix(e.Field, "review-"); ok {
			if _, listed := can[id]; !listed {
				f.Errors[i].Field = "reviews"
			}
		}
	}
	s.renderNav(c, "destruction", "Destruction review", "destruction", gin.H{"Reviews": reviews, "Next": page.Next, "First": c.Query("after") != "", "CanApprove": can, "OwnDecision": own, "Notice": notice, "Failed": failed})
}

func (s *Server) approveDestructionForm(c *gin.Context) {
	acc := accessOf(c)
	// The review names the notice it showed: an approval is of that one.
	reviewed, err := time.Parse(time.RFC3339Nano, c.PostForm("notice"))
	if err != nil {
		s.refuse(c, &form{}, &portal.Error{Kind: portal.KindConflict, Code: "conflict", Msg: "This approval does not say which destruction notice was reviewed: review the destruction again, then approve it."}, nil, "review-"+acc.Visit.ID, s.destructionPage)
		return
	}
	if _, err := acc.ApproveDestructionOf(c.Request.Context(), reviewed); err != nil {
		s.refuse(c, &form{}, err, nil, "review-"+acc.Visit.ID, s.destructionPage)
		return
	}
	s.flash(c, "The destruction of "+acc.Visit.Reference+" is approved: the next destruction sweep destroys it.")
	c.Redirect(http.StatusSeeOther, "/destruction")
}

// hasBody says whether the request has a body with at least one byte in
// it, or one that failed before its first: an empty one (curl -d ”, a client that sets a content type on every
// request) is no body, whatever its content type.
func hasBody(c *gin.Context) bool {
	if c.Request.ContentLength >= 0 {
		return c.Request.ContentLength > 0
	}
	b := bufio.NewReader(c.Request.Body)
	_, err := b.Peek(1)
	c.Request.Body = struct {
		io.Reader
		io.Closer
	}{b, c.Request.Body}
	// Only an end is no body: a body that broke off or stalled is read
	// again by the caller, and fails there, never taken for none.
	return err != io.EOF
}
