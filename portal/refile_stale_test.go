package portal_test

import (
	"context"
	"strings"
	"testing"

	"github.com/ofsted-portal/evidence/policy"
	"github.com/ofsted-portal/evidence/portal"
)

// TestRefileActsOnTheFileAsItIs: a re-filing decided on the file as it
// was when the request began, which another re-filing has moved meanwhile
// (into the child-level data, restricted), or a new version has
// replaced, is refused as a conflict: it does not move the file out of
// the restricted item, nor re-file a file no longer current. Before, the
// store moved whatever row had the file's id, and the trail said it came
// from where it had been.
func TestRefileActsOnTheFileAsItIs(t *testing.T) {
	d := startDomain(t)
	ctx := context.Background()
	v := d.demo()
	coord := d.person("cafcass", "coordinator@cafcass.example")
	up := d.mustAccess(coord, policy.FileUpload)
	f, err := up.Upload(ctx, portal.NewFile{Name: "1.03 Monthly report.pdf", Size: 8}, strings.NewReader("evidence"))
	if err != nil {
		t.Fatal(err)
	}
	stale, err := d.access(coord, policy.FileRefile, f.ID)
	if err != nil {
		t.Fatal(err)
	}
	now, err := d.access(coord, policy.FileRefile, f.ID)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := now.Refile(ctx, portal.ItemChildLevelData); err != nil {
		t.Fatal(err)
	}
	_, err = stale.Refile(ctx, "1.04")
	if kindOf(err) != portal.KindConflict {
		t.Errorf("a re-filing decided before the file was moved into %s: %v, want a conflict", portal.ItemChildLevelData, err)
	}
	if got, err := d.svc.Store().File(ctx, v.ID, f.ID); err != nil || got.Item != portal.ItemChildLevelData {
		t.Fatalf("the file is under %q (%v), want %q", got.Item, err, portal.ItemChildLevelData)
	}

	// A file replaced since is not re-filed either.
	g, err := up.Upload(ctx, portal.NewFile{Name: "1.02 Policy.pdf", Size: 8}, strings.NewReader("evidence"))
	if err != nil {
		t.Fatal(err)
	}
	stale, err = d.access(coord, policy.FileRefile, g.ID)
	if err != nil {
		t.Fatal(err)
	}
	rep, err := d.access(coord, policy.FileReplace, g.ID)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := rep.ReplaceFile(ctx, 9, strings.NewReader("version 2")); err != nil {
		t.Fatal(err)
	}
	_, err = stale.Refile(ctx, "1.04")
	if kindOf(err) != portal.KindConflict {
		t.Errorf("a re-filing of a file replaced since: %v, want a conflict", err)
	}
	if got, err := d.svc.Store().File(ctx, v.ID, g.ID); err != nil || got.Item != "1.02" {
		t.Fatalf("the replaced file is under %q (%v), want 1.02", got.Item, err)
	}
}
