package web

import (
	"net/http"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/ofsted-portal/evidence/portal"
)

// pageData is what every page template receives.
type pageData struct {
	Title string
	User  *portal.Actor
	Dev   bool
	Nav   string // the active navigation item
	Error bool   // the page reports an error (the title says so)
	// IdleSeconds is the session's idle timeout, and SessionLeft how long
	// the server holds the session from when the page was made, in
	// milliseconds, for the warning before it ends (static/timeout.mjs).
	IdleSeconds int
	SessionLeft int64
	Page        any
	Form        *form  // the form shown again with what is wrong (never nil)
	Flash       string // the success to confirm (post/redirect/get)
}

type errorPage struct {
	Title, Message, Code, RequestID string
	Advice                          []string
	Back                            string
	SignIn                          string // the start page, returning to where the person was
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
	pd.Form = formOf(c)
	if st, ok := c.Get(formStatusKey); ok && status == http.StatusOK {
		// A refused form: its own page again, with the refusal's status.
		status, pd.Error = st.(int), len(pd.Form.Errors) > 0
	}
	if s.sessions != nil {
		pd.Flash = s.sessions.PopString(c.Request.Context(), flashKey)
	}
	if a, ok := c.Get(accessKey); ok {
		if acc := a.(*portal.Access); acc != nil && acc.Actor.SignedIn() {
			u := acc.Actor
			pd.User = &u
			pd.IdleSeconds = int(s.cfg.SessionIdle / time.Second)
			pd.SessionLeft = s.sessionLeft(c).Milliseconds()
		}
	}
	c.Header("Content-Type", "text/html; charset=utf-8")
	c.Status(status)
	err := s.pages.Render(c.Writer, name, pd)
	if err == nil {
		return
	}
	s.log.Error("render", "page", name, "request_id", requestID(c), "err", err)
	if c.Writer.Written() {
		return // the page went, part of it: the client left as it was sent
	}
	// Nothing was sent (a page renders whole before it goes): the
	// service's error page, never the status alone over an empty page.
	c.Status(http.StatusInternalServerError)
	ep := errorPage{Title: statusTitle(http.StatusInternalServerError), Message: errInternal.msg, Code: errInternal.code,
		Advice: statusAdvice(http.StatusInternalServerError), RequestID: requestID(c)}
	if name == "error" || s.pages.Render(c.Writer, "error", pageData{Title: ep.Title, Page: ep, Error: true, Dev: s.cfg.Dev}) != nil {
		c.Header("Content-Type", "text/plain; charset=utf-8")
		c.Writer.WriteString(errInternal.msg + "\n")
	}
}

func (s *Server) startPage(c *gin.Context) {
	if s.sessions.GetString(c.Request.Context(), portal.SessionUserKey) != "" {
		c.Redirect(http.StatusSeeOther, "/visits")
		return
	}
	type idp struct{ Name, DisplayName string }
	var idps []idp
	for _, p := range s.cfg.IdPs {
		idps = append(idps, idp{p.Name, p.DisplayName})
	}
	page := gin.H{"IdPs": idps}
	if rt := c.Query("return_to"); rt != "" {
		page["ReturnTo"] = safeReturnTo(rt)
	}
	// After a sign-out that did not reach the provider, say that the
	// provider's own session goes on.
	if p, ok := s.idps[c.Query("signed_out")]; ok {
		page["SignedOutOf"] = p.cfg.DisplayName
	}
	// The timeout warning's "Stay signed in" found the session ended
	// (timeout.mjs): say so.
	page["SessionEnded"] = c.Query("session_ended") == "1"
	s.render(c, "start", "Sign in", page)
}
