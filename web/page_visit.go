package web

import (
	"fmt"
	"html"
	"html/template"
	"sort"
	"strconv"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/ofsted-portal/evidence/policy"
	"github.com/ofsted-portal/evidence/portal"
)

type fileGroup struct {
	Code, Title string
	Files       []portal.FileView
}

func (s *Server) visitPage(c *gin.Context) {
	ctx := c.Request.Context()
	acc := accessOf(c)
	vj := acc.View(ctx)
	warning := ""
	if acc.Actor.Administrator {
		warning = destructionWarning(vj, s.cfg.DestructionNotice)
	}
	page := gin.H{
		"Visit":          vj,
		"DestructionDue": destructionDue(vj),
		"Warning":        warning,
		"Role":           acc.Member.Role,
		"AccessEnd":      acc.AccessEnd(),
		"CanManage":      acc.Can(ctx, policy.MemberManage),
		"CanUpload":      acc.Can(ctx, policy.FileUpload),
		"CanList":        acc.Can(ctx, policy.FileList),
		"CanDownload":    acc.Can(ctx, policy.FileDownload),
		"CanAudit":       acc.Can(ctx, policy.AuditView),
		"CanEditRequest": acc.Can(ctx, policy.RequestManage),
		"ScanOff":        s.svc.ScanOff(c.Request.Context()),
	}
	if n, err := strconv.Atoi(c.Query("uploaded")); err == nil && n > 0 {
		empty, _ := strconv.Atoi(c.Query("empty"))
		page["Notice"] = fmt.Sprintf("%d file%s uploaded.", n, map[bool]string{true: "", false: "s"}[n == 1]) + emptyNote(n, empty)
	}
	if item := c.Query("filed"); item != "" {
		if _, err := portal.ParseItem(item); err == nil {
			page["Notice"] = "The file is now filed under item " + item + "."
		}
	}
	s.correctionsPage(c, acc, page)
	if vj.State == portal.StateDestroying || vj.State == portal.StateDestroyed {
		// Its key is gone with its evidence: administrators see its record
		// (state, destruction, audit trail, certificate) and nothing sealed.
		s.recordPage(c, acc, vj, page)
		return
	}
	page["Life"] = visitLife(c, acc)
	// Members and administrators see the information request; only members
	// can read files.
	request, err := acc.InformationRequest(ctx)
	if err != nil {
		s.fail(c, err)
		return
	}
	page["Request"] = request
	if page["CanList"].(bool) {
		fp, err := s.findFiles(c, acc, page)
		if err != nil {
			s.fail(c, err)
			return
		}
		files := fp.Files
		page["Groups"] = groupFiles(files, request)
		refile := false
		for _, f := range files {
			refile = refile || f.Refilable
		}
		page["CanRefile"] = refile
		page["RefileOptions"] = refileOptions(files, request)
		if page["Waiting"], err = acc.HiddenUnfiled(ctx); err != nil {
			s.fail(c, err)
			return
		}
	}
	if err := s.visitQuestions(c, acc, page); err != nil {
		s.fail(c, err)
		return
	}
	listedErrors(formOf(c), page)
	s.renderNav(c, "visit", acc.Visit.Reference, "visits", page)
}

// listedErrors moves a refusal shown by a file or an item the page does
// not list (a file on another page of the list, or superseded; an item
// removed) to the heading of the files or of the information request, so
// the error summary never links to nothing.
func listedErrors(f *form, page gin.H) {
	listed := map[string]bool{}
	groups, _ := page["Groups"].([]fileGroup)
	for _, g := range groups {
		for _, file := range g.Files {
			listed["file-"+file.ID] = true
			listed["refile-item-"+file.ID] = page["CanRefile"] == true && file.Refilable
			listed["replace-file-"+file.ID] = file.Correctable
		}
	}
	request, _ := page["Request"].([]portal.RequestItemView)
	for _, it := range request {
		listed["item-"+it.Code] = true
	}
	// The withdrawal's button is there while there is an event to
	// withdraw; withdrawn meanwhile (by another), its refusal is shown by
	// the letter events' heading.
	life, _ := page["Life"].(gin.H)
	_, last := life["Last"]
	listed["withdraw-event"] = last
	for i, e := range f.Errors {
		switch {
		case listed[e.Field]:
		case strings.HasPrefix(e.Field, "file-") && portal.IsID(strings.TrimPrefix(e.Field, "file-")),
			strings.HasPrefix(e.Field, "refile-item-") && portal.IsID(strings.TrimPrefix(e.Field, "refile-item-")),
			strings.HasPrefix(e.Field, "replace-file-") && portal.IsID(strings.TrimPrefix(e.Field, "replace-file-")):
			f.Errors[i].Field = "files"
		case strings.HasPrefix(e.Field, "item-") && isItem(strings.TrimPrefix(e.Field, "item-")):
			f.Errors[i].Field = "request"
		case e.Field == "withdraw-event" && (life["CanRecord"] == true || life["CanHold"] == true):
			f.Errors[i].Field = "life"
		}
	}
}

// isItem reports whether code names an item of an information request.
func isItem(code string) bool {
	item, err := portal.ParseItem(code)
	return err == nil && item != ""
}

// groupFiles puts files under their items, in the information request's
// order; items not in the request follow, then unfiled files.
func groupFiles(files []portal.FileView, request []portal.RequestItemView) []fileGroup {
	by := map[string][]portal.FileView{}
	for _, f := range files {
		by[f.Item] = append(by[f.Item], f)
	}
	var out []fileGroup
	seen := map[string]bool{}
	for _, it := range request {
		if fs := by[it.Code]; len(fs) > 0 {
			out = append(out, fileGroup{it.Code, it.Title, fs})
		}
		seen[it.Code] = true
	}
	var rest []string
	for code := range by {
		if !seen[code] && code != "" {
			rest = append(rest, code)
		}
	}
	sort.Strings(rest)
	for _, code := range rest {
		out = append(out, fileGroup{code, "Not in the information request", by[code]})
	}
	if fs := by[""]; len(fs) > 0 {
		out = append(out, fileGroup{"", "Not filed under an item", fs})
	}
	return out
}

// refileOptions is each re-file menu's options, by the item its file is
// under (that item selected), built once per item on the page rather
// than once per file: a page of a hundred files under forty items would
// otherwise escape four thousand options.
func refileOptions(files []portal.FileView, request []portal.RequestItemView) map[string]template.HTML {
	out := map[string]template.HTML{}
	for _, f := range files {
		if _, done := out[f.Item]; done || !f.Refilable {
			continue
		}
		var b strings.Builder
		for _, it := range request {
			code := html.EscapeString(it.Code)
			b.WriteString(`<option value="` + code + `"`)
			if it.Code == f.Item {
				b.WriteString(" selected")
			}
			b.WriteString(">" + code + "</option>")
		}
		out[f.Item] = template.HTML(b.String())
	}
	return out
}
