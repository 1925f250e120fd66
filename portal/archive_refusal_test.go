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

// TestArchiveOfAFileNotYoursIsRecorded: a zip asked for by file id, naming
// a file the person may not download (the child-level data, for an
// inspector), is refused as the file's own download is, and the refusal
// is in the trail as that one is. Before, the zip answered 404 and left
// nothing: a prober could try file ids through the zip unseen.
func TestArchiveOfAFileNotYoursIsRecorded(t *testing.T) {
	d, v, _, uploader, _ := oneFileUploaded(t)
	ctx := context.Background()
	cld, err := d.mustAccess(uploader, policy.FileUpload).Upload(ctx, portal.NewFile{Name: "Children.csv", Item: portal.ItemChildLevelData, Size: 4}, strings.NewReader("a,b\n"))
	if err != nil {
		t.Fatal(err)
	}
	hmi := d.person("ofsted", "hmi@ofsted.example")
	denied := func() int {
		var n int
		if err := d.svc.Store().DB().QueryRow(`SELECT COUNT(*) FROM audit WHERE visit_id = ? AND action = 'request.denied' AND object = ?`, v.ID, cld.ID).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	if _, err := d.mustAccess(hmi, policy.FileDownload).PrepareArchive(ctx, []string{cld.ID}, nil); kindOf(err) != portal.KindNotFound {
		t.Fatalf("a zip of the child-level data for an inspector: %v, want not found", err)
	}
	if n := denied(); n != 1 {
		t.Errorf("the zip refused: %d request.denied records of the file, want 1", n)
	}
}

// TestZipChoicesAreBounded: a zip names each file and item once, and at
// most MaxArchiveChoices of each: a request repeating a file or an item
// thousands of times costs what naming it once does. Before, every
// file of the visit was compared with every name repeated, and a request
// could name as many files as its header held.
func TestZipChoicesAreBounded(t *testing.T) {
	d, _, tl, _, f := oneFileUploaded(t)
	ctx := context.Background()
	d.at(tl.FieldworkEnd.AddDate(0, 0, 1))
	acc := d.mustAccess(d.person("ofsted", "lead@ofsted.example"), policy.FileDownload)
	many := make([]string, portal.MaxArchiveChoices+1)
	for i := range many {
		many[i] = fmt.Sprintf("%032x", i)
	}
	if _, err := acc.PrepareArchive(ctx, many, nil); kindOf(err) != portal.KindInvalid {
		t.Errorf("a zip naming %d files: %v, want it refused as too many", len(many), err)
	}
	repeated := slices.Repeat([]string{f.ID}, 5000)
	a, err := acc.PrepareArchive(ctx, repeated, slices.Repeat([]string{"1.01"}, 5000))
	if err != nil {
		t.Fatalf("a zip naming one file and one item 5000 times: %v", err)
	}
	if a.Files() != 1 {
		t.Errorf("a zip naming one file 5000 times holds %d files, want 1", a.Files())
	}
}
