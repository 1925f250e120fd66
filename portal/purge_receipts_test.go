package portal_test

import (
	"context"
	"strings"
	"testing"

	"github.com/ofsted-portal/evidence/policy"
	"github.com/ofsted-portal/evidence/portal"
)

// TestPurgeLeavesNoNameInReceiptsOrThreads: a purged file keeps its digest
// and size, never its name or what was said of it. Before, the upload's
// receipt and a batch receipt listing it stayed readable by the
// coordinator and the uploader, naming the purged file (a file about the
// wrong child is named after that child), and the thread on it stayed
// stored, sealed, until the visit's destruction.
func TestPurgeLeavesNoNameInReceiptsOrThreads(t *testing.T) {
	d, v, tl, uploader, a := oneFileUploaded(t)
	ctx := context.Background()
	st := d.svc.Store()
	coordinator := d.person("cafcass", "coordinator@cafcass.example")
	lead := d.person("ofsted", "lead@ofsted.example")
	admin := d.person("ofsted", "admin@ofsted.example")

	b, err := d.mustAccess(uploader, policy.FileUpload).Upload(ctx, portal.NewFile{Name: "1.02 b.pdf", Size: 6}, strings.NewReader("second"))
	if err != nil {
		t.Fatal(err)
	}
	batch, err := d.mustAccess(uploader, policy.ReceiptIssue).IssueBatchReceipt(ctx, []string{a.ID, b.ID})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := d.mustAccess(uploader, policy.ReceiptView).FileReceipt(ctx, a.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := d.mustAccess(lead, policy.QuestionPost).Ask(ctx, portal.QuestionInput{FileID: a.ID, Text: "Is this the right child?"}); err != nil {
		t.Fatal(err)
	}

	d.at(tl.FieldworkEnd.AddDate(0, 0, 1))
	pur, err := d.access(admin, policy.FilePurge, a.ID)
	if err != nil {
		t.Fatal(err)
	}
	if err := pur.Purge(ctx, "About the wrong child"); err != nil {
		t.Fatal(err)
	}

	for who, actor := range map[string]portal.Actor{"coordinator": coordinator, "uploader": uploader} {
		list, err := d.mustAccess(actor, policy.ReceiptView).Receipts(ctx, portal.ReceiptQuery{})
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range list.Receipts {
			for _, f := range r.Files {
				if f.ID == a.ID || f.Name == a.Name {
					t.Errorf("the %s still reads receipt %s (%s) naming the purged file %q", who, r.ID, r.Kind, f.Name)
				}
			}
		}
		if _, err := d.mustAccess(actor, policy.ReceiptView).Receipt(ctx, batch.ID); err == nil {
			t.Errorf("the %s still reads the batch receipt listing the purged file", who)
		}
	}
	// The other file of the batch keeps its own receipt.
	if r, err := d.mustAccess(uploader, policy.ReceiptView).FileReceipt(ctx, b.ID); err != nil || r.Files[0].ID != b.ID {
		t.Fatalf("the other file's receipt: %+v %v", r, err)
	}
	qs, err := st.Questions(ctx, v.ID)
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range qs {
		if q.FileID == a.ID {
			t.Errorf("the thread on the purged file is still stored: %+v", q)
		}
	}
	posts, err := st.Posts(ctx, v.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(posts) != 0 {
		t.Errorf("%d posts on the purged file still stored", len(posts))
	}
}
