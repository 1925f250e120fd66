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

// TestAuditVerifyFutureRecordsAreUnsigned: records after the last signed
// checkpoint are let pass as "not signed yet" when written in the last
// few minutes, and their time is what they say. Someone who can write to
// the database appends records dated hours ahead, while no portal serves
// to sign them: they were "not signed yet" for as long as the date was
// ahead, and the trail intact. A record dated ahead of the clock excuses
// nothing: the trail is unsigned (exit status 2).
func TestAuditVerifyFutureRecordsAreUnsigned(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	pemKey, _ := retention.GenerateSigningKey()
	keyPath := writeKey(t, dir, "signing.key", pemKey)
	key, _ := retention.LoadSigningKey(keyPath)
	t.Setenv("PORTAL_SIGNING_KEY_FILE", keyPath)
	open := testDatabase(t)
	st := open()
	add := func(at time.Time, n int) {
		t.Helper()
		for i := 0; i < n; i++ {
			if err := st.Audit(ctx, store.AuditRecord{Time: at, Action: "signin", Outcome: "success"}); err != nil {
				t.Fatal(err)
			}
		}
	}
	add(time.Now(), 3)
	seq, hash, _ := st.AuditHead(ctx)
	if err := st.AddCheckpoint(ctx, store.SignCheckpoint(seq, hash, time.Now(), key)); err != nil {
		t.Fatal(err)
	}
	add(time.Now().Add(3*time.Hour), 2)
	st.Close()
	var out bytes.Buffer
	err := auditVerifyTo(ctx, []string{"--without-anchors"}, &out) // a trail made here, never anchored
	var se *statusError
	if !errors.As(err, &se) || se.status != 2 || strings.Contains(out.String(), "intact") || !strings.Contains(err.Error(), "records 4..5") {
		t.Fatalf("records dated 3 hours ahead: want exit status 2 naming records 4..5, got %v\n%s", err, out.String())
	}
	t.Logf("%v", err)
}
