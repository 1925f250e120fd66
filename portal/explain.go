package portal

import (
	"context"
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/ofsted-portal/evidence/policy"
	"github.com/ofsted-portal/evidence/portal/store"
)

type explanation struct {
	Member   memberJSON `json:"member"`
	Action   string     `json:"action"`
	File     string     `json:"file,omitempty"`
	Allow    bool       `json:"allow"`
	Status   int        `json:"status"`
	Policies []string   `json:"policies"`
	Reason   string     `json:"reason"`
	InWindow bool       `json:"in_window"`
}

// explain answers "may this member do this (to this file), and why?" for an
// administrator, with the same decision path a request of theirs would take.
func (s *Server) explain(ctx context.Context, acc *access, memberID, action, fileID string) (explanation, error) {
	ms, err := s.store.Members(ctx, acc.visit.ID)
	if err != nil {
		return explanation{}, err
	}
	var m store.Member
	for _, x := range ms {
		if x.ID == memberID {
			m = x
		}
	}
	if m.ID == "" {
		return explanation{}, badRequest("Choose a member of this visit.")
	}
	if !isAction(action) {
		return explanation{}, badRequest("Choose an action.")
	}
	w, err := s.windowOf(ctx, acc.visit, m)
	if err != nil {
		return explanation{}, err
	}
	as := &access{visit: acc.visit, member: m, window: w}
	as.user.ID = m.UserID
	if as.user.ID == "" {
		as.user.ID = "unbound:" + m.ID // not signed in yet: decide as they would be
	}
	if as.admin, err = s.store.HasPortalRole(ctx, m.UserID, store.RoleAdministrator); err != nil {
		return explanation{}, err
	}
	var f *store.File
	if fileID != "" {
		file, err := s.store.File(ctx, acc.visit.ID, fileID)
		if err != nil {
			return explanation{}, err
		}
		f = &file
	}
	res, err := s.resource(ctx, as, f)
	if err != nil {
		return explanation{}, err
	}
	p := s.principal(as)
	d := s.policy.Decide(p, policy.Action(action), res)
	status := http.StatusOK
	switch {
	case d.Allow:
	case d.Gone:
		status = http.StatusGone
	case d.Locked:
		status = http.StatusLocked
	case !d.Visible:
		status = http.StatusNotFound
	default:
		status = http.StatusForbidden
	}
	pol := d.Policies
	if pol == nil {
		pol = []string{}
	}
	return explanation{Member: memberView(m), Action: action, File: fileID, Allow: d.Allow, Status: status,
		Policies: pol, Reason: policy.Explain(d), InWindow: p.InWindow}, nil
}

func isAction(a string) bool {
	for _, x := range policy.Actions {
		if string(x) == a {
			return true
		}
	}
	return false
}

func (s *Server) explainAPI(c *gin.Context) {
	e, err := s.explain(c.Request.Context(), accessOf(c), c.Query("member"), c.Query("action"), c.Query("file"))
	if err != nil {
		s.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, e)
}

func (s *Server) explainPage(c *gin.Context) {
	ctx := c.Request.Context()
	acc := accessOf(c)
	ms, err := s.store.Members(ctx, acc.visit.ID)
	if err != nil {
		s.fail(c, err)
		return
	}
	files, err := s.store.Files(ctx, acc.visit.ID)
	if err != nil {
		s.fail(c, err)
		return
	}
	type option struct{ Value, Label string }
	var members, fileOpts []option
	for _, m := range ms {
		members = append(members, option{m.ID, m.Email + " (" + m.Role + ")"})
	}
	for _, f := range files {
		// File names can name children: an administrator who is not a
		// member picks a file by item, time and id, never by name.
		item := f.Item
		if item == "" {
			item = "no item"
		}
		fileOpts = append(fileOpts, option{f.ID, item + " · uploaded " + f.UploadedAt.In(london).Format("2 Jan 15:04") + " · " + f.ID[:8]})
	}
	page := gin.H{"Visit": s.visitView(ctx, acc.visit, acc.member.Role), "Members": members, "Files": fileOpts,
		"Actions": policy.Actions, "Member": c.Query("member"), "Action": c.Query("action"), "File": c.Query("file")}
	if c.Query("member") != "" {
		e, err := s.explain(ctx, acc, c.Query("member"), c.Query("action"), c.Query("file"))
		if err != nil {
			s.fail(c, err)
			return
		}
		page["Result"] = e
	}
	s.render(c, "explain", "Explain a decision", page)
}
