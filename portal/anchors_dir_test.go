package portal

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestTornAnchorRecordIsReplaced: a record a crash left half-written in the
// anchor folder (a certificate cut off mid-write) is not taken for the
// record when it is put again: the whole record replaces it. A whole
// record, once there, is never replaced.
func TestTornAnchorRecordIsReplaced(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	a := dirAnchors{dir}
	name := "certificates/v1/visit-1.json"
	whole := []byte(`{"visit":"visit-1","objects_deleted":3,"signature":"abc"}`)
	path := filepath.Join(dir, filepath.FromSlash(name))
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, whole[:20], 0o400); err != nil {
		t.Fatal(err)
	}
	if err := a.PutRecord(ctx, name, whole); err != nil {
		t.Fatal(err)
	}
	got, err := a.Records(ctx, name)
	if err != nil || len(got[name]) != 1 || string(got[name][0]) != string(whole) {
		t.Fatalf("after putting the record again over a torn one, the anchor holds %q (%v); want the whole record", got[name], err)
	}
	other := []byte(`{"visit":"visit-1","objects_deleted":0,"signature":"def"}`)
	if err := a.PutRecord(ctx, name, other); err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(path); string(got) != string(whole) {
		t.Fatalf("a whole record was replaced: %q", got)
	}
	if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o400 {
		t.Fatalf("the record is %v (%v); want read-only", fi.Mode(), err)
	}
	// Nothing but records is left in the folder for a reader to find.
	all, err := a.Records(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	for n := range all {
		if n != name {
			t.Errorf("the anchor folder holds %s", n)
		}
	}
	if ents, _ := os.ReadDir(filepath.Dir(path)); len(ents) != 1 || strings.HasPrefix(ents[0].Name(), ".") {
		t.Errorf("the record's folder holds %v", ents)
	}
}
