package portal

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/ofsted-portal/evidence/policy"
	"github.com/ofsted-portal/evidence/portal/blobs"
	"github.com/ofsted-portal/evidence/portal/calendar"
	"github.com/ofsted-portal/evidence/portal/retention"
	"github.com/ofsted-portal/evidence/portal/store"
)

// RecordEvent records a letter event (draft_sent, final_sent,
// complaint_received, complaint_resolved, published) dated date
// (YYYY-MM-DD), in order, and returns the visit as it stands after it.
func (acc *Access) RecordEvent(ctx context.Context, event, date string) (VisitView, error) {
	if err := acc.require(ctx, policy.VisitRecordEvent, nil); err != nil {
		return VisitView{}, err
	}
	s := acc.svc
	if !retention.IsEvent(event) {
		return VisitView{}, invalid("event", "Send {\"event\": one of draft_sent, final_sent, complaint_received, complaint_resolved, published, \"date\": \"YYYY-MM-DD\"}.")
	}
	d, err := calendar.ParseDate(date)
	if err != nil {
		return VisitView{}, invalid("date", "The date must be in the form YYYY-MM-DD.")
	}
	if d.After(s.Today()) {
		return VisitView{}, invalid("date", "A letter event cannot be dated in the future.")
	}
	rec := acc.rec("letter."+event, "", "success", map[string]any{"date": date})
	act, err := s.store.AddEvent(ctx, store.Event{VisitID: acc.Visit.ID, Event: event, Date: d, RecordedBy: acc.Actor.UserID, RecordedAt: s.now()},
		s.eventCheck(acc.Visit, acc.Status, event, d), rec)
	if err != nil {
		return VisitView{}, err
	}
	s.log.Info("letter event recorded", "visit", acc.Visit.ID, "event", event, "date", date, "by", acc.Actor.UserID)
	return acc.changed(ctx, &act)
}

// eventCheck is what a letter event (event, dated d) recorded on visit v,
// whose status is st, must be to the events recorded before it: in order
// (retention.Check), after fieldwork.
func (s *Service) eventCheck(v store.Visit, st Status, event string, d time.Time) func([]store.Event) error {
	// Without a timeline (the calendar changed since the visit was set up)
	// fieldwork still ended on the working day after it started: the
	// letter's events are recorded against that, so that publication, and
	// then destruction, can follow.
	fieldworkEnd := s.cal.AddWorkingDays(v.FieldworkStart, 1)
	if tl := st.Timeline; tl != nil {
		fieldworkEnd = tl.FieldworkEnd
	}
	return func(evs []store.Event) error {
		history := make([]retention.Event, len(evs))
		for i, e := range evs {
			history[i] = retention.Event{Event: e.Event, Date: e.Date}
		}
		err := retention.Check(s.cal, history, retention.Event{Event: event, Date: d}, fieldworkEnd)
		var oo *retention.ErrOutOfOrder
		if errors.As(err, &oo) {
			return conflict(oo.Reason)
		}
		if err != nil {
			return invalid("event", "Unknown event.")
		}
		return nil
	}
}

// WithdrawEvent withdraws the visit's last letter event, event dated date
// (YYYY-MM-DD), recorded in error: a publication recorded on the wrong
// visit or with the wrong date, which would otherwise set the destruction
// date for good. Administrators only. Every date that followed from it
// moves back (the destruction date, the inspectors' access, the visit's
// state), the destruction notice and any approval are withdrawn with it,
// and the right event is then recorded as any other. Refused once the
// destruction has begun. It returns the visit as it stands after. An
// administrator who is a member of the visit may not (policy
// letter-withdrawn-from-outside): the publication withdrawn opens again
// the access it ended.
func (acc *Access) WithdrawEvent(ctx context.Context, event, date string) (VisitView, error) {
	if err := acc.require(ctx, policy.EventWithdraw, nil); err != nil {
		return VisitView{}, err
	}
	s := acc.svc
	if !retention.IsEvent(event) {
		return VisitView{}, invalid("event", "Send {\"event\": the last letter event recorded, \"date\": its date, \"YYYY-MM-DD\"}.")
	}
	d, err := calendar.ParseDate(date)
	if err != nil {
		return VisitView{}, invalid("date", "The date must be in the form YYYY-MM-DD.")
	}
	rec := acc.rec("letter.withdrawn", "", "success", map[string]any{"event": event, "date": date})
	act, last, err := s.store.WithdrawLastEvent(ctx, acc.Visit.ID, store.Event{Event: event, Date: d}, s.now(), rec)
	switch {
	case errors.Is(err, store.ErrConflict) && last.Event == "":
		return VisitView{}, conflict("This visit has no letter event to withdraw.")
	case errors.Is(err, store.ErrConflict):
		return VisitView{}, conflict("Only the last letter event can be withdrawn: it is " + last.Event + " dated " + last.Date.Format(time.DateOnly) + ".")
	case errors.Is(err, store.ErrDestructionBegun):
		return VisitView{}, conflict("This visit's destruction has begun, so its letter events can no longer be changed.")
	case err != nil:
		return VisitView{}, err
	}
	s.log.Warn("letter event withdrawn", "visit", acc.Visit.ID, "event", event, "date", date, "by", acc.Actor.UserID)
	return acc.changed(ctx, &act)
}

// changed recomputes the visit's status after an act changed it and
// returns the visit as it now stands. After an act that moves the object
// store's expiry rule (act, else nil) it brings the rule to the visit
// (applyRule); when the store refuses, the retention run does so later.
func (acc *Access) changed(ctx context.Context, act *store.StoreAct) (VisitView, error) {
	st, err := acc.svc.status(ctx, acc.Visit)
	if err != nil {
		return VisitView{}, err
	}
	acc.Status = st
	acc.decided = map[decisionKey]policy.Decision{}
	if act != nil {
		if _, err := acc.svc.applyRule(ctx, acc.Visit, st, *act); err != nil {
			acc.svc.log.Error("expiry rule not brought to the visit; the retention run will", "visit", acc.Visit.ID, "err", err)
		}
	}
	return acc.View(ctx), nil
}

// SetLegalHold sets or lifts the visit's legal hold; the reason is sealed
// like any free text. Any administrator may set one; a lift, after which
// destruction follows a fresh notice, is for an administrator with no part
// in the visit (policy.LegalHoldLift), as is approving a destruction.
func (acc *Access) SetLegalHold(ctx context.Context, on bool, reason string) (VisitView, error) {
	may := policy.LegalHoldSet
	if !on {
		may = policy.LegalHoldLift
	}
	if err := acc.require(ctx, may, nil); err != nil {
		return VisitView{}, err
	}
	s := acc.svc
	reason = strings.TrimSpace(reason)
	if reason == "" {
		return VisitView{}, invalid("reason", "Give the reason for setting or lifting the legal hold.")
	}
	if err := validLines("reason", reason, 2000); err != nil {
		return VisitView{}, err
	}
	h := store.LegalHold{On: on, At: s.now(), By: acc.Actor.UserID}
	var detail map[string]any
	key, keyErr := acc.key(ctx)
	switch {
	case keyErr == nil:
		h.ReasonSealed = key.Seal([]byte(reason), "legal-hold:"+acc.Visit.ID)
	case on && isKeyUnopened(keyErr):
		// The key cannot be opened (its key store unreachable, or the
		// wrapped key damaged). A hold is what stops a destruction,
		// whose first steps need no key: it is set all the same,
		// without its reason, which is sealed with that key (a reason
		// kept by a hold set before stays), and the administrator is
		// told to set it again with it.
		detail = map[string]any{"reason_kept": false}
	default:
		// The database failing, or a lift, which lets destruction go
		// on: it waits for the key.
		return VisitView{}, keyErr
	}
	action := "legal_hold.lifted"
	if h.On {
		action = "legal_hold.set"
	}
	// The reason is free text: it is sealed in the visit, not copied here.
	act, err := s.store.SetLegalHold(ctx, acc.Visit.ID, h, acc.rec(action, "", "success", detail))
	if errors.Is(err, store.ErrDestructionBegun) {
		// The sweep began it since this request read the visit.
		return VisitView{}, conflict("This visit's destruction has begun, so a legal hold can no longer stop it.")
	} else if err != nil {
		return VisitView{}, err
	}
	if keyErr != nil {
		s.log.Error("legal hold set without its reason: the visit key cannot be opened", "visit", acc.Visit.ID, "err", keyErr)
	}
	if err := s.applyHold(ctx, acc.Visit, h.On, act); err != nil {
		// This request's carrying has ended: the retention run may carry
		// the act at once, and one after it (the hold set again, as the
		// answer asks) need not wait for this one.
		// (Not before an earlier act that may still run: Unsettled.)
		ended := s.now().Add(-storeSettle)
		if act.Unsettled.After(ended) {
			ended = act.Unsettled
		}
		if serr := s.store.StoreSideEnded(context.WithoutCancel(ctx), act, ended, s.now(), store.UnknownHoldAndRule); serr != nil {
			s.log.Error("legal hold not carried, and not marked ended", "visit", acc.Visit.ID, "err", serr)
		}
		return VisitView{}, err
	}
	s.log.Warn("legal hold changed", "visit", acc.Visit.ID, "on", h.On, "by", acc.Actor.UserID)
	view, err := acc.changed(ctx, &act)
	if err == nil && keyErr != nil {
		return VisitView{}, errHoldReasonNotKept
	}
	return view, err
}

// errHoldReasonNotKept answers a legal hold set without its reason, the
// visit key not opening (SetLegalHold).
var errHoldReasonNotKept = &Error{Kind: KindUnavailable, Code: "hold_reason_not_kept",
	Msg: "The legal hold is set, and the portal will not destroy this visit's evidence while it is set, but its reason could not be kept: the visit's key could not be opened. Set the hold again, with its reason, once the portal is working normally."}

// applyHold brings the object store to a visit's legal hold as act left
// it: while held, no expiry rule of its own (left in place, the store
// would remove the held evidence 14 days after the destruction date,
// whatever the portal decides) and every object held; lifted, the objects
// free again (the rule is put back after, applyRule, as after any act on
// the hold). The database hold, which the destruction run obeys, is
// recorded first and stands whatever the store does; this is then
// recorded as done (store.HoldApplied). A failure is answered as the
// store's, to try again: the retention run also does so, once the act is
// older than storeSettle (finishStoreSides).
func (s *Service) applyHold(ctx context.Context, v store.Visit, on bool, act store.StoreAct, audit ...store.AuditRecord) error {
	if on {
		if err := s.blobs.SetExpiry(ctx, v.Bucket, time.Time{}); err != nil {
			s.log.Error("legal hold recorded, the store's expiry rule not removed", "visit", v.ID, "err", err)
			return &Error{Kind: KindUnavailable, Code: "storage_unavailable",
				Msg: "The legal hold is recorded, and the portal will not destroy this visit's evidence while it is set, but the object store did not remove its own expiry date for the evidence. Set the hold again."}
		}
	}
	if err := s.blobs.SetLegalHold(ctx, v.Bucket, on); err != nil {
		s.log.Error("legal hold recorded, object holds not applied", "visit", v.ID, "on", on, "err", err)
		return &Error{Kind: KindUnavailable, Code: "storage_unavailable",
			Msg: "The legal hold is recorded, and the portal acts on it, but the object store did not change its own holds on the evidence. Set or lift the hold again."}
	}
	if !act.Unsettled.IsZero() && s.now().Sub(act.Unsettled) < storeSettle {
		// The act before this one was not recorded carried, and may
		// still be: its request, holding or freeing objects this one has
		// passed, may go on after it, or stop part-way without a word.
		// The store is not known to be at the hold until both have
		// ended: the retention run carries it again then.
		s.log.Warn("legal hold carried to the store beside an earlier act that may still run: the retention run carries it again once both have ended", "visit", v.ID, "on", on)
		_, err := s.store.StoreSideFailed(ctx, act, s.now())
		return err
	}
	return s.store.HoldApplied(ctx, act, s.now(), audit...)
}

// storeSettle is how old an act on a visit's object store (a legal hold,
// a letter event) is before the retention run takes it as stopped
// part-way and finishes it: the request carrying it to the store (one S3
// request for each object version, for a hold) has ended by then.
const storeSettle = 10 * time.Minute

// storeSidesPerRun is how many visits one retention run brings the object
// store to.
const storeSidesPerRun = 100

// finishStoreSides brings the object store to the legal hold and the
// expiry rule of each visit whose act stopped part-way, or overlapped
// another (store.StoreSidesToApply), recording each hold carried in the
// audit trail once (another instance may carry the same act).
func (s *Service) finishStoreSides(ctx context.Context) {
	todo, err := s.store.StoreSidesToApply(ctx, s.now().Add(-storeSettle), storeSidesPerRun)
	if err != nil {
		s.dbErr(ctx, "retention", err)
		return
	}
	for _, h := range todo {
		if h.HoldUnknown {
			// Under way from now: an administrator's act meanwhile is
			// not recorded carried while this carrying may still run
			// (applyHold's Unsettled).
			marked, err := s.store.StoreSideFailed(ctx, h.Act, s.now())
			if err != nil {
				s.dbErr(ctx, "retention", err)
				return
			}
			if !marked {
				// Another act came since the list was read: that act
				// carries the hold as it now is, or the next run does.
				continue
			}
			rec := s.systemRec(h.Visit.ID, "legal_hold.store_applied", "", map[string]any{"on": h.Hold.On, "hold_at": h.Hold.At})
			if err := s.applyHold(ctx, h.Visit, h.Hold.On, h.Act, rec); err != nil {
				// applyHold logged the store's refusals (its *Error); the
				// database's failure is logged here.
				if _, logged := AsError(err); !logged {
					s.log.Error("legal hold not carried to the store", "visit", h.Visit.ID, "err", err)
				}
				s.storeSideFailed(ctx, h.Act, store.UnknownHoldAndRule)
				continue
			}
			s.log.Warn("legal hold carried to the object store by the retention run", "visit", h.Visit.ID, "on", h.Hold.On)
		}
		// An act on the hold leaves the rule unknown too.
		if h.RuleUnknown {
			var expires time.Time
			st, err := s.status(ctx, h.Visit)
			if err == nil {
				expires, err = s.applyRule(ctx, h.Visit, st, h.Act)
			}
			if err != nil {
				s.log.Error("expiry rule not brought to the visit by the retention run", "visit", h.Visit.ID, "err", err)
				s.storeSideFailed(ctx, h.Act, store.UnknownRule)
				continue
			}
			s.log.Warn("expiry rule brought to the visit by the retention run", "visit", h.Visit.ID, "expires", expires)
		}
	}
	s.holdFiles(ctx)
	visits, files, err := s.store.StoreBehind(ctx)
	if err != nil {
		s.dbErr(ctx, "retention", err)
		return
	}
	s.metrics.StoreBehind(visits, files)
}

// holdFiles brings the objects of files stored under a legal hold, whose
// upload stopped before it held them, to their visit's hold (holdFile):
// up to storeSidesPerRun, the oldest first; a file the run fails to hold
// waits behind the others.
func (s *Service) holdFiles(ctx context.Context) {
	todo, err := s.store.FilesToHold(ctx, s.now().Add(-storeSettle), storeSidesPerRun)
	if err != nil {
		s.dbErr(ctx, "retention", err)
		return
	}
	for _, f := range todo {
		if err := s.holdFile(ctx, f); err != nil {
			s.log.Error("objects of a file stored under a legal hold not brought to it by the retention run", "visit", f.Visit.ID, "file", f.FileID, "err", err)
			if err := s.store.FileHoldFailed(ctx, f.FileID, s.now()); err != nil {
				s.log.Error("retention run", "visit", f.Visit.ID, "file", f.FileID, "err", err)
			}
			continue
		}
		s.log.Warn("objects of a file stored under a legal hold brought to it by the retention run", "visit", f.Visit.ID, "file", f.FileID, "on", f.Hold)
	}
}

// storeSideFailed puts a visit the run failed to carry behind the others:
// the next runs try the rest first, then it again. An act superseded
// meanwhile leaves what it was carrying unknown (store.StoreSideEnded).
func (s *Service) storeSideFailed(ctx context.Context, act store.StoreAct, unknown string) {
	if err := s.store.StoreSideEnded(ctx, act, s.now(), s.now(), unknown); err != nil {
		s.log.Error("retention run", "visit", act.VisitID, "err", err)
	}
}

// backstopDays is how long after the portal may destroy a visit at the
// soonest the store's own lifecycle rule expires its objects, should the
// portal be down then.
const backstopDays = 14

// backstopDate is the soonest date the store's own rule may expire a
// visit's objects: none until publication or while on hold; else 14 days
// after the destruction date, or after the day the notice given runs out
// when that is later (a date recorded late, a hold lifted after it). A
// rule dated sooner would have the store remove evidence the portal still
// keeps.
func (s *Service) backstopDate(st Status) time.Time {
	if st.DestroyOn.IsZero() || st.LegalHold {
		return time.Time{}
	}
	d := st.DestroyOn.AddDate(0, 0, backstopDays)
	if st.Notice != nil {
		d = later(d, retention.Earliest(st.DestroyOn, *st.Notice, s.cfg.DestructionNotice))
	}
	return d
}

// ruleDate is the date an act sets the store's rule to: backstopDate, and
// no sooner than 14 days after a notice given now would run out, since the
// run gives it only after the act (a rule dated from a past destruction
// date alone, as it once was, expired the evidence at once).
func (s *Service) ruleDate(st Status) time.Time {
	d := s.backstopDate(st)
	if d.IsZero() {
		return d
	}
	return later(d, s.now().Add(s.cfg.DestructionNotice))
}

// later is d, or the store's day (midnight UTC) after the day of t plus
// backstopDays when that is later.
func later(d, t time.Time) time.Time {
	if f := blobs.ExpiryDay(t.UTC()).AddDate(0, 0, backstopDays+1); f.After(d) {
		return f
	}
	return d
}

// applyRule brings the bucket's lifecycle rule to the visit as it stood
// after act (ruleDate), and records it done (store.RuleApplied). It
// returns the rule's date.
func (s *Service) applyRule(ctx context.Context, v store.Visit, st Status, act store.StoreAct) (time.Time, error) {
	d := s.ruleDate(st)
	if err := s.blobs.SetExpiry(ctx, v.Bucket, d); err != nil {
		return d, err
	}
	return d, s.store.RuleApplied(ctx, act, s.now())
}

// Certificate is a destroyed visit's signed destruction certificate.
type Certificate struct {
	Reference string
	Signed    []byte // JSON, as signed
}

// Certificate returns the visit's destruction certificate.
func (acc *Access) Certificate(ctx context.Context) (Certificate, error) {
	if err := acc.require(ctx, policy.CertificateView, nil); err != nil {
		return Certificate{}, err
	}
	d, err := acc.svc.store.GetDestruction(ctx, acc.Visit.ID)
	if err != nil || d.Certificate == nil {
		return Certificate{}, notFound("This visit has no destruction certificate: it has not been destroyed.")
	}
	// The certificate must be this visit's: one signed for another visit,
	// put in this row, would otherwise be presented as proof of this one.
	var signed retention.Signed
	var named struct {
		VisitID string `json:"visit_id"`
	}
	if json.Unmarshal(d.Certificate, &signed) != nil || json.Unmarshal(signed.Certificate, &named) != nil || named.VisitID != acc.Visit.ID {
		return Certificate{}, fmt.Errorf("portal: the certificate held for visit %s names visit %q", acc.Visit.ID, named.VisitID)
	}
	return Certificate{Reference: d.Reference, Signed: d.Certificate}, nil
}

// Record is what is kept of a destroyed visit for those who may see it:
// its team and its certificate (verified with the portal's own key, so a
// page never shows a certificate the portal did not sign as if it had:
// Checked).
type Record struct {
	Team        []MemberView
	Events      []EventView // the letter events, in order
	DestroyOn   string      // the date the schedule set (YYYY-MM-DD)
	Certificate retention.Certificate
	// Checked: the certificate's signature checks with the portal's
	// signing key. When it does not (signed with a key since replaced, or
	// changed where it is held) its fields are shown as what it says,
	// marked as unchecked, for the reader to verify offline.
	Checked   bool
	Destroyed time.Time // when the destruction completed
}

// DestroyedRecord returns the record of the visit, once destroyed. Those
// who may see its certificate (policy.CertificateView) may see its record.
func (acc *Access) DestroyedRecord(ctx context.Context) (Record, error) {
	cert, err := acc.Certificate(ctx)
	if err != nil {
		return Record{}, err
	}
	c, err := retention.Verify(cert.Signed, acc.svc.SigningPublicKey())
	checked := err == nil
	if err != nil {
		// Signed by a key since replaced: the fields still tell the story;
		// verifying it offline is the reader's check.
		var s retention.Signed
		if json.Unmarshal(cert.Signed, &s) != nil || json.Unmarshal(s.Certificate, &c) != nil {
			return Record{}, fmt.Errorf("portal: certificate of %s does not parse", acc.Visit.ID)
		}
	}
	d, err := acc.svc.store.GetDestruction(ctx, acc.Visit.ID)
	if err != nil {
		return Record{}, err
	}
	ms, err := acc.svc.store.Members(ctx, acc.Visit.ID)
	if err != nil {
		return Record{}, err
	}
	evs, err := acc.svc.store.Events(ctx, acc.Visit.ID)
	if err != nil {
		return Record{}, err
	}
	out := Record{Certificate: c, Checked: checked, Destroyed: d.CompletedAt, Team: make([]MemberView, 0, len(ms)), Events: make([]EventView, len(evs))}
	for i, e := range evs {
		out.Events[i] = EventView{e.Event, e.Date.Format(time.DateOnly)}
	}
	if on := retention.DestroyOn(letterOf(evs), acc.Visit.RetentionDays); !on.IsZero() {
		out.DestroyOn = on.Format(time.DateOnly)
	}
	for _, m := range ms {
		out.Team = append(out.Team, memberView(m))
	}
	sort.SliceStable(out.Team, func(i, j int) bool { return out.Team[i].Role < out.Team[j].Role })
	return out, nil
}
