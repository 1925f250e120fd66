package web

import (
	"net/http"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/ofsted-portal/evidence/portal"
)

func (s *Server) requestPage(c *gin.Context) {
	s.renderWithRequest(c, "request", "Information request", "Request", gin.H{})
}

// renderWithRequest renders a page of the visit with its information
// request (as page[key]) and the page's own values.
func (s *Server) renderWithRequest(c *gin.Context, name, title, key string, page gin.H) {
	ctx := c.Request.Context()
	acc := accessOf(c)
	request, err := acc.InformationRequest(ctx)
	if err != nil {
		s.fail(c, err)
		return
	}
	page["Visit"], page[key] = acc.View(ctx), request
	s.renderNav(c, name, title, "visits", page)
}

func (s *Server) requestForm(c *gin.Context) {
	in := portal.RequestItemInput{Kind: c.PostForm("kind"), Code: strings.TrimSpace(c.PostForm("code")), Title: c.PostForm("title"), Due: c.PostForm("due")}
	mode := portal.AddItem
	if in.Kind == portal.KindAnnexA {
		mode = portal.AddOrChangeItem // the form says: an existing number changes that item
	}
	acc := accessOf(c)
	if _, err := acc.SaveRequestItem(c.Request.Context(), in, mode); err != nil {
		s.fail(c, err)
		return
	}
	c.Redirect(http.StatusSeeOther, "/visits/"+acc.Visit.ID+"/request")
}

func (s *Server) removeRequestForm(c *gin.Context) {
	acc := accessOf(c)
	if err := acc.RemoveRequestItem(c.Request.Context(), c.Param("item")); err != nil {
		s.fail(c, err)
		return
	}
	c.Redirect(http.StatusSeeOther, "/visits/"+acc.Visit.ID+"/request")
}
