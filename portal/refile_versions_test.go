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
	rep, err := d.access(coord, policy.FileReplace, first.ID)
	if err != nil {
		t.Fatal(err)
	}
	second, err := rep.ReplaceFile(ctx, 6, strings.NewReader("second"))
	if err != nil {
		t.Fatal(err)
	}
	rep, err = d.access(coord, policy.FileReplace, second.ID)
	if err != nil {
		t.Fatal(err)
	}
	third, err := rep.ReplaceFile(ctx, 5, strings.NewReader("third"))
	if err != nil {
		t.Fatal(err)
	}
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
