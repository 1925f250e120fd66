package portal

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/ofsted-portal/evidence/portal/calendar"
	"github.com/ofsted-portal/evidence/portal/retention"
	"github.com/ofsted-portal/evidence/portal/store"
	"github.com/ofsted-portal/evidence/portal/timeline"
)

// ScheduleNotifications writes the notifications that follow from the
// calendar rather than an act: the provider's daily digest of items due
// on the next working day or newly overdue, a member's access closing in
// 2 working days, and a destruction not yet approved on the working day
// before its date. Each is keyed by its day, so running this again, or on
// several instances at once, writes it once.
func (s *Service) ScheduleNotifications(ctx context.Context) error {
	var errs []error
	// Sent and skipped rows are kept for a while for diagnosis, then go.
	if err := s.store.PurgeNotifications(ctx, s.now().Add(-noteKeep)); err != nil {
		errs = append(errs, err)
	}
	// The active visits, a page at a time with what their status needs,
	// and their members.
	err := s.store.LiveVisitPages(ctx, func(rows []store.VisitRow) error {
		var ids []string
		for _, r := range rows {
			if r.State == StateActive {
				ids = append(ids, r.ID)
			}
		}
		members, err := s.store.MembersOf(ctx, ids)
		if err != nil {
			return err
		}
		for _, r := range rows {
			if r.State != StateActive {
				continue
			}
			outs, err := s.scheduled(ctx, r.Visit, s.statusOf(r), members[r.ID])
			if err == nil {
				err = s.store.Enqueue(ctx, s.now(), outs...)
			}
			if err != nil {
				errs = append(errs, err)
			}
		}
		return nil
	})
	if err != nil {
		errs = append(errs, s.dbErr(ctx, "mail", err))
	}
	return errors.Join(errs...)
}

// publicationGrace is how many working days past its usual day (30 working
// days after fieldwork) a letter's publication may go unrecorded before
// the portal says so.
const publicationGrace = 10

// noteKeep is how long a sent or skipped notification stays in the outbox.
const noteKeep = 30 * 24 * time.Hour

// scheduled is what v (its status st, its members ms) calls for today.
func (s *Service) scheduled(ctx context.Context, v store.Visit, st Status, ms []store.Member) ([]store.Outgoing, error) {
	today := s.Today()
	day := today.Format(time.DateOnly)
	var outs []store.Outgoing
	// The digest goes out on working days: Friday's tells of Monday's
	// items, Monday's of those that became overdue on Friday.
	if st.AcceptsUploads && st.Timeline != nil && s.cal.IsWorkingDay(today) {
		due, overdue, err := s.itemsDue(ctx, v, st)
		if err != nil {
			return nil, err
		}
		if due+overdue > 0 {
			outs = append(outs, store.Outgoing{Kind: NoteProviderDigest, VisitID: v.ID, To: store.Audience{Roles: providerStaff}, Period: day,
				Data: map[string]string{"due": strconv.Itoa(due), "overdue": strconv.Itoa(overdue), "date": s.cal.NextWorkingDay(today).Format(time.DateOnly)}})
		}
	}
	for _, m := range ms {
		w := s.memberWindow(v, st, m)
		if w.Until.IsZero() || !w.Contains(s.now()) {
			continue
		}
		last := lastDay(w.Until)
		if !today.Before(s.cal.AddWorkingDays(last, -2)) {
			outs = append(outs, store.Outgoing{Kind: NoteAccessClosing, VisitID: v.ID, To: store.Audience{MemberID: m.ID},
				Period: last.Format(time.DateOnly)})
		}
	}
	// A letter whose publication is not recorded keeps the evidence for
	// ever, and nothing else would say so: once publication is well past
	// its usual day (publicationGrace working days after it), the lead
	// inspector and the administrators hear every week until it is
	// recorded. Not while a complaint stops publication.
	if st.Timeline != nil && st.State == timeline.Reporting && !today.Before(s.cal.AddWorkingDays(st.Timeline.PublicationExpected, publicationGrace)) {
		y, w := today.ISOWeek()
		outs = append(outs, store.Outgoing{Kind: NotePublicationLate, VisitID: v.ID, To: store.Audience{Roles: leadOnly, Admins: true},
			Period: fmt.Sprintf("%d-W%02d", y, w), Data: map[string]string{"date": st.Timeline.PublicationExpected.Format(time.DateOnly)}})
	}
	// The day the destruction may run: its date, or the day its notice
	// runs to when given late (again after a legal hold was lifted), as
	// the notice's own mail says. A fresh notice is a fresh reminder.
	if n := st.Notice; n != nil && n.ApprovedAt.IsZero() && !st.LegalHold {
		on := st.DestroyOn
		if d := calendar.Today(retention.Earliest(st.DestroyOn, *n, s.cfg.DestructionNotice)); d.After(on) {
			on = d
		}
		if !today.Before(s.cal.PreviousWorkingDay(on)) {
			outs = append(outs, store.Outgoing{Kind: NoteDestructionReview, VisitID: v.ID, To: store.Audience{Admins: true},
				Period: on.Format(time.DateOnly), Data: map[string]string{"date": on.Format(time.DateOnly)}})
		}
	}
	return outs, nil
}

// itemsDue counts the items of the information request not yet received
// that are due on the next working day, and those that became overdue
// since the last working day (an item is due by the end of its day). An
// item the coordinator marked complete is neither, with or without files:
// the request shows it complete, and the digest says the same.
func (s *Service) itemsDue(ctx context.Context, v store.Visit, st Status) (due, overdue int, err error) {
	items, err := s.store.RequestItems(ctx, v.ID)
	if err != nil {
		return 0, 0, err
	}
	counts, err := s.store.ItemFileCounts(ctx, v.ID)
	if err != nil {
		return 0, 0, err
	}
	today := s.Today()
	next, prev := s.cal.NextWorkingDay(today), s.cal.PreviousWorkingDay(today)
	for _, it := range items {
		if counts[it.Code] > 0 || !it.CompletedAt.IsZero() {
			continue
		}
		d := s.dueDate(it, *st.Timeline)
		switch {
		case d.Equal(next):
			due++
		case !d.Before(prev) && d.Before(today):
			overdue++
		}
	}
	return due, overdue, nil
}
