package portal

import (
	"net/http"
	"slices"

	"github.com/gin-gonic/gin"

	"github.com/ofsted-portal/evidence/policy"
	"github.com/ofsted-portal/evidence/portal/store"
)

type itemJSON struct {
	Code       string   `json:"code"`
	Restricted bool     `json:"restricted"`
	Roles      []string `json:"roles"`
}

func itemView(it store.Item) itemJSON {
	roles := it.Roles
	if roles == nil {
		roles = []string{}
	}
	return itemJSON{Code: it.Code, Restricted: it.Restricted, Roles: roles}
}

func (s *Server) listItems(c *gin.Context) {
	items, err := s.store.Items(c.Request.Context(), accessOf(c).visit.ID)
	if err != nil {
		s.fail(c, err)
		return
	}
	out := []itemJSON{}
	for _, it := range items {
		out = append(out, itemView(it))
	}
	c.JSON(http.StatusOK, gin.H{"items": out})
}

// putItemRestriction sets which roles see an item's files. Policy reads it on
// the next request, so open sessions are affected at once.
func (s *Server) putItemRestriction(c *gin.Context) {
	acc := accessOf(c)
	code, err := ParseItem(c.Param("item"))
	if err != nil || code == "" {
		s.fail(c, badRequest("The item must be an item number such as 1.03, or cld or audits."))
		return
	}
	var req struct {
		Restricted *bool    `json:"restricted"`
		Roles      []string `json:"roles"`
	}
	if err := c.ShouldBindJSON(&req); err != nil || req.Restricted == nil {
		s.fail(c, badRequest(`Send {"restricted": true|false, "roles": [...]}.`))
		return
	}
	for _, r := range req.Roles {
		if !policy.IsRole(r) {
			s.fail(c, badRequest("Unknown role "+r+"."))
			return
		}
	}
	slices.Sort(req.Roles)
	it := store.Item{VisitID: acc.visit.ID, Code: code, Restricted: *req.Restricted, Roles: slices.Compact(req.Roles)}
	if err := s.store.PutItem(c.Request.Context(), it, s.now()); err != nil {
		s.fail(c, err)
		return
	}
	s.log.Info("item restriction changed", "visit", acc.visit.ID, "item", code, "restricted", it.Restricted, "roles", it.Roles, "by", acc.user.ID)
	c.JSON(http.StatusOK, itemView(it))
}
