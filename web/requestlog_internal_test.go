package web

import (
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/gin-gonic/gin"

	"github.com/ofsted-portal/evidence/portal"
)

// TestRequestLogCarriesCodesOnly: the request log names a failure by its
// code, never by its message, which may quote a file's name or other
// evidence.
func TestRequestLogCarriesCodesOnly(t *testing.T) {
	gin.SetMode(gin.ReleaseMode)
	const evidence = "Child A Smith safeguarding.pdf"
	for _, tc := range []struct {
		name string
		err  error
		code string
	}{
		{"name exists", &portal.Error{Kind: portal.KindConflict, Code: "name_exists", Msg: "A file called “" + evidence + "” is already filed under item 1.01."}, "name_exists"},
		{"wrapped", fmt.Errorf("upload %s: %w", evidence, &portal.Error{Kind: portal.KindConflict, Code: "name_exists", Msg: evidence}), "name_exists"},
		{"invalid", &portal.Error{Kind: portal.KindInvalid, Code: "bad_request", Field: "name", Msg: "“" + evidence + "” is not a name the portal takes."}, "bad_request"},
		{"malware", &portal.Error{Kind: portal.KindForbidden, Code: "malware", Msg: "This file (" + evidence + ") contains malware."}, "malware"},
		{"http error", badRequest("The file " + evidence + " is empty."), "bad_request"},
		{"internal", errors.New("store: " + evidence), "internal"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var log strings.Builder
			s := &Server{log: portal.NewLogger(&log, "debug")}
			r := gin.New()
			r.Use(s.requestLog)
			r.POST("/api/v1/visits/:id/files", func(c *gin.Context) { s.fail(c, tc.err) })
			r.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodPost, "/api/v1/visits/v-1/files", nil))
			var line string
			for _, l := range strings.Split(log.String(), "\n") {
				if strings.Contains(l, `"msg":"request"`) {
					line = l
				}
			}
			if line == "" || !strings.Contains(line, `"error_code":"`+tc.code+`"`) {
				t.Errorf("the request log does not give the code %s:\n%s", tc.code, log.String())
			}
			// An internal error's text is for the operator, in its own
			// line; nothing else may carry the message.
			if strings.Contains(line, "Child A Smith") || tc.code != "internal" && strings.Contains(log.String(), "Child A Smith") {
				t.Errorf("the log quotes the error's message:\n%s", log.String())
			}
		})
	}
}
