package portal

import (
	"net/http"
	"net/mail"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/ofsted-portal/evidence/policy"
	"github.com/ofsted-portal/evidence/portal/calendar"
	"github.com/ofsted-portal/evidence/portal/store"
)

type memberRequest struct {
	Email      string `json:"email" form:"email"`
	Issuer     string `json:"issuer" form:"issuer"`
	Subject    string `json:"subject" form:"subject"`
	Role       string `json:"role" form:"role"`
	ValidFrom  string `json:"valid_from" form:"valid_from"`
	ValidUntil string `json:"valid_until" form:"valid_until"`
}

type memberJSON struct {
	ID         string     `json:"id"`
	Role       string     `json:"role"`
	Email      string     `json:"email,omitempty"`
	Issuer     string     `json:"issuer,omitempty"`
	Subject    string     `json:"subject,omitempty"`
	Bound      bool       `json:"bound"`
	ValidFrom  *time.Time `json:"valid_from,omitempty"`
	ValidUntil *time.Time `json:"valid_until,omitempty"`
}

func memberView(m store.Member) memberJSON {
	out := memberJSON{ID: m.ID, Role: m.Role, Email: m.Email, Issuer: m.Issuer, Subject: m.Subject, Bound: m.IsBound()}
	if !m.ValidFrom.IsZero() {
		out.ValidFrom = &m.ValidFrom
	}
	if !m.ValidUntil.IsZero() {
		out.ValidUntil = &m.ValidUntil
	}
	return out
}

// parseWhen accepts an RFC 3339 time or a date (midnight UTC).
func parseWhen(s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, nil
	}
	return calendar.ParseDate(s)
}

// parseMember validates a member request into a store.Member.
func (s *Server) parseMember(req memberRequest, visitID string) (store.Member, error) {
	m := store.Member{VisitID: visitID, Role: req.Role}
	if !policy.IsRole(req.Role) {
		return m, badRequest("The role must be one of: " + strings.Join(policy.Roles, ", ") + ".")
	}
	switch {
	case req.Subject != "" || req.Issuer != "":
		if req.Subject == "" || req.Issuer == "" {
			return m, badRequest("Give both issuer and subject, or an email address.")
		}
		if !s.knownIssuer(req.Issuer) {
			return m, badRequest("The issuer is not one of the portal's identity providers.")
		}
		m.Issuer, m.Subject = req.Issuer, req.Subject
	case req.Email != "":
		addr, err := mail.ParseAddress(req.Email)
		if err != nil || addr.Address != strings.TrimSpace(req.Email) {
			return m, badRequest("Enter an email address in the correct format, like name@example.org.")
		}
		m.Email = strings.ToLower(addr.Address)
	default:
		return m, badRequest("Give an email address, or an issuer and subject.")
	}
	var err error
	if m.ValidFrom, err = parseWhen(req.ValidFrom); err != nil {
		return m, badRequest("valid_from must be a date (YYYY-MM-DD) or an RFC 3339 time.")
	}
	if m.ValidUntil, err = parseWhen(req.ValidUntil); err != nil {
		return m, badRequest("valid_until must be a date (YYYY-MM-DD) or an RFC 3339 time.")
	}
	if !m.ValidFrom.IsZero() && !m.ValidUntil.IsZero() && !m.ValidUntil.After(m.ValidFrom) {
		return m, badRequest("valid_until must be after valid_from.")
	}
	return m, nil
}

func (s *Server) knownIssuer(iss string) bool {
	for _, p := range s.cfg.IdPs {
		if p.Issuer == iss {
			return true
		}
	}
	return false
}

func (s *Server) saveMember(c *gin.Context, req memberRequest, acc *access) (store.Member, bool, error) {
	m, err := s.parseMember(req, acc.visit.ID)
	if err != nil {
		return m, false, err
	}
	// The store names the record member.added or member.changed.
	rec := s.auditRec(c, "", "", "success", map[string]any{"email": m.Email, "issuer": m.Issuer, "subject": m.Subject, "role": m.Role,
		"valid_from": req.ValidFrom, "valid_until": req.ValidUntil})
	m, created, err := s.store.PutMember(c.Request.Context(), m, s.now(), rec)
	if err != nil {
		return m, false, err
	}
	s.log.Info("member saved", "visit", acc.visit.ID, "member", m.ID, "role", m.Role, "by", acc.user.ID, "created", created)
	return m, created, nil
}

func (s *Server) putMember(c *gin.Context) {
	var req memberRequest
	if err := c.ShouldBindJSON(&req); err != nil {
		s.fail(c, badRequest("The request body must be a JSON object with email (or issuer and subject) and role."))
		return
	}
	m, created, err := s.saveMember(c, req, accessOf(c))
	if err != nil {
		s.fail(c, err)
		return
	}
	status := http.StatusOK
	if created {
		status = http.StatusCreated
	}
	c.JSON(status, memberView(m))
}

func (s *Server) listMembers(c *gin.Context) {
	ms, err := s.store.Members(c.Request.Context(), accessOf(c).visit.ID)
	if err != nil {
		s.fail(c, err)
		return
	}
	out := []memberJSON{}
	for _, m := range ms {
		out = append(out, memberView(m))
	}
	c.JSON(http.StatusOK, gin.H{"members": out})
}

func (s *Server) removeMember(c *gin.Context) {
	acc := accessOf(c)
	if err := s.store.RemoveMember(c.Request.Context(), acc.visit.ID, c.Param("member"), s.auditRec(c, "member.removed", c.Param("member"), "success", nil)); err != nil {
		s.fail(c, err)
		return
	}
	s.log.Info("member removed", "visit", acc.visit.ID, "member", c.Param("member"), "by", acc.user.ID)
	c.Status(http.StatusNoContent)
}
