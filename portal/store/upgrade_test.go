package store

import (
	"context"
	"crypto/ed25519"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"
)

// TestUpgradeFromShippedSchema opens a database written by the last
// release (schema version 5; testdata/shipped-v5.db, made by the program in
// testdata/shipped-v5.go.txt against that release's store) and checks that
// the migrations keep everything it held: users and roles, the visit, its
// key, members, file, request, event and legal hold, and an audit trail
// that still verifies against its checkpoint. Sessions end (their tokens
// are now stored hashed).
func TestUpgradeFromShippedSchema(t *testing.T) {
	sqliteOnly(t)
	ctx := context.Background()
	b, err := os.ReadFile("testdata/shipped-v5.db")
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "portal.db")
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	s, err := OpenWith(ctx, path, Defaults{RetentionDays: 45})
	if err != nil {
		t.Fatalf("upgrade: %v", err)
	}
	defer s.Close()
	if v, err := s.SchemaVersion(ctx); err != nil || v != latestVersion() {
		t.Fatalf("schema version %d (%v), want %d", v, err, latestVersion())
	}
	v, err := s.Visit(ctx, "v-shipped")
	if err != nil || v.Reference != "FV-2026-SHIPPED" || string(v.TitleSealed) != "sealed-title" || v.FieldworkStart.Format(dateFormat) != "2026-09-21" {
		t.Fatalf("visit: %+v %v", v, err)
	}
	// Created at the portal's default, it kept no period: it has the one
	// configured at the upgrade.
	if v.RetentionDays != 45 {
		t.Fatalf("the shipped visit's retention period after an upgrade at 45 days: %d", v.RetentionDays)
	}
	if k, err := s.WrappedKey(ctx, v.ID); err != nil || string(k.Wrapped) != "wrapped-key-bytes" || k.HeaderSize != 1234 {
		t.Fatalf("key: %+v %v", k, err)
	}
	f, err := s.File(ctx, v.ID, "f-shipped")
	if err != nil || f.Size != 5<<30 || f.Segments != 160 || f.Item != "1.01" || f.SegmentMAC(0) != nil {
		t.Fatalf("file: %+v %v", f, err)
	}
	// Stored before scanning: unscanned, served as before and scanned by
	// the worker when scanning is required.
	if f.Scan != ScanUnscanned || f.ScanSignature != "" || !f.ScannedAt.IsZero() {
		t.Fatalf("file's scan status after the upgrade: %q %q %v", f.Scan, f.ScanSignature, f.ScannedAt)
	}
	ms, err := s.Members(ctx, v.ID)
	if err != nil || len(ms) != 2 {
		t.Fatalf("members: %+v %v", ms, err)
	}
	// The shipped invitation by email names no issuer: it binds to nobody
	// until the service, at start, gives it the only provider that can
	// sign in its role. An email given in other case then still binds
	// (NOCASE kept).
	if n, err := s.SettleInvitations(ctx, []string{"lead_inspector"}, "https://ofsted.example", time.Now(), func(m Member) AuditRecord {
		return AuditRecord{Time: time.Now(), ActorSubject: "system", Action: "member.changed", VisitID: m.VisitID, Object: m.ID, Outcome: "success", Detail: "{}"}
	}); err != nil || n != 1 {
		t.Fatalf("settling the shipped invitation: %d %v, want 1", n, err)
	}
	lead, err := s.SignIn(ctx, "https://ofsted.example", "sub-lead", "lead@ofsted.example", "Lead", []string{"lead_inspector"}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if m, err := s.MembershipOf(ctx, v.ID, lead.ID); err != nil || m.Role != "lead_inspector" {
		t.Fatalf("the lead's membership did not bind: %+v %v", m, err)
	}
	admin, err := s.SignIn(ctx, "https://ofsted.example", "sub-admin", "admin@ofsted.example", "Admin", nil, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if ok, _ := s.HasPortalRole(ctx, admin.ID, RoleAdministrator); !ok {
		t.Fatal("the administrator's role was lost")
	}
	later, _ := s.SignIn(ctx, "https://ofsted.example", "sub-later", "later@ofsted.example", "Later", nil, time.Now())
	if ok, _ := s.HasPortalRole(ctx, later.ID, RoleAdministrator); !ok {
		t.Fatal("a pending grant was lost")
	}
	if items, err := s.RequestItems(ctx, v.ID); err != nil || len(items) != 1 || items[0].Code != "1.01" {
		t.Fatalf("request: %+v %v", items, err)
	}
	if r, err := s.Restriction(ctx, v.ID, "cld"); err != nil || !r.Restricted || len(r.Roles) != 2 {
		t.Fatalf("restriction: %+v %v", r, err)
	}
	if evs, err := s.Events(ctx, v.ID); err != nil || len(evs) != 1 || evs[0].Event != "draft_sent" {
		t.Fatalf("events: %+v %v", evs, err)
	}
	if h, err := s.GetLegalHold(ctx, v.ID); err != nil || !h.On || string(h.ReasonSealed) != "sealed-reason" {
		t.Fatalf("legal hold: %+v %v", h, err)
	}
	// Held, not published: its hold is carried to the object store once
	// more (how its act ended is not known); it has no rule to set.
	if hs, err := s.StoreSidesToApply(ctx, time.Now(), 10); err != nil || len(hs) != 1 || hs[0].ID != v.ID || !hs[0].HoldUnknown || hs[0].RuleUnknown {
		t.Fatalf("the store's side after the upgrade: %+v %v", hs, err)
	}
	if n, _ := s.Sessions(time.Now).Count(ctx); n != 0 {
		t.Fatalf("%d sessions survived", n)
	}
	recs, err := s.AuditRecords(ctx, AuditFilter{})
	if err != nil {
		t.Fatal(err)
	}
	cps, err := s.Checkpoints(ctx)
	if err != nil || len(cps) != 1 {
		t.Fatalf("checkpoints: %d %v", len(cps), err)
	}
	pub := ed25519.NewKeyFromSeed(make([]byte, ed25519.SeedSize)).Public().(ed25519.PublicKey)
	if err := VerifyAudit(recs, cps, pub); err != nil {
		t.Fatalf("the shipped trail no longer verifies: %v", err)
	}
	// New records chain on from the shipped ones.
	if err := s.Audit(ctx, AuditRecord{Time: time.Now(), Action: "test.after_upgrade", Outcome: "success"}); err != nil {
		t.Fatal(err)
	}
	recs, _ = s.AuditRecords(ctx, AuditFilter{})
	if err := VerifyAudit(recs, cps, pub); err != nil {
		t.Fatalf("the trail after the upgrade: %v", err)
	}
}

// TestUpgradeCarriesPublishedVisitsRules: migration 28 does not know
// whether the expiry rule of a visit published before it was ever set
// (publication set it with one call, and a refusal was forgotten), so
// every published visit not destroyed has its rule carried to the store
// once more; an unpublished visit has none to set, and a destroyed visit
// no bucket. The database is brought back to version 27 by taking away
// what 28 to 31 add, then upgraded again.
func TestUpgradeCarriesPublishedVisitsRules(t *testing.T) {
	ctx := context.Background()
	reopen := testDatabase(t)
	s, err := reopen()
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 12, 2, 9, 0, 0, 0, time.UTC)
	threeVisits(t, s, now, 60)
	for _, id := range []string{"v1", "v3"} {
		if _, err := s.AddEvent(ctx, Event{VisitID: id, Event: "published", Date: now, RecordedBy: "system", RecordedAt: now}, func([]Event) error { return nil }); err != nil {
			t.Fatal(err)
		}
	}
	// A case file removed before version 42 keeps its number: the
	// migration finds it in the trail.
	if err := s.Audit(ctx, AuditRecord{Time: now, VisitID: "v1", Action: "request.item_removed", Object: "case-3", Outcome: "success"}); err != nil {
		t.Fatal(err)
	}
	differs := `store_hold IS NOT legal_hold`
	var dropRetention []string // SQLite's 30 adds nothing to the schema
	if s.DB().Postgres() {
		differs = `store_hold IS DISTINCT FROM legal_hold`
		dropRetention = []string{`ALTER TABLE visits DROP CONSTRAINT visits_retention_days`}
	}
	// Version 37's triggers and column.
	var dropRowVersion []string
	for _, t := range []string{"visit_events", "destruction_notices", "retention_failures"} {
		for _, op := range []string{"insert", "update", "delete"} {
			q := `DROP TRIGGER row_version_` + t + `_` + op
			if s.DB().Postgres() {
				q += ` ON ` + t
			}
			dropRowVersion = append(dropRowVersion, q)
		}
	}
	if s.DB().Postgres() {
		dropRowVersion = append(dropRowVersion, `DROP TRIGGER row_version_visits ON visits`, `DROP FUNCTION row_version_bump`, `DROP FUNCTION row_version_touch`)
	} else {
		dropRowVersion = append(dropRowVersion, `DROP TRIGGER row_version_visits`)
	}
	dropRowVersion = append(dropRowVersion, `ALTER TABLE destructions DROP COLUMN notice_period_ns`, `ALTER TABLE visits DROP COLUMN legal_hold_by`, `DROP INDEX visit_events_replay`,
		`CREATE INDEX visit_events_replay ON visit_events (visit_id, recorded_at, id, event, date)`)
	dropRowVersion = append(dropRowVersion, `ALTER TABLE visits DROP COLUMN row_version`, `DROP INDEX members_user`, `CREATE INDEX members_user ON members (user_id, visit_id)`)
	for _, q := range append(append(dropRetention, dropRowVersion...),
		`UPDATE visits SET state = 'destroyed' WHERE id = 'v3'`,
		// A failure left by a destruction that completed before 48, and
		// one of a visit still waiting.
		`INSERT INTO retention_failures (visit_id, attempts, first_failed_at, last_failed_at, next_attempt_at, reason) VALUES
			('v3', 1, '2026-01-01T00:00:00.000000000Z', '2026-01-01T00:00:00.000000000Z', '2026-01-01T01:00:00.000000000Z', 'the store did not answer'),
			('v1', 1, '2026-01-01T00:00:00.000000000Z', '2026-01-01T00:00:00.000000000Z', '2026-01-01T01:00:00.000000000Z', 'the store did not answer')`,
		`DROP INDEX users_email`,
		`DROP TABLE logout_tokens`,
		`DROP INDEX sessions_idp_session`,
		`ALTER TABLE sessions DROP COLUMN idp_session`,
		`ALTER TABLE users DROP COLUMN disabled_at`,
		`ALTER TABLE users DROP COLUMN session_epoch`,
		`DROP INDEX receipts_page`,
		`DROP INDEX receipts_issued_to`,
		`CREATE INDEX receipts_visit ON receipts (visit_id, issued_at)`,
		`DROP TABLE objects_to_hold`,
		`ALTER TABLE pending_uploads DROP COLUMN uploaded_by`,
		`DROP INDEX visits_store_side`,
		`ALTER TABLE visits DROP COLUMN store_rule`,
		`ALTER TABLE visits DROP COLUMN store_gen`,
		`ALTER TABLE visits DROP COLUMN store_at`,
		`CREATE INDEX visits_store_hold ON visits (id) WHERE `+differs,
		`DROP INDEX resumable_uploads_open`,
		`DROP TABLE case_files_removed`,
		`DROP INDEX purged_files_note_pending`,
		`ALTER TABLE purged_files DROP COLUMN note_pending`,
		`ALTER TABLE destruction_notices DROP COLUMN period_ns`,
		`ALTER TABLE resumable_uploads DROP COLUMN active_at`,
		`ALTER TABLE resumable_uploads DROP COLUMN member_id`,
		`ALTER TABLE destructions DROP COLUMN objects_removal_started_at`,
		`DROP INDEX files_superseded_by`,
		`DROP INDEX file_replacements_old`,
		`ALTER TABLE members DROP COLUMN seated_by`,
		`DROP TABLE noted_outside`,
		`DROP INDEX file_names_stale`,
		`ALTER TABLE file_names DROP COLUMN key_version`,
		`DELETE FROM schema_version WHERE version > 27`,
	) {
		if _, err := s.DB().Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	s.Close()
	if s, err = reopen(); err != nil {
		t.Fatalf("upgrade from version 27: %v", err)
	}
	defer s.Close()
	if v, err := s.SchemaVersion(ctx); err != nil || v != latestVersion() {
		t.Fatalf("schema version %d (%v), want %d", v, err, latestVersion())
	}
	if _, err := s.GetFailure(ctx, "v3"); !errors.Is(err, ErrNotFound) {
		t.Errorf("the failure of a visit destroyed before the upgrade: %v, want it cleared", err)
	}
	if _, err := s.GetFailure(ctx, "v1"); err != nil {
		t.Errorf("the failure of a visit still waiting: %v, want it kept", err)
	}
	if used, err := s.CaseCodesUsed(ctx, "v1"); err != nil || !slices.Contains(used, "case-3") {
		t.Fatalf("case-file numbers used after the upgrade: %v (%v), want case-3, removed before it", used, err)
	}
	hs, err := s.StoreSidesToApply(ctx, now.AddDate(10, 0, 0), 10)
	if err != nil || len(hs) != 1 || hs[0].ID != "v1" || !hs[0].RuleUnknown || hs[0].HoldUnknown {
		t.Fatalf("the store's side after the upgrade: %+v %v (want v1's rule alone)", hs, err)
	}
}
