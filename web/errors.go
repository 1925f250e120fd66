package web

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"syscall"

	"github.com/gin-gonic/gin"

	"github.com/ofsted-portal/evidence/portal"
	"github.com/ofsted-portal/evidence/portal/blobs"
	"github.com/ofsted-portal/evidence/portal/evidence"
	"github.com/ofsted-portal/evidence/portal/store"
)

// httpError is an error with what the person should see. Its message is
// written for people and never carries an internal error's text.
type httpError struct {
	status int
	code   string
	msg    string
}

func (e *httpError) Error() string { return e.code + ": " + e.msg }

// returnToKey holds, on a sign-in that failed, where it was going: the
// error page's link to start again keeps it.
const returnToKey = "return_to"

var (
	errNotSignedIn = &httpError{http.StatusUnauthorized, "not_signed_in", "Sign in to continue."}
	errNotFound    = &httpError{http.StatusNotFound, "not_found", "Page not found. If you typed the address, check it is correct."}
	errInternal    = &httpError{http.StatusInternalServerError, "internal", "Sorry, there is a problem with the service. Try again later."}
)

func badRequest(msg string) *httpError {
	return &httpError{http.StatusBadRequest, "bad_request", msg}
}

// kindStatus is the status of each kind of domain error.
var kindStatus = map[portal.Kind]int{
	portal.KindInvalid:     http.StatusBadRequest,
	portal.KindNotSignedIn: http.StatusUnauthorized,
	portal.KindForbidden:   http.StatusForbidden,
	portal.KindNotFound:    http.StatusNotFound,
	portal.KindConflict:    http.StatusConflict,
	portal.KindGone:        http.StatusGone,
	portal.KindLocked:      http.StatusLocked,
	portal.KindTooLarge:    http.StatusRequestEntityTooLarge,
	portal.KindCorrupt:     http.StatusInternalServerError,
	portal.KindUnavailable: http.StatusServiceUnavailable,
	portal.KindStorageFull: http.StatusInsufficientStorage,
}

// errStorageFull answers an act that found no room to store what it must.
var errStorageFull = &httpError{http.StatusInsufficientStorage, "storage_full",
	"The portal's storage is full, so nothing you sent was kept. The portal's operators have been told: try again later."}

// errDatabaseUnavailable answers an act the database could not take just
// now (down, restarting, cut off, or too busy to answer in time): a
// moment later it may. The person is told to check what they sent, since
// a commit whose answer was lost may have stored it.
var errDatabaseUnavailable = &httpError{http.StatusServiceUnavailable, "database_unavailable",
	"The portal cannot reach its database at the moment. Try again in a minute. If you were sending something, check whether it arrived before you send it again."}

// unavailableRetryAfter is the Retry-After of an answer 503: a database
// restarting or failing over, a lock let go, is usually back within it.
const unavailableRetryAfter = "30"

// toHTTPError is the one place errors become statuses.
func toHTTPError(err error) *httpError {
	var he *httpError
	if errors.As(err, &he) {
		return he
	}
	if e, ok := portal.AsError(err); ok {
		if e.Kind == portal.KindNotSignedIn {
			return errNotSignedIn
		}
		return &httpError{kindStatus[e.Kind], e.Code, e.Msg}
	}
	switch {
	case errors.Is(err, blobs.ErrFull), store.IsFull(err), errors.Is(err, syscall.ENOSPC):
		return errStorageFull
	case store.IsUnavailable(err):
		return errDatabaseUnavailable
	case errors.Is(err, store.ErrNotFound):
		return errNotFound
	case errors.Is(err, store.ErrConflict):
		return &httpError{http.StatusConflict, "conflict", "This conflicts with something that already exists."}
	case errors.Is(err, evidence.ErrCorrupt):
		return &httpError{http.StatusInternalServerError, "corrupt", "This file is damaged in storage and cannot be downloaded. The portal team has been told. Ask the provider to upload it again."}
	case errors.Is(err, evidence.ErrTooLarge):
		return &httpError{http.StatusRequestEntityTooLarge, "too_large", "The file is larger than the portal's limit."}
	case errors.Is(err, store.ErrUploadTaken):
		return &httpError{http.StatusServiceUnavailable, "upload_stopped", "The upload stalled for too long and was stopped. Nothing was kept: upload it again."}
	case errors.Is(err, evidence.ErrPastLength):
		return &httpError{http.StatusRequestEntityTooLarge, "past_length", "These bytes go past the declared length of the upload: the last part was not kept. Send the file as declared, or start a new upload."}
	case errors.Is(err, evidence.ErrShortBody):
		return badRequest("The upload ended before all of the file arrived. Nothing was kept: upload it again.")
	}
	return errInternal
}

// fail answers with the error: JSON under /api/, a page elsewhere.
func (s *Server) fail(c *gin.Context, err error) {
	he := toHTTPError(err)
	if bodyFailed(c) && he.status >= 500 {
		// Whatever broke (often the upload to storage, cancelled when the
		// client went), the cause was the client's body.
		he = toHTTPError(errBodyFailed)
	}
	if he == errInternal && errors.Is(c.Request.Context().Err(), context.Canceled) {
		// The client went, and the request's work failed with it (a
		// statement, a read or a write cancelled, in whatever words its
		// driver has): not the portal's failure, and no one is left to
		// answer. 499 is what a load balancer logs for it. A failure of
		// its own kind (damage, a full store, the database down) is
		// answered and logged as ever.
		s.log.Info("request stopped: its client left", "request_id", requestID(c), "route", c.FullPath(), "err", err)
		c.Set(errorCodeKey, "client_left")
		if c.Writer.Written() {
			// A client that half-closed its side may still be reading:
			// a streamed answer (a zip, an export) ended cleanly would
			// read as the whole. The connection is cut, as answer does.
			c.Abort()
			panic(http.ErrAbortHandler)
		}
		c.AbortWithStatus(statusClientLeft)
		return
	}
	if he.status >= 500 {
		s.log.Error("request failed", "request_id", requestID(c), "route", c.FullPath(), "code", he.code, "err", err)
	}
	s.answer(c, he)
}

// statusClientLeft is the status a request whose client left is logged
// with (nginx's 499): it is sent to no one.
const statusClientLeft = 499

// answer sends the error: JSON under /api/, a page elsewhere; the
// connection is cut when the response has already begun.
func (s *Server) answer(c *gin.Context, he *httpError) {
	if c.Request.Body != nil && c.Request.ContentLength != 0 && he.status >= 400 {
		// The body may not have been read to its end: say the connection
		// ends here, so the client reads this answer rather than a reset.
		c.Header("Connection", "close")
	}
	// The request log names the failure by its code only: a message, even
	// one written for people, may quote a file's name or other evidence.
	c.Set(errorCodeKey, he.code)
	if he.status == http.StatusServiceUnavailable && c.Writer.Header().Get("Retry-After") == "" {
		c.Header("Retry-After", unavailableRetryAfter)
	}
	if c.Writer.Written() {
		// Headers are gone: the only honest signal left is to cut the
		// connection, so a partial body is never taken as complete.
		c.Abort()
		panic(http.ErrAbortHandler)
	}
	if he == errNotSignedIn && !isAPI(c) && (c.Request.Method == http.MethodGet || c.Request.Method == http.MethodHead) {
		c.Redirect(http.StatusSeeOther, "/?return_to="+urlQueryEscape(c.Request.URL.RequestURI()))
		c.Abort()
		return
	}
	if isAPI(c) {
		c.AbortWithStatusJSON(he.status, gin.H{"error": he.msg, "code": he.code})
		return
	}
	ep := errorPage{Title: statusTitle(he.status), Message: he.msg, Code: he.code, Advice: statusAdvice(he.status), RequestID: requestID(c)}
	if he.status == http.StatusLocked && he.code != "window_closed" {
		// Closed for another reason than the person's dates (a legal
		// hold, a file being checked, uploads closed): the message says
		// which, and advice about access dates would mislead.
		ep.Advice = nil
	}
	if he == errNotSignedIn {
		// A form sent after the session ended: its values cannot be kept
		// for someone not signed in, so the page says so, and signing in
		// leads back to the form's page to send it again.
		ep.SignIn = "/?return_to=" + urlQueryEscape(formPage(c))
		ep.Advice = append(ep.Advice, "What you sent was not saved. Sign in again to go back to the page and send it again.")
	}
	if rt := c.GetString(returnToKey); rt != "" {
		ep.SignIn = "/?return_to=" + urlQueryEscape(rt) // a sign-in that failed
	}
	if he == errFormTooBig || he == errMultipartForm || he == errFormCut || he == errFormUnreadable {
		// About the form, not a file.
		ep.Advice = []string{"Go back to the form, check what you typed and send it again."}
		if he == errFormTooBig {
			ep.Title = "The form is too large"
			ep.Advice = []string{"Go back to the form, shorten what you typed and send it again. A longer text can be sent as a file."}
		}
	}
	if id := c.Param("id"); id != "" && he.status != http.StatusNotFound && he.status != http.StatusGone {
		ep.Back = "/visits/" + id
	}
	if he.code == "access_disabled" {
		// Nothing in the portal is theirs to go back to, and no lead
		// inspector can give it back: the message says whom to ask.
		ep.Title, ep.Advice, ep.Back = "Your access has been disabled", nil, ""
	}
	s.renderStatus(c, he.status, "error", ep)
	c.Abort()
}

// formPages is the page each form is on, by the route it is sent to,
// where it is not the route's own page (GET of the same path) or the
// visit's page: where a person returns to send it again after signing in.
var formPages = map[string]string{
	"/visits/:id/files":                        "/visits/:id/upload",
	"/visits/:id/request/:item/remove":         "/visits/:id/request",
	"/visits/:id/members/:member/remove":       "/visits/:id/members",
	"/visits/:id/items":                        "/visits/:id/members",
	"/visits/:id/destruction/approve":          "/destruction",
	"/visits/:id/questions/:question/posts":    "/visits/:id/questions",
	"/visits/:id/questions/:question/answered": "/visits/:id/questions",
}

// formPage is the page the form sent to this route is on.
func formPage(c *gin.Context) string {
	route := c.FullPath()
	page, ok := formPages[route]
	switch {
	case ok:
	case pageRoutes[route]:
		page = route
	case strings.HasPrefix(route, "/visits/:id/"):
		page = "/visits/:id"
	default:
		page = "/visits"
	}
	return strings.Replace(page, ":id", c.Param("id"), 1)
}

// pageRoutes are the pages that take their own forms (a POST to the path
// of a GET page).
var pageRoutes = map[string]bool{"/visits": true, "/visits/:id/request": true, "/visits/:id/members": true,
	"/notifications": true, "/visits/:id/questions": true}

func isAPI(c *gin.Context) bool {
	// A back-channel logout is answered in JSON too: its caller is a
	// server; and so is "Stay signed in", which only the page's script
	// asks (a 401 there sends the person to sign in again: timeout.mjs).
	return strings.HasPrefix(c.Request.URL.Path, "/api/") || c.FullPath() == backchannelRoute || c.Request.URL.Path == extendRoute
}

// statusAdvice tells people what they can do next, by status.
func statusAdvice(status int) []string {
	switch status {
	case http.StatusUnauthorized:
		return []string{"For your security, you are signed out after 30 minutes without activity and after 12 hours in any case."}
	case http.StatusForbidden:
		return []string{"If you think you should have access, ask the visit’s lead inspector or the portal administrator."}
	case http.StatusNotFound:
		return []string{"If you followed a link from a visit, the file or visit may have been removed, or you may not be a member of that visit."}
	case http.StatusGone:
		return []string{"Evidence is destroyed after the letter of findings is published and the retention period has passed. It cannot be recovered."}
	case http.StatusRequestEntityTooLarge:
		return []string{"Split the file into smaller parts, or ask the portal team about the limit."}
	case http.StatusLocked:
		return []string{"Access to a visit opens and closes on dates set for each role."}
	case http.StatusInternalServerError, http.StatusBadGateway, http.StatusServiceUnavailable:
		return []string{"Try again later. Nothing you sent has been stored unless the page says so."}
	}
	return nil
}

func statusTitle(status int) string {
	switch status {
	case http.StatusUnauthorized:
		return "You need to sign in"
	case http.StatusForbidden:
		return "You do not have access to this"
	case http.StatusNotFound:
		return "Page not found"
	case http.StatusGone:
		return "This has been destroyed"
	case http.StatusRequestEntityTooLarge:
		return "The file is too large"
	case http.StatusLocked:
		return "This is closed at the moment"
	case http.StatusBadRequest:
		return "There is a problem"
	case http.StatusConflict:
		return "This conflicts with something that already exists"
	case http.StatusTooManyRequests:
		return "Too many attempts"
	case http.StatusUnsupportedMediaType:
		return "The portal cannot read what was sent"
	}
	return "Sorry, there is a problem with the service"
}
