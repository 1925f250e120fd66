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

// saveItemRestriction validates and stores which roles see an item's
// files. Policy reads it on the next request, so open sessions are affected
// at once.
func (s *Server) saveItemRestriction(c *gin.Context, acc *access, rawCode string, restricted bool, roles []string) (store.Item, error) {
	code, err := ParseItem(rawCode)
	if err != nil || code == "" {
		return store.Item{}, badRequest("The item must be an item number such as 1.03, or cld or audits.")
	}
	for _, r := range roles {
		if !policy.IsRole(r) {
			return store.Item{}, badRequest("Unknown role " + r + ".")
		}
	}
	roles = slices.Compact(slices.Sorted(slices.Values(roles)))
	it := store.Item{VisitID: acc.visit.ID, Code: code, Restricted: restricted, Roles: roles}
	rec := s.auditRec(c, "item.restriction_changed", code, "success", map[string]any{"restricted": restricted, "roles": roles})
	if err := s.store.PutItem(c.Request.Context(), it, s.now(), rec); err != nil {
		return store.Item{}, err
	}
	s.log.Info("item restriction changed", "visit", acc.visit.ID, "item", code, "restricted", restricted, "roles", roles, "by", acc.user.ID)
	return it, nil
}

func (s *Server) putItemRestriction(c *gin.Context) {
	var req struct {
		Restricted *bool    `json:"restricted"`
		Roles      []string `json:"roles"`
	}
	if err := c.ShouldBindJSON(&req); err != nil || req.Restricted == nil {
		s.fail(c, badRequest(`Send {"restricted": true|false, "roles": [...]}.`))
		return
	}
	it, err := s.saveItemRestriction(c, accessOf(c), c.Param("item"), *req.Restricted, req.Roles)
	if err != nil {
		s.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, itemView(it))
}
