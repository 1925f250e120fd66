package main

import (
	"bytes"
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ofsted-portal/evidence/portal"
)

// TestAuditVerifyNeedsTheAnchors: a serving portal anchors each
// checkpoint outside the database as it signs it, so portal audit verify
// run where it finds no anchor store (no store credentials, the bucket not
// reached, the folder on another host) cannot tell a trail cut after its
// last anchor, or emptied with its checkpoints, from an intact one. It
// says so (exit status 3), never "intact". Before, it reported a cut
// trail intact, with "no anchors outside the database".
func TestAuditVerifyNeedsTheAnchors(t *testing.T) {
	ctx := context.Background()
	st := stoppedTrailOf250(t)
	var out bytes.Buffer
	if err := auditVerifyTo(ctx, nil, &out); err != nil || !strings.Contains(out.String(), "intact") {
		t.Fatalf("with the anchors: %v\n%s", err, out.String())
	}
	for _, k := range []string{"PORTAL_S3_ACCESS_KEY", "PORTAL_S3_ACCESS_KEY_FILE", "PORTAL_S3_SECRET_KEY", "PORTAL_S3_SECRET_KEY_FILE", "PORTAL_AUDIT_ANCHOR_DIR"} {
		t.Setenv(k, "")
	}
	out.Reset()
	err := auditVerifyTo(ctx, nil, &out)
	var se *statusError
	if !errors.As(err, &se) || se.status != 3 || strings.Contains(out.String(), "intact") || !strings.Contains(err.Error(), "anchor") {
		t.Fatalf("without the anchor store: %v\n%s\nwant exit status 3 saying the anchors were not found", err, out.String())
	}
	t.Logf("%v", err)

	// Emptied, checkpoints and all: still not "intact: 0 records".
	db, err := portal.OpenDatabase(ctx, st.Config)
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range append(dropAuditTriggers(db), `DELETE FROM audit`, `DELETE FROM audit_checkpoints`) {
		if _, err := db.DB().Exec(q); err != nil {
			t.Fatal(err)
		}
	}
	db.Close()
	out.Reset()
	err = auditVerifyTo(ctx, nil, &out)
	if !errors.As(err, &se) || se.status != 3 || strings.Contains(out.String(), "intact") {
		t.Fatalf("an emptied trail without the anchor store: %v\n%s\nwant exit status 3", err, out.String())
	}

	// Records no checkpoint covers, as before a portal first serves (the
	// bootstrap grant): unsigned, exit status 2, as ever.
	if err := adminGrant(ctx, []string{"--issuer", st.Config.IdPs[0].Issuer, "--email", "first.admin@ofsted.example"}); err != nil {
		t.Fatal(err)
	}
	out.Reset()
	err = auditVerifyTo(ctx, nil, &out)
	if !errors.As(err, &se) || se.status != 2 {
		t.Fatalf("a trail not yet signed, without the anchor store: %v\n%s\nwant exit status 2", err, out.String())
	}
}

// TestAuditVerifyEmptiedBesideEmptiedAnchors: a trail emptied,
// checkpoints and all, beside an anchor folder emptied (or removed) too
// was reported "intact: 0 records", exit status 0: a serving portal
// anchors a checkpoint as it starts, so an anchor store holding none
// beside a trail holding nothing cannot vouch for it (exit status 3). A
// named anchor folder that is not there beside a trail it anchored is
// still BROKEN: its anchors may have gone with it.
func TestAuditVerifyEmptiedBesideEmptiedAnchors(t *testing.T) {
	ctx := context.Background()
	st := stoppedTrailOf250(t)
	t.Setenv("PORTAL_AUDIT_ANCHOR_DIR", filepath.Join(t.TempDir(), "removed"))
	var out bytes.Buffer
	err := auditVerifyTo(ctx, nil, &out)
	if err == nil || !strings.Contains(err.Error(), "BROKEN") {
		t.Fatalf("a trail beside its anchor folder removed: %v\n%s\nwant BROKEN", err, out.String())
	}

	db, err := portal.OpenDatabase(ctx, st.Config)
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range append(dropAuditTriggers(db), `DELETE FROM audit`, `DELETE FROM audit_checkpoints`) {
		if _, err := db.DB().Exec(q); err != nil {
			t.Fatal(err)
		}
	}
	db.Close()
	var se *statusError
	for _, dir := range []string{t.TempDir(), filepath.Join(t.TempDir(), "removed")} {
		t.Setenv("PORTAL_AUDIT_ANCHOR_DIR", dir)
		out.Reset()
		err = auditVerifyTo(ctx, nil, &out)
		if !errors.As(err, &se) || se.status != 3 || strings.Contains(out.String(), "intact") {
			t.Fatalf("an emptied trail beside an anchor folder emptied or removed: %v\n%s\nwant exit status 3", err, out.String())
		}
	}
}
