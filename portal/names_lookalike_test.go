package portal_test

import (
	"bytes"
	"context"
	"testing"

	"golang.org/x/text/cases"
	"golang.org/x/text/unicode/norm"

	"github.com/ofsted-portal/evidence/policy"
	"github.com/ofsted-portal/evidence/portal"
)

// TestLookalikeNamesCollide: a name that looks like one already in the
// item (in fullwidth letters, or with two spaces where it has one) is
// the same name: refused, or stored as "name (2)", never beside it
// under a name the page shows the same. Before, both were stored, and
// an inspector saw two files of one name.
func TestLookalikeNamesCollide(t *testing.T) {
	d := startDomain(t)
	ctx := context.Background()
	uploader := d.person("cafcass", "uploader@cafcass.example")
	up := d.mustAccess(uploader, policy.FileUpload)
	for _, c := range [][2]string{
		{"1.01 Report.pdf", "1.01 \uff32\uff45\uff50\uff4f\uff52\uff54.pdf"},
		{"1.01 Case notes.pdf", "1.01 Case  notes.pdf"},
	} {
		if _, err := up.Upload(ctx, portal.NewFile{Name: c[0], Size: 1}, bytes.NewReader([]byte("a"))); err != nil {
			t.Fatal(err)
		}
		_, err := up.Upload(ctx, portal.NewFile{Name: c[1], Size: 1}, bytes.NewReader([]byte("b")))
		if e, ok := portal.AsError(err); !ok || e.Code != "name_exists" {
			t.Errorf("%q beside %q: %v, want name_exists", c[1], c[0], err)
		}
		fv, err := up.Upload(ctx, portal.NewFile{Name: c[1], Size: 1, OnConflict: portal.OnConflictRename}, bytes.NewReader([]byte("b")))
		if err != nil || fv.Name == c[1] {
			t.Errorf("%q beside %q, to be renamed: stored as %q (%v), want a name of its own", c[1], c[0], fv.Name, err)
		}
	}
}

// TestNamesKeyedAgain: the names held under the key of the version before
// (migration 54 marks them) are keyed again before the visit's next name
// is taken, so a look-alike of one is the same name. Before, a file
// stored as "Ｒｅｐｏｒｔ.pdf" kept its earlier key, and "Report.pdf" was
// stored beside it.
func TestNamesKeyedAgain(t *testing.T) {
	d := startDomain(t)
	ctx := context.Background()
	v := d.demo()
	uploader := d.person("cafcass", "uploader@cafcass.example")
	up := d.mustAccess(uploader, policy.FileUpload)
	const earlier = "1.01 \uff32\uff45\uff50\uff4f\uff52\uff54.pdf"
	fv, err := up.Upload(ctx, portal.NewFile{Name: earlier, Size: 1}, bytes.NewReader([]byte("a")))
	if err != nil {
		t.Fatal(err)
	}
	// As the version before keyed it, and as the migration left it.
	index, err := up.NameIndexOfKey(ctx, norm.NFC.String(cases.Fold().String(norm.NFC.String(earlier))))
	if err != nil {
		t.Fatal(err)
	}
	db := d.svc.Store().DB()
	if res, err := db.Exec(`UPDATE file_names SET name_index = ?, key_version = 1 WHERE file_id = ?`, index, fv.ID); err != nil {
		t.Fatal(err)
	} else if n, _ := res.RowsAffected(); n != 1 {
		t.Fatalf("the file's name: %d rows", n)
	}
	d.svc.ForgetNamesIndexed(v.ID)
	_, err = up.Upload(ctx, portal.NewFile{Name: "1.01 Report.pdf", Size: 1}, bytes.NewReader([]byte("b")))
	if e, ok := portal.AsError(err); !ok || e.Code != "name_exists" {
		t.Errorf("%q beside %q held under the earlier key: %v, want name_exists", "1.01 Report.pdf", earlier, err)
	}
	var stale int
	if err := db.QueryRow(`SELECT COUNT(*) FROM file_names WHERE visit_id = ? AND key_version = 1`, v.ID).Scan(&stale); err != nil || stale != 0 {
		t.Errorf("names under the earlier key after the visit's names were taken: %d (%v)", stale, err)
	}
}

// TestLookalikeNamesKeptBothKeyOnce: two names of one item held before
// version 2 that now look alike both stay; one is keyed again and a new
// upload of either meets it, while the other keeps its earlier key. Filed
// under another item, that one is keyed there, and meets a look-alike
// there; once the first is gone, it is keyed again before the next name
// is taken, and a new upload of its very name meets it (before, in the
// same process, that name was stored beside it).
func TestLookalikeNamesKeptBothKeyOnce(t *testing.T) {
	d := startDomain(t)
	ctx := context.Background()
	v := d.demo()
	uploader := d.person("cafcass", "uploader@cafcass.example")
	lead := d.person("ofsted", "lead@ofsted.example")
	up := d.mustAccess(uploader, policy.FileUpload)
	oldKey := func(name string) []byte {
		t.Helper()
		index, err := up.NameIndexOfKey(ctx, norm.NFC.String(cases.Fold().String(norm.NFC.String(name))))
		if err != nil {
			t.Fatal(err)
		}
		return index
	}
	upload := func(name, item string) (portal.FileView, error) {
		return up.Upload(ctx, portal.NewFile{Name: name, Item: item, Size: 1}, bytes.NewReader([]byte("a")))
	}
	db := d.svc.Store().DB()
	// Two look-alikes, stored in two items, then put side by side in one
	// under the keys the version before gave them.
	first, err := upload("Notes.pdf", "1.02")
	if err != nil {
		t.Fatal(err)
	}
	const second = "\uff2e\uff4f\uff54\uff45\uff53.pdf"
	other, err := upload(second, "1.03")
	if err != nil {
		t.Fatal(err)
	}
	for id, name := range map[string]string{first.ID: "Notes.pdf", other.ID: second} {
		if _, err := db.Exec(`UPDATE file_names SET name_index = ?, key_version = 1 WHERE file_id = ?`, oldKey(name), id); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := db.Exec(`UPDATE files SET item = '1.02' WHERE id = ?`, other.ID); err != nil {
		t.Fatal(err)
	}
	// A third, keyed as this version keys it, under another item.
	if _, err := upload("notes.PDF", "1.04"); err != nil {
		t.Fatal(err)
	}
	d.svc.ForgetNamesIndexed(v.ID)
	stale := func() int {
		t.Helper()
		var n int
		if err := db.QueryRow(`SELECT COUNT(*) FROM file_names WHERE visit_id = ? AND key_version = 1`, v.ID).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	for _, name := range []string{"Notes.pdf", second, "NOTES.pdf"} {
		_, err := upload(name, "1.02")
		if e, ok := portal.AsError(err); !ok || e.Code != "name_exists" {
			t.Errorf("%q beside two look-alikes held before: %v, want name_exists", name, err)
		}
	}
	if n := stale(); n != 1 {
		t.Errorf("names under the earlier key with two look-alikes: %d, want one", n)
	}
	// The one left under its earlier key, filed beside a look-alike.
	var left string
	if err := db.QueryRow(`SELECT file_id FROM file_names WHERE visit_id = ? AND key_version = 1`, v.ID).Scan(&left); err != nil {
		t.Fatal(err)
	}
	ref, err := d.access(lead, policy.FileRefile, left)
	if err != nil {
		t.Fatal(err)
	}
	_, err = ref.Refile(ctx, "1.04")
	if e, ok := portal.AsError(err); !ok || e.Code != "name_exists" {
		t.Errorf("the name left under its earlier key, filed beside a look-alike: %v, want name_exists", err)
	}
	// The first gone, the other is keyed again before the next name is
	// taken: its very name, and a look-alike, meet it.
	gone, leftName := first.ID, second
	if left == first.ID {
		gone, leftName = other.ID, "Notes.pdf"
	}
	del, err := d.access(uploader, policy.FileDelete, gone)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := del.DeleteFile(ctx); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{leftName, "NOTES.pdf"} {
		_, err = upload(name, "1.02")
		if e, ok := portal.AsError(err); !ok || e.Code != "name_exists" {
			t.Errorf("%q beside the look-alike left when the other went: %v, want name_exists", name, err)
		}
	}
	if n := stale(); n != 0 {
		t.Errorf("names under the earlier key once the other went: %d", n)
	}
}
