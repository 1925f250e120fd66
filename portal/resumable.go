package portal

import (
	"bufio"
	"context"
	"errors"
	"io"
	"strings"
	"time"

	"github.com/ofsted-portal/evidence/policy"
	"github.com/ofsted-portal/evidence/portal/evidence"
	"github.com/ofsted-portal/evidence/portal/store"
)

// Resumable uploads: a file sent in pieces, each whole segment encrypted
// into its own object as it arrives and committed with the SHA-256 state
// after it, so the offset a client resumes from is always a segment
// boundary and survives a dropped connection or a restart. No plaintext is
// kept between requests. An upload is visible only to the person who
// created it.

// CreateResumable starts a resumable upload of length bytes. An empty file
// is stored at once (clients send nothing more for it).
func (acc *Access) CreateResumable(ctx context.Context, in NewFile) (store.Resumable, error) {
	if err := acc.require(ctx, policy.FileUpload, nil); err != nil {
		return store.Resumable{}, err
	}
	s := acc.svc
	length := in.Size
	name, item, err := acc.checkUpload(ctx, in)
	if err != nil {
		return store.Resumable{}, err
	}
	key, err := acc.key(ctx)
	if err != nil {
		return store.Resumable{}, err
	}
	// The name is the upload's from now on: another file of that name in
	// the item is refused while it runs.
	fileID, name, replaces, err := acc.reserveName(ctx, key, item, name, in.OnConflict)
	if err != nil {
		return store.Resumable{}, err
	}
	// Room is made once the upload is otherwise sure to begin: a create
	// refused for its name gives up nothing.
	if err := acc.makeRoom(ctx, length); err != nil {
		s.releaseName(ctx, fileID)
		return store.Resumable{}, err
	}
	// makeRoom counted before this upload is recorded: the bound is held
	// again as it is, counted with any created at the same moment.
	r, err := s.evidence.CreateResumable(ctx, evidence.NewResumable{Visit: acc.Visit, Key: key, FileID: fileID, Name: name, Item: item, Length: length,
		CreatedBy: acc.Actor.UserID, MemberID: acc.Member.ID, Expires: s.now().Add(s.cfg.UploadExpiry), Record: acc.recorder(),
		Bound: store.OpenBound{Uploads: MaxOpenUploads, Bytes: MaxOpenUploadSizes * s.cfg.MaxFileSize}})
	if err != nil {
		s.releaseName(ctx, fileID)
		if errors.Is(err, store.ErrTooManyUploads) {
			return store.Resumable{}, errTooManyUploads
		}
		if errors.Is(err, store.ErrNameLost) {
			return store.Resumable{}, acc.nameLost(ctx, replaces, item)
		}
		return store.Resumable{}, err
	}
	s.log.Info("resumable upload created", "visit", acc.Visit.ID, "upload", r.ID, "length", length, "user", acc.Actor.UserID)
	if length == 0 {
		// Stored as any last segment is (its refusals answered as theirs).
		done, _, err := acc.Append(ctx, r, strings.NewReader(""), nil)
		if err != nil {
			// The client is given no address for this upload, so could
			// neither finish nor cancel it: it is given up now, and its
			// name with it, rather than kept unseen until it expires.
			acc.dropEmpty(ctx, r)
			return store.Resumable{}, err
		}
		r = done
	}
	return r, nil
}

// dropEmpty gives up an empty file's upload whose storing at its creation
// failed, recorded as a failed upload (what was already given up, or
// stored meanwhile, is left as it is).
func (acc *Access) dropEmpty(ctx context.Context, r store.Resumable) {
	ctx = context.WithoutCancel(ctx)
	ctx, cur, l, err := acc.relock(ctx, r)
	if errors.Is(err, errNoUpload) {
		return // given up already (a refusal for good)
	}
	if err != nil {
		acc.svc.log.Warn("empty upload not given up", "visit", acc.Visit.ID, "upload", r.ID, "err", err)
		return
	}
	defer l.unlock()
	if !cur.CompletedAt.IsZero() {
		return
	}
	rec := acc.rec("upload.failed", cur.FileID, "failure", map[string]any{"reason": "the empty file could not be stored", "resumable": true, "offset": 0})
	if err := acc.svc.evidence.Abandon(ctx, acc.Visit, cur, l.holder, rec); err != nil && !errors.Is(err, store.ErrNotFound) {
		acc.svc.log.Warn("empty upload not given up", "visit", acc.Visit.ID, "upload", r.ID, "err", err)
	}
}

// MaxOpenUploads is how many unfinished resumable uploads of a visit a
// person may have at once, and MaxOpenUploadSizes how many of the largest
// files allowed (PORTAL_MAX_FILE_SIZE) their declared lengths may add up
// to: each is kept for days, seen by nobody else, so a session that opens
// uploads and never finishes them would otherwise fill the object store.
// Past either, the oldest are given up (makeRoom). The upload page sends
// three at a time.
const (
	MaxOpenUploads     = 50
	MaxOpenUploadSizes = 4
)

// errTooManyUploads refuses a new upload when the person's unfinished
// ones are being sent, or were only minutes ago.
var errTooManyUploads = &Error{Kind: KindConflict, Code: "too_many_uploads",
	Msg: "Too many of your uploads to this visit are being sent, or were a few minutes ago. Wait for some of them to finish, then send this file."}

// errNameLost refuses a resumable upload whose name was freed before it
// began (CreateResumable).
var errNameLost = &Error{Kind: KindConflict, Code: "name_lost",
	Msg: "This upload took so long to begin that its name was freed. Send the file again."}

// nameLost says why a resumable upload's name was gone as it began: for
// a new version, the file it was to replace deleted, withdrawn, replaced
// or moved meanwhile (each takes the name with it), as the version would
// have been told at its end; otherwise, or for a file still as it was,
// making room took longer than the janitor leaves a reservation whose
// upload has not begun (errNameLost).
func (acc *Access) nameLost(ctx context.Context, replaces, item string) error {
	if replaces == "" {
		return errNameLost
	}
	old, err := acc.svc.store.File(ctx, acc.Visit.ID, replaces)
	switch {
	case errors.Is(err, store.ErrNotFound) || err == nil && !old.Live():
		return errReplacedGone
	case err != nil:
		return err
	case old.Item != item:
		return errMovedSince
	}
	return errNameLost
}

// idleBeforeGivenUp is how long an unfinished upload must have had no
// segment (nor its creation) before makeRoom may give it up: one paused,
// between two requests or waiting out a client's retries is not.
const idleBeforeGivenUp = 10 * time.Minute

// makeRoom gives up the actor's oldest unfinished uploads of the visit
// that have been idle for idleBeforeGivenUp and that no request is
// writing (recorded, as a cancellation is, and their parts removed) until
// a new one of length bytes is within MaxOpenUploads and
// MaxOpenUploadSizes: one left behind (a browser that signed out forgets
// its uploads) is never what refuses the next, and a browser that comes
// back to one given up starts that file again. When the idle ones would
// not make room, none is given up and the new one is refused.
func (acc *Access) makeRoom(ctx context.Context, length int64) error {
	s := acc.svc
	// Counted by index first: the uploads themselves are read only when
	// room is to be made, not for each file of a batch.
	count, bytes, err := s.store.OpenResumables(ctx, acc.Visit.ID, acc.Actor.UserID)
	if err != nil {
		return err
	}
	fits := func() bool { return count < MaxOpenUploads && bytes+length <= MaxOpenUploadSizes*s.cfg.MaxFileSize }
	if fits() {
		return nil
	}
	open, err := s.store.OldestOpenResumables(ctx, acc.Visit.ID, acc.Actor.UserID, count)
	if err != nil {
		return err
	}
	// The idle ones, oldest first, are each taken (their lease) and read
	// again until they would make room; one being written after all, or
	// gone, is passed over. Only then is any given up: when they cannot
	// make room, none is.
	type taken struct {
		r   store.Resumable
		ctx context.Context
		l   *lease
	}
	var plan []taken
	defer func() {
		for _, p := range plan {
			p.l.unlock()
		}
	}()
	idleSince := s.now().Add(-idleBeforeGivenUp)
	idle := func(r store.Resumable) bool {
		active := r.ActiveAt
		if active.IsZero() {
			active = r.ExpiresAt.Add(-s.cfg.UploadExpiry) // not written since before the store kept it
		}
		return !active.After(idleSince) // no segment, nor its creation, within the last few minutes
	}
	for _, r := range open {
		if fits() {
			break
		}
		if !idle(r) {
			continue
		}
		// Given up whatever the request does next (its client gone): a
		// plan half carried out would lose uploads for nothing.
		lctx, cur, l, err := acc.relock(context.WithoutCancel(ctx), r)
		if errors.Is(err, errBusy) || errors.Is(err, errNoUpload) {
			continue // being written after all, or gone
		}
		if err != nil {
			return err
		}
		if !cur.CompletedAt.IsZero() || !idle(cur) {
			l.unlock()
			continue
		}
		plan = append(plan, taken{cur, lctx, l})
		count, bytes = count-1, bytes-cur.Length
	}
	if !fits() {
		return errTooManyUploads
	}
	for _, p := range plan {
		cur := p.r
		rec := acc.rec("upload.failed", cur.FileID, "failure", map[string]any{"reason": "given up: too many unfinished uploads", "resumable": true, "offset": cur.Offset()})
		// Under the lease as read (AbandonResumable checks both), even
		// should the lease's context end meanwhile.
		err := s.evidence.Abandon(context.WithoutCancel(p.ctx), acc.Visit, cur, p.l.holder, rec)
		switch {
		case errors.Is(err, store.ErrConflict), errors.Is(err, store.ErrNotFound), errors.Is(err, store.ErrLeaseLost):
			// Completed, gone, or taken back by its owner (this request
			// paused past its lease): it stays as it is now, and the
			// bound on unfinished uploads decides the new one.
			s.log.Info("resumable upload not given up: it moved on", "visit", acc.Visit.ID, "upload", cur.ID, "err", err)
		case err != nil:
			return err
		default:
			s.log.Info("resumable upload given up for a newer one", "visit", acc.Visit.ID, "upload", cur.ID, "user", acc.Actor.UserID)
		}
	}
	return nil
}

// uploadMaxAges bounds how long an unfinished resumable upload is kept
// however recently it sent a segment: that many times
// PORTAL_UPLOAD_EXPIRY after it began (7 days by default). Each
// committed segment moves its expiry to PORTAL_UPLOAD_EXPIRY after it.
const uploadMaxAges = 7

var errNoUpload = notFound("This upload does not exist or has expired. Start the upload again.")

// Resumable returns one of the actor's own unexpired uploads.
func (acc *Access) Resumable(ctx context.Context, id string) (store.Resumable, error) {
	if err := acc.require(ctx, policy.FileUpload, nil); err != nil {
		return store.Resumable{}, err
	}
	return acc.ownUpload(ctx, id)
}

// recheckUpload is recheck of file.upload for a resumable upload begun
// under the membership memberID ("" for one begun before uploads kept
// theirs): a person removed and added again meanwhile may upload, but
// not finish an upload of the membership removed (ownUpload).
func (acc *Access) recheckUpload(memberID string) func(ctx context.Context) error {
	return acc.recheckThen(policy.FileUpload, "", func(again *Access) error {
		if memberID != "" && again.Member.ID != memberID {
			return errNoUpload
		}
		return nil
	})
}

// ownUpload is one of the actor's own unexpired uploads, begun under the
// membership they hold: one begun under a membership removed since (the
// person then added again) is the janitor's to give up
// (sweepFormerMembersUploads), not theirs to finish.
func (acc *Access) ownUpload(ctx context.Context, id string) (store.Resumable, error) {
	r, err := acc.svc.store.Resumable(ctx, acc.Visit.ID, id)
	if errors.Is(err, store.ErrNotFound) || err == nil && (r.CreatedBy != acc.Actor.UserID || !r.ExpiresAt.After(acc.svc.now()) ||
		r.MemberID != "" && r.MemberID != acc.Member.ID) {
		return store.Resumable{}, errNoUpload
	}
	return r, err
}

// ResumableFile returns the file the actor's completed upload r became
// (as read by Resumable), for its scan verdict: store.ErrNotFound when it
// did not complete, or the file has gone since.
func (acc *Access) ResumableFile(ctx context.Context, r store.Resumable) (store.File, error) {
	if r.CompletedAt.IsZero() || r.CreatedBy != acc.Actor.UserID {
		return store.File{}, store.ErrNotFound
	}
	return acc.svc.store.File(ctx, acc.Visit.ID, r.FileID)
}

// relock takes the lease on the upload r (as read by the request, before)
// and reads it again under it: what the request checked may no longer hold
// (another request committed, completed or removed it meanwhile), and what
// it does is decided on the upload as it is now, which no other request
// can change until unlock.
func (acc *Access) relock(ctx context.Context, r store.Resumable) (context.Context, store.Resumable, *lease, error) {
	ctx, l, err := acc.svc.lockUpload(ctx, r.ID)
	if err != nil {
		return ctx, r, nil, err
	}
	cur, err := acc.ownUpload(ctx, r.ID)
	if err != nil {
		l.unlock()
		return ctx, r, nil, err
	}
	return ctx, cur, l, nil
}

// errBusy answers a second request for an upload still receiving one.
var errBusy = &Error{Kind: KindConflict, Code: "busy", Msg: "This upload is still receiving an earlier request. Try again in a moment."}

// uploadLease is how long a request's hold on an upload lasts unless
// renewed (every third of it while the request runs): an instance that
// dies holding it blocks the upload for no longer.
const uploadLease = 15 * time.Second

// lockUpload lets one request at a time write an upload, across instances
// (a lease on the upload's row): a second request, or a client retrying
// while its previous request is still being read, gets a conflict and
// tries again. The returned context ends if the lease is lost; unlock
// releases it.
func (s *Service) lockUpload(ctx context.Context, id string) (context.Context, *lease, error) {
	holder := s.instance + "/" + store.NewID()[:12]
	ok, err := s.store.LockResumable(ctx, id, holder, s.now(), s.now().Add(uploadLease))
	if err != nil {
		return ctx, nil, err
	}
	if !ok {
		return ctx, nil, errBusy
	}
	ctx, stop := store.KeepLease(ctx, uploadLease, func(ctx context.Context) (bool, error) {
		return s.store.RenewResumable(ctx, id, holder, s.now().Add(uploadLease))
	}, func(err error) {
		s.log.Warn("resumable upload: lease lost, the request stops", "upload", id, "err", err)
	})
	return ctx, &lease{svc: s, ctx: ctx, id: id, holder: holder, stop: stop}, nil
}

// lease is a request's hold on an upload (lockUpload).
type lease struct {
	svc        *Service
	ctx        context.Context
	id, holder string
	stop       func()
}

// unlock releases the lease.
func (l *lease) unlock() {
	l.stop()
	if err := l.svc.store.UnlockResumable(context.WithoutCancel(l.ctx), l.id, l.holder); err != nil {
		l.svc.log.Warn("resumable upload: release lease", "upload", l.id, "err", err)
	}
}

// fence is asked before a segment's last bytes are stored, with the
// segments committed before it (evidence.Service.Append): it holds the
// lease for a whole term more if this request still has it and the upload
// has not moved on, and is store.ErrConflict otherwise. KeepLease alone
// cannot say so in time: a process paused past its lease runs again with
// the segment's last bytes ready to send before its timers fire.
func (l *lease) fence(ctx context.Context, done int) error {
	s := l.svc
	ok, err := s.store.FenceResumable(ctx, l.id, l.holder, done, s.now().Add(uploadLease))
	if err != nil {
		return err
	}
	if !ok {
		s.log.Warn("resumable upload: the lease was lost or the upload moved on; the segment is not stored", "upload", l.id, "segment", done)
		return store.ErrConflict
	}
	return nil
}

// ErrMovedOn is returned by Append when another request committed the
// segment first, or completed the upload.
var ErrMovedOn = &Error{Kind: KindConflict, Code: "offset_mismatch", Msg: "This upload moved on while these bytes were sent: ask for the offset (HEAD) and send from there."}

// Append stores the segments body completes from r's offset, committing
// each, and returns the upload as committed and, after the last segment,
// the file. beforeCommit (optional) runs after each segment is stored and
// before it is committed, after the decision is taken again when it is
// older than recheckAfter; an error leaves the segment uncommitted.
//
// r is the upload as the request read it, to check the request against;
// Append reads it again once it holds the upload's lease, and refuses
// (ErrMovedOn) if its offset moved or it completed meanwhile, and as not
// found if it has gone or expired.
func (acc *Access) Append(ctx context.Context, r store.Resumable, body io.Reader, beforeCommit func() error) (store.Resumable, *store.File, error) {
	if err := acc.require(ctx, policy.FileUpload, nil); err != nil {
		return r, nil, err
	}
	s := acc.svc
	reqCtx := ctx
	ctx, cur, l, err := acc.relock(ctx, r)
	if err != nil {
		return r, nil, err
	}
	defer l.unlock()
	if !cur.CompletedAt.IsZero() || cur.SegmentsDone != r.SegmentsDone {
		// The body starts at r's offset, which is no longer the upload's:
		// storing it would overwrite a committed segment.
		return cur, nil, ErrMovedOn
	}
	key, err := acc.key(ctx)
	if err != nil {
		return r, nil, err
	}
	// A segment is committed only while its uploader may still upload
	// here, under the membership the upload was begun under: a PATCH
	// carries minutes of a large file (recheck).
	recheck := acc.recheckUpload(cur.MemberID)
	maxAge := cur.CreatedAt.Add(uploadMaxAges * s.cfg.UploadExpiry)
	// A new version of a file is committed only while its uploader may
	// still replace that file (a coordinator made an uploader since may
	// replace only their own).
	replaces, err := s.store.ReplacedFile(ctx, cur.FileID)
	if err != nil {
		return r, nil, err
	}
	recheckReplace := func(context.Context) error { return nil }
	if replaces != "" {
		// A version of a file deleted, withdrawn or replaced since it
		// began can never be committed: it is given up now, so that its
		// name is free, rather than answered "not found" until it
		// expires.
		old, err := s.store.File(ctx, acc.Visit.ID, replaces)
		if errors.Is(err, store.ErrNotFound) || err == nil && !old.Live() {
			return r, nil, acc.giveUp(ctx, cur, l, store.ErrReplacedGone)
		}
		if err != nil {
			return r, nil, err
		}
		// Decided when the upload was created, perhaps days ago: taken
		// again as each request begins, and as its segments commit.
		a, err := s.actorNow(ctx, acc.Actor)
		if err != nil {
			return r, nil, err
		}
		if _, err := s.Authorize(ctx, a, policy.FileReplace, acc.Visit.ID, replaces); err != nil {
			return r, nil, err
		}
		recheckReplace = acc.recheckOn(policy.FileReplace, replaces)
	}
	before := func() error {
		if err := recheck(ctx); err != nil {
			return err
		}
		if err := recheckReplace(ctx); err != nil {
			return err
		}
		if beforeCommit != nil {
			if err := beforeCommit(); err != nil {
				return err
			}
		}
		// The janitor leaves alone an upload a request is writing: a
		// request that trickles on is held to the upload's age here.
		if !s.now().Before(maxAge) {
			return errNoUpload
		}
		return nil
	}
	r, f, err := s.evidence.Append(ctx, key, acc.Visit, cur, bufio.NewReaderSize(body, 64<<10), before, l.fence, acc.recorder())
	if err != nil {
		s.log.Warn("resumable upload stopped", "visit", acc.Visit.ID, "upload", r.ID, "offset", r.Offset(), "err", err)
		if errors.Is(err, store.ErrConflict) || errors.Is(err, context.Canceled) && ctx.Err() != nil && reqCtx.Err() == nil {
			// Another request committed first, or took the lease this
			// one lost (its context ended, not the client's).
			err = ErrMovedOn
		}
		if errors.Is(err, store.ErrReplacedGone) || errors.Is(err, store.ErrMovedSince) || errors.Is(err, store.ErrNotRequested) {
			// Refused for good (a hold, by contrast, may be lifted).
			return r, nil, acc.giveUp(ctx, r, l, err)
		}
		return r, nil, heldSince(err)
	}
	if f != nil {
		s.log.Info("file uploaded", "visit", acc.Visit.ID, "file", f.ID, "size", f.Size, "segments", f.Segments, "user", acc.Actor.UserID, "resumable", true)
		s.scanStored(ctx, acc.Visit, f)
		s.afterUpload(ctx, acc.Visit, *f)
		acc.holdNewObjects(ctx, f.ID)
	}
	return r, f, nil
}

// giveUp abandons r (the caller holds its lease), an upload that can
// never be completed because cause refused it: a new version of a file
// deleted, withdrawn, replaced or moved since it began, or a file for a
// case file removed from the request. It answers cause's refusal. Left,
// it would hold its name until it expired, and a browser choosing the
// file again would resume it into the same refusal.
func (acc *Access) giveUp(ctx context.Context, r store.Resumable, l *lease, cause error) error {
	rec := acc.rec("upload.failed", r.FileID, "failure", map[string]any{"reason": "refused", "resumable": true, "offset": r.Offset()})
	err := acc.svc.evidence.Abandon(context.WithoutCancel(ctx), acc.Visit, r, l.holder, rec)
	if errors.Is(err, store.ErrLeaseLost) {
		// Taken by another request since: the refusal stands for it too.
		return heldSince(cause)
	}
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return err
	}
	acc.svc.log.Info("resumable upload given up: refused for good", "visit", acc.Visit.ID, "upload", r.ID, "user", acc.Actor.UserID, "err", cause)
	return heldSince(cause)
}

// errComplete refuses to cancel an upload that became a file.
var errComplete = &Error{Kind: KindConflict, Code: "complete", Msg: "This upload is complete. To remove the file, delete the file."}

// CancelResumable removes an unfinished upload and what it stored.
func (acc *Access) CancelResumable(ctx context.Context, r store.Resumable) error {
	if err := acc.require(ctx, policy.FileUpload, nil); err != nil {
		return err
	}
	if !r.CompletedAt.IsZero() {
		return errComplete
	}
	s := acc.svc
	ctx, r, l, err := acc.relock(ctx, r)
	if err != nil {
		return err
	}
	defer l.unlock()
	if !r.CompletedAt.IsZero() {
		return errComplete // completed since the request read it
	}
	rec := acc.rec("upload.failed", r.FileID, "failure", map[string]any{"reason": "cancelled by the uploader", "resumable": true, "offset": r.Offset()})
	err = s.evidence.Abandon(context.WithoutCancel(ctx), acc.Visit, r, l.holder, rec)
	switch {
	case errors.Is(err, store.ErrConflict):
		return errComplete
	case errors.Is(err, store.ErrLeaseLost):
		return errBusy // this request lost its lease to another
	case errors.Is(err, store.ErrNotFound):
		return errNoUpload
	case err != nil:
		return err
	}
	s.log.Info("resumable upload cancelled", "visit", acc.Visit.ID, "upload", r.ID, "user", acc.Actor.UserID)
	return nil
}

// expiredUploadRecord is the audit record of an unfinished upload removed
// at its expiry.
func (s *Service) expiredUploadRecord(r store.Resumable) store.AuditRecord {
	rec := s.systemRec(r.VisitID, "upload.failed", r.FileID, map[string]any{"reason": "expired", "resumable": true, "offset": r.Offset()})
	rec.Outcome = "failure"
	return rec
}

// sweepFormerMembersUploads abandons the unfinished resumable uploads of
// people removed from their visit (added again since or not: an upload is
// its membership's): they can never finish them, and left to
// their expiry (a day) they would hold their file names against the
// members who remain, keep a former member's bytes in the bucket, and come
// back to be finished should the person be added again. A PATCH still
// running holds its upload's lease and cannot commit (its decision is
// taken again): its upload goes in a later round.
func (s *Service) sweepFormerMembersUploads(ctx context.Context) error {
	rs, err := s.store.ResumablesOfFormerMembers(ctx)
	if err != nil || len(rs) == 0 {
		return err
	}
	return s.evidence.AbandonResumables(ctx, rs, func(r store.Resumable) store.AuditRecord {
		rec := s.systemRec(r.VisitID, "upload.failed", r.FileID, map[string]any{"reason": "member removed", "resumable": true, "offset": r.Offset()})
		rec.Outcome = "failure"
		return rec
	})
}

// SegmentSize is the plaintext size of every stored segment but the last.
func (s *Service) SegmentSize() int64 { return s.cfg.SegmentSize }

// MaxFileSize is the largest file the portal takes.
func (s *Service) MaxFileSize() int64 { return s.cfg.MaxFileSize }
