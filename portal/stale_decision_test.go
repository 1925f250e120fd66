package portal_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/ofsted-portal/evidence/policy"
	"github.com/ofsted-portal/evidence/portal"
)

// TestActsOnAccessAsItIsWhenItActs: a request's decision is taken when it
// begins, and its body may take long to come (a form or JSON sent slowly,
// the next file of a multipart upload after a large one). A person removed
// from the visit in the meantime does not then store a file, re-file one,
// or post a question on the strength of the old decision.
func TestActsOnAccessAsItIsWhenItActs(t *testing.T) {
	d, v, _, uploader, a := oneFileUploaded(t)
	ctx := context.Background()
	admin := d.person("ofsted", "admin@ofsted.example")
	coordinator := d.person("cafcass", "coordinator@cafcass.example")

	upload := d.mustAccess(uploader, policy.FileUpload)
	refile, err := d.access(coordinator, policy.FileRefile, a.ID)
	if err != nil {
		t.Fatal(err)
	}
	ms, err := d.mustAccess(admin, policy.MemberManage).Members(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range ms {
		if m.Email == "uploader@cafcass.example" || m.Email == "coordinator@cafcass.example" {
			if err := d.mustAccess(admin, policy.MemberManage).RemoveMember(ctx, m.ID); err != nil {
				t.Fatal(err)
			}
		}
	}
	d.later(time.Minute) // the body, slowly

	if f, err := upload.Upload(ctx, portal.NewFile{Name: "1.02 b.pdf", Size: 6}, strings.NewReader("second")); err == nil {
		t.Errorf("a file sent a minute after its request began, by a person removed meanwhile, was stored (%s)", f.ID)
	}
	if _, err := refile.Refile(ctx, "1.03"); err == nil {
		t.Errorf("a re-filing sent a minute after its request began, by a person removed meanwhile, was done")
	}
	files, err := d.svc.Store().Files(ctx, v.ID)
	if err != nil || len(files) != 1 || files[0].Item != "1.01" {
		items := []string{}
		for _, f := range files {
			items = append(items, f.Item)
		}
		t.Fatalf("the visit holds files under %v (%v), want the one stored before, under 1.01", items, err)
	}
}
