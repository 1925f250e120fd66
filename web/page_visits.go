package web

import (
	"fmt"
	"net/http"
	"sort"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/ofsted-portal/evidence/portal"
	"github.com/ofsted-portal/evidence/portal/calendar"
)

type visitRow struct {
	ID, Reference, Title, State, NotificationDate, Role string
	NextDue, NextDueDate                                string
	DestroyOn                                           string
	DueIn                                               string // when, from today: "in 3 days", "today", "past its date", "from 7 Jan"
	// Withheld is the tag of a visit the member may not view ("" for the
	// others): their access window is not open to it, or its destruction
	// has begun. Its row shows the reference, why in words (Title) and the
	// role, nothing else of the visit.
	Withheld string
}

// nextDue is the next date on the visit's timeline from today, and what is
// due then.
func nextDue(vj portal.VisitView, today time.Time) (what, when string) {
	tl := vj.Timeline
	if tl == nil {
		return "", ""
	}
	for _, d := range []struct {
		what string
		on   time.Time
	}{
		{"Child-level data lists", tl.DataListsDue}, {"Annex A information", tl.AnnexADue}, {"Cases named", tl.CasesNamed},
		{"Fieldwork", tl.FieldworkStart}, {"Draft letter", tl.DraftLetterDue}, {"Final letter", tl.FinalLetterDue},
		{"Publication", tl.PublicationExpected},
	} {
		if !d.on.Before(today) {
			return d.what, d.on.Format("Mon 2 Jan 2006")
		}
	}
	return "", ""
}

// destructionWarning is the banner administrators see from the notice of a
// visit's destruction (the notice period before its date, or at once when
// the date has come) until it is destroyed.
func destructionWarning(vj portal.VisitView, notice time.Duration) string {
	if d := vj.Destruction; d != nil && d.FailedAt != nil {
		return fmt.Sprintf("The destruction of %s failed on %s (attempt %d): %s. It is tried again from %s; the portal's operators have the details in the log.",
			vj.Reference, d.FailedAt.In(calendar.London).Format("2 January 2006 15:04"), d.Attempts, d.Failure, d.RetryAt.In(calendar.London).Format("2 January 2006 15:04"))
	}
	if vj.DestroyOn == nil || vj.Destruction == nil && time.Duration(*vj.DaysUntilDestruction)*24*time.Hour > notice {
		return ""
	}
	if vj.LegalHold {
		return fmt.Sprintf("%s was due for destruction on %s but a legal hold stops it.", vj.Reference, *vj.DestroyOn)
	}
	review := " Review it on the destruction review page."
	if d := vj.Destruction; d != nil && d.ApprovedAt != nil {
		review = " " + d.ApprovedBy + " approved it."
	}
	if days := *vj.DaysUntilDestruction; days >= 0 && !noticeRunsPast(vj) {
		return fmt.Sprintf("%s will be destroyed on %s, in %s. Set a legal hold now if it must be kept.%s", vj.Reference, *vj.DestroyOn, plural(days, "day"), review)
	}
	when := "as soon as an administrator approves it, or when its notice has run"
	if d := vj.Destruction; d != nil {
		when = "from " + d.NotBefore.In(calendar.London).Format("2 January 2006 15:04") + " unless an administrator approves it sooner"
		if d.ApprovedAt != nil {
			when = "at the next destruction sweep"
		}
	}
	due := "was due for destruction"
	if *vj.DaysUntilDestruction >= 0 {
		due = "is due for destruction"
	}
	return fmt.Sprintf("%s %s on %s and will be destroyed %s. Set a legal hold now if it must be kept.%s", vj.Reference, due, *vj.DestroyOn, when, review)
}

// noticeRunsPast says whether the notice of the visit's destruction holds
// it back past its date (given late: again after a legal hold was lifted,
// say): the sweep destroys it no sooner than DestroyFrom.
func noticeRunsPast(vj portal.VisitView) bool {
	return vj.DestroyOn != nil && vj.DestroyFrom != nil && vj.DestroyFrom.In(calendar.London).Format(time.DateOnly) > *vj.DestroyOn
}

// dueIn is what a list of visits says of when a visit is destroyed,
// beside its date (destructionDue).
func dueIn(vj portal.VisitView) string {
	if noticeRunsPast(vj) {
		return "from " + vj.DestroyFrom.In(calendar.London).Format("2 Jan 15:04")
	}
	switch days := *vj.DaysUntilDestruction; {
	case days < 0:
		return "past its date"
	case days == 0:
		return "today"
	default:
		return "in " + plural(days, "day")
	}
}

// destructionDue is what the visit page says of a visit's destruction,
// before it begins: the date and how far off it is; once the notice of it
// holds it back past that date, from when; past it, that it was due ("" with
// no date yet).
func destructionDue(vj portal.VisitView) string {
	if vj.DestroyOn == nil || vj.DaysUntilDestruction == nil {
		return ""
	}
	if noticeRunsPast(vj) {
		return fmt.Sprintf("Evidence will be destroyed from %s, when the notice of its destruction has run (it was due on %s).",
			vj.DestroyFrom.In(calendar.London).Format("2 January 2006 15:04"), *vj.DestroyOn)
	}
	switch days := *vj.DaysUntilDestruction; {
	case days < 0:
		return fmt.Sprintf("Evidence was due for destruction on %s. It is destroyed once the notice of its destruction has run.", *vj.DestroyOn)
	case days == 0:
		return fmt.Sprintf("Evidence will be destroyed today, %s.", *vj.DestroyOn)
	default:
		return fmt.Sprintf("Evidence will be destroyed on %s: %s from today.", *vj.DestroyOn, plural(days, "day"))
	}
}

func plural(n int, unit string) string {
	if n == 1 {
		return "1 " + unit
	}
	return fmt.Sprintf("%d %ss", n, unit)
}

func (s *Server) visitsPage(c *gin.Context) {
	acc := accessOf(c)
	// Administrators are warned, whatever the page, of every visit under a
	// destruction notice or whose destruction failed (the sweep gives the
	// notice as soon as the date comes within the notice period).
	var list portal.VisitList
	var warned []portal.VisitView
	var total int
	var err error
	if acc.Actor.Administrator {
		list, warned, total, err = s.svc.VisitsWarned(c.Request.Context(), acc.Actor, c.Query("after"))
	} else {
		list, err = s.svc.Visits(c.Request.Context(), acc.Actor, c.Query("after"))
	}
	if err != nil {
		s.fail(c, err)
		return
	}
	vs := list.Visits
	rows := make([]visitRow, 0, len(vs))
	var warnings []string
	today := s.svc.Today()
	for i := range vs {
		vj := &vs[i]
		r := visitRow{ID: vj.ID, Reference: vj.Reference, Title: vj.Title, State: vj.State, NotificationDate: vj.NotificationDate, Role: vj.Role}
		switch vj.Access {
		case portal.AccessClosed:
			r.Title, r.Withheld = vj.AccessMessage, "Access ended"
		case portal.AccessNotOpen:
			r.Title, r.Withheld = vj.AccessMessage, "Access not open yet"
		case portal.AccessSuspended:
			r.Title, r.Withheld = vj.AccessMessage, "Access suspended"
		case portal.AccessDestroyed:
			r.Title, r.Withheld = vj.AccessMessage, "Destroyed"
		}
		if r.Withheld != "" {
			rows = append(rows, r)
			continue
		}
		if vj.State != portal.StatePublished {
			r.NextDue, r.NextDueDate = nextDue(*vj, today)
		}
		if vj.DestroyOn != nil {
			r.DestroyOn, r.DueIn = *vj.DestroyOn, dueIn(*vj)
		}
		rows = append(rows, r)
	}
	if acc.Actor.Administrator {
		// The visits on this page, and the visits warned of, each read
		// where it is (not copied, fifty large values, into one list).
		seen := make(map[string]bool, len(vs)+len(warned))
		for _, list := range [][]portal.VisitView{vs, warned} {
			for i := range list {
				vj := &list[i]
				if seen[vj.ID] {
					continue
				}
				seen[vj.ID] = true
				if w := destructionWarning(*vj, s.cfg.DestructionNotice); w != "" {
					warnings = append(warnings, w)
				}
			}
		}
		if more := total - len(warned); more > 0 {
			warnings = append(warnings, fmt.Sprintf("%s more under a destruction notice or whose destruction failed: see the destruction review page.", plural(more, "visit")))
		}
		// What is wrong but optional, as /readyz reports it.
		degraded := s.svc.Degraded()
		keys := make([]string, 0, len(degraded))
		for k := range degraded {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			warnings = append(warnings, degraded[k])
		}
		warnings = append(warnings, s.scanWarnings(c)...)
	}
	s.renderNav(c, "visits", "Your visits", "visits", gin.H{"Rows": visitRowsHTML(rows), "Administrator": acc.Actor.Administrator, "Warnings": warnings, "Next": list.Next, "First": c.Query("after") != ""})
}

func (s *Server) createVisitForm(c *gin.Context) {
	f := postedForm(c, "reference", "title", "provider")
	req := portal.NewVisit{Reference: strings.TrimSpace(f.Value("reference")), Title: f.Value("title"), Provider: f.Value("provider")}
	// Every error at once, in the order of the fields (each input's id is
	// its field's name).
	for _, e := range portal.CheckVisitText(req) {
		f.Add(e.Field, e.Msg)
	}
	req.NotificationDate, _ = f.dateField(c.PostForm, "notification_date", "The notification date", true)
	req.FieldworkStart, _ = f.dateField(c.PostForm, "fieldwork_start", "The fieldwork start", true)
	if len(f.Errors) > 0 {
		s.showForm(c, f, http.StatusBadRequest, s.visitsPage)
		return
	}
	v, err := s.svc.CreateVisit(c.Request.Context(), accessOf(c).Actor, req)
	if err != nil {
		s.refuse(c, f, err, map[string]string{"reference": "reference", "title": "title", "provider": "provider",
			"notification_date": "notification_date-day", "fieldwork_start": "fieldwork_start-day"}, "reference", s.visitsPage)
		return
	}
	s.flash(c, v.Reference+" is created. Add its members.")
	c.Redirect(http.StatusSeeOther, "/visits/"+v.ID+"/members")
}
