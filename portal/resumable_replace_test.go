package portal_test

import (
	"context"
	"io"
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

// TestResumableVersionOfAFileDeletedSince: a new version paused while its
// file is deleted is refused as it is resumed, with what to do, and
// replaces nothing. A file the team had downloaded is withdrawn, and stays
// shown to them as withdrawn: before, the version superseded it, and the
// team saw only the new one. A file deleted for good leaves its name free:
// before, every resumed request was a bare 404 and the name was held by
// the stuck upload until it expired ("already filed").
func TestResumableVersionOfAFileDeletedSince(t *testing.T) {
	for _, downloaded := range []bool{true, false} {
		d, v, _, uploader, old := oneFileUploaded(t)
		ctx := context.Background()
		if downloaded {
			lead := d.person("ofsted", "lead@ofsted.example")
			acc, err := d.access(lead, policy.FileDownload, old.ID)
			if err != nil {
				t.Fatal(err)
			}
			dl, err := acc.OpenDownload(ctx, 0, old.Size, false)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := io.ReadAll(dl); err != nil {
				t.Fatal(err)
			}
			dl.Close()
		}
		up := d.mustAccess(uploader, policy.FileUpload)
		r, err := up.CreateResumable(ctx, portal.NewFile{Name: "1.01 a.pdf", Size: 6, OnConflict: portal.OnConflictReplace})
		if err != nil {
			t.Fatal(err)
		}
		coord := d.person("cafcass", "coordinator@cafcass.example")
		del, err := d.access(coord, policy.FileDelete, old.ID)
		if err != nil {
			t.Fatal(err)
		}
		if withdrawn, err := del.DeleteFile(ctx); err != nil || withdrawn != downloaded {
			t.Fatalf("delete: withdrawn %v (%v), want %v", withdrawn, err, downloaded)
		}
		_, f, err := up.Append(ctx, r, strings.NewReader("second"), nil)
		if kindOf(err) != portal.KindConflict {
			t.Errorf("downloaded %v: the new version of a file deleted since: %v (file %v), want a conflict saying so", downloaded, err, f != nil)
		}
		if downloaded {
			if got, err := d.svc.Store().File(ctx, v.ID, old.ID); err != nil || got.WithdrawnAt.IsZero() || got.SupersededBy != "" {
				t.Errorf("the withdrawn file: withdrawn %v, superseded by %q (%v): want it withdrawn and not superseded", !got.WithdrawnAt.IsZero(), got.SupersededBy, err)
			}
			continue
		}
		if _, err := up.Upload(ctx, portal.NewFile{Name: "1.01 a.pdf", Size: 5}, strings.NewReader("again")); err != nil {
			t.Errorf("the name of a file deleted for good, after its refused new version: %v, want it free", err)
		}
	}
}

// TestVersionOfAFileWithdrawnWhileItStreams: a new version sent in one
// request, while the file it replaces is withdrawn by the coordinator, is
// refused at its commit: the withdrawn file stays as the team saw it.
// Before, the version superseded it.
func TestVersionOfAFileWithdrawnWhileItStreams(t *testing.T) {
	d, v, _, uploader, old := oneFileUploaded(t)
	ctx := context.Background()
	lead := d.person("ofsted", "lead@ofsted.example")
	acc, err := d.access(lead, policy.FileDownload, old.ID)
	if err != nil {
		t.Fatal(err)
	}
	dl, err := acc.OpenDownload(ctx, 0, old.Size, false)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, dl)
	dl.Close()
	coord := d.person("cafcass", "coordinator@cafcass.example")
	rep, err := d.access(uploader, policy.FileReplace, old.ID)
	if err != nil {
		t.Fatal(err)
	}
	body := &holdingReader{r: strings.NewReader("second"), hold: func() {
		del, err := d.access(coord, policy.FileDelete, old.ID)
		if err != nil {
			t.Error(err)
			return
		}
		if withdrawn, err := del.DeleteFile(ctx); err != nil || !withdrawn {
			t.Errorf("withdraw: %v %v", withdrawn, err)
		}
	}}
	if f, err := rep.ReplaceFile(ctx, 6, body); kindOf(err) != portal.KindConflict {
		t.Errorf("a new version of a file withdrawn while it streamed: %v (file %q), want a conflict saying so", err, f.ID)
	}
	if got, err := d.svc.Store().File(ctx, v.ID, old.ID); err != nil || got.WithdrawnAt.IsZero() || got.SupersededBy != "" {
		t.Errorf("the withdrawn file: withdrawn %v, superseded by %q (%v): want it withdrawn and not superseded", !got.WithdrawnAt.IsZero(), got.SupersededBy, err)
	}
}
