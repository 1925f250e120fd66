package web

import (
	"context"
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/ofsted-portal/evidence/portal/store"
)

// WithStatementCount reports, after each request, how many statements it
// sent to the database (session load and save included) and its route
// pattern: the test that proves no request's cost grows with the portal's
// volume uses it, and every test stack checks the plans of what its
// requests sent.
func WithStatementCount(report func(r *http.Request, route string, statements []string)) Option {
	return func(o *options) {
		// Given twice, both are told.
		if prev := o.statements; prev != nil {
			o.statements = func(r *http.Request, route string, statements []string) {
				prev(r, route, statements)
				report(r, route, statements)
			}
			return
		}
		o.statements = report
	}
}

type routeKey struct{}

// routeOf remembers the matched route for the counting wrapper.
type routeOf struct{ route string }

func (s *Server) recordRoute(c *gin.Context) {
	if r, ok := c.Request.Context().Value(routeKey{}).(*routeOf); ok {
		r.route = c.FullPath()
	}
	c.Next()
}

func countStatements(next http.Handler, report func(r *http.Request, route string, statements []string)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx, counter := store.WithCounter(r.Context())
		rt := &routeOf{}
		next.ServeHTTP(w, r.WithContext(context.WithValue(ctx, routeKey{}, rt)))
		report(r, rt.route, counter.Statements())
	})
}
