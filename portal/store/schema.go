package store

import (
	"context"
	"fmt"
)

// migrations are applied in order, each once; never edit one that has shipped.
var migrations = []string{
	`
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
	email      TEXT NOT NULL COLLATE NOCASE,
	user_id    TEXT REFERENCES users(id),
	created_at TEXT NOT NULL,
	UNIQUE (role, issuer, email)
);
CREATE TABLE visits (
	id                TEXT PRIMARY KEY,
	reference         TEXT NOT NULL UNIQUE,
	title_sealed      BLOB NOT NULL,
	provider          TEXT NOT NULL,
	notification_date TEXT NOT NULL,
	fieldwork_start   TEXT NOT NULL,
	retention_days    INTEGER,
	state             TEXT NOT NULL,
	bucket            TEXT NOT NULL UNIQUE,
	created_at        TEXT NOT NULL,
	created_by        TEXT NOT NULL
);
CREATE TABLE visit_keys (
	visit_id    TEXT PRIMARY KEY REFERENCES visits(id),
	wrapped     BLOB NOT NULL,
	fingerprint TEXT NOT NULL,
	header_size INTEGER NOT NULL,
	created_at  TEXT NOT NULL
);
CREATE TABLE members (
	id          TEXT PRIMARY KEY,
	visit_id    TEXT NOT NULL REFERENCES visits(id),
	role        TEXT NOT NULL,
	email       TEXT COLLATE NOCASE,
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
	name_sealed  BLOB NOT NULL,
	item         TEXT NOT NULL DEFAULT '',
	size         INTEGER NOT NULL,
	sha256       TEXT NOT NULL,
	segment_size INTEGER NOT NULL,
	segments     INTEGER NOT NULL,
	header_size  INTEGER NOT NULL,
	uploaded_by  TEXT NOT NULL REFERENCES users(id),
	uploaded_at  TEXT NOT NULL
);
CREATE INDEX files_visit ON files (visit_id, uploaded_at);
CREATE TABLE pending_uploads (
	file_id    TEXT PRIMARY KEY,
	visit_id   TEXT NOT NULL REFERENCES visits(id),
	started_at TEXT NOT NULL,
	touched_at TEXT NOT NULL
);
CREATE TABLE sessions (
	token  TEXT PRIMARY KEY,
	data   BLOB NOT NULL,
	expiry REAL NOT NULL
);
CREATE INDEX sessions_expiry ON sessions (expiry);
`,
	`
CREATE TABLE items (
	visit_id   TEXT NOT NULL REFERENCES visits(id),
	code       TEXT NOT NULL,
	restricted INTEGER NOT NULL DEFAULT 0,
	roles      TEXT NOT NULL DEFAULT '',
	updated_at TEXT NOT NULL,
	PRIMARY KEY (visit_id, code)
);
`,
	`
CREATE TABLE visit_events (
	id          TEXT PRIMARY KEY,
	visit_id    TEXT NOT NULL REFERENCES visits(id),
	event       TEXT NOT NULL,
	date        TEXT NOT NULL,
	recorded_by TEXT NOT NULL,
	recorded_at TEXT NOT NULL
);
CREATE INDEX visit_events_visit ON visit_events (visit_id, recorded_at);
ALTER TABLE visits ADD COLUMN legal_hold INTEGER NOT NULL DEFAULT 0;
ALTER TABLE visits ADD COLUMN legal_hold_reason_sealed BLOB;
ALTER TABLE visits ADD COLUMN legal_hold_at TEXT;
CREATE TABLE destructions (
	visit_id          TEXT PRIMARY KEY REFERENCES visits(id),
	reference         TEXT NOT NULL,
	key_fingerprint   TEXT NOT NULL,
	files             TEXT NOT NULL,
	started_at        TEXT NOT NULL,
	key_destroyed_at  TEXT,
	objects_deleted_at TEXT,
	objects_deleted   INTEGER,
	bucket_deleted_at TEXT,
	certificate       BLOB,
	completed_at      TEXT
);
CREATE TABLE leases (
	name       TEXT PRIMARY KEY,
	holder     TEXT NOT NULL,
	expires_at TEXT NOT NULL
);
`,
	`
CREATE TABLE audit (
	seq           INTEGER PRIMARY KEY,
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
	hash          TEXT NOT NULL
);
CREATE INDEX audit_visit ON audit (visit_id, seq);
CREATE INDEX audit_actor ON audit (actor_issuer, actor_subject, seq);
CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit BEGIN SELECT RAISE(ABORT, 'audit records are append-only'); END;
CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit BEGIN SELECT RAISE(ABORT, 'audit records are append-only'); END;
CREATE TABLE audit_checkpoints (
	seq        INTEGER PRIMARY KEY,
	hash       TEXT NOT NULL,
	signed_at  TEXT NOT NULL,
	public_key TEXT NOT NULL,
	signature  TEXT NOT NULL
);
`,
	`
CREATE TABLE resumable_uploads (
	id            TEXT PRIMARY KEY,
	visit_id      TEXT NOT NULL REFERENCES visits(id),
	file_id       TEXT NOT NULL UNIQUE,
	created_by    TEXT NOT NULL REFERENCES users(id),
	name_sealed   BLOB NOT NULL,
	item          TEXT NOT NULL DEFAULT '',
	length        INTEGER NOT NULL,
	segment_size  INTEGER NOT NULL,
	segments_done INTEGER NOT NULL DEFAULT 0,
	hash_state    BLOB NOT NULL,
	created_at    TEXT NOT NULL,
	expires_at    TEXT NOT NULL,
	completed_at  TEXT
);
CREATE INDEX resumable_uploads_expiry ON resumable_uploads (expires_at);
CREATE TABLE checklist (
	visit_id     TEXT NOT NULL REFERENCES visits(id),
	code         TEXT NOT NULL,
	kind         TEXT NOT NULL,
	title_sealed BLOB NOT NULL,
	due          TEXT NOT NULL,
	position     INTEGER NOT NULL,
	added_by     TEXT NOT NULL,
	added_at     TEXT NOT NULL,
	PRIMARY KEY (visit_id, code)
);
`,
	`
ALTER TABLE items RENAME TO restrictions;
ALTER TABLE checklist RENAME TO request_items;
`,
	`
CREATE TABLE destruction_notices (
	visit_id            TEXT PRIMARY KEY REFERENCES visits(id),
	destroy_on          TEXT NOT NULL,
	given_at            TEXT NOT NULL,
	approved_by_issuer  TEXT,
	approved_by_subject TEXT,
	approved_by_email   TEXT,
	approved_at         TEXT
);
ALTER TABLE files ADD COLUMN segment_macs BLOB;
ALTER TABLE audit ADD COLUMN format INTEGER NOT NULL DEFAULT 1;
ALTER TABLE audit_checkpoints ADD COLUMN format INTEGER NOT NULL DEFAULT 1;
ALTER TABLE resumable_uploads ADD COLUMN segment_macs BLOB NOT NULL DEFAULT x'';
`,
	`
ALTER TABLE destructions ADD COLUMN objects_at_start INTEGER;
ALTER TABLE destructions ADD COLUMN segments_expected INTEGER;
ALTER TABLE destructions ADD COLUMN segments_missing INTEGER;
ALTER TABLE destructions ADD COLUMN key_probe BLOB;
ALTER TABLE pending_uploads ADD COLUMN kind TEXT NOT NULL DEFAULT 'upload';
CREATE TABLE retention_failures (
	visit_id        TEXT PRIMARY KEY REFERENCES visits(id),
	attempts        INTEGER NOT NULL,
	first_failed_at TEXT NOT NULL,
	last_failed_at  TEXT NOT NULL,
	next_attempt_at TEXT NOT NULL,
	reason          TEXT NOT NULL
);
`,
	// Sign-in:
	//   - sessions are stored under the hash of their token: the sessions
	//     of earlier versions, under the token itself, end (everyone signs
	//     in again once);
	//   - a portal-wide role can be granted to (issuer, subject) as well as
	//     (issuer, email), for people whose provider gives no email.
	`
DELETE FROM sessions;
CREATE TABLE portal_roles_v2 (
	id         TEXT PRIMARY KEY,
	role       TEXT NOT NULL,
	issuer     TEXT NOT NULL,
	email      TEXT COLLATE NOCASE,
	subject    TEXT,
	user_id    TEXT REFERENCES users(id),
	created_at TEXT NOT NULL,
	CHECK ((email IS NULL) != (subject IS NULL))
);
INSERT INTO portal_roles_v2 (id, role, issuer, email, subject, user_id, created_at)
	SELECT id, role, issuer, email, NULL, user_id, created_at FROM portal_roles;
DROP TABLE portal_roles;
ALTER TABLE portal_roles_v2 RENAME TO portal_roles;
CREATE UNIQUE INDEX portal_roles_email ON portal_roles (role, issuer, email) WHERE email IS NOT NULL;
CREATE UNIQUE INDEX portal_roles_subject ON portal_roles (role, issuer, subject) WHERE subject IS NOT NULL;
`,
	// file_names holds a keyed hash (crypto NameIndex) of each live file's
	// normalised name, unique per visit and item, so that two files of one
	// name cannot be made in an item, even by a race. An upload reserves
	// its name before it stores anything (a resumable upload at its
	// creation); the row goes with the file, the failed upload or the
	// abandoned resumable upload (triggers), and moves with a refiled file
	// (which fails on a collision). Files stored earlier are indexed when
	// their visit next reserves a name (Store.IndexNames).
	`
CREATE TABLE file_names (
	file_id    TEXT PRIMARY KEY,
	visit_id   TEXT NOT NULL REFERENCES visits(id),
	item       TEXT NOT NULL,
	name_index BLOB NOT NULL,
	created_at TEXT NOT NULL
);
CREATE UNIQUE INDEX file_names_per_item ON file_names (visit_id, item, name_index);
CREATE TRIGGER file_names_file_deleted AFTER DELETE ON files BEGIN
	DELETE FROM file_names WHERE file_id = OLD.id;
END;
CREATE TRIGGER file_names_file_refiled AFTER UPDATE OF item ON files BEGIN
	UPDATE file_names SET item = NEW.item WHERE file_id = NEW.id;
END;
CREATE TRIGGER file_names_upload_failed AFTER DELETE ON pending_uploads BEGIN
	DELETE FROM file_names WHERE file_id = OLD.file_id AND file_id NOT IN (SELECT id FROM files);
END;
CREATE TRIGGER file_names_resumable_dropped AFTER DELETE ON resumable_uploads WHEN OLD.completed_at IS NULL BEGIN
	DELETE FROM file_names WHERE file_id = OLD.file_id AND file_id NOT IN (SELECT id FROM files);
END;
`,
	// Several instances and key epochs:
	//   - a resumable upload is written by one request at a time across
	//     instances: a lease on its row (lock_holder until lock_until);
	//   - visit keys are wrapped to a key epoch (key_epochs; the epoch keys
	//     themselves live outside the database), NULL for keys wrapped to
	//     the master key directly by earlier versions;
	//   - a destruction records the epoch its key was wrapped to and when
	//     that epoch was superseded, for the certificate.
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
	// A visit's files_version moves on with every change to its files, so
	// that the in-memory index of its decrypted names (portal/fileindex.go)
	// is checked with one small read, however many files it holds.
	`
ALTER TABLE visits ADD COLUMN files_version INTEGER NOT NULL DEFAULT 0;
CREATE TRIGGER files_version_insert AFTER INSERT ON files BEGIN
	UPDATE visits SET files_version = files_version + 1 WHERE id = NEW.visit_id;
END;
CREATE TRIGGER files_version_update AFTER UPDATE ON files BEGIN
	UPDATE visits SET files_version = files_version + 1 WHERE id = NEW.visit_id;
END;
CREATE TRIGGER files_version_delete AFTER DELETE ON files BEGIN
	UPDATE visits SET files_version = files_version + 1 WHERE id = OLD.visit_id;
END;
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
	count           INTEGER NOT NULL,
	created_at      TEXT NOT NULL,
	state           TEXT NOT NULL,
	attempts        INTEGER NOT NULL,
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
	off     INTEGER NOT NULL,
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
	// A database brought back from a backup (portal restore) has a row
	// here from the moment it is put in place until every destruction
	// recorded outside it since the backup has been applied again; serve
	// finishes that work before it serves (store/restore.go).
	`
CREATE TABLE restores (
	id                TEXT PRIMARY KEY,
	backup_created_at TEXT NOT NULL,
	backup_seq        INTEGER NOT NULL,
	backup_hash       TEXT NOT NULL,
	started_at        TEXT NOT NULL,
	mark_seq          INTEGER,
	finished_at       TEXT
);
`,
	// Sign-in binds memberships given by email: an index on it, so that
	// the cost does not grow with every visit's members.
	`
CREATE INDEX members_email ON members (email);
`,
	// Correcting mistakes and purging misdirected uploads (issue 20):
	//   - a file the inspection team has downloaded is withdrawn, not
	//     deleted (withdrawn_at, withdrawn_by); team_downloaded_at is set by
	//     the team's first download;
	//   - a replaced file is kept, superseded by its new version; a new
	//     version names the file it replaces in file_replacements from its
	//     name's reservation until it is committed;
	//   - the coordinator marks request items complete;
	//   - a purged file's row moves to purged_files: its objects are gone,
	//     its digest, size and who, when and why (sealed) stay.
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
	size          INTEGER NOT NULL,
	sha256        TEXT NOT NULL,
	uploaded_by   TEXT NOT NULL,
	uploaded_at   TEXT NOT NULL,
	purged_by     TEXT NOT NULL,
	purged_at     TEXT NOT NULL,
	reason_sealed BLOB NOT NULL
);
CREATE INDEX purged_files_visit ON purged_files (visit_id, purged_at);
`,
	// Signed submission receipts and the questions and answers on items and
	// files (issue 20). A receipt is kept as signed, sealed under the visit
	// key (it names files and a person), so a download gives the same bytes
	// every time; upload_of makes one receipt per completed upload. A
	// question is a thread on an item (file_id '') or a file (item ''):
	// its posts' text is sealed under the visit key; side is who asked
	// ("provider" or "inspectorate"), so each side sees what awaits it.
	// Every row goes with the visit's other rows when it is destroyed.
	`
CREATE TABLE receipts (
	id            TEXT PRIMARY KEY,
	visit_id      TEXT NOT NULL REFERENCES visits(id),
	kind          TEXT NOT NULL,
	upload_of     TEXT UNIQUE,
	issued_to     TEXT NOT NULL,
	issued_at     TEXT NOT NULL,
	signed_sealed BLOB NOT NULL
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
	text_sealed BLOB NOT NULL
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
	// 23: the triggers that free a name when an upload ends without a
	// file ask whether the file exists by key (NOT EXISTS), not with NOT
	// IN over every file's id, which PostgreSQL cannot plan as a lookup
	// and ran on every upload's commit (TestTriggersFindRowsByKey).
	`
DROP TRIGGER file_names_upload_failed;
DROP TRIGGER file_names_resumable_dropped;
CREATE TRIGGER file_names_upload_failed AFTER DELETE ON pending_uploads BEGIN
	DELETE FROM file_names WHERE file_id = OLD.file_id AND NOT EXISTS (SELECT 1 FROM files WHERE files.id = OLD.file_id);
END;
CREATE TRIGGER file_names_resumable_dropped AFTER DELETE ON resumable_uploads WHEN OLD.completed_at IS NULL BEGIN
	DELETE FROM file_names WHERE file_id = OLD.file_id AND NOT EXISTS (SELECT 1 FROM files WHERE files.id = OLD.file_id);
END;
`,
	// 24: a person's memberships in the lists' order, so that a page of
	// their visits is read from an index (user, newest notification
	// first), not found by sorting every visit they belong to: a member
	// of a thousand visits sorted a thousand on every request. The
	// visit's date and reference are copied into each membership and
	// kept equal by the two triggers (TestMembersListKeysFollowTheVisit).
	`
ALTER TABLE members ADD COLUMN list_date TEXT;
ALTER TABLE members ADD COLUMN list_reference TEXT;
UPDATE members SET (list_date, list_reference) = (SELECT notification_date, reference FROM visits WHERE visits.id = members.visit_id);
CREATE INDEX members_list ON members (user_id, list_date DESC, list_reference, visit_id);
CREATE TRIGGER members_list_key AFTER INSERT ON members BEGIN
	UPDATE members SET (list_date, list_reference) = (SELECT notification_date, reference FROM visits WHERE visits.id = NEW.visit_id) WHERE id = NEW.id;
END;
CREATE TRIGGER visits_list_key AFTER UPDATE OF notification_date, reference ON visits BEGIN
	UPDATE members SET list_date = NEW.notification_date, list_reference = NEW.reference WHERE visit_id = NEW.id;
END;
`,
	// 25: a visit's letter events in the order recorded, with what a
	// status replays (the event and its date), so a page of visits reads
	// its visits' events from the index alone, in order, with no sort
	// (TestPageEventsFromACoveringIndex). It serves what the index it
	// replaces served.
	`
CREATE INDEX visit_events_replay ON visit_events (visit_id, recorded_at, id, event, date);
DROP INDEX visit_events_visit;
`,
	// 26: visits by state, in id order: the destruction sweep and the
	// retention review page through the live ones (LiveVisitPages) and
	// count the destroyed ones (DestroyedCounts), never reading the
	// destroyed ones, which only accumulate.
	`
CREATE INDEX visits_state ON visits (state, id);
`,
	// 27: the legal hold the object store was last brought to (its expiry
	// rule, its objects' holds): NULL while an act that changed the hold
	// is carrying it there, or when that act stopped part-way (the store
	// refused, the process stopped). The retention run finishes those
	// (HoldsToApply), found from an index of them alone; a destroyed visit
	// leaves it. Visits held now are carried there once more, not knowing
	// how their act ended.
	`
ALTER TABLE visits ADD COLUMN store_hold INTEGER DEFAULT 0;
UPDATE visits SET store_hold = NULL WHERE legal_hold = 1;
CREATE INDEX visits_store_hold ON visits (id) WHERE store_hold IS NOT legal_hold;
`,
	// 28: the object store's expiry rule joins its legal hold as a side of
	// the visit the store is brought to after an act (a letter event, a
	// hold set or lifted): store_rule is NULL while an act carries the
	// rule there, or when it stopped part-way; store_gen numbers the acts
	// and the carryings found to overlap, so that only a carrying no
	// other overlapped is recorded done (StoreAct); store_at is when the
	// side became unknown (or the run last failed to carry it), for the
	// retention run's settling time and order. The published visits are
	// carried there once more, not knowing whether their rule was set;
	// one index holds the visits with either side unknown, oldest first
	// (StoreSidesToApply).
	`
ALTER TABLE visits ADD COLUMN store_rule INTEGER DEFAULT 1;
ALTER TABLE visits ADD COLUMN store_gen INTEGER NOT NULL DEFAULT 0;
ALTER TABLE visits ADD COLUMN store_at TEXT;
UPDATE visits SET store_at = COALESCE(legal_hold_at, '2000-01-01T00:00:00.000000000Z') WHERE store_hold IS NOT legal_hold;
UPDATE visits SET store_rule = NULL, store_at = COALESCE(store_at, '2000-01-01T00:00:00.000000000Z')
	WHERE state <> 'destroyed' AND EXISTS (SELECT 1 FROM visit_events e WHERE e.visit_id = visits.id AND e.event = 'published');
DROP INDEX visits_store_hold;
CREATE INDEX visits_store_side ON visits (store_at, id) WHERE store_hold IS NOT legal_hold OR store_rule IS NULL;
`,
	// 29: the files stored while their visit was under legal hold whose
	// objects are not yet known to be at the visit's hold: a row is
	// written with the file, in the transaction that stores it, and goes
	// once the upload (or, should it stop first, the retention run) has
	// put the file's own objects under the hold (FileToHold). Oldest
	// first, for the run.
	`
CREATE TABLE objects_to_hold (file_id TEXT PRIMARY KEY, visit_id TEXT NOT NULL, since TEXT NOT NULL);
CREATE INDEX objects_to_hold_since ON objects_to_hold (since, file_id);
`,
	// 30: every visit keeps its own retention period. A visit that took
	// the portal's default stored none, and each process read
	// PORTAL_RETENTION_DAYS at each use: a changed setting, or a replica
	// set otherwise, moved its destruction date, earlier than the one
	// shown and mailed. The visits without one are given the setting in
	// force at this migration (fillRetentionDays); from here on the store
	// writes none without one (CreateVisit). PostgreSQL, which several
	// instances share, refuses one too (a check); SQLite cannot add a
	// check to a column without rebuilding the table, and a trigger on
	// inserting a visit would plan a scan of every table that names
	// visits (TestRetentionPeriodGivenAtMigration).
	`
-- fillRetentionDays only
`,
	// 31: who is sending each upload in progress. A name held by an
	// upload in progress is held, as the upload's file would hold it, by
	// its uploader: another person's is hidden from whoever else uploads
	// or files a file of that name (portal's nameHolder), as a resumable
	// upload's was already (created_by). NULL for the removal of a
	// deleted file's objects, and for uploads begun before this version:
	// an upload of unknown sender is taken as another person's.
	`
ALTER TABLE pending_uploads ADD COLUMN uploaded_by TEXT;
`,
	// 32: a visit's receipts are read a page at a time, the latest first
	// (store.ReceiptPage), every one or those issued to one person: each
	// upload is receipted, so a visit of 20,000 files holds 20,000, and
	// the visit page and the API read a page of them, not every one.
	`
DROP INDEX receipts_visit;
CREATE INDEX receipts_page ON receipts (visit_id, issued_at, id);
CREATE INDEX receipts_issued_to ON receipts (visit_id, issued_to, issued_at, id);
`,
	// 33: a person can be disabled (portal admin disable), and every
	// session of theirs ended at once. disabled_at is when, NULL while
	// enabled: sign-in is refused while it is set. session_epoch moves on
	// at each disable; a session remembers the epoch it was signed in
	// under, and one signed in under an earlier epoch has ended (on every
	// instance: the request's own read of the user row says so), so
	// enabling the person again does not bring an old session back.
	`
ALTER TABLE users ADD COLUMN disabled_at TEXT;
ALTER TABLE users ADD COLUMN session_epoch INTEGER NOT NULL DEFAULT 0;
`,
	// 34: OpenID Connect back-channel logout. idp_session is the
	// provider's session (the ID token's sid) a session was signed in
	// under, as a digest of its issuer and sid (portal.IdPSessionKey):
	// a logout token naming it ends the sessions signed in under it on
	// every instance. NULL for a provider that gives no sid, and for
	// sessions signed in before this version. logout_tokens holds a
	// digest of each logout token's issuer and jti until the token
	// would be refused as old anyway, so that a replay is refused by
	// every instance.
	`
ALTER TABLE sessions ADD COLUMN idp_session TEXT;
CREATE INDEX sessions_idp_session ON sessions (idp_session) WHERE idp_session IS NOT NULL;
CREATE TABLE logout_tokens (id TEXT PRIMARY KEY, kept_until TEXT NOT NULL);
CREATE INDEX logout_tokens_kept_until ON logout_tokens (kept_until);
`,
	// 35: a first sign-in asks whether the person's verified email is
	// disabled at their issuer (SignIn) by index: the issuer's part of
	// the unique (issuer, subject) index read every person at it.
	`
CREATE INDEX users_email ON users (issuer, email);
`,
	// 36: what each logout token ended, so that nothing outlives it: the
	// provider's session it named (idp_session, the digest of
	// portal.IdPSessionKey) and the person (person, a digest of issuer
	// and subject), and when the provider issued it (issued_at). A
	// sign-in whose session the provider ended while the portal was
	// finishing it is ended at once, and a transfer in flight under an
	// ended provider session stops at its next recheck. NULL for the
	// tokens taken before this version.
	`
ALTER TABLE logout_tokens ADD COLUMN idp_session TEXT;
ALTER TABLE logout_tokens ADD COLUMN person TEXT;
ALTER TABLE logout_tokens ADD COLUMN issued_at TEXT;
CREATE INDEX logout_tokens_idp_session ON logout_tokens (idp_session) WHERE idp_session IS NOT NULL;
CREATE INDEX logout_tokens_person ON logout_tokens (person) WHERE person IS NOT NULL;
`,
	// 37: a visit's row_version changes with everything a list of visits
	// shows of it but its key (read fresh with each page) and the
	// member's own membership: the visit's columns that the lists read
	// (visitRowColumns), its letter events, destruction notice and failed
	// destruction. A list reads each visit's row_version with its page
	// and takes the rest from the process's memory of the rows when it
	// has the same version (rowcache.go). The version is a random number,
	// not a count, so that a database brought back from a backup cannot
	// give a visit a version it had before, with other rows. The page
	// reads the person's membership of each visit from members_user
	// alone, which now holds what a list needs of it.
	`
DROP INDEX members_user;
CREATE INDEX members_user ON members (user_id, visit_id, id, role, issuer, subject, valid_from, valid_until);
ALTER TABLE visits ADD COLUMN row_version INTEGER NOT NULL DEFAULT 0;
CREATE TRIGGER row_version_visits AFTER UPDATE OF reference, title_sealed, provider, notification_date, fieldwork_start, retention_days, state, bucket, created_at, created_by, legal_hold, legal_hold_reason_sealed, legal_hold_at ON visits BEGIN
	UPDATE visits SET row_version = random() WHERE id = NEW.id;
END;
CREATE TRIGGER row_version_visit_events_insert AFTER INSERT ON visit_events BEGIN
	UPDATE visits SET row_version = random() WHERE id = NEW.visit_id;
END;
CREATE TRIGGER row_version_visit_events_update AFTER UPDATE ON visit_events BEGIN
	UPDATE visits SET row_version = random() WHERE id IN (OLD.visit_id, NEW.visit_id);
END;
CREATE TRIGGER row_version_visit_events_delete AFTER DELETE ON visit_events BEGIN
	UPDATE visits SET row_version = random() WHERE id = OLD.visit_id;
END;
CREATE TRIGGER row_version_destruction_notices_insert AFTER INSERT ON destruction_notices BEGIN
	UPDATE visits SET row_version = random() WHERE id = NEW.visit_id;
END;
CREATE TRIGGER row_version_destruction_notices_update AFTER UPDATE ON destruction_notices BEGIN
	UPDATE visits SET row_version = random() WHERE id IN (OLD.visit_id, NEW.visit_id);
END;
CREATE TRIGGER row_version_destruction_notices_delete AFTER DELETE ON destruction_notices BEGIN
	UPDATE visits SET row_version = random() WHERE id = OLD.visit_id;
END;
CREATE TRIGGER row_version_retention_failures_insert AFTER INSERT ON retention_failures BEGIN
	UPDATE visits SET row_version = random() WHERE id = NEW.visit_id;
END;
CREATE TRIGGER row_version_retention_failures_update AFTER UPDATE ON retention_failures BEGIN
	UPDATE visits SET row_version = random() WHERE id IN (OLD.visit_id, NEW.visit_id);
END;
CREATE TRIGGER row_version_retention_failures_delete AFTER DELETE ON retention_failures BEGIN
	UPDATE visits SET row_version = random() WHERE id = OLD.visit_id;
END;
`,
	// 38: a new version that ends without a file, however it ends (the
	// janitor's sweep of an upload a crash cut off, an abandoned resumable
	// upload), gives the name it took back to the file it was to replace,
	// while that file is current, and forgets the replacement: freed, the
	// name left the file without one, and a second file of it could be
	// stored beside it.
	`
DROP TRIGGER file_names_upload_failed;
DROP TRIGGER file_names_resumable_dropped;
CREATE TRIGGER file_names_upload_failed AFTER DELETE ON pending_uploads BEGIN
` + giveBackNameSQLite + `
END;
CREATE TRIGGER file_names_resumable_dropped AFTER DELETE ON resumable_uploads WHEN OLD.completed_at IS NULL BEGIN
` + giveBackNameSQLite + `
END;
`,
	// 39: a person's unfinished resumable uploads of a visit, counted
	// (with the bytes they declared) as each new one is created, which
	// is refused past a limit: found by index, whatever the table holds.
	`
CREATE INDEX resumable_uploads_open ON resumable_uploads (visit_id, created_by) WHERE completed_at IS NULL;
`,
	// 40: who set or lifted the visit's legal hold last (its user id; ""
	// before this version): the administrator who lifts a hold may not
	// also approve the destruction the lift lets go on; nor may the one
	// who recorded the publication, so a page of visits reads who recorded
	// each event from the covering index too.
	`
ALTER TABLE visits ADD COLUMN legal_hold_by TEXT NOT NULL DEFAULT '';
DROP INDEX visit_events_replay;
CREATE INDEX visit_events_replay ON visit_events (visit_id, recorded_at, id, event, date, recorded_by);
DROP TRIGGER row_version_visits;
CREATE TRIGGER row_version_visits AFTER UPDATE OF reference, title_sealed, provider, notification_date, fieldwork_start, retention_days, state, bucket, created_at, created_by, legal_hold, legal_hold_reason_sealed, legal_hold_at, legal_hold_by ON visits BEGIN
	UPDATE visits SET row_version = random() WHERE id = NEW.id;
END;
`,
	// 41: the notice period a destruction was decided with, kept with it
	// from its start: a run that finishes it under another setting
	// states the one that applied on its certificate (NULL: begun before
	// this version, the setting at signing).
	`
ALTER TABLE destructions ADD COLUMN notice_period_ns INTEGER;
`,
	// 42: the case-file numbers removed from a visit's request, so that
	// one is never given to another child (CaseCodesUsed), with those the
	// trail says were removed before this version.
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
	// (the purge committed, the note failed or the process stopped): the
	// janitor writes it.
	`
ALTER TABLE purged_files ADD COLUMN note_pending INTEGER NOT NULL DEFAULT 0;
CREATE INDEX purged_files_note_pending ON purged_files (visit_id, file_id) WHERE note_pending = 1;
`,
	// 44: the notice period a destruction notice announced, kept with
	// it: a replica or a restart with a shorter setting does not bring
	// the destruction forward (NULL: given before this version, the
	// setting applies).
	`
ALTER TABLE destruction_notices ADD COLUMN period_ns INTEGER;
`,
	// 45: a file moved to another item takes with it the name a pending
	// new version of it holds (reserved from it: ReserveReplacement), so
	// that the item it is moved to has the name taken, and the name given
	// back, should the version end without a file, is under the item the
	// file is in.
	`
DROP TRIGGER file_names_file_refiled;
CREATE TRIGGER file_names_file_refiled AFTER UPDATE OF item ON files BEGIN
	UPDATE file_names SET item = NEW.item WHERE file_id = NEW.id;
	UPDATE file_names SET item = NEW.item WHERE file_id = (SELECT new_file_id FROM file_replacements WHERE old_file_id = NEW.id LIMIT 1);
END;
`,
	// 46: when an unfinished resumable upload last committed a segment
	// (or began): its expiry says so only until it reaches the upload's
	// greatest age, after which it stands still while the upload sends
	// on (NULL: not written since before this version).
	`
ALTER TABLE resumable_uploads ADD COLUMN active_at TEXT;
`,
	// 47: the membership an unfinished resumable upload was begun under:
	// it is finished only under that one, not under a membership made
	// after that one was removed (NULL: begun before this version).
	`
ALTER TABLE resumable_uploads ADD COLUMN member_id TEXT;
`,
	// 48: the failures of destructions that completed before their
	// completion cleared them (CompleteDestruction, from this version):
	// no sweep reads a destroyed visit again to clear them.
	`
DELETE FROM retention_failures WHERE visit_id IN (SELECT id FROM visits WHERE state = 'destroyed');
`,
	// 49: when a destruction began removing the visit's bucket (step c),
	// recorded before the first object goes: a resumed run takes a bucket
	// the store does not show as removed only when this destruction began
	// to remove it. Destructions under way when this version came, their
	// key destroyed, may have begun: they are taken to have.
	migration49,
	// 50: the earlier versions of a file, found from the one that
	// superseded each: a file moved to another item takes them with it
	// (RefileFile), reading no other file of the visit. Those an earlier
	// version left behind are moved to their file's item now.
	migration50,
	// 51: the new version being sent of a file, found from the file: a
	// version removed gives its name back to the one before it
	// (reinstateEarlier) whether it holds the name or a new version of
	// it being sent does.
	migration51,
	// 52: who added or last changed each membership: a sign-in never
	// binds it to them (SignIn).
	migration52,
	// 53: how far the trail's acts that end someone's access are noted
	// outside the database (portal: access_outside.go), so that a
	// restore ends that access again.
	migration53SQLite,
	// 54: the version of the name key each name is held under: those
	// held before name keys folded look-alike names (portal NameKey,
	// version 2) are version 1, to be keyed again from their sealed
	// names (StaleNames, RekeyNames). A name written without saying
	// (by a replica of the version before) is version 1 too.
	migration54,
}

// migration54 is the same on both databases.
const migration54 = `
ALTER TABLE file_names ADD COLUMN key_version INTEGER NOT NULL DEFAULT 1;
CREATE INDEX file_names_stale ON file_names (visit_id) WHERE key_version = 1;
`

// migration53SQLite creates noted_outside: what is noted outside the
// database, by the trail's record it has reached.
const migration53SQLite = `
CREATE TABLE noted_outside (
	what TEXT PRIMARY KEY,
	seq  INTEGER NOT NULL
);
`

// migration52 is the same on both databases.
const migration52 = `
ALTER TABLE members ADD COLUMN seated_by TEXT;
`

// migration51 is the same on both databases.
const migration51 = `
CREATE INDEX file_replacements_old ON file_replacements (old_file_id);
`

// migration50 is the same on both databases.
const migration50 = `
CREATE INDEX files_superseded_by ON files (superseded_by) WHERE superseded_by IS NOT NULL;
` + earlierVersionsRefiled

// earlierVersionsRefiled files every earlier version under the item of
// the file that is its latest version: a version is committed only under
// the item of the file it replaces (supersede), so one under another item
// was left behind by a move of its file.
const earlierVersionsRefiled = `
WITH RECURSIVE chain (id, item) AS (
	SELECT id, item FROM files WHERE superseded_by IS NULL AND id IN (SELECT superseded_by FROM files WHERE superseded_by IS NOT NULL)
	UNION ALL
	SELECT files.id, chain.item FROM files JOIN chain ON files.superseded_by = chain.id)
UPDATE files SET item = (SELECT chain.item FROM chain WHERE chain.id = files.id)
	WHERE id IN (SELECT chain.id FROM chain JOIN files f ON f.id = chain.id WHERE f.item <> chain.item);
`

// migration49 is the same on both databases.
const migration49 = `
ALTER TABLE destructions ADD COLUMN objects_removal_started_at TEXT;
UPDATE destructions SET objects_removal_started_at = key_destroyed_at WHERE objects_deleted_at IS NULL AND key_destroyed_at IS NOT NULL;
`

// giveBackNameSQLite is the body of the triggers that free the name of an
// upload (OLD.file_id) that ended without a file (38).
const giveBackNameSQLite = `	UPDATE file_names SET file_id = (SELECT old_file_id FROM file_replacements WHERE new_file_id = OLD.file_id)
		WHERE file_id = OLD.file_id AND NOT EXISTS (SELECT 1 FROM files WHERE files.id = OLD.file_id)
		AND EXISTS (SELECT 1 FROM file_replacements r JOIN files o ON o.id = r.old_file_id
			WHERE r.new_file_id = OLD.file_id AND o.withdrawn_at IS NULL AND o.superseded_by IS NULL);
	DELETE FROM file_replacements WHERE new_file_id = OLD.file_id AND NOT EXISTS (SELECT 1 FROM files WHERE files.id = OLD.file_id);
	DELETE FROM file_names WHERE file_id = OLD.file_id AND NOT EXISTS (SELECT 1 FROM files WHERE files.id = OLD.file_id);`

// Defaults are the portal's settings that a migration writes into rows
// made before those rows kept their own: read once, when the migration
// runs, never again. A zero field was not given, and a migration that
// needs it, on a database with rows to give it to, fails naming the
// setting.
type Defaults struct {
	RetentionDays int // PORTAL_RETENTION_DAYS, for visits created before version 30
}

// migrationFills run in a migration's transaction, before its statements
// (the same on both databases): they write the settings a migration needs
// (Defaults) as bound values, which the statements, fixed text, cannot.
var migrationFills = map[int]func(ctx context.Context, tx *Tx, d Defaults) error{
	30: fillRetentionDays,
}

// fillRetentionDays gives every visit without a retention period of its
// own the one configured now.
func fillRetentionDays(ctx context.Context, tx *Tx, d Defaults) error {
	const without = `retention_days IS NULL OR retention_days < 1`
	if d.RetentionDays < 1 {
		var n int
		if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM visits WHERE `+without).Scan(&n); err != nil {
			return err
		}
		if n > 0 {
			return fmt.Errorf("this upgrade gives the visits without a retention period of their own (%d) the portal's PORTAL_RETENTION_DAYS, which was not given: start the portal itself first, or run the command with the portal's configuration", n)
		}
		return nil
	}
	_, err := tx.ExecContext(ctx, `UPDATE visits SET retention_days = ? WHERE `+without, d.RetentionDays)
	return err
}

// latestVersion is the schema version this binary brings a database to.
func latestVersion() int { return len(migrations) }

// migrate brings the schema up to date, each migration in a transaction
// with its version number. A database newer than the binary is refused. On
// PostgreSQL one instance migrates at a time (an advisory lock); the others
// wait and then find nothing to do.
func (s *Store) migrate(ctx context.Context, d Defaults, version int) error {
	return s.withMigrateLock(ctx, func() error { return s.migrateLocked(ctx, d, version) })
}

// migrateLocked brings the schema to version: latestVersion, but for tests
// of a migration, which make a database as an earlier version left it.
func (s *Store) migrateLocked(ctx context.Context, d Defaults, version int) error {
	// On PostgreSQL only a role that may create tables asks for the
	// table: one that owns nothing serves a schema that is current.
	made := false
	if s.db.pg {
		if err := s.db.QueryRowContext(ctx, `SELECT to_regclass('schema_version') IS NOT NULL`).Scan(&made); err != nil {
			return fmt.Errorf("store: migrate: %w", err)
		}
	}
	if !made {
		if _, err := s.db.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)`); err != nil {
			return fmt.Errorf("store: migrate: %w", notOwner(err))
		}
	}
	var v int
	if err := s.db.QueryRowContext(ctx, `SELECT COALESCE(MAX(version), 0) FROM schema_version`).Scan(&v); err != nil {
		return fmt.Errorf("store: migrate: %w", notOwner(err))
	}
	if v > latestVersion() {
		return fmt.Errorf("store: the database's schema is version %d, newer than this portal's (%d): run the newer portal, or restore a backup taken before the upgrade", v, latestVersion())
	}
	for v < version {
		next, ddl := v+1, ""
		switch {
		case !s.db.pg:
			ddl = migrations[v]
		case v == 0:
			next, ddl = pgFirstVersion, postgresMigrations[0]
		case v < pgFirstVersion:
			return fmt.Errorf("store: PostgreSQL schema version %d predates PostgreSQL support (%d)", v, pgFirstVersion)
		default:
			ddl = postgresMigrations[v-pgFirstVersion+1]
		}
		err := s.inTx(ctx, func(tx *Tx) error {
			if fill := migrationFills[next]; fill != nil {
				if err := fill(ctx, tx, d); err != nil {
					return err
				}
			}
			// Several statements in one string: run as is, not prepared.
			if _, err := tx.Tx.ExecContext(ctx, ddl); err != nil {
				return err
			}
			_, err := tx.ExecContext(ctx, `INSERT INTO schema_version (version) VALUES (?)`, next)
			return err
		})
		if err != nil {
			return fmt.Errorf("store: migrate to version %d: %w", next, notOwner(err))
		}
		v = next
	}
	return nil
}

// SchemaVersion is the database's schema version.
func (s *Store) SchemaVersion(ctx context.Context) (int, error) {
	var v int
	err := s.db.QueryRowContext(ctx, `SELECT COALESCE(MAX(version), 0) FROM schema_version`).Scan(&v)
	return v, err
}
