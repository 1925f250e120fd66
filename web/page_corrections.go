package web

import (
	"github.com/gin-gonic/gin"

	"github.com/ofsted-portal/evidence/policy"
	"github.com/ofsted-portal/evidence/portal"
)

// correctionsPage adds the visit page's part for correcting mistakes
// (templates/visit_corrections.html): whether earlier versions are listed,
// whether the actor may mark items complete, and what was just done.
func (s *Server) correctionsPage(c *gin.Context, acc *portal.Access, page gin.H) {
	page["Versions"] = c.Query("versions") == "1"
	page["CanComplete"] = acc.Can(c.Request.Context(), policy.ItemComplete)
	switch c.Query("corrected") {
	case "deleted":
		page["Notice"] = "The file was deleted."
	case "withdrawn":
		page["Notice"] = "The file was withdrawn: the inspection team had downloaded it, so they see it marked withdrawn."
	case "replaced":
		page["Notice"] = "The new version was uploaded. The earlier one is kept as a superseded version."
	}
	if item := c.Query("completed"); item != "" {
		if _, err := portal.ParseItem(item); err == nil {
			page["Notice"] = "Item " + item + " was updated."
		}
	}
}
