package portal_test

import (
	"context"
	"fmt"
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

// TestRefileIntoANameTakenByAHiddenFile: a file filed under an item in
// which its name is taken by a file the person filing it may not list
// (here an item restricted to the analysts, which the lead inspector
// files into but does not see), or by another person's upload in
// progress, is not refused with name_exists, which would confirm that
// file: it is filed under the first free "name (n).ext", as an upload is,
// so that whoever sees both files sees two names. A name the person filing
// can see taken is refused as before.
func TestRefileIntoANameTakenByAHiddenFile(t *testing.T) {
	d := startDomain(t)
	ctx := context.Background()
	coordinator := d.person("cafcass", "coordinator@cafcass.example")
	uploader := d.person("cafcass", "uploader@cafcass.example")
	lead := d.person("ofsted", "lead@ofsted.example")
	admin := d.person("ofsted", "admin@ofsted.example")
	if _, err := d.mustAccess(admin, policy.VisitManage).SetRestriction(ctx, "1.05", true, []string{policy.RoleAnalyst}); err != nil {
		t.Fatal(err)
	}
	upload := func(name, item string) portal.FileView {
		t.Helper()
		f, err := d.mustAccess(coordinator, policy.FileUpload).Upload(ctx, portal.NewFile{Name: name, Item: item, Size: 1}, strings.NewReader("x"))
		if err != nil {
			t.Fatal(err)
		}
		return f
	}
	refile := func(a portal.Actor, f portal.FileView, item string) (portal.FileView, error) {
		t.Helper()
		acc, err := d.access(a, policy.FileRefile, f.ID)
		if err != nil {
			t.Fatal(err)
		}
		return acc.Refile(ctx, item)
	}
	hidden := upload("Plan.pdf", "1.05")
	mine, err := refile(lead, upload("plan.PDF", "1.02"), "1.05")
	if err != nil {
		t.Fatalf("filing under a name taken by a file the lead cannot see: %v", err)
	}
	if mine.Name != "plan (2).PDF" || mine.Item != "1.05" {
		t.Fatalf("filed as %q under %s", mine.Name, mine.Item)
	}
	// So is a name held by another person's upload in progress.
	if _, err := d.mustAccess(uploader, policy.FileUpload).CreateResumable(ctx, portal.NewFile{Name: "Notes.pdf", Item: "1.03", Size: 10}); err != nil {
		t.Fatal(err)
	}
	notes, err := refile(coordinator, upload("Notes.pdf", "1.02"), "1.03")
	if err != nil || notes.Name != "Notes (2).pdf" {
		t.Fatalf("filing under a name held by another's upload in progress: %q %v", notes.Name, err)
	}
	// The names stay one per item, as the analyst and the coordinator,
	// who see both files, see them; each file's name is read back as
	// filed.
	for _, a := range []portal.Actor{d.person("ofsted", "sao@ofsted.example"), coordinator} {
		fs, err := d.mustAccess(a, policy.FileList).Files(ctx)
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, f := range fs {
			if f.Item == "1.05" {
				names = append(names, f.Name)
			}
		}
		if slices.Sort(names); !slices.Equal(names, []string{"Plan.pdf", "plan (2).PDF"}) {
			t.Fatalf("%s sees %q under 1.05", a.Email, names)
		}
	}
	if f, err := d.svc.Store().File(ctx, d.demo().ID, hidden.ID); err != nil || f.Item != "1.05" || !f.Live() {
		t.Fatalf("the hidden file after the filing: %+v %v", f, err)
	}
	// A name the person filing can see taken is refused, naming it.
	upload("Budget.xlsx", "1.04")
	for i, a := range []portal.Actor{lead, coordinator} {
		if _, err := refile(a, upload("budget.xlsx", fmt.Sprintf("1.%02d", 6+i)), "1.04"); !isCode(err, "name_exists") {
			t.Fatalf("%s filing under a name taken by a file they see: %v", a.Email, err)
		}
	}
}

// TestNameHeldByAnotherPersonsUpload: a name that another person's plain
// upload holds while it streams is not refused, which would confirm to
// anyone that a file of that name is on its way, and let one person keep
// a name from everyone else for as long as their upload runs: the second
// file, plain or resumable, whatever on_conflict says, is kept under a
// free "name (n).ext", as beside another person's resumable upload. The
// person whose upload holds it is refused a second upload of the name, as
// before, and no two files end up with one name.
func TestNameHeldByAnotherPersonsUpload(t *testing.T) {
	d := startDomain(t)
	ctx := context.Background()
	uploader := d.person("cafcass", "uploader@cafcass.example")
	coordinator := d.person("cafcass", "coordinator@cafcass.example")
	newFile := func(name, onConflict string) portal.NewFile {
		return portal.NewFile{Name: name, Item: "1.02", Size: 1, OnConflict: onConflict}
	}
	// while runs as the uploader's upload streams, on the goroutine that
	// reads its body: it reports with Errorf, never Fatalf.
	var stored []string
	while := func() {
		for _, onConflict := range []string{"", portal.OnConflictReplace} {
			f, err := d.mustAccess(coordinator, policy.FileUpload).Upload(ctx, newFile("held.PDF", onConflict), strings.NewReader("x"))
			if err != nil {
				t.Errorf("on_conflict=%q: a name held by another person's upload in progress: %v", onConflict, err)
				return
			}
			stored = append(stored, f.Name)
		}
		if _, err := d.mustAccess(coordinator, policy.FileUpload).CreateResumable(ctx, newFile("Held.pdf", "")); err != nil {
			t.Errorf("resumable: a name held by another person's upload in progress: %v", err)
		}
		// Their own second upload of the name is refused, as before.
		if _, err := d.mustAccess(uploader, policy.FileUpload).Upload(ctx, newFile("Held.pdf", ""), strings.NewReader("x")); !isCode(err, "name_exists") {
			t.Errorf("the uploader's second upload of a name their upload holds: %v", err)
		}
		if _, err := d.mustAccess(uploader, policy.FileUpload).CreateResumable(ctx, newFile("Held.pdf", "")); !isCode(err, "name_exists") {
			t.Errorf("the uploader's resumable upload of a name their upload holds: %v", err)
		}
	}
	first, err := d.mustAccess(uploader, policy.FileUpload).Upload(ctx, newFile("Held.pdf", ""), &holdingReader{r: strings.NewReader("x"), hold: while})
	if err != nil || first.Name != "Held.pdf" || t.Failed() {
		t.Fatalf("the upload that held the name: %q %v", first.Name, err)
	}
	fs, err := d.mustAccess(coordinator, policy.FileList).Files(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, f := range fs {
		if f.Item == "1.02" {
			names = append(names, strings.ToLower(f.Name))
		}
	}
	if len(names) != 3 || len(slices.Compact(slices.Sorted(slices.Values(names)))) != 3 {
		t.Fatalf("the coordinator sees %q (theirs stored as %q)", names, stored)
	}
}
