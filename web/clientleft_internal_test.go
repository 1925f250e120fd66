package web

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/gin-gonic/gin"

	"github.com/ofsted-portal/evidence/portal/evidence"
)

// TestClientLeftIsNotAFailure: a request whose client went (its context
// cancelled) and whose work failed with it, a statement or a read
// cancelled, is not the portal's failure: it is not logged as an error an
// operator is paged for, and nothing is answered to no one (499, as a
// load balancer would log it). A failure of its own kind (damage found in
// a file) is still one, client or no client.
func TestClientLeftIsNotAFailure(t *testing.T) {
	gin.SetMode(gin.TestMode)
	for _, tc := range []struct {
		name       string
		err        error
		wantError  bool
		wantStatus int
	}{
		{"a statement cancelled", context.Canceled, false, 499},
		{"a driver's own words for it", errors.New("interrupted (9)"), false, 499},
		{"damage found as it left", evidence.ErrCorrupt, true, http.StatusInternalServerError},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var log bytes.Buffer
			s := &Server{log: slog.New(slog.NewJSONHandler(&log, nil))}
			w := httptest.NewRecorder()
			c, _ := gin.CreateTestContext(w)
			ctx, cancel := context.WithCancel(context.Background())
			cancel()
			c.Request = httptest.NewRequest(http.MethodGet, "/api/v1/visits/v/audit", nil).WithContext(ctx)
			s.fail(c, tc.err)
			c.Writer.WriteHeaderNow()
			if logged := strings.Contains(log.String(), `"level":"ERROR"`); logged != tc.wantError || w.Code != tc.wantStatus {
				t.Errorf("logged as an error %v (want %v), answered %d (want %d): %s", logged, tc.wantError, w.Code, tc.wantStatus, log.String())
			}
		})
	}
}
