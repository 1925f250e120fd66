package portal_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/ofsted-portal/evidence/policy"
	"github.com/ofsted-portal/evidence/portal"
)

// TestLateReceiptSignsWhatWasUploaded: a receipt signed after the upload
// (one not made as the file committed, or a batch) takes the file's size
// and SHA-256 from its row in the database. Someone who can write to the
// database changes them: the portal signed the changed values, so the
// provider's proof of what it sent said what it did not send. The values
// are now held to the upload's own record in the audit trail (which is
// chained and signed), and a file whose row differs gets no receipt.
func TestLateReceiptSignsWhatWasUploaded(t *testing.T) {
	d, v, _, uploader, a := oneFileUploaded(t)
	ctx := context.Background()
	db := d.svc.Store().DB()
	b, err := d.mustAccess(uploader, policy.FileUpload).Upload(ctx, portal.NewFile{Name: "1.02 b.pdf", Size: 6}, strings.NewReader("second"))
	if err != nil {
		t.Fatal(err)
	}
	// Unchanged, a late receipt is issued as before.
	if _, err := db.Exec(`DELETE FROM receipts WHERE upload_of = ?`, b.ID); err != nil {
		t.Fatal(err)
	}
	if r, err := d.mustAccess(uploader, policy.ReceiptView).FileReceipt(ctx, b.ID); err != nil || r.Files[0].SHA256 != b.SHA256 {
		t.Fatalf("late receipt of an unchanged file: %+v %v", r, err)
	}

	forged := strings.Repeat("0", 64)
	if _, err := db.Exec(`DELETE FROM receipts WHERE upload_of = ?`, a.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(`UPDATE files SET sha256 = ? WHERE id = ? AND visit_id = ?`, forged, a.ID, v.ID); err != nil {
		t.Fatal(err)
	}
	r, err := d.mustAccess(uploader, policy.ReceiptView).FileReceipt(ctx, a.ID)
	if err == nil {
		t.Fatalf("a late receipt signed the database's SHA-256 %s (uploaded: %s)", r.Files[0].SHA256, a.SHA256)
	}
	if pe := (*portal.Error)(nil); !errors.As(err, &pe) || pe.Kind != portal.KindCorrupt {
		t.Fatalf("late receipt of a changed row: %v", err)
	}
	if r, err := d.mustAccess(uploader, policy.ReceiptIssue).IssueBatchReceipt(ctx, []string{a.ID, b.ID}); err == nil {
		t.Fatalf("a batch receipt signed the database's SHA-256 %s (uploaded: %s)", r.Files[0].SHA256, a.SHA256)
	}
}

// TestLateReceiptSignsWhenAndWhoAsUploaded: a receipt signed after the
// upload takes the time it arrived, and who sent it, from what the upload
// recorded, not from the file's row, which anyone who can write to the
// database can change: backdated, a late submission's receipt would say
// it came on time, under the portal's key.
func TestLateReceiptSignsWhenAndWhoAsUploaded(t *testing.T) {
	d, v, _, uploader, a := oneFileUploaded(t)
	ctx := context.Background()
	db := d.svc.Store().DB()
	if _, err := db.Exec(`DELETE FROM receipts WHERE upload_of = ?`, a.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(`UPDATE files SET uploaded_at = ? WHERE id = ? AND visit_id = ?`, "2020-01-01T09:00:00.000000000Z", a.ID, v.ID); err != nil {
		t.Fatal(err)
	}
	if r, err := d.mustAccess(uploader, policy.ReceiptView).FileReceipt(ctx, a.ID); err == nil {
		t.Fatalf("a late receipt signed the database's arrival time %s (uploaded %s)", r.Files[0].UploadedAt, a.UploadedAt)
	}
}

// TestReceiptIsIssuedNoSoonerThanItsFiles: a receipt is issued at or
// after the moment each of its files arrived, whatever the fraction of a
// second. Before, its time was cut to the second: a receipt made as the
// file committed at 10:00:00.4 said it was issued at 10:00:00.
func TestReceiptIsIssuedNoSoonerThanItsFiles(t *testing.T) {
	d, _, _, uploader, _ := oneFileUploaded(t)
	ctx := context.Background()
	for i := range 5 {
		f, err := d.mustAccess(uploader, policy.FileUpload).Upload(ctx, portal.NewFile{Name: fmt.Sprintf("1.02 part %d.pdf", i), Size: 4}, strings.NewReader("part"))
		if err != nil {
			t.Fatal(err)
		}
		r, err := d.mustAccess(uploader, policy.ReceiptView).FileReceipt(ctx, f.ID)
		if err != nil {
			t.Fatal(err)
		}
		if r.IssuedAt.Before(r.Files[0].UploadedAt) {
			t.Fatalf("a receipt issued at %s for a file that arrived at %s", r.IssuedAt.Format(time.RFC3339Nano), r.Files[0].UploadedAt.Format(time.RFC3339Nano))
		}
	}
}
