package portal_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/ofsted-portal/evidence/policy"
	"github.com/ofsted-portal/evidence/portal"
	"github.com/ofsted-portal/evidence/portal/store"
)

// TestNewVersionFollowsNoStaleItem: a file moved into the child-level
// data (restricted) while its new version streams is not brought back out
// by that version, filed under the item the file was under when the
// upload began: the version is refused as a conflict, and the file stays
// where it was moved, current. Before, the version was stored under the
// old item, and every inspector could read the restricted content.
func TestNewVersionFollowsNoStaleItem(t *testing.T) {
	d, v, _, _, a := oneFileUploaded(t)
	ctx := context.Background()
	coord := d.person("cafcass", "coordinator@cafcass.example")
	lead := d.person("ofsted", "lead@ofsted.example")
	moved := func() {
		acc, err := d.access(lead, policy.FileRefile, a.ID)
		if err != nil {
			t.Error(err)
			return
		}
		if _, err := acc.Refile(ctx, portal.ItemChildLevelData); err != nil {
			t.Error(err)
		}
	}
	rep, err := d.access(coord, policy.FileReplace, a.ID)
	if err != nil {
		t.Fatal(err)
	}
	_, err = rep.ReplaceFile(ctx, 6, &holdingReader{r: strings.NewReader("second"), hold: moved})
	if kindOf(err) != portal.KindConflict {
		t.Errorf("a new version of a file moved while it streamed: %v, want a conflict", err)
	}
	got, err := d.svc.Store().File(ctx, v.ID, a.ID)
	if err != nil || !got.Live() || got.Item != portal.ItemChildLevelData {
		t.Fatalf("the file moved is %+v (%v), want it current under %s", got, err, portal.ItemChildLevelData)
	}
	hmi := d.person("ofsted", "hmi@ofsted.example")
	files, err := d.mustAccess(hmi, policy.FileList).Files(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		if f.Name == "1.01 a.pdf" {
			t.Fatalf("an inspector lists %+v: the restricted file's content came back out", f)
		}
	}
}

// TestNewVersionActsOnAccessAsItIs: a coordinator made an uploader while
// their new version of a colleague's file streams (a plain upload, not
// resumable) stores nothing: the right to replace that file is taken
// again as the version commits, not only the right to upload.
func TestNewVersionActsOnAccessAsItIs(t *testing.T) {
	d, v, _, _, old := oneFileUploaded(t)
	ctx := context.Background()
	admin := d.person("ofsted", "admin@ofsted.example")
	coord := d.person("cafcass", "coordinator@cafcass.example")
	demote := func() {
		if _, _, err := d.mustAccess(admin, policy.MemberManage).PutMember(ctx, portal.MemberRequest{Email: "coordinator@cafcass.example", Role: policy.RoleProviderUploader}); err != nil {
			t.Error(err)
		}
		d.later(3 * time.Second) // the decision the upload began with is old now
	}
	rep, err := d.access(coord, policy.FileReplace, old.ID)
	if err != nil {
		t.Fatal(err)
	}
	_, err = rep.ReplaceFile(ctx, 6, &holdingReader{r: strings.NewReader("second"), hold: demote})
	if kindOf(err) != portal.KindForbidden && kindOf(err) != portal.KindNotFound {
		t.Errorf("the new version of another's file, by a coordinator made an uploader as it streamed: %v, want a refusal", err)
	}
	if got, err := d.svc.Store().File(ctx, v.ID, old.ID); err != nil || !got.Live() {
		t.Fatalf("the file replaced: %+v %v", got, err)
	}
}

// TestResumableVersionFollowsNoStaleItem is TestNewVersionFollowsNoStaleItem
// for a resumable new version, which may stay open for days: the file is
// moved between its creation and its last segment.
func TestResumableVersionFollowsNoStaleItem(t *testing.T) {
	d, v, a, up, r := versionUnderWayMoved(t)
	ctx := context.Background()
	if _, f, err := up.Append(ctx, r, strings.NewReader("second"), nil); kindOf(err) != portal.KindConflict {
		t.Errorf("a resumable new version of a file moved since it began: %v (file %v), want a conflict", err, f != nil)
	}
	// Given up, as it can never be completed: chosen again, the file
	// starts a new upload rather than meet the same refusal until the
	// upload expires.
	if _, err := d.svc.Store().Resumable(ctx, v.ID, r.ID); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("the refused version's upload after its refusal: %v, want it given up", err)
	}
	got, err := d.svc.Store().File(ctx, v.ID, a.ID)
	if err != nil || !got.Live() || got.Item != portal.ItemChildLevelData {
		t.Fatalf("the file moved is %+v (%v), want it current under %s", got, err, portal.ItemChildLevelData)
	}
}

// TestNameFollowsAFileMovedWhileItsVersionIsSent: a file moved to another
// item while a new version of it is being sent takes its name with it,
// though the pending version holds that name: the item it is moved to
// has one file of that name, not two, and once the version is refused
// and given up, the name is the file's under the item it is now in.
// Before, the name stayed under the old item with the version: a second
// file of the same name could be stored beside the moved one, and the
// name came back to it under the item it had left, refusing uploads
// there ("already filed under item 1.01") with no such file in it.
func TestNameFollowsAFileMovedWhileItsVersionIsSent(t *testing.T) {
	d, v, a, up, r := versionUnderWayMoved(t)
	ctx := context.Background()
	if f, err := up.Upload(ctx, portal.NewFile{Name: "1.01 a.pdf", Item: portal.ItemChildLevelData, Size: 5}, strings.NewReader("third")); kindOf(err) != portal.KindConflict {
		t.Errorf("a second file of the moved file's name, in the item it was moved to: %v (stored %q), want a conflict", err, f.ID)
	}
	if err := up.CancelResumable(ctx, r); err != nil {
		t.Fatal(err)
	}
	if f, err := up.Upload(ctx, portal.NewFile{Name: "1.01 a.pdf", Item: "1.01", Size: 5}, strings.NewReader("fresh")); err != nil {
		t.Errorf("a file of that name under the item the moved file left: %v, want it stored", err)
	} else if f.Item != "1.01" {
		t.Errorf("stored under %q", f.Item)
	}
	if got, err := d.svc.Store().File(ctx, v.ID, a.ID); err != nil || !got.Live() || got.Item != portal.ItemChildLevelData {
		t.Fatalf("the file moved is %+v (%v), want it current under %s", got, err, portal.ItemChildLevelData)
	}
}

// TestFileMovedWhileItsVersionIsSentIntoATakenName: a file with a new
// version being sent is moved into an item where its name is held by
// something the person moving it may not see (another person's upload
// under way): it is filed there under a name of its own, as any file is.
// Before, with its name held by the pending version, the move failed
// ("changed while you were filing it") for as long as the version lived.
func TestFileMovedWhileItsVersionIsSentIntoATakenName(t *testing.T) {
	d, v, _, uploader, a := oneFileUploaded(t)
	ctx := context.Background()
	coord := d.person("cafcass", "coordinator@cafcass.example")
	lead := d.person("ofsted", "lead@ofsted.example")
	if _, err := d.mustAccess(coord, policy.FileUpload).CreateResumable(ctx, portal.NewFile{Name: "1.01 a.pdf", Size: 6, OnConflict: portal.OnConflictReplace}); err != nil {
		t.Fatal(err)
	}
	if _, err := d.mustAccess(uploader, policy.FileUpload).CreateResumable(ctx, portal.NewFile{Name: "1.01 a.pdf", Item: portal.ItemChildLevelData, Size: 6}); err != nil {
		t.Fatal(err)
	}
	acc, err := d.access(lead, policy.FileRefile, a.ID)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := acc.Refile(ctx, portal.ItemChildLevelData); err != nil {
		t.Fatalf("the move of a file with a version under way into an item where its name is taken: %v, want it filed under a name of its own", err)
	}
	if got, err := d.svc.Store().File(ctx, v.ID, a.ID); err != nil || got.Item != portal.ItemChildLevelData {
		t.Fatalf("the file moved is %+v (%v), want it under %s", got, err, portal.ItemChildLevelData)
	}
}

// versionUnderWayMoved uploads file a ("1.01 a.pdf"), begins the
// coordinator's resumable new version of it (r, sent through up), then
// has the lead inspector move a into the child-level data.
func versionUnderWayMoved(t *testing.T) (*domain, store.Visit, portal.FileView, *portal.Access, store.Resumable) {
	t.Helper()
	d, v, _, _, a := oneFileUploaded(t)
	ctx := context.Background()
	coord := d.person("cafcass", "coordinator@cafcass.example")
	lead := d.person("ofsted", "lead@ofsted.example")
	up := d.mustAccess(coord, policy.FileUpload)
	r, err := up.CreateResumable(ctx, portal.NewFile{Name: "1.01 a.pdf", Size: 6, OnConflict: portal.OnConflictReplace})
	if err != nil {
		t.Fatal(err)
	}
	acc, err := d.access(lead, policy.FileRefile, a.ID)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := acc.Refile(ctx, portal.ItemChildLevelData); err != nil {
		t.Fatal(err)
	}
	return d, v, a, up, r
}
