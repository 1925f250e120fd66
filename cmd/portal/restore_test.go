package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ofsted-portal/evidence/deploy/devstack"
	"github.com/ofsted-portal/evidence/policy"
	"github.com/ofsted-portal/evidence/portal"
	"github.com/ofsted-portal/evidence/portal/retention"
	"github.com/ofsted-portal/evidence/portal/store"
)

// drill is the portal of a restore drill: the domain on the test stack,
// with a clock that can be set back (to upload to a visit in its window
// long ago).
type drill struct {
	t      *testing.T
	svc    *portal.Service
	cfg    portal.Config
	offset atomic.Int64
	opts   []portal.Option // more, after the logger and the clock
}

// newDrill is a drill on the stack st, closed, as a restore finds the
// portal: its configuration and its environment (for the commands).
func newDrill(t *testing.T, st *devstack.Stack) *drill {
	t.Helper()
	st.Portal.Close()
	for k, v := range st.Env {
		t.Setenv(k, v)
	}
	return &drill{t: t, cfg: st.Config}
}

// backup takes a backup of the drill's database into a new folder.
func (d *drill) backup() string {
	d.t.Helper()
	dir := filepath.Join(d.t.TempDir(), "backup")
	if err := backupCmd(context.Background(), []string{dir}, &bytes.Buffer{}); err != nil {
		d.t.Fatal(err)
	}
	return dir
}

// restore stops the portal, loses its database (wipe) and restores the
// backup in dir, as portal restore does; it returns what the command said.
func (d *drill) restore(dir string) string {
	d.t.Helper()
	d.svc.Close()
	wipe(d.t, d.cfg)
	var out bytes.Buffer
	if err := restoreCmd(context.Background(), []string{dir}, &out); err != nil {
		d.t.Fatalf("restore: %v\n%s", err, out.String())
	}
	return out.String()
}

func (d *drill) open() {
	d.t.Helper()
	svc, err := portal.New(context.Background(), d.cfg, append([]portal.Option{portal.WithLogger(portal.NewLogger(io.Discard, "error")),
		portal.WithClock(func() time.Time { return time.Now().Add(time.Duration(d.offset.Load())) })}, d.opts...)...)
	if err != nil {
		d.t.Fatal(err)
	}
	d.svc = svc
}

// store opens the drill's database as the operator's commands do, closed
// at the end of the test.
func (d *drill) store() *store.Store {
	d.t.Helper()
	st, err := portal.OpenStore(context.Background(), os.Getenv, false)
	if err != nil {
		d.t.Fatal(err)
	}
	d.t.Cleanup(func() { st.Close() })
	return st
}

// stopAt is the drill's options that stop every destruction once it has
// recorded step (a process that dies there).
func stopAt(step string) []portal.Option {
	return []portal.Option{portal.WithRetentionHook(func(s string) error {
		if s == step {
			return errors.New("stopped once the destruction recorded " + step)
		}
		return nil
	})}
}

// certificate is the visit's destruction certificate as the database
// holds it, its signature checked with the drill's signing key.
func (d *drill) certificate(visitID string) retention.Certificate {
	d.t.Helper()
	got, err := d.svc.Store().GetDestruction(context.Background(), visitID)
	if err != nil || got.Certificate == nil {
		d.t.Fatalf("no certificate of visit %s: %v", visitID, err)
	}
	pub, err := retention.ParsePublicKeyPEM(mustPublicKey(d.t, d.cfg.SigningKey))
	if err != nil {
		d.t.Fatal(err)
	}
	c, err := retention.Verify(got.Certificate, pub)
	if err != nil {
		d.t.Fatal(err)
	}
	return c
}

func (d *drill) person(idp, email string) portal.Actor {
	d.t.Helper()
	for _, p := range d.cfg.IdPs {
		if p.Name == idp {
			a, err := d.svc.SignIn(context.Background(), portal.Actor{}, portal.Identity{IdP: idp, Issuer: p.Issuer, Subject: email, Email: email})
			if err != nil {
				d.t.Fatal(err)
			}
			return a
		}
	}
	d.t.Fatalf("no identity provider %s", idp)
	return portal.Actor{}
}

// upload stores content as name in the visit and returns its SHA-256.
func (d *drill) upload(visitID, name, content string) string {
	d.t.Helper()
	ctx := context.Background()
	acc, err := d.svc.Authorize(ctx, d.person("cafcass", "uploader@cafcass.example"), policy.FileUpload, visitID, "")
	if err != nil {
		d.t.Fatal(err)
	}
	if _, err := acc.Upload(ctx, portal.NewFile{Name: name, Size: int64(len(content))}, strings.NewReader(content)); err != nil {
		d.t.Fatal(err)
	}
	sum := sha256.Sum256([]byte(content))
	return hex.EncodeToString(sum[:])
}

// pastVisit creates a visit notified 200 days ago (on a working day),
// with an uploader who uploads each name and content of files in its
// window, published about six weeks later: past its retention period
// now. It returns its id.
func (d *drill) pastVisit(ref string, files ...string) string {
	d.t.Helper()
	ctx := context.Background()
	d.offset.Store(int64(-200 * 24 * time.Hour))
	admin := d.person("ofsted", "admin@ofsted.example")
	cal := d.svc.Calendar()
	// Notified on a working day: the day the clock says, or the working
	// day before it (200 days back may be a weekend in London).
	notified := d.svc.Today()
	if !cal.IsWorkingDay(notified) {
		notified = cal.PreviousWorkingDay(notified)
	}
	v, err := d.svc.CreateVisit(ctx, admin, portal.NewVisit{Reference: ref, Title: "Past", Provider: "Cafcass",
		NotificationDate: notified.Format(time.DateOnly), FieldworkStart: cal.AddWorkingDays(notified, 5).Format(time.DateOnly)})
	if err != nil {
		d.t.Fatal(err)
	}
	acc, err := d.svc.Authorize(ctx, admin, policy.MemberManage, v.ID, "")
	if err != nil {
		d.t.Fatal(err)
	}
	if _, _, err := acc.PutMember(ctx, portal.MemberRequest{Email: "uploader@cafcass.example", Role: policy.RoleProviderUploader}); err != nil {
		d.t.Fatal(err)
	}
	for i := 0; i+1 < len(files); i += 2 {
		d.upload(v.ID, files[i], files[i+1])
	}
	d.offset.Store(0)
	if acc, err = d.svc.Authorize(ctx, admin, policy.VisitRecordEvent, v.ID, ""); err != nil {
		d.t.Fatal(err)
	}
	// Published on the working day after Cafcass's 5 working days to
	// complain about the final letter.
	for i, ev := range []string{"draft_sent", "final_sent", "published"} {
		if _, err := acc.RecordEvent(ctx, ev, cal.AddWorkingDays(notified, 20+[]int{0, 1, 7}[i]).Format(time.DateOnly)); err != nil {
			d.t.Fatal(err)
		}
	}
	return v.ID
}

// TestRestoreDrill: use the portal (files in two visits, a session), back
// up, destroy one visit, use it more, wipe the database, restore. The
// destroyed visit is destroyed again, key first; the audit trail reports
// the restore with the records it lost; the live visit's files download
// with their SHA-256; no session survives. Then the same backup put in
// place by hand is refused by serve's check until portal restore --resume.
func TestRestoreDrill(t *testing.T) {
	ctx := context.Background()
	// On PostgreSQL, as production runs it: served as a role that owns
	// nothing (pg_dump reads as it), restored and migrated as the owner.
	d := newDrill(t, domainStackWith(t, func(o *devstack.Options) { o.ServingRole = true }))
	d.cfg.DestructionNotice = 0
	d.open()
	defer func() { d.svc.Close() }()

	// A visit of long ago, with a file uploaded in its window, now past
	// its retention period; and the demo visit, live, with a file.
	gone := d.pastVisit("FV-GONE", "1.01 Structure.pdf", "evidence to be destroyed")
	demo, err := d.svc.Store().VisitByReference(ctx, portal.DemoReference)
	if err != nil {
		t.Fatal(err)
	}
	kept := d.upload(demo.ID, "1.02 Kept.xlsx", "evidence that is kept")
	if err := d.svc.Store().Sessions(time.Now).CommitCtx(store.NewSession(ctx), "a-session", []byte("signed in"), time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}

	// Back up while the portal runs.
	dir := filepath.Join(t.TempDir(), "backup")
	var out bytes.Buffer
	if err := backupCmd(ctx, []string{dir}, &out); err != nil {
		t.Fatal(err)
	}
	m, err := portal.ReadManifest(dir)
	if err != nil {
		t.Fatal(err)
	}
	// The manifest names the trail's head as copied; the backup is
	// recorded right after it.
	if recs, err := d.svc.Store().AuditRecords(ctx, store.AuditFilter{AfterSeq: m.AuditSeq}); err != nil || len(recs) != 1 || recs[0].Action != "backup.taken" ||
		recs[0].PrevHash != m.AuditHash || m.SHA256 == "" || m.SchemaVersion == 0 {
		t.Fatalf("manifest %+v, records after its head %+v (%v)", m, recs, err)
	}
	t.Logf("%s", out.String())

	// Destroy the old visit, then use the portal more: a file, records,
	// and a checkpoint anchored well beyond the backup.
	ids, err := d.svc.RunRetention(ctx)
	if err != nil || len(ids) != 1 || ids[0] != gone {
		t.Fatalf("retention: %v %v", ids, err)
	}
	anchors, err := portal.FindAnchors(ctx, d.cfg)
	if err != nil || anchors == nil {
		t.Fatalf("anchors: %v", err)
	}
	outside, err := anchors.Records(ctx, "destructions/"+gone+"/")
	if err != nil || outside[retention.TombstoneName(gone)] == nil || outside[retention.CertificateName(gone)] == nil {
		t.Fatalf("the destruction outside the database (%s): %v %v", anchors.Where(), len(outside), err)
	}
	first, err := d.svc.Store().GetDestruction(ctx, gone)
	if err != nil || first.Certificate == nil {
		t.Fatalf("certificate: %v", err)
	}
	d.upload(demo.ID, "1.03 After the backup.pdf", "lost with the database")
	for i := 0; i < 150; i++ {
		if err := d.svc.Store().Audit(ctx, store.AuditRecord{Time: time.Now(), ActorSubject: "portal", Action: "test.act", Outcome: "success"}); err != nil {
			t.Fatal(err)
		}
	}
	if err := d.svc.Checkpoint(ctx, true); err != nil {
		t.Fatal(err)
	}
	anchored, anchoredHash, _ := d.svc.Store().AuditHead(ctx)
	d.svc.Close()

	wipe(t, d.cfg)
	out.Reset()
	if err := restoreCmd(ctx, []string{dir}, &out); err != nil {
		t.Fatalf("restore: %v\n%s", err, out.String())
	}
	t.Logf("%s", out.String())
	if !strings.Contains(out.String(), "destroyed again, key first: FV-GONE") {
		t.Fatalf("restore output:\n%s", out.String())
	}
	d.open()

	// The destroyed visit: destroyed again, the key before anything else.
	db := d.svc.Store()
	v, err := db.Visit(ctx, gone)
	if err != nil || v.State != "destroyed" {
		t.Fatalf("visit destroyed after the backup: %s %v", v.State, err)
	}
	if _, err := db.KeyFingerprint(ctx, gone); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("its key: %v", err)
	}
	if ok, _ := d.svc.Blobs().BucketExists(ctx, v.Bucket); ok {
		t.Fatal("its bucket is back")
	}
	recs, err := db.AuditRecords(ctx, store.AuditFilter{VisitID: gone, AfterSeq: anchored})
	if err != nil {
		t.Fatal(err)
	}
	var steps []string
	for _, r := range recs {
		steps = append(steps, r.Action)
	}
	// The restored database holds the key wrapped to an epoch it has as
	// current: destroying it again supersedes that epoch, so the backup's
	// copy of the key stops opening too.
	want := []string{"destruction.started", "destruction.key_destroyed", "key.epoch_started", "destruction.key_epoch_superseded",
		"destruction.objects_deleted", "destruction.certificate_kept", "visit.destroyed"}
	if strings.Join(steps, " ") != strings.Join(want, " ") || !strings.Contains(recs[0].Detail, "reapplied") {
		t.Fatalf("destroyed again with %v, want %v (%s)", steps, want, recs[0].Detail)
	}
	// Its certificate is the one issued when it was destroyed, the one
	// administrators hold: a restore issues no second one, with other
	// times and counts, for the same destruction.
	if again, err := db.GetDestruction(ctx, gone); err != nil || !bytes.Equal(again.Certificate, first.Certificate) {
		t.Fatalf("certificate after the restore (%v):\n%s\nwant the one issued before it:\n%s", err, again.Certificate, first.Certificate)
	}
	if outside, err := anchors.Records(ctx, "destructions/"+gone+"/"); err != nil || len(outside[retention.CertificateName(gone)]) != 1 {
		t.Fatalf("certificates outside the database: %d (%v), want 1", len(outside[retention.CertificateName(gone)]), err)
	}
	if recs[0].Seq != anchored+2 {
		t.Fatalf("the first act after the restore is record %d, want %d (after the mark at %d)", recs[0].Seq, anchored+2, anchored+1)
	}
	// Then the epoch the backup had as current, superseded by that
	// destruction, is given the date its key is to be destroyed as the
	// certificate says.
	if fwd, err := db.AuditRecords(ctx, store.AuditFilter{AfterSeq: anchored, Action: "key.epoch_brought_forward"}); err != nil || len(fwd) != 1 || fwd[0].Seq < recs[len(recs)-1].Seq {
		t.Fatalf("the epoch's date brought forward: %+v %v, want one record after the destruction", fwd, err)
	}

	// The trail: restored, with the lost records named.
	out.Reset()
	if err := auditVerifyTo(ctx, nil, &out); err != nil {
		t.Fatalf("audit verify: %v", err)
	}
	wantLine := fmt.Sprintf("restored at record %d; records %d..%d lost, anchored up to %d", m.AuditSeq, m.AuditSeq+1, anchored, anchored)
	if !strings.Contains(out.String(), wantLine) || strings.Contains(out.String(), "intact") {
		t.Fatalf("audit verify says:\n%s\nwant %q", out.String(), wantLine)
	}
	t.Logf("%s", out.String())
	mark, err := db.AuditRecords(ctx, store.AuditFilter{Action: store.ActionRestored})
	if err != nil || len(mark) != 1 || mark[0].Seq != anchored+1 || mark[0].PrevHash != anchoredHash {
		t.Fatalf("restore mark: %+v %v", mark, err)
	}

	// The live visit's file downloads with its SHA-256; the one uploaded
	// after the backup is not there; no session is.
	files, err := db.Files(ctx, demo.ID)
	if err != nil || len(files) != 1 || files[0].SHA256 != kept {
		t.Fatalf("live visit's files: %+v %v", files, err)
	}
	if got := downloadSum(t, d, demo.ID, files[0]); got != kept {
		t.Fatalf("download: %s, want %s", got, kept)
	}
	if n, err := db.Sessions(time.Now).Count(ctx); err != nil || n != 0 {
		t.Fatalf("%d sessions after the restore (%v)", n, err)
	}
	if rep, err := d.svc.CheckRestored(ctx); err != nil || rep.MarkSeq != 0 {
		t.Fatalf("serve's check after a finished restore: %+v %v", rep, err)
	}
	d.svc.Close()

	// A restore that stopped once the database was in place (a crash) is
	// finished by serve's check before anything is served.
	wipe(t, d.cfg)
	if _, err := putInPlace(ctx, d.cfg, dir, m, store.NewID(), nil, false, false); err != nil {
		t.Fatal(err)
	}
	d.open()
	rep, err := d.svc.CheckRestored(ctx)
	if err != nil || len(rep.Reapplied) != 1 || rep.Reapplied[0].VisitID != gone || rep.MarkSeq == 0 {
		t.Fatalf("serve's check of a pending restore: %+v %v", rep, err)
	}
	if _, err := d.svc.Store().KeyFingerprint(ctx, gone); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("key after serve's check: %v", err)
	}
	if _, err := putInPlace(ctx, d.cfg, dir, m, store.NewID(), nil, false, false); err == nil || !strings.Contains(err.Error(), "not empty") {
		t.Fatalf("a restore over a database in use: %v", err)
	}
	d.svc.Close()

	// The backup put in place by hand is refused by serve's check, then
	// taken in by portal restore --resume.
	if d.cfg.DatabaseURL != "" {
		t.Log("PostgreSQL: a restore by hand is pg_restore, which portal restore runs itself; not repeated")
		d.open()
		return
	}
	wipe(t, d.cfg)
	b, err := os.ReadFile(filepath.Join(dir, m.File))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(d.cfg.DBPath, b, 0o600); err != nil {
		t.Fatal(err)
	}
	sctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	err = serve(sctx, nil)
	cancel()
	if !errors.Is(err, portal.ErrBehindAnchors) {
		t.Fatalf("portal serve on a database copied back by hand: %v, want a refusal", err)
	}
	t.Logf("serve refused: %v", err)
	out.Reset()
	if err := restoreCmd(ctx, []string{"--resume", "--confirm", portal.TakenIn}, &out); err != nil || !strings.Contains(out.String(), "destroyed again, key first: FV-GONE") {
		t.Fatalf("restore --resume: %v\n%s", err, out.String())
	}
	d.open()
	if _, err := d.svc.CheckRestored(ctx); err != nil {
		t.Fatalf("serve's check after --resume: %v", err)
	}
	if _, err := d.svc.Store().KeyFingerprint(ctx, gone); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("key after --resume: %v", err)
	}
	// The trail and the operator are told that this copy was never
	// checked against a backup's manifest (before, the record said
	// nothing of it, and the output nothing either).
	if !strings.Contains(out.String(), "not checked against a backup") {
		t.Errorf("restore --resume of a database put in place by hand does not say it was not checked:\n%s", out.String())
	}
	if recs, err := d.svc.Store().AuditRecords(ctx, store.AuditFilter{Action: "restore.finished"}); err != nil || len(recs) == 0 || !strings.Contains(recs[len(recs)-1].Detail, `"backup_checked":false`) {
		t.Errorf("the restore's record of a database put in place by hand: %+v %v, want backup_checked false", recs, err)
	}
	out.Reset()
	if err := auditVerifyTo(ctx, nil, &out); err != nil || !strings.Contains(out.String(), fmt.Sprintf("restored at record %d;", m.AuditSeq)) {
		t.Fatalf("audit verify after --resume: %v\n%s", err, out.String())
	}
}

// wipe removes the database: the SQLite file, or every table of the
// PostgreSQL database.
func wipe(t *testing.T, cfg portal.Config) {
	t.Helper()
	if cfg.DatabaseURL == "" {
		for _, p := range []string{cfg.DBPath, cfg.DBPath + "-wal", cfg.DBPath + "-shm"} {
			if err := os.Remove(p); err != nil && !errors.Is(err, os.ErrNotExist) {
				t.Fatal(err)
			}
		}
		return
	}
	// As the owner: the serving role may not drop the tables.
	cfg.DatabaseURL, cfg.DatabaseOwnerURL = cfg.DatabaseOwner(), ""
	s, err := portal.OpenDatabase(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for _, q := range []string{`DROP SCHEMA public CASCADE`, `CREATE SCHEMA public`} {
		if _, err := s.DB().Exec(q); err != nil {
			t.Fatal(err)
		}
	}
}

// TestRestoreKeepsLiveVisitsWhoseBucketsAreMissing: a restore run against
// an object store that does not show the live visits' buckets (a
// disaster-recovery copy not yet replicated, a wrong endpoint) destroys
// nothing: both visits, the one on legal hold too, keep their keys, rows
// and hold; the restore names them, fails and stays pending. Run again
// once the store shows the buckets, it finishes, and the held file still
// downloads with its SHA-256.
func TestRestoreKeepsLiveVisitsWhoseBucketsAreMissing(t *testing.T) {
	ctx := context.Background()
	d := newDrill(t, domainStack(t))
	d.open()
	defer func() { d.svc.Close() }()

	admin := d.person("ofsted", "admin@ofsted.example")
	held, err := d.svc.Store().VisitByReference(ctx, portal.DemoReference)
	if err != nil {
		t.Fatal(err)
	}
	sum := d.upload(held.ID, "1.01 Held.pdf", "evidence under a legal hold")
	acc, err := d.svc.Authorize(ctx, admin, policy.LegalHoldSet, held.ID, "")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := acc.SetLegalHold(ctx, true, "Judicial review"); err != nil {
		t.Fatal(err)
	}
	cal := d.svc.Calendar()
	notified := cal.PreviousWorkingDay(d.svc.Today())
	created, err := d.svc.CreateVisit(ctx, admin, portal.NewVisit{Reference: "FV-LIVE", Title: "Live", Provider: "Cafcass",
		NotificationDate: notified.Format(time.DateOnly), FieldworkStart: cal.AddWorkingDays(notified, 5).Format(time.DateOnly)})
	if err != nil {
		t.Fatal(err)
	}
	live, err := d.svc.Store().Visit(ctx, created.ID)
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "backup")
	var out bytes.Buffer
	if err := backupCmd(ctx, []string{dir}, &out); err != nil {
		t.Fatal(err)
	}
	d.svc.Close()
	wipe(t, d.cfg)

	// The same MinIO, behind a proxy that answers 404 for the two
	// visits' buckets, as a store that does not hold them would.
	hidden := d.hideBuckets(held.Bucket, live.Bucket)
	t.Setenv("PORTAL_S3_ENDPOINT", hidden)
	out.Reset()
	err = restoreCmd(ctx, []string{dir}, &out)
	t.Logf("restore: %v\n%s", err, out.String())
	if !errors.Is(err, portal.ErrBucketMissing) {
		t.Errorf("restore against a store without the live buckets: %v, want it to fail with %v", err, portal.ErrBucketMissing)
	}
	for _, ref := range []string{held.Reference, live.Reference} {
		if !strings.Contains(out.String(), "NOT destroyed, its bucket is missing: "+ref) {
			t.Errorf("the restore's output does not name %s:\n%s", ref, out.String())
		}
	}
	if strings.Contains(out.String(), "destroyed again") {
		t.Errorf("the restore destroyed a live visit:\n%s", out.String())
	}
	// Nor does serve, finding the restore pending, destroy them or serve.
	direct := d.cfg
	d.cfg.S3Endpoint = hidden
	d.open()
	if _, err := d.svc.CheckRestored(ctx); !errors.Is(err, portal.ErrBucketMissing) {
		t.Errorf("serve's check of the pending restore: %v, want %v", err, portal.ErrBucketMissing)
	}
	d.svc.Close()
	d.cfg = direct
	d.open()
	db := d.svc.Store()
	for _, v := range []store.Visit{held, live} {
		if got, err := db.Visit(ctx, v.ID); err != nil || got.State != portal.StateActive {
			t.Errorf("%s after the restore: %s %v", v.Reference, got.State, err)
		}
		if _, err := db.KeyFingerprint(ctx, v.ID); err != nil {
			t.Errorf("%s's key after the restore: %v", v.Reference, err)
		}
	}
	if h, err := db.GetLegalHold(ctx, held.ID); err != nil || !h.On {
		t.Errorf("the legal hold after the restore: %+v %v", h, err)
	}
	if _, err := db.PendingRestore(ctx); err != nil {
		t.Errorf("the failed restore is not pending: %v", err)
	}
	d.svc.Close()
	if t.Failed() {
		return
	}

	// The store shows the buckets again: the restore finishes.
	t.Setenv("PORTAL_S3_ENDPOINT", d.cfg.S3Endpoint)
	out.Reset()
	if err := restoreCmd(ctx, []string{"--resume"}, &out); err != nil || strings.Contains(out.String(), "destroyed again") {
		t.Fatalf("restore --resume: %v\n%s", err, out.String())
	}
	d.open()
	files, err := d.svc.Store().Files(ctx, held.ID)
	if err != nil || len(files) != 1 {
		t.Fatalf("held visit's files: %+v %v", files, err)
	}
	if got := downloadSum(t, d, held.ID, files[0]); got != sum {
		t.Fatalf("download: %s, want %s", got, sum)
	}
}

// hideBuckets is the endpoint of the drill's MinIO behind a proxy that
// answers 404 for the buckets named, as a store that does not hold them
// would (closed at the end of the test).
func (d *drill) hideBuckets(buckets ...string) string {
	d.t.Helper()
	rp := httputil.NewSingleHostReverseProxy(&url.URL{Scheme: "http", Host: d.cfg.S3Endpoint})
	proxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if slices.Contains(buckets, strings.Split(strings.Trim(r.URL.Path, "/"), "/")[0]) {
			w.WriteHeader(http.StatusNotFound)
			return
		}
		rp.ServeHTTP(w, r)
	}))
	d.t.Cleanup(proxy.Close)
	return strings.TrimPrefix(proxy.URL, "http://")
}

// downloadSum downloads f as the lead inspector and returns the SHA-256 of
// what came.
func downloadSum(t *testing.T, d *drill, visitID string, f store.File) string {
	t.Helper()
	ctx := context.Background()
	dl, err := d.svc.Authorize(ctx, d.person("ofsted", "lead@ofsted.example"), policy.FileDownload, visitID, f.ID)
	if err != nil {
		t.Fatal(err)
	}
	r, err := dl.OpenDownload(ctx, 0, f.Size, false)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	h := sha256.New()
	if _, err := io.Copy(h, r); err != nil {
		t.Fatalf("download: %v", err)
	}
	return hex.EncodeToString(h.Sum(nil))
}
