package web

import (
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/ofsted-portal/evidence/portal"
)

func (s *Server) getRequest(c *gin.Context) {
	out, err := accessOf(c).InformationRequest(c.Request.Context())
	if err != nil {
		s.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, gin.H{"items": out})
}

func (s *Server) addRequestItem(c *gin.Context) {
	var in portal.RequestItemInput
	if !s.bindJSON(c, &in, `Send {"kind": "annex_a"|"case_file", "code": "1.06", "title": "...", "due": "YYYY-MM-DD"}.`) {
		return
	}
	s.saveRequestItem(c, in, portal.AddItem, http.StatusCreated)
}

func (s *Server) changeRequestItem(c *gin.Context) {
	var in portal.RequestItemInput
	if !s.bindJSON(c, &in, `Send {"title": "...", "due": "YYYY-MM-DD"}.`) {
		return
	}
	in.Code = c.Param("item")
	s.saveRequestItem(c, in, portal.ChangeItem, http.StatusOK)
}

func (s *Server) saveRequestItem(c *gin.Context, in portal.RequestItemInput, mode portal.SaveMode, status int) {
	it, err := accessOf(c).SaveRequestItem(c.Request.Context(), in, mode)
	if err != nil {
		s.fail(c, err)
		return
	}
	c.JSON(status, it)
}

func (s *Server) removeRequestItem(c *gin.Context) {
	if err := accessOf(c).RemoveRequestItem(c.Request.Context(), c.Param("item")); err != nil {
		s.fail(c, err)
		return
	}
	c.Status(http.StatusNoContent)
}
