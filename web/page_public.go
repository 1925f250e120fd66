package web

import (
	"fmt"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/ofsted-portal/evidence/portal"
)

// The pages every public service has, linked from every page's footer and
// reachable without signing in: help, contact, the accessibility
// statement, the privacy notice (completed by the operator through
// configuration: portal.ServiceInfo) and the cookies the portal sets.

// publicInfo is what those pages show.
type publicInfo struct {
	Service           portal.ServiceInfo
	SessionCookie     string
	SignInCookie      string
	SignInFor         string // how long the sign-in cookie lasts, in words
	Idle, Lifetime    string // the session's limits, in words
	RetentionDays     int
	ScanOff           bool
	PrivacyIncomplete bool
}

// publicPage renders one of them; a signed-in person keeps the menu.
func (s *Server) publicPage(name, title, nav string) gin.HandlerFunc {
	return func(c *gin.Context) {
		if a, err := s.actorOf(c); err == nil && a.SignedIn() {
			c.Set(accessKey, &portal.Access{Actor: a})
		}
		svc := s.cfg.Service
		s.renderNav(c, name, title, nav, publicInfo{
			Service: svc, SessionCookie: s.sessions.Cookie.Name, SignInCookie: s.signInCookieName(),
			SignInFor: durationWords(signInTTL), Idle: durationWords(s.cfg.SessionIdle),
			Lifetime: durationWords(s.cfg.SessionLifetime), RetentionDays: s.cfg.RetentionDays, ScanOff: s.svc.ScanOff(c.Request.Context()),
			PrivacyIncomplete: svc.Controller == "" || svc.PrivacyContact == "" || svc.Retention == "",
		})
	}
}

// durationWords says d in the largest whole unit: "12 hours", "30
// minutes", "1 minute and 30 seconds" is "90 seconds".
func durationWords(d time.Duration) string {
	n, unit := int64(d/time.Second), "second"
	switch {
	case d >= time.Hour && d%time.Hour == 0:
		n, unit = int64(d/time.Hour), "hour"
	case d >= time.Minute && d%time.Minute == 0:
		n, unit = int64(d/time.Minute), "minute"
	}
	if n != 1 {
		unit += "s"
	}
	return fmt.Sprintf("%d %s", n, unit)
}
