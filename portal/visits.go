package portal

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"time"
	_ "time/tzdata" // Europe/London without relying on the host
	"unicode"

	"github.com/gin-gonic/gin"

	"github.com/ofsted-portal/evidence/crypto"
	"github.com/ofsted-portal/evidence/portal/calendar"
	"github.com/ofsted-portal/evidence/portal/store"
	"github.com/ofsted-portal/evidence/portal/timeline"
)

func loadCalendar(path string) (*calendar.Calendar, error) {
	if path == "" {
		return calendar.New()
	}
	cal, err := calendar.Load(path)
	if err != nil {
		return nil, fmt.Errorf("PORTAL_CALENDAR_FILE: %w", err)
	}
	return cal, nil
}

func (s *Server) today() time.Time {
	y, m, d := s.now().In(london).Date()
	return calendar.Date(y, m, d)
}

var london = func() *time.Location {
	l, err := time.LoadLocation("Europe/London")
	if err != nil {
		return time.UTC
	}
	return l
}()

func (s *Server) timeline(v store.Visit) (timeline.Timeline, error) {
	return timeline.Compute(s.cal, v.NotificationDate, v.FieldworkStart)
}

type visitJSON struct {
	ID               string  `json:"id"`
	Reference        string  `json:"reference"`
	Title            string  `json:"title"`
	Provider         string  `json:"provider"`
	NotificationDate string  `json:"notification_date"`
	FieldworkStart   string  `json:"fieldwork_start"`
	State            string  `json:"state"`
	AcceptsUploads   bool    `json:"accepts_uploads"`
	Bucket           string  `json:"bucket"`
	RetentionDays    int     `json:"retention_days"`
	DestroyOn        *string `json:"destroy_on"`
	// DaysUntilDestruction counts down to DestroyOn (negative: overdue,
	// e.g. held).
	DaysUntilDestruction *int               `json:"days_until_destruction"`
	LegalHold            bool               `json:"legal_hold"`
	Events               []eventJSON        `json:"events"`
	Role                 string             `json:"role,omitempty"`
	Timeline             *timeline.Timeline `json:"timeline,omitempty"`
	CreatedAt            time.Time          `json:"created_at"`
}

func (s *Server) visitView(ctx context.Context, v store.Visit, role string) visitJSON {
	out := visitJSON{
		ID: v.ID, Reference: v.Reference, Provider: v.Provider,
		NotificationDate: v.NotificationDate.Format(time.DateOnly),
		FieldworkStart:   v.FieldworkStart.Format(time.DateOnly),
		Bucket:           v.Bucket, RetentionDays: s.retention.Days(v), Role: role, CreatedAt: v.CreatedAt,
	}
	if st, err := s.visitStatus(ctx, v); err == nil {
		out.State, out.AcceptsUploads, out.LegalHold = st.State, st.AcceptsUploads, st.LegalHold
		out.Events = st.Events
		if !st.DestroyOn.IsZero() {
			d := st.DestroyOn.Format(time.DateOnly)
			days := int(st.DestroyOn.Sub(s.today()).Hours() / 24)
			out.DestroyOn, out.DaysUntilDestruction = &d, &days
		}
	}
	if tl, err := s.timeline(v); err == nil {
		out.Timeline = &tl
	}
	out.Title = s.openTitle(ctx, v)
	return out
}

// openTitle unseals a visit's title; once the key is gone the title is too.
func (s *Server) openTitle(ctx context.Context, v store.Visit) string {
	key, err := s.keys.Key(ctx, v.ID)
	if err != nil {
		return "(title destroyed)"
	}
	t, err := key.Open(v.TitleSealed, titleContext(v.ID))
	if err != nil {
		s.log.Error("visit title does not open", "visit", v.ID)
		return "(title unreadable)"
	}
	return string(t)
}

func titleContext(visitID string) string { return "visit-title:" + visitID }

type createVisitRequest struct {
	Reference        string `json:"reference" form:"reference"`
	Title            string `json:"title" form:"title"`
	Provider         string `json:"provider" form:"provider"`
	NotificationDate string `json:"notification_date" form:"notification_date"`
	FieldworkStart   string `json:"fieldwork_start" form:"fieldwork_start"`
	RetentionDays    int    `json:"retention_days" form:"retention_days"`
}

var referencePattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{1,39}$`)

func validText(field, s string, max int) error {
	if strings.TrimSpace(s) == "" {
		return fmt.Errorf("enter the %s", field)
	}
	if len(s) > max {
		return fmt.Errorf("the %s must be %d characters or fewer", field, max)
	}
	for _, r := range s {
		if unicode.IsControl(r) || isBidiControl(r) {
			return fmt.Errorf("the %s must not contain control characters", field)
		}
	}
	return nil
}

// newVisit validates a request and creates the visit: its key, its bucket,
// then its rows. A failure after the bucket exists removes the bucket.
func (s *Server) newVisit(ctx context.Context, req createVisitRequest, by store.User, rec store.AuditRecord) (store.Visit, error) {
	req.Reference = strings.TrimSpace(req.Reference)
	if !referencePattern.MatchString(req.Reference) {
		return store.Visit{}, badRequest("The reference must be 2 to 40 letters, digits, dots, dashes or underscores, for example FV-2026-014.")
	}
	for _, f := range []struct{ name, v string }{{"title", req.Title}, {"provider", req.Provider}} {
		if err := validText(f.name, f.v, 200); err != nil {
			return store.Visit{}, badRequest(capitalise(err.Error()) + ".")
		}
	}
	nd, err := calendar.ParseDate(req.NotificationDate)
	if err != nil {
		return store.Visit{}, badRequest("The notification date must be a date in the form YYYY-MM-DD.")
	}
	fs, err := calendar.ParseDate(req.FieldworkStart)
	if err != nil {
		return store.Visit{}, badRequest("The fieldwork start must be a date in the form YYYY-MM-DD.")
	}
	if !s.cal.Covered(nd.Year()) || !s.cal.Covered(fs.Year()) {
		return store.Visit{}, badRequest(fmt.Sprintf("The portal's bank holiday calendar covers %d to %d: check the year, or ask the operator to extend the calendar.", calendar.FirstCovered, calendar.LastCovered))
	}
	if _, err := timeline.Compute(s.cal, nd, fs); err != nil {
		return store.Visit{}, badRequest(capitalise(err.Error()) + ".")
	}
	if req.RetentionDays < 0 || req.RetentionDays > 3650 {
		return store.Visit{}, badRequest("The retention period must be between 0 (the portal default) and 3650 days.")
	}
	if _, err := s.store.VisitByReference(ctx, req.Reference); err == nil {
		return store.Visit{}, &httpError{http.StatusConflict, "conflict", "A visit with this reference already exists."}
	} else if !errors.Is(err, store.ErrNotFound) {
		return store.Visit{}, err
	}
	key, err := crypto.NewVisitKey()
	if err != nil {
		return store.Visit{}, err
	}
	wrapped, err := s.keys.Master().Wrap(key)
	if err != nil {
		return store.Visit{}, err
	}
	id := store.NewID()
	v := store.Visit{
		ID: id, Reference: req.Reference, TitleSealed: key.Seal([]byte(strings.TrimSpace(req.Title)), titleContext(id)),
		Provider: strings.TrimSpace(req.Provider), NotificationDate: nd, FieldworkStart: fs, RetentionDays: req.RetentionDays,
		State: stateActive, Bucket: s.cfg.BucketPrefix + id, CreatedAt: s.now(), CreatedBy: by.ID,
	}
	locking, err := s.blobs.CreateBucket(ctx, v.Bucket)
	if err != nil {
		return store.Visit{}, err
	}
	err = s.store.CreateVisit(ctx, v, store.VisitKey{VisitID: id, Wrapped: wrapped, Fingerprint: key.Fingerprint(), HeaderSize: key.HeaderSize(), CreatedAt: s.now()},
		defaultItems(), defaultRequestItems(key, id, by.ID), auditVisit(rec, id, map[string]any{"reference": v.Reference, "provider": v.Provider,
			"notification_date": req.NotificationDate, "fieldwork_start": req.FieldworkStart, "bucket": v.Bucket, "key_fingerprint": key.Fingerprint()}))
	if err != nil {
		if _, rerr := s.blobs.RemoveBucket(context.WithoutCancel(ctx), v.Bucket); rerr != nil {
			s.log.Error("remove bucket of failed visit", "bucket", v.Bucket, "err", rerr)
		}
		if errors.Is(err, store.ErrConflict) {
			return store.Visit{}, &httpError{http.StatusConflict, "conflict", "A visit with this reference already exists."}
		}
		return store.Visit{}, err
	}
	s.keys.Add(id, key)
	s.log.Info("visit created", "visit", id, "user", by.ID, "object_lock", locking)
	return v, nil
}

func capitalise(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

func (s *Server) createVisit(c *gin.Context) {
	var req createVisitRequest
	if err := c.ShouldBindJSON(&req); err != nil {
		s.fail(c, badRequest("The request body must be a JSON object with reference, title, provider, notification_date and fieldwork_start."))
		return
	}
	acc := accessOf(c)
	v, err := s.newVisit(c.Request.Context(), req, acc.user, s.auditRec(c, "visit.created", "", "success", nil))
	if err != nil {
		s.fail(c, err)
		return
	}
	c.JSON(http.StatusCreated, s.visitView(c.Request.Context(), v, ""))
}

// visibleVisits: administrators see every visit, others their own.
func (s *Server) visibleVisits(ctx context.Context, acc *access) ([]store.Visit, error) {
	if acc.admin {
		return s.store.Visits(ctx)
	}
	return s.store.VisitsOfUser(ctx, acc.user.ID)
}

func (s *Server) roleOn(ctx context.Context, visitID, userID string) string {
	m, err := s.store.MembershipOf(ctx, visitID, userID)
	if err != nil {
		return ""
	}
	return m.Role
}

// myVisits is the visits the principal may see, as shown to them.
func (s *Server) myVisits(ctx context.Context, acc *access) ([]visitJSON, error) {
	vs, err := s.visibleVisits(ctx, acc)
	if err != nil {
		return nil, err
	}
	out := []visitJSON{}
	for _, v := range vs {
		out = append(out, s.visitView(ctx, v, s.roleOn(ctx, v.ID, acc.user.ID)))
	}
	return out, nil
}

func (s *Server) listVisits(c *gin.Context) {
	out, err := s.myVisits(c.Request.Context(), accessOf(c))
	if err != nil {
		s.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, gin.H{"visits": out})
}

func (s *Server) getVisit(c *gin.Context) {
	acc := accessOf(c)
	c.JSON(http.StatusOK, s.visitView(c.Request.Context(), acc.visit, acc.member.Role))
}

func (s *Server) me(c *gin.Context) {
	ctx := c.Request.Context()
	acc := accessOf(c)
	vs, err := s.store.VisitsOfUser(ctx, acc.user.ID)
	if err != nil {
		s.fail(c, err)
		return
	}
	type visitRole struct {
		ID        string `json:"id"`
		Reference string `json:"reference"`
		Role      string `json:"role"`
	}
	visits := []visitRole{}
	for _, v := range vs {
		visits = append(visits, visitRole{v.ID, v.Reference, s.roleOn(ctx, v.ID, acc.user.ID)})
	}
	c.JSON(http.StatusOK, gin.H{
		"id": acc.user.ID, "issuer": acc.user.Issuer, "subject": acc.user.Subject,
		"email": acc.user.Email, "name": acc.user.Name, "administrator": acc.admin, "visits": visits,
	})
}

// auditVisit completes a "visit.created" record once the visit has an id.
func auditVisit(rec store.AuditRecord, visitID string, detail map[string]any) store.AuditRecord {
	rec.VisitID, rec.Object, rec.Detail = visitID, visitID, detailJSON(detail)
	return rec
}
