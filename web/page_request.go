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
	s.renderNav(c, name, forVisit(acc, title), "visits", page)
}

// forVisit is a visit's page title: its reference said, so that pages of
// two visits open side by side (tabs, history) are told apart.
func forVisit(acc *portal.Access, title string) string {
	if acc == nil || acc.Visit.Reference == "" {
		return title
	}
	return title + " for " + acc.Visit.Reference
}

func (s *Server) requestForm(c *gin.Context) {
	f := postedForm(c, "kind", "code", "title")
	// Two forms post here: the case file's fields start case, Annex A's annex.
	prefix := "case"
	if f.Value("kind") == portal.KindAnnexA {
		prefix = "annex"
	}
	due, ok := f.dateField(c.PostForm, prefix+"_due", "The due date", false)
	if !ok {
		s.showForm(c, f, http.StatusBadRequest, s.requestPage)
		return
	}
	in := portal.RequestItemInput{Kind: f.Value("kind"), Code: strings.TrimSpace(f.Value("code")), Title: f.Value("title"), Due: due}
	mode := portal.AddItem
	if in.Kind == portal.KindAnnexA {
		mode = portal.AddOrChangeItem // the form says: an existing number changes that item
	}
	acc := accessOf(c)
	it, err := acc.SaveRequestItem(c.Request.Context(), in, mode)
	if err != nil {
		s.refuse(c, f, err, map[string]string{"title": prefix + "-title", "due": prefix + "_due-day", "code": "annex-code", "kind": prefix + "-title"}, prefix+"-title", s.requestPage)
		return
	}
	s.flash(c, "Item "+it.Code+" is saved in the information request.")
	c.Redirect(http.StatusSeeOther, "/visits/"+acc.Visit.ID+"/request")
}

func (s *Server) removeRequestForm(c *gin.Context) {
	acc := accessOf(c)
	if err := acc.RemoveRequestItem(c.Request.Context(), c.Param("item")); err != nil {
		s.refuse(c, &form{}, err, nil, "request-items", s.requestPage)
		return
	}
	s.flash(c, "Item "+c.Param("item")+" is removed from the information request.")
	c.Redirect(http.StatusSeeOther, "/visits/"+acc.Visit.ID+"/request")
}
