package portal_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/ofsted-portal/evidence/policy"
	"github.com/ofsted-portal/evidence/portal"
	"github.com/ofsted-portal/evidence/portal/store"
)

// TestNameKeptWhileRoomIsMade: a resumable upload reserves its name, then
// makes room by giving up the person's oldest idle uploads (removing their
// parts from the object store, which can take minutes). The janitor frees
// a reservation whose upload has not begun after two minutes (a crash
// between the two), so one freed meanwhile is not the upload's: the
// upload is refused (409 name_lost), to be sent again, rather than begun
// under a name another file can then take. Before, it began, and a second
// upload of the same name to the same item began beside it.
func TestNameKeptWhileRoomIsMade(t *testing.T) {
	d, _, _, uploader, _ := oneFileUploaded(t)
	ctx := context.Background()
	up := d.mustAccess(uploader, policy.FileUpload)
	for i := range portal.MaxOpenUploads {
		if _, err := up.CreateResumable(ctx, portal.NewFile{Name: fmt.Sprintf("1.02 Part %d.pdf", i), Size: 10}); err != nil {
			t.Fatal(err)
		}
	}
	d.later(time.Hour) // every one of them idle
	// The janitor's sweep of names runs while room is made: as the first
	// upload given up is recorded, its clock (another instance's, say)
	// three minutes on.
	st := d.svc.Store()
	swept := false
	st.LoseCommitAnswers(func(audit []store.AuditRecord) error {
		for _, r := range audit {
			if r.Action == "upload.failed" && !swept {
				swept = true
				if err := st.SweepNames(ctx, d.svc.Now().Add(3*time.Minute)); err != nil {
					t.Error(err)
				}
			}
		}
		return nil
	})
	t.Cleanup(func() { st.LoseCommitAnswers(nil) })
	_, first := d.mustAccess(uploader, policy.FileUpload).CreateResumable(ctx, portal.NewFile{Name: "1.03 Minutes.pdf", Size: 10})
	if !swept {
		t.Fatal("no upload was given up to make room: the test did not run what it tests")
	}
	_, second := d.mustAccess(uploader, policy.FileUpload).CreateResumable(ctx, portal.NewFile{Name: "1.03 Minutes.pdf", Size: 10})
	if first == nil && second == nil {
		t.Fatal("two uploads of one name to one item began: the first's name was freed while it made room")
	}
	if first != nil && (!isCode(first, "name_lost") || second != nil) {
		t.Errorf("the upload whose name was freed: %v; the one after it: %v; want the first refused (name_lost), to be sent again, and the second begun", first, second)
	}
}
