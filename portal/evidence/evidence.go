// Package evidence stores and reads a visit's files: plaintext streams in,
// age segments go to the object store, and back. It holds the upload and
// download paths, so it is written for throughput and flat memory:
//
//   - Upload: the body is read once, hashed, cut into segments of SegmentSize
//     plaintext bytes, and each segment is age-encrypted straight into one
//     PutObject of its exact ciphertext size. Nothing is buffered.
//   - Download: each segment is fetched in one GET, decrypted and fully
//     authenticated into a buffer before any byte of it is released; the
//     next segment is decrypted on another goroutine while this one is sent.
//
// A file's row is committed only after all its segments are stored. Until
// then the upload is "pending": invisible, and removed by Sweep if abandoned.
package evidence

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"sync"
	"time"

	"github.com/ofsted-portal/evidence/crypto"
	"github.com/ofsted-portal/evidence/portal/blobs"
	"github.com/ofsted-portal/evidence/portal/scan"
	"github.com/ofsted-portal/evidence/portal/store"
)

// Service stores and reads evidence.
type Service struct {
	Store       *store.Store
	Blobs       *blobs.Store
	SegmentSize int64
	Now         func() time.Time
	Log         *slog.Logger
	// Scanner is the malware scanner uploads are fed to; nil: scanning is
	// off and files are stored as unscanned, unless ScanHeld says the
	// deployment holds files for the scanner: they are then stored as
	// waiting for it.
	Scanner *scan.Client
	// ScanHeld, with Scanner nil, says whether an upload is held for the
	// scanner all the same: another instance of the deployment requires
	// scanning (this one's configuration left behind in a rolling
	// change). It is to say true when it cannot tell.
	ScanHeld func(ctx context.Context) bool
	// Interrupted describes, for the audit trail, a plain upload that a
	// crash cut off (the janitor finds it and cleans it up).
	Interrupted func(p store.PendingUpload) store.AuditRecord
	// UploadExpiry is how long after its last committed segment an
	// unfinished resumable upload expires (0: when it was created to),
	// and UploadMaxAge the latest after it began (0: no bound).
	UploadExpiry, UploadMaxAge time.Duration

	// inflight holds the plain uploads this process is receiving; the
	// heartbeat keeps their pending records fresh, so the janitor knows
	// an upload untouched for long has no process behind it.
	inflight sync.Map
	// rechecks are the delayed second looks at failed uploads' objects.
	rechecks sync.WaitGroup
}

// ErrTooLarge is returned when an upload of unknown size passes MaxSize.
var ErrTooLarge = errors.New("evidence: file larger than the limit")

// ErrPastLength is returned when a resumable upload's body goes on past the
// length declared when it was created: the file sent is not the one
// declared, and its last segment is not committed.
var ErrPastLength = errors.New("evidence: body longer than the upload's declared length")

// ErrShortBody is returned when the request body ends before its declared
// length: the client went away or lied about the size.
var ErrShortBody = errors.New("evidence: body shorter than its declared length")

// Upload is one file to store.
type Upload struct {
	Visit      store.Visit
	Key        *crypto.VisitKey
	Name       string // already validated
	Item       string
	Size       int64 // exact plaintext length, or -1 when unknown (a form post)
	MaxSize    int64 // with Size -1: refuse beyond this
	UploadedBy string
	Body       io.Reader
	// FileID is the new file's id, when the caller chose it (to reserve
	// its name first); empty: a new one.
	FileID string
	// NameIndex, when set, reserves the name (its keyed index in Item)
	// in the transaction that records the upload as begun: Put returns
	// store.ErrNameTaken, having read nothing, when the name is taken.
	NameIndex []byte
	// Record describes an act of this upload for the audit trail (started,
	// completed, failed); the record is written with the act.
	Record func(action, outcome, fileID string, detail map[string]any) store.AuditRecord
	// Receipt, when set, makes the file's receipt and its audit records,
	// kept in the transaction that commits the file; nil when it could not
	// be made (it is then issued later).
	Receipt func(f store.File) (*store.Receipt, []store.AuditRecord)
	// Recheck, when set, is asked as each segment is stored, and once
	// the body is stored, before the file is committed: an error (the
	// uploader may no longer store files here, or their session has
	// ended) fails the upload, ErrRefused wrapping it.
	Recheck func(ctx context.Context) error
}

// ErrRefused is an upload whose body was stored but whose uploader was
// refused, by Upload.Recheck, before the file was committed.
var ErrRefused = errors.New("evidence: the upload was refused before it was stored")

func (u Upload) audit(action, outcome, fileID string, detail map[string]any) []store.AuditRecord {
	if u.Record == nil {
		return nil
	}
	return []store.AuditRecord{u.Record(action, outcome, fileID, detail)}
}

// replacedBy makes, with record, the record of a file that fileID, once
// committed, replaced (nil: no records).
func replacedBy(fileID string, record func(action, outcome, fileID string, detail map[string]any) store.AuditRecord) store.ReplacedRecords {
	if record == nil {
		return nil
	}
	return func(oldID, sha256, item string) []store.AuditRecord {
		return []store.AuditRecord{record("file.replaced", "success", oldID, map[string]any{"by": fileID, "sha256": sha256, "item": item})}
	}
}

// recheck asks u.Recheck (when set), as each segment is stored and once
// the body is: a refusal is ErrRefused.
func (u Upload) recheck(ctx context.Context) error {
	if u.Recheck == nil {
		return nil
	}
	if err := u.Recheck(ctx); err != nil {
		return fmt.Errorf("%w: %w", ErrRefused, err)
	}
	return nil
}

// ObjectKey is the opaque key of segment i of a file.
func ObjectKey(fileID string, i int) string { return fileID + "/" + strconv.Itoa(i) }

// FilePrefix is the prefix of every segment of a file, and of nothing else.
func FilePrefix(fileID string) string { return fileID + "/" }

// NameContext binds a sealed file name to its visit and file.
func NameContext(visitID, fileID string) string { return "file-name:" + visitID + ":" + fileID }

// Put stores an upload and returns the committed file, and whether its
// visit was under legal hold as it was committed (its objects are then
// to be held: store.CommitFileWith). On any failure it deletes every
// object it wrote and leaves no row.
func (s *Service) Put(ctx context.Context, u Upload) (f store.File, held bool, err error) {
	fileID := u.FileID
	if fileID == "" {
		fileID = store.NewID()
	}
	started := u.audit("upload.started", "started", fileID, map[string]any{"declared_size": u.Size})
	if u.NameIndex != nil {
		err = s.Store.BeginNamedUpload(ctx, fileID, u.Visit.ID, u.UploadedBy, u.Item, u.NameIndex, s.Now(), started...)
	} else {
		err = s.Store.BeginUpload(ctx, fileID, u.Visit.ID, u.UploadedBy, s.Now(), started...)
	}
	if err != nil {
		return store.File{}, false, err
	}
	s.inflight.Store(fileID, struct{}{})
	defer s.inflight.Delete(fileID)
	var written []string // the object keys this upload wrote or began to write
	defer func() {
		if err != nil {
			reason := "storage"
			switch {
			case errors.Is(err, ErrShortBody):
				reason = "client stopped sending"
			case errors.Is(err, ErrTooLarge):
				reason = "too large"
			case errors.Is(err, ErrRefused):
				reason = "refused"
			case errors.Is(err, store.ErrNotRequested), errors.Is(err, store.ErrMovedSince), errors.Is(err, store.ErrReplacedGone), errors.Is(err, store.ErrOnHold), errors.Is(err, store.ErrDestructionBegun):
				// Refused at its commit by what changed while it streamed.
				reason = "refused"
			case ctx.Err() != nil:
				reason = "cancelled"
			}
			// An upload the janitor took has its failure recorded already.
			aerr := s.Store.FailUpload(context.WithoutCancel(ctx), fileID, u.audit("upload.failed", "failure", fileID, map[string]any{"reason": reason})...)
			switch {
			case aerr == nil:
				s.discard(ctx, u.Visit, fileID, written)
			case errors.Is(aerr, store.ErrUploadTaken):
				// Taken by the janitor, which removed what it found (a
				// segment stored since is removed here), or committed
				// after all: a commit whose answer was lost.
				if _, ferr := s.Store.File(context.WithoutCancel(ctx), u.Visit.ID, fileID); errors.Is(ferr, store.ErrNotFound) {
					s.discard(ctx, u.Visit, fileID, written)
				} else {
					s.Log.ErrorContext(ctx, "an upload that failed is stored, or may be: its objects are left", "visit", u.Visit.ID, "file", fileID, "err", ferr)
				}
			default:
				// Whether the file was committed is not known (the
				// database did not answer): its objects stay, and its
				// pending record, if the commit did not take it, leaves
				// them to the janitor.
				s.Log.ErrorContext(ctx, "audit failed upload: its objects are left to the janitor", "visit", u.Visit.ID, "file", fileID, "err", aerr)
			}
		}
	}()
	h := sha256.New()
	body := io.TeeReader(u.Body, h)
	sc := s.beginScan(ctx, fileID, u.Size)
	if sc != nil {
		defer sc.Close()
		body = io.TeeReader(body, scanTee{sc})
	}
	var size int64
	var macs []byte
	segments := 0
	if u.Size >= 0 {
		size = u.Size
		for remaining := u.Size; segments == 0 || remaining > 0; segments++ {
			n := min(s.SegmentSize, remaining)
			written = append(written, ObjectKey(fileID, segments))
			mac, err := s.putSegment(ctx, u, fileID, segments, &exactReader{r: body, n: n}, n)
			if err != nil {
				return store.File{}, false, err
			}
			macs = append(macs, mac...)
			remaining -= n
			if err := u.recheck(ctx); err != nil {
				return store.File{}, false, err
			}
		}
	} else {
		// Unknown length: each segment is read into memory first, so its
		// exact size is known before it is sent. Memory stays bounded by
		// one segment per upload.
		br := bufio.NewReader(body)
		buf := getBuf(s.SegmentSize)
		defer putBuf(buf)
		for last := false; !last; segments++ {
			n, err := io.ReadFull(br, *buf)
			switch {
			case err == io.EOF || err == io.ErrUnexpectedEOF:
				last = true
			case err != nil:
				return store.File{}, false, fmt.Errorf("%w: %v", ErrShortBody, err)
			default:
				_, perr := br.Peek(1)
				last = perr == io.EOF
			}
			size += int64(n)
			if u.MaxSize > 0 && size > u.MaxSize {
				return store.File{}, false, ErrTooLarge
			}
			written = append(written, ObjectKey(fileID, segments))
			mac, err := s.putSegment(ctx, u, fileID, segments, &exactReader{r: bytes.NewReader((*buf)[:n]), n: int64(n)}, int64(n))
			if err != nil {
				return store.File{}, false, err
			}
			macs = append(macs, mac...)
			if err := u.recheck(ctx); err != nil {
				return store.File{}, false, err
			}
		}
	}
	f = store.File{
		ID:          fileID,
		VisitID:     u.Visit.ID,
		NameSealed:  u.Key.Seal([]byte(u.Name), NameContext(u.Visit.ID, fileID)),
		Item:        u.Item,
		Size:        size,
		SHA256:      hex.EncodeToString(h.Sum(nil)),
		SegmentSize: s.SegmentSize,
		Segments:    segments,
		HeaderSize:  u.Key.HeaderSize(),
		SegmentMACs: macs,
		UploadedBy:  u.UploadedBy,
	}
	verdict := s.finishScan(ctx, sc, size)
	s.applyVerdict(&f, verdict)
	// Arrived once the scanner has answered, which may be seconds after
	// the last byte (clamd scans a stream once it has all of it): the
	// file's time and its upload's record are taken together, as a
	// receipt checks them.
	f.UploadedAt = s.Now()
	audit := u.audit("upload.completed", "success", fileID, map[string]any{
		"size": f.Size, "sha256": f.SHA256, "segments": f.Segments, "item": f.Item, "scan": f.Scan})
	if f.Scan == store.ScanInfected {
		audit = append(audit, u.audit("file.infected", "infected", fileID, map[string]any{"signature": f.ScanSignature})...)
	}
	if verdict.Err != nil && verdict.Err != errHeldElsewhere { // held: ScanHeld says why
		s.Log.WarnContext(ctx, "no scanner verdict: the file waits for the scanner", "visit", u.Visit.ID, "file", fileID, "err", verdict.Err)
	}
	if err := u.recheck(ctx); err != nil {
		return store.File{}, false, err
	}
	var rc *store.Receipt
	if u.Receipt != nil {
		var recs []store.AuditRecord
		rc, recs = u.Receipt(f)
		audit = append(audit, recs...)
	}
	// A name taken as the upload began was free: the file replaces none.
	if held, err = s.Store.CommitFileWith(ctx, f, rc, u.NameIndex == nil, replacedBy(fileID, u.Record), audit...); err != nil {
		if s.committed(ctx, f) {
			// The answer to the commit was lost, not the commit. Whether
			// the visit was held is read again by the caller
			// (store.FileToHoldOf finds nothing when it was not).
			s.Log.WarnContext(ctx, "an upload's commit failed to answer, but it is stored", "visit", u.Visit.ID, "file", fileID, "err", err)
			return f, true, nil
		}
		return store.File{}, false, err
	}
	return f, held, nil
}

// committed reports whether f's row is in the database: a commit that
// failed may still have been stored, when only the database's answer was
// lost (the connection cut as it came back).
func (s *Service) committed(ctx context.Context, f store.File) bool {
	_, err := s.Store.File(context.WithoutCancel(ctx), f.VisitID, f.ID)
	return err == nil
}

// putSegment encrypts one segment straight into one PutObject of its exact
// ciphertext size, and returns the segment's header MAC (which binds it to
// its file and place).
func (s *Service) putSegment(ctx context.Context, u Upload, fileID string, i int, src *exactReader, n int64) ([]byte, error) {
	enc, mac, err := u.Key.EncryptSegment(src, n)
	if err != nil {
		return nil, err
	}
	if err := s.Blobs.Put(ctx, u.Visit.Bucket, ObjectKey(fileID, i), enc, u.Key.EncryptedSize(n)); err != nil {
		if src.err != nil {
			return nil, fmt.Errorf("%w: %v", ErrShortBody, src.err)
		}
		if errors.Is(src.fenced, store.ErrConflict) {
			return nil, src.fenced // refused: no longer this request's to store
		}
		if ctx.Err() != nil {
			return nil, fmt.Errorf("evidence: upload cancelled: %w", ctx.Err())
		}
		if src.fenced != nil {
			return nil, src.fenced
		}
		return nil, err
	}
	if i > 0 {
		// Keep the pending record fresh so the janitor leaves it alone.
		if err := s.Store.TouchUpload(ctx, fileID, s.Now()); err != nil {
			return nil, err
		}
	}
	return mac, nil
}

// recheckAfter is how long after removing a failed upload's objects they
// are looked for again: a server may store a cut-off PUT after the client
// has gone (VersityGW does, for a body without a checksum trailer).
const recheckAfter = 2 * time.Second

// discard removes what a failed upload wrote: the keys it wrote and
// anything under its prefix. It runs even when the request was cancelled,
// so it gets a context of its own. The pending record stays until a
// second look, a moment later, finds nothing left; if something is, the
// janitor tries again.
func (s *Service) discard(ctx context.Context, v store.Visit, fileID string, keys []string) {
	ctx = context.WithoutCancel(ctx)
	if err := s.remove(ctx, v, fileID, keys); err != nil {
		s.Log.ErrorContext(ctx, "discard failed upload", "visit", v.ID, "file", fileID, "err", err)
		return // the pending row stays: the janitor retries
	}
	s.rechecks.Add(1)
	go func() {
		defer s.rechecks.Done()
		time.Sleep(recheckAfter)
		if err := s.remove(ctx, v, fileID, keys); err != nil {
			s.Log.ErrorContext(ctx, "discard failed upload", "visit", v.ID, "file", fileID, "err", err)
			return
		}
		if left, err := s.Blobs.Versions(ctx, v.Bucket, FilePrefix(fileID)); err != nil || len(left) > 0 {
			s.Log.WarnContext(ctx, "objects of a failed upload are still there: the janitor will try again", "visit", v.ID, "file", fileID, "left", len(left), "err", err)
			return
		}
		if err := s.Store.EndUpload(ctx, fileID); err != nil {
			s.Log.ErrorContext(ctx, "forget failed upload", "visit", v.ID, "file", fileID, "err", err)
		}
	}()
}

// remove deletes a failed upload's objects by key and by prefix.
func (s *Service) remove(ctx context.Context, v store.Visit, fileID string, keys []string) error {
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	if err := s.Blobs.RemoveKeys(ctx, v.Bucket, keys); err != nil {
		return err
	}
	return s.Blobs.RemovePrefix(ctx, v.Bucket, FilePrefix(fileID))
}

// Wait waits for the second looks at failed uploads still pending.
func (s *Service) Wait() { s.rechecks.Wait() }

// InFlight lists the plain uploads this process is receiving.
func (s *Service) InFlight() []string {
	var ids []string
	s.inflight.Range(func(k, _ any) bool { ids = append(ids, k.(string)); return true })
	return ids
}

// Delete removes a committed file: its row first (so it disappears at
// once), then its objects. The version it superseded is current again,
// under its name (earlier).
func (s *Service) Delete(ctx context.Context, v store.Visit, fileID string, earlier store.EarlierName, audit ...store.AuditRecord) error {
	if err := s.Store.DeleteFile(ctx, v.ID, fileID, earlier, s.Now(), audit...); err != nil {
		return err
	}
	s.discard(ctx, v, fileID, nil)
	return nil
}

// Sweep removes the objects of uploads whose process is gone (a crash, no
// heartbeat for longer than idle), of failed uploads and of deletions that
// did not finish; the pending record goes only when nothing is left. An
// upload taken as cut off is taken first, with its upload.failed record
// (store.AbandonUpload): its objects are removed only if it was still
// untouched then, and it can no longer commit a file that needs them.
// Under a legal hold, objects are left until the hold is lifted.
func (s *Service) Sweep(ctx context.Context, idle time.Duration) error {
	before := s.Now().Add(-idle)
	stale, err := s.Store.StaleUploads(ctx, before)
	if err != nil {
		return err
	}
	var errs []error
	for _, p := range stale {
		row, err := s.Store.VisitWithHold(ctx, p.VisitID)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		v := row.Visit
		if p.Kind == store.PendingReceiving {
			var audit []store.AuditRecord
			if s.Interrupted != nil {
				audit = append(audit, s.Interrupted(p))
			}
			err := s.Store.AbandonUpload(ctx, p.FileID, before, audit...)
			if errors.Is(err, store.ErrConflict) {
				continue // touched, committed or failed since it was listed
			}
			if err != nil {
				errs = append(errs, err)
				continue
			}
		}
		if row.Hold.On {
			// Its objects are held with every other of the visit's
			// bucket, and cannot be removed: the first round after the
			// hold is lifted removes them. Tried each round, every
			// version of every segment was refused, for months.
			continue
		}
		if err := s.remove(ctx, v, p.FileID, nil); err != nil {
			errs = append(errs, err)
			continue
		}
		if left, err := s.Blobs.Versions(ctx, v.Bucket, FilePrefix(p.FileID)); err != nil || len(left) > 0 {
			errs = append(errs, errors.Join(err, fmt.Errorf("evidence: %d objects of %s still there", len(left), p.FileID)))
			s.Store.TouchFailed(ctx, p.FileID, s.Now()) // look again next time
			continue
		}
		if err := s.Store.EndUpload(ctx, p.FileID); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// exactReader yields exactly n bytes of r, and turns an early end of r into
// an error, so a short body can never be stored as a short file. It keeps the
// body's error, so the caller can tell the client's failure from the store's.
//
// last, when set, is asked once, before the bytes that complete the n are
// given: without them the object cannot be complete, so an error from it
// (kept in fenced) leaves nothing stored.
type exactReader struct {
	r      io.Reader
	n      int64
	err    error
	last   func() error
	fenced error
}

func (e *exactReader) Read(p []byte) (int, error) {
	if e.n <= 0 {
		if err := e.atLast(); err != nil {
			return 0, err
		}
		return 0, io.EOF
	}
	if int64(len(p)) > e.n {
		p = p[:e.n]
	}
	n, err := e.r.Read(p)
	e.n -= int64(n)
	if err == io.EOF {
		if e.n > 0 {
			err = io.ErrUnexpectedEOF
		} else {
			err = nil
		}
	}
	if err != nil {
		e.err = err
		return n, err
	}
	if e.n == 0 {
		if err := e.atLast(); err != nil {
			return 0, err
		}
	}
	return n, nil
}

// atLast asks last, once.
func (e *exactReader) atLast() error {
	if e.last == nil {
		return e.fenced
	}
	e.fenced, e.last = e.last(), nil
	return e.fenced
}

// Purge removes a file for good: its row moves to the purged record
// (store.PurgeFile) with its audit records, then its objects are deleted
// (the janitor finishes what a failure leaves).
func (s *Service) Purge(ctx context.Context, v store.Visit, p store.PurgedFile, audit ...store.AuditRecord) error {
	if err := s.Store.PurgeFile(ctx, p, audit...); err != nil {
		return err
	}
	s.discard(ctx, v, p.FileID, nil)
	return nil
}
