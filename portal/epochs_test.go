package portal_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"filippo.io/age"
	"github.com/ofsted-portal/evidence/crypto"
	"github.com/ofsted-portal/evidence/deploy/devstack"
	"github.com/ofsted-portal/evidence/policy"
	"github.com/ofsted-portal/evidence/portal"
	"github.com/ofsted-portal/evidence/portal/retention"
	"github.com/ofsted-portal/evidence/portal/store"
)

// TestDestroyedKeyUnrecoverableFromBackups: a copy of the database taken
// before a destruction holds the visit key wrapped to a key epoch. Right
// after the destruction every live key moves to a new epoch; once the old
// epoch is retired (PORTAL_KEY_EPOCH_RETAIN later), that copy together
// with every key the portal still holds (the master key, every epoch key
// in the key bucket) cannot yield the visit key, while live visits keep
// working. The certificate states when that happens.
func TestDestroyedKeyUnrecoverableFromBackups(t *testing.T) {
	d := startDomain(t)
	ctx := context.Background()
	st, bl := d.svc.Store(), d.svc.Blobs()
	v := d.demo()
	lead := d.person("ofsted", "lead@ofsted.example")
	admin := d.person("ofsted", "admin@ofsted.example")
	// Notified on a working day: today, or the working day before it when
	// the test runs on a weekend or a bank holiday.
	cal, notified := d.svc.Calendar(), d.svc.Today()
	if !cal.IsWorkingDay(notified) {
		notified = cal.PreviousWorkingDay(notified)
	}
	live, err := d.svc.CreateVisit(ctx, admin, portal.NewVisit{Reference: "FV-LIVE", Title: "Live", Provider: "Cafcass",
		NotificationDate: notified.Format(time.DateOnly), FieldworkStart: cal.AddWorkingDays(notified, 5).Format(time.DateOnly)})
	if err != nil {
		t.Fatal(err)
	}
	master, err := crypto.LoadMasterKey(d.Config.MasterKey)
	if err != nil {
		t.Fatal(err)
	}
	// The "backup": the visit's key row as the database held it.
	backup, err := st.WrappedKey(ctx, v.ID)
	if err != nil || backup.Epoch == "" {
		t.Fatalf("the demo visit's key is not wrapped to an epoch: %+v %v", backup, err)
	}
	if _, err := master.Unwrap(backup.Wrapped); !errors.Is(err, crypto.ErrUnwrap) {
		t.Fatalf("the master key alone opens a key wrapped to an epoch: %v", err)
	}
	// opens tries every key the portal holds against the backup's row.
	opens := func() (bool, int) {
		objs, err := bl.ReadAll(ctx, d.Config.KeyBucket, "epochs/")
		if err != nil {
			t.Fatal(err)
		}
		versions, err := bl.Versions(ctx, d.Config.KeyBucket, "")
		if err != nil || len(versions) != len(objs) {
			t.Fatalf("key bucket: %d versions for %d objects: %v", len(versions), len(objs), err)
		}
		for _, w := range objs {
			e, err := master.UnwrapEpoch(w)
			if err != nil {
				t.Fatalf("an epoch key the master key cannot open: %v", err)
			}
			if k, err := e.Unwrap(backup.Wrapped); err == nil && k.Fingerprint() == backup.Fingerprint {
				return true, len(objs)
			}
		}
		return false, len(objs)
	}
	if ok, _ := opens(); !ok {
		t.Fatal("before the destruction the backup's key does not open: the test proves nothing")
	}

	day := d.publish(lead, v)
	d.at(day.AddDate(0, 0, d.Config.RetentionDays))
	d.svc.RunRetention(ctx) // gives the notice
	if _, err := d.mustAccess(admin, policy.DestructionApprove).ApproveDestruction(ctx); err != nil {
		t.Fatal(err)
	}
	if ids, err := d.svc.RunRetention(ctx); err != nil || len(ids) != 1 {
		t.Fatalf("destruction: %v %v", ids, err)
	}
	des, err := st.GetDestruction(ctx, v.ID)
	if err != nil || des.KeyEpoch != backup.Epoch || des.EpochSupersededAt.IsZero() {
		t.Fatalf("destruction record: %+v %v", des, err)
	}
	if want := des.EpochSupersededAt.Add(d.Config.KeyEpochRetain); !des.EpochRetireAfter.Equal(want) {
		t.Fatalf("epoch key destroyed from %s, want %s", des.EpochRetireAfter, want)
	}
	c, err := retention.Verify(des.Certificate, d.svc.SigningPublicKey())
	if err != nil || c.Type != retention.CertificateTypeV5 || c.KeyEpoch == nil || c.KeyEpoch.ID != backup.Epoch ||
		!c.KeyEpoch.UnrecoverableFromBackupsAfter.Equal(des.EpochRetireAfter.UTC()) {
		t.Fatalf("certificate: %+v %v", c.KeyEpoch, err)
	}
	old, err := st.GetEpoch(ctx, backup.Epoch)
	if err != nil || old.SupersededAt.IsZero() || !old.RetiredAt.IsZero() {
		t.Fatalf("old epoch after the destruction: %+v %v", old, err)
	}
	if n, _ := st.KeysInEpoch(ctx, backup.Epoch); n != 0 {
		t.Fatalf("%d live keys still wrapped to the superseded epoch", n)
	}
	// Until the epoch is retired, backups still yield the key: that is the
	// bound the certificate states, honestly.
	if ok, _ := opens(); !ok {
		t.Fatal("the superseded epoch's key is gone before its time")
	}
	d.svc.Sweep(ctx)
	if e, _ := st.GetEpoch(ctx, backup.Epoch); !e.RetiredAt.IsZero() {
		t.Fatal("an epoch retired before PORTAL_KEY_EPOCH_RETAIN ran")
	}

	d.offset.Add(int64(d.Config.KeyEpochRetain + time.Hour))
	d.svc.Sweep(ctx)
	old, err = st.GetEpoch(ctx, backup.Epoch)
	if err != nil || old.RetiredAt.IsZero() {
		t.Fatalf("the superseded epoch was not retired: %+v %v", old, err)
	}
	if ok, n := opens(); ok || n == 0 {
		t.Fatalf("after retirement the backup's key opens with the portal's keys (%d epoch keys held)", n)
	}
	if err := d.svc.CheckVisitKey(ctx, live.ID); err != nil {
		t.Fatalf("a live visit's key after the retirement: %v", err)
	}
	recs, err := st.AuditRecords(ctx, store.AuditFilter{})
	if err != nil {
		t.Fatal(err)
	}
	retired := 0
	for _, r := range recs {
		if r.Action == "key.epoch_retired" && r.Object == backup.Epoch {
			retired++
		}
	}
	if retired != 1 {
		t.Fatalf("%d key.epoch_retired records for the epoch", retired)
	}
}

// TestDestructionSupersedesTheEpochTheKeyWasDeletedFrom: a destruction
// that stops after its first step (a crash, or a failure the sweep retries
// later) can resume after the key epoch moved on, its key with it. The
// epoch it supersedes, and the one its certificate names, is the one the
// key was wrapped to when it was deleted: a backup taken in between
// stops opening the key with the portal's keys once the certificate says
// it is unrecoverable.
func TestDestructionSupersedesTheEpochTheKeyWasDeletedFrom(t *testing.T) {
	crash := true
	d := startDomainWith(t, func(o *devstack.Options) {
		o.PortalOptions = []portal.Option{portal.WithRetentionHook(func(step string) error {
			if step == "destroying" && crash {
				return errors.New("stopped after step a")
			}
			return nil
		})}
	})
	ctx := context.Background()
	st, bl := d.svc.Store(), d.svc.Blobs()
	v := d.demo()
	lead := d.person("ofsted", "lead@ofsted.example")
	admin := d.person("ofsted", "admin@ofsted.example")
	master, err := crypto.LoadMasterKey(d.Config.MasterKey)
	if err != nil {
		t.Fatal(err)
	}
	day := d.publish(lead, v)
	d.at(day.AddDate(0, 0, d.Config.RetentionDays))
	d.svc.RunRetention(ctx) // gives the notice
	if _, err := d.mustAccess(admin, policy.DestructionApprove).ApproveDestruction(ctx); err != nil {
		t.Fatal(err)
	}
	if ids, err := d.svc.RunRetention(ctx); err == nil || len(ids) != 0 {
		t.Fatalf("the destruction did not stop after step a: %v %v", ids, err)
	}
	des, err := st.GetDestruction(ctx, v.ID)
	if err != nil || des.KeyEpoch == "" || !des.KeyDestroyedAt.IsZero() {
		t.Fatalf("destruction after step a: %+v %v", des, err)
	}
	begun := des.KeyEpoch
	// Meanwhile the epoch moves on (here an operator's rotation; another
	// visit's destruction does the same), and every live key with it.
	moved, _, err := d.svc.RotateKeyEpoch(ctx, portal.OperatorActor("test", "key new-epoch"), "operator")
	if err != nil {
		t.Fatal(err)
	}
	backup, err := st.WrappedKey(ctx, v.ID) // a backup taken now
	if err != nil || backup.Epoch != moved.ID || moved.ID == begun {
		t.Fatalf("after the rotation the key is wrapped to %q (rotated from %s to %s): %v", backup.Epoch, begun, moved.ID, err)
	}
	crash = false
	if ids, err := d.svc.RunRetention(ctx); err != nil || len(ids) != 1 {
		t.Fatalf("resumed destruction: %v %v", ids, err)
	}
	des, err = st.GetDestruction(ctx, v.ID)
	if err != nil || des.CompletedAt.IsZero() {
		t.Fatalf("destruction not complete: %+v %v", des, err)
	}
	if des.KeyEpoch != moved.ID {
		t.Errorf("the destruction records epoch %s, but the key was deleted while wrapped to %s", des.KeyEpoch, moved.ID)
	}
	c, err := retention.Verify(des.Certificate, d.svc.SigningPublicKey())
	if err != nil || c.KeyEpoch == nil {
		t.Fatalf("certificate: %+v %v", c, err)
	}
	if c.KeyEpoch.ID != moved.ID || !c.KeyEpoch.UnrecoverableFromBackupsAfter.Equal(des.EpochRetireAfter.UTC()) {
		t.Errorf("the certificate names epoch %s (unrecoverable after %s); the key was deleted while wrapped to %s (retire after %s)",
			c.KeyEpoch.ID, c.KeyEpoch.UnrecoverableFromBackupsAfter, moved.ID, des.EpochRetireAfter)
	}
	if e, err := st.GetEpoch(ctx, moved.ID); err != nil || e.SupersededAt.IsZero() {
		t.Errorf("the epoch the key was deleted from (%s) is still current: %v", moved.ID, err)
	}
	// Past the date the certificate states, once the janitor has run.
	d.at(c.KeyEpoch.UnrecoverableFromBackupsAfter.AddDate(0, 0, 2))
	d.svc.Sweep(ctx)
	objs, err := bl.ReadAll(ctx, d.Config.KeyBucket, "epochs/")
	if err != nil {
		t.Fatal(err)
	}
	for _, w := range objs {
		e, err := master.UnwrapEpoch(w)
		if err != nil {
			t.Fatal(err)
		}
		if k, err := e.Unwrap(backup.Wrapped); err == nil && k.Fingerprint() == backup.Fingerprint {
			t.Fatalf("at %s, after the certificate's %s, a backup taken before the key was deleted still opens it with the portal's keys",
				d.svc.Now().Format(time.RFC3339), c.KeyEpoch.UnrecoverableFromBackupsAfter.Format(time.RFC3339))
		}
	}
}

// TestEpochNotStartedUnderARotatedMasterKey: after `portal key rotate` an
// instance not yet restarted still holds the old master key. A key epoch
// it starts then (a destruction supersedes the current epoch; an operator
// runs key new-epoch) would be wrapped to the old master key only, and
// every live visit key moved to it: once the instances run with the new
// master key, no visit key opens. An instance whose master key does not
// open the stored current epoch refuses to start one, and after the
// rotation the new master key opens every live visit.
func TestEpochNotStartedUnderARotatedMasterKey(t *testing.T) {
	ctx := context.Background()
	d := startDomain(t)
	v := d.demo()
	text, err := crypto.GenerateMasterKey(time.Now())
	if err != nil {
		t.Fatal(err)
	}
	newPath := filepath.Join(t.TempDir(), "new.key")
	if err := portal.WriteNewKeyFile(newPath, text); err != nil {
		t.Fatal(err)
	}
	newMaster, err := crypto.LoadMasterKey(newPath)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := d.svc.RotateMasterKey(ctx, portal.OperatorActor("op", "key rotate"), newMaster); err != nil {
		t.Fatal(err)
	}
	// d.svc has not been restarted: it still holds the old master key.
	if _, _, err := d.svc.RotateKeyEpoch(ctx, portal.OperatorActor("test", "key new-epoch"), "operator"); err == nil {
		t.Error("an instance whose master key was rotated away started a key epoch")
	}
	d.Config.MasterKey = newPath
	restarted := d.another()
	if err := restarted.CheckVisitKey(ctx, v.ID); err != nil {
		t.Fatalf("after the rotation the new master key cannot open a live visit's key: %v", err)
	}
}

// TestWrongMasterKeyIsNotReady: an instance started with a master key that
// opens none of the stored keys (the wrong key file; the new key of a
// rotation not yet run) passed the self-test, which wraps and unwraps a
// throwaway key, and reported itself ready: every request for a visit
// then failed on it. Readiness checks the master key against the current
// key epoch's key in the key bucket. An instance that opened that key
// before the master key was rotated serves on, degraded, until restarted.
func TestWrongMasterKeyIsNotReady(t *testing.T) {
	ctx := context.Background()
	d := startDomain(t)
	d.demo()
	ready := func(svc *portal.Service) portal.Readiness {
		t.Helper()
		for range 100 {
			if r := svc.Ready(ctx); r.Checks["answer"] == "" {
				return r
			}
			time.Sleep(100 * time.Millisecond)
		}
		t.Fatal("readiness never answered in time")
		return portal.Readiness{}
	}
	if r := ready(d.svc); !r.Ready || r.Checks["key"] != "ok" {
		t.Fatalf("the portal with its own master key: %+v", r)
	}
	text, err := crypto.GenerateMasterKey(time.Now())
	if err != nil {
		t.Fatal(err)
	}
	wrongPath := filepath.Join(t.TempDir(), "wrong.key")
	if err := portal.WriteNewKeyFile(wrongPath, text); err != nil {
		t.Fatal(err)
	}
	right := d.Config.MasterKey
	d.Config.MasterKey = wrongPath
	if r := ready(d.another()); r.Ready || r.Checks["key"] != "failing" {
		t.Fatalf("an instance with the wrong master key: %+v", r)
	}
	// A rotation: the running instance opened the current epoch before it.
	d.Config.MasterKey = right
	wrong, err := crypto.LoadMasterKey(wrongPath)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := d.svc.RotateMasterKey(ctx, portal.OperatorActor("op", "key rotate"), wrong); err != nil {
		t.Fatal(err)
	}
	d.svc.CheckKeyNow()         // as it does once a minute
	time.Sleep(2 * time.Second) // past the cached answer
	if r := ready(d.svc); !r.Ready || r.Degraded["key:rotated"] == "" {
		t.Fatalf("an instance not restarted after a rotation: %+v", r)
	}
}

// TestSubstitutedVisitKeyRefused: age encrypts to a public recipient
// without saying who encrypted, and a key epoch's recipient is in the
// database. Someone who can write to the database (and holds no key) could
// wrap a visit key of their own to the current epoch and put it, with its
// fingerprint, in a visit's row: the portal opened it and sealed the
// visit's new names, questions and receipts, and encrypted its new
// evidence, to a key they hold. Or they could copy another visit's row, so
// that its key outlives that visit's destruction. A wrapped key is bound
// to its visit by the key that wraps it; neither row opens.
func TestSubstitutedVisitKeyRefused(t *testing.T) {
	ctx := context.Background()
	d := startDomain(t)
	st := d.svc.Store()
	v := d.demo()
	if err := d.svc.CheckVisitKey(ctx, v.ID); err != nil {
		t.Fatal(err)
	}
	row, err := st.WrappedKey(ctx, v.ID)
	if err != nil {
		t.Fatal(err)
	}
	e, err := st.GetEpoch(ctx, row.Epoch)
	if err != nil {
		t.Fatal(err)
	}
	forgeKeyRow(t, st, v.ID, e.Recipient)
	if err := d.svc.CheckVisitKey(ctx, v.ID); err == nil {
		t.Error("a visit key wrapped by someone without the epoch key was opened")
	}
	// Another visit's row, copied whole.
	admin := d.person("ofsted", "admin@ofsted.example")
	cal, notified := d.svc.Calendar(), d.svc.Today()
	if !cal.IsWorkingDay(notified) {
		notified = cal.PreviousWorkingDay(notified)
	}
	other, err := d.svc.CreateVisit(ctx, admin, portal.NewVisit{Reference: "FV-OTHER", Title: "Other", Provider: "Cafcass",
		NotificationDate: notified.Format(time.DateOnly), FieldworkStart: cal.AddWorkingDays(notified, 5).Format(time.DateOnly)})
	if err != nil {
		t.Fatal(err)
	}
	orow, err := st.WrappedKey(ctx, other.ID)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.DB().Exec(`UPDATE visit_keys SET wrapped = ?, fingerprint = ?, epoch = ? WHERE visit_id = ?`, orow.Wrapped, orow.Fingerprint, orow.Epoch, v.ID); err != nil {
		t.Fatal(err)
	}
	if err := d.svc.CheckVisitKey(ctx, v.ID); err == nil {
		t.Error("another visit's wrapped key was opened as this visit's")
	}
	if err := d.svc.CheckVisitKey(ctx, other.ID); err != nil {
		t.Fatalf("the other visit's own key: %v", err)
	}
}

// forgeKeyRow puts in a visit's key row a key of its own wrapped to the
// epoch recipient, as someone who can write to the database could.
func forgeKeyRow(t *testing.T, st *store.Store, visitID, recipient string) {
	t.Helper()
	id, err := age.GenerateHybridIdentity()
	if err != nil {
		t.Fatal(err)
	}
	rcpt, err := age.ParseHybridRecipient(recipient)
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	w, _ := age.Encrypt(&b, rcpt)
	io.WriteString(w, id.String())
	w.Close()
	sum := sha256.Sum256([]byte(id.Recipient().String()))
	if _, err := st.DB().Exec(`UPDATE visit_keys SET wrapped = ?, fingerprint = ? WHERE visit_id = ?`, b.Bytes(), hex.EncodeToString(sum[:]), visitID); err != nil {
		t.Fatal(err)
	}
}

// TestEpochOfAnEarlierVersionIsReplaced: a deployment upgraded from a
// version whose epoch keys accept visit keys bound to no visit moves every
// live key, bound, to a new epoch that refuses unbound ones; it does not
// wait for the next destruction to close the substitution of a visit key.
func TestEpochOfAnEarlierVersionIsReplaced(t *testing.T) {
	ctx := context.Background()
	d := startDomain(t)
	st, bl := d.svc.Store(), d.svc.Blobs()
	v := d.demo()
	master, err := crypto.LoadMasterKey(d.Config.MasterKey)
	if err != nil {
		t.Fatal(err)
	}
	// As an earlier version left it: the current epoch's key without the
	// binding line, and the keys wrapped to it unbound.
	row, err := st.WrappedKey(ctx, v.ID)
	if err != nil {
		t.Fatal(err)
	}
	obj, err := bl.GetSmall(ctx, d.Config.KeyBucket, "epochs/"+row.Epoch+".age")
	if err != nil {
		t.Fatal(err)
	}
	cur, err := master.UnwrapEpoch(obj)
	if err != nil {
		t.Fatal(err)
	}
	text, _ := crypto.GenerateEpochKey(time.Now())
	text = bytes.Replace(text, []byte("# visit keys bound: v1\n"), nil, 1)
	old, _ := crypto.ParseMasterKey(bytes.NewReader(text))
	if old.BindsKeys() {
		t.Fatal("the earlier version's epoch key binds its keys: the test proves nothing")
	}
	wrapped, _ := master.WrapEpoch(text)
	e := store.Epoch{ID: store.NewID(), Recipient: old.Recipient(), CreatedAt: time.Now()}
	if err := bl.PutSmall(ctx, d.Config.KeyBucket, "epochs/"+e.ID+".age", wrapped); err != nil {
		t.Fatal(err)
	}
	if _, err := st.StartEpoch(ctx, e, time.Now().Add(d.Config.KeyEpochRetain), func(k store.VisitKey) ([]byte, error) {
		vk, err := cur.UnwrapFor(k.Wrapped, k.VisitID)
		if err != nil {
			return nil, err
		}
		return old.Wrap(vk)
	}); err != nil {
		t.Fatal(err)
	}
	upgraded := d.another()
	if err := upgraded.CheckVisitKey(ctx, v.ID); err != nil {
		t.Fatalf("a key of the earlier version: %v", err)
	}
	if err := upgraded.EnsureKeyEpoch(ctx); err != nil {
		t.Fatal(err)
	}
	now, err := st.CurrentEpoch(ctx)
	if err != nil || now.ID == e.ID {
		t.Fatalf("the earlier version's epoch %s is still current: %s %v", e.ID, now.ID, err)
	}
	if err := upgraded.CheckVisitKey(ctx, v.ID); err != nil {
		t.Fatalf("the key after the move: %v", err)
	}
	forgeKeyRow(t, st, v.ID, now.Recipient)
	if err := upgraded.CheckVisitKey(ctx, v.ID); err == nil {
		t.Fatal("a visit key wrapped by someone without the epoch key was opened after the move")
	}
}

// TestRotationToTheSameKeyRefused: rotating because the master key may
// have leaked, the operator passes a copy of the current key as the new
// one (or a file that still holds its identity). The rotation re-wrapped
// everything to it, recorded master_key.rotated and said to destroy the
// old key file, while the key that may have leaked still opened every
// epoch. It is refused, and nothing is recorded.
func TestRotationToTheSameKeyRefused(t *testing.T) {
	ctx := context.Background()
	d := startDomain(t)
	d.demo()
	cur, err := os.ReadFile(d.Config.MasterKey)
	if err != nil {
		t.Fatal(err)
	}
	next, _ := crypto.GenerateMasterKey(time.Now())
	for name, text := range map[string][]byte{"a copy of the current key": cur, "the next key beside the current one": append(append([]byte(nil), next...), cur...)} {
		to, err := crypto.ParseMasterKey(bytes.NewReader(text))
		if err != nil {
			t.Fatal(err)
		}
		if _, _, err := d.svc.RotateMasterKey(ctx, portal.OperatorActor("op", "key rotate"), to); err == nil {
			t.Errorf("rotation to %s succeeded", name)
		}
	}
	recs, err := d.svc.Store().AuditRecords(ctx, store.AuditFilter{Action: "master_key.rotated"})
	if err != nil || len(recs) != 0 {
		t.Fatalf("%d master_key.rotated records: %v", len(recs), err)
	}
}

// TestOrphanEpochKeyRemoved: a process that stops while starting a key
// epoch, after writing the epoch's key to the key bucket and before the
// database commits its row, leaves a key object no row names: nothing is
// wrapped to it, and nothing would ever retire it. The janitor removes
// every version of such an object (and records it) once it is older than
// PORTAL_KEY_EPOCH_RETAIN, as long as the backups a restore could bring
// back are kept, so neither an epoch being started now nor one a restored
// backup may still name is taken; the live epochs' keys stay.
func TestOrphanEpochKeyRemoved(t *testing.T) {
	d := startDomain(t)
	ctx := context.Background()
	st, bl := d.svc.Store(), d.svc.Blobs()
	v := d.demo()
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
	orphan := "epochs/" + store.NewID() + ".age"
	if err := bl.PutSmall(ctx, d.Config.KeyBucket, orphan, wrapped); err != nil {
		t.Fatal(err)
	}
	// One the master key does not open: another deployment's, on a key
	// bucket shared by mistake. It is not this portal's to remove.
	otherText, _ := crypto.GenerateMasterKey(time.Now())
	other, err := crypto.ParseMasterKey(bytes.NewReader(otherText))
	if err != nil {
		t.Fatal(err)
	}
	foreignWrapped, err := other.WrapEpoch(text)
	if err != nil {
		t.Fatal(err)
	}
	foreign := "epochs/" + store.NewID() + ".age"
	if err := bl.PutSmall(ctx, d.Config.KeyBucket, foreign, foreignWrapped); err != nil {
		t.Fatal(err)
	}
	objects := func() map[string][]byte {
		t.Helper()
		objs, err := bl.ReadAll(ctx, d.Config.KeyBucket, "epochs/")
		if err != nil {
			t.Fatal(err)
		}
		return objs
	}
	d.svc.Sweep(ctx)
	if _, ok := objects()[orphan]; !ok {
		t.Fatal("an epoch key written moments ago (its epoch may be starting now) was removed")
	}
	d.offset.Store(int64(d.Config.KeyEpochRetain - time.Hour))
	d.svc.Sweep(ctx)
	if _, ok := objects()[orphan]; !ok {
		t.Fatal("an epoch key no row names was removed before PORTAL_KEY_EPOCH_RETAIN")
	}
	d.offset.Store(int64(d.Config.KeyEpochRetain + time.Hour))
	d.svc.Sweep(ctx)
	objs := objects()
	if _, ok := objs[orphan]; ok {
		t.Fatalf("an epoch key no row names is still in the key bucket after PORTAL_KEY_EPOCH_RETAIN and a janitor round: %s", orphan)
	}
	if _, ok := objs[foreign]; !ok {
		t.Error("an epoch key the master key does not open (not this portal's) was removed")
	}
	if vs, err := bl.Versions(ctx, d.Config.KeyBucket, orphan); err != nil || len(vs) != 0 {
		t.Fatalf("versions of the orphan left: %v %v", vs, err)
	}
	all, err := st.Epochs(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range all {
		if _, ok := objs["epochs/"+e.ID+".age"]; !ok && e.RetiredAt.IsZero() {
			t.Errorf("the live epoch %s lost its key", e.ID)
		}
	}
	if err := d.svc.CheckVisitKey(ctx, v.ID); err != nil {
		t.Errorf("the demo visit's key no longer opens: %v", err)
	}
	recs, err := st.AuditRecords(ctx, store.AuditFilter{Action: "key.epoch_orphan_destroyed"})
	if err != nil || len(recs) != 1 || "epochs/"+recs[0].Object+".age" != orphan {
		t.Errorf("the removal is not recorded once: %+v %v", recs, err)
	}
}

// TestRotationFinishesAnEpochRetirementCutOff: the janitor retires an
// epoch by destroying its key object, then recording the retirement. A
// process stopped between the two left an epoch superseded and due, not
// retired, whose key object is gone: a rotation of the master key (after
// a leak, say) tried to re-wrap that key and failed until the next
// janitor round. It finishes the retirement instead, recorded as the
// janitor would; an epoch whose key is gone but that is current must
// still fail the rotation.
func TestRotationFinishesAnEpochRetirementCutOff(t *testing.T) {
	d := startDomain(t)
	ctx := context.Background()
	st, bl := d.svc.Store(), d.svc.Blobs()
	v := d.demo()
	old, err := st.CurrentEpoch(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := d.svc.RotateKeyEpoch(ctx, portal.OperatorActor("test", "key new-epoch"), "operator"); err != nil {
		t.Fatal(err)
	}
	d.offset.Store(int64(d.Config.KeyEpochRetain + time.Hour))
	// The janitor's destroy, then the crash before the record.
	if err := bl.RemovePrefix(ctx, d.Config.KeyBucket, "epochs/"+old.ID+".age"); err != nil {
		t.Fatal(err)
	}
	newKey := func() *crypto.MasterKey {
		t.Helper()
		text, err := crypto.GenerateMasterKey(time.Now())
		if err != nil {
			t.Fatal(err)
		}
		p := filepath.Join(t.TempDir(), "new.key")
		if err := portal.WriteNewKeyFile(p, text); err != nil {
			t.Fatal(err)
		}
		m, err := crypto.LoadMasterKey(p)
		if err != nil {
			t.Fatal(err)
		}
		d.Config.MasterKey = p
		return m
	}
	if _, _, err := d.svc.RotateMasterKey(ctx, portal.OperatorActor("op", "key rotate"), newKey()); err != nil {
		t.Fatalf("rotation with an epoch whose retirement was cut off: %v", err)
	}
	e, err := st.GetEpoch(ctx, old.ID)
	if err != nil || e.RetiredAt.IsZero() {
		t.Fatalf("the epoch whose key is gone is not recorded retired: %+v %v", e, err)
	}
	recs, err := st.AuditRecords(ctx, store.AuditFilter{Action: "key.epoch_retired"})
	if err != nil || len(recs) != 1 || recs[0].Object != old.ID {
		t.Fatalf("the retirement is not recorded once: %+v %v", recs, err)
	}
	restarted := d.another()
	if err := restarted.CheckVisitKey(ctx, v.ID); err != nil {
		t.Fatalf("after the rotation the new master key cannot open a live visit's key: %v", err)
	}

	// The current epoch's key gone: that is no retirement, and fails.
	cur, err := st.CurrentEpoch(ctx)
	if err != nil {
		t.Fatal(err)
	}
	curObject := "epochs/" + cur.ID + ".age"
	saved, err := bl.GetSmall(ctx, d.Config.KeyBucket, curObject)
	if err != nil {
		t.Fatal(err)
	}
	if err := bl.RemovePrefix(ctx, d.Config.KeyBucket, curObject); err != nil {
		t.Fatal(err)
	}
	if _, _, err := restarted.RotateMasterKey(ctx, portal.OperatorActor("op", "key rotate"), newKey()); err == nil || !strings.Contains(err.Error(), cur.ID) {
		t.Fatalf("a rotation with the current epoch's key gone: %v", err)
	}
	if e, _ := st.GetEpoch(ctx, cur.ID); !e.RetiredAt.IsZero() {
		t.Fatal("the current epoch was recorded retired")
	}
	if err := bl.PutSmall(ctx, d.Config.KeyBucket, curObject, saved); err != nil {
		t.Fatal(err)
	}

	// A superseded epoch not yet due whose key is gone: no retirement
	// was under way, and the rotation fails.
	notDue, err := st.CurrentEpoch(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := restarted.RotateKeyEpoch(ctx, portal.OperatorActor("test", "key new-epoch"), "operator"); err != nil {
		t.Fatal(err)
	}
	if err := bl.RemovePrefix(ctx, d.Config.KeyBucket, "epochs/"+notDue.ID+".age"); err != nil {
		t.Fatal(err)
	}
	if _, _, err := restarted.RotateMasterKey(ctx, portal.OperatorActor("op", "key rotate"), newKey()); err == nil || !strings.Contains(err.Error(), notDue.ID) {
		t.Fatalf("a rotation with the key of an epoch not yet due to retire gone: %v", err)
	}
	if e, _ := st.GetEpoch(ctx, notDue.ID); !e.RetiredAt.IsZero() {
		t.Fatal("an epoch not yet due was recorded retired")
	}
}

// TestKeyOutsideEpochsRefused: once key epochs began, every visit key is
// wrapped to one; a key wrapped to the master key (epoch NULL) is
// written only by someone writing to the database. Its key is the
// master's recipient, which the trail names: a key of their own, wrapped
// to it, bound to no visit, is refused, not opened; and a rotation does
// not take it into the new epoch, bound, as if it were the visit's.
func TestKeyOutsideEpochsRefused(t *testing.T) {
	ctx := context.Background()
	d := startDomain(t)
	st := d.svc.Store()
	v := d.demo()
	if err := d.svc.CheckVisitKey(ctx, v.ID); err != nil {
		t.Fatal(err)
	}
	// The master key's recipient is public (portal.started names it).
	master, err := crypto.LoadMasterKey(d.Env["PORTAL_MASTER_KEY_FILE"])
	if err != nil {
		t.Fatal(err)
	}
	forgeKeyRow(t, st, v.ID, master.Recipients()[0])
	if _, err := st.DB().Exec(`UPDATE visit_keys SET epoch = NULL WHERE visit_id = ?`, v.ID); err != nil {
		t.Fatal(err)
	}
	forged, err := st.WrappedKey(ctx, v.ID)
	if err != nil {
		t.Fatal(err)
	}
	if err := d.svc.CheckVisitKey(ctx, v.ID); err == nil {
		t.Error("a visit key wrapped to the master key after key epochs began was opened")
	}
	// The rotation goes on (it is also how destructions supersede an
	// epoch), and leaves the row as it was, refused, naming it.
	if _, _, err := d.svc.RotateKeyEpoch(ctx, portal.OperatorActor("test", "key new-epoch"), "test"); err != nil {
		t.Fatalf("a rotation with a key row outside the epochs: %v", err)
	}
	if now, err := st.WrappedKey(ctx, v.ID); err != nil || now.Epoch != "" || !bytes.Equal(now.Wrapped, forged.Wrapped) {
		t.Errorf("the forged key row after the rotation: epoch %q (%v), want it left as it was", now.Epoch, err)
	}
	if err := d.svc.CheckVisitKey(ctx, v.ID); err == nil {
		t.Error("after the rotation, the key wrapped to the master key was opened")
	}
	if !strings.Contains(d.log.String(), "wrapped to the master key, though key epochs began") {
		t.Errorf("the log does not name the key outside the epochs:\n%s", d.log.String())
	}
}

// TestDestroyedVisitKeyNotTakenBack: the key of a destroyed visit, put
// back in the database from a copy taken before the destruction (its
// epoch is superseded but not yet retired), is not re-wrapped into the
// live epoch by the next rotation or retirement as a straggler: it would
// then outlive the epoch whose retirement its certificate promises.
func TestDestroyedVisitKeyNotTakenBack(t *testing.T) {
	d := startDomain(t)
	ctx := context.Background()
	st := d.svc.Store()
	v := d.demo()
	lead := d.person("ofsted", "lead@ofsted.example")
	admin := d.person("ofsted", "admin@ofsted.example")
	backup, err := st.WrappedKey(ctx, v.ID)
	if err != nil {
		t.Fatal(err)
	}
	day := d.publish(lead, v)
	d.at(day.AddDate(0, 0, d.Config.RetentionDays))
	d.svc.RunRetention(ctx) // gives the notice
	if _, err := d.mustAccess(admin, policy.DestructionApprove).ApproveDestruction(ctx); err != nil {
		t.Fatal(err)
	}
	if ids, err := d.svc.RunRetention(ctx); err != nil || len(ids) != 1 {
		t.Fatalf("destruction: %v %v", ids, err)
	}
	if _, err := st.DB().Exec(`INSERT INTO visit_keys (visit_id, wrapped, epoch, fingerprint, header_size, created_at) VALUES (?, ?, ?, ?, ?, ?)`,
		v.ID, backup.Wrapped, backup.Epoch, backup.Fingerprint, backup.HeaderSize, backup.CreatedAt.UTC().Format(time.RFC3339Nano)); err != nil {
		t.Fatal(err)
	}
	// The rotation goes on for the live visits; the put-back key stays
	// where it was, to go with its epoch's key, and the log says so.
	if _, _, err := d.svc.RotateKeyEpoch(ctx, portal.OperatorActor("test", "key new-epoch"), "operator"); err != nil {
		t.Fatal(err)
	}
	if now, err := st.WrappedKey(ctx, v.ID); err != nil || now.Epoch != backup.Epoch {
		t.Errorf("the destroyed visit's key after a rotation: epoch %q (%v), want it left in %s", now.Epoch, err, backup.Epoch)
	}
	if !strings.Contains(d.log.String(), "a destroyed visit's key is stored again") {
		t.Errorf("the log does not name the destroyed visit's key stored again:\n%s", d.log.String())
	}
}

// TestRotationRecordedBeforeTheKeysMove: a master-key rotation whose
// record cannot be written (the database busy past its wait, a statement
// timeout, the process stopping) has moved the key epochs' keys to the
// new master key by then: the trail says a rotation began before any key
// moves, and the run that finishes it counts the epochs an earlier run
// moved. Before, the keys moved with no record, and the run that finished
// it recorded "epoch_keys": 0.
func TestRotationRecordedBeforeTheKeysMove(t *testing.T) {
	ctx := context.Background()
	d := startDomain(t)
	d.demo()
	st := d.svc.Store()
	epochs, err := st.Epochs(ctx)
	if err != nil || len(epochs) == 0 {
		t.Fatalf("epochs: %d (%v)", len(epochs), err)
	}
	text, err := crypto.GenerateMasterKey(time.Now())
	if err != nil {
		t.Fatal(err)
	}
	to, err := crypto.ParseMasterKey(bytes.NewReader(text))
	if err != nil {
		t.Fatal(err)
	}
	op := portal.OperatorActor("op", "key rotate")
	lift := refuseAuditOf(t, st.DB(), "master_key.rotated")
	if _, _, err := d.svc.RotateMasterKey(ctx, op, to); err == nil {
		t.Fatal("the rotation whose record was refused succeeded")
	}
	lift()
	count := func(action string) []store.AuditRecord {
		t.Helper()
		recs, err := st.AuditRecords(ctx, store.AuditFilter{Action: action})
		if err != nil {
			t.Fatal(err)
		}
		return recs
	}
	if n := len(count("master_key.rotation_started")); n != 1 {
		t.Errorf("the rotation stopped before its record: %d master_key.rotation_started records, want 1 written before any key moved", n)
	}
	if _, _, err := d.svc.RotateMasterKey(ctx, op, to); err != nil {
		t.Fatal(err)
	}
	recs := count("master_key.rotated")
	if len(recs) != 1 {
		t.Fatalf("%d master_key.rotated records, want 1", len(recs))
	}
	var detail struct {
		EpochKeys   int `json:"epoch_keys"`
		MovedBefore int `json:"epoch_keys_moved_before"`
	}
	if err := json.Unmarshal([]byte(recs[0].Detail), &detail); err != nil {
		t.Fatal(err)
	}
	if detail.EpochKeys+detail.MovedBefore != len(epochs) || detail.MovedBefore != len(epochs) {
		t.Errorf("the rotation finished by a second run records %s: want the %d epoch keys the first run moved counted", recs[0].Detail, len(epochs))
	}
}

// TestEpochRetiredOnceRecordedOnce: the janitor read the epochs due before
// it took the key-epoch lease, and recorded a retirement whatever its
// statement changed: an epoch another instance retired while this one
// waited for the lease was recorded retired a second time, by this one,
// with stragglers it never moved.
func TestEpochRetiredOnceRecordedOnce(t *testing.T) {
	d := startDomain(t)
	ctx := context.Background()
	st, bl := d.svc.Store(), d.svc.Blobs()
	old, err := st.CurrentEpoch(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := d.svc.RotateKeyEpoch(ctx, portal.OperatorActor("test", "key new-epoch"), "operator"); err != nil {
		t.Fatal(err)
	}
	d.offset.Store(int64(d.Config.KeyEpochRetain + time.Hour))
	now := time.Now()
	if ok, err := st.TakeLease(ctx, "key-epoch", "another instance", now, now.Add(time.Minute)); err != nil || !ok {
		t.Fatalf("take the lease as another instance: %v %v", ok, err)
	}
	done := make(chan error, 1)
	go func() { _, err := d.svc.RetireKeyEpochs(ctx); done <- err }()
	time.Sleep(time.Second) // it has read the epochs due, and waits for the lease
	// The other instance retires the epoch meanwhile (its record is its own).
	if err := bl.RemovePrefix(ctx, d.Config.KeyBucket, "epochs/"+old.ID+".age"); err != nil {
		t.Fatal(err)
	}
	if err := st.RetireEpoch(ctx, old.ID, time.Now()); err != nil {
		t.Fatal(err)
	}
	if err := st.ReleaseLease(ctx, "key-epoch", "another instance"); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	recs, err := st.AuditRecords(ctx, store.AuditFilter{Action: "key.epoch_retired"})
	if err != nil || len(recs) != 0 {
		t.Fatalf("this instance recorded the retirement another made: %+v %v", recs, err)
	}
}
