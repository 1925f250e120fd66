package portal_test

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ofsted-portal/evidence/policy"
	"github.com/ofsted-portal/evidence/portal"
)

// TestUnfinishedUploadsAreBounded: a person's unfinished resumable
// uploads of a visit are kept for days, unseen by anyone else, each up to
// the largest file allowed: a session that opens upload after upload and
// never finishes them would fill the object store. Past
// portal.MaxOpenUploads of them, or past portal.MaxOpenUploadSizes times
// the largest file in bytes declared, the oldest that has been idle for
// ten minutes is given up (its parts removed, recorded as a failed
// upload) to make room for the new one. When the idle ones would not make
// room (the others sent to minutes ago, or being written), none is given
// up and the new one is refused. Another person's are not touched.
func TestUnfinishedUploadsAreBounded(t *testing.T) {
	d := startDomain(t)
	ctx := context.Background()
	st := d.svc.Store()
	up := d.mustAccess(d.person("cafcass", "uploader@cafcass.example"), policy.FileUpload)
	other := d.mustAccess(d.person("cafcass", "coordinator@cafcass.example"), policy.FileUpload)
	theirs, err := other.CreateResumable(ctx, portal.NewFile{Name: "1.05 Another person's.pdf", Size: 10})
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	create := func(size int64) (string, error) {
		n++
		r, err := up.CreateResumable(ctx, portal.NewFile{Name: fmt.Sprintf("1.05 Upload %d.zip", n), Size: size})
		return r.ID, err
	}
	tooMany := func(err error) bool {
		e, ok := portal.AsError(err)
		return ok && e.Code == "too_many_uploads"
	}
	gone := func(id string) bool {
		t.Helper()
		_, err := st.Resumable(ctx, d.demo().ID, id)
		return err != nil
	}
	open := func() int {
		t.Helper()
		n, _, err := st.OpenResumables(ctx, d.demo().ID, up.Actor.UserID)
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	var big []string
	for range portal.MaxOpenUploadSizes {
		id, err := create(d.Config.MaxFileSize)
		if err != nil {
			t.Fatal(err)
		}
		big = append(big, id)
	}
	if _, err := create(1); !tooMany(err) {
		t.Fatalf("past %d of the largest files declared, all sent minutes ago: %v, want too_many_uploads", portal.MaxOpenUploadSizes, err)
	}
	d.later(11 * time.Minute)
	if _, err := create(1); err != nil {
		t.Fatalf("past %d of the largest files declared, idle ten minutes: %v", portal.MaxOpenUploadSizes, err)
	}
	if !gone(big[0]) || gone(big[1]) {
		t.Errorf("the oldest upload, and only it, is given up: %v %v", gone(big[0]), gone(big[1]))
	}
	var recent []string
	for open() < portal.MaxOpenUploads {
		id, err := create(10)
		if err != nil {
			t.Fatalf("unfinished upload %d: %v", open()+1, err)
		}
		recent = append(recent, id)
	}
	for range 3 { // the three large ones left, idle, make room
		if _, err := create(10); err != nil {
			t.Fatalf("an upload past %d, the older ones idle: %v", portal.MaxOpenUploads, err)
		}
	}
	if _, err := create(10); !tooMany(err) {
		t.Fatalf("an upload past %d, all sent to minutes ago: %v, want too_many_uploads", portal.MaxOpenUploads, err)
	}
	if open() != portal.MaxOpenUploads || gone(recent[0]) || gone(theirs.ID) {
		t.Fatalf("after the refusal: %d open, the oldest recent given up %v, another person's %v", open(), gone(recent[0]), gone(theirs.ID))
	}
	// Idle, but being written: none is given up, the new one is refused.
	d.later(11 * time.Minute)
	all, err := st.OldestOpenResumables(ctx, d.demo().ID, up.Actor.UserID, portal.MaxOpenUploads)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range all {
		if _, err := st.LockResumable(ctx, r.ID, "a request", time.Now(), time.Now().Add(time.Hour)); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := create(10); !tooMany(err) {
		t.Errorf("a new upload while all %d are being written: %v, want too_many_uploads", portal.MaxOpenUploads, err)
	}
	if open() != portal.MaxOpenUploads {
		t.Errorf("%d unfinished uploads after the refusal, want %d", open(), portal.MaxOpenUploads)
	}
}

// TestResumableMaxAgeHoldsWithinARequest: an unfinished resumable upload
// is kept at most 7 times PORTAL_UPLOAD_EXPIRY after it began, and the
// janitor leaves alone an upload a request is writing: a PATCH that
// trickles on past that age (a byte in every read timeout) is refused
// when it would commit, not completed.
func TestResumableMaxAgeHoldsWithinARequest(t *testing.T) {
	d := startDomain(t)
	ctx := context.Background()
	up := d.mustAccess(d.person("cafcass", "uploader@cafcass.example"), policy.FileUpload)
	before, err := d.svc.Store().Files(ctx, d.demo().ID)
	if err != nil {
		t.Fatal(err)
	}
	r, err := up.CreateResumable(ctx, portal.NewFile{Name: "1.05 Slow.pdf", Size: 6})
	if err != nil {
		t.Fatal(err)
	}
	_, f, err := up.Append(ctx, r, strings.NewReader("trickle"[:6]), func() error {
		d.later(7*d.Config.UploadExpiry + time.Minute) // the body took that long
		return nil
	})
	if err == nil || f != nil {
		t.Fatalf("an upload completed %s after it began: %v (file %v), want it refused as expired", 7*d.Config.UploadExpiry, err, f != nil)
	}
	if fs, err := d.svc.Store().Files(ctx, d.demo().ID); err != nil || len(fs) != len(before) {
		t.Fatalf("files: %d (%v), want the %d from before", len(fs), err, len(before))
	}
}

// TestAnUploadSendingInItsLastExpiryIsNotIdle: an unfinished upload's
// expiry moves on with each segment, but never past 7 times
// PORTAL_UPLOAD_EXPIRY after it began. In that last stretch its expiry
// stands still while it goes on sending, so it is not what tells how
// long ago it last sent: an upload sending a segment a minute ago is not
// given up as idle to make room for a new one.
func TestAnUploadSendingInItsLastExpiryIsNotIdle(t *testing.T) {
	d := startDomainOn(t, nil, map[string]string{"PORTAL_UPLOAD_EXPIRY": "1h", "PORTAL_SEGMENT_SIZE": "1MiB"})
	ctx := context.Background()
	st := d.svc.Store()
	up := d.mustAccess(d.person("cafcass", "uploader@cafcass.example"), policy.FileUpload)
	long, err := up.CreateResumable(ctx, portal.NewFile{Name: "1.05 Long.zip", Size: d.Config.MaxFileSize})
	if err != nil {
		t.Fatal(err)
	}
	segment := make([]byte, d.svc.SegmentSize())
	// A segment every 50 minutes: the last 6 h 40 min after it began,
	// within the last hour of its 7 hours.
	for i := range 8 {
		d.later(50 * time.Minute)
		if long, _, err = up.Append(ctx, long, bytes.NewReader(segment), nil); err != nil {
			t.Fatalf("segment %d: %v", i+1, err)
		}
	}
	d.later(time.Minute)
	for i := 1; i < portal.MaxOpenUploadSizes; i++ {
		if _, err := up.CreateResumable(ctx, portal.NewFile{Name: fmt.Sprintf("1.05 Big %d.zip", i), Size: d.Config.MaxFileSize}); err != nil {
			t.Fatal(err)
		}
	}
	_, err = up.CreateResumable(ctx, portal.NewFile{Name: "1.05 One more.pdf", Size: 1})
	if e, ok := portal.AsError(err); !ok || e.Code != "too_many_uploads" {
		t.Errorf("a new upload past %d of the largest files, each sending within the last minutes: %v, want too_many_uploads", portal.MaxOpenUploadSizes, err)
	}
	if _, err := st.Resumable(ctx, d.demo().ID, long.ID); err != nil {
		t.Errorf("the upload that sent a segment a minute ago was given up as idle: %v", err)
	}
}

// TestEmptyResumableThatFailsLeavesNothing: an empty file sent as a
// resumable upload is stored as the upload is created; when that fails,
// the create answers the failure and leaves no upload behind. The client
// was given no address for it, so it could neither finish it nor cancel
// it: before, it stayed for a day, unseen, holding its name, and the
// client's second try was told the name was taken ("already waiting to
// be filed").
func TestEmptyResumableThatFailsLeavesNothing(t *testing.T) {
	d := startDomain(t)
	ctx := context.Background()
	st := d.svc.Store()
	up := d.mustAccess(d.person("cafcass", "uploader@cafcass.example"), policy.FileUpload)
	refuse, allow := `CREATE TRIGGER refuse_file BEFORE INSERT ON files BEGIN SELECT RAISE(ABORT, 'files refused'); END`, `DROP TRIGGER refuse_file`
	if st.Postgres() {
		refuse = `CREATE FUNCTION refuse_file() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'files refused'; END $$;
			CREATE TRIGGER refuse_file BEFORE INSERT ON files FOR EACH ROW EXECUTE FUNCTION refuse_file()`
		allow = `DROP TRIGGER refuse_file ON files`
	}
	if _, err := st.DB().Exec(refuse); err != nil {
		t.Fatal(err)
	}
	if _, err := up.CreateResumable(ctx, portal.NewFile{Name: "1.05 Empty.pdf", Size: 0}); err == nil {
		t.Fatal("an empty file whose row is refused was stored")
	}
	if n, _, err := st.OpenResumables(ctx, d.demo().ID, up.Actor.UserID); err != nil || n != 0 {
		t.Errorf("the failed empty upload left %d unfinished uploads (%v), want none", n, err)
	}
	if _, err := st.DB().Exec(allow); err != nil {
		t.Fatal(err)
	}
	r, err := up.CreateResumable(ctx, portal.NewFile{Name: "1.05 Empty.pdf", Size: 0})
	if err != nil {
		t.Fatalf("the client's second try: %v, want the empty file stored", err)
	}
	if r.CompletedAt.IsZero() {
		t.Fatalf("the second try: %+v, want the empty file stored at once", r)
	}
	fs, err := d.mustAccess(up.Actor, policy.FileList).Files(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range fs {
		if f.ID == r.FileID && f.Name != "1.05 Empty.pdf" {
			t.Errorf("the second try stored %q, want the name the first try left free", f.Name)
		}
	}
}

// TestUnfinishedUploadsAreBoundedAtOnce: the bound on a person's
// unfinished uploads holds for uploads created at the same moment (a
// script sending many at once): each is counted in the transaction that
// records it, with the others of its person. Before, each create counted
// before any was recorded, and every one of them was let in.
func TestUnfinishedUploadsAreBoundedAtOnce(t *testing.T) {
	d := startDomain(t)
	ctx := context.Background()
	st := d.svc.Store()
	up := d.mustAccess(d.person("cafcass", "uploader@cafcass.example"), policy.FileUpload)
	const tries = 16
	var wg sync.WaitGroup
	start := make(chan struct{})
	errs := make(chan error, tries)
	for i := range tries {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			_, err := up.CreateResumable(ctx, portal.NewFile{Name: fmt.Sprintf("1.05 At once %d.zip", i), Size: d.Config.MaxFileSize})
			errs <- err
		}()
	}
	close(start)
	wg.Wait()
	close(errs)
	created := 0
	for err := range errs {
		if e, ok := portal.AsError(err); err != nil && (!ok || e.Code != "too_many_uploads") {
			t.Errorf("an upload created at once: %v, want it created or too_many_uploads", err)
		}
		if err == nil {
			created++
		}
	}
	if created != portal.MaxOpenUploadSizes {
		t.Errorf("%d of %d uploads of the largest file created at once, want %d", created, tries, portal.MaxOpenUploadSizes)
	}
	n, bytes, err := st.OpenResumables(ctx, d.demo().ID, up.Actor.UserID)
	if err != nil {
		t.Fatal(err)
	}
	if n > portal.MaxOpenUploads || bytes > portal.MaxOpenUploadSizes*d.Config.MaxFileSize {
		t.Errorf("%d uploads created at once hold %d unfinished, %d bytes declared; want at most %d and %d", tries, n, bytes, portal.MaxOpenUploads, portal.MaxOpenUploadSizes*d.Config.MaxFileSize)
	}
}

// TestRoomIsMadeAroundAnUploadBeingWritten: when making room for a new
// upload, an idle upload that a request is writing after all is passed
// over for the next idle one; and when room cannot be made, none is
// given up. Before, the idle ones were given up in order until one could
// not be taken, and then the new upload was refused anyway: the earlier
// ones were lost for nothing.
func TestRoomIsMadeAroundAnUploadBeingWritten(t *testing.T) {
	d := startDomain(t)
	ctx := context.Background()
	st := d.svc.Store()
	up := d.mustAccess(d.person("cafcass", "uploader@cafcass.example"), policy.FileUpload)
	max := d.Config.MaxFileSize
	var ids []string
	for i, size := range []int64{max / 2, max / 2, max, max, max} { // four of the largest in all
		r, err := up.CreateResumable(ctx, portal.NewFile{Name: fmt.Sprintf("1.05 Part %d.zip", i), Size: size})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, r.ID)
		d.later(time.Second) // oldest first, in this order
	}
	gone := func(id string) bool {
		t.Helper()
		_, err := st.Resumable(ctx, d.demo().ID, id)
		return err != nil
	}
	d.later(11 * time.Minute)
	// The second is being written.
	if ok, err := st.LockResumable(ctx, ids[1], "a request", time.Now(), time.Now().Add(time.Hour)); err != nil || !ok {
		t.Fatal(ok, err)
	}
	// Room for the largest file: the first and the second would make it,
	// but the second is being written: the first and the third do.
	fresh, err := up.CreateResumable(ctx, portal.NewFile{Name: "1.05 New.zip", Size: max})
	if err != nil {
		t.Fatalf("a new upload, the idle ones making room around the one being written: %v", err)
	}
	if !gone(ids[0]) || gone(ids[1]) || !gone(ids[2]) || gone(ids[3]) {
		t.Errorf("given up: %v %v %v %v, want the first and the third", gone(ids[0]), gone(ids[1]), gone(ids[2]), gone(ids[3]))
	}
	// With every other one being written, no room can be made: none is
	// given up.
	for _, id := range []string{ids[3], ids[4], fresh.ID} {
		if ok, err := st.LockResumable(ctx, id, "a request", time.Now(), time.Now().Add(time.Hour)); err != nil || !ok {
			t.Fatal(ok, err)
		}
	}
	d.later(11 * time.Minute)
	if _, err := up.CreateResumable(ctx, portal.NewFile{Name: "1.05 Newer.zip", Size: max}); err == nil {
		t.Fatal("a new upload made room while every idle upload was being written")
	}
	if n, _, err := st.OpenResumables(ctx, d.demo().ID, up.Actor.UserID); err != nil || n != 4 {
		t.Errorf("%d unfinished uploads after the refusal (%v), want the 4 kept", n, err)
	}
}

// TestPatchAcrossARemovalAndReAddStops: an upload belongs to the
// membership it was begun under. Its uploader removed and added again
// while one PATCH of it streams (a new membership, perhaps with other
// dates or another role's limits) may upload, but not finish that upload:
// its next segment is refused, and the janitor gives it up. Before, the
// membership was checked as the PATCH began only; each segment asked
// whether the person might upload, which the new membership allowed, and
// the upload completed.
func TestPatchAcrossARemovalAndReAddStops(t *testing.T) {
	d := startDomainOn(t, nil, map[string]string{"PORTAL_SEGMENT_SIZE": "1MiB"})
	ctx := context.Background()
	v, _ := d.openDemo()
	uploader := d.person("cafcass", "uploader@cafcass.example")
	up := d.mustAccess(uploader, policy.FileUpload)
	seg := d.svc.SegmentSize()
	r, err := up.CreateResumable(ctx, portal.NewFile{Name: "1.05 Long.pdf", Size: 3 * seg})
	if err != nil {
		t.Fatal(err)
	}
	admin := d.mustAccess(d.person("ofsted", "admin@ofsted.example"), policy.MemberManage)
	readded := false
	_, f, err := up.Append(ctx, r, bytes.NewReader(make([]byte, 3*seg)), func() error {
		if readded {
			return nil
		}
		readded = true
		ms, err := d.svc.Store().MembershipsOf(ctx, v.ID, uploader.UserID)
		if err != nil || len(ms) != 1 {
			return fmt.Errorf("memberships: %v %v", ms, err)
		}
		if err := admin.RemoveMember(ctx, ms[0].ID); err != nil {
			return err
		}
		if _, _, err := admin.PutMember(ctx, portal.MemberRequest{Issuer: uploader.Issuer, Subject: uploader.Subject, Role: policy.RoleProviderUploader}); err != nil {
			return err
		}
		d.later(3 * time.Second) // the decision is taken again
		return nil
	})
	if err == nil || f != nil {
		t.Errorf("a PATCH across its uploader's removal and re-adding completed the upload begun under the removed membership: %v, file %v", err, f != nil)
	}
}
