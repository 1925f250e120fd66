package portal_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"net/http"
	"net/http/httputil"
	"os"
	"regexp"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"

	"github.com/ofsted-portal/evidence/deploy/devstack"
	"github.com/ofsted-portal/evidence/deploy/s3test"
	"github.com/ofsted-portal/evidence/policy"
	"github.com/ofsted-portal/evidence/portal"
	"github.com/ofsted-portal/evidence/portal/evidence"
	"github.com/ofsted-portal/evidence/portal/retention"
	"github.com/ofsted-portal/evidence/portal/store"
)

// failingReader yields n bytes of x, then fails: a client that stopped;
// or, with die, kills its process (a crash: nothing runs after it).
type failingReader struct {
	n   int
	die bool
}

func (r *failingReader) Read(p []byte) (int, error) {
	if r.n <= 0 && r.die {
		syscall.Kill(os.Getpid(), syscall.SIGKILL)
		time.Sleep(time.Minute)
	}
	if r.n <= 0 {
		return 0, errors.New("client went away")
	}
	k := min(len(p), r.n)
	for i := range p[:k] {
		p[i] = 'x'
	}
	r.n -= k
	return k, nil
}

// TestStorageOnEveryServer runs what the portal asks of an S3 server (make
// test: MinIO and VersityGW; make test-ceph: Ceph RGW; and any server in
// PORTAL_TEST_S3_*): multi-segment upload and download, deletion of every
// version, a failed upload cleaned up, legal holds, the store's features
// reported, and a destruction that empties the bucket whatever versions
// and delete markers it holds, with exact counts on the certificate.
func TestStorageOnEveryServer(t *testing.T) {
	s3test.Each(t, func(t *testing.T, srv *s3test.Server) {
		ctx := context.Background()
		d := startDomainOn(t, &devstack.S3Endpoint{Endpoint: srv.Endpoint, AccessKey: srv.AccessKey, SecretKey: srv.SecretKey, Region: srv.Region, Secure: srv.Secure},
			map[string]string{"PORTAL_SEGMENT_SIZE": "1MiB", "PORTAL_DESTRUCTION_NOTICE": "0d", "PORTAL_BUCKET_PREFIX": "st-" + srv.Name + "-"})
		svc := d.svc
		mc, err := srv.Client()
		if err != nil {
			t.Fatal(err)
		}
		v := d.demo()

		// What the store offers is found and what it lacks reported.
		f, ferr := svc.Blobs().SelfTest(ctx, "st-"+srv.Name+"-")
		if ferr != nil {
			t.Fatalf("self-test: %v", ferr)
		}
		r := svc.Ready(ctx)
		if !r.Ready {
			t.Fatalf("not ready: %+v", r)
		}
		time.Sleep(100 * time.Millisecond)
		r = svc.Ready(ctx)
		if _, reported := r.Degraded["storage:lifecycle"]; reported != !f.Lifecycle {
			t.Errorf("lifecycle %v, degraded %v", f.Lifecycle, r.Degraded)
		}
		if _, reported := r.Degraded["storage:object_lock"]; reported != !f.ObjectLock {
			t.Errorf("object lock %v, degraded %v", f.ObjectLock, r.Degraded)
		}
		t.Logf("%s: object lock %v, lifecycle %v; degraded: %v", srv.Name, f.ObjectLock, f.Lifecycle, r.Degraded)

		uploader := d.person("cafcass", "uploader@cafcass.example")
		lead := d.person("ofsted", "lead@ofsted.example")
		up := d.mustAccess(uploader, policy.FileUpload)
		sizes := map[string]int{"1.01 empty.txt": 0, "1.02 small.pdf": 100_000, "1.03 three segments.zip": 2<<20 + 12345}
		ids := map[string]string{}
		for name, n := range sizes {
			body := bytes.Repeat([]byte(name[:4]), n/4+1)[:n]
			fv, err := up.Upload(ctx, portal.NewFile{Name: name, Size: int64(n)}, bytes.NewReader(body))
			if err != nil {
				t.Fatalf("upload %s: %v", name, err)
			}
			sum := sha256.Sum256(body)
			if fv.SHA256 != hex.EncodeToString(sum[:]) {
				t.Fatalf("%s: sha %s", name, fv.SHA256)
			}
			ids[name] = fv.ID
			acc, err := d.access(lead, policy.FileDownload, fv.ID)
			if err != nil {
				t.Fatal(err)
			}
			dl, err := acc.OpenDownload(ctx, 0, int64(n), false)
			if err != nil {
				t.Fatalf("download %s: %v", name, err)
			}
			got, err := io.ReadAll(dl)
			dl.Close()
			if err != nil || !bytes.Equal(got, body) {
				t.Fatalf("download %s: %d bytes, %v", name, len(got), err)
			}
		}

		// A failed upload leaves nothing behind (its pending record goes once
		// a second look finds nothing).
		if _, err := up.Upload(ctx, portal.NewFile{Name: "1.04 cut.bin", Size: 3 << 20}, &failingReader{n: 1500_000}); err == nil {
			t.Fatal("a cut upload succeeded")
		}
		waitFor(t, 10*time.Second, "the failed upload's pending record to go", func() bool {
			var n int
			svc.Store().DB().QueryRow(`SELECT COUNT(*) FROM pending_uploads WHERE visit_id = ?`, v.ID).Scan(&n)
			return n == 0
		})

		// Deleting a file no one of the team has downloaded removes every
		// version of every segment (the files above were downloaded by the
		// lead: deleting them would withdraw them).
		body := bytes.Repeat([]byte("del "), (2<<20+12345)/4+1)[:2<<20+12345]
		fv, err := up.Upload(ctx, portal.NewFile{Name: "1.05 to delete.zip", Size: int64(len(body))}, bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		del, err := d.access(uploader, policy.FileDelete, fv.ID)
		if err != nil {
			t.Fatal(err)
		}
		if withdrawn, err := del.DeleteFile(ctx); err != nil || withdrawn {
			t.Fatalf("delete: withdrawn %v, %v", withdrawn, err)
		}
		waitFor(t, 10*time.Second, "the deleted file's objects to go", func() bool {
			vs, err := svc.Blobs().Versions(ctx, v.Bucket, fv.ID+"/")
			return err == nil && len(vs) == 0
		})

		// Legal hold on and off, with objects in the bucket.
		admin := d.person("ofsted", "admin@ofsted.example")
		hold := d.mustAccess(admin, policy.LegalHoldSet)
		if _, err := hold.SetLegalHold(ctx, true, "Judicial review"); err != nil {
			t.Fatalf("legal hold: %v", err)
		}
		if _, err := d.mustAccess(admin, policy.LegalHoldSet).SetLegalHold(ctx, false, "Review ended"); err != nil {
			t.Fatalf("lift legal hold: %v", err)
		}

		// Versions and delete markers, as a store's lifecycle leaves them:
		// the destruction empties the bucket all the same.
		small := ids["1.02 small.pdf"] + "/0"
		if err := mc.RemoveObject(ctx, v.Bucket, small, minio.RemoveObjectOptions{}); err != nil { // a delete marker where versioned
			t.Fatal(err)
		}
		if _, err := mc.PutObject(ctx, v.Bucket, "stray/0", strings.NewReader("x"), 1, minio.PutObjectOptions{DisableMultipart: true}); err != nil {
			t.Fatal(err)
		}
		before, err := svc.Blobs().Versions(ctx, v.Bucket, "")
		if err != nil {
			t.Fatal(err)
		}
		d.at(d.publish(lead, v).AddDate(0, 0, 40))
		if ids, err := svc.RunRetention(ctx); err != nil || len(ids) != 1 {
			t.Fatalf("destruction: %v %v", ids, err)
		}
		if ok, err := mc.BucketExists(ctx, v.Bucket); err != nil || ok {
			t.Fatalf("bucket left: %v %v", ok, err)
		}
		key, err := retention.LoadSigningKey(d.Config.SigningKey)
		if err != nil {
			t.Fatal(err)
		}
		dest, _ := svc.Store().GetDestruction(ctx, v.ID)
		c, err := retention.Verify(dest.Certificate, key.Public().(ed25519.PublicKey))
		if err != nil {
			t.Fatal(err)
		}
		present := map[string]bool{}
		for _, o := range before {
			present[o.Key] = present[o.Key] || !o.DeleteMarker
		}
		gone := 0
		for _, k := range []string{ids["1.01 empty.txt"] + "/0", small} {
			if !present[k] {
				gone++
			}
		}
		// Segments of the files left: 1.01 (1), 1.02 (1), 1.03 (3).
		if c.ObjectsDeleted != len(before) || c.SegmentsExpected != 5 || c.SegmentsGoneBefore != gone {
			t.Fatalf("certificate: %d object versions (there were %d), %d segments expected, %d gone before (want %d)",
				c.ObjectsDeleted, len(before), c.SegmentsExpected, c.SegmentsGoneBefore, gone)
		}

		// The anchor store: a delete marker over each object (where the
		// anchors are in a bucket under object lock) hides none of them.
		if err := svc.Checkpoint(ctx, true); err != nil {
			t.Fatal(err)
		}
		anchors, err := portal.FindAnchors(ctx, d.Config)
		if err != nil || anchors == nil {
			t.Fatalf("anchors: %v %v", anchors, err)
		}
		if strings.HasPrefix(anchors.Where(), "bucket ") {
			for obj := range mc.ListObjects(ctx, d.Config.AnchorBucket, minio.ListObjectsOptions{Recursive: true}) {
				if obj.Err != nil {
					t.Fatal(obj.Err)
				}
				if err := mc.RemoveObject(ctx, d.Config.AnchorBucket, obj.Key, minio.RemoveObjectOptions{}); err != nil {
					t.Fatalf("a delete marker over %s: %v", obj.Key, err)
				}
			}
		}
		cps, err := anchors.List(ctx)
		last, found, lerr := anchors.Last(ctx)
		head, _, _ := svc.Store().AuditHead(ctx)
		if err != nil || lerr != nil || !found || len(cps) == 0 || last != cps[len(cps)-1] || last.Seq != head {
			t.Errorf("anchors (%s) under delete markers: %d listed (%v), the last %+v %v (%v), head %d", anchors.Where(), len(cps), err, last, found, lerr, head)
		}
		notes, err := anchors.Records(ctx, "destructions/"+v.ID+"/")
		if err != nil || len(notes[retention.TombstoneName(v.ID)]) == 0 || len(notes[retention.CertificateName(v.ID)]) == 0 {
			t.Errorf("the destruction's records (%s) under delete markers: %d names (%v)", anchors.Where(), len(notes), err)
		}
		t.Logf("%s: %d anchors in %s, the last at record %d", srv.Name, len(cps), anchors.Where(), last.Seq)
	})
}

// waitFor polls cond until it holds or the time runs out.
func waitFor(t *testing.T, limit time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("waited %s for %s", limit, what)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// refusingStore starts the domain on a MinIO of its own, behind a proxy
// that answers 403 AccessDenied to the requests refuse picks (nil: none;
// it may change at any time), as a store whose policy refuses them.
func refusingStore(t *testing.T, refuse *atomic.Pointer[func(*http.Request) bool]) *domain {
	t.Helper()
	s3, _ := minioBehind(t, "refusing", func(rp *httputil.ReverseProxy) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if f := refuse.Load(); f != nil && (*f)(r) {
				w.WriteHeader(http.StatusForbidden)
				w.Write([]byte(`<?xml version="1.0" encoding="UTF-8"?><Error><Code>AccessDenied</Code><Message>Access Denied.</Message></Error>`))
				return
			}
			rp.ServeHTTP(w, r)
		})
	})
	return startDomainOn(t, s3, nil)
}

// refusingDemo is the demo visit on a refusingStore.
func refusingDemo(t *testing.T) (*domain, store.Visit, *atomic.Pointer[func(*http.Request) bool]) {
	t.Helper()
	var refuse atomic.Pointer[func(*http.Request) bool]
	d := refusingStore(t, &refuse)
	return d, d.demo(), &refuse
}

// TestHoldRemovesTheExpiryBackstop: once a visit is published its bucket
// carries an expiry rule, 14 days after the destruction date, should the
// portal be down then. A legal hold must take it away: left in place, the
// store would remove the held evidence on that date. When the store
// refuses to change the rule, the hold is recorded (the portal destroys
// nothing under it) but not reported as complete; set again once the
// store answers, it takes the rule away.
func TestHoldRemovesTheExpiryBackstop(t *testing.T) {
	ctx := context.Background()
	d, v, refuse := refusingDemo(t)
	lead := d.person("ofsted", "lead@ofsted.example")
	admin := d.person("ofsted", "admin@ofsted.example")
	d.publish(lead, v)
	if exp, err := d.svc.Blobs().Expiry(ctx, v.Bucket); err != nil || exp.IsZero() {
		t.Fatalf("no backstop after publication: %v %v", exp, err)
	}

	holdRefusedThenSet(t, d, admin, refuse, func(r *http.Request) bool { return r.URL.Query().Has("lifecycle") && r.Method != http.MethodGet },
		"Set the hold again")
	if exp, err := d.svc.Blobs().Expiry(ctx, v.Bucket); err != nil || !exp.IsZero() {
		t.Fatalf("held, and the store still expires the evidence on %v (%v)", exp, err)
	}
}

// TestObjectHoldsNotSkippedWhenLockUnknown: the S3 legal holds on a held
// visit's objects are skipped only where the store has no object lock.
// When the store refuses to say (its lock configuration cannot be read),
// that is a failure of the hold, reported, never "no lock" and success.
func TestObjectHoldsNotSkippedWhenLockUnknown(t *testing.T) {
	var refuse atomic.Pointer[func(*http.Request) bool]
	d := refusingStore(t, &refuse)
	admin := d.person("ofsted", "admin@ofsted.example")
	holdRefusedThenSet(t, d, admin, &refuse, func(r *http.Request) bool { return r.URL.Query().Has("object-lock") },
		"did not change its own holds")
}

// holdRefusedThenSet sets a legal hold on the demo visit while the store
// refuses the requests pick picks: the hold must be recorded, and the
// request answer 503 with want in its message. Then, with the store
// answering, the hold is set again and must succeed.
func holdRefusedThenSet(t *testing.T, d *domain, admin portal.Actor, refuse *atomic.Pointer[func(*http.Request) bool], pick func(*http.Request) bool, want string) {
	t.Helper()
	ctx := context.Background()
	refuse.Store(&pick)
	_, err := d.mustAccess(admin, policy.LegalHoldSet).SetLegalHold(ctx, true, "Judicial review")
	if e, ok := portal.AsError(err); !ok || e.Kind != portal.KindUnavailable || !strings.Contains(e.Msg, want) {
		t.Fatalf("hold while the store refuses: %v", err)
	}
	if h, err := d.svc.Store().GetLegalHold(ctx, d.demo().ID); err != nil || !h.On {
		t.Fatalf("the hold itself was not recorded: %+v %v", h, err)
	}
	refuse.Store(nil)
	if _, err := d.mustAccess(admin, policy.LegalHoldSet).SetLegalHold(ctx, true, "Judicial review"); err != nil {
		t.Fatal(err)
	}
}

// TestRetentionRunFinishesAnInterruptedHold: a legal hold is recorded
// first and then carried to the object store (its expiry rule taken away,
// its objects held). When that second part does not happen (the store
// refuses, or the process stops between the two), the retention run
// finishes it once the act is older than a grace period (so that it never
// races the request still carrying it): the held evidence is not left to
// the store's expiry date, and a lifted hold does not leave the objects
// held, which would fail their destruction on its date.
func TestRetentionRunFinishesAnInterruptedHold(t *testing.T) {
	ctx := context.Background()
	var refuse atomic.Pointer[func(*http.Request) bool]
	d, v, _, _, _ := oneFileUploadedOn(t, refusingStore(t, &refuse))
	lead := d.person("ofsted", "lead@ofsted.example")
	admin := d.person("ofsted", "admin@ofsted.example")
	day := d.publish(lead, v)
	blobs := d.svc.Blobs()
	held := func() (n, of int) { t.Helper(); return heldVersions(t, d, v) }
	expiry := func() time.Time {
		t.Helper()
		exp, err := blobs.Expiry(ctx, v.Bucket)
		if err != nil {
			t.Fatal(err)
		}
		return exp
	}
	storeChanges := func(r *http.Request) bool {
		return r.Method != http.MethodGet && (r.URL.Query().Has("lifecycle") || r.URL.Query().Has("legal-hold"))
	}
	act := func(on bool, want string) {
		t.Helper()
		refuse.Store(&storeChanges)
		_, err := d.mustAccess(admin, policy.LegalHoldSet).SetLegalHold(ctx, on, "Judicial review")
		if e, ok := portal.AsError(err); !ok || e.Kind != portal.KindUnavailable || !strings.Contains(e.Msg, want) {
			t.Fatalf("hold %v while the store refuses: %v", on, err)
		}
		refuse.Store(nil)
	}
	run := func() {
		t.Helper()
		if _, err := d.svc.RunRetention(ctx); err != nil {
			t.Fatal(err)
		}
	}

	// An act recorded whose request is still carrying it (not yet
	// answered): the run leaves it to that request.
	if _, err := d.svc.Store().SetLegalHold(ctx, v.ID, store.LegalHold{On: true, ReasonSealed: []byte("sealed"), At: time.Now().Add(time.Duration(d.offset.Load())), By: admin.UserID}); err != nil {
		t.Fatal(err)
	}
	run()
	if expiry().IsZero() {
		t.Fatal("the run took the store's expiry away as the request was still carrying the hold")
	}
	// Refused beside it, the set again waits for it too
	// (TestRefusedHoldBesideAnActUnderWayWaits); once it has settled,
	// the run carries the hold.
	act(true, "Set the hold again")
	run()
	if expiry().IsZero() {
		t.Fatal("the run took the store's expiry away as an earlier request may still have been carrying the hold")
	}
	day = day.AddDate(0, 0, 1)
	d.at(day)
	run()
	if exp := expiry(); !exp.IsZero() {
		t.Errorf("held, and after the retention run the store still expires the evidence on %s", exp.Format(time.DateOnly))
	}
	if n, of := held(); of == 0 || n != of {
		t.Errorf("held, and after the retention run %d of the %d object versions are held in the store", n, of)
	}

	act(false, "did not change its own holds")
	if n, of := held(); n != of {
		t.Fatalf("the refused lift freed %d of the %d object versions", of-n, of)
	}
	day = day.AddDate(0, 0, 1)
	d.at(day)
	run()
	if n, of := held(); n != 0 {
		t.Errorf("lifted, and after the retention run %d of the %d object versions are still held in the store", n, of)
	}
	if expiry().IsZero() {
		t.Error("lifted, and after the retention run the store has no expiry backstop")
	}
	// Each act finished is in the trail, by the portal, once.
	run()
	recs, err := d.svc.Store().AuditRecords(ctx, store.AuditFilter{VisitID: v.ID, Action: "legal_hold.store_applied"})
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 2 || recs[0].ActorSubject != "portal" || !strings.Contains(recs[0].Detail, `"on":true`) || !strings.Contains(recs[1].Detail, `"on":false`) {
		t.Errorf("the trail of the finished acts: %+v", recs)
	}
}

// TestRetentionRunBringsTheExpiryRule: once a visit is published its
// bucket carries the store's own expiry rule, 14 days after the
// destruction date, should the portal be down then; lifting a hold puts
// it back. When the store refuses the rule then (or the process stops
// before it is set), the act still stands, and the retention run sets the
// rule once the act is older than the settling time: the evidence is
// never left without its backstop.
func TestRetentionRunBringsTheExpiryRule(t *testing.T) {
	ctx := context.Background()
	d, v, refuse := refusingDemo(t)
	lead := d.person("ofsted", "lead@ofsted.example")
	admin := d.person("ofsted", "admin@ofsted.example")
	rules := func(r *http.Request) bool { return r.URL.Query().Has("lifecycle") && r.Method != http.MethodGet }
	backstop := func() string { t.Helper(); return backstopOf(t, d, v) }
	// refused does act while the store refuses the rule: the act stands,
	// with no rule.
	refused := func(what string, act func()) {
		t.Helper()
		refuse.Store(&rules)
		act()
		refuse.Store(nil)
		if got := backstop(); got != "none" {
			t.Fatalf("%s: the store refused the rule, and it expires the evidence 14 days after %s", what, got)
		}
	}
	var day time.Time
	refused("published", func() { day = d.publish(lead, v) })
	destroyOn := d.mustAccess(lead, policy.VisitView).View(ctx).DestroyOn
	if destroyOn == nil {
		t.Fatal("published, and no destruction date")
	}
	// run runs the retention days later, and wants the rule set.
	run := func(what string, days int) {
		t.Helper()
		day = day.AddDate(0, 0, days)
		d.at(day)
		if _, err := d.svc.RunRetention(ctx); err != nil {
			t.Fatal(err)
		}
		if got, want := backstop(), *destroyOn; days > 0 && got != want {
			t.Errorf("%s, and after the retention run the store's rule expires the evidence 14 days after %s, want after %s", what, got, want)
		} else if days == 0 && got != "none" {
			t.Fatalf("%s: the run set the rule (%s) as the request was still carrying it", what, got)
		}
	}
	run("published", 0)
	run("published", 1)

	if _, err := d.mustAccess(admin, policy.LegalHoldSet).SetLegalHold(ctx, true, "Judicial review"); err != nil {
		t.Fatal(err)
	}
	refused("lifted", func() {
		if _, err := d.mustAccess(admin, policy.LegalHoldSet).SetLegalHold(ctx, false, "Review ended"); err != nil {
			t.Fatalf("a lift whose rule the store refused: %v", err)
		}
	})
	run("lifted", 1)
}

// TestStoreRuleNeverExpiresWhatThePortalKeeps: the store's own expiry
// rule is a backstop, 14 days after the portal would destroy the visit
// itself; it must never come due while the portal still keeps the
// evidence. An act dated after the destruction date (a hold lifted months
// later, a publication recorded late with its real date) once set the rule
// 14 days after that date, already past, and the store expired everything
// at once, before the notice the portal gives had run. The rule is set no
// sooner than 14 days after the notice an act given today would run out,
// and the retention run's reading back takes such a later rule as right.
func TestStoreRuleNeverExpiresWhatThePortalKeeps(t *testing.T) {
	ctx := context.Background()
	// kept wants the store's rule on v's bucket 14 days after the portal
	// could destroy the visit at the soonest, once the run gave notice, and
	// the rule to stay as it is over the runs after.
	kept := func(t *testing.T, d *domain, v store.Visit, admin portal.Actor, day time.Time, what string) {
		t.Helper()
		if _, err := d.svc.RunRetention(ctx); err != nil {
			t.Fatal(err)
		}
		view := d.mustAccess(admin, policy.VisitView).View(ctx)
		if view.State == portal.StateDestroyed || view.Destruction == nil {
			t.Fatalf("%s: state %s, destruction %+v: want notice given and the visit kept", what, view.State, view.Destruction)
		}
		exp, err := d.svc.Blobs().Expiry(ctx, v.Bucket)
		if err != nil {
			t.Fatal(err)
		}
		soonest := view.Destruction.NotBefore.AddDate(0, 0, 14)
		if exp.IsZero() || exp.Before(soonest) {
			t.Fatalf("%s on %s: the store's rule expires the evidence on %s, before %s (14 days after the portal may destroy it, %s)",
				what, day.Format(time.DateOnly), exp.Format(time.DateOnly), soonest.Format(time.DateOnly), view.Destruction.NotBefore.Format(time.DateOnly))
		}
		for range 2 {
			day = day.Add(12 * time.Hour)
			d.at(day)
			if _, err := d.svc.RunRetention(ctx); err != nil {
				t.Fatal(err)
			}
		}
		if again, err := d.svc.Blobs().Expiry(ctx, v.Bucket); err != nil || !again.Equal(exp) {
			t.Errorf("%s: the runs after moved the store's rule from %s to %s (%v)", what, exp.Format(time.DateOnly), again.Format(time.DateOnly), err)
		}
	}

	t.Run("hold lifted months after the destruction date", func(t *testing.T) {
		d := startDomain(t)
		v := d.demo()
		lead := d.person("ofsted", "lead@ofsted.example")
		admin := d.person("ofsted", "admin@ofsted.example")
		d.publish(lead, v)
		if _, err := d.mustAccess(admin, policy.LegalHoldSet).SetLegalHold(ctx, true, "Judicial review"); err != nil {
			t.Fatal(err)
		}
		destroyOn, _ := time.Parse(time.DateOnly, *d.mustAccess(admin, policy.VisitView).View(ctx).DestroyOn)
		day := destroyOn.AddDate(0, 3, 0)
		d.at(day)
		if _, err := d.mustAccess(admin, policy.LegalHoldSet).SetLegalHold(ctx, false, "Review ended"); err != nil {
			t.Fatal(err)
		}
		kept(t, d, v, admin, day, "lifted")
	})

	t.Run("publication recorded late", func(t *testing.T) {
		d := startDomain(t)
		v := d.demo()
		lead := d.person("ofsted", "lead@ofsted.example")
		admin := d.person("ofsted", "admin@ofsted.example")
		tl, err := timelineOf(d, v)
		if err != nil {
			t.Fatal(err)
		}
		day := tl.FieldworkEnd.AddDate(0, 3, 0)
		d.at(day)
		for _, ev := range d.letterDays(tl.FieldworkEnd) {
			if _, err := d.mustAccess(lead, policy.VisitRecordEvent).RecordEvent(ctx, ev.event, ev.on.Format(time.DateOnly)); err != nil {
				t.Fatal(err)
			}
		}
		kept(t, d, v, admin, day, "published late")
	})
}

// TestVerifyChecksEmptyFilesAndItsVisit: an empty file still has its one
// stored segment, and `portal evidence verify` reads it: a substituted or
// missing object is reported, and so is a download of it, not "intact"
// with nothing read. A reference that names no visit is an error, not
// "intact: 0 files".
func TestVerifyChecksEmptyFilesAndItsVisit(t *testing.T) {
	ctx := context.Background()
	d := startDomain(t)
	v := d.demo()
	uploader := d.person("cafcass", "uploader@cafcass.example")
	up := d.mustAccess(uploader, policy.FileUpload)
	empty, err := up.Upload(ctx, portal.NewFile{Name: "1.01 Empty.pdf", Size: 0}, strings.NewReader(""))
	if err != nil {
		t.Fatal(err)
	}
	other, err := up.Upload(ctx, portal.NewFile{Name: "1.02 Also empty.pdf", Size: 0}, strings.NewReader(""))
	if err != nil {
		t.Fatal(err)
	}
	verify := func(ref string) (map[string]error, error) {
		t.Helper()
		got := map[string]error{}
		_, err := d.svc.VerifyEvidence(ctx, portal.OperatorActor("test", "evidence verify"), ref, func(c portal.FileCheck) { got[c.FileID] = c.Err })
		return got, err
	}
	if got, err := verify(v.Reference); err != nil || len(got) != 2 || got[empty.ID] != nil || got[other.ID] != nil {
		t.Fatalf("two whole empty files: %v (%v)", got, err)
	}
	if _, err := verify("FV-NO-SUCH-VISIT"); err == nil {
		t.Error("verify of a reference that names no visit: no error")
	}
	mc := d.svc.Blobs().Client()
	if _, err := mc.CopyObject(ctx, minio.CopyDestOptions{Bucket: v.Bucket, Object: empty.ID + "/0"}, minio.CopySrcOptions{Bucket: v.Bucket, Object: other.ID + "/0"}); err != nil {
		t.Fatal(err)
	}
	if got, err := verify(v.Reference); err != nil || got[empty.ID] == nil {
		t.Errorf("an empty file whose object is another's: verify says %v (%v)", got[empty.ID], err)
	}
	lead := d.person("ofsted", "lead@ofsted.example")
	acc, err := d.access(lead, policy.FileDownload, empty.ID)
	if err != nil {
		t.Fatal(err)
	}
	if dl, err := acc.OpenDownload(ctx, 0, 0, false); err == nil {
		dl.Close()
		t.Error("an empty file whose object is another's downloads")
	}
	if err := mc.RemoveObject(ctx, v.Bucket, other.ID+"/0", minio.RemoveObjectOptions{}); err != nil {
		t.Fatal(err)
	}
	if got, err := verify(v.Reference); err != nil || got[other.ID] == nil {
		t.Errorf("an empty file whose object is gone: verify says %v (%v)", got[other.ID], err)
	}
}

// TestVerifyBackfillsSegmentMACs: `portal evidence verify` records the
// segment MACs of each file stored before they were recorded whose whole
// content matches its SHA-256, and of no other (a file whose object is
// another's keeps none, and is reported); once recorded, a segment copied
// from another file is found per segment, as in a range of the file.
func TestVerifyBackfillsSegmentMACs(t *testing.T) {
	ctx := context.Background()
	d := startDomain(t)
	v := d.demo()
	up := d.mustAccess(d.person("cafcass", "uploader@cafcass.example"), policy.FileUpload)
	upload := func(name, content string) portal.FileView {
		t.Helper()
		f, err := up.Upload(ctx, portal.NewFile{Name: name, Size: int64(len(content))}, strings.NewReader(content))
		if err != nil {
			t.Fatal(err)
		}
		return f
	}
	whole := upload("1.01 Whole.pdf", strings.Repeat("w", 10_000))
	swapped := upload("1.02 Swapped.pdf", strings.Repeat("s", 10_000))
	other := upload("1.03 Other.pdf", strings.Repeat("o", 10_000))
	db := d.svc.Store().DB()
	macs := func(id string) []byte {
		t.Helper()
		var m []byte
		if err := db.QueryRow(`SELECT segment_macs FROM files WHERE id = ?`, id).Scan(&m); err != nil {
			t.Fatal(err)
		}
		return m
	}
	want := macs(whole.ID)
	if _, err := db.Exec(`UPDATE files SET segment_macs = NULL WHERE id IN (?, ?)`, whole.ID, swapped.ID); err != nil {
		t.Fatal(err)
	}
	mc := d.svc.Blobs().Client()
	substitute := func(dst, src string) {
		t.Helper()
		if _, err := mc.CopyObject(ctx, minio.CopyDestOptions{Bucket: v.Bucket, Object: dst + "/0"}, minio.CopySrcOptions{Bucket: v.Bucket, Object: src + "/0"}); err != nil {
			t.Fatal(err)
		}
	}
	substitute(swapped.ID, other.ID)

	checks := map[string]portal.FileCheck{}
	if _, err := d.svc.VerifyEvidence(ctx, portal.OperatorActor("test", "evidence verify"), v.Reference, func(c portal.FileCheck) { checks[c.FileID] = c }); err != nil {
		t.Fatal(err)
	}
	if c := checks[swapped.ID]; c.Err == nil {
		t.Error("a file without MACs whose object is another's: verify says intact")
	}
	if got := macs(whole.ID); !bytes.Equal(got, want) {
		t.Fatalf("verify of an intact file without MACs recorded %x, want the MACs of upload %x", got, want)
	}
	for id, c := range checks {
		if c.Backfilled != (id == whole.ID) {
			t.Errorf("verify says file %s backfilled: %v", id, c.Backfilled)
		}
	}
	// A second run has nothing left to fill.
	if _, err := d.svc.VerifyEvidence(ctx, portal.OperatorActor("test", "evidence verify"), v.Reference, func(c portal.FileCheck) {
		if c.Backfilled {
			t.Errorf("a second verify backfilled file %s again", c.FileID)
		}
	}); err != nil {
		t.Fatal(err)
	}
	if got := macs(swapped.ID); got != nil {
		t.Errorf("verify recorded MACs %x for a file whose object is another's", got)
	}

	// From now on a substituted segment is found per segment.
	substitute(whole.ID, other.ID)
	acc, err := d.access(d.person("ofsted", "lead@ofsted.example"), policy.FileDownload, whole.ID)
	if err != nil {
		t.Fatal(err)
	}
	if dl, err := acc.OpenDownload(ctx, 100, 10, true); !errors.Is(err, evidence.ErrCorrupt) {
		if err == nil {
			dl.Close()
		}
		t.Fatalf("a range of a backfilled file whose segment is another's: %v, want corrupt", err)
	}
}

// backstopOf is the destruction date the store's rule on v's bucket is
// set from (14 days before it expires the evidence), or "none".
func backstopOf(t *testing.T, d *domain, v store.Visit) string {
	t.Helper()
	exp, err := d.svc.Blobs().Expiry(context.Background(), v.Bucket)
	if err != nil {
		t.Fatal(err)
	}
	if exp.IsZero() {
		return "none"
	}
	return exp.AddDate(0, 0, -14).Format(time.DateOnly)
}

// TestRetentionRunReadsTheRulesBack: the retention run reads back the
// expiry rule of the buckets whose store side is recorded as done, and a
// rule the store lost after accepting it (as MinIO does with the settings
// made just after it starts), or one present on a held visit, where it
// would expire held evidence, is put right by the run after.
func TestRetentionRunReadsTheRulesBack(t *testing.T) {
	ctx := context.Background()
	d := startDomain(t)
	v := d.demo()
	lead := d.person("ofsted", "lead@ofsted.example")
	admin := d.person("ofsted", "admin@ofsted.example")
	blobs := d.svc.Blobs()
	backstop := func() string { t.Helper(); return backstopOf(t, d, v) }
	day := d.publish(lead, v)
	destroyOn := *d.mustAccess(lead, policy.VisitView).View(ctx).DestroyOn
	runs := func(what, want string) {
		t.Helper()
		for range 2 { // the first finds it, the second puts it right
			day = day.AddDate(0, 0, 1)
			d.at(day)
			if _, err := d.svc.RunRetention(ctx); err != nil {
				t.Fatal(err)
			}
		}
		if got := backstop(); got != want {
			t.Errorf("%s: after two retention runs the store's rule expires the evidence 14 days after %s, want %s", what, got, want)
		}
	}
	if got := backstop(); got != destroyOn {
		t.Fatalf("published: the rule expires the evidence 14 days after %s, want %s", got, destroyOn)
	}
	runs("nothing lost", destroyOn)

	if err := blobs.SetExpiry(ctx, v.Bucket, time.Time{}); err != nil {
		t.Fatal(err)
	}
	runs("the store lost the rule", destroyOn)

	if _, err := d.mustAccess(admin, policy.LegalHoldSet).SetLegalHold(ctx, true, "Judicial review"); err != nil {
		t.Fatal(err)
	}
	if got := backstop(); got != "none" {
		t.Fatalf("held: the rule still expires the evidence 14 days after %s", got)
	}
	back, _ := time.Parse(time.DateOnly, destroyOn)
	if err := blobs.SetExpiry(ctx, v.Bucket, back.AddDate(0, 0, 14)); err != nil {
		t.Fatal(err)
	}
	runs("held, and the store put the rule back", "none")
}

// TestUploadUnderHoldHoldsItsOwnObjects: a file stored while its visit is
// under legal hold has its own objects held, and those alone: the upload
// does not hold every object version of the visit again (one S3 request
// each, minutes for a visit of 20,000 files). A lift carried to the store
// while the upload held its objects (freeing the bucket first) leaves the
// store's side unknown, for the retention run to free them: left held,
// they would fail the visit's destruction. A store that refuses to hold a
// new file's objects does not fail the upload: the run holds them.
func TestUploadUnderHoldHoldsItsOwnObjects(t *testing.T) {
	ctx := context.Background()
	var refuse atomic.Pointer[func(*http.Request) bool]
	d, v, tl, uploader, _ := oneFileUploadedOn(t, refusingStore(t, &refuse))
	admin := d.person("ofsted", "admin@ofsted.example")
	blobs := d.svc.Blobs()
	upload := func(name string) portal.FileView {
		t.Helper()
		f, err := d.mustAccess(uploader, policy.FileUpload).Upload(ctx, portal.NewFile{Name: name, Size: 4}, strings.NewReader("body"))
		if err != nil {
			t.Fatal(err)
		}
		return f
	}
	held := func(fileID string) bool {
		t.Helper()
		st, err := blobs.Client().GetObjectLegalHold(ctx, v.Bucket, fileID+"/0", minio.GetObjectLegalHoldOptions{})
		return err == nil && st != nil && *st == minio.LegalHoldEnabled
	}
	upload("1.01 b.pdf")
	upload("1.01 c.pdf")
	if _, err := d.mustAccess(admin, policy.LegalHoldSet).SetLegalHold(ctx, true, "Judicial review"); err != nil {
		t.Fatal(err)
	}
	var holds atomic.Int32
	count := func(r *http.Request) bool {
		if r.Method == http.MethodPut && r.URL.Query().Has("legal-hold") {
			holds.Add(1)
		}
		return false
	}
	refuse.Store(&count)
	f := upload("1.01 d.pdf")
	refuse.Store(nil)
	if n := holds.Load(); n != 1 || !held(f.ID) {
		t.Fatalf("a file of one segment stored under hold: %d objects held by its upload (want 1), its own held: %v", n, held(f.ID))
	}
	if _, err := d.svc.Store().FileToHoldOf(ctx, f.ID); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("its objects held, and the file is still to hold: %v", err)
	}

	// A lift carried to the store while the next upload holds its objects.
	st := d.svc.Store()
	var lifted atomic.Bool // the lift's own requests pass through
	lift := func(r *http.Request) bool {
		if r.Method == http.MethodPut && r.URL.Query().Has("legal-hold") && lifted.CompareAndSwap(false, true) {
			act, err := st.SetLegalHold(ctx, v.ID, store.LegalHold{On: false, At: time.Now()})
			if err == nil {
				err = blobs.SetLegalHold(ctx, v.Bucket, false)
			}
			if err == nil {
				err = st.HoldApplied(ctx, act, time.Now())
			}
			if err != nil {
				t.Error(err)
			}
		}
		return false
	}
	refuse.Store(&lift)
	g := upload("1.01 e.pdf")
	refuse.Store(nil)
	if !held(g.ID) {
		t.Fatal("the upload's objects were not held: the lift did not come between")
	}
	sides, err := st.StoreSidesToApply(ctx, time.Now().AddDate(10, 0, 0), 10) // settled, whatever the domain's clock
	if err != nil {
		t.Fatal(err)
	}
	if len(sides) != 1 || !sides[0].HoldUnknown || sides[0].Hold.On {
		t.Fatalf("lifted as an upload held its objects, and the store's side is recorded as %+v", sides)
	}
	d.at(tl.Notification.AddDate(0, 0, 1))
	if _, err := d.svc.RunRetention(ctx); err != nil {
		t.Fatal(err)
	}
	if held(g.ID) || held(f.ID) {
		t.Errorf("lifted, and after the retention run the objects are held: %v, %v", held(g.ID), held(f.ID))
	}

	// Held again, and the store refuses to hold a new file's objects: the
	// file is stored (the portal obeys the hold), and the run holds them.
	if _, err := d.mustAccess(admin, policy.LegalHoldSet).SetLegalHold(ctx, true, "Judicial review"); err != nil {
		t.Fatal(err)
	}
	holdsRefused := func(r *http.Request) bool { return r.Method == http.MethodPut && r.URL.Query().Has("legal-hold") }
	refuse.Store(&holdsRefused)
	k := upload("1.01 f.pdf")
	refuse.Store(nil)
	if held(k.ID) {
		t.Fatal("the store held the objects it refused to hold")
	}
	d.at(tl.Notification.AddDate(0, 0, 2))
	if _, err := d.svc.RunRetention(ctx); err != nil {
		t.Fatal(err)
	}
	if !held(k.ID) {
		t.Error("stored under a hold the store refused, and after the retention run its objects are not held")
	}

	// The upload stops once its file is stored, before it holds the
	// objects or records anything more: here its request ends as the
	// store refuses the first call of the hold, as a process that stops
	// there would leave it. The upload still answers with its file, and
	// the run holds the objects.
	stopped, stop := context.WithCancel(ctx)
	stopAtHold := func(r *http.Request) bool {
		if r.Method == http.MethodGet && (r.URL.Query().Has("versions") || r.URL.Query().Has("object-lock")) || r.URL.Query().Has("legal-hold") {
			stop()
			return true
		}
		return false
	}
	refuse.Store(&stopAtHold)
	_, err = d.mustAccess(uploader, policy.FileUpload).Upload(stopped, portal.NewFile{Name: "1.01 g.pdf", Size: 4}, strings.NewReader("body"))
	refuse.Store(nil)
	if stopped.Err() == nil {
		t.Fatalf("the upload made no request to hold its objects (%v)", err)
	}
	if err != nil {
		t.Errorf("an upload whose file is stored answered %v", err)
	}
	recent, rerr := st.RecentFiles(ctx, v.ID, 1)
	if rerr != nil || len(recent) != 1 || recent[0].ID == k.ID {
		t.Fatalf("the file the stopped upload stored: %v, %v (upload: %v)", recent, rerr, err)
	}
	m := recent[0]
	if held(m.ID) {
		t.Fatal("the stopped upload held its objects")
	}
	// A run while the upload may still be holding them leaves them, and
	// the metrics say the store is behind by one file.
	if _, err := d.svc.RunRetention(ctx); err != nil {
		t.Fatal(err)
	}
	if held(m.ID) || !storeBehind(t, d, 0, 1) {
		t.Fatalf("a run inside the settling time: held %v", held(m.ID))
	}
	d.at(tl.Notification.AddDate(0, 0, 3))
	if _, err := d.svc.RunRetention(ctx); err != nil {
		t.Fatal(err)
	}
	if !storeBehind(t, d, 0, 0) {
		t.Error("the run held the objects, and the metrics say the store is still behind")
	}
	if !held(m.ID) {
		t.Error("stored under a hold by an upload that stopped before holding its objects, and after the retention run they are not held")
	}
	if _, err := st.FileToHoldOf(ctx, m.ID); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("held by the run, and the file is still to hold: %v", err)
	}
}

// storeBehind reports whether the domain's metrics say, after the last
// retention run, that the object store is behind by visits and files.
func storeBehind(t *testing.T, d *domain, visits, files float64) bool {
	t.Helper()
	fams, err := d.Metrics.Gather()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]float64{}
	for _, f := range fams {
		if f.GetName() != "portal_store_behind" {
			continue
		}
		for _, m := range f.Metric {
			for _, l := range m.Label {
				got[l.GetValue()] = m.GetGauge().GetValue()
			}
		}
	}
	if got["visits"] != visits || got["files"] != files {
		t.Logf("portal_store_behind: %v, want visits %v, files %v", got, visits, files)
		return false
	}
	return true
}

// TestUnflushedDatabaseIsReported: a PostgreSQL set to leave commits
// unflushed (fsync, synchronous_commit or full_page_writes off) is named
// in readiness as degraded; the portal serves, and the operator sees
// that a power cut may lose what it answered. The tests' own PostgreSQL
// runs so (pgserver's Fast); SQLite's flushes are the store's own.
func TestUnflushedDatabaseIsReported(t *testing.T) {
	d := startDomain(t)
	r := d.svc.Ready(context.Background())
	got, reported := r.Degraded["database:durability"]
	if !d.svc.Store().Postgres() {
		if reported {
			t.Fatalf("SQLite reported as unflushed: %q", got)
		}
		return
	}
	if !r.Ready {
		t.Fatalf("not ready: %+v", r)
	}
	for _, s := range []string{"fsync=off", "synchronous_commit=off", "full_page_writes=off"} {
		if !strings.Contains(got, s) {
			t.Errorf("readiness on a PostgreSQL without flushes: %q, want it to name %s", got, s)
		}
	}
}

// TestSelfTestBucketLeftIsReported: the readiness self-test creates a
// bucket every 10 minutes and removes it. A store that refuses the
// removal keeps one more bucket each time; that is logged, naming the
// bucket, and readiness is degraded until a self-test removes its own
// again.
func TestSelfTestBucketLeftIsReported(t *testing.T) {
	ctx := context.Background()
	var refuse atomic.Pointer[func(*http.Request) bool]
	d := refusingStore(t, &refuse)
	selfTestBucket := "/" + d.Config.BucketPrefix + "selftest-"
	pick := func(r *http.Request) bool {
		return r.Method == http.MethodDelete && strings.HasPrefix(r.URL.Path, selfTestBucket) && !strings.Contains(strings.Trim(r.URL.Path, "/"), "/")
	}
	refuse.Store(&pick)
	degraded := func(want bool) portal.Readiness {
		t.Helper()
		d.svc.SelfTestNow()
		deadline := time.Now().Add(20 * time.Second)
		for {
			time.Sleep(2100 * time.Millisecond) // past the cached answer
			r := d.svc.Ready(ctx)
			_, got := r.Degraded["storage:selftest_bucket"]
			if got == want && r.Checks["answer"] == "" {
				return r
			}
			if time.Now().After(deadline) {
				t.Fatalf("self-test bucket left degraded %v, want %v: %+v", got, want, r)
			}
		}
	}
	r := degraded(true)
	if !r.Ready {
		t.Errorf("a bucket left behind made the portal unready: %+v", r)
	}
	if msg := r.Degraded["storage:selftest_bucket"]; !strings.Contains(msg, d.Config.BucketPrefix+"selftest-") {
		t.Errorf("degraded without naming the bucket: %q", msg)
	}
	if l := d.log.String(); !strings.Contains(l, "self-test bucket could not be removed") || !strings.Contains(l, d.Config.BucketPrefix+"selftest-") {
		t.Errorf("not logged:\n%s", l)
	}
	refuse.Store(nil)
	degraded(false)
}

// TestSelfTestBucketLeftIsSwept: a self-test's bucket that was not
// removed (the store refused, or the process stopped between creating it
// and removing it) stayed for good: nothing knew its name, since the
// portal may not list the store's buckets. Its name is recorded before it
// is made, and the janitor removes it once the self-test that made it is
// long over; a visit's bucket is never taken.
func TestSelfTestBucketLeftIsSwept(t *testing.T) {
	ctx := context.Background()
	var refuse atomic.Pointer[func(*http.Request) bool]
	d := refusingStore(t, &refuse)
	v := d.demo()
	selfTestBucket := "/" + d.Config.BucketPrefix + "selftest-"
	pick := func(r *http.Request) bool {
		return r.Method == http.MethodDelete && strings.HasPrefix(r.URL.Path, selfTestBucket) && !strings.Contains(strings.Trim(r.URL.Path, "/"), "/")
	}
	refuse.Store(&pick)
	d.svc.SelfTestNow()
	name := ""
	named := regexp.MustCompile(regexp.QuoteMeta(d.Config.BucketPrefix) + `selftest-[0-9a-f]+`)
	for deadline := time.Now().Add(20 * time.Second); name == ""; {
		time.Sleep(2100 * time.Millisecond) // past the cached answer
		name = named.FindString(d.svc.Ready(ctx).Degraded["storage:selftest_bucket"])
		if name == "" && time.Now().After(deadline) {
			t.Fatal("the self-test left no bucket")
		}
	}
	refuse.Store(nil)
	exists := func(b string) bool {
		t.Helper()
		ok, err := d.svc.Blobs().BucketExists(ctx, b)
		if err != nil {
			t.Fatal(err)
		}
		return ok
	}
	d.svc.Sweep(ctx)
	if !exists(name) {
		t.Fatal("a self-test's bucket was removed while the self-test may still be running")
	}
	d.offset.Store(int64(2 * time.Hour))
	d.svc.Sweep(ctx)
	if exists(name) {
		t.Fatalf("the self-test's bucket %s is still in the store after the janitor's round", name)
	}
	if !exists(v.Bucket) {
		t.Fatal("the janitor removed a visit's bucket")
	}
}
