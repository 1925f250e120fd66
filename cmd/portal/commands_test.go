package main

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"

	"github.com/ofsted-portal/evidence/crypto"
	"github.com/ofsted-portal/evidence/deploy/pgserver"
	"github.com/ofsted-portal/evidence/portal"
	"github.com/ofsted-portal/evidence/portal/retention"
	"github.com/ofsted-portal/evidence/portal/store"
)

func writeKey(t *testing.T, dir, name string, b []byte) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestKeyRotate: rotation moves the key epochs' keys (in the key bucket)
// and any visit key made before epochs to the new master key; afterwards
// only the new master key opens them, and a rotation from a master key that
// opens nothing fails without changing a key.
func TestKeyRotate(t *testing.T) {
	ctx := context.Background()
	st := domainStack(t)
	svc := st.Portal
	epochVisit := oldVisit(t, svc, st, "FV-EPOCH")
	oldPath := st.Env["PORTAL_MASTER_KEY_FILE"]
	oldMaster, err := crypto.LoadMasterKey(oldPath)
	if err != nil {
		t.Fatal(err)
	}
	newText, _ := crypto.GenerateMasterKey(time.Now())
	newPath := writeKey(t, t.TempDir(), "new.key", newText)
	newMaster, _ := crypto.LoadMasterKey(newPath)
	// A visit key from before key epochs: wrapped to the master key itself.
	vk, _ := crypto.NewVisitKey()
	wrapped, _ := oldMaster.Wrap(vk)
	now := time.Now()
	if err := svc.Store().CreateVisit(ctx, store.Visit{ID: "v1", Reference: "FV-1", TitleSealed: []byte("t"), Provider: "Cafcass", RetentionDays: 30, NotificationDate: now, FieldworkStart: now,
		State: "active", Bucket: "b", CreatedAt: now, CreatedBy: "system"}, store.VisitKey{VisitID: "v1", Wrapped: wrapped, Fingerprint: vk.Fingerprint(), CreatedAt: now}, nil, nil); err != nil {
		t.Fatal(err)
	}
	svc.Close()
	for k, val := range st.Env {
		t.Setenv(k, val)
	}
	if err := keyRotate(ctx, []string{"--new-key", newPath}); err != nil {
		t.Fatal(err)
	}
	domain := func(keyFile string) *portal.Service {
		t.Setenv("PORTAL_MASTER_KEY_FILE", keyFile)
		cfg, err := portal.LoadConfig(os.Getenv)
		if err != nil {
			t.Fatal(err)
		}
		s, err := portal.New(ctx, cfg, portal.WithLogger(portal.NewLogger(io.Discard, "error")))
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	// The key made before epochs sits here beside an epoch's, which a
	// deployment never has (the first epoch takes every such key, and
	// the service refuses one found after: TestKeyOutsideEpochsRefused):
	// it is checked by the master keys themselves.
	withNew := domain(newPath)
	if err := withNew.CheckVisitKey(ctx, epochVisit); err != nil {
		t.Errorf("the new master key cannot open visit %s: %v", epochVisit, err)
	}
	k, _ := withNew.Store().WrappedKey(ctx, "v1")
	if got, err := newMaster.Unwrap(k.Wrapped); err != nil || got.Fingerprint() != vk.Fingerprint() {
		t.Fatalf("new master cannot unwrap the key made before epochs: %v", err)
	}
	if _, err := oldMaster.Unwrap(k.Wrapped); err == nil {
		t.Error("the old master key still opens the key made before epochs")
	}
	withNew.Close()
	withOld := domain(oldPath)
	if err := withOld.CheckVisitKey(ctx, epochVisit); err == nil {
		t.Errorf("the old master key still opens visit %s", epochVisit)
	}
	withOld.Close()
	// Rotating from a master key that opens nothing changes nothing.
	t.Setenv("PORTAL_MASTER_KEY_FILE", oldPath)
	if err := keyRotate(ctx, []string{"--new-key", newPath}); err == nil {
		t.Fatal("rotation with a master key that cannot unwrap succeeded")
	}
	check := domain(newPath)
	defer check.Close()
	k2, _ := check.Store().WrappedKey(ctx, "v1")
	if !bytes.Equal(k2.Wrapped, k.Wrapped) {
		t.Fatal("a failed rotation changed a key")
	}
}

func TestCertificateVerify(t *testing.T) {
	dir := t.TempDir()
	pemKey, _ := retention.GenerateSigningKey()
	keyPath := writeKey(t, dir, "signing.key", pemKey)
	key, _ := retention.LoadSigningKey(keyPath)
	pubPath := writeKey(t, dir, "signing.pub", retention.PublicKeyPEM(key))
	signed, _ := retention.Sign(retention.Certificate{VisitID: "v1", Reference: "FV-1", Files: []retention.CertFile{{ID: "f", SHA256: "ab", Size: 2}}}, key)
	good := writeKey(t, dir, "good.json", signed)
	bad := writeKey(t, dir, "bad.json", bytes.Replace(signed, []byte("FV-1"), []byte("FV-2"), 1))
	if err := certificateCmd([]string{"verify", "--public-key", pubPath, good}); err != nil {
		t.Fatalf("good certificate: %v", err)
	}
	if err := certificateCmd([]string{"verify", "--public-key", pubPath, bad}); err == nil {
		t.Fatal("tampered certificate verified")
	}
}

// TestCertificateVerifyOffline: a records manager, given the portal's
// public key and a certificate file and nothing else (no configuration,
// no database), checks it: the golden v5 vector verifies and says when it
// was due and that it was not early; a certificate the portal signed that
// shows a destruction begun before it was due is reported and fails.
func TestCertificateVerifyOffline(t *testing.T) {
	for _, k := range []string{"PORTAL_DATABASE_URL", "PORTAL_SIGNING_KEY_FILE", "PORTAL_MASTER_KEY_FILE"} {
		t.Setenv(k, "")
	}
	golden := "../../portal/retention/testdata/"
	if err := certificateCmd([]string{"verify", "--public-key", golden + "signing-v5.pub", golden + "certificate-v5.json"}); err != nil {
		t.Fatalf("the v5 vector: %v", err)
	}
	if err := certificateCmd([]string{"verify", "--public-key", golden + "signing-v4.pub", golden + "certificate-v5.json"}); err == nil {
		t.Fatal("the v5 vector verified with another key")
	}
	b, _ := os.ReadFile(golden + "certificate-v5.json")
	pub, _ := os.ReadFile(golden + "signing-v5.pub")
	pk, _ := retention.ParsePublicKeyPEM(pub)
	c, err := retention.Verify(b, pk)
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if err := describeCertificate(&out, c); err != nil || !strings.Contains(out.String(), "due 2026-11-30 (London), not before 2026-11-30 00:00:00Z") ||
		!strings.Contains(out.String(), "not early") || !strings.Contains(out.String(), "bucket portal-visit-") ||
		!strings.Contains(out.String(), "key unrecoverable from backups of the database after 2027-01-04 09:58:00Z") {
		t.Fatalf("%v:\n%s", err, out.String())
	}

	dir := t.TempDir()
	pemKey, _ := retention.GenerateSigningKey()
	key, _ := retention.ParseSigningKey(pemKey, "test")
	pubPath := writeKey(t, dir, "signing.pub", retention.PublicKeyPEM(key))
	due := time.Date(2026, 11, 30, 0, 0, 0, 0, time.UTC)
	for name, started := range map[string]time.Time{"on time": due, "a day early": due.Add(-24 * time.Hour)} {
		signed, _ := retention.Sign(retention.Certificate{VisitID: "v1", Reference: "FV-1", Steps: retention.CertSteps{Started: started},
			Due: &retention.CertDue{DestroyOn: "2026-11-30", DestroyAfter: due}}, key)
		err := certificateCmd([]string{"verify", "--public-key", pubPath, writeKey(t, dir, "cert.json", signed)})
		if (err == nil) != (name == "on time") {
			t.Errorf("%s: %v", name, err)
		}
		os.Remove(filepath.Join(dir, "cert.json"))
	}
	// The due moment a certificate states is checked against the notice
	// and the approval it names, not taken on trust: a destruction with
	// no approval waits out its notice, and one approved began after its
	// approval.
	notice := func(given string) *retention.CertNotice {
		at, _ := time.Parse(time.RFC3339, given)
		return &retention.CertNotice{GivenAt: at, Period: "168h0m0s"}
	}
	approval := func(at time.Time) *retention.CertApproval {
		return &retention.CertApproval{Issuer: "https://idp", Subject: "admin", Email: "a@example", At: at}
	}
	for _, tc := range []struct {
		name     string
		notice   *retention.CertNotice
		approval *retention.CertApproval
		started  time.Time
		ok       bool
		noDue    bool // a certificate before v5
	}{
		{"notice run out before the date", notice("2026-11-20T09:00:00Z"), nil, due.Add(time.Hour), true, false},
		{"notice still running", notice("2026-11-29T09:00:00Z"), nil, due.Add(time.Hour), false, false},
		{"notice still running, approved", notice("2026-11-29T09:00:00Z"), approval(due.Add(30 * time.Minute)), due.Add(time.Hour), true, false},
		{"begun before its approval", notice("2026-11-29T09:00:00Z"), approval(due.Add(2 * time.Hour)), due.Add(time.Hour), false, false},
		{"approved before its notice", notice("2026-11-29T09:00:00Z"), approval(due.Add(-3 * 24 * time.Hour)), due.Add(time.Hour), false, false},
		{"a notice period that does not parse", &retention.CertNotice{GivenAt: due.Add(-30 * 24 * time.Hour), Period: "a week"}, nil, due.Add(time.Hour), false, false},
		// An approval given while the inventory was taken, its notice run
		// out: the portal itself writes such a certificate.
		{"approved after it began, its notice run out", notice("2026-11-20T09:00:00Z"), approval(due.Add(2 * time.Hour)), due.Add(time.Hour), true, false},
		{"approved within the clocks' skew of its start", notice("2026-11-29T09:00:00Z"), approval(due.Add(time.Hour + 5*time.Second)), due.Add(time.Hour), true, false},
		{"before v5, notice still running", notice("2026-11-29T09:00:00Z"), nil, due.Add(time.Hour), false, true},
		{"before v5, notice run out", notice("2026-11-20T09:00:00Z"), nil, due.Add(time.Hour), true, true},
	} {
		c := retention.Certificate{VisitID: "v1", Reference: "FV-1", Steps: retention.CertSteps{Started: tc.started},
			Notice: tc.notice, Approval: tc.approval, Due: &retention.CertDue{DestroyOn: "2026-11-30", DestroyAfter: due}}
		if tc.noDue {
			c.Due = nil
		}
		signed, _ := retention.Sign(c, key)
		err := certificateCmd([]string{"verify", "--public-key", pubPath, writeKey(t, dir, "cert.json", signed)})
		if (err == nil) != tc.ok {
			t.Errorf("%s: %v, want ok=%v", tc.name, err, tc.ok)
		}
		os.Remove(filepath.Join(dir, "cert.json"))
	}
}

func TestAuditVerifyCommand(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	pemKey, _ := retention.GenerateSigningKey()
	keyPath := writeKey(t, dir, "signing.key", pemKey)
	key, _ := retention.LoadSigningKey(keyPath)
	st := testDatabase(t)()
	for i := 0; i < 3; i++ {
		st.Audit(ctx, store.AuditRecord{Time: time.Now(), Action: "signin", Outcome: "success"})
	}
	seq, hash, _ := st.AuditHead(ctx)
	st.AddCheckpoint(ctx, store.SignCheckpoint(seq, hash, time.Now(), key))
	t.Setenv("PORTAL_SIGNING_KEY_FILE", keyPath)
	if err := auditVerify(ctx, []string{"--without-anchors"}); err != nil { // a trail made here, never anchored
		t.Fatalf("intact trail: %v", err)
	}
	for _, q := range append(dropAuditTriggers(st), `UPDATE audit SET outcome = 'failure' WHERE seq = 2`) {
		if _, err := st.DB().Exec(q); err != nil {
			t.Fatal(err)
		}
	}
	st.Close()
	err := auditVerify(ctx, []string{"--without-anchors"})
	if err == nil || !strings.Contains(err.Error(), "BROKEN at record 2") {
		t.Fatalf("edited trail: %v", err)
	}
}

// TestRetentionRunRecordsOnlyDestruction: a one-off sweep from the command
// line builds the domain without serving it, so the trail gains exactly the
// destruction's records (no "portal.started").
func TestRetentionRunRecordsOnlyDestruction(t *testing.T) {
	ctx := context.Background()
	st := domainStack(t)
	svc := st.Portal
	id := oldVisit(t, svc, st, "FV-OLD")
	head, _, err := svc.Store().AuditHead(ctx)
	if err != nil {
		t.Fatal(err)
	}
	svc.Close()
	for k, val := range st.Env {
		t.Setenv(k, val)
	}
	// No notice period: the visit is long past its date (the notice rule
	// has tests of its own).
	t.Setenv("PORTAL_DESTRUCTION_NOTICE", "0d")
	if err := retentionRun(ctx, nil); err != nil {
		t.Fatal(err)
	}
	db, err := portal.OpenDatabase(ctx, st.Config)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	recs, err := db.AuditRecords(ctx, store.AuditFilter{AfterSeq: head})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, r := range recs {
		if r.VisitID != id {
			t.Errorf("record %d (%s) is not of the destroyed visit", r.Seq, r.Action)
		}
		got = append(got, r.Action)
	}
	want := []string{"destruction.notice", "destruction.started", "destruction.key_destroyed", "key.epoch_started", "destruction.key_epoch_superseded",
		"destruction.objects_deleted", "destruction.certificate_issued", "visit.destroyed"}
	if !slices.Equal(got, want) {
		t.Fatalf("portal retention run recorded %v, want exactly %v", got, want)
	}
}

// TestAdminGrantBySubject: the first administrator can be someone whose
// provider gives no email, named by issuer and subject.
func TestAdminGrantBySubject(t *testing.T) {
	ctx := context.Background()
	open := testDatabase(t)
	const iss = "https://login.example/tenant/v2.0"
	if err := adminGrant(ctx, []string{"--issuer", iss, "--subject", "AAAA-sub", "--role", "administrator"}); err != nil {
		t.Fatal(err)
	}
	if err := adminGrant(ctx, []string{"--issuer", iss, "--subject", "s", "--email", "a@x.example"}); err == nil {
		t.Fatal("both --subject and --email accepted")
	}
	st := open()
	defer st.Close()
	u, err := st.SignIn(ctx, iss, "AAAA-sub", "", "", nil, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if ok, _ := st.HasPortalRole(ctx, u.ID, store.RoleAdministrator); !ok {
		t.Fatal("granted by subject, not an administrator after sign-in")
	}
}

// TestAdminDisable: portal admin disable refuses the person's sign-in and
// says so; run again, it says they were disabled already; portal admin
// enable lets them in again, and enabling someone not disabled, or
// disabling someone who never signed in, fails saying why. Both are
// recorded as the operator's.
func TestAdminDisable(t *testing.T) {
	ctx := context.Background()
	open := testDatabase(t)
	const iss = "https://login.example/tenant/v2.0"
	st := open()
	if _, err := st.SignIn(ctx, iss, "sub-hmi", "hmi@ofsted.example", "HMI", nil, time.Now()); err != nil {
		t.Fatal(err)
	}
	st.Close()
	admin := func(args ...string) (string, error) {
		var out bytes.Buffer
		err := adminDisable(ctx, args[0], args[1:], &out)
		return out.String(), err
	}
	if out, err := admin("disable", "--issuer", iss, "--email", "HMI@ofsted.example"); err != nil || !strings.Contains(out, "disabled hmi@ofsted.example") || strings.Contains(out, "already") {
		t.Fatalf("disable: %q, %v", out, err)
	}
	if out, err := admin("disable", "--issuer", iss, "--subject", "sub-hmi"); err != nil || !strings.Contains(out, "(already disabled)") {
		t.Fatalf("disable again: %q, %v", out, err)
	}
	st = open()
	if _, err := st.SignIn(ctx, iss, "sub-hmi", "hmi@ofsted.example", "HMI", nil, time.Now()); !errors.Is(err, store.ErrUserDisabled) {
		t.Errorf("sign-in of the disabled person: %v", err)
	}
	st.Close()
	for _, bad := range [][]string{
		{"disable", "--issuer", iss, "--email", "nobody@ofsted.example"},
		{"disable", "--issuer", iss},
		{"disable", "--issuer", iss, "--email", "a@b.example", "--subject", "s"},
	} {
		if _, err := admin(bad...); err == nil {
			t.Errorf("%v accepted", bad)
		}
	}
	if out, err := admin("enable", "--issuer", iss, "--email", "hmi@ofsted.example"); err != nil || !strings.Contains(out, "enabled hmi@ofsted.example") {
		t.Fatalf("enable: %q, %v", out, err)
	}
	if _, err := admin("enable", "--issuer", iss, "--email", "hmi@ofsted.example"); err == nil || !strings.Contains(err.Error(), "is not disabled") {
		t.Errorf("enabling someone not disabled: %v", err)
	}
	st = open()
	defer st.Close()
	if _, err := st.SignIn(ctx, iss, "sub-hmi", "hmi@ofsted.example", "HMI", nil, time.Now()); err != nil {
		t.Errorf("sign-in after enable: %v", err)
	}
	var n int
	if err := st.DB().QueryRow(`SELECT COUNT(*) FROM audit WHERE action IN ('user.disabled', 'user.enabled') AND actor_subject LIKE 'operator:%'`).Scan(&n); err != nil || n != 3 {
		t.Errorf("%d records of the operator's disables and enables (%v), want 3", n, err)
	}
}

// TestAdminRoleActsOnTheDatabaseItNames: portal admin revoke run against a
// database that is not there (PORTAL_DB_PATH unset or mistyped) creates
// none and fails, rather than report of an empty one that the departing
// administrator "holds no administrator role"; and a grant to an issuer no
// configured identity provider has (a slash too many) is refused rather
// than left never to bind.
func TestAdminRoleActsOnTheDatabaseItNames(t *testing.T) {
	if pgserver.TestDatabaseWanted() {
		t.Skip("a database file that is not there is SQLite's")
	}
	ctx := context.Background()
	db := filepath.Join(t.TempDir(), "typo", "portal.db")
	t.Setenv("PORTAL_DB_PATH", db)
	if err := adminRevoke(ctx, []string{"--issuer", "https://login.example/", "--email", "leaver@ofsted.example"}); err == nil {
		t.Fatal("a revoke against a database that is not there succeeded")
	}
	if _, err := os.Stat(db); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("the revoke made a database at the path it was given: %v", err)
	}
	testDatabase(t)
	t.Setenv("PORTAL_IDPS", "ofsted")
	t.Setenv("PORTAL_IDP_OFSTED_ISSUER", "https://login.example/ofsted")
	err := adminGrant(ctx, []string{"--issuer", "https://login.example/ofsted/", "--email", "first.admin@ofsted.example"})
	if err == nil || !strings.Contains(err.Error(), "https://login.example/ofsted") {
		t.Fatalf("a grant to an issuer no provider has: %v, want a refusal naming the configured issuers", err)
	}
	if err := adminGrant(ctx, []string{"--issuer", "https://login.example/ofsted", "--email", "first.admin@ofsted.example"}); err != nil {
		t.Fatalf("a grant to the configured issuer: %v", err)
	}
}

// TestRetentionRunRetriesAtOnce: a destruction that failed part-way (its
// key destroyed, an object the store would not delete) backs off before
// the scheduled sweeps try it again. The operator who fixed the cause and
// runs portal retention run, as docs/operating.md says, has it tried now:
// before, the run skipped it, printed "nothing due" and exited 0, the
// visit still half-destroyed.
func TestRetentionRunRetriesAtOnce(t *testing.T) {
	ctx := context.Background()
	st := domainStack(t)
	svc := st.Portal
	id := oldVisit(t, svc, st, "FV-STUCK")
	v, err := svc.Store().Visit(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	svc.Close()
	for k, val := range st.Env {
		t.Setenv(k, val)
	}
	t.Setenv("PORTAL_DESTRUCTION_NOTICE", "0d")
	// An object the store will not delete: under a legal hold of its own.
	mc := svc.Blobs().Client()
	on := minio.LegalHoldEnabled
	info, err := mc.PutObject(ctx, v.Bucket, "stray", strings.NewReader("x"), 1, minio.PutObjectOptions{LegalHold: on})
	if err != nil {
		t.Fatal(err)
	}
	if err := retentionRun(ctx, nil); err == nil {
		t.Fatal("the destruction did not fail")
	}
	db, err := portal.OpenDatabase(ctx, st.Config)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if got, err := db.Visit(ctx, id); err != nil || got.State != "destroying" {
		t.Fatalf("after the failure the visit is %s (%v), want destroying", got.State, err)
	}
	off := minio.LegalHoldDisabled
	if err := mc.PutObjectLegalHold(ctx, v.Bucket, "stray", minio.PutObjectLegalHoldOptions{VersionID: info.VersionID, Status: &off}); err != nil {
		t.Fatal(err)
	}
	if err := retentionRun(ctx, nil); err != nil {
		t.Fatal(err)
	}
	if got, _ := db.Visit(ctx, id); got.State != "destroyed" {
		t.Fatalf("the run after the cause was fixed left the visit %s, want destroyed", got.State)
	}
}

// TestKeyNewEpochNamesTheOperator: portal key new-epoch was recorded as
// the portal's own act (role "system", subject "portal"), like an epoch
// started by a destruction: the trail did not say which operator re-wrapped
// every visit key, as it does for a master key rotation.
func TestKeyNewEpochNamesTheOperator(t *testing.T) {
	ctx := context.Background()
	st := domainStack(t)
	svc := st.Portal
	svc.Close()
	for k, val := range st.Env {
		t.Setenv(k, val)
	}
	t.Setenv("USER", "ops.person")
	if err := keyNewEpoch(ctx, nil, io.Discard); err != nil {
		t.Fatal(err)
	}
	db, err := portal.OpenDatabase(ctx, st.Config)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	recs, err := db.AuditRecords(ctx, store.AuditFilter{Action: "key.epoch_started"})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, r := range recs {
		if strings.Contains(r.Detail, `"reason":"operator"`) {
			got = append(got, r.Role+" "+r.ActorSubject)
		}
	}
	if len(got) != 1 || got[0] != "operator operator:ops.person" {
		t.Fatalf("portal key new-epoch recorded as %q, want once, as the operator who ran it", got)
	}
}
