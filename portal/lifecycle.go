package portal

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/ofsted-portal/evidence/portal/calendar"
	"github.com/ofsted-portal/evidence/portal/retention"
	"github.com/ofsted-portal/evidence/portal/store"
	"github.com/ofsted-portal/evidence/portal/timeline"
)

// Stored visit states. While a visit is "active" its displayed state comes
// from its timeline and letter events.
const (
	stateActive     = "active"
	stateDestroying = "destroying"
	stateDestroyed  = "destroyed"
)

type eventJSON struct {
	Event string `json:"event"`
	Date  string `json:"date"`
}

// visitStatus is where a visit stands today.
type visitStatus struct {
	State          string // preparing, collecting, fieldwork, reporting, complaint, published, destroying, destroyed
	AcceptsUploads bool
	Letter         retention.Letter
	DestroyOn      time.Time
	LegalHold      bool
	Events         []eventJSON
}

func (s *Server) visitStatus(ctx context.Context, v store.Visit) (visitStatus, error) {
	var st visitStatus
	if v.State == stateDestroying || v.State == stateDestroyed {
		st.State = v.State
		return st, nil
	}
	evs, err := s.store.Events(ctx, v.ID)
	if err != nil {
		return st, err
	}
	replay := make([]retention.Event, len(evs))
	st.Events = make([]eventJSON, len(evs))
	for i, e := range evs {
		replay[i] = retention.Event{Event: e.Event, Date: e.Date}
		st.Events[i] = eventJSON{e.Event, e.Date.Format(time.DateOnly)}
	}
	st.Letter = retention.Replay(replay)
	st.DestroyOn = retention.DestroyOn(st.Letter, s.retention.Days(v))
	hold, err := s.store.GetLegalHold(ctx, v.ID)
	if err != nil {
		return st, err
	}
	st.LegalHold = hold.On
	switch {
	case !st.Letter.Published.IsZero():
		st.State = "published"
	case st.Letter.ComplaintOpen:
		st.State = "complaint"
	default:
		tl, err := s.timeline(v)
		if err != nil {
			st.State = "unknown"
			return st, nil
		}
		st.State = tl.Phase(s.today())
	}
	// The provider uploads from the notification call until the end of
	// fieldwork (case files for named children arrive during fieldwork).
	st.AcceptsUploads = st.State == timeline.Collecting || st.State == timeline.Fieldwork
	return st, nil
}

func (s *Server) acceptsUploadsNow(ctx context.Context, v store.Visit) bool {
	st, err := s.visitStatus(ctx, v)
	return err == nil && st.AcceptsUploads
}

// recordEvent records a letter event, in order.
func (s *Server) recordEvent(c *gin.Context) {
	ctx := c.Request.Context()
	acc := accessOf(c)
	var req struct {
		Event string `json:"event"`
		Date  string `json:"date"`
	}
	if err := c.ShouldBindJSON(&req); err != nil || !retention.IsEvent(req.Event) {
		s.fail(c, badRequest("Send {\"event\": one of draft_sent, final_sent, complaint_received, complaint_resolved, published, \"date\": \"YYYY-MM-DD\"}."))
		return
	}
	date, err := calendar.ParseDate(req.Date)
	if err != nil {
		s.fail(c, badRequest("The date must be in the form YYYY-MM-DD."))
		return
	}
	if date.After(s.today()) {
		s.fail(c, badRequest("A letter event cannot be dated in the future."))
		return
	}
	tl, err := s.timeline(acc.visit)
	if err != nil {
		s.fail(c, err)
		return
	}
	evs, err := s.store.Events(ctx, acc.visit.ID)
	if err != nil {
		s.fail(c, err)
		return
	}
	history := make([]retention.Event, len(evs))
	for i, e := range evs {
		history[i] = retention.Event{Event: e.Event, Date: e.Date}
	}
	next := retention.Event{Event: req.Event, Date: date}
	if err := retention.Check(history, next, tl.FieldworkEnd); err != nil {
		var oo *retention.ErrOutOfOrder
		if errors.As(err, &oo) {
			s.fail(c, &httpError{http.StatusConflict, "conflict", oo.Reason})
			return
		}
		s.fail(c, badRequest("Unknown event."))
		return
	}
	rec := s.auditRec(c, "letter."+req.Event, "", "success", map[string]any{"date": req.Date})
	if err := s.store.AddEvent(ctx, store.Event{VisitID: acc.visit.ID, Event: req.Event, Date: date, RecordedBy: acc.user.ID, RecordedAt: s.now()}, rec); err != nil {
		s.fail(c, err)
		return
	}
	s.log.Info("letter event recorded", "visit", acc.visit.ID, "event", req.Event, "date", req.Date, "by", acc.user.ID)
	s.updateBackstop(ctx, acc.visit)
	c.JSON(http.StatusOK, s.visitView(ctx, acc.visit, acc.member.Role))
}

// setLegalHold sets or lifts a legal hold; the reason is sealed like any
// free text.
func (s *Server) setLegalHold(c *gin.Context) {
	ctx := c.Request.Context()
	acc := accessOf(c)
	var req struct {
		On     *bool  `json:"on"`
		Reason string `json:"reason"`
	}
	if err := c.ShouldBindJSON(&req); err != nil || req.On == nil {
		s.fail(c, badRequest(`Send {"on": true|false, "reason": "..."}.`))
		return
	}
	req.Reason = strings.TrimSpace(req.Reason)
	if err := validText("reason", req.Reason, 2000); err != nil {
		s.fail(c, badRequest("Give the reason for setting or lifting the legal hold."))
		return
	}
	key, err := s.keys.Key(ctx, acc.visit.ID)
	if err != nil {
		s.fail(c, err)
		return
	}
	h := store.LegalHold{On: *req.On, ReasonSealed: key.Seal([]byte(req.Reason), "legal-hold:"+acc.visit.ID), At: s.now()}
	action := "legal_hold.lifted"
	if h.On {
		action = "legal_hold.set"
	}
	// The reason is free text: it is sealed in the visit, not copied here.
	if err := s.store.SetLegalHold(ctx, acc.visit.ID, h, s.auditRec(c, action, "", "success", nil)); err != nil {
		s.fail(c, err)
		return
	}
	// Object-level holds follow; a failure here is reported, and the
	// database hold (which the destruction run obeys) stands regardless.
	if err := s.blobs.SetLegalHold(ctx, acc.visit.Bucket, h.On); err != nil {
		s.fail(c, fmt.Errorf("legal hold recorded, object holds not applied: %w", err))
		return
	}
	s.log.Warn("legal hold changed", "visit", acc.visit.ID, "on", h.On, "by", acc.user.ID)
	s.updateBackstop(ctx, acc.visit)
	c.JSON(http.StatusOK, s.visitView(ctx, acc.visit, acc.member.Role))
}

// backstopDays is how long after the expected destruction date the store's
// own lifecycle rule expires the objects, should the portal be down.
const backstopDays = 14

// updateBackstop keeps the bucket's lifecycle rule in step with the visit:
// none until publication or while on hold, destruction date + 14 days after.
func (s *Server) updateBackstop(ctx context.Context, v store.Visit) {
	st, err := s.visitStatus(ctx, v)
	if err != nil {
		return
	}
	var date time.Time
	if !st.DestroyOn.IsZero() && !st.LegalHold {
		date = st.DestroyOn.AddDate(0, 0, backstopDays)
	}
	if err := s.blobs.SetExpiry(ctx, v.Bucket, date); err != nil {
		s.log.Error("lifecycle backstop", "visit", v.ID, "err", err)
	}
}

// certificate serves a destroyed visit's signed certificate.
func (s *Server) certificate(c *gin.Context) {
	d, err := s.store.GetDestruction(c.Request.Context(), accessOf(c).visit.ID)
	if err != nil || d.Certificate == nil {
		s.fail(c, &httpError{http.StatusNotFound, "not_found", "This visit has no destruction certificate: it has not been destroyed."})
		return
	}
	c.Header("Content-Disposition", `attachment; filename="destruction-`+d.Reference+`.json"`)
	c.Data(http.StatusOK, "application/json", d.Certificate)
}

// RunRetention runs one destruction sweep now (portal retention run, and
// the scheduler).
func (s *Server) RunRetention(ctx context.Context) ([]string, error) {
	ids, err := s.retention.Sweep(ctx)
	if err != nil {
		s.log.Error("retention sweep", "err", err)
	}
	s.warnUpcoming(ctx)
	return ids, err
}

// warnUpcoming logs the visits due for destruction within 7 days.
func (s *Server) warnUpcoming(ctx context.Context) {
	vs, err := s.store.Visits(ctx)
	if err != nil {
		return
	}
	for _, v := range vs {
		st, err := s.visitStatus(ctx, v)
		if err != nil || st.DestroyOn.IsZero() {
			continue
		}
		if days := int(st.DestroyOn.Sub(s.today()).Hours() / 24); days >= 0 && days <= 7 {
			s.log.Warn("visit due for destruction soon", "visit", v.ID, "reference", v.Reference, "destroy_on", st.DestroyOn.Format(time.DateOnly), "legal_hold", st.LegalHold)
		}
	}
}
