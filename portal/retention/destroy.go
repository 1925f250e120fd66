package retention

import (
	"context"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"time"

	"github.com/ofsted-portal/evidence/portal/blobs"
	"github.com/ofsted-portal/evidence/portal/calendar"
	"github.com/ofsted-portal/evidence/portal/store"
)

// Objects is the visit's bucket as destruction sees it: an inventory of
// every object version, and its removal (every version and delete marker,
// until empty, then the bucket), which must succeed when the bucket is
// already gone (a resumed run).
type Objects interface {
	Versions(ctx context.Context, bucket, prefix string) ([]blobs.Version, error)
	BucketExists(ctx context.Context, bucket string) (bool, error)
	RemoveBucket(ctx context.Context, bucket string) (objects int, err error)
}

// Service runs destruction.
type Service struct {
	Store   *store.Store
	Objects Objects
	// Forget drops a visit key from this process's memory (every process
	// also checks the key is still stored each time it uses it).
	Forget func(visitID string)
	Signer ed25519.PrivateKey
	Now    func() time.Time
	Today  func() time.Time // civil date in London
	// NoticePeriod is how long administrators are warned before a
	// destruction that none of them has approved (PORTAL_DESTRUCTION_NOTICE).
	NoticePeriod time.Duration
	Holder       string // this process, for the lease
	// LeaseTTL is how long the sweep's lease lasts without renewal (30 s
	// when zero): a sweep that dies holds it no longer than this.
	LeaseTTL time.Duration
	// KeyWait is how long key destruction waits for readers that hold the
	// database's log before it gives up for this round (1 minute when
	// zero).
	KeyWait time.Duration
	Log     *slog.Logger
	// Record describes a destruction step for the audit trail; it is written
	// in the step's own transaction.
	Record func(visitID, action, object string, detail map[string]any) store.AuditRecord
	// AfterStep, when set, runs after each recorded step; an error stops
	// the run there, as a crash would (tests).
	AfterStep func(step string) error
	// Epochs moves every live visit key off the key epoch a destroyed key
	// was wrapped to (nil: no epochs, as in unit tests).
	Epochs Epochs
	// Outside, when set, writes a signed record outside the database,
	// once under its name (outside.go); a destruction does not go on
	// until it has.
	Outside func(ctx context.Context, name string, body []byte) error
	// Issued, when set, returns the visit's certificate already written
	// outside the database, its signature checked (nil when there is
	// none): a run that finishes a destruction stopped after that write
	// records it rather than signing another.
	Issued func(ctx context.Context, visitID string) ([]byte, error)
}

// Epochs supersedes key epochs: Supersede makes sure no live visit key is
// wrapped to the epoch any more (starting a new epoch, recorded as part of
// the visit's destruction, if it is the current one) and says when that
// happened and from when the epoch's key may be destroyed.
type Epochs interface {
	Supersede(ctx context.Context, epoch, visitID string) (supersededAt, retireAfter time.Time, err error)
}

// letter replays a visit's recorded events.
func letter(evs []store.Event) Letter {
	out := make([]Event, len(evs))
	for i, e := range evs {
		out[i] = Event{Event: e.Event, Date: e.Date}
	}
	return Replay(out)
}

// due decides whether v is destroyed now. Destruction cannot be brought
// forward by one person: the date must have passed (IsDue) and either an
// administrator approved it or the notice period ran since the notice was
// given. The notice is given (once, recorded) as soon as the date comes
// within the notice period, whenever the events that set it were recorded.
func (s *Service) due(ctx context.Context, r store.VisitRow) (bool, store.Notice, error) {
	v := r.Visit
	switch v.State {
	case "destroyed":
		return false, store.Notice{}, nil
	case "destroying":
		return true, store.Notice{}, nil // finish what was started, hold or not
	}
	l := letter(r.Events)
	on := DestroyOn(l, v.RetentionDays)
	if on.IsZero() || r.Hold.On || s.Now().Before(NoticeFrom(on, s.NoticePeriod)) {
		return false, store.Notice{}, nil
	}
	// The date is the database's reading: held to the audit trail before
	// a notice is given or a destruction begins on it.
	if err := s.asRecorded(ctx, r); err != nil {
		if errors.Is(err, ErrNotAsRecorded) {
			s.Log.Error("destruction withheld: the visit's letter events or retention period are not as recorded", "visit", v.ID, "reference", v.Reference, "err", err)
		}
		return false, store.Notice{}, err
	}
	n, err := s.notice(ctx, r, l.Published, on)
	if errors.Is(err, store.ErrNotDue) || errors.Is(err, store.ErrOnHold) {
		// The page this sweep read is older than the visit: its
		// publication withdrawn, or a hold set, since. The next sweep
		// decides on it as it is.
		s.Log.Warn("destruction notice not given: the visit changed since the sweep read it", "visit", v.ID, "reference", v.Reference, "err", err)
		return false, store.Notice{}, nil
	}
	if err != nil {
		return false, store.Notice{}, err
	}
	return IsDue(l, v.RetentionDays, r.Hold.On, s.Today()) && !s.Now().Before(Earliest(on, n, s.NoticePeriod)), n, nil
}

// NoticeFrom is when the notice of a destruction on date on is given: the
// notice period before the start of that day (London).
func NoticeFrom(on time.Time, period time.Duration) time.Time {
	return calendar.StartOfDay(on).Add(-period)
}

// Earliest is the first moment a destruction on date on may run: the start
// of that day once an administrator approved it, else also no sooner than
// the notice period after the notice was given.
func Earliest(on time.Time, n store.Notice, period time.Duration) time.Time {
	period = Announced(n, period)
	t := calendar.StartOfDay(on)
	if n.ApprovedAt.IsZero() && n.GivenAt.Add(period).After(t) {
		t = n.GivenAt.Add(period)
	}
	return t
}

// Announced is the notice period that holds a destruction back: the one
// notice n announced when it was given, or setting when that is longer
// (or n was given before the period was kept with it). A shorter setting
// since, on this replica or after a restart, never shortens it.
func Announced(n store.Notice, setting time.Duration) time.Duration {
	return max(n.Period, setting)
}

// notice returns the destruction notice of r's visit, as read with it
// (an approval since then only brings the destruction forward, so an older
// copy errs on the side of later), giving it (with its record) if it had
// not been given.
func (s *Service) notice(ctx context.Context, r store.VisitRow, published, on time.Time) (store.Notice, error) {
	if r.Notice != nil {
		return *r.Notice, nil
	}
	v := r.Visit
	now := s.Now()
	given, err := s.Store.GiveNotice(ctx, v.ID, published, on, now, s.NoticePeriod, s.audit(v.ID, "destruction.notice", v.ID, map[string]any{
		"destroy_on": on.Format(time.DateOnly), "notice_period": s.NoticePeriod.String(),
		"destroy_after": Earliest(on, store.Notice{GivenAt: now}, s.NoticePeriod).UTC().Format(time.RFC3339)})...)
	if err != nil {
		return store.Notice{}, err
	}
	if given {
		s.Log.Warn("destruction notice given", "visit", v.ID, "reference", v.Reference, "destroy_on", on.Format(time.DateOnly),
			"destroy_after", Earliest(on, store.Notice{GivenAt: now}, s.NoticePeriod))
	}
	return s.Store.GetNotice(ctx, v.ID)
}

func (s *Service) audit(visitID, action, object string, detail map[string]any) []store.AuditRecord {
	if s.Record == nil {
		return nil
	}
	return []store.AuditRecord{s.Record(visitID, action, object, detail)}
}

// listTries is how many times a destruction lists a visit's files before
// it gives up for this run because they keep changing (ErrFilesChanged):
// uploads close long before a destruction is due, so one more try is
// the most a race should need.
const listTries = 3

// listAgain runs begin until it succeeds, fails otherwise, or has found
// the files changed listTries times.
func listAgain(begin func() error) error {
	var err error
	for range listTries {
		if err = begin(); !errors.Is(err, store.ErrFilesChanged) {
			return err
		}
	}
	return err
}

// listFiles reads the visit's files_version, then its files, and the list
// of them a certificate names (JSON: [{id, sha256, size}]).
func (s *Service) listFiles(ctx context.Context, v store.Visit) (version int64, files []store.File, list string, err error) {
	if version, err = s.Store.FilesVersion(ctx, v.ID); err != nil {
		return 0, nil, "", err
	}
	if files, err = s.Store.Files(ctx, v.ID); err != nil {
		return 0, nil, "", err
	}
	named := make([]CertFile, len(files))
	for i, f := range files {
		named[i] = CertFile{ID: f.ID, SHA256: f.SHA256, Size: f.Size}
	}
	js, _ := json.Marshal(named)
	return version, files, string(js), nil
}

// begin takes step a: it lists the visit's files and counts what its
// bucket holds, then marks the visit destroying with that inventory, if
// no file changed meanwhile (ErrFilesChanged: list them again), and
// notice, on which the visit was found due, is still its notice
// (ErrNotDue).
func (s *Service) begin(ctx context.Context, v store.Visit, notice store.Notice) error {
	k, err := s.Store.WrappedKey(ctx, v.ID)
	if err != nil {
		return err
	}
	version, files, list, err := s.listFiles(ctx, v)
	if err != nil {
		return err
	}
	inv, err := s.inventory(ctx, v, files)
	if err != nil {
		return err
	}
	inv.VisitID, inv.Reference, inv.KeyFingerprint, inv.Files = v.ID, v.Reference, k.Fingerprint, list
	inv.KeyEpoch, inv.FilesVersion = k.Epoch, version // until DeleteKey records the one it deletes from
	// The notice due decided on, and its period.
	inv.NoticeGivenAt = notice.GivenAt
	inv.NoticePeriod, inv.NoticePeriodKnown = Announced(notice, s.NoticePeriod), true
	// Begun as the visit is marked destroying, not as its inventory began
	// (a long listing): an approval given meanwhile is before it.
	inv.StartedAt = s.Now()
	if err := s.Store.BeginDestruction(ctx, inv, s.audit(v.ID, "destruction.started", v.ID, map[string]any{
		"files": len(files), "object_versions": inv.ObjectsAtStart, "segments_expected": inv.SegmentsExpected, "segments_missing": inv.SegmentsMissing})...); err != nil {
		return err
	}
	s.Log.Warn("destruction started", "visit", v.ID, "reference", v.Reference, "files", len(files))
	return nil
}

// Destroy runs whatever steps of v's destruction remain, beginning it (v
// active) only on notice, the notice it was found due on. Each step is
// recorded before the next starts, so running it again resumes.
func (s *Service) Destroy(ctx context.Context, v store.Visit, notice store.Notice) error {
	return s.destroy(ctx, v, false, nil, nil, notice)
}

// destroy is Destroy; reapplied, it is a destruction recorded outside a
// restored database applied again (Reapply), completed with the
// certificate issued, when given, instead of signing one, and decided on
// what decided says, when given, rather than what the database holds.
func (s *Service) destroy(ctx context.Context, v store.Visit, reapplied bool, issued []byte, decided *Decision, notice store.Notice) error {
	d, err := s.Store.GetDestruction(ctx, v.ID)
	if errors.Is(err, store.ErrNotFound) {
		// a. write down what is to be destroyed; the visit is destroying.
		if err := listAgain(func() error { return s.begin(ctx, v, notice) }); err != nil {
			return err
		}
		if err := s.step("destroying"); err != nil {
			return err
		}
		if d, err = s.Store.GetDestruction(ctx, v.ID); err != nil {
			return err
		}
	} else if err != nil {
		return err
	}
	if d.KeyDestroyedAt.IsZero() {
		// b. the key, and with it every copy of the ciphertext and names:
		// recorded only once no byte of it is left in the database files.
		// First the note outside the database that a restore reads.
		if err := s.noteStarted(ctx, v, d, reapplied, decided); err != nil {
			return err
		}
		if err := s.Store.DeleteKey(ctx, v.ID); err != nil {
			return err
		}
		s.Forget(v.ID)
		if err := s.step("key_deleted"); err != nil {
			return err
		}
		wait := s.KeyWait
		if wait == 0 {
			wait = time.Minute
		}
		if err := s.Store.VerifyKeyGone(ctx, v.ID, wait); err != nil {
			return err
		}
		// The time is read once the bytes are proved gone: the proof may
		// have waited for a reader.
		if err := s.Store.RecordKeyDestroyed(ctx, v.ID, s.Now(), s.audit(v.ID, "destruction.key_destroyed", d.KeyFingerprint, nil)...); err != nil {
			return err
		}
		if err := s.step("key_destroyed"); err != nil {
			return err
		}
		// DeleteKey recorded the epoch the key was wrapped to as it went,
		// which the epoch may have moved past since step a.
		if d, err = s.Store.GetDestruction(ctx, v.ID); err != nil {
			return err
		}
	} else {
		s.Forget(v.ID) // a restarted process may have cached it again
	}
	if d.KeyEpoch != "" && d.EpochSupersededAt.IsZero() && s.Epochs != nil {
		// b'. every live key moves to a new epoch, so that the old epoch's
		// key, and with it every backup's copy of this visit's key, can be
		// destroyed once those backups have expired.
		at, retire, err := s.Epochs.Supersede(ctx, d.KeyEpoch, v.ID)
		if err != nil {
			return err
		}
		if err := s.Store.MarkEpochSuperseded(ctx, v.ID, at, retire, s.audit(v.ID, "destruction.key_epoch_superseded", d.KeyEpoch, map[string]any{
			"superseded_at": at.UTC().Format(time.RFC3339), "unrecoverable_from_backups_after": retire.UTC().Format(time.RFC3339)})...); err != nil {
			return err
		}
		if err := s.step("key_epoch_superseded"); err != nil {
			return err
		}
	}
	if d.ObjectsDeletedAt.IsZero() && !d.InventoryKnown {
		// A destruction applied again after a restore: its bucket counted
		// now the key is gone, for the certificate. A bucket already
		// removed (by the run the backup predates) held nothing, its
		// segments all gone before.
		if err := s.inventoryAgain(ctx, v); err != nil {
			return err
		}
	}
	if d.ObjectsDeletedAt.IsZero() {
		// c. every object version, then the bucket. The store takes a
		// bucket it does not show as removed, which is so only when a run
		// of this destruction began removing it: a bucket counted with
		// objects at the start and gone before then is not one this
		// destruction removed (the portal now at a replica without it, or
		// a store that lost it), and is not certified deleted. Applied
		// again after a restore, the destruction may have removed it in a
		// run the backup predates, which the record outside the database
		// proves began.
		if d.RemovalStartedAt.IsZero() {
			if d.ObjectsAtStart > 0 && !reapplied {
				exists, err := s.Objects.BucketExists(ctx, v.Bucket)
				if err != nil {
					return err
				}
				if !exists {
					return fmt.Errorf("%w: %s held %d object versions when the destruction began, and no run of it has removed them",
						ErrBucketMissing, v.Bucket, d.ObjectsAtStart)
				}
			}
			if err := s.Store.MarkRemovalStarted(ctx, v.ID, s.Now()); err != nil {
				return err
			}
		}
		n, err := s.Objects.RemoveBucket(ctx, v.Bucket)
		if err != nil {
			return err
		}
		if err := s.Store.MarkObjectsDeleted(ctx, v.ID, n, s.Now(), s.audit(v.ID, "destruction.objects_deleted", v.Bucket, map[string]any{"object_versions": n})...); err != nil {
			return err
		}
		if err := s.step("objects_deleted"); err != nil {
			return err
		}
	}
	if d, err = s.Store.GetDestruction(ctx, v.ID); err != nil {
		return err
	}
	if d.CompletedAt.IsZero() && issued != nil {
		// d. the certificate issued before a restore; e. destroyed.
		return s.keep(ctx, v, issued, "destruction.certificate_kept")
	}
	if d.CompletedAt.IsZero() && s.Issued != nil {
		// d. the certificate this destruction wrote outside the database
		// before it stopped; e. destroyed.
		written, err := s.Issued(ctx, v.ID)
		if err != nil {
			return err
		}
		if written != nil {
			return s.keep(ctx, v, written, "destruction.certificate_issued")
		}
	}
	if d.CompletedAt.IsZero() {
		// d. the signed certificate; e. destroyed.
		var files []CertFile
		if err := json.Unmarshal([]byte(d.Files), &files); err != nil {
			return err
		}
		c := Certificate{VisitID: v.ID, Reference: d.Reference, KeyFingerprint: d.KeyFingerprint, FileCount: len(files),
			ObjectsDeleted: d.ObjectsAtStart, SegmentsExpected: d.SegmentsExpected, SegmentsGoneBefore: d.SegmentsMissing,
			Files: files, IssuedAt: s.Now().UTC(),
			Steps: CertSteps{Started: d.StartedAt, KeyDestroyed: d.KeyDestroyedAt, ObjectsDeleted: d.ObjectsDeletedAt, BucketDeleted: d.BucketDeletedAt}}
		if decided == nil {
			if decided, err = s.decision(ctx, v, d); err != nil {
				return err
			}
		}
		c.Notice, c.Approval, c.Due = decided.Notice, decided.Approval, decided.Due
		c.Bucket = v.Bucket
		if d.KeyEpoch != "" && !d.EpochSupersededAt.IsZero() {
			c.KeyEpoch = &CertKeyEpoch{ID: d.KeyEpoch, SupersededAt: d.EpochSupersededAt.UTC(), UnrecoverableFromBackupsAfter: d.EpochRetireAfter.UTC()}
		}
		for _, f := range files {
			c.TotalBytes += f.Size
		}
		purged, err := s.Store.PurgedFiles(ctx, v.ID)
		if err != nil {
			return err
		}
		for _, p := range purged {
			c.Purged = append(c.Purged, CertPurged{ID: p.FileID, SHA256: p.SHA256, Size: p.Size, PurgedAt: p.PurgedAt.UTC()})
		}
		signed, err := Sign(c, s.Signer)
		if err != nil {
			return err
		}
		if s.Outside != nil {
			if err := s.Outside(ctx, CertificateName(v.ID), signed); err != nil {
				return err
			}
		}
		recs := append(s.audit(v.ID, "destruction.certificate_issued", v.ID, map[string]any{"files": len(files), "bytes": c.TotalBytes}),
			s.audit(v.ID, "visit.destroyed", v.ID, nil)...)
		if err := s.Store.CompleteDestruction(ctx, v.ID, signed, s.Now(), recs...); err != nil {
			return err
		}
		s.Log.Warn("visit destroyed", "visit", v.ID, "reference", d.Reference, "files", len(files), "bytes", c.TotalBytes, "object_versions", c.ObjectsDeleted)
		if err := s.step("destroyed"); err != nil {
			return err
		}
	}
	return nil
}

// decision is what v's destruction d was decided on, as the database
// holds it: the notice and its period (the one the destruction was
// decided with, not this run's: a setting changed since a crash), the
// approval, and the date. The events cannot change once the destruction
// has begun (a withdrawal is refused): the date is the one it was
// decided on.
func (s *Service) decision(ctx context.Context, v store.Visit, d store.Destruction) (*Decision, error) {
	period := s.NoticePeriod
	if d.NoticePeriodKnown {
		period = d.NoticePeriod
	}
	var dec Decision
	var notice store.Notice
	if n, err := s.Store.GetNotice(ctx, v.ID); err == nil {
		notice = n
		period = Announced(n, period)
		dec.Notice = &CertNotice{GivenAt: n.GivenAt.UTC(), Period: period.String()}
		if !n.ApprovedAt.IsZero() {
			dec.Approval = &CertApproval{Issuer: n.ApprovedBy.Issuer, Subject: n.ApprovedBy.Subject, Email: n.ApprovedBy.Email, At: n.ApprovedAt.UTC()}
		}
	} else if !errors.Is(err, store.ErrNotFound) {
		return nil, err
	}
	evs, err := s.Store.Events(ctx, v.ID)
	if err != nil {
		return nil, err
	}
	if on := DestroyOn(letter(evs), v.RetentionDays); !on.IsZero() {
		dec.Due = &CertDue{DestroyOn: on.Format(time.DateOnly), DestroyAfter: Earliest(on, notice, period).UTC()}
	}
	return &dec, nil
}

// keep completes v's destruction with the certificate issued for it
// before (found outside the database, its signature checked there), once
// it is sure that it is v's: after a restore (action
// destruction.certificate_kept), or when a run stopped once it had
// written it there (destruction.certificate_issued).
func (s *Service) keep(ctx context.Context, v store.Visit, issued []byte, action string) error {
	var signed Signed
	var c Certificate
	if json.Unmarshal(issued, &signed) != nil || json.Unmarshal(signed.Certificate, &c) != nil || c.VisitID != v.ID {
		return fmt.Errorf("retention: the certificate kept for visit %s is not its own", v.ID)
	}
	recs := append(s.audit(v.ID, action, v.ID, map[string]any{"files": c.FileCount, "bytes": c.TotalBytes, "issued_at": c.IssuedAt.UTC().Format(time.RFC3339Nano)}),
		s.audit(v.ID, "visit.destroyed", v.ID, nil)...)
	if err := s.Store.CompleteDestruction(ctx, v.ID, issued, s.Now(), recs...); err != nil {
		return err
	}
	s.Log.Warn("visit destroyed; its certificate is the one written outside the database before", "action", action, "visit", v.ID, "reference", v.Reference, "issued_at", c.IssuedAt)
	return s.step("destroyed")
}

// ErrBucketMissing stops a destruction before it begins, or before it
// removes the bucket it counted: the object store does not show the
// visit's bucket.
var ErrBucketMissing = errors.New("retention: the object store does not show the visit's bucket")

// inventoryAgain records the inventory of a destruction applied again
// after a restore, its key gone: what the bucket holds. A bucket the
// store does not show (removed by the run the backup predates, or not in
// a copy of the store) is counted as holding nothing, and none of its
// segments as gone before the destruction began: that is not known here,
// and the audit trail says what this run removed.
func (s *Service) inventoryAgain(ctx context.Context, v store.Visit) error {
	_, files, _, err := s.listFiles(ctx, v)
	if err != nil {
		return err
	}
	inv := store.Destruction{}
	exists, err := s.Objects.BucketExists(ctx, v.Bucket)
	if err != nil {
		return err
	}
	if exists {
		if inv, err = s.inventory(ctx, v, files); err != nil {
			return err
		}
	}
	return s.Store.RecordInventory(ctx, v.ID, inv.ObjectsAtStart, inv.SegmentsMissing)
}

// inventory counts, before anything is destroyed, every object version in
// the visit's bucket and which of the files' segments are there: the
// certificate's counts come from it, whatever later runs or the store's
// lifecycle backstop remove.
//
// A bucket the store does not show is not an empty one when the visit
// ever held a file: the portal removes a live visit's bucket only when
// the visit's creation failed (the store's lifecycle backstop empties
// buckets, never removes them), so the store is not the one the visit's
// evidence is in (a replica without it), or has lost it. Nothing is
// destroyed (ErrBucketMissing): a certificate would say the bucket was
// deleted, its objects gone before, while the evidence stays where it
// is. A visit that never held a file (one whose creation's answer was
// lost after its bucket was removed) has nothing to lose, and goes.
func (s *Service) inventory(ctx context.Context, v store.Visit, files []store.File) (store.Destruction, error) {
	exists, err := s.Objects.BucketExists(ctx, v.Bucket)
	if err != nil {
		return store.Destruction{}, err
	}
	if !exists {
		purged, err := s.Store.PurgedFiles(ctx, v.ID)
		if err != nil {
			return store.Destruction{}, err
		}
		if len(files) > 0 || len(purged) > 0 {
			return store.Destruction{}, fmt.Errorf("%w: %s", ErrBucketMissing, v.Bucket)
		}
		s.Log.Warn("a visit that never held a file has no bucket: destroyed as an empty one", "visit", v.ID)
	}
	vs, err := s.Objects.Versions(ctx, v.Bucket, "")
	if err != nil {
		return store.Destruction{}, err
	}
	present := map[string]bool{}
	for _, o := range vs {
		if !o.DeleteMarker {
			present[o.Key] = true
		}
	}
	d := store.Destruction{ObjectsAtStart: len(vs), InventoryKnown: true}
	for _, f := range files {
		for i := 0; i < f.Segments; i++ {
			d.SegmentsExpected++
			if !present[f.ID+"/"+strconv.Itoa(i)] {
				d.SegmentsMissing++
			}
		}
	}
	return d, nil
}
