package portal_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/ofsted-portal/evidence/policy"
	"github.com/ofsted-portal/evidence/portal"
	"github.com/ofsted-portal/evidence/portal/store"
)

// TestUploadCutByACrashUnderAHoldFreesItsName: a plain upload cut off by
// a crash of its process (no failure of its own to give its name back)
// is taken by the janitor, and its file name is free again at once, legal
// hold or not. Before, the name went back only once the upload's objects
// were removed, which a hold forbids: for as long as the hold stood (months,
// a complaint in the courts) the uploader's file of that name was refused
// as "already filed", though no such file existed.
func TestUploadCutByACrashUnderAHoldFreesItsName(t *testing.T) {
	d := startDomain(t)
	ctx := context.Background()
	v, _ := d.openDemo()
	admin := d.person("ofsted", "admin@ofsted.example")
	uploader := d.person("cafcass", "uploader@cafcass.example")
	if _, err := d.mustAccess(admin, policy.LegalHoldSet).SetLegalHold(ctx, true, "A complaint escalated"); err != nil {
		t.Fatal(err)
	}
	const name = "1.03 Plan.pdf"
	index, err := d.mustAccess(uploader, policy.FileUpload).NameIndexOf(ctx, name)
	if err != nil {
		t.Fatal(err)
	}
	// What a crash leaves: an upload begun under its name, with no
	// process behind it.
	if err := d.svc.Store().BeginNamedUpload(ctx, store.NewID(), v.ID, uploader.UserID, "1.03", index, d.svc.Now()); err != nil {
		t.Fatal(err)
	}
	d.later(3 * time.Minute)
	d.svc.Sweep(ctx)
	f, err := d.mustAccess(uploader, policy.FileUpload).Upload(ctx, portal.NewFile{Name: name, Size: 5}, strings.NewReader("again"))
	if err != nil {
		t.Fatalf("the upload again of a file cut off by a crash, under a legal hold: %v", err)
	}
	if f.Name != name {
		t.Errorf("the upload again is stored as %q, want %q", f.Name, name)
	}
}
