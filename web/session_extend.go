package web

import (
	"net/http"
	"time"

	"github.com/gin-gonic/gin"
)

// extendRoute is where the timeout warning's "Stay signed in" posts. It is
// answered in JSON, refusals too (isAPI).
const extendRoute = "/session/extend"

// sessActive records the last time the person asked to stay signed in.
const sessActive = "extended_at"

// extendSession is the timeout warning's "Stay signed in": the request
// itself moves the idle deadline on, and changing the session makes sure
// it is written at once (an unchanged session is written again only once
// its deadline has moved a minute, or a tenth of the idle timeout). It answers the idle timeout, in seconds, and how long the
// server now holds the session, in milliseconds (sessionLeft). Like every
// state-changing request it is refused from another site (crossOrigin).
func (s *Server) extendSession(c *gin.Context) {
	s.sessions.Put(c.Request.Context(), sessActive, s.svc.Now().UnixNano())
	left := s.sessionLeft(c)
	c.JSON(http.StatusOK, gin.H{"idle_timeout": int(s.cfg.SessionIdle / time.Second), "session_left_ms": left.Milliseconds()})
}
