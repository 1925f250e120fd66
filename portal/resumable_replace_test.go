package portal_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/ofsted-portal/evidence/policy"
	"github.com/ofsted-portal/evidence/portal"
)

// TestResumableReplacementActsOnAccessAsItIs: a resumable new version of
// another person's file, begun by the coordinator (who may replace any
// provider file), is not completed once the coordinator has been made an
// uploader (who may replace only their own): the right to replace the
// file is taken again as the version is committed, as the right to
// upload is. The file stays current. Before, only the upload was checked
// again, and the file was replaced in the demoted person's name.
func TestResumableReplacementActsOnAccessAsItIs(t *testing.T) {
	d, v, _, _, old := oneFileUploaded(t)
	ctx := context.Background()
	admin := d.person("ofsted", "admin@ofsted.example")
	coord := d.person("cafcass", "coordinator@cafcass.example")
	up := d.mustAccess(coord, policy.FileUpload)
	r, err := up.CreateResumable(ctx, portal.NewFile{Name: "1.01 a.pdf", Size: 6, OnConflict: portal.OnConflictReplace})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := d.mustAccess(admin, policy.MemberManage).PutMember(ctx, portal.MemberRequest{Email: "coordinator@cafcass.example", Role: policy.RoleProviderUploader}); err != nil {
		t.Fatal(err)
	}
	d.later(3 * time.Second) // the decision the upload began with is old now
	_, f, err := up.Append(ctx, r, strings.NewReader("second"), nil)
	if kindOf(err) != portal.KindForbidden && kindOf(err) != portal.KindNotFound {
		t.Errorf("the new version of another's file, completed by a coordinator made an uploader: %v (file %v), want a refusal", err, f != nil)
	}
	if got, err := d.svc.Store().File(ctx, v.ID, old.ID); err != nil || !got.Live() {
		t.Fatalf("the file replaced: %+v %v", got, err)
	}
}
