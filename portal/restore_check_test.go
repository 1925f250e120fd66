package portal_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/ofsted-portal/evidence/portal"
)

// TestServeCheckKeepsItsProofWhenABucketCannotBeRead: serve's check of a
// database holding, live, a visit whose destruction is recorded outside
// it (copied back by hand, not with portal restore) refuses to serve
// even when the object store does not answer for another visit's bucket.
// Before, that one error made the check log "cannot be read" and start:
// the destroyed visit's key and names were served, the proof of its
// destruction in hand.
func TestServeCheckKeepsItsProofWhenABucketCannotBeRead(t *testing.T) {
	d := startDomain(t)
	ctx := context.Background()
	v := d.demo()
	admin := d.person("ofsted", "admin@ofsted.example")
	cal := d.svc.Calendar()
	notified := cal.PreviousWorkingDay(d.svc.Today())
	other, err := d.svc.CreateVisit(ctx, admin, portal.NewVisit{Reference: "FV-OTHER", Title: "Other", Provider: "Cafcass",
		NotificationDate: notified.Format(time.DateOnly), FieldworkStart: cal.AddWorkingDays(notified, 5).Format(time.DateOnly)})
	if err != nil {
		t.Fatal(err)
	}
	if err := d.svc.Checkpoint(ctx, true); err != nil {
		t.Fatal(err)
	}
	if err := d.svc.NoteDestructionOutside(ctx, v); err != nil {
		t.Fatal(err)
	}
	if _, err := d.svc.CheckRestored(ctx); !errors.Is(err, portal.ErrBehindAnchors) {
		t.Fatalf("serve's check of a live visit destroyed outside the database: %v, want %v", err, portal.ErrBehindAnchors)
	}
	// The object store cannot answer for the other visit's bucket (here:
	// a name it refuses; in production a 503, a timeout).
	if _, err := d.svc.Store().DB().Exec(`UPDATE visits SET bucket = 'NOT_A_BUCKET' WHERE id = ?`, other.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := d.svc.CheckRestored(ctx); !errors.Is(err, portal.ErrBehindAnchors) {
		t.Errorf("serve's check of a live visit destroyed outside the database, another visit's bucket unreadable: %v, want %v", err, portal.ErrBehindAnchors)
	}
}

// TestServeRefusesWhenTheAnchorsCannotBeRead: serve's check of the
// database against what is recorded outside it refuses to start when the
// anchor store cannot be read, rather than start unchecked. Before, it
// logged "starting without the check" and served: a database put back by
// hand from before a destruction served the destroyed visit's key and
// names again whenever the anchor store happened not to answer.
func TestServeRefusesWhenTheAnchorsCannotBeRead(t *testing.T) {
	d, _, refuse := refusingDemo(t)
	ctx := context.Background()
	if err := d.svc.Checkpoint(ctx, true); err != nil {
		t.Fatal(err)
	}
	if _, err := d.svc.CheckRestored(ctx); err != nil {
		t.Fatalf("serve's check, everything readable: %v", err)
	}
	anchors := func(r *http.Request) bool { return strings.Contains(r.URL.Path, d.Config.AnchorBucket) }
	refuse.Store(&anchors)
	if _, err := d.svc.CheckRestored(ctx); !errors.Is(err, portal.ErrRestoreUnchecked) {
		t.Errorf("serve's check, the anchor store refusing: %v, want %v", err, portal.ErrRestoreUnchecked)
	}
}

// TestRestoreIsFinishedByOneProcessAtATime: a restore left pending is
// finished by one process at a time. Replicas started together each find
// it pending; before, each went on at once: both destroyed the same visits
// again side by side and signed a certificate each, and the one that lost
// the race failed its start. Now the others wait for the one finishing it
// (the restore's lease), then find it finished; one that waits too long
// says so and is started again.
func TestRestoreIsFinishedByOneProcessAtATime(t *testing.T) {
	d := startDomain(t)
	ctx := context.Background()
	st := d.svc.Store()
	if err := portal.BeginRestore(ctx, st, "0123456789abcdef0123456789abcdef", time.Now().Add(-time.Hour)); err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	if ok, err := st.TakeLease(ctx, "restore", "another replica", now, now.Add(time.Minute)); !ok || err != nil {
		t.Fatalf("take the restore's lease: %v %v", ok, err)
	}
	d.svc.SetRestoreWait(time.Second)
	if _, err := d.svc.CheckRestored(ctx); !errors.Is(err, portal.ErrRestoreBusy) {
		t.Errorf("serve's check of a restore another process is finishing: %v, want %v", err, portal.ErrRestoreBusy)
	}
	// Let go: this process takes it on (and here refuses it: no intent
	// outside the database says an operator began it).
	if err := st.ReleaseLease(ctx, "restore", "another replica"); err != nil {
		t.Fatal(err)
	}
	if _, err := d.svc.CheckRestored(ctx); !errors.Is(err, portal.ErrNoRestoreIntent) {
		t.Errorf("serve's check of a restore once the other process let it go: %v, want %v", err, portal.ErrNoRestoreIntent)
	}
}

// TestServeRefusesAFileItsPurgeNoteSaysIsGone: serve's check of a
// database holding a file whose purge is recorded outside it (a copy put
// back by hand, or a point-in-time recovery, from before the purge, with
// the trail cut no further than its last anchor) refuses to serve, as it
// does a visit destroyed outside: the file, about another child, would be
// listed again. Before, it checked destructions only, and served.
func TestServeRefusesAFileItsPurgeNoteSaysIsGone(t *testing.T) {
	d, v, _, _, f := oneFileUploaded(t)
	ctx := context.Background()
	if err := d.svc.Checkpoint(ctx, true); err != nil {
		t.Fatal(err)
	}
	if _, err := d.svc.CheckRestored(ctx); err != nil {
		t.Fatalf("serve's check, nothing purged: %v", err)
	}
	row, err := d.svc.Store().File(ctx, v.ID, f.ID)
	if err != nil {
		t.Fatal(err)
	}
	if err := d.svc.NotePurgeOutside(ctx, row); err != nil {
		t.Fatal(err)
	}
	if _, err := d.svc.CheckRestored(ctx); !errors.Is(err, portal.ErrBehindAnchors) || !strings.Contains(err.Error(), "--confirm taken-in") {
		t.Errorf("serve's check of a file purged outside the database and here: %v, want %v naming the way out", err, portal.ErrBehindAnchors)
	}
}

// TestUnverifiedPurgeNoteAndAFailingRead: a purge note outside the
// database that does not verify stops serve's check when its file is
// here, and when whether it is here cannot be read (the database failing
// or busy). Before, a failed read was taken for the file not being here,
// the note was passed over, and a restored database holding a purged file
// (about another child) was served.
func TestUnverifiedPurgeNoteAndAFailingRead(t *testing.T) {
	d, v, _, _, f := oneFileUploaded(t)
	ctx := context.Background()
	if err := d.svc.PutAnchorRecord(ctx, "purges/"+v.ID+"/"+f.ID+".json", []byte(`{"signed":"by no one"}`)); err != nil {
		t.Fatal(err)
	}
	if err := d.svc.PurgesHereError(ctx); !errors.Is(err, portal.ErrUnverified) {
		t.Fatalf("an unverified purge note of a file here: %v, want %v", err, portal.ErrUnverified)
	}
	// The files' table out of reach: every read of it fails.
	db := d.svc.Store().DB()
	if _, err := db.Exec(`ALTER TABLE files RENAME TO files_out_of_reach`); err != nil {
		t.Fatal(err)
	}
	defer db.Exec(`ALTER TABLE files_out_of_reach RENAME TO files`)
	if err := d.svc.PurgesHereError(ctx); err == nil {
		t.Errorf("an unverified purge note whose file could not be looked for: passed over, want the check stopped")
	}
}
