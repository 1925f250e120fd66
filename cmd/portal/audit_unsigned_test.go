package main

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/ofsted-portal/evidence/portal/retention"
	"github.com/ofsted-portal/evidence/portal/store"
)

// TestAuditVerifyUnsignedTrail: a hash chain is only as good as the
// signatures over it, since anyone who can write to the database can
// recompute it. A trail with records that no signed checkpoint covers,
// beyond the few minutes a running portal leaves before it signs the
// next, is not reported intact (exit status 2, not BROKEN's 1), even
// with a key that signed nothing in it; a new trail, all of it minutes
// old but never signed, is not broken but is not called intact either;
// a trail signed up to its last few minutes is intact and says how many
// records are not yet signed.
func TestAuditVerifyUnsignedTrail(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	pemKey, _ := retention.GenerateSigningKey()
	keyPath := writeKey(t, dir, "signing.key", pemKey)
	key, _ := retention.LoadSigningKey(keyPath)
	otherPEM, _ := retention.GenerateSigningKey()
	other, _ := retention.LoadSigningKey(writeKey(t, dir, "other.key", otherPEM))
	otherPub := writeKey(t, dir, "other.pub", retention.PublicKeyPEM(other))
	t.Setenv("PORTAL_SIGNING_KEY_FILE", keyPath)
	open := testDatabase(t)
	add := func(age time.Duration, n int) {
		t.Helper()
		st := open()
		defer st.Close()
		for i := 0; i < n; i++ {
			if err := st.Audit(ctx, store.AuditRecord{Time: time.Now().Add(-age), Action: "signin", Outcome: "success"}); err != nil {
				t.Fatal(err)
			}
		}
	}
	verify := func(args ...string) (string, error) {
		var out bytes.Buffer
		err := auditVerifyTo(ctx, append([]string{"--without-anchors"}, args...), &out) // a trail made here, never anchored
		return out.String(), err
	}
	unsigned := func(what, out string, err error, want string) {
		t.Helper()
		var se *statusError
		if !errors.As(err, &se) || se.status != 2 || strings.Contains(err.Error(), "BROKEN") || strings.Contains(out, "intact") || !strings.Contains(err.Error(), want) {
			t.Fatalf("%s: want exit status 2 saying %q, got %v\n%s", what, want, err, out)
		}
	}

	// A new trail: records from the last minute, no checkpoint yet.
	add(time.Minute, 3)
	out, err := verify()
	unsigned("a new trail never signed", out, err, "no signed checkpoint covers any of the 3 records")
	out, err = verify("--public-key", otherPub)
	unsigned("a new trail, with a key that signed nothing", out, err, "no signed checkpoint covers any of the 3 records")

	// Hours old, never signed (every checkpoint deleted, the chain
	// recomputed): still not broken, but not intact.
	add(3*time.Hour, 2)
	out, err = verify("--public-key", otherPub)
	unsigned("an old trail never signed", out, err, "no signed checkpoint covers any of the 5 records")

	// Signed to its head, then a few records a minute old: intact, and
	// says what is not signed yet.
	st := open()
	seq, hash, _ := st.AuditHead(ctx)
	if err := st.AddCheckpoint(ctx, store.SignCheckpoint(seq, hash, time.Now(), key)); err != nil {
		t.Fatal(err)
	}
	st.Close()
	add(0, 2)
	out, err = verify()
	if err != nil || !strings.Contains(out, "intact: 7 records, 1 signed checkpoints") || !strings.Contains(out, "records 6..7 are not signed yet") {
		t.Fatalf("a trail signed but for its last minute: %v\n%s", err, out)
	}
	// The signed checkpoint does not verify with another key: broken.
	if out, err = verify("--public-key", otherPub); err == nil || !strings.Contains(err.Error(), "BROKEN") {
		t.Fatalf("checkpoint under another key: %v\n%s", err, out)
	}

	// Records left unsigned for longer than the portal ever leaves them.
	add(30*time.Minute, 1)
	out, err = verify()
	unsigned("records unsigned for half an hour", out, err, "records 6..8 (3) are covered by no signed checkpoint")
}
