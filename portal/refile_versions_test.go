package portal_test

import (
	"context"
	"strings"
	"testing"

	"github.com/ofsted-portal/evidence/policy"
	"github.com/ofsted-portal/evidence/portal"
)

// TestRefileTakesEarlierVersions: a file moved into the child-level data
// (restricted to the lead, the QAM and the analyst) takes its earlier
// versions with it. Before, only the current version moved: its earlier
// versions stayed under the open item, and any inspector listed them with
// "earlier versions" and downloaded the restricted content; nothing could
// move them after (a version that is not current cannot be re-filed).
func TestRefileTakesEarlierVersions(t *testing.T) {
	d, v, _, _, first := oneFileUploaded(t)
	ctx := context.Background()
	coord := d.person("cafcass", "coordinator@cafcass.example")
	lead := d.person("ofsted", "lead@ofsted.example")
	hmi := d.person("ofsted", "hmi@ofsted.example")
	second := d.replace(coord, first, "second")
	third := d.replace(coord, second, "third")
	acc, err := d.access(lead, policy.FileRefile, third.ID)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := acc.Refile(ctx, portal.ItemChildLevelData); err != nil {
		t.Fatal(err)
	}
	for _, old := range []portal.FileView{first, second} {
		f, err := d.svc.Store().File(ctx, v.ID, old.ID)
		if err != nil {
			t.Fatal(err)
		}
		if f.Item != portal.ItemChildLevelData {
			t.Errorf("an earlier version (%s) is under %q after its file was moved to %s", old.ID, f.Item, portal.ItemChildLevelData)
		}
		if _, err := d.access(hmi, policy.FileDownload, old.ID); err == nil {
			t.Errorf("an inspector may download an earlier version (%s) of a file moved into the child-level data", old.ID)
		}
	}
	page, err := d.mustAccess(hmi, policy.FileList).FilePage(ctx, portal.FileQuery{Versions: true, Limit: -1})
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range page.Files {
		if f.Name == "1.01 a.pdf" {
			t.Errorf("an inspector lists %+v among earlier versions of a file moved into the child-level data", f)
		}
	}
	page, err = d.mustAccess(lead, policy.FileList).FilePage(ctx, portal.FileQuery{Versions: true, Limit: -1, Item: portal.ItemChildLevelData})
	if err != nil {
		t.Fatal(err)
	}
	if len(page.Files) != 3 {
		t.Errorf("the lead lists %d versions under %s, want the 3 moved there", len(page.Files), portal.ItemChildLevelData)
	}
}

// TestRemovedVersionReinstatesTheOneBefore: a new version deleted by the
// provider before the team downloaded it, or purged by an administrator
// (found infected, or about the wrong child), leaves the version before
// it current again, under its name, and a version purged from the middle
// leaves the chain whole. Before, the version before it stayed marked
// superseded by a file that no longer existed, for good: it left every
// default list, its item read as not received, and nobody could correct,
// replace or move it (a version that is not current cannot be re-filed).
func TestRemovedVersionReinstatesTheOneBefore(t *testing.T) {
	for _, how := range []string{"deleted", "purged"} {
		t.Run(how, func(t *testing.T) {
			d, v, tl, _, first := oneFileUploaded(t)
			ctx := context.Background()
			coord := d.person("cafcass", "coordinator@cafcass.example")
			lead := d.person("ofsted", "lead@ofsted.example")
			admin := d.person("ofsted", "admin@ofsted.example")
			second := d.replace(coord, first, "second")
			third := d.replace(coord, second, "third")
			remove := func(f portal.FileView) {
				t.Helper()
				if how == "deleted" {
					acc, err := d.access(coord, policy.FileDelete, f.ID)
					if err != nil {
						t.Fatal(err)
					}
					if withdrawn, err := acc.DeleteFile(ctx); err != nil || withdrawn {
						t.Fatalf("deleting %s: withdrawn %v, %v", f.ID, withdrawn, err)
					}
					return
				}
				acc, err := d.access(admin, policy.FilePurge, f.ID)
				if err != nil {
					t.Fatal(err)
				}
				if err := acc.Purge(ctx, "Found infected"); err != nil {
					t.Fatal(err)
				}
			}
			if how == "purged" {
				// A file is purged once fieldwork has ended; the middle
				// version first, then the current one.
				d.at(tl.FieldworkEnd.AddDate(0, 0, 1))
				remove(second)
				if f, err := d.svc.Store().File(ctx, v.ID, first.ID); err != nil || f.SupersededBy != third.ID {
					t.Errorf("after the middle version was purged, the first is superseded by %q (%v), want the third (%s)", f.SupersededBy, err, third.ID)
				}
			} else {
				remove(third)
				third = second
			}
			remove(third)
			f, err := d.svc.Store().File(ctx, v.ID, first.ID)
			if err != nil {
				t.Fatal(err)
			}
			if !f.Live() {
				t.Fatalf("after the version replacing it was %s, the first is superseded by %q, want it current again", how, f.SupersededBy)
			}
			page, err := d.mustAccess(lead, policy.FileList).FilePage(ctx, portal.FileQuery{Limit: -1})
			if err != nil {
				t.Fatal(err)
			}
			listed := false
			for _, l := range page.Files {
				listed = listed || l.ID == first.ID
			}
			if !listed {
				t.Errorf("the lead's list of current files does not show the first version, current again")
			}
			// Its name went back with it: a second file of that name is
			// refused, not stored beside it (uploads are open while
			// fieldwork lasts).
			if how == "deleted" {
				if _, err := d.mustAccess(coord, policy.FileUpload).Upload(ctx, portal.NewFile{Name: first.Name, Size: 5}, strings.NewReader("again")); kindOf(err) != portal.KindConflict {
					t.Errorf("a second %q beside the first, current again: %v, want a conflict", first.Name, err)
				}
			}
			acc, err := d.access(lead, policy.FileRefile, first.ID)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := acc.Refile(ctx, portal.ItemChildLevelData); err != nil {
				t.Errorf("moving the first version, current again, to %s: %v", portal.ItemChildLevelData, err)
			}
		})
	}
}

// TestRemovedVersionBeingReplacedReinstatesItsName: a new version deleted
// while a version of it is being sent (which holds the file's name until
// it ends) leaves the version before it current with that name: the
// paused version is refused as it is resumed, and a second file of the
// name is refused, not stored beside the one current again.
func TestRemovedVersionBeingReplacedReinstatesItsName(t *testing.T) {
	d, v, _, _, first := oneFileUploaded(t)
	ctx := context.Background()
	coord := d.person("cafcass", "coordinator@cafcass.example")
	second := d.replace(coord, first, "second")
	up := d.mustAccess(coord, policy.FileUpload)
	r, err := up.CreateResumable(ctx, portal.NewFile{Name: first.Name, Size: 5, OnConflict: portal.OnConflictReplace})
	if err != nil {
		t.Fatal(err)
	}
	if got, err := d.svc.Store().ReplacedFile(ctx, r.FileID); err != nil || got != second.ID {
		t.Fatalf("the version being sent replaces %q (%v), want the second (%s)", got, err, second.ID)
	}
	del, err := d.access(coord, policy.FileDelete, second.ID)
	if err != nil {
		t.Fatal(err)
	}
	if withdrawn, err := del.DeleteFile(ctx); err != nil || withdrawn {
		t.Fatalf("deleting the second version: withdrawn %v, %v", withdrawn, err)
	}
	if f, err := d.svc.Store().File(ctx, v.ID, first.ID); err != nil || !f.Live() {
		t.Fatalf("the first version, after the second was deleted: superseded by %q (%v), want it current", f.SupersededBy, err)
	}
	if _, f, err := up.Append(ctx, r, strings.NewReader("third"), nil); kindOf(err) != portal.KindConflict {
		t.Errorf("the version of the deleted second, resumed: %v (file %v), want a conflict", err, f != nil)
	}
	if _, err := up.Upload(ctx, portal.NewFile{Name: first.Name, Size: 5}, strings.NewReader("again")); kindOf(err) != portal.KindConflict {
		t.Errorf("a second %q beside the first, current again: %v, want a conflict", first.Name, err)
	}
}

// TestPurgedWithdrawnVersionLeavesTheFileWithdrawn: a file withdrawn by
// the provider (its new version had been downloaded) whose withdrawn
// version an administrator then purges stays withdrawn: the version
// before it is withdrawn with it, not current again. A reinstated
// version would have been listed to the team, and zipped, beside the
// file the provider sent in its place, under the same name.
func TestPurgedWithdrawnVersionLeavesTheFileWithdrawn(t *testing.T) {
	d, v, tl, _, first := oneFileUploaded(t)
	ctx := context.Background()
	coord := d.person("cafcass", "coordinator@cafcass.example")
	second := d.replace(coord, first, "second")
	if _, err := d.downloadAll(second.ID); err != nil {
		t.Fatal(err)
	}
	del, err := d.access(coord, policy.FileDelete, second.ID)
	if err != nil {
		t.Fatal(err)
	}
	if withdrawn, err := del.DeleteFile(ctx); err != nil || !withdrawn {
		t.Fatalf("deleting the downloaded version: withdrawn %v, %v", withdrawn, err)
	}
	d.at(tl.FieldworkEnd.AddDate(0, 0, 1))
	pur, err := d.access(d.person("ofsted", "admin@ofsted.example"), policy.FilePurge, second.ID)
	if err != nil {
		t.Fatal(err)
	}
	if err := pur.Purge(ctx, "About the wrong child"); err != nil {
		t.Fatal(err)
	}
	f, err := d.svc.Store().File(ctx, v.ID, first.ID)
	if err != nil {
		t.Fatal(err)
	}
	if f.WithdrawnAt.IsZero() || f.SupersededBy != "" {
		t.Errorf("the version before the purged withdrawn one: withdrawn %v, superseded by %q; want it withdrawn with its file", !f.WithdrawnAt.IsZero(), f.SupersededBy)
	}
}
