package web

import (
	"net/http"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/ofsted-portal/evidence/policy"
	"github.com/ofsted-portal/evidence/portal"
	"github.com/ofsted-portal/evidence/portal/calendar"
)

type memberRow struct {
	ID, Person, Role string
	Bound            bool
	From, Until      string
}

// issuerChoice is an identity provider a member can be added from by
// subject.
type issuerChoice struct{ Issuer, DisplayName string }

func (s *Server) membersPage(c *gin.Context) {
	ctx := c.Request.Context()
	acc := accessOf(c)
	ms, err := acc.MemberWindows(ctx)
	if err != nil {
		s.fail(c, err)
		return
	}
	var rows []memberRow
	const layout = "2 Jan 2006 15:04"
	for _, m := range ms {
		until := "until the visit is destroyed or published"
		if !m.Window.Until.IsZero() {
			until = m.Window.Until.In(calendar.London).Format(layout)
		}
		rows = append(rows, memberRow{m.ID, m.Display, m.Role, m.Bound, m.Window.From.In(calendar.London).Format(layout), until})
	}
	rs, err := acc.Restrictions(ctx)
	if err != nil {
		s.fail(c, err)
		return
	}
	var issuers []issuerChoice
	for _, p := range s.cfg.IdPs {
		issuers = append(issuers, issuerChoice{p.Issuer, p.DisplayName})
	}
	s.render(c, "members", "Members of "+acc.Visit.Reference, gin.H{
		"Visit": acc.View(ctx), "Members": rows, "Roles": policy.Roles, "Items": rs, "Issuers": issuers,
	})
}

func (s *Server) addMemberForm(c *gin.Context) {
	var req portal.MemberRequest
	if err := c.ShouldBind(&req); err != nil {
		s.fail(c, badRequest("Enter an email address, or choose an identity provider and enter a subject, and choose a role."))
		return
	}
	if _, _, err := accessOf(c).PutMember(c.Request.Context(), req); err != nil {
		s.fail(c, err)
		return
	}
	c.Redirect(http.StatusSeeOther, "/visits/"+c.Param("id")+"/members")
}

func (s *Server) removeMemberForm(c *gin.Context) {
	acc := accessOf(c)
	if err := acc.RemoveMember(c.Request.Context(), c.Param("member")); err != nil {
		s.fail(c, err)
		return
	}
	c.Redirect(http.StatusSeeOther, "/visits/"+acc.Visit.ID+"/members")
}

// restrictForm sets an item's restriction from the members page.
func (s *Server) restrictForm(c *gin.Context) {
	acc := accessOf(c)
	if _, err := acc.SetRestriction(c.Request.Context(), c.PostForm("item"), c.PostForm("restricted") == "yes", c.PostFormArray("roles")); err != nil {
		s.fail(c, err)
		return
	}
	c.Redirect(http.StatusSeeOther, "/visits/"+acc.Visit.ID+"/members")
}

func (s *Server) explainPage(c *gin.Context) {
	ctx := c.Request.Context()
	acc := accessOf(c)
	members, files, err := acc.ExplainChoices(ctx)
	if err != nil {
		s.fail(c, err)
		return
	}
	// A file beyond the latest few is given by its reference.
	file, ref := c.Query("file"), strings.TrimSpace(c.Query("file_ref"))
	if ref != "" {
		file = ref
	}
	page := gin.H{"Visit": acc.View(ctx), "Members": members, "Files": files, "FileRef": ref, "Latest": portal.ExplainFileChoices,
		"Actions": policy.Actions, "Member": c.Query("member"), "Action": c.Query("action"), "File": file}
	if c.Query("member") != "" {
		e, err := acc.Explain(ctx, c.Query("member"), c.Query("action"), file)
		if err != nil {
			s.fail(c, err)
			return
		}
		page["Result"] = explained(e)
	}
	s.render(c, "explain", "Explain a decision", page)
}
