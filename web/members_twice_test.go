package web_test

import (
	"context"
	"html"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/ofsted-portal/evidence/portal/store"
)

// TestMembersPageShowsAPersonTwice: a person with two memberships of a
// visit is shown so on the members page, both rows, and the form refuses
// to add a member's new email address as a second membership, on its
// field.
func TestMembersPageShowsAPersonTwice(t *testing.T) {
	ts := startStack(t)
	v := ts.demoVisit(t)
	admin := ts.signIn(t, "ofsted", "admin@ofsted.example")
	ts.signIn(t, "ofsted", "hmi@ofsted.example")
	db := ts.Portal.Store().DB()
	var hmi string
	if err := db.QueryRow(`SELECT id FROM users WHERE email = ?`, "hmi@ofsted.example").Scan(&hmi); err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	if err := ts.Portal.Store().SeedMembers(context.Background(), []store.Member{{ID: store.NewID(), VisitID: v.ID, Role: "analyst",
		Email: "hmi.old@ofsted.example", UserID: hmi, CreatedAt: now, UpdatedAt: now}}); err != nil {
		t.Fatal(err)
	}
	page := html.UnescapeString(readAll(t, admin.get("/visits/"+v.ID+"/members")))
	if n := strings.Count(page, "Member twice"); n != 2 {
		t.Fatalf("the members page marks %d memberships as a person's second, want 2:\n%s", n, page)
	}
	if !strings.Contains(page, "also a member as hmi.old@ofsted.example, analyst") {
		t.Fatalf("the members page does not name the other membership:\n%s", page)
	}
	// Their provider now gives another address.
	if _, err := db.Exec(`UPDATE users SET email = ? WHERE id = ?`, "hmi.new@ofsted.example", hmi); err != nil {
		t.Fatal(err)
	}
	resp := admin.postForm("/visits/"+v.ID+"/members", map[string]string{"email": "hmi.new@ofsted.example", "role": "inspector"})
	body := html.UnescapeString(readAll(t, resp))
	if resp.StatusCode != http.StatusBadRequest || !strings.Contains(body, "is already a member of this visit as") || !strings.Contains(body, `href="#email"`) {
		t.Fatalf("adding a member's new address: %d\n%s", resp.StatusCode, body)
	}
}
