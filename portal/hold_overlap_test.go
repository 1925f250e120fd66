package portal_test

import (
	"context"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"

	"github.com/ofsted-portal/evidence/policy"
	"github.com/ofsted-portal/evidence/portal/store"
)

// TestHoldLiftedBesideAnActStillUnderWay: an administrator sets a legal
// hold, and while their request still holds the bucket's object versions
// one by one, another lifts it. The lift frees every version and is
// recorded as carried to the store; the set's request then holds the
// versions the lift had passed, and stops without a word (a restart, the
// client gone). Before, nothing said the store was not at the lifted
// hold: the object versions stayed held, the retention run never looked
// again, and the visit's destruction, with its key destroyed, failed for
// ever on the held versions. A lift or set made while another act's
// carrying was unrecorded (and may still run) is now left for the
// retention run to carry again once both have ended.
func TestHoldLiftedBesideAnActStillUnderWay(t *testing.T) {
	ctx := context.Background()
	d, v, _, _, _ := oneFileUploaded(t)
	lead := d.person("ofsted", "lead@ofsted.example")
	admin := d.person("ofsted", "admin@ofsted.example")
	day := d.publish(lead, v)
	blobs := d.svc.Blobs()
	held := func() (n, of int) { t.Helper(); return heldVersions(t, d, v) }
	// The first administrator's set: recorded, its carrying under way.
	if _, err := d.svc.Store().SetLegalHold(ctx, v.ID, store.LegalHold{On: true, ReasonSealed: []byte("sealed"), At: time.Now().Add(time.Duration(d.offset.Load())), By: admin.UserID}); err != nil {
		t.Fatal(err)
	}
	// The second's lift, carried to the end.
	if _, err := d.mustAccess(admin, policy.LegalHoldLift).SetLegalHold(ctx, false, "Proceedings ended"); err != nil {
		t.Fatal(err)
	}
	// The set's carrying goes on past the lift's, then stops unrecorded.
	if err := blobs.SetLegalHold(ctx, v.Bucket, true); err != nil {
		t.Fatal(err)
	}
	if n, of := held(); of == 0 || n != of {
		t.Fatalf("the set's late carrying held %d of %d versions", n, of)
	}
	d.at(day.AddDate(0, 0, 1))
	if _, err := d.svc.RunRetention(ctx); err != nil {
		t.Fatal(err)
	}
	if n, of := held(); n != 0 {
		t.Errorf("the hold lifted, and after the retention run %d of the %d object versions are still held in the store", n, of)
	}
}

// TestHoldRetriedAfterARefusalIsCarried: a hold the store refused (503,
// "set the hold again") has ended: set again at once and carried, it is
// recorded carried. The act beside one still under way is left to the
// retention run only when that one may still run.
func TestHoldRetriedAfterARefusalIsCarried(t *testing.T) {
	ctx := context.Background()
	var refuse atomic.Pointer[func(*http.Request) bool]
	d, v, _, _, _ := oneFileUploadedOn(t, refusingStore(t, &refuse))
	admin := d.person("ofsted", "admin@ofsted.example")
	holds := func(r *http.Request) bool { return r.Method != http.MethodGet && r.URL.Query().Has("legal-hold") }
	refuse.Store(&holds)
	if _, err := d.mustAccess(admin, policy.LegalHoldSet).SetLegalHold(ctx, true, "Judicial review"); err == nil {
		t.Fatal("the hold was carried while the store refused")
	}
	refuse.Store(nil)
	if _, err := d.mustAccess(admin, policy.LegalHoldSet).SetLegalHold(ctx, true, "Judicial review"); err != nil {
		t.Fatal(err)
	}
	later := time.Now().Add(time.Duration(d.offset.Load())).Add(time.Hour)
	todo, err := d.svc.Store().StoreSidesToApply(ctx, later, 10)
	if err != nil {
		t.Fatal(err)
	}
	for _, h := range todo {
		if h.Visit.ID == v.ID {
			t.Fatalf("the hold set again after the store refused it, and carried, is not recorded carried: %+v", h)
		}
	}
}

// TestHoldLiftedBesideTheRetentionRunsCarrying: the retention run carries
// a hold that stopped part-way; an administrator lifts it meanwhile, and
// the run's carrying, holding the versions the lift freed, stops without
// a word. The lift, made while the run's carrying was under way, is left
// for the next run to carry, which frees them.
func TestHoldLiftedBesideTheRetentionRunsCarrying(t *testing.T) {
	ctx := context.Background()
	var refuse atomic.Pointer[func(*http.Request) bool]
	d, v, _, _, _ := oneFileUploadedOn(t, refusingStore(t, &refuse))
	lead := d.person("ofsted", "lead@ofsted.example")
	admin := d.person("ofsted", "admin@ofsted.example")
	day := d.publish(lead, v)
	blobs := d.svc.Blobs()
	// A set whose carrying stopped part-way, long enough ago for the run.
	if _, err := d.svc.Store().SetLegalHold(ctx, v.ID, store.LegalHold{On: true, ReasonSealed: []byte("sealed"), At: time.Now().Add(time.Duration(d.offset.Load())), By: admin.UserID}); err != nil {
		t.Fatal(err)
	}
	day = day.AddDate(0, 0, 1)
	d.at(day)
	// The run's first object hold waits for the lift, then fails.
	inRun, lifted := firstHoldWaits(&refuse)
	done := make(chan struct{})
	go func() { defer close(done); d.svc.RunRetention(ctx) }()
	<-inRun
	if _, err := d.mustAccess(admin, policy.LegalHoldLift).SetLegalHold(ctx, false, "Proceedings ended"); err != nil {
		t.Fatal(err)
	}
	// The run's carrying holds the versions the lift freed, then stops.
	if err := blobs.SetLegalHold(ctx, v.Bucket, true); err != nil {
		t.Fatal(err)
	}
	close(lifted)
	<-done
	refuse.Store(nil)
	d.at(day.AddDate(0, 0, 1))
	if _, err := d.svc.RunRetention(ctx); err != nil {
		t.Fatal(err)
	}
	if n, of := heldVersions(t, d, v); n != 0 {
		t.Fatalf("the hold lifted beside the run's carrying, and after the next run %d of the %d object versions are still held in the store", n, of)
	}
}

// heldVersions counts the object versions of v's bucket under an S3 legal
// hold, of how many.
func heldVersions(t *testing.T, d *domain, v store.Visit) (n, of int) {
	t.Helper()
	ctx := context.Background()
	blobs := d.svc.Blobs()
	vs, err := blobs.Versions(ctx, v.Bucket, "")
	if err != nil {
		t.Fatal(err)
	}
	for _, ver := range vs {
		st, err := blobs.Client().GetObjectLegalHold(ctx, v.Bucket, ver.Key, minio.GetObjectLegalHoldOptions{VersionID: ver.VersionID})
		if err == nil && st != nil && *st == minio.LegalHoldEnabled {
			n++
		}
	}
	return n, len(vs)
}

// TestRefusedHoldBesideAnActUnderWayWaits: a lift the store refuses
// while an earlier set may still be holding objects has ended, but the
// set may not have: the retention run waits for the set as it would
// have, rather than carry the lift at once and be undone by the set's
// late holds.
func TestRefusedHoldBesideAnActUnderWayWaits(t *testing.T) {
	ctx := context.Background()
	var refuse atomic.Pointer[func(*http.Request) bool]
	d, v, _, _, _ := oneFileUploadedOn(t, refusingStore(t, &refuse))
	admin := d.person("ofsted", "admin@ofsted.example")
	if _, err := d.svc.Store().SetLegalHold(ctx, v.ID, store.LegalHold{On: true, ReasonSealed: []byte("sealed"), At: time.Now().Add(time.Duration(d.offset.Load())), By: admin.UserID}); err != nil {
		t.Fatal(err)
	}
	holds := func(r *http.Request) bool { return r.Method != http.MethodGet && r.URL.Query().Has("legal-hold") }
	refuse.Store(&holds)
	if _, err := d.mustAccess(admin, policy.LegalHoldLift).SetLegalHold(ctx, false, "Proceedings ended"); err == nil {
		t.Fatal("the lift was carried while the store refused")
	}
	refuse.Store(nil)
	now := time.Now().Add(time.Duration(d.offset.Load()))
	todo, err := d.svc.Store().StoreSidesToApply(ctx, now.Add(-10*time.Minute), 10)
	if err != nil {
		t.Fatal(err)
	}
	for _, h := range todo {
		if h.Visit.ID == v.ID {
			t.Fatalf("a refused lift beside a set that may still run is given to the retention run at once: %+v", h.Act)
		}
	}
}

// TestHoldLiftThatFailsLateIsCarriedAgain: an administrator lifts a legal
// hold and their request, carrying the lift, is paused past the time the
// portal waits for an act to end (storeSettle). Another sets the hold
// again meanwhile, carried to the end and recorded so. The lift's request
// then runs on: it frees the object versions, and its next call fails.
// The store is then not at the hold the database records, and the
// retention run must carry it again. Before, the failure was recorded
// only against the lift's own act, which a later one had superseded, so
// nothing said so: the versions stayed free under a recorded hold.
func TestHoldLiftThatFailsLateIsCarriedAgain(t *testing.T) {
	ctx := context.Background()
	var refuse atomic.Pointer[func(*http.Request) bool]
	d, v, _, _, _ := oneFileUploadedOn(t, refusingStore(t, &refuse))
	lead := d.person("ofsted", "lead@ofsted.example")
	admin := d.person("ofsted", "admin@ofsted.example")
	day := d.publish(lead, v)
	blobs := d.svc.Blobs()
	if _, err := d.mustAccess(admin, policy.LegalHoldSet).SetLegalHold(ctx, true, "Judicial review"); err != nil {
		t.Fatal(err)
	}
	// The lift's first object hold waits; the lift then runs on, frees
	// every version, and its call fails, as a request paused part-way
	// that runs on would.
	inLift, release := firstHoldWaits(&refuse)
	lifted := make(chan error, 1)
	go func() {
		_, err := d.mustAccess(admin, policy.LegalHoldLift).SetLegalHold(ctx, false, "Proceedings ended")
		lifted <- err
	}()
	<-inLift
	d.later(11 * time.Minute)
	if _, err := d.mustAccess(admin, policy.LegalHoldSet).SetLegalHold(ctx, true, "Proceedings resumed"); err != nil {
		t.Fatal(err)
	}
	if n, of := heldVersions(t, d, v); of == 0 || n != of {
		t.Fatalf("the hold set again held %d of %d versions", n, of)
	}
	if err := blobs.SetLegalHold(ctx, v.Bucket, false); err != nil {
		t.Fatal(err)
	}
	close(release)
	if err := <-lifted; err == nil {
		t.Fatal("the lift whose carrying failed answered as done")
	}
	refuse.Store(nil)
	d.at(day.AddDate(0, 0, 1))
	if _, err := d.svc.RunRetention(ctx); err != nil {
		t.Fatal(err)
	}
	if n, of := heldVersions(t, d, v); n != of {
		t.Errorf("the hold is recorded set, and after the retention run %d of the %d object versions are held in the store", n, of)
	}
}

// firstHoldWaits makes the store's next object hold wait until release is
// closed, then fail; reached is closed once it waits.
func firstHoldWaits(refuse *atomic.Pointer[func(*http.Request) bool]) (reached, release chan struct{}) {
	reached, release = make(chan struct{}), make(chan struct{})
	var first atomic.Bool
	holds := func(r *http.Request) bool {
		if r.Method == http.MethodPut && r.URL.Query().Has("legal-hold") && first.CompareAndSwap(false, true) {
			close(reached)
			<-release
			return true
		}
		return false
	}
	refuse.Store(&holds)
	return reached, release
}
