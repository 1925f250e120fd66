package main

import (
	"bytes"
	"context"
	"io"
	"path/filepath"
	"testing"
	"time"

	"github.com/ofsted-portal/evidence/portal"
	"github.com/ofsted-portal/evidence/portal/retention"
)

// TestRestoreKeepsTheEpochRetirementDates: a backup is taken while epoch
// E is current; then a visit is destroyed, and its certificate says its
// key stops being recoverable from backups when E's key is destroyed,
// KeyEpochRetain after E was superseded. A restore of that backup brings
// back E as current, with no date to retire it. After the restore E is
// no longer current (no new key is wrapped to an epoch that was moved
// off before the restore), and its key is destroyed no later than the
// certificate says, not KeyEpochRetain after the restore.
func TestRestoreKeepsTheEpochRetirementDates(t *testing.T) {
	ctx := context.Background()
	st := domainStack(t)
	st.Portal.Close()
	for k, v := range st.Env {
		t.Setenv(k, v)
	}
	cfg := st.Config
	cfg.DestructionNotice = 0
	var offset time.Duration
	svc, err := portal.New(ctx, cfg, portal.WithLogger(portal.NewLogger(io.Discard, "error")),
		portal.WithClock(func() time.Time { return time.Now().Add(offset) }))
	if err != nil {
		t.Fatal(err)
	}
	defer func() { svc.Close() }()
	id := oldVisit(t, svc, st, "FV-GONE")
	before, err := svc.Store().CurrentEpoch(ctx)
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "backup")
	if err := backupCmd(ctx, []string{dir}, io.Discard); err != nil {
		t.Fatal(err)
	}
	if ids, err := svc.RunRetention(ctx); err != nil || len(ids) != 1 {
		t.Fatalf("retention: %v %v", ids, err)
	}
	des, err := svc.Store().GetDestruction(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	c, err := retention.Verify(des.Certificate, svc.SigningPublicKey())
	if err != nil || c.KeyEpoch == nil || c.KeyEpoch.ID != before.ID {
		t.Fatalf("certificate: %+v %v", c.KeyEpoch, err)
	}
	promised := c.KeyEpoch.UnrecoverableFromBackupsAfter
	svc.Close()

	// Restored a while later.
	time.Sleep(2 * time.Second)
	wipe(t, cfg)
	var out bytes.Buffer
	if err := restoreCmd(ctx, []string{dir}, &out); err != nil {
		t.Fatalf("restore: %v\n%s", err, out.String())
	}
	if svc, err = portal.New(ctx, cfg, portal.WithLogger(portal.NewLogger(io.Discard, "error")),
		portal.WithClock(func() time.Time { return time.Now().Add(offset) })); err != nil {
		t.Fatal(err)
	}
	// Destroyed again while its key was still wrapped to the backup's
	// epoch: never moved to an epoch of the restore's, which would live on
	// KeyEpochRetain after it.
	if again, err := svc.Store().GetDestruction(ctx, id); err != nil || again.KeyEpoch != before.ID {
		t.Fatalf("destroyed again with its key in epoch %s (%v), want the backup's %s", again.KeyEpoch, err, before.ID)
	}
	if cur, err := svc.Store().CurrentEpoch(ctx); err != nil || cur.ID == before.ID {
		t.Fatalf("current epoch after the restore: %s (%v); %s was superseded before it", cur.ID, err, before.ID)
	}
	e, err := svc.Store().GetEpoch(ctx, before.ID)
	if err != nil {
		t.Fatal(err)
	}
	if e.SupersededAt.IsZero() || e.RetireAfter.After(promised) {
		t.Fatalf("epoch %s after the restore: superseded %s, its key destroyed from %s; the certificate says unrecoverable after %s",
			e.ID, e.SupersededAt, e.RetireAfter, promised)
	}
	offset = time.Until(promised) + time.Minute
	if _, err := svc.RetireKeyEpochs(ctx); err != nil {
		t.Fatal(err)
	}
	if e, err := svc.Store().GetEpoch(ctx, before.ID); err != nil || e.RetiredAt.IsZero() {
		t.Fatalf("epoch %s a minute after the certificate's date: retired %s (%v)", before.ID, e.RetiredAt, err)
	}
}
