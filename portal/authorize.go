package portal

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"

	"github.com/gin-gonic/gin"

	"github.com/ofsted-portal/evidence/policy"
	"github.com/ofsted-portal/evidence/portal/store"
)

// access is what authorize established for a request: who, on what, and
// the decision. Handlers read it instead of deciding anything themselves.
type access struct {
	user     store.User
	admin    bool
	member   store.Member
	visit    store.Visit
	file     store.File
	window   accessWindow // the member's, when a member
	status   visitStatus  // the visit's, computed once per request
	decision policy.Decision
}

const accessKey = "access"

func accessOf(c *gin.Context) *access { return c.MustGet(accessKey).(*access) }

// routeRule is the authorization requirement of one route.
type routeRule struct {
	action policy.Action
}

// authorize is the one authorization middleware. It loads the principal
// from the session, the visit and file named in the path, asks policy, and
// stops the request unless the decision allows it. Deny is the default:
// routes without a rule never reach their handler.
func (s *Server) authorize(c *gin.Context) {
	if s.public[c.Request.Method+" "+c.FullPath()] {
		c.Next()
		return
	}
	rule, ok := s.actions[c.Request.Method+" "+c.FullPath()]
	if !ok {
		s.fail(c, errNotFound)
		return
	}
	acc, err := s.loadAccess(c)
	if err != nil {
		s.fail(c, err)
		return
	}
	res, err := s.resource(c.Request.Context(), acc, &acc.file)
	if err != nil {
		s.fail(c, err)
		return
	}
	acc.decision = s.policy.Decide(s.principal(acc), rule.action, res)
	c.Set(accessKey, acc)
	if !acc.decision.Allow {
		if acc.user.ID != "" {
			// A refusal is recorded; if it cannot be, the refusal still stands.
			rec := s.auditRec(c, "request.denied", c.Param("file"), "denied", map[string]any{
				"action": string(rule.action), "policies": acc.decision.Policies, "rule": acc.decision.Rule, "route": c.FullPath()})
			if err := s.store.Audit(c.Request.Context(), rec); err != nil {
				s.fail(c, err)
				return
			}
		}
		s.log.Info("denied", "request_id", requestID(c), "user", acc.user.ID, "action", string(rule.action),
			"visit", acc.visit.ID, "policies", acc.decision.Policies, "rule", acc.decision.Rule)
		switch d := acc.decision; {
		case acc.user.ID == "":
			s.fail(c, errNotSignedIn)
		case !d.Visible:
			s.fail(c, errNotFound)
		case d.Gone:
			s.fail(c, &httpError{http.StatusGone, "destroyed", "This visit's evidence has been destroyed under the retention schedule."})
		case d.Locked && d.Rule == "outside-access-window":
			s.fail(c, &httpError{http.StatusLocked, "window_closed", windowMessage(acc.window, s.now())})
		case d.Locked:
			s.fail(c, &httpError{http.StatusLocked, "locked", "This visit is not accepting uploads or changes to files at the moment."})
		default:
			s.fail(c, errForbidden)
		}
		return
	}
	s.log.Debug("allowed", "request_id", requestID(c), "user", acc.user.ID, "action", string(rule.action), "policies", acc.decision.Policies)
	c.Next()
}

func (s *Server) loadAccess(c *gin.Context) (*access, error) {
	ctx := c.Request.Context()
	acc := &access{}
	uid := s.sessions.GetString(ctx, sessUserID)
	if uid == "" {
		return acc, nil
	}
	u, err := s.store.User(ctx, uid)
	if errors.Is(err, store.ErrNotFound) {
		return acc, nil
	}
	if err != nil {
		return nil, err
	}
	acc.user = u
	if acc.admin, err = s.store.HasPortalRole(ctx, u.ID, store.RoleAdministrator); err != nil {
		return nil, err
	}
	visitID := c.Param("id")
	if visitID == "" {
		return acc, nil
	}
	if acc.visit, err = s.store.Visit(ctx, visitID); err != nil {
		return nil, err // not found is 404 for everyone
	}
	if acc.status, err = s.visitStatus(ctx, acc.visit); err != nil {
		return nil, err
	}
	acc.member, err = s.store.MembershipOf(ctx, visitID, u.ID)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return nil, err
	}
	if acc.member.Role != "" {
		acc.window = s.memberWindow(acc.visit, acc.member, acc.status.Letter.Published)
	}
	if fileID := c.Param("file"); fileID != "" {
		if acc.member.Role == "" || acc.visit.State == stateDestroying || acc.visit.State == stateDestroyed {
			// Not a member, or nothing left: policy answers (404 or 410).
			return acc, nil
		}
		if acc.file, err = s.store.File(ctx, visitID, fileID); err != nil {
			return nil, err
		}
	}
	return acc, nil
}

func urlQueryEscape(s string) string { return url.QueryEscape(s) }

// mustHaveRules panics at start-up if a registered route has neither a
// public entry nor a policy rule: such a route would always answer 404,
// which is safe but surely a mistake.
func (s *Server) mustHaveRules(e *gin.Engine) {
	for _, r := range e.Routes() {
		k := r.Method + " " + r.Path
		if !s.public[k] {
			if _, ok := s.actions[k]; !ok {
				panic(fmt.Sprintf("portal: route %s has no authorization rule", k))
			}
		}
	}
}
