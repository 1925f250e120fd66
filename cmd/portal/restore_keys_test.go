package main

import (
	"bytes"
	"context"
	"errors"
	"io"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ofsted-portal/evidence/portal"
	"github.com/ofsted-portal/evidence/portal/retention"
	"github.com/ofsted-portal/evidence/portal/store"
)

// TestRestoreTrustsEarlierKeys: a destruction stopped after its key was
// destroyed leaves its bucket, so only its signed note outside the
// database says it happened. Restored by a portal whose signing key has
// been replaced since, nothing signed with the old key is trusted (the
// restore refuses the backup, whose manifest the old key signed, and says
// so) until the old public key is given; then the visit is destroyed
// again.
func TestRestoreTrustsEarlierKeys(t *testing.T) {
	ctx := context.Background()
	st := domainStack(t)
	st.Portal.Close()
	for k, v := range st.Env {
		t.Setenv(k, v)
	}
	cfg := st.Config
	cfg.DestructionNotice = 0
	svc, err := portal.New(ctx, cfg, portal.WithLogger(portal.NewLogger(io.Discard, "error")), portal.WithRetentionHook(func(step string) error {
		if step == "key_destroyed" {
			return errors.New("stopped after the key")
		}
		return nil
	}))
	if err != nil {
		t.Fatal(err)
	}
	id := oldVisit(t, svc, st, "FV-HALF")
	dir := filepath.Join(t.TempDir(), "backup")
	if err := backupCmd(ctx, []string{dir}, io.Discard); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.RunRetention(ctx); err == nil {
		t.Fatal("the destruction was not stopped")
	}
	v, _ := svc.Store().Visit(ctx, id)
	if ok, _ := svc.Blobs().BucketExists(ctx, v.Bucket); !ok {
		t.Fatal("the bucket went before the destruction was stopped")
	}
	svc.Close()

	keys := t.TempDir()
	oldPub := writeKey(t, keys, "old.pub", mustPublicKey(t, cfg.SigningKey))
	newKey, _ := retention.GenerateSigningKey()
	t.Setenv("PORTAL_SIGNING_KEY_FILE", writeKey(t, keys, "new.key", newKey))
	wipe(t, cfg)
	var out bytes.Buffer
	err = restoreCmd(ctx, []string{dir}, &out)
	if err == nil || !strings.Contains(err.Error(), "--trust-key") {
		t.Fatalf("restore with a new signing key and no --trust-key: %v\n%s", err, out.String())
	}
	t.Logf("without --trust-key: %v", err)
	if err := restoreCmd(ctx, []string{"--trust-key", oldPub, dir}, &out); err != nil || !strings.Contains(out.String(), "destroyed again, key first: FV-HALF") ||
		!strings.Contains(out.String(), "backup manifest: signed with a trusted signing key") {
		t.Fatalf("restore --trust-key: %v\n%s", err, out.String())
	}
	db, err := portal.OpenDatabase(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if v, err := db.Visit(ctx, id); err != nil || v.State != "destroyed" {
		t.Fatalf("visit: %s %v", v.State, err)
	}
	if _, err := db.KeyFingerprint(ctx, id); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("key: %v", err)
	}
}

func mustPublicKey(t *testing.T, signingKeyFile string) []byte {
	t.Helper()
	k, err := retention.LoadSigningKey(signingKeyFile)
	if err != nil {
		t.Fatal(err)
	}
	return retention.PublicKeyPEM(k)
}
