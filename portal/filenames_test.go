package portal_test

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/ofsted-portal/evidence/policy"
	"github.com/ofsted-portal/evidence/portal"
)

// TestNameTakenByAHiddenFile: a name taken in the item by a file the
// uploader may not list (here the coordinator's, which a provider's
// uploader does not see) is not confirmed by a refusal: the upload, plain
// or resumable, whatever on_conflict says, is kept under a free
// "name (n).ext", so that whoever sees both files sees two names. A name
// the uploader can see taken is refused as before.
func TestNameTakenByAHiddenFile(t *testing.T) {
	d := startDomain(t)
	ctx := context.Background()
	uploader := d.person("cafcass", "uploader@cafcass.example")
	coordinator := d.person("cafcass", "coordinator@cafcass.example")
	upload := func(a portal.Actor, name, onConflict string) (portal.FileView, error) {
		return d.mustAccess(a, policy.FileUpload).Upload(ctx, portal.NewFile{Name: name, Item: "1.02", Size: 1, OnConflict: onConflict}, strings.NewReader("x"))
	}
	theirs, err := upload(coordinator, "Minutes.pdf", "")
	if err != nil {
		t.Fatal(err)
	}
	var stored []string
	for _, onConflict := range []string{"", portal.OnConflictReplace} {
		f, err := upload(uploader, "minutes.PDF", onConflict)
		if err != nil {
			t.Fatalf("on_conflict=%q: a name taken by a file the uploader cannot see: %v", onConflict, err)
		}
		stored = append(stored, f.Name)
	}
	if _, err := d.mustAccess(uploader, policy.FileUpload).CreateResumable(ctx, portal.NewFile{Name: "Minutes.pdf", Item: "1.02", Size: 0}); err != nil {
		t.Fatalf("resumable: a name taken by a file the uploader cannot see: %v", err)
	}
	// So is a name that another person's resumable upload holds.
	if _, err := d.mustAccess(coordinator, policy.FileUpload).CreateResumable(ctx, portal.NewFile{Name: "Agenda.pdf", Item: "1.02", Size: 10}); err != nil {
		t.Fatal(err)
	}
	if f, err := upload(uploader, "Agenda.pdf", ""); err != nil || f.Name == "Agenda.pdf" {
		t.Fatalf("a name held by another person's upload in progress: %q %v", f.Name, err)
	}
	fs, err := d.mustAccess(coordinator, policy.FileList).Files(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, f := range fs {
		if f.Item == "1.02" && !strings.HasPrefix(f.Name, "Agenda") {
			names = append(names, strings.ToLower(f.Name))
		}
		if f.ID == theirs.ID && f.SupersededBy != "" {
			t.Fatalf("the coordinator's file was replaced by a file of an uploader who cannot see it")
		}
	}
	if len(names) != 4 || len(slices.Compact(slices.Sorted(slices.Values(names)))) != 4 {
		t.Fatalf("the coordinator sees %q (the uploader's stored as %q)", names, stored)
	}
	// A name the uploader can see taken is refused, and so is the
	// uploader's to the coordinator, who sees every file.
	if _, err := upload(uploader, "Mine.pdf", ""); err != nil {
		t.Fatal(err)
	}
	for _, a := range []portal.Actor{uploader, coordinator} {
		if _, err := upload(a, "mine.pdf", ""); !isCode(err, "name_exists") {
			t.Fatalf("%s: a name taken by a file they see: %v", a.Email, err)
		}
	}
}

func isCode(err error, code string) bool {
	e, ok := portal.AsError(err)
	return ok && e.Code == code
}
