package web_test

import (
	"net/http"
	"strings"
	"testing"
)

// TestEveryRouteIsGuarded walks the router's route table: every route that
// is not public refuses a signed-out request, and every visit route hides the
// visit from a signed-in outsider. A new route appears here by itself.
func TestEveryRouteIsGuarded(t *testing.T) {
	ts := startStack(t)
	v := ts.demoVisit(t)
	outsider := ts.signIn(t, "ofsted", "outsider@ofsted.example")
	signedOut := ts.newBrowser(t)
	signedOut.c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	fill := strings.NewReplacer(":id", v.ID, ":file", "00000000000000000000000000000000", ":member", "00000000000000000000000000000000",
		":idp", "ofsted", "*path", "portal.css")
	routes := ts.Web.Routes()
	if len(routes) < 20 {
		t.Fatalf("only %d routes", len(routes))
	}
	for route, action := range routes {
		method, path, _ := strings.Cut(route, " ")
		url := fill.Replace(path)
		t.Run(route, func(t *testing.T) {
			if action == "" {
				return // public by declaration: listed in routes.go
			}
			req, _ := http.NewRequest(method, signedOut.base+url, nil)
			resp := signedOut.do(req)
			resp.Body.Close()
			switch {
			case resp.StatusCode == http.StatusUnauthorized:
			case (method == "GET" || method == "HEAD") && !strings.HasPrefix(path, "/api/") && resp.StatusCode == http.StatusSeeOther &&
				strings.HasPrefix(resp.Header.Get("Location"), "/?return_to="):
			default:
				t.Errorf("signed out: %s %s answered %d", method, url, resp.StatusCode)
			}
			if !strings.Contains(path, ":id") {
				return
			}
			req, _ = http.NewRequest(method, outsider.base+url, nil)
			resp = outsider.do(req)
			resp.Body.Close()
			if resp.StatusCode != http.StatusNotFound {
				t.Errorf("outsider: %s %s answered %d, want 404 (the visit is not theirs to know of)", method, url, resp.StatusCode)
			}
		})
	}
}
