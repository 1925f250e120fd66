package web_test

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ofsted-portal/evidence/portal/store"
)

// TestRouteTableByAccount sends every registered route as every demo account
// and checks who gets past authorization. A route added to the router without
// a line here fails the test.
func TestRouteTableByAccount(t *testing.T) {
	ts := startStack(t)
	v := ts.demoVisit(t)
	accounts := map[string]*browser{}
	for _, a := range []struct{ idp, user string }{
		{"ofsted", "admin"}, {"ofsted", "lead"}, {"ofsted", "hmi"}, {"ofsted", "qam"}, {"ofsted", "sao"},
		{"ofsted", "outsider"}, {"cafcass", "coordinator"}, {"cafcass", "uploader"},
	} {
		accounts[a.user] = ts.signIn(t, a.idp, a.user+"@"+a.idp+".example")
	}
	members := "lead hmi qam sao coordinator uploader"
	everyone := "admin outsider " + members
	expect := map[string]string{
		"GET /api/v1/me/activity":                     everyone,
		"GET /api/v1/me/notifications":                everyone,
		"POST /session/extend":                        everyone,
		"PUT /api/v1/me/notifications":                everyone,
		"GET /notifications":                          everyone,
		"POST /notifications":                         everyone,
		"GET /api/v1/visits/:id/audit":                "admin lead qam",
		"GET /visits/:id/audit":                       "admin lead qam",
		"GET /api/v1/me":                              everyone,
		"GET /api/v1/visits":                          everyone,
		"POST /api/v1/visits":                         "admin",
		"GET /api/v1/visits/:id":                      "admin " + members,
		"GET /api/v1/visits/:id/members":              "admin",
		"PUT /api/v1/visits/:id/members":              "admin",
		"DELETE /api/v1/visits/:id/members/:member":   "admin",
		"GET /api/v1/visits/:id/items":                "admin " + members,
		"PUT /api/v1/visits/:id/items/:item":          "admin",
		"POST /api/v1/visits/:id/events":              "admin lead",
		"POST /api/v1/visits/:id/events/withdraw":     "admin",
		"PUT /api/v1/visits/:id/legal-hold":           "admin",
		"GET /api/v1/visits/:id/certificate":          "admin",
		"GET /api/v1/visits/:id/explain":              "admin",
		"GET /api/v1/visits/:id/files":                members,
		"POST /api/v1/visits/:id/file-names":          members,
		"POST /api/v1/visits/:id/files":               "coordinator uploader",
		"GET /api/v1/visits/:id/files/:file/content":  members,
		"DELETE /api/v1/visits/:id/files/:file":       "coordinator uploader",
		"GET /visits":                                 everyone,
		"POST /visits":                                "admin",
		"GET /visits/:id":                             "admin " + members,
		"POST /visits/:id/files":                      "coordinator uploader",
		"GET /visits/:id/members":                     "admin",
		"POST /visits/:id/members":                    "admin",
		"POST /visits/:id/members/:member/remove":     "admin",
		"GET /visits/:id/explain":                     "admin",
		"POST /visits/:id/items":                      "admin",
		"GET /api/v1/visits/:id/request":              "admin " + members,
		"POST /api/v1/visits/:id/request":             "admin lead",
		"PUT /api/v1/visits/:id/request/:item":        "admin lead",
		"DELETE /api/v1/visits/:id/request/:item":     "admin lead",
		"GET /visits/:id/request":                     "admin lead",
		"POST /visits/:id/request":                    "admin lead",
		"POST /visits/:id/request/:item/remove":       "admin lead",
		"GET /visits/:id/upload":                      "coordinator uploader",
		"GET /api/v1/visits/:id/archive":              "lead hmi qam sao coordinator",
		"OPTIONS /api/v1/visits/:id/uploads":          "coordinator uploader",
		"POST /api/v1/visits/:id/uploads":             "coordinator uploader",
		"HEAD /api/v1/visits/:id/uploads/:upload":     "coordinator uploader",
		"PATCH /api/v1/visits/:id/uploads/:upload":    "coordinator uploader",
		"DELETE /api/v1/visits/:id/uploads/:upload":   "coordinator uploader",
		"PATCH /api/v1/visits/:id/files/:file":        "lead coordinator",
		"POST /visits/:id/files/:file/item":           "lead coordinator",
		"GET /api/v1/destruction-review":              "admin",
		"POST /api/v1/visits/:id/destruction/approve": "admin",
		"GET /destruction":                            "admin",
		"POST /visits/:id/destruction/approve":        "admin",
		"POST /visits/:id/events":                     "admin lead",
		"POST /visits/:id/events/withdraw":            "admin",
		"POST /visits/:id/legal-hold":                 "admin",
		"GET /visits/:id/download":                    "lead hmi qam sao coordinator",
		// Corrections: a purge only once the visit no longer accepts
		// uploads (TestPurgeMisdirectedUpload), so nobody here.
		"POST /api/v1/visits/:id/files/:file/versions":  "coordinator uploader",
		"POST /api/v1/visits/:id/files/:file/purge":     "",
		"GET /api/v1/visits/:id/purged":                 "admin",
		"PUT /api/v1/visits/:id/request/:item/complete": "coordinator",
		"POST /visits/:id/files/:file/delete":           "coordinator uploader",
		"POST /visits/:id/files/:file/replace":          "coordinator uploader",
		"POST /visits/:id/request/:item/complete":       "coordinator",
		// Receipts are the provider's; questions are every member's.
		"POST /api/v1/visits/:id/receipts":                    "coordinator uploader",
		"GET /api/v1/visits/:id/receipts":                     "coordinator uploader",
		"GET /api/v1/visits/:id/receipts/:receipt":            "coordinator uploader",
		"GET /visits/:id/receipts/:receipt":                   "coordinator uploader",
		"GET /api/v1/visits/:id/questions":                    members,
		"POST /api/v1/visits/:id/questions":                   members,
		"POST /api/v1/visits/:id/questions/:question/posts":   members,
		"PUT /api/v1/visits/:id/questions/:question/answered": members,
		"GET /visits/:id/questions":                           members,
		"POST /visits/:id/questions":                          members,
		"POST /visits/:id/questions/:question/posts":          members,
		"POST /visits/:id/questions/:question/answered":       members,
	}
	// Statuses that still mean "past authorization" for an allowed account:
	// a live visit has no destruction certificate yet.
	// Removing a request item twice: the second allowed account finds it
	// gone (and completing it, after).
	// A visit not yet due for destruction cannot be approved (409).
	// A receipt or a question that does not exist is not found (404).
	answered := map[string]int{"GET /api/v1/visits/:id/certificate": 404,
		"DELETE /api/v1/visits/:id/request/:item": 404, "POST /visits/:id/request/:item/remove": 404,
		"POST /visits/:id/request/:item/complete":  404,
		"GET /api/v1/visits/:id/receipts/:receipt": 404, "GET /visits/:id/receipts/:receipt": 404,
		"PUT /api/v1/visits/:id/questions/:question/answered": 404, "POST /visits/:id/questions/:question/posts": 404,
		"POST /visits/:id/questions/:question/answered": 404}
	st := ts.Portal.Store()
	ctx := context.Background()
	tempMember := func() string {
		m, _, err := st.PutMember(ctx, store.Member{VisitID: v.ID, Email: "temp" + store.NewID()[:6] + "@ofsted.example", Role: "inspector"}, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		return m.ID
	}
	routes := ts.Web.Routes()
	// HEAD is answered as GET, with the same access.
	for k := range routes {
		if path, ok := strings.CutPrefix(k, "HEAD "); ok {
			if get, ok := expect["GET "+path]; ok {
				expect[k] = get
				if status, ok := answered["GET "+path]; ok {
					answered[k] = status
				}
			}
		}
	}
	var keys []string
	for k, action := range routes {
		if action == "" {
			continue // public
		}
		keys = append(keys, k)
		if _, ok := expect[k]; !ok {
			t.Errorf("route %s (%s) has no expected access in this test", k, action)
		}
	}
	slices.Sort(keys)
	for _, route := range keys {
		method, path, _ := strings.Cut(route, " ")
		allowed := strings.Fields(expect[route])
		for user, b := range accounts {
			// Filed under an item: files not yet filed are the lead's and the
			// QAM's only (see TestUnfiledFiles).
			fileID := accounts["uploader"].uploadItem(v.ID, "1.01 route-check "+store.NewID()[:8]+".pdf", "", []byte("x")).ID
			url := strings.NewReplacer(":id", v.ID, ":file", fileID, ":member", tempMember(), ":item", "cld").Replace(path)
			status := b.status(method, url, nil)
			want := slices.Contains(allowed, user)
			passed := !slices.Contains([]int{401, 403, 404, 410, 423}, status) || want && answered[route] == status
			switch {
			case want && !passed:
				t.Errorf("%s as %s: %d, want past authorization", route, user, status)
			case !want && passed:
				t.Errorf("%s as %s: %d, want refused", route, user, status)
			case !want && user == "outsider" && strings.Contains(path, ":id") && status != 404:
				t.Errorf("%s as outsider: %d, want 404", route, status)
			case !want && user != "outsider" && status != 403:
				t.Errorf("%s as %s: %d, want 403", route, user, status)
			}
		}
	}
}
