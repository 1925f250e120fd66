package web

import (
	"net/http"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/ofsted-portal/evidence/portal"
)

func (s *Server) putMember(c *gin.Context) {
	var req portal.MemberRequest
	if !s.bindJSON(c, &req, "The request body must be a JSON object with email (or issuer and subject) and role.") {
		return
	}
	m, created, err := accessOf(c).PutMember(c.Request.Context(), req)
	if err != nil {
		s.fail(c, err)
		return
	}
	status := http.StatusOK
	if created {
		status = http.StatusCreated
	}
	c.JSON(status, m)
}

func (s *Server) listMembers(c *gin.Context) {
	out, err := accessOf(c).Members(c.Request.Context())
	if err != nil {
		s.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, gin.H{"members": out})
}

func (s *Server) removeMember(c *gin.Context) {
	if err := accessOf(c).RemoveMember(c.Request.Context(), c.Param("member")); err != nil {
		s.fail(c, err)
		return
	}
	c.Status(http.StatusNoContent)
}

func (s *Server) listRestrictions(c *gin.Context) {
	out, err := accessOf(c).Restrictions(c.Request.Context())
	if err != nil {
		s.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, gin.H{"items": out})
}

func (s *Server) putRestriction(c *gin.Context) {
	var req struct {
		Restricted *bool    `json:"restricted"`
		Roles      []string `json:"roles"`
	}
	const hint = `Send {"restricted": true|false, "roles": [...]}.`
	if !s.bindJSON(c, &req, hint) {
		return
	}
	if req.Restricted == nil {
		s.fail(c, badRequest(hint))
		return
	}
	r, err := accessOf(c).SetRestriction(c.Request.Context(), c.Param("item"), *req.Restricted, req.Roles)
	if err != nil {
		s.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, r)
}

func (s *Server) explainAPI(c *gin.Context) {
	e, err := accessOf(c).ExplainOn(c.Request.Context(), c.Query("member"), c.Query("action"), c.Query("file"), strings.TrimSpace(c.Query("item")))
	if err != nil {
		s.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, explained(e))
}

// explained sets the status the member would get.
func explained(e portal.Explanation) portal.Explanation {
	e.Status = http.StatusOK
	if e.Refusal != 0 {
		e.Status = kindStatus[e.Refusal]
	}
	return e
}
