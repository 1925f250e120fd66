package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/ofsted-portal/evidence/portal/retention"
	"github.com/ofsted-portal/evidence/portal/store"
)

// TestAuditVerifyAcrossSigningKeys: after the signing key is replaced
// (it may have been compromised), the trail holds checkpoints signed by
// the old key and then by the new one. Verified with either key alone it
// is broken at the other's first checkpoint; given both public keys it is
// intact. Before, --public-key took one key (the last given), so no
// verification of such a trail could ever pass.
func TestAuditVerifyAcrossSigningKeys(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	oldPEM, _ := retention.GenerateSigningKey()
	oldKey, _ := retention.LoadSigningKey(writeKey(t, dir, "old.key", oldPEM))
	oldPub := writeKey(t, dir, "old.pub", retention.PublicKeyPEM(oldKey))
	newPEM, _ := retention.GenerateSigningKey()
	newPath := writeKey(t, dir, "new.key", newPEM)
	newKey, _ := retention.LoadSigningKey(newPath)
	newPub := writeKey(t, dir, "new.pub", retention.PublicKeyPEM(newKey))
	t.Setenv("PORTAL_SIGNING_KEY_FILE", newPath)
	open := testDatabase(t)
	st := open()
	sign := func(n int, key []byte) {
		t.Helper()
		for i := 0; i < n; i++ {
			if err := st.Audit(ctx, store.AuditRecord{Time: time.Now(), Action: "signin", Outcome: "success"}); err != nil {
				t.Fatal(err)
			}
		}
		seq, hash, _ := st.AuditHead(ctx)
		if err := st.AddCheckpoint(ctx, store.SignCheckpoint(seq, hash, time.Now(), key)); err != nil {
			t.Fatal(err)
		}
	}
	sign(3, oldKey)
	sign(2, newKey)
	st.Close()
	verify := func(args ...string) (string, error) {
		var out bytes.Buffer
		err := auditVerifyTo(ctx, append([]string{"--without-anchors"}, args...), &out) // a trail made here, never anchored
		return out.String(), err
	}

	out, err := verify("--public-key", oldPub, "--public-key", newPub)
	if err != nil || !strings.Contains(out, "intact: 5 records, 2 signed checkpoints") {
		t.Fatalf("with both keys: %v\n%s", err, out)
	}
	for _, args := range [][]string{{"--public-key", newPub}, {"--public-key", oldPub}, nil} {
		if out, err := verify(args...); err == nil || !strings.Contains(err.Error(), "BROKEN") {
			t.Fatalf("with %v alone: %v\n%s", args, err, out)
		}
	}
}
