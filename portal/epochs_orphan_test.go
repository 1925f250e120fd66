package portal_test

import (
	"context"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ofsted-portal/evidence/crypto"
	"github.com/ofsted-portal/evidence/portal"
	"github.com/ofsted-portal/evidence/portal/store"
)

// refuseAuditOf makes the database refuse audit records of action until
// the returned function lifts it.
func refuseAuditOf(t *testing.T, db store.DB, action string) func() {
	t.Helper()
	refuse := []string{`CREATE TRIGGER audit_refused BEFORE INSERT ON audit WHEN NEW.action = '` + action + `' BEGIN SELECT RAISE(ABORT, 'records refused by the test'); END`}
	lift := []string{`DROP TRIGGER audit_refused`}
	if db.Postgres() {
		refuse = []string{
			`CREATE FUNCTION audit_refused() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'records refused by the test'; END $$`,
			`CREATE TRIGGER audit_refused BEFORE INSERT ON audit FOR EACH ROW WHEN (NEW.action = '` + action + `') EXECUTE FUNCTION audit_refused()`,
		}
		lift = []string{`DROP TRIGGER audit_refused ON audit`, `DROP FUNCTION audit_refused()`}
	}
	for _, q := range refuse {
		if _, err := db.Exec(q); err != nil {
			t.Fatal(err)
		}
	}
	return func() {
		t.Helper()
		for _, q := range lift {
			if _, err := db.Exec(q); err != nil {
				t.Fatal(err)
			}
		}
	}
}

// TestOrphanEpochKeyRecordedBeforeItGoes: the janitor destroyed a key no
// epoch names and recorded it after; when the record could not be written
// (the database refusing, the process stopping between the two) the key
// was gone with no record of it, and nothing would ever record it: the
// next round no longer finds the object. The record comes first, and a
// destruction it names that did not finish (the store refusing the
// delete, or a crash) is finished by the next round, recorded once.
func TestOrphanEpochKeyRecordedBeforeItGoes(t *testing.T) {
	ctx := context.Background()
	var refuse atomic.Pointer[func(*http.Request) bool]
	d := refusingStore(t, &refuse)
	st, bl := d.svc.Store(), d.svc.Blobs()
	master, err := crypto.LoadMasterKey(d.Config.MasterKey)
	if err != nil {
		t.Fatal(err)
	}
	text, err := crypto.GenerateEpochKey(time.Now())
	if err != nil {
		t.Fatal(err)
	}
	wrapped, err := master.WrapEpoch(text)
	if err != nil {
		t.Fatal(err)
	}
	id := store.NewID()
	orphan := "epochs/" + id + ".age"
	if err := bl.PutSmall(ctx, d.Config.KeyBucket, orphan, wrapped); err != nil {
		t.Fatal(err)
	}
	stored := func() bool {
		t.Helper()
		vs, err := bl.Versions(ctx, d.Config.KeyBucket, orphan)
		if err != nil {
			t.Fatal(err)
		}
		return len(vs) > 0
	}
	records := func() int {
		t.Helper()
		recs, err := st.AuditRecords(ctx, store.AuditFilter{Action: "key.epoch_orphan_destroyed"})
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for _, r := range recs {
			if r.Object == id {
				n++
			}
		}
		return n
	}
	d.offset.Store(int64(d.Config.KeyEpochRetain + time.Hour))

	lift := refuseAuditOf(t, st.DB(), "key.epoch_orphan_destroyed")
	d.svc.Sweep(ctx)
	if !stored() {
		t.Fatal("the janitor destroyed an epoch key whose destruction it could not record: the key is gone with no record of it")
	}
	lift()

	deletes := func(r *http.Request) bool {
		return strings.Contains(r.URL.Path, d.Config.KeyBucket) && (r.Method == http.MethodDelete || r.URL.Query().Has("delete"))
	}
	refuse.Store(&deletes)
	d.svc.Sweep(ctx)
	if n := records(); n != 1 || !stored() {
		t.Fatalf("with the store refusing the delete: %d records, key stored %v; want the record written first and the key left for the next round", n, stored())
	}
	refuse.Store(nil)
	d.svc.Sweep(ctx)
	if stored() {
		t.Fatal("the next round did not finish the recorded destruction of the epoch key")
	}
	if n := records(); n != 1 {
		t.Fatalf("the destruction is recorded %d times, want once", n)
	}
}

// TestKeyEpochLeaseKept: the key epochs' lease (5 minutes) was not renewed
// either, so a removal of epoch keys slowed by the store could outlive it
// while another instance started its own key epoch work.
func TestKeyEpochLeaseKept(t *testing.T) {
	ctx := context.Background()
	var refuse atomic.Pointer[func(*http.Request) bool]
	d := refusingStore(t, &refuse)
	st := d.svc.Store()
	const lease = 600 * time.Millisecond
	d.svc.SetLeases(lease)
	strayEpochKey(t, d)
	d.offset.Store(int64(d.Config.KeyEpochRetain + time.Hour))
	// The second listing of the epoch keys is the one under the lease.
	stalled, release := make(chan struct{}), make(chan struct{})
	var listings atomic.Int32
	f := func(r *http.Request) bool {
		if strings.Contains(r.URL.Path, d.Config.KeyBucket) && r.URL.Query().Has("versions") && listings.Add(1) == 2 {
			close(stalled)
			select {
			case <-release:
			case <-r.Context().Done():
			}
		}
		return false
	}
	refuse.Store(&f)
	done := make(chan struct{})
	go func() { defer close(done); d.svc.RemoveOrphanEpochKeys(ctx) }()
	<-stalled
	time.Sleep(3 * lease)
	now := time.Now()
	took, err := st.TakeLease(ctx, "key-epoch", "another instance", now, now.Add(time.Minute))
	close(release)
	<-done
	if err != nil {
		t.Fatal(err)
	}
	if took {
		t.Fatal("another instance took the key-epoch lease while key epoch work still ran under it")
	}
}

// TestKeyEpochLeaseIsOneTaskAtATime: the key-epoch lease was held in the
// name of the process, so a second task of the same process (a
// destruction starting an epoch while the janitor retired one, say) took
// it as its own and went on beside the first, and whichever ended first
// gave it up under the other: `portal key rotate` could then list the
// epochs while a new one, wrapped to the old master key, was still being
// started. Each taking is now its own holder.
func TestKeyEpochLeaseIsOneTaskAtATime(t *testing.T) {
	ctx := context.Background()
	var refuse atomic.Pointer[func(*http.Request) bool]
	d := refusingStore(t, &refuse)
	st := d.svc.Store()
	strayEpochKey(t, d)
	d.offset.Store(int64(d.Config.KeyEpochRetain + time.Hour))
	before, err := st.Epochs(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// The second listing of the epoch keys is the one under the lease.
	stalled, release := make(chan struct{}), make(chan struct{})
	var listings atomic.Int32
	f := func(r *http.Request) bool {
		if strings.Contains(r.URL.Path, d.Config.KeyBucket) && r.URL.Query().Has("versions") && listings.Add(1) == 2 {
			close(stalled)
			<-release
		}
		return false
	}
	refuse.Store(&f)
	done := make(chan struct{})
	go func() { defer close(done); d.svc.RemoveOrphanEpochKeys(ctx) }()
	<-stalled
	rctx, cancel := context.WithTimeout(ctx, 1500*time.Millisecond)
	_, _, rotated := d.svc.RotateKeyEpoch(rctx, portal.OperatorActor("test", "key new-epoch"), "test")
	cancel()
	close(release)
	<-done
	after, err := st.Epochs(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if rotated == nil || len(after) != len(before) {
		t.Fatalf("a rotation in the same process started an epoch (%v; %d epochs, were %d) while the janitor's work held the key-epoch lease", rotated, len(after), len(before))
	}
	// Once the first is done, the second goes ahead.
	if _, _, err := d.svc.RotateKeyEpoch(ctx, portal.OperatorActor("test", "key new-epoch"), "test"); err != nil {
		t.Fatalf("a rotation once the lease was given up: %v", err)
	}
}

// strayEpochKey writes an epoch key no epoch names (a start cut off) to
// the key bucket, wrapped to the master key, and returns its object.
func strayEpochKey(t *testing.T, d *domain) string {
	t.Helper()
	master, err := crypto.LoadMasterKey(d.Config.MasterKey)
	if err != nil {
		t.Fatal(err)
	}
	text, err := crypto.GenerateEpochKey(time.Now())
	if err != nil {
		t.Fatal(err)
	}
	wrapped, err := master.WrapEpoch(text)
	if err != nil {
		t.Fatal(err)
	}
	name := "epochs/" + store.NewID() + ".age"
	if err := d.svc.Blobs().PutSmall(context.Background(), d.Config.KeyBucket, name, wrapped); err != nil {
		t.Fatal(err)
	}
	return name
}
