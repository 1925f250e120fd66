package web

import (
	"net/http"
	"regexp"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/ofsted-portal/evidence/policy"
	"github.com/ofsted-portal/evidence/portal"
	"github.com/ofsted-portal/evidence/portal/calendar"
)

type memberRow struct {
	ID, Person, Role string
	Bound            bool
	From, Until      string
	// Twice names the same person's other membership, when they have
	// one: which applies is not for the rows' order to decide.
	Twice string
}

// issuerChoice is an identity provider a member can be added from by
// subject.
type issuerChoice struct{ Issuer, DisplayName string }

func (s *Server) membersPage(c *gin.Context) {
	ctx := c.Request.Context()
	acc := accessOf(c)
	ms, err := acc.MemberWindows(ctx)
	if err != nil {
		s.fail(c, err)
		return
	}
	var rows []memberRow
	const layout = "2 Jan 2006 15:04"
	byID := map[string]portal.MemberWindow{}
	for _, m := range ms {
		byID[m.ID] = m
	}
	for _, m := range ms {
		until := "until the visit is destroyed or published"
		if u := m.Window.Until.In(calendar.London); !u.IsZero() {
			until = u.Format(layout)
			if u.Equal(calendar.StartOfDay(u)) {
				// A window that ends as a day begins gives the whole day
				// before: show the day typed in "Access until".
				until = "end of " + u.AddDate(0, 0, -1).Format("2 Jan 2006")
			}
		}
		twice := ""
		if o, ok := byID[m.Duplicate]; ok {
			twice = o.Display + ", " + lowerFirst(roleName(o.Role))
		}
		rows = append(rows, memberRow{m.ID, m.Display, m.Role, m.Bound, m.Window.From.In(calendar.London).Format(layout), until, twice})
	}
	rs, err := acc.Restrictions(ctx)
	if err != nil {
		s.fail(c, err)
		return
	}
	var issuers []issuerChoice
	for _, p := range s.cfg.IdPs {
		issuers = append(issuers, issuerChoice{p.Issuer, p.DisplayName})
	}
	s.render(c, "members", "Members of "+acc.Visit.Reference, gin.H{
		"Visit": acc.View(ctx), "Members": rows, "Roles": policy.Roles, "Items": rs, "Issuers": issuers,
	})
}

func (s *Server) addMemberForm(c *gin.Context) {
	f := postedForm(c, "email", "issuer", "subject", "role")
	from, okFrom := f.dateField(c.PostForm, "valid_from", "The date access starts", false)
	until, okUntil := f.dateField(c.PostForm, "valid_until", "The date access ends", false)
	// "Access until" is the last day of access: the same day as "Access
	// from" is one day's access.
	if okFrom && okUntil && from != "" && until != "" && until < from {
		f.Add("valid_until-day", "The date access ends must be the same as or after the date access starts")
	}
	req := portal.MemberRequest{Email: strings.TrimSpace(f.Value("email")), Issuer: f.Value("issuer"), Subject: strings.TrimSpace(f.Value("subject")),
		Role: f.Value("role")}
	fields := map[string]string{"email": "email", "issuer": "issuer", "subject": "subject", "role": "role",
		"valid_from": "valid_from-day", "valid_until": "valid_until-day"}
	if len(f.Errors) > 0 {
		// What is wrong with the person too, above the dates' errors as
		// its fields are above them: every error at once.
		if e, ok := portal.AsError(s.svc.CheckMember(req)); ok && fields[e.Field] != "" {
			f.Errors = append([]fieldError{{Field: fields[e.Field], Msg: e.Msg}}, f.Errors...)
		}
		s.showForm(c, f, http.StatusBadRequest, s.membersPage)
		return
	}
	req.ValidFrom, req.ValidUntil = from, until
	m, created, err := accessOf(c).PutMember(c.Request.Context(), req)
	if err != nil {
		if e, ok := portal.AsError(err); ok && (e.Field == "valid_from" || e.Field == "valid_until") {
			// The domain names the dates as the API does: the page, as
			// its fields are labelled.
			inWords := *e
			inWords.Msg = memberDateWords(e.Msg)
			err = &inWords
		}
		s.refuse(c, f, err, fields, "email", s.membersPage)
		return
	}
	verb := "is now"
	if created {
		verb = "is added as"
	}
	s.flash(c, m.Display+" "+verb+" "+lowerFirst(roleName(m.Role))+".")
	c.Redirect(http.StatusSeeOther, "/visits/"+c.Param("id")+"/members")
}

// memberDateWords is a message about a member's dates with the fields
// named as the members page labels them ("valid_until must be after
// valid_from." is "The date access ends must be after the date access
// starts.").
func memberDateWords(msg string) string {
	first := true
	return memberDateField.ReplaceAllStringFunc(msg, func(k string) string {
		w := memberDateLabels[k]
		if !first {
			w = lowerFirst(w)
		}
		first = false
		return w
	})
}

var (
	memberDateField  = regexp.MustCompile(`valid_(from|until)`)
	memberDateLabels = map[string]string{"valid_from": "The date access starts", "valid_until": "The date access ends"}
)

func (s *Server) removeMemberForm(c *gin.Context) {
	acc := accessOf(c)
	if err := acc.RemoveMember(c.Request.Context(), c.Param("member")); err != nil {
		s.refuse(c, &form{}, err, nil, "members", s.membersPage)
		return
	}
	s.flash(c, "The member is removed from the visit.")
	c.Redirect(http.StatusSeeOther, "/visits/"+acc.Visit.ID+"/members")
}

// restrictForm sets an item's restriction from the members page.
func (s *Server) restrictForm(c *gin.Context) {
	acc := accessOf(c)
	f := postedForm(c, "item", "restricted")
	roles := c.PostFormArray("roles")
	for _, r := range roles {
		f.Set("roles:"+r, "yes")
	}
	if _, err := acc.SetRestriction(c.Request.Context(), strings.TrimSpace(f.Value("item")), f.Value("restricted") == "yes", roles); err != nil {
		s.refuse(c, f, err, map[string]string{"item": "item", "roles": "roles", "restricted": "restricted-yes"}, "item", s.membersPage)
		return
	}
	s.flash(c, "The restriction of item "+strings.TrimSpace(f.Value("item"))+" is saved.")
	c.Redirect(http.StatusSeeOther, "/visits/"+acc.Visit.ID+"/members")
}

func (s *Server) explainPage(c *gin.Context) {
	ctx := c.Request.Context()
	acc := accessOf(c)
	members, files, err := acc.ExplainChoices(ctx)
	if err != nil {
		s.fail(c, err)
		return
	}
	// A file beyond the latest few is given by its reference.
	file, ref := c.Query("file"), strings.TrimSpace(c.Query("file_ref"))
	if ref != "" {
		file = ref
	}
	item := strings.TrimSpace(c.Query("item"))
	page := gin.H{"Visit": acc.View(ctx), "Members": members, "Files": files, "FileRef": ref, "Latest": portal.ExplainFileChoices,
		"Actions": policy.Actions, "Member": c.Query("member"), "Action": c.Query("action"), "File": file, "Item": item}
	if c.Query("member") != "" {
		e, err := acc.ExplainOn(ctx, c.Query("member"), c.Query("action"), file, item)
		if err != nil {
			fileField := "file"
			if ref != "" {
				fileField = "file_ref"
			}
			s.refuse(c, &form{}, err, map[string]string{"member": "member", "action": "action", "file": fileField, "item": "item"}, "member", func(c *gin.Context) {
				s.render(c, "explain", forVisit(accessOf(c), "Explain a decision"), page)
			})
			return
		}
		page["Result"] = explained(e)
	}
	s.render(c, "explain", forVisit(accessOf(c), "Explain a decision"), page)
}
