package portal

import (
	"context"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/ofsted-portal/evidence/portal/store"
)

// A restore must never bring back evidence destroyed after its backup was
// taken. Every destruction leaves signed records outside the database (a
// note before its key is deleted, then its certificate: retention/outside.go)
// and removes the visit's bucket; the audit anchors say how far the trail
// had gone. FinishRestore reads all of them and, before the portal serves,
// destroys again (key first) every visit the restored database still
// holds that one of them says is destroyed, and marks the trail with a
// signed statement of the records the restore lost. A bucket the object
// store does not show is never taken as a destruction (destroyedOutside):
// the visit is kept whole, and the restore does not finish while it is
// missing (ErrBucketMissing).

// Reapplied is one visit destroyed again by a restore.
type Reapplied struct {
	VisitID, Reference, Reason string
	Err                        error
}

// MissingBucket is a live visit whose bucket the object store does not
// show, and that nothing outside the database says was destroyed: a
// restore keeps it whole (key, records, hold) and reports it.
type MissingBucket struct {
	VisitID, Reference, Bucket string
}

// RestoreReport is what a restore found and did.
type RestoreReport struct {
	RestoredSeq, AnchoredSeq, MarkSeq int64
	Reapplied                         []Reapplied
	Missing                           []MissingBucket // kept whole; the restore stays pending
	Unknown                           []string        // destroyed visits the backup never held
	Repurged                          []string        // files purged after the backup, purged again
	AccessEnded                       int             // memberships, roles and people whose access ended after the backup, ended again
	HeldAgain                         int             // visits whose legal hold was set after the backup, held again
	WithdrawnAgain                    int             // letter events withdrawn after the backup, withdrawn again
	RecordedAgain                     int             // letter events recorded after the backup, recorded again
	NotRecordedAgain                  int             // letter events recorded after the backup that the visit's events, restored, do not allow: to record by hand
	UploadsDropped                    int             // resumable uploads under way at the backup, dropped
}

// ErrBucketMissing is returned by FinishRestore and CheckRestored when a
// live visit's bucket is not in the object store and no signed record
// says the visit was destroyed (RestoreReport.Missing). Nothing of the
// visit is destroyed; the restore stays pending and the portal does not
// serve until the store shows the bucket again (portal restore --resume).
var ErrBucketMissing = errors.New("a live visit's bucket is missing from the object store")

// ErrNoRestoreIntent is returned by FinishRestore and CheckRestored for a
// pending restore that has not yet marked the trail and for which the
// anchor store holds no matching intent (RestoreIntent): the portal signs
// a restore's mark only for a restore the operator began (portal restore,
// or portal restore --resume --confirm). A row in restores alone is what
// someone who can only write to the database could add, after cutting the
// trail, to have the cut signed as a restore.
var ErrNoRestoreIntent = errors.New("no restore intent outside the database for the pending restore")

// ErrBehindAnchors is returned by CheckRestored for a database that holds
// less than what was recorded outside it, without a restore that explains
// it: restored by hand (pg_restore, a file copy), or cut short.
var ErrBehindAnchors = errors.New("the database is behind what was recorded outside it")

// restoreLease is held while a process finishes a restore; restoreLeaseTTL
// is how long it lasts unrenewed (renewed while the work goes on), and
// restoreWaitFor how long another process waits for it.
const (
	restoreLease    = "restore"
	restoreLeaseTTL = 5 * time.Minute
	restoreWaitFor  = 15 * time.Minute
)

// ErrRestoreBusy is returned by FinishRestore (and CheckRestored) when
// another process has been finishing the restore for longer than this one
// waits: start it again.
var ErrRestoreBusy = errors.New("another process is finishing the restore")

// TakeInWayOut is what serve says of a database behind what is recorded
// outside it. Only the operator knows whether they restored it (a
// point-in-time recovery, pg_restore, a copy put back by hand): someone
// who can write to the database could have cut the trail instead, and
// taking it in signs the cut as a restore. So it is taken in only on the
// operator's word (--confirm taken-in).
const TakeInWayOut = "If you restored this database yourself (a point-in-time recovery, pg_restore, a copy put back by hand), run portal restore --resume --confirm " + TakenIn +
	" with the replicas stopped; if you did not, records were removed or changed: treat it as a break of the audit chain (docs/operating.md: Backups and restore)"

// TakenIn is the word portal restore --resume --confirm takes for a
// database no restore is pending for: the operator restored it by other
// means.
const TakenIn = "taken-in"

// anchorsWayOut is what an operator does when the anchor store cannot be
// read at start-up.
const anchorsWayOut = "Check that the anchor store exists and the portal may read it (PORTAL_AUDIT_ANCHOR_BUCKET, or PORTAL_AUDIT_ANCHOR_DIR), then start the portal again (docs/operating.md: Backups and restore)"

// ErrRestoreUnchecked is returned by CheckRestored when what is recorded
// outside the database (the anchor store's checkpoints and destruction
// records) cannot be read: whether the database was put back behind them
// cannot be told, and serving a visit destroyed since would serve its
// key and names again. The portal does not serve until it can read them
// (anchorsWayOut).
var ErrRestoreUnchecked = errors.New("what is recorded outside the database cannot be read")

// BeginRestore records, in a database just brought back from a backup, a
// pending restore id of the backup taken at created (ending every
// session): from then on the portal does not serve it until FinishRestore
// is done. Its intent (IntendRestore) is written before.
func BeginRestore(ctx context.Context, st *store.Store, id string, created time.Time) error {
	seq, hash, err := st.AuditHead(ctx)
	if err != nil {
		return err
	}
	return st.BeginRestore(ctx, store.Restore{ID: id, BackupCreatedAt: created, BackupSeq: seq, BackupHash: hash, StartedAt: time.Now()})
}

// FinishRestore finishes a pending restore, if there is one (a zero report
// when not): it marks the trail, then destroys again every visit whose
// destruction is recorded outside the database, and only then lets the
// portal serve. Run again after a crash, it carries on where it stopped.
//
// The signed records outside the database are checked against the
// portal's signing key and the earlier keys in trusted (a signing key
// replaced since they were written).
func (s *Service) FinishRestore(ctx context.Context, a Actor, trusted ...ed25519.PublicKey) (RestoreReport, error) {
	keys := s.trustedKeys(trusted)
	var rep RestoreReport
	if _, err := s.store.PendingRestore(ctx); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return rep, nil
		}
		return rep, err
	}
	// One process at a time finishes a restore (replicas started
	// together, each finding it pending): two would destroy the same
	// visits again side by side, and each sign a certificate of its own.
	// The others wait, then find it finished.
	ctx, release, err := s.awaitLease(ctx, restoreLease, restoreLeaseTTL, s.restoreWait)
	if errors.Is(err, errLeaseBusy) {
		return rep, fmt.Errorf("%w, and has not finished within %s: start this one again", ErrRestoreBusy, s.restoreWait)
	}
	if err != nil {
		return rep, err
	}
	defer release()
	r, err := s.store.PendingRestore(ctx)
	if errors.Is(err, store.ErrNotFound) {
		return rep, nil // finished by the process that held the lease
	}
	if err != nil {
		return rep, err
	}
	rep.RestoredSeq, rep.MarkSeq = r.BackupSeq, r.MarkSeq
	if r.MarkSeq == 0 {
		if rep.AnchoredSeq, rep.MarkSeq, err = s.markRestore(ctx, r, keys); err != nil {
			return rep, fmt.Errorf("restore: mark the audit trail: %w", err)
		}
	} else {
		if err := s.markStands(ctx, r, keys); err != nil {
			return rep, fmt.Errorf("restore: mark the audit trail: %w", err)
		}
		rep.AnchoredSeq = r.MarkSeq - 1
	}
	// The mark is anchored before anything else is written, so the trail
	// outside the database goes on from it (and the restore's intent,
	// which names the last anchor before it, is spent).
	if err := s.Checkpoint(ctx, true); err != nil {
		return rep, fmt.Errorf("restore: anchor the mark: %w", err)
	}
	found, err := s.destroyedOutside(ctx, keys)
	if err != nil {
		return rep, err
	}
	rep.Unknown = found.unknown
	for _, v := range found.missing {
		s.log.Error("restore: a live visit's bucket is missing from the object store; nothing says it was destroyed, so it is kept whole",
			"visit", v.ID, "reference", v.Reference, "bucket", v.Bucket)
		rep.Missing = append(rep.Missing, MissingBucket{VisitID: v.ID, Reference: v.Reference, Bucket: v.Bucket})
	}
	var errs []error
	// Purges recorded outside the database first: a visit whose
	// destruction began after a purge is destroyed again below with that
	// file purged, as it was, so that its certificate lists the file
	// apart, as purged, not among those destroyed on schedule. The files
	// of live visits only, and of those whose destruction had not
	// completed: a certificate kept outside the database already lists
	// what was purged.
	done := map[string]bool{}
	for _, t := range found.again {
		if t.certificate != nil {
			done[t.visit.ID] = true
		}
	}
	again, err := s.purgeAgain(ctx, keys, done)
	rep.Repurged = again
	if err != nil {
		errs = append(errs, fmt.Errorf("restore: files purged after the backup: %w; the restore stays pending", err))
	}
	// Access ended since the backup is ended again before anyone signs
	// in: a member removed, a role revoked, a person disabled; and a
	// visit held since is held again, before any retention run.
	since, err := s.restoredUpTo(ctx, r.BackupSeq)
	if !r.BackupCreatedAt.IsZero() && r.BackupCreatedAt.Before(since) {
		since = r.BackupCreatedAt // its last record timed by a clock ahead
	}
	if err == nil {
		var c againCounts
		c, err = s.endAccessAgain(ctx, keys, r.ID, r.BackupSeq, since)
		rep.AccessEnded, rep.HeldAgain, rep.WithdrawnAgain = c.Ended, c.Held, c.Withdrawn
		rep.RecordedAgain, rep.NotRecordedAgain = c.Recorded, c.NotRecorded
	}
	if err != nil {
		errs = append(errs, fmt.Errorf("restore: access ended after the backup: %w; the restore stays pending", err))
	}
	// What the signed records prove destroyed is destroyed again even so:
	// the proof does not depend on the object store.
	failed := 0
	for _, t := range found.again {
		err := s.retention.Reapply(ctx, t.visit, t.reason, t.certificate, t.decided)
		if err != nil {
			failed++
			s.log.Error("restore: destroy again", "visit", t.visit.ID, "reference", t.visit.Reference, "err", err)
		}
		rep.Reapplied = append(rep.Reapplied, Reapplied{VisitID: t.visit.ID, Reference: t.visit.Reference, Reason: t.reason, Err: err})
	}
	// Resumable uploads under way when the backup was taken: since, each
	// may have been completed into a file then purged, or cancelled,
	// expired or given up with its segments removed. Taken up again, it
	// would list the purged file once more, or commit a file over
	// segments that are gone. Each is dropped, as everything sent since
	// the backup is (its objects stay in the bucket, unlisted): the
	// uploader sends the file again.
	if rep.UploadsDropped, err = s.store.DropUnfinishedUploads(ctx); err != nil {
		errs = append(errs, fmt.Errorf("restore: uploads under way at the backup: %w; the restore stays pending", err))
	}
	// After the destructions: those supersede the epoch their keys were
	// wrapped to (the backup's current one) while the keys are still
	// wrapped to it, and only then is any epoch moved off or dated.
	if err := s.settleEpochs(ctx, r, found.epochs); err != nil {
		errs = append(errs, fmt.Errorf("restore: key epochs: %w; the restore stays pending", err))
	}
	if failed > 0 {
		errs = append(errs, fmt.Errorf("restore: %d visits could not be destroyed again; the restore stays pending and the portal will not serve until it finishes", failed))
	}
	if n := len(rep.Missing); n > 0 {
		errs = append(errs, fmt.Errorf("restore: %w (live visits without their bucket: %d), and no signed record says they were destroyed. "+
			"Nothing of them was destroyed; the restore stays pending and the portal will not serve until it finishes. "+
			"Check that PORTAL_S3_* names the store this database's evidence is in (a disaster-recovery copy fully replicated), then run portal restore --resume; "+
			"evidence lost from the store is an incident to report, never a destruction (docs/operating.md: Backups and restore)", ErrBucketMissing, n))
	}
	if len(errs) > 0 {
		return rep, errors.Join(errs...)
	}
	ids := make([]string, len(rep.Reapplied))
	for i, x := range rep.Reapplied {
		ids[i] = x.VisitID
	}
	detail := map[string]any{"restored_seq": r.BackupSeq, "backup_created_at": r.BackupCreatedAt.UTC().Format(time.RFC3339),
		"destroyed_again": ids, "purged_again": len(again), "access_ended_again": rep.AccessEnded, "held_again": rep.HeldAgain, "events_withdrawn_again": rep.WithdrawnAgain,
		"events_recorded_again": rep.RecordedAgain, "events_not_recorded_again": rep.NotRecordedAgain, "uploads_dropped": rep.UploadsDropped}
	if r.BackupCreatedAt.IsZero() {
		// Taken in by portal restore --resume: a database restored by
		// other means, which no backup's manifest vouches for.
		detail["backup_checked"] = false
	} else {
		unsigned, err := s.unsignedBackup(ctx, r, keys)
		if err != nil {
			return rep, fmt.Errorf("restore: its intent: %w; the restore stays pending", err)
		}
		detail["backup_signed"] = !unsigned
	}
	// Said outside the database first: a later restore then knows which
	// records this one lost, and passes over their notes. What this one
	// did again goes outside before (anchored, its acts noted): a
	// restore that never commits after it leaves those acts for the
	// next to apply again.
	if err := s.Checkpoint(ctx, true); err != nil {
		return rep, fmt.Errorf("restore: anchor what it did: %w; the restore stays pending", err)
	}
	if err := s.noteRestoreFinished(ctx, r.ID, r.BackupSeq, rep.MarkSeq); err != nil {
		return rep, fmt.Errorf("restore: %w; the restore stays pending", err)
	}
	rec := operatorRec(a, "restore.finished", detail)
	if err := s.store.FinishRestore(ctx, r.ID, s.now(), rec); err != nil {
		return rep, err
	}
	return rep, s.Checkpoint(ctx, true)
}

// restoredUpTo is the time of the restored trail's last record, seq (the
// zero time for an empty trail): what was recorded after it was lost with
// the database.
func (s *Service) restoredUpTo(ctx context.Context, seq int64) (time.Time, error) {
	if seq <= 0 {
		return time.Time{}, nil
	}
	recs, err := s.store.AuditRecords(ctx, store.AuditFilter{AfterSeq: seq - 1, Limit: 1})
	if err != nil {
		return time.Time{}, err
	}
	if len(recs) == 0 || recs[0].Seq != seq {
		return time.Time{}, fmt.Errorf("the restored trail's last record, %d, is not in the database", seq)
	}
	return recs[0].Time, nil
}

// markRestore appends the signed audit.restored record after the last
// record anchored outside the database (or the restored head, if no
// anchor goes beyond it), for a restore whose intent is in the anchor
// store. The anchors the backup covers must match it: a backup of another
// deployment's trail is refused.
func (s *Service) markRestore(ctx context.Context, r store.Restore, keys trustedKeys) (anchored, mark int64, err error) {
	seq, hash, err := s.store.AuditHead(ctx)
	if err != nil {
		return 0, 0, err
	}
	anchors, err := s.anchorList(ctx)
	if err != nil {
		return 0, 0, err
	}
	var last store.Checkpoint
	if n := len(anchors); n > 0 {
		last = anchors[n-1]
	}
	if err := s.intended(ctx, r, seq, hash, last, keys); err != nil {
		return 0, 0, err
	}
	st := store.RestoreStatement{RestoredSeq: seq, RestoredHash: hash, AnchoredSeq: seq, AnchoredHash: hash, BackupCreatedAt: r.BackupCreatedAt}
	covered := map[string][]store.Checkpoint{} // by the key that signed them
	for _, c := range anchors {
		if _, ok := keys.anchor(c); !ok {
			return 0, 0, fmt.Errorf("the anchor of record %d outside the database is not signed by a trusted key (if the signing key was replaced since, give the earlier public key with --trust-key)", c.Seq)
		}
		if c.Seq <= seq {
			covered[c.PublicKey] = append(covered[c.PublicKey], c)
		} else if c.Seq > st.AnchoredSeq {
			st.AnchoredSeq, st.AnchoredHash = c.Seq, c.Hash
		}
	}
	for _, cs := range covered {
		key, _ := keys.anchor(cs[0])
		if err := s.store.CheckAnchors(ctx, cs, key); err != nil {
			return 0, 0, fmt.Errorf("the backup's trail does not match the anchors outside the database: %w", err)
		}
	}
	st = store.SignRestore(st, s.signer)
	detail, _ := json.Marshal(st)
	rec := s.systemRec("", store.ActionRestored, "", nil)
	rec.Detail = string(detail)
	mark, err = s.store.AppendRestoreMark(ctx, r.ID, st.AnchoredSeq, st.AnchoredHash, rec)
	return st.AnchoredSeq, mark, err
}

// markStands checks the mark a pending restore says it has made (a run
// that stopped after it): the record it names must be a restore's mark,
// its statement signed by a trusted key, and the trail must match every
// anchor outside the database as the mark explains it. Without the check,
// a row written into the database alone, naming any record as its mark,
// had a cut trail signed and anchored as a restore's (its intent never
// asked for).
func (s *Service) markStands(ctx context.Context, r store.Restore, keys trustedKeys) error {
	recs, err := s.store.AuditRecords(ctx, store.AuditFilter{AfterSeq: r.MarkSeq - 1, Limit: 1})
	if err != nil {
		return err
	}
	if len(recs) != 1 || recs[0].Seq != r.MarkSeq || recs[0].Action != store.ActionRestored {
		return fmt.Errorf("%w: restore %s names record %d as its mark in the trail, which is no restore's mark: someone who can write to the database may have added it to hide records cut from the trail. "+
			"Copy the database and the anchors and follow docs/operating.md: The audit chain reports a break", ErrNoRestoreIntent, r.ID, r.MarkSeq)
	}
	if _, err := store.RestoreMarks(recs, keys...); err != nil {
		return fmt.Errorf("%w: restore %s: its mark at record %d: %v", ErrNoRestoreIntent, r.ID, r.MarkSeq, err)
	}
	anchors, err := s.anchorList(ctx)
	if err != nil {
		return err
	}
	byKey := map[string][]store.Checkpoint{}
	for _, c := range anchors {
		if _, ok := keys.anchor(c); !ok {
			return fmt.Errorf("the anchor of record %d outside the database is not signed by a trusted key: if the signing key was replaced since, finish the restore with portal restore --resume --trust-key and the earlier public key", c.Seq)
		}
		byKey[c.PublicKey] = append(byKey[c.PublicKey], c)
	}
	for _, cs := range byKey {
		key, _ := keys.anchor(cs[0])
		if err := s.store.CheckAnchors(ctx, cs, key); err != nil {
			return fmt.Errorf("%w: restore %s: the trail, marked at record %d, does not match the anchors outside the database: %v", ErrNoRestoreIntent, r.ID, r.MarkSeq, err)
		}
	}
	return nil
}

// anchorList lists the anchored checkpoints whose signatures verify.
func (s *Service) anchorList(ctx context.Context) ([]store.Checkpoint, error) {
	s.anchorMu.Lock()
	a, err := s.openAnchors(ctx)
	s.anchorMu.Unlock()
	if err != nil {
		return nil, err
	}
	return a.List(ctx)
}

// CheckRestored is what serve asks before it serves: a pending restore is
// finished first (its mark made only on its intent outside the database,
// ErrNoRestoreIntent otherwise); a database behind its anchors, or holding a visit whose
// destruction is recorded outside it, without a restore that explains it,
// is ErrBehindAnchors (TakeInWayOut); a live visit whose
// bucket the object store does not show is ErrBucketMissing. When the anchor store
// cannot be read it is ErrRestoreUnchecked: the portal does not serve a
// database it cannot check. Only a bucket the object store does not answer
// for is logged and let pass: the records outside were read.
func (s *Service) CheckRestored(ctx context.Context) (RestoreReport, error) {
	if _, err := s.store.PendingRestore(ctx); err == nil {
		return s.FinishRestore(ctx, OperatorActor("portal", "serve"))
	} else if !errors.Is(err, store.ErrNotFound) {
		return RestoreReport{}, err
	}
	// The anchors first, then the head: other replicas go on appending
	// and anchoring, and an anchor is written only after the records it
	// covers, so every anchor listed here is at or below the head read
	// after it unless records were lost.
	s.anchorMu.Lock()
	a, err := s.openAnchors(ctx)
	s.anchorMu.Unlock()
	var last store.Checkpoint
	var anchored bool
	if err == nil {
		last, anchored, err = a.Last(ctx)
	}
	if errors.Is(err, errBadAnchor) {
		return RestoreReport{}, fmt.Errorf("%w: the anchor store holds what the portal did not write: %v. Copy the database and the anchors and follow docs/operating.md: The audit chain reports a break", ErrBehindAnchors, err)
	}
	if err != nil {
		return RestoreReport{}, fmt.Errorf("%w: the audit anchors: %v. %s", ErrRestoreUnchecked, err, anchorsWayOut)
	}
	head, _, err := s.store.AuditHead(ctx)
	if err != nil {
		return RestoreReport{}, err
	}
	if anchored && last.Seq > head {
		return RestoreReport{}, fmt.Errorf("%w: the audit trail ends at record %d but record %d was anchored: it was restored without portal restore, or records were removed. "+TakeInWayOut, ErrBehindAnchors, head, last.Seq)
	}
	if anchored {
		// The record itself, not its number: a trail cut short and
		// written on past the anchor (a copy put back by hand, then
		// used) has other records under the anchored numbers.
		recs, err := s.store.AuditRecords(ctx, store.AuditFilter{AfterSeq: last.Seq - 1, Limit: 1})
		if err != nil {
			return RestoreReport{}, err
		}
		if len(recs) != 1 || recs[0].Seq != last.Seq || recs[0].Hash != last.Hash {
			return RestoreReport{}, fmt.Errorf("%w: record %d of the audit trail is not the one anchored outside the database: it was restored without portal restore and written on, or records were changed. "+TakeInWayOut, ErrBehindAnchors, last.Seq)
		}
	}
	found, err := s.destroyedOutside(ctx, s.trustedKeys(nil))
	if errors.Is(err, errUnverified) {
		return RestoreReport{}, fmt.Errorf("%w: %v", ErrBehindAnchors, err)
	}
	// What the records outside the database prove destroyed refuses to
	// serve whatever else could not be read (a bucket the object store
	// did not answer for).
	for _, t := range found.again {
		if t.visit.State == StateActive {
			return RestoreReport{}, fmt.Errorf("%w: visit %s is live here but %s. "+TakeInWayOut, ErrBehindAnchors, t.visit.Reference, t.reason)
		}
	}
	// Nor a file purged since (its note outside the database, written
	// before its row went): about another child, it would be listed
	// again.
	if err == nil || errors.Is(err, errBucketUnchecked) {
		here, perr := s.purgesHere(ctx, s.trustedKeys(nil), nil)
		if errors.Is(perr, errUnverified) {
			return RestoreReport{}, fmt.Errorf("%w: %v", ErrBehindAnchors, perr)
		}
		if perr != nil {
			return RestoreReport{}, fmt.Errorf("%w: the purges recorded outside the database: %v. %s", ErrRestoreUnchecked, perr, anchorsWayOut)
		}
		if len(here) > 0 {
			return RestoreReport{}, fmt.Errorf("%w: file %s of visit %s is here but was purged (its purge note is outside the database; %d files in all). "+TakeInWayOut,
				ErrBehindAnchors, here[0].file.ID, here[0].visit.Reference, len(here))
		}
	}
	if errors.Is(err, errBucketUnchecked) {
		// The records outside were read, and prove nothing here
		// destroyed: only whether every live visit's bucket is there is
		// not known.
		s.log.Error("restore check: the object store did not answer for a live visit's bucket; starting without that check", "err", err)
		return RestoreReport{}, nil
	}
	if errors.Is(err, errAnchorsUnread) {
		return RestoreReport{}, fmt.Errorf("%w: %v. %s", ErrRestoreUnchecked, err, anchorsWayOut)
	}
	if err != nil {
		return RestoreReport{}, err
	}
	for _, v := range found.missing {
		s.log.Error("restore check: a live visit's bucket is missing from the object store", "visit", v.ID, "reference", v.Reference, "bucket", v.Bucket)
	}
	if len(found.missing) > 0 {
		v := found.missing[0]
		return RestoreReport{}, fmt.Errorf("%w: visit %s is live here but the object store does not show its bucket %s (%d visits in all; nothing was destroyed). "+
			"Check that PORTAL_S3_* names the store this database's evidence is in (docs/operating.md: Backups and restore)", ErrBucketMissing, v.Reference, v.Bucket, len(found.missing))
	}
	return RestoreReport{}, nil
}
