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

// WithRowsRead reports, after each request, how many rows it read from
// the database and its route pattern: a request that reads a page reads
// about as many rows whether the portal holds ten visits or ten thousand,
// while one statement that reads every receipt of a visit stays one
// statement.
func WithRowsRead(report func(r *http.Request, route string, rows int64)) Option {
	return func(o *options) { o.rows = report }
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

func countStatements(next http.Handler, statements func(r *http.Request, route string, statements []string), rows func(r *http.Request, route string, rows int64)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx, counter := store.WithCounter(r.Context())
		rt := &routeOf{}
		next.ServeHTTP(w, r.WithContext(context.WithValue(ctx, routeKey{}, rt)))
		if rows != nil {
			rows(r, rt.route, counter.Rows())
		}
		if statements != nil {
			statements(r, rt.route, counter.Statements())
		}
	})
}
