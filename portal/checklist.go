package portal

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/ofsted-portal/evidence/crypto"
	"github.com/ofsted-portal/evidence/portal/calendar"
	"github.com/ofsted-portal/evidence/portal/store"
	"github.com/ofsted-portal/evidence/portal/timeline"
)

// The information request: what the inspectors asked the provider for, with
// due dates from the timeline. A new visit starts with the default Annex A
// template; the lead inspector or an administrator edits it and adds the
// case files of the children named for fieldwork.

const (
	kindDataList = "data_list" // day 3: child-level data lists, audited cases list
	kindAnnexA   = "annex_a"   // day 5: numbered Annex A items
	kindCaseFile = "case_file" // fieldwork: a named child's case file
)

// Due anchors on the timeline.
const (
	dueDataLists = "data_lists_due"
	dueAnnexA    = "annex_a_due"
	dueFieldwork = "fieldwork_start"
)

type requestTemplate struct{ code, kind, title, due string }

// defaultRequest is the Annex A template (domain.md): the day-3 lists and
// the known numbered items.
var defaultRequest = []requestTemplate{
	{ItemChildLevelData, kindDataList, "Child-level data: every case closed in the 2 weeks before the visit (state the date range)", dueDataLists},
	{ItemAuditedCases, kindDataList, "List of recently audited cases", dueDataLists},
	{"1.01", kindAnnexA, "Organisational structure (lines of reporting and accountability)", dueAnnexA},
	{"1.02", kindAnnexA, "Case allocation and transfer policy, workflow documents and flowcharts (public and private law)", dueAnnexA},
	{"1.03", kindAnnexA, "Management information reports (latest national and regional monthly or quarterly reports, improvement plans)", dueAnnexA},
	{"1.04", kindAnnexA, "Feedback from children and families, complaints, serious incident notifications, and what was done in response", dueAnnexA},
	{"1.05", kindAnnexA, "Latest national and regional self-evaluations of practice; peer or external evaluations in the last 12 months", dueAnnexA},
}

func requestTitleContext(visitID, code string) string { return "request-item:" + visitID + ":" + code }

func defaultRequestItems(key *crypto.VisitKey, visitID, by string) []store.RequestItem {
	out := make([]store.RequestItem, len(defaultRequest))
	for i, t := range defaultRequest {
		out[i] = store.RequestItem{VisitID: visitID, Code: t.code, Kind: t.kind, Due: t.due, Position: i,
			TitleSealed: key.Seal([]byte(t.title), requestTitleContext(visitID, t.code)), AddedBy: by}
	}
	return out
}

type requestItemJSON struct {
	Code   string `json:"code"`
	Kind   string `json:"kind"`
	Title  string `json:"title"`
	Due    string `json:"due"`    // YYYY-MM-DD, end of that working day
	Status string `json:"status"` // received, due, overdue
	Files  int    `json:"files"`  // files filed under the item, whoever may see them
}

func dueDate(due string, tl timeline.Timeline) time.Time {
	switch due {
	case dueDataLists:
		return tl.DataListsDue
	case dueAnnexA:
		return tl.AnnexADue
	case dueFieldwork:
		return tl.FieldworkStart
	}
	d, _ := calendar.ParseDate(due)
	return d
}

// informationRequest is the visit's checklist with each item's state today.
// The provider and the inspection team see the same list; counts are of
// files, not their names.
func (s *Server) informationRequest(ctx context.Context, v store.Visit) ([]requestItemJSON, error) {
	key, err := s.keys.Key(ctx, v.ID)
	if err != nil {
		return nil, err
	}
	items, err := s.store.RequestItems(ctx, v.ID)
	if err != nil {
		return nil, err
	}
	counts, err := s.store.ItemFileCounts(ctx, v.ID)
	if err != nil {
		return nil, err
	}
	tl, err := s.timeline(v)
	if err != nil {
		return nil, err
	}
	today := s.today()
	out := make([]requestItemJSON, 0, len(items))
	for _, it := range items {
		title, err := key.Open(it.TitleSealed, requestTitleContext(v.ID, it.Code))
		if err != nil {
			return nil, fmt.Errorf("request item %s: title does not open: %w", it.Code, err)
		}
		due := dueDate(it.Due, tl)
		st := "due"
		switch {
		case counts[it.Code] > 0:
			st = "received"
		case today.After(due):
			st = "overdue"
		}
		out = append(out, requestItemJSON{Code: it.Code, Kind: it.Kind, Title: string(title), Due: due.Format(time.DateOnly), Status: st, Files: counts[it.Code]})
	}
	return out, nil
}

func (s *Server) getRequest(c *gin.Context) {
	out, err := s.informationRequest(c.Request.Context(), accessOf(c).visit)
	if err != nil {
		s.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, gin.H{"items": out})
}

type requestItemInput struct {
	Kind  string `json:"kind" form:"kind"`
	Code  string `json:"code" form:"code"`
	Title string `json:"title" form:"title"`
	Due   string `json:"due" form:"due"`
}

// How saveRequestItem treats an item that exists: the API adds (409 if it
// exists) or changes (404 if it does not); the form adds or changes.
type saveMode int

const (
	addItem saveMode = iota
	changeItem
	addOrChangeItem
)

// saveRequestItem adds (code "" for a case file: the next case-N) or
// changes an item of the information request.
func (s *Server) saveRequestItem(c *gin.Context, in requestItemInput, mode saveMode) (store.RequestItem, error) {
	acc := accessOf(c)
	ctx := c.Request.Context()
	in.Title = strings.TrimSpace(in.Title)
	if err := validText("title", in.Title, 300); err != nil || in.Title == "" {
		return store.RequestItem{}, badRequest("Enter what is requested, in up to 300 characters.")
	}
	items, err := s.store.RequestItems(ctx, acc.visit.ID)
	if err != nil {
		return store.RequestItem{}, err
	}
	var it *store.RequestItem
	for i := range items {
		if items[i].Code == in.Code {
			it = &items[i]
		}
	}
	if mode == changeItem && it == nil {
		return store.RequestItem{}, errNotFound
	}
	existing := mode == changeItem || mode == addOrChangeItem && it != nil
	if !existing {
		switch in.Kind {
		case kindAnnexA:
			if !itemPattern.MatchString(in.Code) || strings.HasPrefix(in.Code, "case-") {
				return store.RequestItem{}, badRequest("Give the Annex A item number, for example 1.06.")
			}
		case kindCaseFile:
			n := 0
			for _, x := range items {
				if k, ok := strings.CutPrefix(x.Code, "case-"); ok {
					if i, _ := strconv.Atoi(k); i > n {
						n = i
					}
				}
			}
			in.Code = "case-" + strconv.Itoa(n+1)
		case kindDataList:
			if in.Code != ItemChildLevelData && in.Code != ItemAuditedCases {
				return store.RequestItem{}, badRequest("A data list item is cld or audits.")
			}
		default:
			return store.RequestItem{}, badRequest("The kind must be annex_a or case_file.")
		}
		if it != nil {
			return store.RequestItem{}, &httpError{http.StatusConflict, "conflict", "Item " + in.Code + " is already in the information request."}
		}
		due := map[string]string{kindAnnexA: dueAnnexA, kindCaseFile: dueFieldwork, kindDataList: dueDataLists}[in.Kind]
		it = &store.RequestItem{VisitID: acc.visit.ID, Code: in.Code, Kind: in.Kind, Due: due, Position: len(items), AddedBy: acc.user.ID, AddedAt: s.now()}
	}
	if in.Due != "" {
		d, err := calendar.ParseDate(in.Due)
		if err != nil || !s.cal.IsWorkingDay(d) {
			return store.RequestItem{}, badRequest("The due date must be a working day in the form YYYY-MM-DD.")
		}
		it.Due = d.Format(time.DateOnly)
	}
	key, err := s.keys.Key(ctx, acc.visit.ID)
	if err != nil {
		return store.RequestItem{}, err
	}
	it.TitleSealed = key.Seal([]byte(in.Title), requestTitleContext(acc.visit.ID, it.Code))
	action := "request.item_added"
	if existing {
		action = "request.item_changed"
	}
	// The title may name a child: the trail has the code and kind only.
	rec := s.auditRec(c, action, it.Code, "success", map[string]any{"kind": it.Kind, "due": it.Due})
	if err := s.store.PutRequestItems(ctx, []store.RequestItem{*it}, rec); err != nil {
		return store.RequestItem{}, err
	}
	return *it, nil
}

func (s *Server) addRequestItem(c *gin.Context) {
	var in requestItemInput
	if err := c.ShouldBindJSON(&in); err != nil {
		s.fail(c, badRequest(`Send {"kind": "annex_a"|"case_file", "code": "1.06", "title": "...", "due": "YYYY-MM-DD"}.`))
		return
	}
	s.respondRequestItem(c, in, addItem, http.StatusCreated)
}

func (s *Server) changeRequestItem(c *gin.Context) {
	var in requestItemInput
	if err := c.ShouldBindJSON(&in); err != nil {
		s.fail(c, badRequest(`Send {"title": "...", "due": "YYYY-MM-DD"}.`))
		return
	}
	in.Code = c.Param("item")
	s.respondRequestItem(c, in, changeItem, http.StatusOK)
}

func (s *Server) respondRequestItem(c *gin.Context, in requestItemInput, mode saveMode, status int) {
	it, err := s.saveRequestItem(c, in, mode)
	if err != nil {
		s.fail(c, err)
		return
	}
	items, err := s.informationRequest(c.Request.Context(), accessOf(c).visit)
	if err != nil {
		s.fail(c, err)
		return
	}
	for _, x := range items {
		if x.Code == it.Code {
			c.JSON(status, x)
			return
		}
	}
	s.fail(c, errNotFound)
}

func (s *Server) removeRequestItem(c *gin.Context) {
	if err := s.deleteRequestItem(c); err != nil {
		s.fail(c, err)
		return
	}
	c.Status(http.StatusNoContent)
}

// deleteRequestItem removes the item named in the path, with its record.
func (s *Server) deleteRequestItem(c *gin.Context) error {
	acc := accessOf(c)
	code := c.Param("item")
	return s.store.DeleteRequestItem(c.Request.Context(), acc.visit.ID, code, s.auditRec(c, "request.item_removed", code, "success", nil))
}
