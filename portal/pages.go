package portal

import (
	"context"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/ofsted-portal/evidence/policy"
	"github.com/ofsted-portal/evidence/portal/store"
)

// pageData is what every page template receives.
type pageData struct {
	Title string
	User  *store.User
	Dev   bool
	Nav   string // the active navigation item
	Error bool   // the page reports an error (the title says so)
	Page  any
}

type errorPage struct {
	Title, Message, Code, RequestID string
	Advice                          []string
	Back                            string
}

func (s *Server) render(c *gin.Context, name, title string, page any) {
	s.renderStatus(c, http.StatusOK, name, pageData{Title: title, Page: page})
}

func (s *Server) renderNav(c *gin.Context, name, title, nav string, page any) {
	s.renderStatus(c, http.StatusOK, name, pageData{Title: title, Nav: nav, Page: page})
}

func (s *Server) renderStatus(c *gin.Context, status int, name string, data any) {
	pd, ok := data.(pageData)
	if !ok {
		ep := data.(errorPage)
		pd = pageData{Title: ep.Title, Page: ep, Error: true}
	}
	pd.Dev = s.cfg.Dev
	if a, ok := c.Get(accessKey); ok && a.(*access).user.ID != "" {
		u := a.(*access).user
		pd.User = &u
	}
	c.Header("Content-Type", "text/html; charset=utf-8")
	c.Status(status)
	if err := s.pages.Render(c.Writer, name, pd); err != nil {
		s.log.Error("render", "page", name, "err", err)
	}
}

func (s *Server) startPage(c *gin.Context) {
	if s.sessions.GetString(c.Request.Context(), sessUserID) != "" {
		c.Redirect(http.StatusSeeOther, "/visits")
		return
	}
	type idp struct{ Name, DisplayName string }
	var idps []idp
	for _, p := range s.cfg.IdPs {
		idps = append(idps, idp{p.Name, p.DisplayName})
	}
	s.render(c, "start", "Sign in", gin.H{"IdPs": idps, "ReturnTo": safeReturnTo(c.Query("return_to"))})
}

type visitRow struct {
	ID, Reference, Title, State, NotificationDate, Role string
	NextDue, NextDueDate                                string
	DestroyOn                                           string
	DaysLeft                                            int
}

// nextDue is the next date on the visit's timeline from today, and what is
// due then.
func (s *Server) nextDue(vj visitJSON) (what, when string) {
	tl := vj.Timeline
	if tl == nil {
		return "", ""
	}
	today := s.today()
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

// destructionWarning is the banner administrators see in the 7 days before
// a visit is destroyed.
func destructionWarning(vj visitJSON) string {
	if vj.DestroyOn == nil || *vj.DaysUntilDestruction > 7 || *vj.DaysUntilDestruction < 0 {
		return ""
	}
	if vj.LegalHold {
		return fmt.Sprintf("%s was due for destruction on %s but a legal hold stops it.", vj.Reference, *vj.DestroyOn)
	}
	return fmt.Sprintf("%s will be destroyed on %s, in %d days. Set a legal hold now if it must be kept.", vj.Reference, *vj.DestroyOn, *vj.DaysUntilDestruction)
}

func (s *Server) visitsPage(c *gin.Context) {
	ctx := c.Request.Context()
	acc := accessOf(c)
	vs, err := s.myVisits(ctx, acc)
	if err != nil {
		s.fail(c, err)
		return
	}
	var rows []visitRow
	var warnings []string
	for _, vj := range vs {
		r := visitRow{ID: vj.ID, Reference: vj.Reference, Title: vj.Title, State: vj.State, NotificationDate: vj.NotificationDate, Role: vj.Role}
		if vj.State != "published" {
			r.NextDue, r.NextDueDate = s.nextDue(vj)
		}
		if vj.DestroyOn != nil {
			r.DestroyOn, r.DaysLeft = *vj.DestroyOn, *vj.DaysUntilDestruction
		}
		rows = append(rows, r)
		if w := destructionWarning(vj); acc.admin && w != "" {
			warnings = append(warnings, w)
		}
	}
	s.renderNav(c, "visits", "Your visits", "visits", gin.H{"Visits": rows, "Administrator": acc.admin, "Warnings": warnings})
}

func (s *Server) createVisitForm(c *gin.Context) {
	var req createVisitRequest
	if err := c.ShouldBind(&req); err != nil {
		s.fail(c, badRequest("Fill in every field of the form."))
		return
	}
	v, err := s.newVisit(c.Request.Context(), req, accessOf(c).user, s.auditRec(c, "visit.created", "", "success", nil))
	if err != nil {
		s.fail(c, err)
		return
	}
	c.Redirect(http.StatusSeeOther, "/visits/"+v.ID+"/members")
}

func (s *Server) can(ctx context.Context, acc *access, a policy.Action) bool {
	res, err := s.resource(ctx, acc, nil)
	return err == nil && s.policy.Decide(s.principal(acc), a, res).Allow
}

type fileGroup struct {
	Code, Title string
	Files       []fileJSON
}

func (s *Server) visitPage(c *gin.Context) {
	ctx := c.Request.Context()
	acc := accessOf(c)
	vj := s.visitView(ctx, acc.visit, acc.member.Role)
	warning := ""
	if acc.admin {
		warning = destructionWarning(vj)
	}
	page := gin.H{
		"Visit":          vj,
		"Warning":        warning,
		"Role":           acc.member.Role,
		"CanManage":      s.can(ctx, acc, policy.MemberManage),
		"CanUpload":      s.can(ctx, acc, policy.FileUpload),
		"CanList":        s.can(ctx, acc, policy.FileList),
		"CanDownload":    s.can(ctx, acc, policy.FileDownload),
		"CanAudit":       s.can(ctx, acc, policy.AuditView),
		"CanEditRequest": s.can(ctx, acc, policy.ChecklistManage),
	}
	if n, err := strconv.Atoi(c.Query("uploaded")); err == nil && n > 0 {
		page["Notice"] = fmt.Sprintf("%d file%s uploaded.", n, map[bool]string{true: "", false: "s"}[n == 1])
	}
	// Members and administrators see the information request; only members
	// can read files.
	request, err := s.informationRequest(ctx, acc.visit)
	if err != nil {
		s.fail(c, err)
		return
	}
	page["Request"] = request
	if page["CanList"].(bool) {
		files, err := s.visitFiles(ctx, acc)
		if err != nil {
			s.fail(c, err)
			return
		}
		page["Groups"] = groupFiles(files, request)
	}
	s.renderNav(c, "visit", acc.visit.Reference, "visits", page)
}

// groupFiles puts files under their items, in the information request's
// order; items not in the request follow, then unfiled files.
func groupFiles(files []fileJSON, request []requestItemJSON) []fileGroup {
	by := map[string][]fileJSON{}
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

// uploadPage is the upload form: plain HTML that works without JavaScript,
// which portal.mjs turns into a resumable, many-file uploader.
func (s *Server) uploadPage(c *gin.Context) {
	ctx := c.Request.Context()
	acc := accessOf(c)
	request, err := s.informationRequest(ctx, acc.visit)
	if err != nil {
		s.fail(c, err)
		return
	}
	s.renderNav(c, "upload", "Upload files", "visits", gin.H{
		"Visit": s.visitView(ctx, acc.visit, acc.member.Role), "Items": request,
		"MaxSize": s.cfg.MaxFileSize, "SegmentSize": s.cfg.SegmentSize,
	})
}

func (s *Server) requestPage(c *gin.Context) {
	ctx := c.Request.Context()
	acc := accessOf(c)
	request, err := s.informationRequest(ctx, acc.visit)
	if err != nil {
		s.fail(c, err)
		return
	}
	s.renderNav(c, "request", "Information request", "visits", gin.H{"Visit": s.visitView(ctx, acc.visit, acc.member.Role), "Request": request})
}

func (s *Server) requestForm(c *gin.Context) {
	in := requestItemInput{Kind: c.PostForm("kind"), Code: strings.TrimSpace(c.PostForm("code")), Title: c.PostForm("title"), Due: c.PostForm("due")}
	mode := addItem
	if in.Kind == kindAnnexA {
		mode = addOrChangeItem // the form says: an existing number changes that item
	}
	if _, err := s.saveRequestItem(c, in, mode); err != nil {
		s.fail(c, err)
		return
	}
	c.Redirect(http.StatusSeeOther, "/visits/"+accessOf(c).visit.ID+"/request")
}

func (s *Server) removeRequestForm(c *gin.Context) {
	if err := s.deleteRequestItem(c); err != nil {
		s.fail(c, err)
		return
	}
	c.Redirect(http.StatusSeeOther, "/visits/"+accessOf(c).visit.ID+"/request")
}

// uploadForm takes the plain HTML form (no JavaScript). The file part has no
// length of its own, so it is stored in buffered segments.
func (s *Server) uploadForm(c *gin.Context) {
	acc := accessOf(c)
	mr, err := c.Request.MultipartReader()
	if err != nil {
		s.fail(c, badRequest("Choose a file to upload."))
		return
	}
	var item string
	stored := 0
	for {
		part, err := mr.NextPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			s.fail(c, badRequest("The upload was interrupted. Files already listed on the visit were stored; send the rest again."))
			return
		}
		switch part.FormName() {
		case "item":
			b := make([]byte, 16)
			n, _ := io.ReadFull(part, b)
			item = strings.TrimSpace(string(b[:n]))
			continue
		case "file":
		default:
			continue
		}
		if part.FileName() == "" {
			continue // an empty file input
		}
		if err := s.uploadPart(c, acc, part, item); err != nil {
			s.fail(c, err)
			return
		}
		stored++
	}
	if stored == 0 {
		s.fail(c, badRequest("Choose a file to upload."))
		return
	}
	c.Redirect(http.StatusSeeOther, "/visits/"+acc.visit.ID+"?uploaded="+strconv.Itoa(stored)+"#files")
}

func (s *Server) uploadPart(c *gin.Context, acc *access, part *multipart.Part, rawItem string) error {
	if part.FileName() == "" {
		return badRequest("Choose a file to upload.")
	}
	name, item, err := s.checkUpload(part.FileName(), rawItem, 0)
	if err != nil {
		return err
	}
	_, err = s.storeUpload(c, acc, name, item, -1, part)
	return err
}

type memberRow struct {
	ID, Email, Role string
	Bound           bool
	From, Until     string
}

func (s *Server) membersPage(c *gin.Context) {
	ctx := c.Request.Context()
	acc := accessOf(c)
	ms, err := s.store.Members(ctx, acc.visit.ID)
	if err != nil {
		s.fail(c, err)
		return
	}
	var rows []memberRow
	const layout = "2 Jan 2006 15:04"
	for _, m := range ms {
		w, err := s.windowOf(ctx, acc.visit, m)
		if err != nil {
			s.fail(c, err)
			return
		}
		until := "until the visit is destroyed or published"
		if !w.until.IsZero() {
			until = w.until.In(london).Format(layout)
		}
		rows = append(rows, memberRow{m.ID, m.Email, m.Role, m.IsBound(), w.from.In(london).Format(layout), until})
	}
	sort.SliceStable(rows, func(i, j int) bool { return rows[i].Role < rows[j].Role })
	items, err := s.store.Items(ctx, acc.visit.ID)
	if err != nil {
		s.fail(c, err)
		return
	}
	s.render(c, "members", "Members of "+acc.visit.Reference, gin.H{
		"Visit": s.visitView(ctx, acc.visit, acc.member.Role), "Members": rows, "Roles": policy.Roles, "Items": items,
	})
}

func (s *Server) addMemberForm(c *gin.Context) {
	var req memberRequest
	if err := c.ShouldBind(&req); err != nil {
		s.fail(c, badRequest("Enter an email address and choose a role."))
		return
	}
	if _, _, err := s.saveMember(c, req, accessOf(c)); err != nil {
		s.fail(c, err)
		return
	}
	c.Redirect(http.StatusSeeOther, "/visits/"+c.Param("id")+"/members")
}

func (s *Server) removeMemberForm(c *gin.Context) {
	acc := accessOf(c)
	if err := s.store.RemoveMember(c.Request.Context(), acc.visit.ID, c.Param("member"), s.auditRec(c, "member.removed", c.Param("member"), "success", nil)); err != nil {
		s.fail(c, err)
		return
	}
	s.log.Info("member removed", "visit", acc.visit.ID, "member", c.Param("member"), "by", acc.user.ID)
	c.Redirect(http.StatusSeeOther, "/visits/"+acc.visit.ID+"/members")
}

// restrictItemForm sets an item's restriction from the members page.
func (s *Server) restrictItemForm(c *gin.Context) {
	acc := accessOf(c)
	if _, err := s.saveItemRestriction(c, acc, c.PostForm("item"), c.PostForm("restricted") == "yes", c.PostFormArray("roles")); err != nil {
		s.fail(c, err)
		return
	}
	c.Redirect(http.StatusSeeOther, "/visits/"+acc.visit.ID+"/members")
}
