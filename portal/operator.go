package portal

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/ofsted-portal/evidence/crypto"
	"github.com/ofsted-portal/evidence/portal/blobs"
	"github.com/ofsted-portal/evidence/portal/store"
)

// Operator tasks: acts of a person on the server itself (the command line),
// which need only the database. Each is recorded as the operator's.

// DefaultDBPath is where the SQLite database lives unless PORTAL_DB_PATH
// says otherwise.
const DefaultDBPath = "var/portal.db"

// DBPath is the database path the environment names.
func DBPath(getenv func(string) string) string {
	if p := strings.TrimSpace(getenv("PORTAL_DB_PATH")); p != "" {
		return p
	}
	return DefaultDBPath
}

// OpenStore opens the database the environment names (PORTAL_DATABASE_URL
// or PORTAL_DB_PATH). A SQLite file must exist already unless create is
// set: an operator's typo must not make an empty database. Before anything
// connects, the settings are checked (CheckDatabaseSettings).
func OpenStore(ctx context.Context, getenv func(string) string, create bool) (*store.Store, error) {
	if err := CheckDatabaseSettings(getenv); err != nil {
		return nil, err
	}
	cfg := PartialConfig(getenv)
	if cfg.DatabaseURL != "" {
		return OpenDatabase(ctx, cfg)
	}
	path := DBPath(getenv)
	if !create {
		if _, err := os.Stat(path); err != nil {
			return nil, fmt.Errorf("database %s: %w (set PORTAL_DB_PATH)", path, err)
		}
	}
	return store.OpenWith(ctx, path, StoreDefaults(cfg))
}

// CheckDatabaseSettings checks what an operator's command reads of the
// database settings, as OpenStore does before it connects. A database URL
// file that cannot be read (missing, open to others, empty) is an error:
// never SQLite instead. Outside development both URLs are held to portal
// serve's rule (validateTransport): portal migrate, in the chart's init
// container and compose's migrate service, is the only command given the
// schema owner's URL, and it must not send it where it can be read.
func CheckDatabaseSettings(getenv func(string) string) error {
	e := envReader{get: getenv}
	e.dev = e.bool("PORTAL_DEV", false)
	c := Config{DatabaseURL: e.databaseURL(), DatabaseOwnerURL: e.secret("PORTAL_DATABASE_OWNER_URL"),
		PlaintextHosts: splitList(e.str("PORTAL_PLAINTEXT_HOSTS", ""))}
	if !e.dev {
		c.validateTransport(&e)
	}
	if len(e.errs) > 0 {
		return fmt.Errorf("database: %s", strings.Join(e.errs, "; "))
	}
	return nil
}

func operatorRec(a Actor, action string, detail map[string]any) store.AuditRecord {
	return newRec(time.Now(), a, action, "", "success", detail)
}

// errNotPlainEmail refuses a grant or revocation by an email that is not
// plain (store.PlainEmail).
var errNotPlainEmail = errors.New("the email must be plain letters, digits and symbols (no accents, spaces or letters of other scripts)")

// RoleGrant names a portal-wide role and who gets it: the person who signs
// in from Issuer with Email, or with Subject (one of the two).
type RoleGrant struct {
	Role, Issuer, Email, Subject string
}

// GrantRole grants a portal-wide role. A grant by email binds at the
// person's next sign-in; one by subject binds at once if they have signed in
// before.
func GrantRole(ctx context.Context, st *store.Store, a Actor, g RoleGrant) error {
	if g.Role != store.RoleAdministrator {
		return fmt.Errorf("unknown role %q: the only portal-wide role is administrator", g.Role)
	}
	if g.Issuer == "" || (g.Email == "") == (g.Subject == "") {
		return errors.New("give the issuer, and either the email or the subject")
	}
	if g.Subject != "" {
		rec := operatorRec(a, "portal_role.granted", map[string]any{"role": g.Role, "issuer": g.Issuer, "subject": g.Subject})
		return st.GrantPortalRoleToSubject(ctx, g.Role, g.Issuer, g.Subject, rec.Time, rec)
	}
	if !store.PlainEmail(g.Email) {
		return errNotPlainEmail
	}
	email := strings.ToLower(g.Email)
	rec := operatorRec(a, "portal_role.granted", map[string]any{"role": g.Role, "issuer": g.Issuer, "email": email})
	return st.GrantPortalRole(ctx, g.Role, g.Issuer, email, rec.Time, rec)
}

// RevokeRole takes a portal-wide role from the person named as a grant
// names them (the issuer, and the email or the subject): a departing
// administrator's role ends at their next request, in open sessions too.
// Revoking a role the person does not hold is an error saying so.
func RevokeRole(ctx context.Context, st *store.Store, a Actor, g RoleGrant) error {
	if g.Role != store.RoleAdministrator {
		return fmt.Errorf("unknown role %q: the only portal-wide role is administrator", g.Role)
	}
	if g.Issuer == "" || (g.Email == "") == (g.Subject == "") {
		return errors.New("give the issuer, and either the email or the subject")
	}
	if g.Email != "" && !store.PlainEmail(g.Email) {
		return errNotPlainEmail
	}
	email := strings.ToLower(g.Email)
	detail := map[string]any{"role": g.Role, "issuer": g.Issuer}
	who := "subject " + g.Subject
	if email != "" {
		detail["email"], who = email, email
	} else {
		detail["subject"] = g.Subject
	}
	err := st.RevokePortalRole(ctx, g.Role, g.Issuer, email, g.Subject, operatorRec(a, "portal_role.revoked", detail))
	if errors.Is(err, store.ErrNotFound) {
		return fmt.Errorf("%s at %s holds no %s role: nothing revoked", who, g.Issuer, g.Role)
	}
	return err
}

// RotateMasterKey moves everything wrapped to the service's master key to
// another: the key epochs' keys in the key bucket (each object re-written;
// one already moved is skipped, so an interrupted rotation can be run
// again), then, in one transaction with its record, every live visit key
// still wrapped to the master key directly (made before key epochs). It
// returns how many epoch keys and visit keys moved.
//
// It holds the key-epoch lease throughout, so that no epoch starts (wrapped
// to the old master key only) between the listing and the end, and it
// finishes by checking that the new master key opens every live epoch.
// An epoch whose key object is gone because the janitor destroyed it and
// stopped before recording the retirement (superseded, due, no live key
// wrapped to it) has its retirement finished and recorded; any other
// epoch whose key is missing fails the rotation.
func (s *Service) RotateMasterKey(ctx context.Context, a Actor, to *crypto.MasterKey) (epochs, keys int, err error) {
	// A rotation retires at least one identity of the current key: a new
	// key file that is a copy of the current one, or holds all of its
	// identities, would leave the key being rotated away (perhaps because
	// it leaked) opening everything, recorded as rotated.
	retires := false
	for _, r := range s.keys.master.Recipients() {
		retires = retires || !slices.Contains(to.Recipients(), r)
	}
	if !retires {
		return 0, 0, errors.New("key rotate: the new master key holds every identity of the current one (a copy of it?): nothing would be rotated away")
	}
	if s.keys.vault == nil {
		return s.rotateMasterKey(ctx, a, to)
	}
	err = s.withEpochLease(ctx, func(ctx context.Context) error {
		epochs, keys, err = s.rotateMasterKey(ctx, a, to)
		return err
	})
	return epochs, keys, err
}

func (s *Service) rotateMasterKey(ctx context.Context, a Actor, to *crypto.MasterKey) (epochs, keys int, err error) {
	from := s.keys.master
	all, err := s.store.Epochs(ctx)
	if err != nil {
		return 0, 0, err
	}
	if len(all) > 0 && s.keys.vault == nil {
		return 0, 0, errors.New("key rotate: the database has key epochs but no key bucket is configured")
	}
	// The epochs' keys move outside the database, before the rotation's
	// own record can be written with the visit keys: its start is
	// recorded first, and no key moves without it.
	if err := s.store.Audit(ctx, operatorRec(a, "master_key.rotation_started", map[string]any{"from": from.Recipients()[0], "to": to.Recipients()[0]})); err != nil {
		return 0, 0, err
	}
	movedBefore := 0
	for i, e := range all {
		if !e.RetiredAt.IsZero() {
			continue
		}
		wrapped, err := s.keys.vault.get(ctx, e.ID)
		if errors.Is(err, blobs.ErrNoObject) {
			// The janitor destroyed the key of an epoch due to retire and
			// stopped before recording it: finish that, as it would.
			cutOff, cerr := s.retirementCutOff(ctx, e)
			if cerr != nil {
				return epochs, 0, cerr
			}
			if cutOff {
				if err := s.retireEpoch(ctx, e, 0); err != nil {
					return epochs, 0, err
				}
				s.log.Warn("key rotate: finished the retirement of a key epoch whose key was destroyed but not recorded retired",
					"epoch", e.ID, "superseded_at", e.SupersededAt, "retire_after", e.RetireAfter)
				all[i].RetiredAt = s.now()
				continue
			}
		}
		if err != nil {
			return epochs, 0, fmt.Errorf("key epoch %s: %w", e.ID, err)
		}
		moved, err := from.RewrapEpoch(wrapped, to)
		if errors.Is(err, crypto.ErrUnwrap) {
			if k, terr := to.UnwrapEpoch(wrapped); terr == nil && k.Recipient() == e.Recipient {
				movedBefore++
				continue // moved by an earlier run
			}
		}
		if err != nil {
			return epochs, 0, fmt.Errorf("key epoch %s: %w", e.ID, err)
		}
		if err := s.keys.vault.put(ctx, e.ID, moved); err != nil {
			return epochs, 0, err
		}
		epochs++
	}
	for _, e := range all {
		if e.RetiredAt.IsZero() {
			if err := s.keys.opensStored(ctx, to, e); err != nil {
				return epochs, 0, err
			}
		}
	}
	rec := operatorRec(a, "master_key.rotated", map[string]any{"from": from.Recipients()[0], "to": to.Recipients()[0], "epoch_keys": epochs, "epoch_keys_moved_before": movedBefore})
	keys, err = s.store.RewrapKeys(ctx, func(visitID string, wrapped []byte) ([]byte, error) {
		k, err := from.UnwrapFor(wrapped, visitID)
		if err != nil {
			return nil, fmt.Errorf("visit %s: %w", visitID, err)
		}
		return to.WrapFor(k, visitID)
	}, rec)
	return epochs, keys, err
}

// AuditSummary is what a verification of the whole trail found.
type AuditSummary struct {
	Records, Checkpoints, Anchors int
	LastAnchored                  int64
	// Restores are the restores the trail records, each with the
	// records it lost: a restored trail is neither intact nor broken.
	Restores []store.Gap
	// Signed is the last record a verified signature covers (a signed
	// checkpoint, an anchor, a restore's mark; 0: none). Unsigned counts
	// the records after it, the oldest written at UnsignedSince.
	Signed        int64
	Unsigned      int
	UnsignedSince time.Time
}

// unsignedWindow is how old the oldest record no checkpoint covers may be
// on a trail a portal is serving: it signs a checkpoint checkpointAfter
// after the last, on a tick of a minute, so at most about 11 minutes of
// records wait for one.
const unsignedWindow = checkpointAfter + 2*time.Minute

// unsignedAhead is how far ahead of the verifier's clock an unsigned
// record may be dated and still count as just written: clocks kept in
// time agree within it. A record's time is what the record says, so one
// dated further ahead vouches for nothing.
const unsignedAhead = time.Minute

// UnsignedError is a trail whose hash chain links up but whose records
// after Signed no signature covers, and either none is covered at all,
// the oldest uncovered was written longer than unsignedWindow ago, or it
// is dated ahead of the clock (Age below -unsignedAhead). It is
// not a break (nothing checked failed) but it is not intact either:
// anyone who can write to the database can recompute a hash chain.
type UnsignedError struct {
	Signed      int64 // the last record a signature covers (0: none)
	First, Last int64
	Count       int
	Since       time.Time // when the oldest unsigned record was written
	Age         time.Duration
}

func (e *UnsignedError) Error() string {
	recompute := "their hash chain links up, but anyone who can write to the database can recompute a hash chain, so nothing vouches for them"
	if e.Age < -unsignedAhead {
		return fmt.Sprintf("records %d..%d (%d) are covered by no signed checkpoint and dated ahead of this machine's clock, the oldest at %s (%s ahead): a portal dates each record as it writes it, so these were not written in the last few minutes by a serving portal; %s",
			e.First, e.Last, e.Count, e.Since.UTC().Format(time.RFC3339), (-e.Age).Round(time.Second), recompute)
	}
	if e.Signed == 0 {
		why := "the checkpoints were deleted, or no portal has served this trail since it was written"
		if e.Age < unsignedWindow {
			why = fmt.Sprintf("the oldest was written %s ago: a new portal signs its first checkpoint as `portal serve` starts; check again once it has", e.Age.Round(time.Second))
		}
		return fmt.Sprintf("no signed checkpoint covers any of the %d records: %s (%s)", e.Count, recompute, why)
	}
	return fmt.Sprintf("records %d..%d (%d) are covered by no signed checkpoint, the oldest written at %s, %s ago, while a serving portal signs one every %d records or %s: "+
		"the portal stopped without signing one (a crash; it signs one as it starts serving again), its checkpoints are failing (see PortalAuditCheckpointStale), or checkpoints were deleted; %s",
		e.First, e.Last, e.Count, e.Since.UTC().Format(time.RFC3339), e.Age.Round(time.Second), checkpointEvery, checkpointAfter, recompute)
}

// VerifyAudit walks the whole audit chain and its signed checkpoints, and
// checks it against the checkpoints anchored outside the database (anchors
// nil: ErrNoAnchors for a trail that holds signed checkpoints, or nothing,
// joined with the UnsignedError it has, if any); a broken link is a *store.ChainError naming the record. A
// signature is good when one of trusted made it: every signing key the
// trail has used.
func VerifyAudit(ctx context.Context, st *store.Store, anchors Anchors, trusted ...ed25519.PublicKey) (AuditSummary, error) {
	var sum AuditSummary
	var anchored, cps []store.Checkpoint
	if anchors != nil {
		// The checkpoints before the anchors: each is anchored after its
		// row is written, so every one read here but the latest is
		// anchored by the time the anchors are listed. Read after the walk,
		// the checkpoints a serving portal signed meanwhile looked
		// unanchored.
		var err error
		if cps, err = st.Checkpoints(ctx); err != nil {
			return sum, err
		}
		if anchored, err = anchors.List(ctx); err != nil {
			return sum, fmt.Errorf("audit anchors (%s): %w", anchors.Where(), err)
		}
		sum.Anchors = len(anchored)
		if n := len(anchored); n > 0 {
			sum.LastAnchored = anchored[n-1].Seq
		}
	}
	check, err := st.VerifyTrail(ctx, anchored, trusted...)
	sum.Records, sum.Checkpoints, sum.Restores = check.Records, check.Checkpoints, check.Restores
	sum.Signed, sum.Unsigned, sum.UnsignedSince = check.Signed, check.Unsigned, check.UnsignedSince
	if err != nil {
		return sum, err
	}
	if anchors == nil && (sum.Checkpoints > 0 || sum.Records == 0) {
		// Every serving portal anchors the checkpoints it signs (the first
		// as it starts): without the anchors, a trail cut after its last
		// one, or emptied with its checkpoints, looks whole. (Records no
		// checkpoint covers are unsigned, below: a portal that has not
		// yet served, or checkpoints deleted.)
		return sum, errors.Join(unsigned(sum, time.Now()), fmt.Errorf("%w: the trail holds %d records and %d signed checkpoints, but no anchor store was found "+
			"(PORTAL_AUDIT_ANCHOR_DIR, or PORTAL_AUDIT_ANCHOR_BUCKET on the PORTAL_S3_* store with its credentials, or the folder audit-anchors beside PORTAL_DB_PATH): "+
			"a trail cut after its last anchor cannot be told from an intact one here. Run it with the portal's configuration", ErrNoAnchors, sum.Records, sum.Checkpoints))
	}
	if anchors != nil && sum.Records == 0 && sum.Anchors == 0 {
		// A serving portal anchors a checkpoint as it starts: an anchor
		// store holding none beside a trail holding nothing may be both
		// emptied, and vouches for nothing.
		return sum, fmt.Errorf("%w: the trail holds no record and the anchor store (%s) holds no checkpoint: a trail emptied with its anchors cannot be told from one never written",
			ErrNoAnchors, anchors.Where())
	}
	if anchors != nil {
		if err := unanchored(cps, sum.LastAnchored, time.Now()); err != nil {
			return sum, err
		}
	}
	return sum, unsigned(sum, time.Now())
}

// ErrNoAnchors is returned by VerifyAudit for a trail with signed
// checkpoints, or none at all, checked without its anchor store, and for
// a trail holding nothing beside an anchor store holding nothing: whether
// it was cut, or emptied, cannot be known.
var ErrNoAnchors = errors.New("the audit anchors were not found")

// unsigned reports the records no signature covers when they are more
// than a serving portal leaves: any at all on a trail nothing signed
// covers, else any older than unsignedWindow, or all dated ahead of now
// by more than unsignedAhead.
func unsigned(sum AuditSummary, now time.Time) error {
	if sum.Unsigned == 0 {
		return nil
	}
	age := now.Sub(sum.UnsignedSince)
	if sum.Signed > 0 && age < unsignedWindow && age >= -unsignedAhead {
		return nil
	}
	return &UnsignedError{Signed: sum.Signed, First: sum.Signed + 1, Last: sum.Signed + int64(sum.Unsigned), Count: sum.Unsigned, Since: sum.UnsignedSince, Age: age}
}

// unanchored checks that the anchors reach as far as the signed
// checkpoints say they should. The portal writes each checkpoint outside
// the database as it signs it, and when that fails, tries again with its
// latest checkpoint at every append and every minute (Checkpoint). So the
// only checkpoint that may be beyond every anchor is the latest, signed
// less than checkpointAfter ago (its anchor being written, or the
// portal stopped between the two); the records after it are the
// documented window. Any other means anchors were removed or hidden, or
// the anchor store has not been written since: the trail cannot be
// vouched for. The checkpoints are those VerifyTrail found signed.
func unanchored(cps []store.Checkpoint, lastAnchored int64, now time.Time) error {
	for i, c := range cps {
		if c.Seq <= lastAnchored {
			continue
		}
		if i == len(cps)-1 && now.Sub(c.SignedAt) < checkpointAfter {
			return nil
		}
		return &store.ChainError{Seq: c.Seq, Reason: fmt.Sprintf("record %d was signed as a checkpoint at %s but nothing outside the database anchors it or any later record; "+
			"the last anchored record is %d: anchors were removed or hidden, or the anchor store has not been written since (see PortalAuditCheckpointStale)",
			c.Seq, c.SignedAt.UTC().Format(time.RFC3339), lastAnchored)}
	}
	return nil
}

// FindAnchors returns where the trail's checkpoints are anchored, without
// creating anything: the configured folder, the anchor bucket when it
// exists, else the folder beside the database. Nil when there are none.
func FindAnchors(ctx context.Context, cfg Config) (Anchors, error) {
	if cfg.AnchorDir != "" {
		// A folder named and not there is read as holding nothing: its
		// anchors may have been removed with it, and a trail they
		// vouched for is then reported broken, not merely unchecked.
		return dirAnchors{cfg.AnchorDir}, nil
	}
	if cfg.S3AccessKey != "" {
		if !cfg.Dev {
			// As portal serve would reach the store, or not at all: the
			// anchors read over plain http could be forged on the way.
			e := envReader{}
			(&Config{S3Endpoint: cfg.S3Endpoint, S3Secure: cfg.S3Secure, PlaintextHosts: cfg.PlaintextHosts}).validateTransport(&e)
			if len(e.errs) > 0 {
				return nil, errors.New(strings.Join(e.errs, "; "))
			}
		}
		b, err := blobs.New(cfg.blobsConfig(nil))
		if err != nil {
			return nil, err
		}
		// As OpenAnchors chose: the bucket only when object lock works
		// in it (else the portal wrote to the folder beside the database).
		if ok, err := b.BucketExists(ctx, cfg.AnchorBucket); err != nil {
			return nil, err
		} else if ok {
			locking, err := b.EnsureLockedBucket(ctx, cfg.AnchorBucket)
			if err != nil {
				return nil, err
			}
			if locking {
				return bucketAnchors{blobs: b, bucket: cfg.AnchorBucket}, nil
			}
		}
	}
	dir := filepath.Join(filepath.Dir(cfg.DBPath), "audit-anchors")
	if _, err := os.Stat(dir); err == nil {
		return dirAnchors{dir}, nil
	}
	return nil, nil
}

// verifyFailedListed is how many failed files one evidence.verified
// record names; the rest are counted.
const verifyFailedListed = 100

// verifyVisit checks every file of v (VerifyEvidence), records that by
// read them, and returns how many failed. A record that cannot be
// written fails the run: the evidence was read.
func (s *Service) verifyVisit(ctx context.Context, by Actor, v store.Visit, report func(FileCheck)) (_ int, err error) {
	checked, backfilled := 0, 0
	var failed []string
	outcome := "success"
	detail := map[string]any{}
	defer func() {
		detail["files"], detail["failed"], detail["backfilled"] = checked, len(failed), backfilled
		if len(failed) > 0 {
			detail["failed_files"] = failed[:min(len(failed), verifyFailedListed)]
		}
		r := newRec(s.now(), by, "evidence.verified", "", outcome, detail)
		r.VisitID = v.ID
		if rerr := s.store.Audit(context.WithoutCancel(ctx), r); rerr != nil {
			err = errors.Join(err, fmt.Errorf("visit %s read, and not recorded in the audit trail: %w", v.Reference, rerr))
		}
	}()
	key, err := s.keys.Key(ctx, v.ID)
	if err != nil {
		outcome = "interrupted"
		if errors.Is(err, crypto.ErrUnwrap) {
			// Stored and does not open: its files cannot be read, a
			// failure (a database or store that did not answer, or the
			// run stopped, is not).
			outcome, detail["key"] = "failure", "does not open"
		}
		return 0, err
	}
	files, err := s.store.Files(ctx, v.ID)
	if err != nil {
		outcome = "interrupted"
		return 0, err
	}
	for _, f := range files {
		c := FileCheck{VisitID: v.ID, Reference: v.Reference, FileID: f.ID, Size: f.Size}
		c.Backfilled, c.Err = s.evidence.Check(ctx, v, key, f)
		if c.Err != nil && ctx.Err() != nil {
			// Stopped, not damage: this file was not read through.
			outcome = "interrupted"
			return len(failed), ctx.Err()
		}
		checked++
		if c.Err != nil {
			failed = append(failed, f.ID)
			outcome = "failure"
		}
		if c.Backfilled {
			backfilled++
		}
		report(c)
	}
	return len(failed), nil
}

// FileCheck is the result of checking one stored file end to end.
type FileCheck struct {
	VisitID, Reference, FileID string
	Size                       int64
	Err                        error // nil: every segment authenticated and the SHA-256 matches
	// Backfilled: the file was stored before segment MACs were recorded,
	// matched its SHA-256, and has them recorded now.
	Backfilled bool
}

// VerifyEvidence reads every file of every live visit (or of the visit
// with this reference) through the decrypting reader and compares it with
// its recorded SHA-256, reporting each file to report. A file stored
// before segment MACs were recorded that matches gets them recorded
// (FileCheck.Backfilled). It returns how many files failed.
//
// Each visit it reads is recorded as by's act (evidence.verified): how
// many files were read, and which failed (outcome "failure"), or that the
// run stopped part-way through it ("interrupted").
func (s *Service) VerifyEvidence(ctx context.Context, by Actor, reference string, report func(FileCheck)) (int, error) {
	visits, err := s.store.Visits(ctx)
	if err != nil {
		return 0, err
	}
	failed, found := 0, false
	for _, v := range visits {
		if v.State != StateActive || reference != "" && v.Reference != reference {
			continue
		}
		found = true
		bad, err := s.verifyVisit(ctx, by, v, report)
		failed += bad
		if err != nil {
			return failed, err
		}
	}
	if reference != "" && !found {
		return failed, fmt.Errorf("portal: no visit with evidence has the reference %q", reference)
	}
	return failed, nil
}
