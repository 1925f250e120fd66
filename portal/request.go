package portal

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/ofsted-portal/evidence/crypto"
	"github.com/ofsted-portal/evidence/policy"
	"github.com/ofsted-portal/evidence/portal/calendar"
	"github.com/ofsted-portal/evidence/portal/store"
	"github.com/ofsted-portal/evidence/portal/timeline"
)

// The information request: what the inspectors asked the provider for, with
// due dates from the timeline. A new visit starts with the Annex A
// template; the lead inspector or an administrator edits it and adds the
// case files of the children named for fieldwork.

// Kinds of request item.
const (
	KindDataList = "data_list" // day 3: child-level data lists, audited cases list
	KindAnnexA   = "annex_a"   // day 5: numbered Annex A items
	KindCaseFile = "case_file" // fieldwork: a named child's case file
)

// Due anchors on the timeline.
const (
	dueDataLists = "data_lists_due"
	dueAnnexA    = "annex_a_due"
	dueFieldwork = "fieldwork_start"
)

type requestTemplate struct{ code, kind, title, due string }

// annexA is the Annex A template (domain.md): the day-3 lists and the known
// numbered items.
var annexA = []requestTemplate{
	{ItemChildLevelData, KindDataList, "Child-level data: every case closed in the 2 weeks before the visit (state the date range)", dueDataLists},
	{ItemAuditedCases, KindDataList, "List of recently audited cases", dueDataLists},
	{"1.01", KindAnnexA, "Organisational structure (lines of reporting and accountability)", dueAnnexA},
	{"1.02", KindAnnexA, "Case allocation and transfer policy, workflow documents and flowcharts (public and private law)", dueAnnexA},
	{"1.03", KindAnnexA, "Management information reports (latest national and regional monthly or quarterly reports, improvement plans)", dueAnnexA},
	{"1.04", KindAnnexA, "Feedback from children and families, complaints, serious incident notifications, and what was done in response", dueAnnexA},
	{"1.05", KindAnnexA, "Latest national and regional self-evaluations of practice; peer or external evaluations in the last 12 months", dueAnnexA},
}

func requestTitleContext(visitID, code string) string { return "request-item:" + visitID + ":" + code }

func defaultRequest(key *crypto.VisitKey, visitID, by string) []store.RequestItem {
	out := make([]store.RequestItem, len(annexA))
	for i, t := range annexA {
		out[i] = store.RequestItem{VisitID: visitID, Code: t.code, Kind: t.kind, Due: t.due, Position: i,
			TitleSealed: key.Seal([]byte(t.title), requestTitleContext(visitID, t.code)), AddedBy: by}
	}
	return out
}

// RequestItemView is one item of the information request as shown.
type RequestItemView struct {
	Code   string `json:"code"`
	Kind   string `json:"kind"`
	Title  string `json:"title"`
	Due    string `json:"due"`    // YYYY-MM-DD, end of that working day
	Status string `json:"status"` // complete, received (not yet complete), due, overdue; restricted when withheld
	Files  int    `json:"files"`  // files filed under the item, whoever may see them
	// CompletedAt is when the provider coordinator marked the item
	// complete.
	CompletedAt *time.Time `json:"completed_at,omitempty"`
	// Withheld is an item restricted to roles other than the viewer's
	// (policy.ItemView): no title (a case file's names its child), no
	// count of files, and no status but "restricted" (which would say
	// whether anything was sent for it); its due date stays.
	Withheld bool `json:"withheld,omitempty"`
}

// dueDate is the date an item is due by the end of: the date set for it,
// else its anchor on the timeline (day 3, day 5, the start of fieldwork),
// or the working day it was asked for when that is later. An item is never
// due before it was asked for: an Annex A item added on day 6, or the case
// file of a child named during fieldwork, is due by the end of the day it
// was added, not overdue from the moment it was.
func (s *Service) dueDate(it store.RequestItem, tl timeline.Timeline) time.Time {
	var due time.Time
	switch it.Due {
	case dueDataLists:
		due = tl.DataListsDue
	case dueAnnexA:
		due = tl.AnnexADue
	case dueFieldwork:
		due = tl.FieldworkStart
	default:
		d, _ := calendar.ParseDate(it.Due)
		return d
	}
	if asked := calendar.Today(it.AddedAt); asked.After(due) {
		due = asked
		if !s.cal.IsWorkingDay(due) {
			due = s.cal.NextWorkingDay(due)
		}
	}
	return due
}

// InformationRequest is the visit's information request with each item's
// state today. The provider and the inspection team see the same list;
// counts are of files, not their names.
func (acc *Access) InformationRequest(ctx context.Context) ([]RequestItemView, error) {
	if err := acc.require(ctx, policy.VisitView, nil); err != nil {
		return nil, err
	}
	s, v := acc.svc, acc.Visit
	switch v.State {
	case StateDestroyed:
		return nil, errGone // its titles went with its key
	case StateDestroying:
		return nil, errBeingDestroyed
	}
	key, err := acc.key(ctx)
	if err != nil {
		return nil, err
	}
	items, err := s.store.RequestItems(ctx, v.ID)
	if err != nil {
		return nil, err
	}
	// The counts come from the file index: one small read when nothing
	// changed, where counting in the database reads every file's entry.
	vf, err := s.keys.indexedFiles(ctx, v.ID, key)
	if err != nil {
		return nil, err
	}
	// A file the scanner has not yet cleared is shown to provider staff
	// alone (policy withheld-until-scanned): it answers an item for them,
	// not for the inspection team, who cannot see it.
	counts := vf.cleared
	if policy.IsProviderRole(acc.Member.Role) {
		counts = vf.live
	}
	// Without a timeline (Status.TimelineProblem) the items are shown
	// without due dates, and none is overdue.
	tl := acc.Status.Timeline
	today := s.Today()
	res, err := acc.resource(ctx, nil)
	if err != nil {
		return nil, err
	}
	p := acc.principal()
	out := make([]RequestItemView, 0, len(items))
	for _, it := range items {
		// A restricted item's title (a case file's names its child) and
		// count are for those the policy lets see it: the rest see that
		// it is there, and when it is due.
		rs, err := acc.restriction(ctx, it.Code)
		if err != nil {
			return nil, err
		}
		res.Item = &policy.Item{Code: it.Code, Restricted: rs.Restricted, Roles: rs.Roles}
		withheld := !s.policy.Decide(p, policy.ItemView, res).Allow
		var title []byte
		if !withheld {
			if title, err = key.Open(it.TitleSealed, requestTitleContext(v.ID, it.Code)); err != nil {
				return nil, fmt.Errorf("request item %s: title does not open: %w", it.Code, err)
			}
		}
		var due time.Time
		if tl != nil {
			due = s.dueDate(it, *tl)
		}
		st := "due"
		var completed *time.Time
		switch {
		case !it.CompletedAt.IsZero():
			st, completed = "complete", &it.CompletedAt
		case counts[it.Code] > 0:
			st = "received"
		case tl != nil && today.After(due):
			st = "overdue"
		}
		view := RequestItemView{Code: it.Code, Kind: it.Kind, Title: string(title), Status: st, Files: counts[it.Code], CompletedAt: completed, Withheld: withheld}
		if withheld {
			// Nor whether anything was sent for it.
			view.Status, view.Files, view.CompletedAt = "restricted", 0, nil
		}
		if tl != nil {
			view.Due = due.Format(time.DateOnly)
		}
		out = append(out, view)
	}
	return out, nil
}

// RequestItemInput adds or changes an item of the information request.
type RequestItemInput struct {
	Kind  string `json:"kind" form:"kind"`
	Code  string `json:"code" form:"code"`
	Title string `json:"title" form:"title"`
	Due   string `json:"due" form:"due"`
}

// SaveMode says how SaveRequestItem treats an item that exists.
type SaveMode int

// The API adds (conflict if it exists) or changes (not found if it does
// not); the page's form adds or changes.
const (
	AddItem SaveMode = iota
	ChangeItem
	AddOrChangeItem
)

// SaveRequestItem adds (code "" for a case file: the next case-N) or
// changes an item of the information request, and returns it as shown.
func (acc *Access) SaveRequestItem(ctx context.Context, in RequestItemInput, mode SaveMode) (RequestItemView, error) {
	if err := acc.require(ctx, policy.RequestManage, nil); err != nil {
		return RequestItemView{}, err
	}
	s := acc.svc
	in.Title = strings.TrimSpace(in.Title)
	switch err := validText("title", in.Title, 300); {
	case in.Title == "":
		return RequestItemView{}, invalid("title", "Enter what is requested.")
	case err != nil && utf8.RuneCountInString(in.Title) > 300:
		return RequestItemView{}, invalid("title", "Keep what is requested to 300 characters or fewer.")
	case err != nil:
		return RequestItemView{}, invalid("title", "What is requested must not contain control characters.")
	}
	due := ""
	var early error
	if in.Due != "" {
		d, err := calendar.ParseDate(in.Due)
		if err != nil {
			return RequestItemView{}, invalid("due", "The due date must be a date in the form YYYY-MM-DD.")
		}
		if err := timeline.WorkingDay(s.cal, "due date", d); err != nil {
			return RequestItemView{}, invalid("due", capitalise(err.Error())+".")
		}
		// A date the provider can meet: not before they are told of the
		// visit, nor after uploads close at the end of fieldwork (a
		// mistyped year would leave the item never due, or overdue at
		// once). Without a timeline no range can be worked out: refused.
		tl := acc.Status.Timeline
		if tl == nil {
			return RequestItemView{}, invalid("due", "A due date cannot be set while the visit's dates do not fit the bank holiday calendar: leave it empty, or ask the operator to put the calendar right.")
		}
		if d.Before(tl.Notification) || d.After(tl.FieldworkEnd) {
			return RequestItemView{}, invalidf("due", "The due date must be from %s, the notification date, to %s, the end of fieldwork, when uploads close.",
				tl.Notification.Format("2 January 2006"), tl.FieldworkEnd.Format("2 January 2006"))
		}
		// Nor before the day it is set: an item is never due before it is
		// asked for, and one due on a day gone would be overdue from the
		// moment it is asked (dueDate keeps the same rule for the
		// timeline's dates).
		// Refused once the item itself is known good, so that a wrong
		// item number is the refusal shown first, as the form reads.
		if today := s.Today(); d.Before(today) {
			early = invalidf("due", "The due date must be today, %s, or later: an item cannot be due before it is asked for.",
				today.Format("2 January 2006"))
		}
		due = d.Format(time.DateOnly)
	}
	key, err := acc.key(ctx)
	if err != nil {
		return RequestItemView{}, err
	}
	// A case file takes the next free number; the primary key decides a
	// race, and the loser takes the number after. The page's form, which
	// adds or changes, changes the item another added since it looked.
	code := ""
	for attempt := 0; ; attempt++ {
		items, err := s.store.RequestItems(ctx, acc.Visit.ID)
		if err != nil {
			return RequestItemView{}, err
		}
		var existing *store.RequestItem
		for i := range items {
			if items[i].Code == in.Code {
				existing = &items[i]
			}
		}
		if mode == ChangeItem && existing == nil {
			return RequestItemView{}, errNotFound
		}
		if mode == ChangeItem || mode == AddOrChangeItem && existing != nil {
			if early != nil {
				return RequestItemView{}, early
			}
			it := *existing
			if due != "" {
				it.Due = due
			}
			was, err := key.Open(it.TitleSealed, requestTitleContext(acc.Visit.ID, it.Code))
			if err != nil {
				return RequestItemView{}, err
			}
			retitled := string(was) != in.Title
			it.TitleSealed = key.Seal([]byte(in.Title), requestTitleContext(acc.Visit.ID, it.Code))
			if !retitled {
				// The title as it stands, not as it was read: another's
				// change since is not undone.
				it.TitleSealed = nil
			}
			// The title may name a child: the trail has the code and kind
			// only. A case file's title says which child its files are
			// about: changed under them, they would read as another
			// child's, with no trace of whose they were. It stays while
			// files are filed under it, as the item does
			// (RemoveRequestItem), and while questions or purged files'
			// records name it: the store refuses it then.
			rec := acc.rec("request.item_changed", it.Code, "success", map[string]any{"kind": it.Kind, "due": it.Due, "retitled": retitled})
			err = s.store.ChangeRequestItem(ctx, it, retitled && it.Kind == KindCaseFile, rec)
			if errors.Is(err, store.ErrItemHasFiles) {
				return RequestItemView{}, &Error{Kind: KindConflict, Code: "item_has_files", Field: "title",
					Msg: "Files are filed under case file " + it.Code + ", so its title, which says which child they are about, stays as it is. To ask for another child, add a new case file; the provider files the files under the right one."}
			}
			if errors.Is(err, store.ErrItemAskedAbout) {
				return RequestItemView{}, &Error{Kind: KindConflict, Code: "item_asked_about", Field: "title",
					Msg: "Questions, or the records of files removed from it, are about case file " + it.Code + ", so its title, which says which child they are about, stays as it is. To ask for another child, add a new case file."}
			}
			if err != nil {
				return RequestItemView{}, err
			}
			code = it.Code
			break
		}
		var used []string
		if in.Kind == KindCaseFile {
			if used, err = s.store.CaseCodesUsed(ctx, acc.Visit.ID); err != nil {
				return RequestItemView{}, err
			}
		}
		it, err := acc.newRequestItem(in, items, used)
		if err != nil {
			return RequestItemView{}, err
		}
		if early != nil {
			return RequestItemView{}, early
		}
		if due != "" {
			it.Due = due
		}
		it.TitleSealed = key.Seal([]byte(in.Title), requestTitleContext(acc.Visit.ID, it.Code))
		rec := acc.rec("request.item_added", it.Code, "success", map[string]any{"kind": it.Kind, "due": it.Due})
		err = s.store.AddRequestItem(ctx, it, rec)
		if errors.Is(err, store.ErrConflict) && (in.Kind == KindCaseFile || mode == AddOrChangeItem) && attempt < 100 {
			continue
		}
		if errors.Is(err, store.ErrConflict) {
			return RequestItemView{}, conflict("Item " + it.Code + " is already in the information request.")
		}
		if err != nil {
			return RequestItemView{}, err
		}
		code = it.Code
		break
	}
	all, err := acc.InformationRequest(ctx)
	if err != nil {
		return RequestItemView{}, err
	}
	for _, x := range all {
		if x.Code == code {
			return x, nil
		}
	}
	return RequestItemView{}, errNotFound
}

// newRequestItem validates a new item against the request as it stands. A
// case file takes the number after the highest in the request or among
// used, the case-file codes the visit's files, uploads, questions and
// restrictions name (store.CaseCodesUsed): a request removed leaves its
// files under its number, which is never given to another child.
func (acc *Access) newRequestItem(in RequestItemInput, items []store.RequestItem, used []string) (store.RequestItem, error) {
	switch in.Kind {
	case KindAnnexA:
		c, ok := canonicalItem(in.Code)
		if !ok || strings.HasPrefix(c, "case-") {
			return store.RequestItem{}, invalid("code", "Give the Annex A item number, for example 1.06.")
		}
		if c != in.Code {
			return store.RequestItem{}, invalid("code", "Give the Annex A item number as "+c+".")
		}
	case KindCaseFile:
		n := 0
		for _, x := range items {
			used = append(used, x.Code)
		}
		for _, code := range used {
			if k, ok := strings.CutPrefix(code, "case-"); ok {
				if i, _ := strconv.Atoi(k); i > n {
					n = i
				}
			}
		}
		in.Code = "case-" + strconv.Itoa(n+1)
	case KindDataList:
		if in.Code != ItemChildLevelData && in.Code != ItemAuditedCases {
			return store.RequestItem{}, invalid("code", "A data list item is cld or audits.")
		}
	default:
		return store.RequestItem{}, invalid("kind", "The kind must be annex_a or case_file.")
	}
	for _, x := range items {
		if x.Code == in.Code {
			return store.RequestItem{}, conflict("Item " + in.Code + " is already in the information request.")
		}
	}
	due := map[string]string{KindAnnexA: dueAnnexA, KindCaseFile: dueFieldwork, KindDataList: dueDataLists}[in.Kind]
	// After the last: the count of items, after a removal, is the last
	// item's own position. Two added at once may share one; the page
	// orders them by number, as it does any tie.
	pos := 0
	for _, x := range items {
		pos = max(pos, x.Position+1)
	}
	return store.RequestItem{VisitID: acc.Visit.ID, Code: in.Code, Kind: in.Kind, Due: due, Position: pos, AddedBy: acc.Actor.UserID, AddedAt: acc.svc.now()}, nil
}

// RemoveRequestItem removes an item from the information request, unless
// files are filed under it: the item's title is the record of what they
// answer (for a case file, which child), and they count towards it. They
// are filed under another item, or withdrawn and purged, first.
func (acc *Access) RemoveRequestItem(ctx context.Context, code string) error {
	if err := acc.require(ctx, policy.RequestManage, nil); err != nil {
		return err
	}
	if !utf8.ValidString(code) {
		return errNotFound // no item has such a code (and PostgreSQL refuses to look)
	}
	err := acc.svc.store.DeleteRequestItem(ctx, acc.Visit.ID, code, acc.rec("request.item_removed", code, "success", nil))
	if errors.Is(err, store.ErrItemHasFiles) {
		return conflict("Files are filed under item " + code + ", so it stays in the information request: the provider files them under another item first.")
	}
	return err
}
