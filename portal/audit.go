package portal

import (
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/csv"
	"encoding/json"
	"net/http"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/ofsted-portal/evidence/portal/calendar"
	"github.com/ofsted-portal/evidence/portal/store"
)

// detailJSON encodes an audit record's details.
func detailJSON(d map[string]any) string {
	if len(d) == 0 {
		return "{}"
	}
	b, _ := json.Marshal(d)
	return string(b)
}

// auditRec describes an act by the request's principal. Object is an id,
// never a name.
func (s *Server) auditRec(c *gin.Context, action, object, outcome string, detail map[string]any) store.AuditRecord {
	r := store.AuditRecord{
		Time: s.now(), Action: action, Object: object, Outcome: outcome, Detail: detailJSON(detail),
		ClientIP: c.ClientIP(), UserAgent: truncate(c.Request.UserAgent(), 300), RequestID: requestID(c),
	}
	if a, ok := c.Get(accessKey); ok {
		acc := a.(*access)
		r.ActorIssuer, r.ActorSubject, r.ActorEmail = acc.user.Issuer, acc.user.Subject, acc.user.Email
		r.VisitID = acc.visit.ID
		r.Role = acc.member.Role
		if r.Role == "" && acc.admin {
			r.Role = "administrator"
		}
	}
	return r
}

// systemRec describes an act of the portal itself.
func (s *Server) systemRec(visitID, action, object string, detail map[string]any) store.AuditRecord {
	return store.AuditRecord{Time: s.now(), ActorSubject: "portal", Role: "system", VisitID: visitID, Action: action, Object: object,
		Outcome: "success", Detail: detailJSON(detail)}
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}

// auditStartup records the configuration the portal started with, without
// secrets.
func (s *Server) auditStartup(ctx context.Context) error {
	var idps []string
	for _, p := range s.cfg.IdPs {
		idps = append(idps, p.Name+"="+p.Issuer+" ("+p.Organisation+")")
	}
	return s.store.Audit(ctx, s.systemRec("", "portal.started", "", map[string]any{
		"public_url": s.cfg.PublicURL, "dev": s.cfg.Dev, "identity_providers": idps, "s3_endpoint": s.cfg.S3Endpoint,
		"bucket_prefix": s.cfg.BucketPrefix, "max_file_size": s.cfg.MaxFileSize, "segment_size": s.cfg.SegmentSize,
		"session_idle": s.cfg.SessionIdle.String(), "session_lifetime": s.cfg.SessionLifetime.String(),
		"retention_days": s.cfg.RetentionDays, "master_recipients": s.keys.Master().Recipients(),
		"signing_key": base64.StdEncoding.EncodeToString(s.signer.Public().(ed25519.PublicKey)),
	}))
}

// checkpoint signs the chain head when enough has happened since the last
// checkpoint: every checkpointEvery records or checkpointAfter.
const (
	checkpointEvery = 100
	checkpointAfter = 10 * time.Minute
)

func (s *Server) checkpoint(ctx context.Context, force bool) error {
	seq, hash, err := s.store.AuditHead(ctx)
	if err != nil || seq == 0 {
		return err
	}
	cps, err := s.store.Checkpoints(ctx)
	if err != nil {
		return err
	}
	if n := len(cps); n > 0 {
		last := cps[n-1]
		if last.Seq == seq || !force && seq-last.Seq < checkpointEvery && s.now().Sub(last.SignedAt) < checkpointAfter {
			return nil
		}
	}
	return s.store.AddCheckpoint(ctx, store.SignCheckpoint(seq, hash, s.now(), s.signer))
}

type auditJSON struct {
	Records    []store.AuditRecord `json:"records"`
	NextAfter  int64               `json:"next_after,omitempty"`
	Checkpoint *store.Checkpoint   `json:"checkpoint,omitempty"`
	Verify     string              `json:"verify"`
}

// auditFilter reads the trail's filters from the query.
func auditFilter(c *gin.Context, visitID string) (store.AuditFilter, error) {
	f := store.AuditFilter{VisitID: visitID, ActorEmail: c.Query("actor"), Action: c.Query("action"), Limit: 200}
	if v := c.Query("from"); v != "" {
		d, err := calendar.ParseDate(v)
		if err != nil {
			return f, badRequest("from must be a date in the form YYYY-MM-DD.")
		}
		f.From = startOfDay(d)
	}
	if v := c.Query("to"); v != "" {
		d, err := calendar.ParseDate(v)
		if err != nil {
			return f, badRequest("to must be a date in the form YYYY-MM-DD.")
		}
		f.To = startOfDay(d.AddDate(0, 0, 1))
	}
	if v := c.Query("after"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 0 {
			return f, badRequest("after must be a record number.")
		}
		f.AfterSeq = n
	}
	if v := c.Query("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 5000 {
			return f, badRequest("limit must be between 1 and 5000.")
		}
		f.Limit = n
	}
	return f, nil
}

// auditPage is the trail for people, with the same filters as the API.
func (s *Server) auditPage(c *gin.Context) {
	ctx := c.Request.Context()
	acc := accessOf(c)
	f, err := auditFilter(c, acc.visit.ID)
	if err != nil {
		s.fail(c, err)
		return
	}
	recs, err := s.store.AuditRecords(ctx, f)
	if err != nil {
		s.fail(c, err)
		return
	}
	q := c.Request.URL.Query()
	q.Del("after")
	api := "/api/v1/visits/" + acc.visit.ID + "/audit?"
	csvQ := q
	page := gin.H{"Visit": s.visitView(ctx, acc.visit, acc.member.Role), "Records": recs, "Actor": f.ActorEmail, "Action": f.Action,
		"From": c.Query("from"), "To": c.Query("to"), "JSON": api + q.Encode()}
	csvQ.Set("format", "csv")
	page["CSV"] = api + csvQ.Encode()
	csvQ.Del("format")
	if len(recs) == f.Limit {
		csvQ.Set("after", strconv.FormatInt(recs[len(recs)-1].Seq, 10))
		page["Next"] = "/visits/" + acc.visit.ID + "/audit?" + csvQ.Encode()
	}
	s.render(c, "audit", "Audit trail", page)
}

// visitAudit serves a visit's trail, filtered and paginated, as JSON or CSV.
// Each record carries its prev_hash and hash, and the JSON the latest signed
// checkpoint, which is what an auditor needs to check it.
func (s *Server) visitAudit(c *gin.Context) {
	ctx := c.Request.Context()
	acc := accessOf(c)
	f, err := auditFilter(c, acc.visit.ID)
	if err != nil {
		s.fail(c, err)
		return
	}
	recs, err := s.store.AuditRecords(ctx, f)
	if err != nil {
		s.fail(c, err)
		return
	}
	if c.Query("format") == "csv" {
		c.Header("Content-Type", "text/csv; charset=utf-8")
		c.Header("Content-Disposition", `attachment; filename="audit-`+acc.visit.Reference+`.csv"`)
		w := csv.NewWriter(c.Writer)
		w.Write([]string{"seq", "time", "actor_issuer", "actor_subject", "actor_email", "role", "visit_id", "action", "object", "outcome", "detail", "client_ip", "user_agent", "request_id", "prev_hash", "hash"})
		for _, r := range recs {
			w.Write([]string{strconv.FormatInt(r.Seq, 10), r.Time.UTC().Format(time.RFC3339Nano), r.ActorIssuer, r.ActorSubject, r.ActorEmail, r.Role, r.VisitID,
				r.Action, r.Object, r.Outcome, r.Detail, r.ClientIP, r.UserAgent, r.RequestID, r.PrevHash, r.Hash})
		}
		w.Flush()
		return
	}
	out := auditJSON{Records: recs, Verify: "hash = SHA-256(prev_hash bytes ‖ JSON of the record with hash empty and time in UTC); checkpoints sign \"seq:hash\" with Ed25519"}
	if out.Records == nil {
		out.Records = []store.AuditRecord{}
	}
	if len(recs) == f.Limit {
		out.NextAfter = recs[len(recs)-1].Seq
	}
	if cps, err := s.store.Checkpoints(ctx); err == nil && len(cps) > 0 {
		out.Checkpoint = &cps[len(cps)-1]
	}
	c.JSON(http.StatusOK, out)
}

// myActivity shows people their own recent sign-ins and downloads.
func (s *Server) myActivity(c *gin.Context) {
	acc := accessOf(c)
	recs, err := s.store.AuditRecords(c.Request.Context(), store.AuditFilter{Issuer: acc.user.Issuer, Subject: acc.user.Subject,
		Actions: []string{"signin", "signout", "file.download"}})
	if err != nil {
		s.fail(c, err)
		return
	}
	if len(recs) > 50 {
		recs = recs[len(recs)-50:]
	}
	type item struct {
		Time    time.Time `json:"time"`
		Action  string    `json:"action"`
		VisitID string    `json:"visit_id,omitempty"`
		Object  string    `json:"object,omitempty"`
		IP      string    `json:"client_ip"`
	}
	out := []item{}
	for i := len(recs) - 1; i >= 0; i-- {
		r := recs[i]
		out = append(out, item{r.Time, r.Action, r.VisitID, r.Object, r.ClientIP})
	}
	c.JSON(http.StatusOK, gin.H{"activity": out})
}
