package portal_test

import (
	"archive/zip"
	"bytes"
	"context"
	"io"
	"slices"
	"strings"
	"testing"

	"github.com/ofsted-portal/evidence/policy"
	"github.com/ofsted-portal/evidence/portal"
	"github.com/ofsted-portal/evidence/portal/store"
)

// TestWithheldVersionLeavesTheOneBefore: a new version the scanner has not
// cleared (being checked, or found infected) is shown to provider staff
// alone (policy withheld-until-scanned), so for the inspection team the
// version before it still stands: it is listed as the file, counts for its
// item, goes in its item's zip, and names no later version. Before, the
// old version was marked superseded as the new one was committed, so the
// team's list held neither version (for seconds, or for good when the new
// one was infected), the item read as one file short, its zip left the
// file out, and "earlier versions" named the id of a file kept from them.
func TestWithheldVersionLeavesTheOneBefore(t *testing.T) {
	d, v, _, uploader, first := oneFileUploaded(t)
	ctx := context.Background()
	coord := d.person("cafcass", "coordinator@cafcass.example")
	lead := d.person("ofsted", "lead@ofsted.example")
	second := d.replace(coord, first, "second")
	db := d.svc.Store().DB()
	scan := func(status string) {
		t.Helper()
		if _, err := db.Exec(`UPDATE files SET scan_status = '` + status + `' WHERE id = '` + second.ID + `'`); err != nil {
			t.Fatal(err)
		}
	}
	page := func(who portal.Actor, versions bool) portal.FilePage {
		t.Helper()
		p, err := d.mustAccess(who, policy.FileList).FilePage(ctx, portal.FileQuery{Versions: versions})
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	ids := func(p portal.FilePage) (out []string) {
		for _, f := range p.Files {
			out = append(out, f.ID+"/"+f.SupersededBy)
		}
		return out
	}
	count := func(who portal.Actor) int {
		t.Helper()
		items, err := d.mustAccess(who, policy.VisitView).InformationRequest(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, it := range items {
			if it.Code == "1.01" {
				return it.Files
			}
		}
		t.Fatal("no item 1.01 in the request")
		return 0
	}
	zipped := func(who portal.Actor) string {
		t.Helper()
		return itemZip(t, ctx, d.mustAccess(who, policy.FileDownload), "1.01")
	}
	for _, status := range []string{"scanning", "infected"} {
		scan(status)
		p := page(lead, false)
		if len(p.Files) != 1 || p.Files[0].ID != first.ID || p.Files[0].SupersededBy != "" || p.Total != 1 {
			t.Errorf("new version %s: the lead lists %v (total %d), want the version before it (%s) standing", status, ids(p), p.Total, first.ID)
		}
		if !slices.Contains(p.Items, "1.01") {
			t.Errorf("new version %s: the lead's items to filter by are %v, want 1.01 among them", status, p.Items)
		}
		if s, err := d.mustAccess(lead, policy.FileList).FilePage(ctx, portal.FileQuery{Search: "a.pdf"}); err != nil || len(s.Files) != 1 || s.Files[0].ID != first.ID || s.Total != 1 {
			t.Errorf("new version %s: the lead's search by name finds %v (total %d, %v), want the version before it", status, ids(s), s.Total, err)
		}
		for _, f := range page(lead, true).Files {
			if f.ID == second.ID || f.SupersededBy == second.ID {
				t.Errorf("new version %s: the lead's earlier versions name it: %v", status, ids(page(lead, true)))
			}
		}
		if n := count(lead); n != 1 {
			t.Errorf("new version %s: item 1.01 holds %d files for the lead, want 1 (the version before it)", status, n)
		}
		// Provider staff count the version they see: the new one while
		// it is checked; once it is found infected, nothing, so that the
		// item reads as not received and the file is sent again.
		want := map[string]int{"scanning": 1, "infected": 0}[status]
		if n := count(coord); n != want {
			t.Errorf("new version %s: item 1.01 holds %d files for the coordinator, want %d", status, n, want)
		}
		if got := zipped(lead); got != "first" {
			t.Errorf("new version %s: the lead's zip of item 1.01 holds %q, want the version before it (\"first\")", status, got)
		}
		// The provider's staff see the new version, as it is: the one
		// before it is superseded for them.
		if p := page(coord, false); len(p.Files) != 1 || p.Files[0].ID != second.ID {
			t.Errorf("new version %s: the coordinator lists %v, want the new version (%s)", status, ids(p), second.ID)
		}
		// The uploader, who sees only their own files, keeps theirs
		// until the coordinator's version is cleared.
		if p := page(uploader, false); len(p.Files) != 1 || p.Files[0].ID != first.ID {
			t.Errorf("new version %s: the uploader lists %v, want their own (%s)", status, ids(p), first.ID)
		}
	}
	scan("clean")
	if p := page(lead, false); len(p.Files) != 1 || p.Files[0].ID != second.ID || p.Total != 1 {
		t.Errorf("new version cleared: the lead lists %v (total %d), want it (%s)", ids(p), p.Total, second.ID)
	}
	if p := page(lead, true); len(p.Files) != 2 {
		t.Errorf("new version cleared: the lead's versions are %v, want both", ids(p))
	}
	if n := count(lead); n != 1 {
		t.Errorf("new version cleared: item 1.01 holds %d files for the lead, want 1", n)
	}
	if got := zipped(lead); got != "second" {
		t.Errorf("new version cleared: the lead's zip of item 1.01 holds %q, want the new version", got)
	}
	if p := page(uploader, false); len(p.Files) != 0 {
		t.Errorf("new version cleared: the uploader lists %v, want none (their file was replaced)", ids(p))
	}
	_ = v
}

// itemZip is what the zip of item code holds for acc: its files' contents,
// in order, the manifest left out ("" when it could not be made).
func itemZip(t *testing.T, ctx context.Context, acc *portal.Access, code string) string {
	t.Helper()
	a, err := acc.PrepareArchive(ctx, nil, []string{code})
	if err != nil {
		t.Errorf("the zip of item %s: %v", code, err)
		return ""
	}
	var out bytes.Buffer
	if err := a.WriteTo(ctx, &out); err != nil {
		t.Fatal(err)
	}
	zr, err := zip.NewReader(bytes.NewReader(out.Bytes()), int64(out.Len()))
	if err != nil {
		t.Fatal(err)
	}
	var got string
	for _, f := range zr.File {
		if f.Name == portal.ManifestName {
			continue
		}
		r, err := f.Open()
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(r)
		got += string(b)
	}
	return got
}

// TestZipOfAVersionClearedMeanwhile: an item's zip reads the item's
// standing files, then the file index for the versions standing behind
// those withheld from the person. A new version the scanner clears between
// the two reads is in the zip: before, it was read as still withheld (not
// to be served to the lead) and the index, read after, had no version
// behind it any more, so the lead's zip of the item held neither version,
// or was refused as holding no file.
func TestZipOfAVersionClearedMeanwhile(t *testing.T) {
	d, _, _, _, first := oneFileUploaded(t)
	coord := d.person("cafcass", "coordinator@cafcass.example")
	lead := d.person("ofsted", "lead@ofsted.example")
	second := d.replace(coord, first, "second")
	db := d.svc.Store().DB()
	if _, err := db.Exec(`UPDATE files SET scan_status = 'scanning' WHERE id = '` + second.ID + `'`); err != nil {
		t.Fatal(err)
	}
	if got := itemZip(t, context.Background(), d.mustAccess(lead, policy.FileDownload), "1.01"); got != "first" {
		t.Fatalf("while the new version is checked, the lead's zip holds %q, want the version before it", got)
	}
	// The scanner clears the new version once the zip has read the
	// item's files, before it reads the file index.
	ctx, c := store.WithCounter(context.Background())
	var readFiles, cleared bool
	c.Before = func(q string) {
		switch {
		case cleared:
		case readFiles && strings.Contains(q, "files_version"):
			if _, err := db.Exec(`UPDATE files SET scan_status = 'clean' WHERE id = '` + second.ID + `'`); err != nil {
				t.Error(err)
			}
			cleared = true
		case strings.Contains(q, "FROM files") && strings.Contains(q, "superseded_by IS NULL"):
			readFiles = true // the item's standing files
		}
	}
	if got := itemZip(t, ctx, d.mustAccess(lead, policy.FileDownload), "1.01"); got != "second" {
		t.Errorf("the new version cleared while the zip was made: the lead's zip holds %q, want the new version", got)
	}
	if !cleared {
		t.Error("the zip read no file index after the item's files: the test did not clear the version between them")
	}
}
