package web

import (
	"errors"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/ofsted-portal/evidence/policy"
	"github.com/ofsted-portal/evidence/portal"
)

const accessKey = "access"

// accessOf is what authorize established for the request.
func accessOf(c *gin.Context) *portal.Access { return c.MustGet(accessKey).(*portal.Access) }

// actorOf is who is asking: the signed-in person (if any) and where the
// request comes from. A session whose person has been disabled, or that
// ended when they were or when their identity provider ended their
// sessions (portal.SessionActor), is ended here, whichever
// instance it meets: the request goes on as nobody's, and a disabled
// person's is refused with errAccessDisabled.
func (s *Server) actorOf(c *gin.Context) (portal.Actor, error) {
	ctx := c.Request.Context()
	uid := s.sessions.GetString(ctx, portal.SessionUserKey)
	a, err := s.svc.SessionActor(ctx, uid, s.sessions.GetInt64(ctx, sessEpoch), s.requestActor(c))
	if errors.Is(err, portal.ErrDisabled) || errors.Is(err, portal.ErrSessionEnded) {
		if derr := s.sessions.Destroy(ctx); derr != nil {
			return a, derr
		}
		if errors.Is(err, portal.ErrDisabled) {
			s.log.Info("session ended: its person was disabled", "request_id", requestID(c), "user", uid)
			return a, s.errAccessDisabled()
		}
		s.log.Info("session ended: its person's sessions were ended (disabled, or by their identity provider)", "request_id", requestID(c), "user", uid)
		return a, nil
	}
	return a, err
}

// authorize is the one authorization middleware. It says who is asking and
// which visit and file the path names, and asks the domain to decide the
// route's action; the request stops unless it is allowed. Deny is the
// default: routes without a rule never reach their handler.
func (s *Server) authorize(c *gin.Context) {
	// No route, or not with this method: the router's own handlers answer
	// 404, or 405 with Allow; they do nothing else.
	if c.FullPath() == "" {
		c.Next()
		return
	}
	if s.public[c.Request.Method+" "+c.FullPath()] {
		c.Next()
		return
	}
	rule, ok := s.actions[c.Request.Method+" "+c.FullPath()]
	if !ok {
		s.fail(c, errNotFound)
		return
	}
	for _, p := range []string{"id", "file"} {
		// A path that names a visit or file by something that is not an
		// id names nothing (never "damaged in storage").
		if strings.Contains(c.FullPath(), ":"+p) && !portal.IsID(c.Param(p)) {
			s.fail(c, errNotFound)
			return
		}
	}
	actor, err := s.actorOf(c)
	if err != nil {
		s.fail(c, err)
		return
	}
	acc, err := s.svc.Authorize(c.Request.Context(), actor, rule.action, c.Param("id"), c.Param("file"))
	c.Set(accessKey, acc)
	if err != nil {
		if at := visitFormField(c); at != "" && formStatus(err) != 0 && acc.Visit.ID != "" && acc.Can(c.Request.Context(), policy.VisitView) {
			// A control of the visit page the policy refuses now (a
			// legal hold set, the visit closed since the page was
			// loaded): the visit page again, the refusal by what it
			// was about.
			s.refuse(c, &form{}, err, nil, at, s.visitPage)
			c.Abort()
			return
		}
		s.fail(c, err)
		return
	}
	c.Next()
}

// visitFormField is, for a form posted from the visit page, the id its
// refusal is shown by: the file's row, or the item of the information
// request; "" for any other route.
func visitFormField(c *gin.Context) string {
	switch c.FullPath() {
	case "/visits/:id/files/:file/delete", "/visits/:id/files/:file/replace", "/visits/:id/files/:file/item":
		return "file-" + c.Param("file")
	case "/visits/:id/request/:item/complete":
		if item, err := portal.ParseItem(c.Param("item")); err == nil && item != "" {
			return "item-" + item
		}
		return "request"
	}
	return ""
}
