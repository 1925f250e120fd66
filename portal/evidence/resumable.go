package evidence

import (
	"context"
	"crypto/sha256"
	"encoding"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"time"

	"github.com/ofsted-portal/evidence/crypto"
	"github.com/ofsted-portal/evidence/portal/store"
)

// A resumable upload (tus) is the same segmented file as Put writes, sent
// in pieces: each segment is encrypted straight into its own object as its
// bytes arrive, and committed (with the SHA-256 state after it) once stored.
// A dropped connection or a restart loses at most the segment in flight; the
// client resumes from the last committed segment. The file row appears only
// when the last segment is committed.

// slidExpiry is when the unfinished upload r expires once a segment is
// committed now: UploadExpiry after it, never later than UploadMaxAge
// after the upload began, never sooner than it already did. An upload
// still sending is not removed between two of its requests, and one kept
// alive by a trickle still goes.
func (s *Service) slidExpiry(r store.Resumable) time.Time {
	if s.UploadExpiry <= 0 {
		return r.ExpiresAt
	}
	e := s.Now().Add(s.UploadExpiry)
	if limit := r.CreatedAt.Add(s.UploadMaxAge); s.UploadMaxAge > 0 && e.After(limit) {
		e = limit
	}
	if e.Before(r.ExpiresAt) {
		e = r.ExpiresAt
	}
	return e
}

// NewResumable describes a resumable upload to create.
type NewResumable struct {
	Visit     store.Visit
	Key       *crypto.VisitKey
	Name      string // already validated
	Item      string
	Length    int64
	CreatedBy string
	MemberID  string // the membership it is begun under
	// Bound is how many unfinished uploads of the visit its person may
	// have, with it (store.CreateResumableWithin; zero: no bound).
	Bound   store.OpenBound
	FileID  string // the file's id, when the caller chose it; empty: a new one
	Expires time.Time
	Record  func(action, outcome, fileID string, detail map[string]any) store.AuditRecord
}

// CreateResumable records a resumable upload; nothing is stored in S3 yet.
func (s *Service) CreateResumable(ctx context.Context, n NewResumable) (store.Resumable, error) {
	state, err := hashState(sha256.New())
	if err != nil {
		return store.Resumable{}, err
	}
	fileID := n.FileID
	if fileID == "" {
		fileID = store.NewID()
	}
	r := store.Resumable{
		ID: store.NewID(), VisitID: n.Visit.ID, FileID: fileID, CreatedBy: n.CreatedBy,
		NameSealed: n.Key.Seal([]byte(n.Name), NameContext(n.Visit.ID, fileID)),
		Item:       n.Item, Length: n.Length, SegmentSize: s.SegmentSize, HashState: state,
		CreatedAt: s.Now(), ExpiresAt: n.Expires,
	}
	r.ActiveAt, r.MemberID = r.CreatedAt, n.MemberID
	var audit []store.AuditRecord
	if n.Record != nil {
		audit = append(audit, n.Record("upload.started", "started", fileID, map[string]any{"declared_size": n.Length, "resumable": true}))
	}
	if err := s.Store.CreateResumableWithin(ctx, r, n.Bound, audit...); err != nil {
		return store.Resumable{}, err
	}
	return r, nil
}

// Append reads body (the bytes from r's offset on) and stores every segment
// it completes, committing each one. It returns the upload as committed,
// and the file when the last segment was stored. When body ends inside a
// segment, that segment's bytes are dropped and the returned offset is the
// last committed one; err then says why.
//
// beforeCommit, when set, runs after each segment is stored and before it
// is committed; an error from it leaves the segment uncommitted (a checksum
// that does not match).
//
// fence, when set, is asked before each segment's last bytes go to the
// object store, with the number of segments committed before it: an error
// (store.ErrConflict: the request no longer holds the upload, or it moved
// on) leaves the segment unstored. Segment i has one key whoever sends it,
// so a request that lost its lease while paused must not complete its
// object over one another request has since committed.
func (s *Service) Append(ctx context.Context, key *crypto.VisitKey, v store.Visit, r store.Resumable, body io.Reader,
	beforeCommit func() error, fence func(ctx context.Context, done int) error,
	record func(action, outcome, fileID string, detail map[string]any) store.AuditRecord) (store.Resumable, *store.File, error) {
	// An upload whose committed segments have no MACs (committed by a
	// version that did not record them; the migration left its row with
	// none) records none for the rest either, and completes as a file
	// stored before MACs were recorded: read whole against its SHA-256,
	// its MACs filled by evidence verify. The later segments' alone would
	// be taken for the first ones', and every read of it fail.
	withMACs := len(r.SegmentMACs) == r.SegmentsDone*crypto.MACSize
	for r.SegmentsDone < r.Segments() {
		h, err := restoreHash(r.HashState)
		if err != nil {
			return r, nil, err
		}
		n := min(r.SegmentSize, r.Length-r.Offset())
		src := &exactReader{r: io.TeeReader(body, h), n: n}
		switch done := r.SegmentsDone; {
		case fence == nil:
		case n == 0:
			// An empty file's one segment has no bytes to hold back:
			// the encrypter never reads them.
			if err := fence(ctx, done); err != nil {
				return r, nil, err
			}
		default:
			src.last = func() error { return fence(ctx, done) }
		}
		u := Upload{Visit: v, Key: key}
		mac, err := s.putSegment(ctx, u, r.FileID, r.SegmentsDone, src, n)
		if err != nil {
			return r, nil, err
		}
		if r.SegmentsDone+1 == r.Segments() {
			// The body must end with the file: bytes past the declared
			// length (a body of unknown length that goes on) mean the
			// file sent is not the one declared, and completing it with
			// its first Length bytes would drop the rest unnoticed.
			if err := endsHere(body); err != nil {
				return r, nil, err
			}
		}
		if beforeCommit != nil {
			if err := beforeCommit(); err != nil {
				return r, nil, err
			}
		}
		state, err := hashState(h)
		if err != nil {
			return r, nil, err
		}
		macs := append([]byte{}, r.SegmentMACs...) // never NULL in the row
		if withMACs {
			macs = append(append([]byte(nil), r.SegmentMACs...), mac...)
		}
		if done := r.SegmentsDone + 1; done == r.Segments() {
			// The last segment is committed with the file, in one
			// transaction: a refused completion leaves it to send again.
			f := store.File{
				ID: r.FileID, VisitID: r.VisitID, NameSealed: r.NameSealed, Item: r.Item, Size: r.Length,
				SHA256: hex.EncodeToString(h.Sum(nil)), SegmentSize: r.SegmentSize, Segments: done,
				HeaderSize: key.HeaderSize(), SegmentMACs: fileMACs(withMACs, macs), UploadedBy: r.CreatedBy, UploadedAt: s.Now(),
				Scan: s.waiting(ctx), // scanned from the store once committed (scan.go)
			}
			var audit []store.AuditRecord
			if record != nil {
				audit = append(audit, record("upload.completed", "success", f.ID, map[string]any{
					"size": f.Size, "sha256": f.SHA256, "segments": f.Segments, "item": f.Item, "resumable": true, "scan": f.Scan}))
			}
			if err := s.Store.CompleteResumable(ctx, r.ID, done, state, macs, f, s.Now(), replacedBy(f.ID, record), audit...); err != nil {
				return r, nil, err
			}
			r.SegmentsDone, r.HashState, r.SegmentMACs, r.CompletedAt = done, state, macs, s.Now()
			return r, &f, nil
		}
		expires, now := s.slidExpiry(r), s.Now()
		if err := s.Store.CommitSegment(ctx, r.ID, r.SegmentsDone+1, state, macs, expires, now); err != nil {
			return r, nil, err
		}
		r.SegmentsDone++
		r.ActiveAt = now
		r.ExpiresAt = expires
		r.HashState, r.SegmentMACs = state, macs
		// Stop at a segment boundary when the body is done; an early end
		// inside the next segment is the client's choice, not an error.
		if p, ok := body.(interface{ Peek(int) ([]byte, error) }); ok {
			if _, err := p.Peek(1); errors.Is(err, io.EOF) {
				return r, nil, nil
			}
		}
	}
	return r, nil, nil
}

// Abandon forgets an unfinished resumable upload, with its audit records
// (terminated by the client, or expired), then removes what it stored. The
// caller holds the upload's lease, so no request is writing it. The row
// goes first, refused (store.ErrConflict) if the upload completed
// meanwhile: the objects of a file are never removed here, and no segment
// can be committed once the row is gone. A removal that fails leaves the
// pending record (a failed upload's) for the janitor to finish: the
// upload is abandoned all the same. holder is the caller's lease: an upload
// whose lease another has taken since, or that moved on from r, is not
// abandoned (store.ErrLeaseLost).
func (s *Service) Abandon(ctx context.Context, v store.Visit, r store.Resumable, holder string, audit ...store.AuditRecord) error {
	if err := s.Store.AbandonResumable(ctx, r.ID, holder, r.SegmentsDone, audit...); err != nil {
		return err
	}
	ctx = context.WithoutCancel(ctx)
	if err := s.remove(ctx, v, r.FileID, nil); err != nil {
		s.Log.ErrorContext(ctx, "remove abandoned upload: the janitor will try again", "visit", v.ID, "file", r.FileID, "err", err)
		return nil
	}
	if err := s.Store.EndUpload(ctx, r.FileID); err != nil {
		s.Log.ErrorContext(ctx, "forget abandoned upload: the janitor will try again", "visit", v.ID, "file", r.FileID, "err", err)
	}
	return nil
}

// sweepLease is how long the janitor holds an expired upload's lease
// while it abandons it: a request cannot take it meanwhile.
const sweepLease = time.Minute

// SweepResumables abandons resumable uploads past their expiry, and forgets
// finished ones past theirs. record gives the audit record of an expiry.
// An upload is abandoned only under its lease, as a request writes it: one
// a request is still writing (a PATCH begun before the expiry) is left to
// a later round, so a last segment committed late is never removed with
// the rest, nor a segment stored after the removal left behind.
func (s *Service) SweepResumables(ctx context.Context, record func(r store.Resumable) store.AuditRecord) error {
	expired, err := s.Store.ExpiredResumables(ctx, s.Now())
	if err != nil {
		return err
	}
	return s.AbandonExpired(ctx, expired, record)
}

// AbandonExpired abandons the uploads rs, listed as past their expiry, as
// SweepResumables does. Each is read again under its lease and kept if its
// expiry is no longer past: a PATCH that began before the expiry may have
// committed a segment (moving the expiry on) between the listing and the
// lease, and the upload is then live.
func (s *Service) AbandonExpired(ctx context.Context, rs []store.Resumable, record func(r store.Resumable) store.AuditRecord) error {
	var errs []error
	for _, r := range rs {
		if err := s.sweepResumable(ctx, r, true, record); err != nil {
			errs = append(errs, fmt.Errorf("upload %s: %w", r.ID, err))
		}
	}
	return errors.Join(errs...)
}

// AbandonResumables abandons the uploads rs as SweepResumables does, each
// under its lease (one a request is writing is left to a later round),
// with the audit record record gives.
func (s *Service) AbandonResumables(ctx context.Context, rs []store.Resumable, record func(r store.Resumable) store.AuditRecord) error {
	var errs []error
	for _, r := range rs {
		if err := s.sweepResumable(ctx, r, false, record); err != nil {
			errs = append(errs, fmt.Errorf("upload %s: %w", r.ID, err))
		}
	}
	return errors.Join(errs...)
}

// sweepResumable abandons r under its lease, or forgets it if complete;
// with expired, only if it is still past its expiry once read again.
func (s *Service) sweepResumable(ctx context.Context, r store.Resumable, expired bool, record func(r store.Resumable) store.AuditRecord) error {
	if !r.CompletedAt.IsZero() {
		if err := s.Store.ForgetResumable(ctx, r.ID); err != nil && !errors.Is(err, store.ErrNotFound) {
			return err
		}
		return nil
	}
	holder := "janitor/" + store.NewID()[:12]
	now := s.Now()
	ok, err := s.Store.LockResumable(ctx, r.ID, holder, now, now.Add(sweepLease))
	if err != nil || !ok {
		return err // !ok: a request is writing it
	}
	unlock := func() {
		if err := s.Store.UnlockResumable(context.WithoutCancel(ctx), r.ID, holder); err != nil {
			s.Log.WarnContext(ctx, "resumable upload: release the janitor's lease", "upload", r.ID, "err", err)
		}
	}
	// Read again under the lease: a request may have committed since.
	r, err = s.Store.Resumable(ctx, r.VisitID, r.ID)
	if errors.Is(err, store.ErrNotFound) {
		return nil
	}
	if err != nil || !r.CompletedAt.IsZero() {
		unlock()
		return err // complete: forgotten next round
	}
	if expired && r.ExpiresAt.After(s.Now()) {
		unlock()
		return nil // a segment committed since the listing moved the expiry on
	}
	v, err := s.Store.Visit(ctx, r.VisitID)
	if err != nil {
		unlock()
		return err
	}
	var audit []store.AuditRecord
	if record != nil {
		audit = append(audit, record(r))
	}
	if err := s.Abandon(ctx, v, r, holder, audit...); err != nil {
		unlock()
		if errors.Is(err, store.ErrNotFound) || errors.Is(err, store.ErrConflict) || errors.Is(err, store.ErrLeaseLost) {
			return nil // gone, completed or taken back meanwhile: looked at again next round
		}
		return err
	}
	return nil
}

// endsHere checks that body has nothing more to read.
func endsHere(body io.Reader) error {
	p, ok := body.(interface{ Peek(int) ([]byte, error) })
	if !ok {
		var b [1]byte
		n, err := io.ReadFull(body, b[:])
		if n > 0 {
			return ErrPastLength
		}
		if errors.Is(err, io.EOF) {
			return nil
		}
		return fmt.Errorf("%w: %v", ErrShortBody, err)
	}
	switch _, err := p.Peek(1); {
	case err == nil:
		return ErrPastLength
	case errors.Is(err, io.EOF):
		return nil
	default:
		return fmt.Errorf("%w: %v", ErrShortBody, err)
	}
}

func hashState(h hash.Hash) ([]byte, error) {
	m, ok := h.(encoding.BinaryMarshaler)
	if !ok {
		return nil, errors.New("evidence: hash state cannot be saved")
	}
	return m.MarshalBinary()
}

func restoreHash(state []byte) (hash.Hash, error) {
	h := sha256.New()
	if err := h.(encoding.BinaryUnmarshaler).UnmarshalBinary(state); err != nil {
		return nil, fmt.Errorf("evidence: resumable upload hash state: %w", err)
	}
	return h, nil
}

// fileMACs is the segment MACs a completed resumable upload's file
// records: nil (a file stored before they were recorded) for an upload
// whose first segments were committed without them.
func fileMACs(withMACs bool, macs []byte) []byte {
	if !withMACs {
		return nil
	}
	return macs
}
