package portal

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/ofsted-portal/evidence/policy"
	"github.com/ofsted-portal/evidence/portal/calendar"
	"github.com/ofsted-portal/evidence/portal/retention"
	"github.com/ofsted-portal/evidence/portal/store"
	"github.com/ofsted-portal/evidence/portal/timeline"
)

// Stored visit states. While a visit is active its displayed state comes
// from its timeline and letter events (Status.State).
const (
	StateActive     = "active"
	StateDestroying = "destroying"
	StateDestroyed  = "destroyed"
)

// Displayed states of an active visit beyond the timeline's phases.
const (
	StatePublished = "published"
	StateComplaint = "complaint"
	StateUnknown   = "unknown"
)

// EventView is a recorded letter event as shown.
type EventView struct {
	Event string `json:"event"`
	Date  string `json:"date"`
}

// Status is where a visit stands now: computed once per request (Authorize)
// and read by everything else.
type Status struct {
	State          string // preparing, collecting, fieldwork, reporting, complaint, published, destroying, destroyed
	AcceptsUploads bool
	Letter         retention.Letter
	DestroyOn      time.Time
	Notice         *store.Notice  // the destruction notice, once given
	Failure        *store.Failure // the last failed attempt at destruction, until it succeeds
	LegalHold      bool
	Events         []EventView
	Timeline       *timeline.Timeline // nil when the dates do not make one
	// ComplaintsPlanned says that Timeline.ComplaintsUntil is the plan's
	// date: the final letter has not been recorded yet. Once it has, the
	// timeline carries the deadline the portal enforces
	// (retention.ComplaintsUntil of the recorded date) and PublicationFrom
	// is the day after it, the first date publication can be recorded.
	ComplaintsPlanned bool
	PublicationFrom   time.Time
	// TimelineProblem says, for administrators, why an active visit has no
	// timeline ("" when it has one): its dates, checked when it was set up,
	// no longer fit the calendar the operator has since extended.
	TimelineProblem string
	// PublishedBy is the user id of who recorded the visit's publication,
	// and LiftedBy of who lifted its legal hold last, after that ("" when
	// none, or when held): neither approves the destruction they set
	// going (ownDestruction).
	PublishedBy, LiftedBy string
}

// restoredRecorder records a letter event a restore recorded again when
// the restored database does not know who first recorded it (a person
// who first signed in after the backup): no user has it as an id.
const restoredRecorder = "portal"

// ownDestruction says why the administrator userID may not approve the
// visit's destruction ("" when they may): they recorded its publication,
// which set its date, or lifted its legal hold, which let it go on. One
// person alone cannot bring a destruction forward: another administrator
// approves it, or its notice runs out.
func (st Status) ownDestruction(userID string) string {
	switch {
	case st.PublishedBy == restoredRecorder:
		return "This visit’s publication was recorded again by a restore, which could not tell who first recorded it, so no administrator may approve its destruction: it goes ahead once its notice has run."
	case userID != "" && userID == st.PublishedBy:
		return "You recorded this visit’s publication, which set its destruction date, so another administrator must approve its destruction (or it goes ahead once its notice has run)."
	case userID != "" && userID == st.LiftedBy:
		return "You lifted this visit’s legal hold, so another administrator must approve its destruction (or it goes ahead once its notice has run)."
	}
	return ""
}

// status computes where v stands today: its letter events, legal hold and
// timeline (statusOf), loading what it needs.
func (s *Service) status(ctx context.Context, v store.Visit) (Status, error) {
	r := store.VisitRow{Visit: v}
	if v.State != StateDestroying && v.State != StateDestroyed {
		var err error
		if r.Hold, err = s.store.GetLegalHold(ctx, v.ID); err != nil {
			return Status{}, err
		}
	}
	return s.statusWithHold(ctx, r)
}

// statusWithHold is status for a visit read with its legal hold
// (store.VisitWithHold), loading the rest.
func (s *Service) statusWithHold(ctx context.Context, r store.VisitRow) (Status, error) {
	v := r.Visit
	destroyed := v.State == StateDestroying || v.State == StateDestroyed
	var err error
	if !destroyed {
		if r.Events, err = s.store.Events(ctx, v.ID); err != nil {
			return Status{}, err
		}
	}
	if destroyed || !retention.DestroyOn(letterOf(r.Events), v.RetentionDays).IsZero() {
		if !destroyed {
			n, err := s.store.GetNotice(ctx, v.ID)
			switch {
			case err == nil:
				r.Notice = &n
			case !errors.Is(err, store.ErrNotFound):
				return Status{}, err
			}
		}
		f, err := s.store.GetFailure(ctx, v.ID)
		switch {
		case err == nil:
			r.Failure = &f
		case !errors.Is(err, store.ErrNotFound):
			return Status{}, err
		}
	}
	return s.statusOf(r), nil
}

func letterOf(evs []store.Event) retention.Letter {
	replay := make([]retention.Event, len(evs))
	for i, e := range evs {
		replay[i] = retention.Event{Event: e.Event, Date: e.Date}
	}
	return retention.Replay(replay)
}

// statusOf is where a visit stands today, from what was loaded with it
// (one visit, or a page of them at once).
func (s *Service) statusOf(r store.VisitRow) Status {
	var st Status
	v := r.Visit
	tl, err := s.timeline(v)
	if err == nil {
		st.Timeline = tl
	}
	if v.State == StateDestroying || v.State == StateDestroyed {
		st.State, st.Failure = v.State, r.Failure
		return st
	}
	st.Events = make([]EventView, len(r.Events))
	for i, e := range r.Events {
		st.Events[i] = EventView{e.Event, e.Date.Format(time.DateOnly)}
	}
	st.Letter = letterOf(r.Events)
	if st.Timeline != nil {
		if st.Letter.FinalSent.IsZero() {
			st.ComplaintsPlanned = true
		} else {
			tl := *st.Timeline
			tl.ComplaintsUntil = retention.ComplaintsUntil(s.cal, st.Letter.FinalSent)
			st.Timeline, st.PublicationFrom = &tl, tl.ComplaintsUntil.AddDate(0, 0, 1)
		}
	}
	st.DestroyOn = retention.DestroyOn(st.Letter, v.RetentionDays)
	st.LegalHold = r.Hold.On
	var published time.Time
	for _, e := range r.Events {
		if e.Event == "published" {
			st.PublishedBy = e.RecordedBy
			if published.IsZero() {
				published = e.RecordedAt
			}
		}
	}
	// A lift counts once the publication had been recorded: one long
	// before the letter let nothing go on.
	if !r.Hold.On && !published.IsZero() && r.Hold.At.After(published) {
		st.LiftedBy = r.Hold.By
	}
	if !st.DestroyOn.IsZero() {
		st.Notice, st.Failure = r.Notice, r.Failure
	}
	switch {
	case !st.Letter.Published.IsZero():
		st.State = StatePublished
	case st.Letter.ComplaintOpen:
		st.State = StateComplaint
	case st.Timeline == nil:
		st.State = StateUnknown
		st.TimelineProblem = "The visit's timeline cannot be worked out from its dates with the bank holiday calendar in use (" + err.Error() +
			"). The calendar has changed since the visit was set up (PORTAL_CALENDAR_FILE). Until it is put right, provider staff have no access" +
			" (except those given an end date on the members page), the visit takes no uploads and due dates are not shown."
		return st
	default:
		st.State = st.Timeline.Phase(s.Today())
	}
	// The provider uploads from the notification call until the end of
	// fieldwork (case files for named children arrive during fieldwork).
	st.AcceptsUploads = st.State == timeline.Collecting || st.State == timeline.Fieldwork
	return st
}

// timeline computes v's timeline. One that does not compute was checked
// when the visit was set up, so the calendar has changed since: the
// operator is told (once per process and pair of dates). The timeline is
// the memo's, shared by every visit with the same dates: it is read, never
// written (a status that changes one changes a copy).
func (s *Service) timeline(v store.Visit) (*timeline.Timeline, error) {
	tl, err, fresh := s.timelines.compute(s.cal, v.NotificationDate, v.FieldworkStart)
	if err != nil && fresh && s.log != nil {
		s.log.Error("visit has no timeline with the calendar in use: provider staff are refused until the calendar or the visit's dates are put right",
			"visit", v.ID, "notification", v.NotificationDate.Format(time.DateOnly), "fieldwork_start", v.FieldworkStart.Format(time.DateOnly), "err", err)
	}
	return tl, err
}

// timelineMemo keeps the timelines computed in this process by their two
// dates. A timeline depends on those dates alone (not their times of day)
// and on the calendar, which does not change while the process runs, and
// every page of visits asks for fifty: working them out again was a tenth
// of a page's cost over a page of one. The memo is bounded: once it holds
// maxTimelines pairs it starts again. Each timeline is kept once, behind a
// pointer that every status with those dates shares: a copy for each
// visit of a page was a tenth of its allocations.
type timelineMemo struct {
	mu sync.Mutex
	m  map[[6]int]timelineResult
}

type timelineResult struct {
	tl  *timeline.Timeline // nil with err
	err error
}

const maxTimelines = 4096

// compute is timeline.Compute, remembered; fresh reports a pair of dates
// not asked about before (or since the memo started again).
func (tm *timelineMemo) compute(cal *calendar.Calendar, notification, fieldworkStart time.Time) (tl *timeline.Timeline, err error, fresh bool) {
	ny, nm, nd := notification.Date()
	fy, fm, fd := fieldworkStart.Date()
	k := [6]int{ny, int(nm), nd, fy, int(fm), fd}
	tm.mu.Lock()
	r, ok := tm.m[k]
	tm.mu.Unlock()
	if ok {
		return r.tl, r.err, false
	}
	t, err := timeline.Compute(cal, notification, fieldworkStart)
	if r.err = err; err == nil {
		r.tl = &t
	}
	tm.mu.Lock()
	if tm.m == nil || len(tm.m) >= maxTimelines {
		tm.m = map[[6]int]timelineResult{}
	}
	tm.m[k] = r
	tm.mu.Unlock()
	return r.tl, r.err, true
}

// DaysUntil counts whole days from today to d (negative: past).
func (s *Service) daysUntil(d time.Time) int { return int(d.Sub(s.Today()).Hours() / 24) }

// Window is when a member may act on a visit: [From, Until). A zero Until
// means open-ended. A Closed window contains no time at all: provider
// staff's, when the visit has no timeline to end it.
type Window struct {
	From, Until time.Time
	Closed      bool
}

// Contains reports whether t lies inside the window.
func (w Window) Contains(t time.Time) bool {
	return !w.Closed && !t.Before(w.From) && (w.Until.IsZero() || t.Before(w.Until))
}

// memberWindow applies the defaults to a member's stored window: access
// opens on the notification date; provider staff lose it at the end of the
// fifth working day after fieldwork; inspectors and analysts at publication;
// the lead inspector and the QAM keep it until destruction. An end date an
// administrator gave ends it sooner than that, never later. Destruction
// closes access through the visit's state, not a date here.
func (s *Service) memberWindow(v store.Visit, st Status, m store.Member) Window {
	w := Window{From: m.ValidFrom, Until: m.ValidUntil}
	if w.From.IsZero() {
		w.From = defaultFrom(v, m.Role)
	}
	// The role's end; a date an administrator gave ends access sooner,
	// never later.
	var end time.Time
	switch {
	case policy.IsProviderRole(m.Role):
		if st.Timeline == nil {
			// No end can be worked out: no access, rather than access
			// without an end, unless an administrator gave one.
			w.Closed = w.Until.IsZero()
			break
		}
		end = calendar.StartOfDay(s.cal.AddWorkingDays(st.Timeline.FieldworkEnd, 5).AddDate(0, 0, 1))
	case (m.Role == policy.RoleInspector || m.Role == policy.RoleAnalyst) && !st.Letter.Published.IsZero():
		end = calendar.StartOfDay(st.Letter.Published.AddDate(0, 0, 1)) // the end of publication day
	}
	if !end.IsZero() && (w.Until.IsZero() || end.Before(w.Until)) {
		w.Until = end
	}
	return w
}

// defaultFrom is when a member with role gains access to v when no
// administrator gave a start: on the notification date, or for the lead
// inspector, who prepares off site, from the day the visit was set up if
// that is sooner.
func defaultFrom(v store.Visit, role string) time.Time {
	from := calendar.StartOfDay(v.NotificationDate)
	if created := calendar.StartOfDay(calendar.Today(v.CreatedAt)); role == policy.RoleLeadInspector && created.Before(from) {
		return created
	}
	return from
}

// unannounced reports whether v is still unannounced to m: provider staff
// learn of a visit at the notification call, not a day before.
func (s *Service) unannounced(v store.Visit, m store.Member) bool {
	return policy.IsProviderRole(m.Role) && s.now().Before(calendar.StartOfDay(v.NotificationDate))
}

const longTime = "Monday 2 January 2006 at 15:04"

// endWords says when a window ends: at the end of the last day in it when
// it ends as a day begins in London (a date set as the last day of access,
// a role's default), else on its day at its time.
func endWords(until time.Time) string {
	u := until.In(calendar.London)
	if u.Equal(calendar.StartOfDay(u)) {
		return "at the end of " + u.AddDate(0, 0, -1).Format("Monday 2 January 2006")
	}
	return "on " + u.Format(longTime)
}

// windowMessage tells a member when their access opened or closed, and
// the one thing to do about it.
func windowMessage(w Window, now time.Time) string {
	if w.Closed {
		return windowSuspended
	}
	if now.Before(w.From) {
		return "Your access to this visit opens on " + w.From.In(calendar.London).Format(longTime) + ". Sign in again then."
	}
	return "Your access to this visit closed " + endWords(w.Until) + ". If you still need it, ask the portal administrator."
}

const windowSuspended = "Your access to this visit is suspended: its dates no longer fit the bank holiday calendar, so the portal cannot work out when your access ends. Ask the portal administrator."

// AccessEnd is when the actor's access to the visit ends, and why, in
// words ("" when they are not a member).
func (acc *Access) AccessEnd() string {
	m, w := acc.Member, acc.Window
	if m.Role == "" {
		return ""
	}
	if w.Closed {
		return windowSuspended
	}
	when := ""
	if !w.Until.IsZero() {
		when = "Your access ends " + endWords(w.Until) + ": "
	}
	switch {
	case !m.ValidUntil.IsZero() && m.ValidUntil.Equal(w.Until):
		return when + "the date the portal administrator set for you."
	case policy.IsProviderRole(m.Role):
		return when + "provider staff have access until the end of the fifth working day after fieldwork."
	case m.Role == policy.RoleInspector || m.Role == policy.RoleAnalyst:
		if when != "" {
			return when + "inspectors and analysts have access until the day the letter of findings is published."
		}
		return "Your access ends on the day the letter of findings is published."
	}
	return "Your access lasts until the evidence is destroyed under the retention schedule."
}
