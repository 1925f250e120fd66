package portal_test

import (
	"context"
	"strings"
	"testing"

	"github.com/ofsted-portal/evidence/policy"
	"github.com/ofsted-portal/evidence/portal"
)

// TestReplaceFileReplacesTheFileChosen: a new version of a file ("Correct
// → Replace", POST …/files/{file}/versions) supersedes that file, and no
// other: not whichever file of its name the item its name now suggests
// holds, and not a second file beside it when another new version of it
// is on its way.
func TestReplaceFileReplacesTheFileChosen(t *testing.T) {
	d, v, _, uploader, a := oneFileUploaded(t)
	ctx := context.Background()
	st := d.svc.Store()
	lead := d.person("ofsted", "lead@ofsted.example")
	coordinator := d.person("cafcass", "coordinator@cafcass.example")

	// A file sent while the request had no child-level data item is
	// unfiled; the item is added (back) after.
	if err := d.mustAccess(lead, policy.RequestManage).RemoveRequestItem(ctx, "cld"); err != nil {
		t.Fatal(err)
	}
	unfiled, err := d.mustAccess(uploader, policy.FileUpload).Upload(ctx, portal.NewFile{Name: "CLD - cases closed.xlsx", Size: 5}, strings.NewReader("cases"))
	if err != nil || unfiled.Item != "" {
		t.Fatalf("upload before the item: %+v %v", unfiled, err)
	}
	if _, err := d.mustAccess(lead, policy.RequestManage).SaveRequestItem(ctx, portal.RequestItemInput{Kind: portal.KindDataList, Code: "cld", Title: "Child-level data"}, portal.AddItem); err != nil {
		t.Fatal(err)
	}
	rep, err := d.access(uploader, policy.FileReplace, unfiled.ID)
	if err != nil {
		t.Fatal(err)
	}
	second, err := rep.ReplaceFile(ctx, 6, strings.NewReader("cases2"))
	if err != nil {
		t.Fatal(err)
	}
	if old, err := st.File(ctx, v.ID, unfiled.ID); err != nil || old.SupersededBy != second.ID || second.Item != "" {
		t.Errorf("a new version of the unfiled file went to item %q, and the file chosen is superseded by %q (want %s): it was not replaced (%v)",
			second.Item, old.SupersededBy, second.ID, err)
	}

	// Two new versions of one file at once, by two people: the second is
	// refused while the first is on its way, not kept as "(2)".
	first, err := d.access(uploader, policy.FileReplace, a.ID)
	if err != nil {
		t.Fatal(err)
	}
	other, err := d.access(coordinator, policy.FileReplace, a.ID)
	if err != nil {
		t.Fatal(err)
	}
	var during portal.FileView
	var duringErr error
	v1, err := first.ReplaceFile(ctx, 6, &holdingReader{r: strings.NewReader("second"), hold: func() {
		during, duringErr = other.ReplaceFile(ctx, 5, strings.NewReader("other"))
	}})
	if err != nil {
		t.Fatal(err)
	}
	if e, ok := portal.AsError(duringErr); !ok || e.Kind != portal.KindConflict {
		t.Errorf("a new version sent while another of the same file was on its way: stored as %q in %q (%v), want a conflict", during.Name, during.Item, duringErr)
	}
	if old, err := st.File(ctx, v.ID, a.ID); err != nil || old.SupersededBy != v1.ID {
		t.Fatalf("the file after its new version: %+v %v", old, err)
	}
	files, err := st.Files(ctx, v.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(files) != 4 {
		t.Errorf("%d files, want 4 (two of each, one superseded)", len(files))
	}
}
