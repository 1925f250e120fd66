package web

import (
	"encoding/csv"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/ofsted-portal/evidence/portal"
)

func auditQuery(c *gin.Context) portal.AuditQuery {
	return portal.AuditQuery{Actor: c.Query("actor"), Action: c.Query("action"), From: c.Query("from"), To: c.Query("to"),
		After: c.Query("after"), Limit: c.Query("limit")}
}

// auditPage is the trail for people, with the same filters as the API.
func (s *Server) auditPage(c *gin.Context) {
	ctx := c.Request.Context()
	acc := accessOf(c)
	trail, err := acc.AuditTrail(ctx, auditQuery(c))
	if err != nil {
		s.fail(c, err)
		return
	}
	q := c.Request.URL.Query()
	q.Del("after")
	api := "/api/v1/visits/" + acc.Visit.ID + "/audit?"
	csvQ := q
	page := gin.H{"Visit": acc.View(ctx), "Records": trail.Records, "Actor": trail.Filter.ActorEmail, "Action": trail.Filter.Action,
		"From": c.Query("from"), "To": c.Query("to"), "JSON": api + q.Encode()}
	csvQ.Set("format", "csv")
	page["CSV"] = api + csvQ.Encode()
	csvQ.Del("format")
	if trail.NextAfter > 0 {
		csvQ.Set("after", strconv.FormatInt(trail.NextAfter, 10))
		page["Next"] = "/visits/" + acc.Visit.ID + "/audit?" + csvQ.Encode()
	}
	s.render(c, "audit", "Audit trail", page)
}

// visitAudit serves a visit's trail, filtered and paginated, as JSON or CSV.
func (s *Server) visitAudit(c *gin.Context) {
	acc := accessOf(c)
	trail, err := acc.AuditTrail(c.Request.Context(), auditQuery(c))
	if err != nil {
		s.fail(c, err)
		return
	}
	if c.Query("format") != "csv" {
		c.JSON(http.StatusOK, trail)
		return
	}
	c.Header("Content-Type", "text/csv; charset=utf-8")
	c.Header("Content-Disposition", `attachment; filename="audit-`+acc.Visit.Reference+`.csv"`)
	w := csv.NewWriter(c.Writer)
	w.Write([]string{"seq", "time", "actor_issuer", "actor_subject", "actor_email", "role", "visit_id", "action", "object", "outcome", "detail", "client_ip", "user_agent", "request_id", "prev_hash", "hash"})
	for _, r := range trail.Records {
		w.Write(inertCells(strconv.FormatInt(r.Seq, 10), r.Time.UTC().Format(time.RFC3339Nano), r.ActorIssuer, r.ActorSubject, r.ActorEmail, r.Role, r.VisitID,
			r.Action, r.Object, r.Outcome, r.Detail, r.ClientIP, r.UserAgent, r.RequestID, r.PrevHash, r.Hash))
	}
	w.Flush()
}

// inertCells neutralises cells a spreadsheet would run as a formula (CSV
// injection): a cell starting with =, +, -, @, TAB or CR gets a leading
// apostrophe, as OWASP recommends. The trail itself keeps the value as it
// came (the JSON export and the hash chain are exact); only the export a
// person opens in a spreadsheet is changed.
func inertCells(cells ...string) []string {
	for i, c := range cells {
		if c != "" && strings.ContainsRune("=+-@\t\r", rune(c[0])) {
			cells[i] = "'" + c
		}
	}
	return cells
}
