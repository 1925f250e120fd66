package portal_test

import (
	"context"
	"testing"

	"github.com/ofsted-portal/evidence/policy"
)

// TestFileNames: the audit trail's ids get their files' names back only
// for those who may see each file: the lead inspector sees the names of
// the files they may list and not those of an item restricted to
// analysts; an administrator who is not a member sees none; an id that is
// not a file of the visit gets no name.
func TestFileNames(t *testing.T) {
	d := startDomain(t)
	ctx := context.Background()
	v := d.demo()
	lead := d.person("ofsted", "lead@ofsted.example")
	admin := d.person("ofsted", "admin@ofsted.example")
	if _, err := d.mustAccess(admin, policy.VisitManage).SetRestriction(ctx, "1.03", true, []string{policy.RoleAnalyst}); err != nil {
		t.Fatal(err)
	}
	if err := d.svc.SeedFiles(ctx, v.ID, lead.UserID, 10); err != nil {
		t.Fatal(err)
	}
	files, err := d.svc.Store().Files(ctx, v.ID)
	if err != nil {
		t.Fatal(err)
	}
	ids := []string{"0123456789abcdef0123456789abcdef"}
	restricted := 0
	for _, f := range files {
		ids = append(ids, f.ID)
		if f.Item == "1.03" {
			restricted++
		}
	}
	names, err := d.mustAccess(lead, policy.AuditView).FileNames(ctx, ids)
	if err != nil {
		t.Fatal(err)
	}
	if restricted == 0 || len(names) != len(files)-restricted {
		t.Fatalf("the lead gets %d names of %d files (%d restricted)", len(names), len(files), restricted)
	}
	for _, f := range files {
		if n, ok := names[f.ID]; ok == (f.Item == "1.03") || ok && n == "" {
			t.Fatalf("file in item %s: name %q, %v", f.Item, n, ok)
		}
	}
	if names, err := d.mustAccess(admin, policy.AuditView).FileNames(ctx, ids); err != nil || len(names) != 0 {
		t.Fatalf("an administrator who is not a member gets names: %v %v", names, err)
	}
}
