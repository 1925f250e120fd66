package portal

import (
	"context"
	"fmt"
	"time"

	"github.com/ofsted-portal/evidence/policy"
	"github.com/ofsted-portal/evidence/portal/store"
)

// defaultItems are the restrictions every new visit starts with: child-level
// data names every child in the sample, so only the lead inspector, the QAM
// and the analysts see it until an administrator decides otherwise.
func defaultItems() []store.Item {
	return []store.Item{{Code: ItemChildLevelData, Restricted: true, Roles: policy.ChildLevelDataRoles}}
}

// accessWindow is when a member may act on a visit: [from, until). A zero
// until means open-ended.
type accessWindow struct {
	from, until time.Time
}

func (w accessWindow) contains(t time.Time) bool {
	return !t.Before(w.from) && (w.until.IsZero() || t.Before(w.until))
}

// startOfDay is midnight in London at the start of a civil date.
func startOfDay(d time.Time) time.Time {
	y, m, day := d.Date()
	return time.Date(y, m, day, 0, 0, 0, 0, london)
}

// memberWindow applies the defaults to a member's stored window: access
// opens on the notification date; provider staff lose it at the end of the
// fifth working day after fieldwork; inspectors and analysts at publication;
// the lead inspector and the QAM keep it until destruction. Publication and
// destruction close access through the visit's state, not a date here.
func (s *Server) memberWindow(v store.Visit, m store.Member, published time.Time) accessWindow {
	w := accessWindow{from: m.ValidFrom, until: m.ValidUntil}
	if w.from.IsZero() {
		w.from = startOfDay(v.NotificationDate)
	}
	switch {
	case !w.until.IsZero():
	case policy.IsProviderRole(m.Role):
		if tl, err := s.timeline(v); err == nil {
			w.until = startOfDay(s.cal.AddWorkingDays(tl.FieldworkEnd, 5).AddDate(0, 0, 1))
		}
	case (m.Role == policy.RoleInspector || m.Role == policy.RoleAnalyst) && !published.IsZero():
		w.until = startOfDay(published.AddDate(0, 0, 1)) // the end of publication day
	}
	return w
}

// windowOf is memberWindow with the visit's publication date looked up.
func (s *Server) windowOf(ctx context.Context, v store.Visit, m store.Member) (accessWindow, error) {
	st, err := s.visitStatus(ctx, v)
	if err != nil {
		return accessWindow{}, err
	}
	return s.memberWindow(v, m, st.Letter.Published), nil
}

// windowMessage tells a member when their access opened or closed.
func windowMessage(w accessWindow, now time.Time) string {
	const layout = "Monday 2 January 2006 at 15:04"
	if now.Before(w.from) {
		return fmt.Sprintf("Your access to this visit opens on %s.", w.from.In(london).Format(layout))
	}
	return fmt.Sprintf("Your access to this visit closed on %s. Ask the portal administrator if you still need it.", w.until.In(london).Format(layout))
}

// principal describes acc for policy.
func (s *Server) principal(acc *access) policy.Principal {
	p := policy.Principal{UserID: acc.user.ID, Administrator: acc.admin, Role: acc.member.Role}
	if p.Role != "" {
		p.InWindow = acc.window.contains(s.now())
	}
	return p
}

// resource describes the visit (and file, if any) of acc for policy.
func (s *Server) resource(ctx context.Context, acc *access, f *store.File) (policy.Resource, error) {
	if acc.visit.ID == "" {
		return policy.Resource{}, nil
	}
	st := acc.status
	if st.State == "" {
		var err error
		if st, err = s.visitStatus(ctx, acc.visit); err != nil {
			return policy.Resource{}, err
		}
		acc.status = st
	}
	r := policy.Resource{VisitID: acc.visit.ID, VisitState: st.State, AcceptsUploads: st.AcceptsUploads}
	if f != nil && f.ID != "" {
		it, err := s.store.Item(ctx, acc.visit.ID, f.Item)
		if err != nil {
			return r, err
		}
		r.File = &policy.File{ID: f.ID, UploadedBy: f.UploadedBy, Item: f.Item, Restricted: it.Restricted, Roles: it.Roles}
	}
	return r, nil
}

// fileFilter decides which files the principal may act on (list them,
// download them into an archive). It asks policy once per distinct (item,
// own file or not), not once per file.
func (s *Server) fileFilter(ctx context.Context, acc *access, action policy.Action) func(store.File) (bool, error) {
	type key struct {
		item string
		own  bool
	}
	cache := map[key]bool{}
	p := s.principal(acc)
	return func(f store.File) (bool, error) {
		k := key{f.Item, f.UploadedBy == acc.user.ID}
		if ok, seen := cache[k]; seen {
			return ok, nil
		}
		rep := f
		if !k.own {
			rep.UploadedBy = "" // any other uploader
		}
		r, err := s.resource(ctx, acc, &rep)
		if err != nil {
			return false, err
		}
		ok := s.policy.Decide(p, action, r).Allow
		cache[k] = ok
		return ok, nil
	}
}
