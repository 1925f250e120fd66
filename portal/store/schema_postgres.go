package store

// PostgreSQL's migrations. PostgreSQL support begins at schema version
// pgFirstVersion: its first migration creates the schema as SQLite's
// migrations leave it at that version, and each later migration is written
// for both databases (postgresMigrations[i] brings a database to version
// pgFirstVersion+i, as migrations[pgFirstVersion+i-1] does SQLite's).
// TestSchemasInStep holds the two to the same tables, columns, keys and
// indexes.
//
// The types differ where the databases do: BLOB is BYTEA; INTEGER is
// BIGINT (sizes pass 2^31); REAL is DOUBLE PRECISION; times stay TEXT in
// the store's fixed-width UTC form (timeFormat), so the same queries
// compare them; SQLite's COLLATE NOCASE is an ICU collation that ignores
// case (emails); triggers are PL/pgSQL functions.
const pgFirstVersion = 10

var postgresMigrations = []string{
	`
CREATE COLLATION IF NOT EXISTS nocase (provider = icu, locale = 'und-u-ks-level2', deterministic = false);

CREATE TABLE users (
	id            TEXT PRIMARY KEY,
	issuer        TEXT NOT NULL,
	subject       TEXT NOT NULL,
	email         TEXT NOT NULL,
	name          TEXT NOT NULL,
	created_at    TEXT NOT NULL,
	last_login_at TEXT,
	UNIQUE (issuer, subject)
);
CREATE TABLE portal_roles (
	id         TEXT PRIMARY KEY,
	role       TEXT NOT NULL,
	issuer     TEXT NOT NULL,
	email      TEXT COLLATE nocase,
	subject    TEXT,
	user_id    TEXT REFERENCES users(id),
	created_at TEXT NOT NULL,
	CHECK ((email IS NULL) != (subject IS NULL))
);
CREATE UNIQUE INDEX portal_roles_email ON portal_roles (role, issuer, email) WHERE email IS NOT NULL;
CREATE UNIQUE INDEX portal_roles_subject ON portal_roles (role, issuer, subject) WHERE subject IS NOT NULL;
CREATE TABLE visits (
	id                TEXT PRIMARY KEY,
	reference         TEXT NOT NULL UNIQUE,
	title_sealed      BYTEA NOT NULL,
	provider          TEXT NOT NULL,
	notification_date TEXT NOT NULL,
	fieldwork_start   TEXT NOT NULL,
	retention_days    BIGINT,
	state             TEXT NOT NULL,
	bucket            TEXT NOT NULL UNIQUE,
	created_at        TEXT NOT NULL,
	created_by        TEXT NOT NULL,
	legal_hold        BIGINT NOT NULL DEFAULT 0,
	legal_hold_reason_sealed BYTEA,
	legal_hold_at     TEXT
);
CREATE TABLE visit_keys (
	visit_id    TEXT PRIMARY KEY REFERENCES visits(id),
	wrapped     BYTEA NOT NULL,
	fingerprint TEXT NOT NULL,
	header_size BIGINT NOT NULL,
	created_at  TEXT NOT NULL
);
CREATE TABLE members (
	id          TEXT PRIMARY KEY,
	visit_id    TEXT NOT NULL REFERENCES visits(id),
	role        TEXT NOT NULL,
	email       TEXT COLLATE nocase,
	issuer      TEXT,
	subject     TEXT,
	user_id     TEXT REFERENCES users(id),
	valid_from  TEXT,
	valid_until TEXT,
	created_at  TEXT NOT NULL,
	updated_at  TEXT NOT NULL
);
CREATE UNIQUE INDEX members_visit_email ON members (visit_id, email) WHERE email IS NOT NULL;
CREATE UNIQUE INDEX members_visit_subject ON members (visit_id, issuer, subject) WHERE subject IS NOT NULL;
CREATE TABLE files (
	id           TEXT PRIMARY KEY,
	visit_id     TEXT NOT NULL REFERENCES visits(id),
	name_sealed  BYTEA NOT NULL,
	item         TEXT NOT NULL DEFAULT '',
	size         BIGINT NOT NULL,
	sha256       TEXT NOT NULL,
	segment_size BIGINT NOT NULL,
	segments     BIGINT NOT NULL,
	header_size  BIGINT NOT NULL,
	uploaded_by  TEXT NOT NULL REFERENCES users(id),
	uploaded_at  TEXT NOT NULL,
	segment_macs BYTEA
);
CREATE INDEX files_visit ON files (visit_id, uploaded_at);
CREATE TABLE pending_uploads (
	file_id    TEXT PRIMARY KEY,
	visit_id   TEXT NOT NULL REFERENCES visits(id),
	started_at TEXT NOT NULL,
	touched_at TEXT NOT NULL,
	kind       TEXT NOT NULL DEFAULT 'upload'
);
CREATE TABLE sessions (
	token  TEXT PRIMARY KEY,
	data   BYTEA NOT NULL,
	expiry DOUBLE PRECISION NOT NULL
);
CREATE INDEX sessions_expiry ON sessions (expiry);
CREATE TABLE restrictions (
	visit_id   TEXT NOT NULL REFERENCES visits(id),
	code       TEXT NOT NULL,
	restricted BIGINT NOT NULL DEFAULT 0,
	roles      TEXT NOT NULL DEFAULT '',
	updated_at TEXT NOT NULL,
	PRIMARY KEY (visit_id, code)
);
CREATE TABLE visit_events (
	id          TEXT PRIMARY KEY,
	visit_id    TEXT NOT NULL REFERENCES visits(id),
	event       TEXT NOT NULL,
	date        TEXT NOT NULL,
	recorded_by TEXT NOT NULL,
	recorded_at TEXT NOT NULL
);
CREATE INDEX visit_events_visit ON visit_events (visit_id, recorded_at);
CREATE TABLE destructions (
	visit_id           TEXT PRIMARY KEY REFERENCES visits(id),
	reference          TEXT NOT NULL,
	key_fingerprint    TEXT NOT NULL,
	files              TEXT NOT NULL,
	started_at         TEXT NOT NULL,
	key_destroyed_at   TEXT,
	objects_deleted_at TEXT,
	objects_deleted    BIGINT,
	bucket_deleted_at  TEXT,
	certificate        BYTEA,
	completed_at       TEXT,
	objects_at_start   BIGINT,
	segments_expected  BIGINT,
	segments_missing   BIGINT,
	key_probe          BYTEA
);
CREATE TABLE leases (
	name       TEXT PRIMARY KEY,
	holder     TEXT NOT NULL,
	expires_at TEXT NOT NULL
);
CREATE TABLE audit (
	seq           BIGINT PRIMARY KEY,
	time          TEXT NOT NULL,
	actor_issuer  TEXT NOT NULL,
	actor_subject TEXT NOT NULL,
	actor_email   TEXT NOT NULL,
	role          TEXT NOT NULL,
	visit_id      TEXT NOT NULL,
	action        TEXT NOT NULL,
	object        TEXT NOT NULL,
	outcome       TEXT NOT NULL,
	detail        TEXT NOT NULL,
	client_ip     TEXT NOT NULL,
	user_agent    TEXT NOT NULL,
	request_id    TEXT NOT NULL,
	prev_hash     TEXT NOT NULL,
	hash          TEXT NOT NULL,
	format        BIGINT NOT NULL DEFAULT 1
);
CREATE INDEX audit_visit ON audit (visit_id, seq);
CREATE INDEX audit_actor ON audit (actor_issuer, actor_subject, seq);
CREATE FUNCTION audit_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	RAISE EXCEPTION 'audit records are append-only';
END $$;
CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit FOR EACH ROW EXECUTE FUNCTION audit_append_only();
CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit FOR EACH ROW EXECUTE FUNCTION audit_append_only();
CREATE TRIGGER audit_no_truncate BEFORE TRUNCATE ON audit FOR EACH STATEMENT EXECUTE FUNCTION audit_append_only();
CREATE TABLE audit_checkpoints (
	seq        BIGINT PRIMARY KEY,
	hash       TEXT NOT NULL,
	signed_at  TEXT NOT NULL,
	public_key TEXT NOT NULL,
	signature  TEXT NOT NULL,
	format     BIGINT NOT NULL DEFAULT 1
);
CREATE TABLE resumable_uploads (
	id            TEXT PRIMARY KEY,
	visit_id      TEXT NOT NULL REFERENCES visits(id),
	file_id       TEXT NOT NULL UNIQUE,
	created_by    TEXT NOT NULL REFERENCES users(id),
	name_sealed   BYTEA NOT NULL,
	item          TEXT NOT NULL DEFAULT '',
	length        BIGINT NOT NULL,
	segment_size  BIGINT NOT NULL,
	segments_done BIGINT NOT NULL DEFAULT 0,
	hash_state    BYTEA NOT NULL,
	created_at    TEXT NOT NULL,
	expires_at    TEXT NOT NULL,
	completed_at  TEXT,
	segment_macs  BYTEA NOT NULL DEFAULT ''::bytea
);
CREATE INDEX resumable_uploads_expiry ON resumable_uploads (expires_at);
CREATE TABLE request_items (
	visit_id     TEXT NOT NULL REFERENCES visits(id),
	code         TEXT NOT NULL,
	kind         TEXT NOT NULL,
	title_sealed BYTEA NOT NULL,
	due          TEXT NOT NULL,
	position     BIGINT NOT NULL,
	added_by     TEXT NOT NULL,
	added_at     TEXT NOT NULL,
	PRIMARY KEY (visit_id, code)
);
CREATE TABLE destruction_notices (
	visit_id            TEXT PRIMARY KEY REFERENCES visits(id),
	destroy_on          TEXT NOT NULL,
	given_at            TEXT NOT NULL,
	approved_by_issuer  TEXT,
	approved_by_subject TEXT,
	approved_by_email   TEXT,
	approved_at         TEXT
);
CREATE TABLE retention_failures (
	visit_id        TEXT PRIMARY KEY REFERENCES visits(id),
	attempts        BIGINT NOT NULL,
	first_failed_at TEXT NOT NULL,
	last_failed_at  TEXT NOT NULL,
	next_attempt_at TEXT NOT NULL,
	reason          TEXT NOT NULL
);
CREATE TABLE file_names (
	file_id    TEXT PRIMARY KEY,
	visit_id   TEXT NOT NULL REFERENCES visits(id),
	item       TEXT NOT NULL,
	name_index BYTEA NOT NULL,
	created_at TEXT NOT NULL
);
CREATE UNIQUE INDEX file_names_per_item ON file_names (visit_id, item, name_index);
CREATE FUNCTION file_names_file_deleted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	DELETE FROM file_names WHERE file_id = OLD.id;
	RETURN NULL;
END $$;
CREATE TRIGGER file_names_file_deleted AFTER DELETE ON files FOR EACH ROW EXECUTE FUNCTION file_names_file_deleted();
CREATE FUNCTION file_names_file_refiled() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	UPDATE file_names SET item = NEW.item WHERE file_id = NEW.id;
	RETURN NULL;
END $$;
CREATE TRIGGER file_names_file_refiled AFTER UPDATE OF item ON files FOR EACH ROW EXECUTE FUNCTION file_names_file_refiled();
CREATE FUNCTION file_names_upload_gone() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	DELETE FROM file_names WHERE file_id = OLD.file_id AND file_id NOT IN (SELECT id FROM files);
	RETURN NULL;
END $$;
CREATE TRIGGER file_names_upload_failed AFTER DELETE ON pending_uploads FOR EACH ROW EXECUTE FUNCTION file_names_upload_gone();
CREATE TRIGGER file_names_resumable_dropped AFTER DELETE ON resumable_uploads FOR EACH ROW WHEN (OLD.completed_at IS NULL) EXECUTE FUNCTION file_names_upload_gone();
`,
	`
ALTER TABLE resumable_uploads ADD COLUMN lock_holder TEXT;
ALTER TABLE resumable_uploads ADD COLUMN lock_until TEXT;
CREATE TABLE key_epochs (
	id            TEXT PRIMARY KEY,
	recipient     TEXT NOT NULL,
	created_at    TEXT NOT NULL,
	superseded_at TEXT,
	retire_after  TEXT,
	retired_at    TEXT
);
ALTER TABLE visit_keys ADD COLUMN epoch TEXT REFERENCES key_epochs(id);
ALTER TABLE destructions ADD COLUMN key_epoch TEXT;
ALTER TABLE destructions ADD COLUMN epoch_superseded_at TEXT;
ALTER TABLE destructions ADD COLUMN epoch_retire_after TEXT;
`,
	`
ALTER TABLE visits ADD COLUMN files_version BIGINT NOT NULL DEFAULT 0;
CREATE FUNCTION files_version_bump() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	IF TG_OP = 'DELETE' THEN
		UPDATE visits SET files_version = files_version + 1 WHERE id = OLD.visit_id;
	ELSE
		UPDATE visits SET files_version = files_version + 1 WHERE id = NEW.visit_id;
	END IF;
	RETURN NULL;
END $$;
CREATE TRIGGER files_version_insert AFTER INSERT ON files FOR EACH ROW EXECUTE FUNCTION files_version_bump();
CREATE TRIGGER files_version_update AFTER UPDATE ON files FOR EACH ROW EXECUTE FUNCTION files_version_bump();
CREATE TRIGGER files_version_delete AFTER DELETE ON files FOR EACH ROW EXECUTE FUNCTION files_version_bump();
`,
	// notifications is the outbox of mail: a row is written in the same
	// transaction as the act it tells of, and a background worker sends it
	// (claimed_by/claimed_until: a lease, so one instance sends each row).
	// dedupe_key is unique: a digest is one row per (kind, visit,
	// recipient, period), so two instances cannot make two. data holds
	// only dates and counts, never names or free text.
	// notification_prefs records the digests a person has switched off.
	`
CREATE TABLE notifications (
	id              TEXT PRIMARY KEY,
	kind            TEXT NOT NULL,
	visit_id        TEXT NOT NULL,
	recipient       TEXT NOT NULL,
	dedupe_key      TEXT NOT NULL,
	data            TEXT NOT NULL,
	count           BIGINT NOT NULL,
	created_at      TEXT NOT NULL,
	state           TEXT NOT NULL,
	attempts        BIGINT NOT NULL,
	next_attempt_at TEXT NOT NULL,
	claimed_by      TEXT,
	claimed_until   TEXT,
	last_error      TEXT,
	sent_at         TEXT
);
CREATE UNIQUE INDEX notifications_dedupe ON notifications (dedupe_key);
CREATE INDEX notifications_due ON notifications (state, next_attempt_at);
CREATE TABLE notification_prefs (
	user_id TEXT NOT NULL REFERENCES users(id),
	kind    TEXT NOT NULL,
	off     BIGINT NOT NULL,
	PRIMARY KEY (user_id, kind)
);
`,
	// Malware scanning: each file is scanning, clean, infected or
	// unscanned (stored while scanning was off, or before it existed: the
	// files already here). The scanner's worker looks for files by status.
	`
ALTER TABLE files ADD COLUMN scan_status TEXT NOT NULL DEFAULT 'unscanned';
ALTER TABLE files ADD COLUMN scan_signature TEXT NOT NULL DEFAULT '';
ALTER TABLE files ADD COLUMN scanned_at TEXT;
CREATE INDEX files_scan_status ON files (scan_status);
`,
	// As SQLite's: restores (store/restore.go).
	`
CREATE TABLE restores (
	id                TEXT PRIMARY KEY,
	backup_created_at TEXT NOT NULL,
	backup_seq        BIGINT NOT NULL,
	backup_hash       TEXT NOT NULL,
	started_at        TEXT NOT NULL,
	mark_seq          BIGINT,
	finished_at       TEXT
);
`,
	`
CREATE INDEX members_email ON members (email);
`,
	// As SQLite's: correcting mistakes, purged files.
	`
ALTER TABLE files ADD COLUMN team_downloaded_at TEXT;
ALTER TABLE files ADD COLUMN withdrawn_at TEXT;
ALTER TABLE files ADD COLUMN withdrawn_by TEXT;
ALTER TABLE files ADD COLUMN superseded_by TEXT;
ALTER TABLE files ADD COLUMN superseded_at TEXT;
CREATE TABLE file_replacements (
	new_file_id TEXT PRIMARY KEY,
	old_file_id TEXT NOT NULL,
	visit_id    TEXT NOT NULL REFERENCES visits(id)
);
ALTER TABLE request_items ADD COLUMN completed_at TEXT;
ALTER TABLE request_items ADD COLUMN completed_by TEXT;
CREATE TABLE purged_files (
	file_id       TEXT PRIMARY KEY,
	visit_id      TEXT NOT NULL REFERENCES visits(id),
	item          TEXT NOT NULL,
	size          BIGINT NOT NULL,
	sha256        TEXT NOT NULL,
	uploaded_by   TEXT NOT NULL,
	uploaded_at   TEXT NOT NULL,
	purged_by     TEXT NOT NULL,
	purged_at     TEXT NOT NULL,
	reason_sealed BYTEA NOT NULL
);
CREATE INDEX purged_files_visit ON purged_files (visit_id, purged_at);
`,
	// As SQLite's: receipts and questions (store/receipts.go, questions.go).
	`
CREATE TABLE receipts (
	id            TEXT PRIMARY KEY,
	visit_id      TEXT NOT NULL REFERENCES visits(id),
	kind          TEXT NOT NULL,
	upload_of     TEXT UNIQUE,
	issued_to     TEXT NOT NULL,
	issued_at     TEXT NOT NULL,
	signed_sealed BYTEA NOT NULL
);
CREATE INDEX receipts_visit ON receipts (visit_id, issued_at);
CREATE TABLE questions (
	id          TEXT PRIMARY KEY,
	visit_id    TEXT NOT NULL REFERENCES visits(id),
	item        TEXT NOT NULL,
	file_id     TEXT NOT NULL,
	side        TEXT NOT NULL,
	asked_by    TEXT NOT NULL,
	asked_at    TEXT NOT NULL,
	answered_by TEXT,
	answered_at TEXT
);
CREATE INDEX questions_visit ON questions (visit_id, asked_at);
CREATE TABLE question_posts (
	id          TEXT PRIMARY KEY,
	question_id TEXT NOT NULL REFERENCES questions(id),
	visit_id    TEXT NOT NULL REFERENCES visits(id),
	side        TEXT NOT NULL,
	posted_by   TEXT NOT NULL,
	posted_at   TEXT NOT NULL,
	text_sealed BYTEA NOT NULL
);
CREATE INDEX question_posts_question ON question_posts (question_id, posted_at);
`,
	// 19: the files that stand (neither withdrawn nor superseded) by
	// item, so the information request and the visit page count a
	// visit's files from this index alone, not from every file's row
	// (the two always-null columns make it covering for SQLite's planner).
	`
CREATE INDEX files_item_standing ON files (visit_id, item, withdrawn_at, superseded_by) WHERE withdrawn_at IS NULL AND superseded_by IS NULL;
`,
	// 20: a person's memberships, for their list of visits (which read
	// every membership of every visit to find theirs).
	`
CREATE INDEX members_user ON members (user_id, visit_id);
`,
	// 21: visits in the lists' order (newest notification first), so a
	// page of the administrators' list reads a page, not every visit.
	`
CREATE INDEX visits_list ON visits (notification_date DESC, reference);
`,
	// 22: a visit's members in the lists' order (the unique indexes
	// on them are partial, so they served no plain search by visit and
	// every list of members read every membership); a person's
	// memberships by identity, which sign-in reads to bind those
	// waiting for them; a person's portal roles, read on every request;
	// the outbox newest first, as its page reads it; a visit's question
	// posts in order.
	`
CREATE INDEX members_visit ON members (visit_id, role, email);
CREATE INDEX members_identity ON members (issuer, subject, visit_id);
CREATE INDEX portal_roles_user ON portal_roles (user_id, role);
CREATE INDEX notifications_recent ON notifications (created_at DESC, id);
CREATE INDEX question_posts_visit ON question_posts (visit_id, posted_at, id);
`,
	// 23: the function that frees a name when an upload ends without a
	// file asks whether the file exists by key (NOT EXISTS): NOT IN over
	// every file's id is never an anti-join here, and it read every
	// file's id on every upload's commit (TestTriggersFindRowsByKey).
	`
CREATE OR REPLACE FUNCTION file_names_upload_gone() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	DELETE FROM file_names WHERE file_id = OLD.file_id AND NOT EXISTS (SELECT 1 FROM files WHERE files.id = OLD.file_id);
	RETURN NULL;
END $$;
`,
	// 24: a person's memberships in the lists' order, copied from the
	// visit and kept equal to it by triggers (as SQLite's 24).
	`
ALTER TABLE members ADD COLUMN list_date TEXT, ADD COLUMN list_reference TEXT;
UPDATE members SET list_date = visits.notification_date, list_reference = visits.reference FROM visits WHERE visits.id = members.visit_id;
CREATE INDEX members_list ON members (user_id, list_date DESC, list_reference, visit_id);
CREATE FUNCTION members_list_key() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	SELECT notification_date, reference INTO NEW.list_date, NEW.list_reference FROM visits WHERE visits.id = NEW.visit_id;
	RETURN NEW;
END $$;
CREATE TRIGGER members_list_key BEFORE INSERT ON members FOR EACH ROW EXECUTE FUNCTION members_list_key();
CREATE FUNCTION visits_list_key() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	UPDATE members SET list_date = NEW.notification_date, list_reference = NEW.reference WHERE visit_id = NEW.id;
	RETURN NULL;
END $$;
CREATE TRIGGER visits_list_key AFTER UPDATE OF notification_date, reference ON visits FOR EACH ROW EXECUTE FUNCTION visits_list_key();
`,
	// 25: a visit's letter events in the order recorded, with the event
	// and its date (as SQLite's 25).
	`
CREATE INDEX visit_events_replay ON visit_events (visit_id, recorded_at, id, event, date);
DROP INDEX visit_events_visit;
`,
	// 26: visits by state, in id order: the destruction sweep and the
	// retention review page through the live ones and count the
	// destroyed ones (as SQLite's 26).
	`
CREATE INDEX visits_state ON visits (state, id);
`,
	// 27: the legal hold the object store was last brought to (as
	// SQLite's 27).
	`
ALTER TABLE visits ADD COLUMN store_hold BIGINT DEFAULT 0;
UPDATE visits SET store_hold = NULL WHERE legal_hold = 1;
CREATE INDEX visits_store_hold ON visits (id) WHERE store_hold IS DISTINCT FROM legal_hold;
`,
	// 28: the object store's expiry rule as a side of the visit the store
	// is brought to, and the generation of the acts (as SQLite's 28).
	`
ALTER TABLE visits ADD COLUMN store_rule BIGINT DEFAULT 1;
ALTER TABLE visits ADD COLUMN store_gen BIGINT NOT NULL DEFAULT 0;
ALTER TABLE visits ADD COLUMN store_at TEXT;
UPDATE visits SET store_at = COALESCE(legal_hold_at, '2000-01-01T00:00:00.000000000Z') WHERE store_hold IS DISTINCT FROM legal_hold;
UPDATE visits SET store_rule = NULL, store_at = COALESCE(store_at, '2000-01-01T00:00:00.000000000Z')
	WHERE state <> 'destroyed' AND EXISTS (SELECT 1 FROM visit_events e WHERE e.visit_id = visits.id AND e.event = 'published');
DROP INDEX visits_store_hold;
CREATE INDEX visits_store_side ON visits (store_at, id) WHERE store_hold IS DISTINCT FROM legal_hold OR store_rule IS NULL;
`,
	// 29: the files whose objects are to be put under their visit's
	// legal hold (as SQLite's 29).
	`
CREATE TABLE objects_to_hold (file_id TEXT PRIMARY KEY, visit_id TEXT NOT NULL, since TEXT NOT NULL);
CREATE INDEX objects_to_hold_since ON objects_to_hold (since, file_id);
`,
	// 30: every visit keeps its own retention period, given to those
	// without one at this migration (as SQLite's 30); the database
	// refuses a visit without one, whatever writes it.
	`
ALTER TABLE visits ADD CONSTRAINT visits_retention_days CHECK (retention_days IS NOT NULL AND retention_days >= 1);
`,
	// 31: who is sending each upload in progress (as SQLite's 31).
	`
ALTER TABLE pending_uploads ADD COLUMN uploaded_by TEXT;
`,
	// 32: receipts read a page at a time (as SQLite's 32).
	`
DROP INDEX receipts_visit;
CREATE INDEX receipts_page ON receipts (visit_id, issued_at, id);
CREATE INDEX receipts_issued_to ON receipts (visit_id, issued_to, issued_at, id);
`,
	// 33: a person can be disabled, and their sessions ended (as
	// SQLite's 33).
	`
ALTER TABLE users ADD COLUMN disabled_at TEXT;
ALTER TABLE users ADD COLUMN session_epoch BIGINT NOT NULL DEFAULT 0;
`,
	// 34: back-channel logout: the provider's session a session was
	// signed in under, and the logout tokens already taken (as
	// SQLite's 34).
	`
ALTER TABLE sessions ADD COLUMN idp_session TEXT;
CREATE INDEX sessions_idp_session ON sessions (idp_session) WHERE idp_session IS NOT NULL;
CREATE TABLE logout_tokens (id TEXT PRIMARY KEY, kept_until TEXT NOT NULL);
CREATE INDEX logout_tokens_kept_until ON logout_tokens (kept_until);
`,
	// 35: a disabled email is found by index (as SQLite's 35).
	`
CREATE INDEX users_email ON users (issuer, email);
`,
	// 36: what each logout token ended, and when it was issued (as
	// SQLite's 36).
	`
ALTER TABLE logout_tokens ADD COLUMN idp_session TEXT;
ALTER TABLE logout_tokens ADD COLUMN person TEXT;
ALTER TABLE logout_tokens ADD COLUMN issued_at TEXT;
CREATE INDEX logout_tokens_idp_session ON logout_tokens (idp_session) WHERE idp_session IS NOT NULL;
CREATE INDEX logout_tokens_person ON logout_tokens (person) WHERE person IS NOT NULL;
`,
	// 37: a visit's row_version, for the lists' memory of their rows (as
	// SQLite's 37). The visit's own columns move it before the row is
	// written; the other tables' rows after theirs.
	`
DROP INDEX members_user;
CREATE INDEX members_user ON members (user_id, visit_id) INCLUDE (id, role, issuer, subject, valid_from, valid_until);
ALTER TABLE visits ADD COLUMN row_version BIGINT NOT NULL DEFAULT 0;
CREATE FUNCTION row_version_touch() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	NEW.row_version := floor(random() * 9007199254740991)::bigint;
	RETURN NEW;
END $$;
CREATE TRIGGER row_version_visits BEFORE UPDATE OF reference, title_sealed, provider, notification_date, fieldwork_start, retention_days, state, bucket, created_at, created_by, legal_hold, legal_hold_reason_sealed, legal_hold_at ON visits FOR EACH ROW EXECUTE FUNCTION row_version_touch();
CREATE FUNCTION row_version_bump() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	IF TG_OP <> 'INSERT' THEN
		UPDATE visits SET row_version = floor(random() * 9007199254740991)::bigint WHERE id = OLD.visit_id;
	END IF;
	IF TG_OP <> 'DELETE' THEN
		UPDATE visits SET row_version = floor(random() * 9007199254740991)::bigint WHERE id = NEW.visit_id;
	END IF;
	RETURN NULL;
END $$;
CREATE TRIGGER row_version_visit_events_insert AFTER INSERT ON visit_events FOR EACH ROW EXECUTE FUNCTION row_version_bump();
CREATE TRIGGER row_version_visit_events_update AFTER UPDATE ON visit_events FOR EACH ROW EXECUTE FUNCTION row_version_bump();
CREATE TRIGGER row_version_visit_events_delete AFTER DELETE ON visit_events FOR EACH ROW EXECUTE FUNCTION row_version_bump();
CREATE TRIGGER row_version_destruction_notices_insert AFTER INSERT ON destruction_notices FOR EACH ROW EXECUTE FUNCTION row_version_bump();
CREATE TRIGGER row_version_destruction_notices_update AFTER UPDATE ON destruction_notices FOR EACH ROW EXECUTE FUNCTION row_version_bump();
CREATE TRIGGER row_version_destruction_notices_delete AFTER DELETE ON destruction_notices FOR EACH ROW EXECUTE FUNCTION row_version_bump();
CREATE TRIGGER row_version_retention_failures_insert AFTER INSERT ON retention_failures FOR EACH ROW EXECUTE FUNCTION row_version_bump();
CREATE TRIGGER row_version_retention_failures_update AFTER UPDATE ON retention_failures FOR EACH ROW EXECUTE FUNCTION row_version_bump();
CREATE TRIGGER row_version_retention_failures_delete AFTER DELETE ON retention_failures FOR EACH ROW EXECUTE FUNCTION row_version_bump();
`,
	// 38: a new version that ends without a file gives the name it took
	// back to the file it was to replace, while that file is current, and
	// forgets the replacement (as SQLite's 38).
	`
CREATE OR REPLACE FUNCTION file_names_upload_gone() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	IF EXISTS (SELECT 1 FROM files WHERE files.id = OLD.file_id) THEN
		RETURN NULL;
	END IF;
	UPDATE file_names SET file_id = (SELECT old_file_id FROM file_replacements WHERE new_file_id = OLD.file_id)
		WHERE file_id = OLD.file_id
		AND EXISTS (SELECT 1 FROM file_replacements r JOIN files o ON o.id = r.old_file_id
			WHERE r.new_file_id = OLD.file_id AND o.withdrawn_at IS NULL AND o.superseded_by IS NULL);
	DELETE FROM file_replacements WHERE new_file_id = OLD.file_id;
	DELETE FROM file_names WHERE file_id = OLD.file_id;
	RETURN NULL;
END $$;
`,
	// 39: a person's unfinished resumable uploads of a visit, by index
	// (as SQLite's 39).
	`
CREATE INDEX resumable_uploads_open ON resumable_uploads (visit_id, created_by) WHERE completed_at IS NULL;
`,
	// 40: who set or lifted the visit's legal hold last, and who
	// recorded each event in the covering index (as SQLite's 40).
	`
ALTER TABLE visits ADD COLUMN legal_hold_by TEXT NOT NULL DEFAULT '';
DROP INDEX visit_events_replay;
CREATE INDEX visit_events_replay ON visit_events (visit_id, recorded_at, id, event, date, recorded_by);
DROP TRIGGER row_version_visits ON visits;
CREATE TRIGGER row_version_visits BEFORE UPDATE OF reference, title_sealed, provider, notification_date, fieldwork_start, retention_days, state, bucket, created_at, created_by, legal_hold, legal_hold_reason_sealed, legal_hold_at, legal_hold_by ON visits FOR EACH ROW EXECUTE FUNCTION row_version_touch();
`,
	// 41: the notice period a destruction was decided with (as SQLite's
	// 41).
	`
ALTER TABLE destructions ADD COLUMN notice_period_ns BIGINT;
`,
	// 42: the case-file numbers removed from a visit's request (as
	// SQLite's 42).
	`
CREATE TABLE case_files_removed (
	visit_id   TEXT NOT NULL REFERENCES visits(id),
	code       TEXT NOT NULL,
	removed_at TEXT NOT NULL,
	PRIMARY KEY (visit_id, code)
);
INSERT INTO case_files_removed (visit_id, code, removed_at)
	SELECT visit_id, object, MIN(time) FROM audit
	WHERE action = 'request.item_removed' AND object LIKE 'case-%' AND visit_id IN (SELECT id FROM visits WHERE state != 'destroyed')
	GROUP BY visit_id, object;
`,
	// 43: a purge whose note outside the database is still to be written
	// (as SQLite's 43).
	`
ALTER TABLE purged_files ADD COLUMN note_pending BIGINT NOT NULL DEFAULT 0;
CREATE INDEX purged_files_note_pending ON purged_files (visit_id, file_id) WHERE note_pending = 1;
`,
	// 44: the notice period a destruction notice announced, kept with
	// it: a replica or a restart with a shorter setting does not bring
	// the destruction forward (NULL: given before this version, the
	// setting applies). As SQLite's 44.
	`
ALTER TABLE destruction_notices ADD COLUMN period_ns BIGINT;
`,
	// 45: as SQLite's 45.
	`
CREATE OR REPLACE FUNCTION file_names_file_refiled() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	UPDATE file_names SET item = NEW.item WHERE file_id = NEW.id;
	UPDATE file_names SET item = NEW.item WHERE file_id = (SELECT new_file_id FROM file_replacements WHERE old_file_id = NEW.id LIMIT 1);
	RETURN NULL;
END $$;
`,
	// 46: as SQLite's 46.
	`
ALTER TABLE resumable_uploads ADD COLUMN active_at TEXT;
`,
	// 47: as SQLite's 47.
	`
ALTER TABLE resumable_uploads ADD COLUMN member_id TEXT;
`,
	// 48: as SQLite's 48.
	`
DELETE FROM retention_failures WHERE visit_id IN (SELECT id FROM visits WHERE state = 'destroyed');
`,
	// 49: as SQLite's 49.
	migration49,
	// 50: as SQLite's 50.
	migration50,
	// 51: as SQLite's 51.
	migration51,
	// 52: as SQLite's 52.
	migration52,
	// 53: as SQLite's 53.
	`
CREATE TABLE noted_outside (
	what TEXT PRIMARY KEY,
	seq  BIGINT NOT NULL
);
`,
	// 54: as SQLite's 54.
	migration54,
}
