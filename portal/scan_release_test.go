package portal_test

import (
	"context"
	"testing"

	"github.com/ofsted-portal/evidence/portal"
	"github.com/ofsted-portal/evidence/portal/store"
)

// TestScanReleaseSkipsVisitsBeingDestroyed: portal scan release, for every
// waiting file, releases those of live visits and leaves those of a visit
// being destroyed (nothing of it is served again: its evidence goes). Before,
// the first waiting file of such a visit refused the release (policy
// visit-destroyed), and the run stopped there, every time: files of other
// visits whose ids came after it stayed held from the team.
func TestScanReleaseSkipsVisitsBeingDestroyed(t *testing.T) {
	d, v, _, uploader, f := oneFileUploaded(t)
	ctx := context.Background()
	gone, err := d.svc.SeedVisits(ctx, 1, "FV-GOING", "")
	if err != nil {
		t.Fatal(err)
	}
	if err := d.svc.SeedFiles(ctx, gone[0].ID, uploader.UserID, 10); err != nil {
		t.Fatal(err)
	}
	db := d.svc.Store().DB()
	for _, q := range []string{`UPDATE files SET scan_status = 'scanning'`, `UPDATE visits SET state = 'destroying' WHERE id = '` + gone[0].ID + `'`} {
		if _, err := db.Exec(q); err != nil {
			t.Fatal(err)
		}
	}
	n, err := d.svc.ReleaseWaiting(ctx, portal.OperatorActor("op", "scan release"), "")
	if err != nil || n != 1 {
		t.Errorf("scan release of every waiting file: %d released, %v; want the live visit's one, and no error", n, err)
	}
	if got, err := d.svc.Store().File(ctx, v.ID, f.ID); err != nil || got.Scan != store.ScanUnscanned {
		t.Errorf("the live visit's waiting file: %q (%v), want it released (%q)", got.Scan, err, store.ScanUnscanned)
	}
}
