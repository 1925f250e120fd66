package portal_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/ofsted-portal/evidence/policy"
	"github.com/ofsted-portal/evidence/portal"
)

// TestRestrictedItemsTitleIsForItsRoles: the title of a case file item
// names a child. Once an administrator restricts the item to some roles of
// the inspection team, its title is for them, the lead inspector who keeps
// the request, the provider's staff who supply it, and administrators;
// the rest of the team see that the item is there and when it is due, not
// whom it is about, nor how many files it has. Before, every member read
// the title in the information request.
func TestRestrictedItemsTitleIsForItsRoles(t *testing.T) {
	d := startDomain(t)
	ctx := context.Background()
	d.demo()
	const title = "Case file: Amelia Jones, born 2015"
	lead := d.person("ofsted", "lead@ofsted.example")
	admin := d.person("ofsted", "admin@ofsted.example")
	it, err := d.mustAccess(lead, policy.RequestManage).SaveRequestItem(ctx, portal.RequestItemInput{Kind: portal.KindCaseFile, Title: title}, portal.AddItem)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := d.mustAccess(admin, policy.VisitManage).SetRestriction(ctx, it.Code, true, []string{policy.RoleQAManager}); err != nil {
		t.Fatal(err)
	}
	uploader := d.person("cafcass", "uploader@cafcass.example")
	if _, err := d.mustAccess(uploader, policy.FileUpload).Upload(ctx, portal.NewFile{Name: "Chronology.pdf", Item: it.Code, Size: 4}, strings.NewReader("case")); err != nil {
		t.Fatal(err)
	}
	// Explain says so, decided on the item.
	manage := d.mustAccess(admin, policy.MemberManage)
	ms, err := manage.Members(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range ms {
		want := map[string]bool{"hmi@ofsted.example": false, "qam@ofsted.example": true}
		if w, ok := want[m.Email]; ok {
			if e, err := manage.ExplainOn(ctx, m.ID, string(policy.ItemView), "", it.Code); err != nil || e.Allow != w {
				t.Errorf("explain item.view on the restricted item for %s: %+v %v, want allowed %v", m.Email, e, err, w)
			}
		}
	}
	for _, c := range []struct {
		idp, email     string
		sees, provider bool
	}{
		{"ofsted", "hmi@ofsted.example", false, false},
		{"ofsted", "sao@ofsted.example", false, false},
		{"ofsted", "qam@ofsted.example", true, false},
		{"ofsted", "lead@ofsted.example", true, false},
		{"ofsted", "admin@ofsted.example", true, false},
		{"cafcass", "coordinator@cafcass.example", true, true},
		{"cafcass", "uploader@cafcass.example", true, true},
	} {
		items, err := d.mustAccess(d.person(c.idp, c.email), policy.VisitView).InformationRequest(ctx)
		if err != nil {
			t.Fatal(err)
		}
		js, _ := json.Marshal(items)
		var found *portal.RequestItemView
		for i := range items {
			if items[i].Code == it.Code {
				found = &items[i]
			}
		}
		switch {
		case found == nil:
			t.Errorf("%s: the restricted item %s is not in the request at all, want it there, due", c.email, it.Code)
		case c.sees && (found.Title != title || found.Withheld):
			t.Errorf("%s: the restricted item reads %+v, want its title", c.email, *found)
		case !c.sees && (strings.Contains(string(js), "Amelia") || !found.Withheld || found.Due == "" || found.Files != 0 || found.Status != "restricted"):
			t.Errorf("%s, not among the roles the item names, reads the request as %s, want the item withheld (no title, count or status but restricted), with its due date", c.email, js)
		case c.sees && !c.provider && found.Status != "received":
			t.Errorf("%s reads the restricted item as %+v, want it received", c.email, *found)
		}
	}
}
