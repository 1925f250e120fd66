package portal_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/ofsted-portal/evidence/policy"
)

// TestPurgeNoteWrittenLater: a purge whose note outside the database
// could not be written as it committed (the anchor store failing, or the
// process stopping in between) has it written by the janitor. Before,
// nothing wrote it: a restore of a backup taken before the purge brought
// the file's row back, its name listed to the team again.
func TestPurgeNoteWrittenLater(t *testing.T) {
	dir := t.TempDir()
	d, v, tl, _, a := oneFileUploadedOn(t, startDomainOn(t, nil, map[string]string{"PORTAL_AUDIT_ANCHOR_DIR": dir}))
	ctx := context.Background()
	admin := d.person("ofsted", "admin@ofsted.example")
	d.at(tl.FieldworkEnd.AddDate(0, 0, 1))
	// The anchor store cannot take the note: a file stands where its
	// folder goes.
	blocker := filepath.Join(dir, "purges")
	if err := os.WriteFile(blocker, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	pur, err := d.access(admin, policy.FilePurge, a.ID)
	if err != nil {
		t.Fatal(err)
	}
	if err := pur.Purge(ctx, "Uploaded to the wrong visit"); err != nil {
		t.Fatalf("the purge, its note not written: %v", err)
	}
	note := filepath.Join(dir, "purges", v.ID, a.ID+".json")
	if err := os.Remove(blocker); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(note); !os.IsNotExist(err) {
		t.Fatalf("the note, written though its folder could not be made: %v", err)
	}
	d.svc.Sweep(ctx)
	if _, err := os.Stat(note); err != nil {
		t.Fatalf("the purge's note after the janitor's round: %v, want it written", err)
	}
	if n, err := d.svc.Store().PurgeNotesPending(ctx, 10); err != nil || len(n) != 0 {
		t.Errorf("purge notes still pending after they were written: %d (%v)", len(n), err)
	}
}
