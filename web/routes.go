package web

import (
	"fmt"
	"io/fs"
	"net/http"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/ofsted-portal/evidence/policy"
)

// routeRule is the authorization requirement of one route.
type routeRule struct {
	action policy.Action
}

// router registers every route. A route is either public (listed with
// public) or carries the policy action authorize asks the domain to decide
// (listed with protect); nothing else can be registered.
func (s *Server) router() (http.Handler, error) {
	e := newEngine()
	// Client IPs in the audit trail: only the configured proxies may speak
	// for the client; with none, the connection's address is the client.
	if err := e.SetTrustedProxies(s.cfg.TrustedProxies); err != nil {
		return nil, fmt.Errorf("web: PORTAL_TRUSTED_PROXIES: %w", err)
	}
	s.actions = map[string]routeRule{}
	s.public = map[string]bool{}
	s.streamed = map[string]bool{}
	if s.metrics != nil {
		e.Use(s.countRequests)
	}
	if s.countRoutes {
		e.Use(s.recordRoute)
	}
	e.Use(s.middleware()...)
	e.NoRoute(func(c *gin.Context) { s.fail(c, errNotFound) })
	e.NoMethod(func(c *gin.Context) {
		s.fail(c, &httpError{http.StatusMethodNotAllowed, "method_not_allowed", "This address does not accept that kind of request."})
	})

	// HEAD is answered as GET (net/http sends no body), as every
	// general-purpose server must (RFC 9110 section 9.1), on each GET
	// route without an effect: not a download, which records one, nor a
	// sign-in step, which spends the sign-in limit or the sign-in in flight.
	// (The trail's route answers a HEAD of its export with the headers
	// alone: visitAudit.)
	headToo := func(method, path string) bool {
		_, transfer := transfers[method+" "+path]
		return method == http.MethodGet && !transfer && !strings.HasPrefix(path, "/auth/")
	}
	public := func(method, path string, h gin.HandlerFunc) {
		s.public[method+" "+path] = true
		e.Handle(method, path, h)
		if headToo(method, path) {
			s.public[http.MethodHead+" "+path] = true
			e.Handle(http.MethodHead, path, h)
		}
	}
	protect := func(method, path string, a policy.Action, h gin.HandlerFunc) {
		s.actions[method+" "+path] = routeRule{action: a}
		e.Handle(method, path, h)
		if headToo(method, path) {
			s.actions[http.MethodHead+" "+path] = routeRule{action: a}
			e.Handle(http.MethodHead, path, h)
		}
	}
	// A streaming route reads its body as it comes (raw, or multipart part
	// by part) and is the only kind formBodies leaves unread: every other
	// route refuses a multipart body.
	streaming := func(method, path string, a policy.Action, h gin.HandlerFunc) {
		s.streamed[method+" "+path] = true
		protect(method, path, a, h)
	}

	// Public: health, sign-in and sign-out, the start page, static assets.
	public("GET", "/healthz", s.healthz)
	public("GET", "/readyz", s.readyz)
	public("GET", "/auth/:idp/login", s.login)
	public("GET", "/auth/:idp/callback", s.callback)
	public("POST", "/auth/logout", s.logout)
	// The identity provider's own server, ending sessions (backchannel.go).
	public("POST", backchannelRoute, s.backchannelLogout)
	public("GET", "/", s.startPage)
	public("GET", "/static/*path", s.static)
	// Public: the pages every public service has (the footer's links).
	public("GET", "/help", s.publicPage("help", "Help", "help"))
	public("GET", "/contact", s.publicPage("contact", "Contact", "contact"))
	public("GET", "/accessibility", s.publicPage("accessibility", "Accessibility statement", "accessibility"))
	public("GET", "/privacy", s.publicPage("privacy", "Privacy notice", "privacy"))
	public("GET", "/cookies", s.publicPage("cookies", "Cookies", "cookies"))

	// JSON API.
	protect("GET", "/api/v1/me", policy.SelfView, s.me)
	protect("GET", "/api/v1/me/activity", policy.SelfView, s.myActivity)
	protect("GET", "/api/v1/me/notifications", policy.SelfView, s.myNotifications)
	protect("PUT", "/api/v1/me/notifications", policy.SelfView, s.putMyNotifications)
	protect("POST", extendRoute, policy.SelfView, s.extendSession)
	protect("GET", "/api/v1/visits", policy.VisitList, s.listVisits)
	protect("POST", "/api/v1/visits", policy.VisitCreate, s.createVisit)
	protect("GET", "/api/v1/visits/:id", policy.VisitView, s.getVisit)
	protect("GET", "/api/v1/visits/:id/members", policy.MemberManage, s.listMembers)
	protect("PUT", "/api/v1/visits/:id/members", policy.MemberManage, s.putMember)
	protect("DELETE", "/api/v1/visits/:id/members/:member", policy.MemberManage, s.removeMember)
	protect("GET", "/api/v1/visits/:id/items", policy.VisitView, s.listRestrictions)
	protect("PUT", "/api/v1/visits/:id/items/:item", policy.VisitManage, s.putRestriction)
	protect("GET", "/api/v1/visits/:id/request", policy.VisitView, s.getRequest)
	protect("POST", "/api/v1/visits/:id/request", policy.RequestManage, s.addRequestItem)
	protect("PUT", "/api/v1/visits/:id/request/:item", policy.RequestManage, s.changeRequestItem)
	protect("DELETE", "/api/v1/visits/:id/request/:item", policy.RequestManage, s.removeRequestItem)
	protect("GET", "/api/v1/visits/:id/explain", policy.MemberManage, s.explainAPI)
	protect("GET", auditExportRoute, policy.AuditView, s.visitAudit)
	protect("POST", "/api/v1/visits/:id/events", policy.VisitRecordEvent, s.recordEvent)
	protect("POST", "/api/v1/visits/:id/events/withdraw", policy.EventWithdraw, s.withdrawEvent)
	protect("PUT", "/api/v1/visits/:id/legal-hold", policy.LegalHoldSet, s.setLegalHold)
	protect("GET", "/api/v1/visits/:id/certificate", policy.CertificateView, s.certificate)
	protect("GET", "/api/v1/destruction-review", policy.DestructionApprove, s.destructionReview)
	protect("POST", "/api/v1/visits/:id/destruction/approve", policy.DestructionApprove, s.approveDestruction)
	protect("GET", "/api/v1/visits/:id/files", policy.FileList, s.listFiles)
	protect("POST", "/api/v1/visits/:id/file-names", policy.FileList, s.fileNameTaken)
	streaming("POST", "/api/v1/visits/:id/files", policy.FileUpload, s.uploadFile)
	protect("GET", "/api/v1/visits/:id/files/:file/content", policy.FileDownload, s.downloadFile)
	protect("GET", "/api/v1/visits/:id/archive", policy.FileDownload, s.downloadArchive)
	protect("OPTIONS", "/api/v1/visits/:id/uploads", policy.FileUpload, s.tusOptions)
	protect("POST", "/api/v1/visits/:id/uploads", policy.FileUpload, s.tusCreate)
	protect("HEAD", "/api/v1/visits/:id/uploads/:upload", policy.FileUpload, s.tusHead)
	streaming("PATCH", "/api/v1/visits/:id/uploads/:upload", policy.FileUpload, s.tusPatch)
	protect("DELETE", "/api/v1/visits/:id/uploads/:upload", policy.FileUpload, s.tusDelete)
	protect("DELETE", "/api/v1/visits/:id/files/:file", policy.FileDelete, s.deleteFile)
	protect("PATCH", "/api/v1/visits/:id/files/:file", policy.FileRefile, s.refileFile)

	// Correcting mistakes and purging misdirected uploads (api_corrections.go).
	streaming("POST", "/api/v1/visits/:id/files/:file/versions", policy.FileReplace, s.replaceFile)
	protect("POST", "/api/v1/visits/:id/files/:file/purge", policy.FilePurge, s.purgeFile)
	protect("GET", "/api/v1/visits/:id/purged", policy.VisitManage, s.listPurged)
	protect("PUT", "/api/v1/visits/:id/request/:item/complete", policy.ItemComplete, s.completeItem)
	protect("POST", "/visits/:id/files/:file/delete", policy.FileDelete, s.deleteFileForm)
	streaming("POST", "/visits/:id/files/:file/replace", policy.FileReplace, s.replaceFileForm)
	protect("POST", "/visits/:id/request/:item/complete", policy.ItemComplete, s.completeItemForm)

	// Pages.
	protect("GET", "/visits", policy.VisitList, s.visitsPage)
	protect("POST", "/visits", policy.VisitCreate, s.createVisitForm)
	protect("GET", "/visits/:id", policy.VisitView, s.visitPage)
	protect("GET", "/visits/:id/upload", policy.FileUpload, s.uploadPage)
	streaming("POST", "/visits/:id/files", policy.FileUpload, s.uploadForm)
	protect("POST", "/visits/:id/files/:file/item", policy.FileRefile, s.refileForm)
	protect("GET", "/visits/:id/request", policy.RequestManage, s.requestPage)
	protect("POST", "/visits/:id/request", policy.RequestManage, s.requestForm)
	protect("POST", "/visits/:id/request/:item/remove", policy.RequestManage, s.removeRequestForm)
	protect("GET", "/visits/:id/members", policy.MemberManage, s.membersPage)
	protect("POST", "/visits/:id/members", policy.MemberManage, s.addMemberForm)
	protect("POST", "/visits/:id/members/:member/remove", policy.MemberManage, s.removeMemberForm)
	protect("GET", "/visits/:id/explain", policy.MemberManage, s.explainPage)
	protect("GET", "/visits/:id/audit", policy.AuditView, s.auditPage)
	protect("POST", "/visits/:id/items", policy.VisitManage, s.restrictForm)
	protect("GET", "/destruction", policy.DestructionApprove, s.destructionPage)
	protect("GET", "/notifications", policy.SelfView, s.notificationsPage)
	protect("POST", "/notifications", policy.SelfView, s.saveNotificationsForm)
	protect("POST", "/visits/:id/destruction/approve", policy.DestructionApprove, s.approveDestructionForm)

	// Pages: the visit's life (letter events, legal hold) and choosing
	// files to download.
	protect("POST", "/visits/:id/events", policy.VisitRecordEvent, s.recordEventForm)
	protect("POST", "/visits/:id/events/withdraw", policy.EventWithdraw, s.withdrawEventForm)
	protect("POST", "/visits/:id/legal-hold", policy.LegalHoldSet, s.legalHoldForm)
	protect("GET", "/visits/:id/download", policy.FileDownload, s.downloadSelected)
	// Signed submission receipts, and questions and answers on items and
	// files (the domain decides each receipt and thread in turn).
	protect("POST", "/api/v1/visits/:id/receipts", policy.ReceiptIssue, s.issueReceipt)
	protect("GET", "/api/v1/visits/:id/receipts", policy.ReceiptView, s.listReceipts)
	protect("GET", "/api/v1/visits/:id/receipts/:receipt", policy.ReceiptView, s.downloadReceipt)
	protect("GET", "/visits/:id/receipts/:receipt", policy.ReceiptView, s.receiptPage)
	protect("GET", "/api/v1/visits/:id/questions", policy.QuestionView, s.listQuestions)
	protect("POST", "/api/v1/visits/:id/questions", policy.QuestionPost, s.askQuestion)
	protect("POST", "/api/v1/visits/:id/questions/:question/posts", policy.QuestionPost, s.replyQuestion)
	protect("PUT", "/api/v1/visits/:id/questions/:question/answered", policy.QuestionPost, s.answeredQuestion)
	protect("GET", "/visits/:id/questions", policy.QuestionView, s.questionsPage)
	protect("POST", "/visits/:id/questions", policy.QuestionPost, s.askForm)
	protect("POST", "/visits/:id/questions/:question/posts", policy.QuestionPost, s.replyForm)
	protect("POST", "/visits/:id/questions/:question/answered", policy.QuestionPost, s.answeredForm)

	if err := s.mustHaveRules(e); err != nil {
		return nil, err
	}
	for route := range s.streamed {
		if !transfers[route] {
			return nil, fmt.Errorf("web: streaming route %s is not an upload in transfers: its bytes would go uncounted", route)
		}
	}
	for route, upload := range transfers {
		if _, ok := s.actions[route]; !ok {
			return nil, fmt.Errorf("web: transfer route %s is not registered: its bytes would go uncounted", route)
		}
		if upload && !s.streamed[route] {
			return nil, fmt.Errorf("web: upload route %s is not registered as streaming: its body would be refused or read as a form", route)
		}
	}
	return e, nil
}

// middleware is what every request passes through in Gin, in order,
// before its handler (the security headers are set before Gin: frame).
func (s *Server) middleware() []gin.HandlerFunc {
	return []gin.HandlerFunc{s.recovery, s.requestLog, s.strictBodies, s.crossOrigin, s.authorize, s.formBodies}
}

// static serves the embedded assets: files only, never a folder's listing.
func (s *Server) static(c *gin.Context) {
	fsys := noListing{Static()}
	name := strings.TrimPrefix(c.Param("path"), "/")
	f, err := fsys.Open(name)
	if !fs.ValidPath(name) || err != nil {
		s.fail(c, errNotFound)
		return
	}
	f.Close()
	http.ServeFileFS(c.Writer, c.Request, fsys, name)
}

// Routes lists "METHOD /path" of every route with its action ("" for
// public ones); the route-table authorization test walks it.
func (s *Server) Routes() map[string]string {
	out := map[string]string{}
	for k := range s.public {
		out[k] = ""
	}
	for k, r := range s.actions {
		out[k] = string(r.action)
	}
	return out
}

// mustHaveRules refuses to start if a registered route has neither a public
// entry nor a policy rule: such a route would always answer 404, which is
// safe but surely a mistake.
func (s *Server) mustHaveRules(e *gin.Engine) error {
	for _, r := range e.Routes() {
		k := r.Method + " " + r.Path
		if !s.public[k] {
			if _, ok := s.actions[k]; !ok {
				return fmt.Errorf("web: route %s has no authorization rule", k)
			}
		}
	}
	return nil
}
