package web

import (
	"encoding/csv"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/ofsted-portal/evidence/portal"
	"github.com/ofsted-portal/evidence/portal/store"
)

func auditQuery(c *gin.Context) portal.AuditQuery {
	return portal.AuditQuery{Actor: c.Query("actor"), Action: c.Query("action"), From: c.Query("from"), To: c.Query("to"),
		After: c.Query("after"), Limit: c.Query("limit")}
}

// auditPage is the trail for people, in words, with the same filters as
// the API (dates in GOV.UK date inputs) and paged as the API is: it reads
// one page of records, never the whole trail.
func (s *Server) auditPage(c *gin.Context) {
	ctx := c.Request.Context()
	acc := accessOf(c)
	f := &form{}
	f.Set("actor", strings.TrimSpace(c.Query("actor")))
	f.Set("action", c.Query("action"))
	q := auditQuery(c)
	q.Actor = f.Value("actor")
	from, okFrom := f.dateField(c.Query, "from", "The date to show acts from", false)
	to, okTo := f.dateField(c.Query, "to", "The date to show acts to", false)
	if from == "" && okFrom {
		from = c.Query("from") // a link from the API's own filter
		f.setDate("from", from)
	}
	if to == "" && okTo {
		to = c.Query("to")
		f.setDate("to", to)
	}
	q.From, q.To = from, to
	page := gin.H{"Visit": acc.View(ctx), "Kinds": auditKinds, "Kind": f.Value("action")}
	known := false
	for _, k := range auditKinds {
		known = known || k.Code == q.Action
	}
	if !known {
		page["Kinds"] = append(append([]auditKind{}, auditKinds...), auditKind{q.Action, "Acts recorded as " + q.Action})
	}
	if !okFrom || !okTo {
		c.Set(formKey, f)
		c.Set(formStatusKey, http.StatusBadRequest)
		s.render(c, "audit", forVisit(accessOf(c), "Audit trail"), page)
		return
	}
	c.Set(formKey, f)
	trail, err := acc.AuditTrail(ctx, q)
	if err != nil {
		s.refuse(c, f, err, map[string]string{"from": "from-day", "to": "to-day", "after": "actor", "limit": "actor"}, "actor", func(c *gin.Context) {
			s.render(c, "audit", forVisit(accessOf(c), "Audit trail"), page)
		})
		return
	}
	var ids []string
	for _, r := range trail.Records {
		if r.Object != "" {
			ids = append(ids, r.Object)
		}
	}
	names, err := acc.FileNames(ctx, ids)
	if err != nil {
		s.fail(c, err)
		return
	}
	page["Records"] = auditRows(trail.Records, names)
	// The exports and the next page keep the filter, with codes and
	// YYYY-MM-DD dates.
	filter := url.Values{}
	for k, v := range map[string]string{"actor": q.Actor, "action": q.Action, "from": from, "to": to} {
		if v != "" {
			filter.Set(k, v)
		}
	}
	api := "/api/v1/visits/" + acc.Visit.ID + "/audit?"
	page["JSON"] = api + filter.Encode()
	csvQ := url.Values{"format": {"csv"}}
	for k, v := range filter {
		csvQ[k] = v
	}
	page["CSV"] = api + csvQ.Encode()
	page["Filtered"] = len(filter) > 0
	if trail.NextAfter > 0 {
		filter.Set("after", strconv.FormatInt(trail.NextAfter, 10))
		page["Next"] = "/visits/" + acc.Visit.ID + "/audit?" + filter.Encode()
	}
	s.render(c, "audit", forVisit(accessOf(c), "Audit trail"), page)
}

// visitAudit serves a visit's trail as JSON, a page at a time, or as CSV,
// every record the filter selects, written as it is read.
func (s *Server) visitAudit(c *gin.Context) {
	acc := accessOf(c)
	if isAuditExport(c) {
		if c.Request.Method == http.MethodHead {
			// The export's headers: a HEAD neither reads the trail nor
			// records an export.
			c.Header("Content-Type", "text/csv; charset=utf-8")
			c.Header("Content-Disposition", `attachment; filename="audit-`+acc.Visit.Reference+`.csv"`)
			c.Status(http.StatusOK)
			return
		}
		s.auditCSV(c, acc)
		return
	}
	trail, err := acc.AuditTrail(c.Request.Context(), auditQuery(c))
	if err != nil {
		s.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, trail)
}

// auditExportRoute is the route of the trail as JSON, or exported as CSV.
const auditExportRoute = "/api/v1/visits/:id/audit"

// isAuditExport says whether the request asks for the trail's export: a
// copy leaving the portal, recorded in the reader's name (crossOrigin
// takes it only from the portal's own pages, as a download).
func isAuditExport(c *gin.Context) bool {
	return c.FullPath() == auditExportRoute && c.Query("format") == "csv"
}

// auditCSV streams the export. The status and headers go with the first
// page read, so a refusal or a failure before it is answered as any other;
// one after it cuts the connection (answer), so a file cut short is never
// taken for the whole trail. A reader who leaves part-way is not a
// failure of the portal: a write to them that fails stops the export, and
// the log says so at info (a read cancelled with the request is fail's).
func (s *Server) auditCSV(c *gin.Context, acc *portal.Access) {
	// An export is a download: it holds a read of the trail, a page at a
	// time, for as long as its reader takes, and counts among the
	// person's downloads under way (downloadSlots).
	release, ok := s.takeDownload(c, acc)
	if !ok {
		return
	}
	defer release()
	w := csv.NewWriter(c.Writer)
	err := acc.ExportAuditTrail(c.Request.Context(), auditQuery(c), func(recs []store.AuditRecord) error {
		if !c.Writer.Written() {
			c.Header("Content-Type", "text/csv; charset=utf-8")
			c.Header("Content-Disposition", `attachment; filename="audit-`+acc.Visit.Reference+`.csv"`)
			c.Status(http.StatusOK)
			w.Write(auditCSVHeader)
		}
		for _, r := range recs {
			w.Write(auditCSVRow(r))
		}
		w.Flush()
		c.Writer.Flush()
		return w.Error()
	})
	if err != nil && w.Error() != nil {
		s.log.Info("audit export cut: its reader left", "request_id", requestID(c), "visit", acc.Visit.ID)
		c.Abort()
		return
	}
	if err != nil {
		s.fail(c, err)
	}
}

// auditCSVHeader is the first row of the CSV export, and auditCSVRow a
// record's: records managers keep these files, so the columns are pinned
// by testdata/audit-export-v1.csv.
var auditCSVHeader = []string{"seq", "time", "actor_issuer", "actor_subject", "actor_email", "role", "visit_id", "action", "object", "outcome", "detail", "client_ip", "user_agent", "request_id", "prev_hash", "hash"}

func auditCSVRow(r store.AuditRecord) []string {
	return inertCells(strconv.FormatInt(r.Seq, 10), r.Time.UTC().Format(time.RFC3339Nano), r.ActorIssuer, r.ActorSubject, r.ActorEmail, r.Role, r.VisitID,
		r.Action, r.Object, r.Outcome, r.Detail, r.ClientIP, r.UserAgent, r.RequestID, r.PrevHash, r.Hash)
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
