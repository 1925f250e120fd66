package store

import (
	"context"
	"testing"
	"time"
)

// TestMigrationRefilesEarlierVersionsLeftBehind: before a file took its
// earlier versions with it to another item, a move of a file left them
// under the item it came from (the child-level data's versions readable
// by every inspector). Migration 50 files each under its latest version's
// item.
func TestMigrationRefilesEarlierVersionsLeftBehind(t *testing.T) {
	ctx := context.Background()
	s := openTest(t)
	now := time.Now().UTC().Truncate(time.Second)
	visitWithF1(t, s, now)
	for _, q := range []string{
		`INSERT INTO files (` + fileInsertColumns + `) SELECT 'f2', visit_id, name_sealed, item, size, sha256, segment_size, segments, header_size, uploaded_by, uploaded_at, segment_macs, scan_status, scan_signature, scanned_at FROM files WHERE id = 'f1'`,
		`INSERT INTO files (` + fileInsertColumns + `) SELECT 'f3', visit_id, name_sealed, item, size, sha256, segment_size, segments, header_size, uploaded_by, uploaded_at, segment_macs, scan_status, scan_signature, scanned_at FROM files WHERE id = 'f1'`,
		`INSERT INTO files (` + fileInsertColumns + `) SELECT 'g1', visit_id, name_sealed, '1.04', size, sha256, segment_size, segments, header_size, uploaded_by, uploaded_at, segment_macs, scan_status, scan_signature, scanned_at FROM files WHERE id = 'f1'`,
		`UPDATE files SET superseded_by = 'f2', superseded_at = uploaded_at WHERE id = 'f1'`,
		`UPDATE files SET superseded_by = 'f3', superseded_at = uploaded_at WHERE id = 'f2'`,
		`UPDATE files SET item = 'cld' WHERE id = 'f3'`,
		earlierVersionsRefiled,
	} {
		if _, err := s.DB().Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	for id, want := range map[string]string{"f1": "cld", "f2": "cld", "f3": "cld", "g1": "1.04"} {
		f, err := s.File(ctx, "v1", id)
		if err != nil {
			t.Fatal(err)
		}
		if f.Item != want {
			t.Errorf("after the migration file %s is under %s, want %s", id, f.Item, want)
		}
	}
}
