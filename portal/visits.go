package portal

import (
	"context"
	"encoding/base64"
	"errors"
	"regexp"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/ofsted-portal/evidence/crypto"
	"github.com/ofsted-portal/evidence/policy"
	"github.com/ofsted-portal/evidence/portal/calendar"
	"github.com/ofsted-portal/evidence/portal/retention"
	"github.com/ofsted-portal/evidence/portal/store"
	"github.com/ofsted-portal/evidence/portal/timeline"
)

// VisitView is a visit as shown to one person.
type VisitView struct {
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
	DaysUntilDestruction *int `json:"days_until_destruction"`
	// DestroyFrom is, once the notice of the destruction is given, the
	// earliest the sweep may destroy the visit: later than DestroyOn when
	// the notice was given late (again after a legal hold was lifted, or
	// after a publication recorded late), unless an administrator
	// approved it. Every member sees it, as they see DestroyOn.
	DestroyFrom *time.Time         `json:"destroy_from,omitempty"`
	LegalHold   bool               `json:"legal_hold"`
	Destruction *DestructionView   `json:"destruction,omitempty"`
	Events      []EventView        `json:"events"`
	Role        string             `json:"role,omitempty"`
	Timeline    *timeline.Timeline `json:"timeline,omitempty"`
	// ComplaintsPlanned says that timeline.complaints_until is the plan's
	// date: the final letter is not recorded yet. Once it is, that date is
	// the deadline the portal enforces and PublicationFrom the first date
	// publication can be recorded (null before).
	ComplaintsPlanned bool    `json:"complaints_planned"`
	PublicationFrom   *string `json:"publication_from"`
	// TimelineProblem says why an active visit has no timeline (Status).
	TimelineProblem string    `json:"timeline_problem,omitempty"`
	CreatedAt       time.Time `json:"created_at"`
	// Access, in a list of visits, is "" when the member's access window
	// is open (and for administrators); otherwise (AccessNotOpen,
	// AccessClosed, AccessSuspended, AccessDestroyed) the list shows no more of the visit
	// than its reference and the member's role, every other field empty,
	// and AccessMessage says when or why, as the visit's page does.
	Access        string `json:"access,omitempty"`
	AccessMessage string `json:"access_message,omitempty"`
}

// The values of VisitView.Access: the window has not opened yet; it has
// closed; it cannot be worked out, or the person's two memberships
// differ (ask the portal administrator).
const (
	AccessNotOpen   = "not_open"
	AccessClosed    = "closed"
	AccessSuspended = "suspended"
	// AccessDestroyed: the visit's destruction has begun (or is done):
	// nothing of it is served to a member (visit-destroyed), though its
	// key may still be stored while the destruction is under way.
	AccessDestroyed = "destroyed"
)

// view shows v with its status to someone in role.
func (s *Service) view(ctx context.Context, v store.Visit, st Status, role string) VisitView {
	out := s.viewFields(v, st, role)
	out.Title = s.openTitle(ctx, v)
	return out
}

// viewWithKey is view for a list that loaded the key's fingerprint with
// the visit (and its page's keys with preloadKeys): no statement to check
// it again.
func (s *Service) viewWithKey(ctx context.Context, keys PageKeys, v store.Visit, st Status, role, fingerprint string) VisitView {
	out := s.viewFields(v, st, role)
	key, err := keys.Key(ctx, v.ID, fingerprint)
	out.Title = s.openTitleKey(v, key, err)
	return out
}

// preloadKeys has the keys of the rows a list is about to show unwrapped
// together (Keyring.Preload), not one statement a row.
func (s *Service) preloadKeys(ctx context.Context, rows []store.VisitRow) PageKeys {
	refs := make([]KeyRef, len(rows))
	for i, r := range rows {
		refs[i] = KeyRef{r.ID, r.KeyFingerprint}
	}
	return s.keys.Preload(ctx, refs)
}

func (s *Service) viewFields(v store.Visit, st Status, role string) VisitView {
	out := VisitView{
		ID: v.ID, Reference: v.Reference, Provider: v.Provider,
		NotificationDate: v.NotificationDate.Format(time.DateOnly),
		FieldworkStart:   v.FieldworkStart.Format(time.DateOnly),
		Bucket:           v.Bucket, RetentionDays: v.RetentionDays, Role: role, CreatedAt: v.CreatedAt,
		State: st.State, AcceptsUploads: st.AcceptsUploads, LegalHold: st.LegalHold, Events: st.Events, Timeline: st.Timeline,
		ComplaintsPlanned: st.ComplaintsPlanned, TimelineProblem: st.TimelineProblem,
	}
	if !st.PublicationFrom.IsZero() {
		d := st.PublicationFrom.Format(time.DateOnly)
		out.PublicationFrom = &d
	}
	if !st.DestroyOn.IsZero() {
		d := st.DestroyOn.Format(time.DateOnly)
		days := s.daysUntil(st.DestroyOn)
		out.DestroyOn, out.DaysUntilDestruction = &d, &days
	}
	if n := st.Notice; n != nil {
		out.Destruction = &DestructionView{NoticeGivenAt: n.GivenAt, NotBefore: retention.Earliest(st.DestroyOn, *n, s.cfg.DestructionNotice)}
		from := out.Destruction.NotBefore
		out.DestroyFrom = &from
		if !n.ApprovedAt.IsZero() {
			out.Destruction.ApprovedAt, out.Destruction.ApprovedBy = &n.ApprovedAt, PersonName(n.ApprovedBy.Email, "", n.ApprovedBy.Subject, n.ApprovedBy.Issuer)
		}
	}
	if f := st.Failure; f != nil {
		if out.Destruction == nil {
			out.Destruction = &DestructionView{}
		}
		out.Destruction.FailedAt, out.Destruction.Failure, out.Destruction.Attempts, out.Destruction.RetryAt = &f.LastFailedAt, f.Reason, f.Attempts, &f.NextAttemptAt
	}
	return out
}

// View is the visit as the actor sees it.
func (acc *Access) View(ctx context.Context) VisitView {
	out := acc.svc.viewFields(acc.Visit, acc.Status, acc.Member.Role)
	out.Title = acc.svc.openTitleWith(ctx, acc.Visit, func() (*crypto.VisitKey, error) { return acc.key(ctx) })
	return asSeenBy(out, acc.Actor)
}

// asSeenBy is out as a sees it: a member who is not an administrator is
// not shown what only the visit's administration needs (the bucket it is
// stored in; the destruction's notice, approver and failures). Its
// destruction date stays.
func asSeenBy(out VisitView, a Actor) VisitView {
	if !a.Administrator {
		out.Bucket, out.Destruction = "", nil
	}
	return out
}

// openTitle unseals a visit's title; once the key is gone the title is too.
func (s *Service) openTitle(ctx context.Context, v store.Visit) string {
	return s.openTitleWith(ctx, v, func() (*crypto.VisitKey, error) { return s.keys.Key(ctx, v.ID) })
}

func (s *Service) openTitleWith(ctx context.Context, v store.Visit, keyOf func() (*crypto.VisitKey, error)) string {
	key, err := keyOf()
	return s.openTitleKey(v, key, err)
}

// openTitleKey unseals v's title with its key, or says why it cannot when
// the key could not be had (err): destroyed when it is no longer stored;
// otherwise (it does not open, or could not be read) unreadable, which
// is logged: a stored key that does not open is damage, not destruction.
func (s *Service) openTitleKey(v store.Visit, key *crypto.VisitKey, err error) string {
	if errors.Is(err, store.ErrNotFound) {
		return "(title destroyed)"
	}
	if err != nil {
		s.log.Error("visit key not to be had for its title", "visit", v.ID, "err", err)
		return "(title unreadable)"
	}
	t, err := key.Open(v.TitleSealed, titleContext(v.ID))
	if err != nil {
		s.log.Error("visit title does not open", "visit", v.ID)
		return "(title unreadable)"
	}
	return string(t)
}

func titleContext(visitID string) string { return "visit-title:" + visitID }

// NewVisit is what an administrator gives to create a visit.
type NewVisit struct {
	Reference        string `json:"reference" form:"reference"`
	Title            string `json:"title" form:"title"`
	Provider         string `json:"provider" form:"provider"`
	NotificationDate string `json:"notification_date" form:"notification_date"`
	FieldworkStart   string `json:"fieldwork_start" form:"fieldwork_start"`
	RetentionDays    int    `json:"retention_days" form:"retention_days"`
}

// maxRetentionDays is the longest retention period, for a visit and for
// the portal's default: ten years.
const maxRetentionDays = 3650

var referencePattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{1,39}$`)

// validText checks free text a person typed: present, not too long, no
// control or text-direction characters. The error is a sentence.
func validText(field, s string, max int) *Error {
	return checkText(field, s, max, false)
}

// validLines is validText for a text box of several lines: line breaks
// and tabs are what a person types there, not control characters.
func validLines(field, s string, max int) *Error {
	return checkText(field, s, max, true)
}

func checkText(field, s string, max int, lines bool) *Error {
	if strings.TrimSpace(s) == "" {
		return invalidf(field, "Enter the %s.", field)
	}
	if !utf8.ValidString(s) {
		// Only a form or a path can carry them; PostgreSQL refuses to
		// store them, and on SQLite they would be kept unreadable.
		return invalidf(field, "The %s must be text: it holds bytes that are not letters or signs (UTF-8).", field)
	}
	if utf8.RuneCountInString(s) > max {
		return invalidf(field, "The %s must be %d characters or fewer.", field, max)
	}
	for _, r := range s {
		if lines && (r == '\n' || r == '\r' || r == '\t') {
			continue
		}
		if unicode.IsControl(r) || isBidiControl(r) {
			return invalidf(field, "The %s must not contain control characters.", field)
		}
	}
	return nil
}

// CheckVisitText is what is wrong with a new visit's reference, title and
// provider, each by its field and all at once, for a form that lists
// every error together; CreateVisit refuses the first.
func CheckVisitText(req NewVisit) []*Error {
	req = req.trimmed()
	var errs []*Error
	if !referencePattern.MatchString(req.Reference) {
		errs = append(errs, invalid("reference", "The reference must be 2 to 40 letters, digits, dots, dashes or underscores, for example FV-2026-014."))
	}
	for _, f := range []struct{ name, v string }{{"title", req.Title}, {"provider", req.Provider}} {
		if err := validText(f.name, f.v, 200); err != nil {
			errs = append(errs, err)
		}
	}
	return errs
}

// trimmed is req without the spaces around its reference, title and
// provider: what is checked is what is kept.
func (req NewVisit) trimmed() NewVisit {
	req.Reference = strings.TrimSpace(req.Reference)
	req.Title = strings.TrimSpace(req.Title)
	req.Provider = strings.TrimSpace(req.Provider)
	return req
}

// CreateVisit validates a request and creates the visit: its key, its
// bucket, then its rows. A failure after the bucket exists removes the
// bucket.
func (s *Service) CreateVisit(ctx context.Context, a Actor, req NewVisit) (VisitView, error) {
	acc, err := s.Authorize(ctx, a, policy.VisitCreate, "", "")
	if err != nil {
		return VisitView{}, err
	}
	v, err := s.createVisit(ctx, a.UserID, req, acc.rec("visit.created", "", "success", nil))
	if err != nil {
		return VisitView{}, err
	}
	st, err := s.status(ctx, v)
	if err != nil {
		return VisitView{}, err
	}
	return s.view(ctx, v, st, ""), nil
}

func (s *Service) createVisit(ctx context.Context, by string, req NewVisit, rec store.AuditRecord) (store.Visit, error) {
	req = req.trimmed()
	if errs := CheckVisitText(req); len(errs) > 0 {
		return store.Visit{}, errs[0]
	}
	nd, err := calendar.ParseDate(req.NotificationDate)
	if err != nil {
		return store.Visit{}, invalid("notification_date", "The notification date must be a date in the form YYYY-MM-DD.")
	}
	fs, err := calendar.ParseDate(req.FieldworkStart)
	if err != nil {
		return store.Visit{}, invalid("fieldwork_start", "The fieldwork start must be a date in the form YYYY-MM-DD.")
	}
	for _, d := range []time.Time{nd, fs} {
		if !s.cal.Covered(d.Year()) {
			return store.Visit{}, invalidf("notification_date", "The portal's bank holiday calendar does not cover %d: check the year, or ask the operator to add %d to the calendar.", d.Year(), d.Year())
		}
	}
	if _, err := timeline.Compute(s.cal, nd, fs); err != nil {
		return store.Visit{}, invalid("fieldwork_start", capitalise(err.Error())+".")
	}
	if req.RetentionDays < 0 || req.RetentionDays > maxRetentionDays {
		return store.Visit{}, invalidf("retention_days", "The retention period must be between 0 (the portal default) and %d days.", maxRetentionDays)
	}
	// The visit keeps its period from now on: a later change to
	// PORTAL_RETENTION_DAYS, or an instance set otherwise, does not move
	// its destruction date.
	days := req.RetentionDays
	if days == 0 {
		days = s.cfg.RetentionDays
	}
	if _, err := s.store.VisitByReference(ctx, req.Reference); err == nil {
		return store.Visit{}, conflict("A visit with this reference already exists.")
	} else if !errors.Is(err, store.ErrNotFound) {
		return store.Visit{}, err
	}
	key, err := crypto.NewVisitKey()
	if err != nil {
		return store.Visit{}, err
	}
	id := store.NewID()
	wrapped, epoch, err := s.wrapVisitKey(ctx, key, id)
	if err != nil {
		return store.Visit{}, err
	}
	v := store.Visit{
		ID: id, Reference: req.Reference, TitleSealed: key.Seal([]byte(req.Title), titleContext(id)),
		Provider: req.Provider, NotificationDate: nd, FieldworkStart: fs, RetentionDays: days,
		State: StateActive, Bucket: s.cfg.BucketPrefix + id, CreatedAt: s.now(), CreatedBy: by,
	}
	locking, err := s.blobs.CreateBucket(ctx, v.Bucket)
	if err != nil {
		return store.Visit{}, err
	}
	rec.VisitID, rec.Object, rec.Detail = id, id, detailJSON(map[string]any{"reference": v.Reference, "provider": v.Provider,
		"notification_date": req.NotificationDate, "fieldwork_start": req.FieldworkStart, "bucket": v.Bucket, "key_fingerprint": key.Fingerprint(), "retention_days": days})
	err = s.store.CreateVisit(ctx, v, store.VisitKey{VisitID: id, Wrapped: wrapped, Epoch: epoch, Fingerprint: key.Fingerprint(), HeaderSize: key.HeaderSize(), CreatedAt: s.now()},
		defaultRestrictions(), defaultRequest(key, id, by), rec)
	if err != nil {
		if _, rerr := s.blobs.RemoveBucket(context.WithoutCancel(ctx), v.Bucket); rerr != nil {
			s.log.Error("remove bucket of failed visit", "bucket", v.Bucket, "err", rerr)
		}
		if errors.Is(err, store.ErrConflict) {
			return store.Visit{}, conflict("A visit with this reference already exists.")
		}
		return store.Visit{}, err
	}
	s.keys.Add(id, key)
	s.log.Info("visit created", "visit", id, "user", by, "object_lock", locking)
	return v, nil
}

func capitalise(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

// VisitPageSize is how many visits a page of the list shows.
const VisitPageSize = 50

// VisitList is one page of the visits a person sees, newest notification
// first; Next is the cursor of the next page ("" on the last).
type VisitList struct {
	Visits []VisitView `json:"visits"`
	Next   string      `json:"next,omitempty"`
}

// Visits returns a page of the visits the actor may see, after the cursor
// a previous page gave ("" for the first): for administrators every
// visit, for others those they are a member of (provider staff see a visit
// from its notification date). Its cost does not grow with the number of
// visits: one page is loaded with a fixed number of statements.
func (s *Service) Visits(ctx context.Context, a Actor, after string) (VisitList, error) {
	if _, err := s.Authorize(ctx, a, policy.VisitList, "", ""); err != nil {
		return VisitList{}, err
	}
	cur, err := parseVisitCursor(after)
	if err != nil {
		return VisitList{}, err
	}
	rows, err := s.store.VisitPage(ctx, a.UserID, a.Administrator, cur, VisitPageSize)
	if err != nil {
		return VisitList{}, err
	}
	return s.visitList(ctx, a, rows), nil
}

// VisitsWarned is an administrator's page of visits (Visits) with the
// visits they are warned of on any page: those whose destruction failed,
// then those under a destruction notice, soonest first; at most
// WarningsShown of them, and how many there are in all. The two are
// loaded together (store.VisitPageWarned).
func (s *Service) VisitsWarned(ctx context.Context, a Actor, after string) (VisitList, []VisitView, int, error) {
	if _, err := s.Authorize(ctx, a, policy.VisitList, "", ""); err != nil {
		return VisitList{}, nil, 0, err
	}
	if _, err := s.Authorize(ctx, a, policy.DestructionApprove, "", ""); err != nil {
		return VisitList{}, nil, 0, err
	}
	cur, err := parseVisitCursor(after)
	if err != nil {
		return VisitList{}, nil, 0, err
	}
	rows, warnedRows, total, err := s.store.VisitPageWarned(ctx, a.UserID, cur, VisitPageSize, WarningsShown)
	if err != nil {
		return VisitList{}, nil, 0, err
	}
	keys := s.preloadKeys(ctx, warnedRows)
	warned := make([]VisitView, 0, len(warnedRows))
	for _, r := range warnedRows {
		acc := s.accessOf(a, r)
		warned = append(warned, s.viewWithKey(ctx, keys, r.Visit, acc.Status, acc.Member.Role, r.KeyFingerprint))
	}
	return s.visitList(ctx, a, rows), warned, total, nil
}

// visitList is a page of rows as a sees it: the visits a may see, and the
// next page's cursor when the page is full.
func (s *Service) visitList(ctx context.Context, a Actor, rows []store.VisitRow) VisitList {
	out := VisitList{Visits: make([]VisitView, 0, len(rows))}
	now := s.now()
	views := make([]VisitView, 0, len(rows))
	statuses := make([]Status, 0, len(rows))
	shown := make([]store.VisitRow, 0, len(rows))
	open := make([]store.VisitRow, 0, len(rows))
	for _, r := range rows {
		// The membership the visit's own page decides by (membershipOf:
		// announced ones only; the person's own when they have two), so
		// that the list shows what that page would.
		ms := r.Memberships
		if len(ms) == 0 && r.Member != nil {
			ms = []store.Member{*r.Member}
		}
		m, dup := s.membershipOf(a, r.Visit, ms)
		if dup != nil && !a.Administrator {
			// Two that differ: the page refuses them, and says why.
			m = slices.DeleteFunc(slices.Clone(ms), func(m store.Member) bool { return s.unannounced(r.Visit, m) })[0]
		} else if dup != nil {
			m = store.Member{}
		}
		if m.Role == "" && !a.Administrator {
			continue
		}
		st := s.statusOf(r)
		view := VisitView{}
		if !a.Administrator {
			// A member outside their access window may not view the visit
			// (member-views-visit), nor any member one whose destruction
			// has begun (visit-destroyed): its row says only that, and
			// when or why.
			w := s.memberWindow(r.Visit, st, m)
			switch {
			case r.Visit.State == StateDestroying:
				view.Access, view.AccessMessage = AccessDestroyed, "This visit's evidence is being destroyed under the retention schedule."
			case r.Visit.State == StateDestroyed:
				view.Access, view.AccessMessage = AccessDestroyed, "This visit's evidence has been destroyed under the retention schedule."
			case dup != nil:
				view.Access, view.AccessMessage = AccessSuspended, errDuplicateMembership.Msg
			case w.Closed:
				view.Access, view.AccessMessage = AccessSuspended, windowMessage(w, now)
			case now.Before(w.From):
				view.Access, view.AccessMessage = AccessNotOpen, windowMessage(w, now)
			case !w.Contains(now):
				view.Access, view.AccessMessage = AccessClosed, windowMessage(w, now)
			}
			if view.Access != "" {
				view.ID, view.Reference, view.Role, view.Events = r.ID, r.Reference, m.Role, []EventView{}
			}
		}
		if view.Access == "" {
			open = append(open, r)
			view.Role = m.Role
		}
		shown, statuses, views = append(shown, r), append(statuses, st), append(views, view)
	}
	keys := s.preloadKeys(ctx, open)
	for i, r := range shown {
		if views[i].Access == "" {
			views[i] = asSeenBy(s.viewWithKey(ctx, keys, r.Visit, statuses[i], views[i].Role, r.KeyFingerprint), a)
		}
	}
	out.Visits = append(out.Visits, views...)
	if len(rows) == VisitPageSize {
		last := rows[len(rows)-1]
		out.Next = visitCursor(last.NotificationDate, last.Reference)
	}
	return out
}

// VisitCursorFor is the cursor of the page of visits that follows v.
func VisitCursorFor(v store.Visit) string { return visitCursor(v.NotificationDate, v.Reference) }

func visitCursor(date time.Time, reference string) string {
	return base64.RawURLEncoding.EncodeToString([]byte(date.Format(time.DateOnly) + "\n" + reference))
}

func parseVisitCursor(c string) (store.VisitCursor, error) {
	if c == "" {
		return store.VisitCursor{}, nil
	}
	b, err := base64.RawURLEncoding.DecodeString(c)
	date, ref, ok := strings.Cut(string(b), "\n")
	d, derr := time.Parse(time.DateOnly, date)
	if err != nil || !ok || derr != nil {
		return store.VisitCursor{}, invalid("after", "This page of visits does not exist: go back to the first page.")
	}
	return store.VisitCursor{NotificationDate: d, Reference: ref}, nil
}

// Me is who the actor is and which visits they are on.
type Me struct {
	ID            string      `json:"id"`
	Issuer        string      `json:"issuer"`
	Subject       string      `json:"subject"`
	Email         string      `json:"email"`
	Name          string      `json:"name"`
	Administrator bool        `json:"administrator"`
	Visits        []VisitRole `json:"visits"`
	// MoreVisits says the person is a member of more visits than Visits
	// lists (the MeVisits newest); GET /api/v1/visits pages through all.
	MoreVisits bool `json:"more_visits,omitempty"`
}

// MeVisits is how many of a person's visits "who am I" lists, so that its
// cost does not grow with a year of memberships.
const MeVisits = 100

// VisitRole is one visit the actor is a member of.
type VisitRole struct {
	ID        string `json:"id"`
	Reference string `json:"reference"`
	Role      string `json:"role"`
}

// Me describes the actor.
func (s *Service) Me(ctx context.Context, a Actor) (Me, error) {
	if _, err := s.Authorize(ctx, a, policy.SelfView, "", ""); err != nil {
		return Me{}, err
	}
	vs, err := s.store.UserVisits(ctx, a.UserID, MeVisits+1)
	if err != nil {
		return Me{}, err
	}
	out := Me{ID: a.UserID, Issuer: a.Issuer, Subject: a.Subject, Email: a.Email, Name: a.Name, Administrator: a.Administrator, Visits: []VisitRole{}}
	if len(vs) > MeVisits {
		vs, out.MoreVisits = vs[:MeVisits], true
	}
	for _, v := range vs {
		// As membershipOf hides them: a provider's before the visit is
		// announced, and one with a role the person's organisation may
		// not hold (it gives them nothing).
		if s.unannounced(store.Visit{NotificationDate: v.NotificationDate}, store.Member{Role: v.Role}) || !s.mayHold(a, v.Role) {
			continue
		}
		out.Visits = append(out.Visits, VisitRole{v.VisitID, v.Reference, v.Role})
	}
	return out, nil
}
