package evidence

import (
	"context"
	"time"

	"github.com/ofsted-portal/evidence/crypto"
	"github.com/ofsted-portal/evidence/portal/scan"
	"github.com/ofsted-portal/evidence/portal/store"
)

// Scanning on the upload path. A plain upload's plaintext is teed to the
// scanner as it is read, so the file is committed with its verdict; a
// scanner that fails or is not there never fails the upload: the file is
// committed as waiting ("scanning") and scanned again from the store later.
// A resumable upload is committed as waiting and scanned from the store
// after its last segment (one INSTREAM cannot span requests, which may
// reach different instances).

// scanTee feeds an upload's plaintext to the scanner. Its Write never
// fails: a scanner error is kept in the stream and turns the verdict into
// an error, while the upload goes on.
type scanTee struct{ s *scan.Stream }

func (t scanTee) Write(p []byte) (int, error) {
	if t.s != nil {
		_, _ = t.s.Write(p)
	}
	return len(p), nil
}

// beginScan opens a scan for an upload of size bytes (-1: unknown), or
// returns nil when scanning is off, the file is too large for the scanner,
// or the scanner cannot be reached (then the file waits).
func (s *Service) beginScan(ctx context.Context, fileID string, size int64) *scan.Stream {
	if s.Scanner == nil || size > scan.MaxSize {
		return nil
	}
	st, err := s.Scanner.Begin(ctx)
	if err != nil {
		s.Log.WarnContext(ctx, "scanner unreachable: the file will wait for it", "file", fileID, "err", err)
		return nil
	}
	return st
}

// Verdict is how a scan ended, as stored on the file.
type Verdict struct {
	Status    string // store.ScanClean, ScanInfected, ScanScanning (no verdict) or ScanUnscanned (scanning off)
	Signature string
	Err       error // why there is no verdict
}

// finishScan ends a scan and turns its outcome into the file's status.
func (s *Service) finishScan(ctx context.Context, st *scan.Stream, size int64) Verdict {
	if s.Scanner == nil {
		if s.held(ctx) {
			return Verdict{Status: store.ScanScanning, Err: errHeldElsewhere}
		}
		return Verdict{Status: store.ScanUnscanned}
	}
	if st == nil {
		if size > scan.MaxSize {
			return Verdict{Status: store.ScanScanning, Err: scan.ErrTooLarge}
		}
		return Verdict{Status: store.ScanScanning, Err: errNoScanner}
	}
	res, err := st.Finish()
	return verdictOf(res, err)
}

func verdictOf(res scan.Result, err error) Verdict {
	switch {
	case err != nil:
		return Verdict{Status: store.ScanScanning, Err: err}
	case res.Infected:
		return Verdict{Status: store.ScanInfected, Signature: res.Signature}
	}
	return Verdict{Status: store.ScanClean}
}

type scanError string

func (e scanError) Error() string { return string(e) }

const errNoScanner = scanError("evidence: the scanner could not be reached")

const errHeldElsewhere = scanError("evidence: scanning is off on this instance, but the deployment requires it: the file waits for another instance's scanner")

// held says whether, scanning off here, an upload is held for the
// scanner all the same (ScanHeld).
func (s *Service) held(ctx context.Context) bool {
	return s.ScanHeld != nil && s.ScanHeld(ctx)
}

// applyVerdict sets a file's scan fields before it is committed.
func (s *Service) applyVerdict(f *store.File, v Verdict) {
	f.Scan, f.ScanSignature = v.Status, v.Signature
	if v.Status == store.ScanClean || v.Status == store.ScanInfected {
		f.ScannedAt = s.Now()
	}
}

// waiting is the status of a file committed before any scan.
func (s *Service) waiting(ctx context.Context) string {
	if s.Scanner == nil && !s.held(ctx) {
		return store.ScanUnscanned
	}
	return store.ScanScanning
}

// Rescan scans a stored file through the decrypting reader: the verdict of
// the scanner on the file's plaintext, never written anywhere else.
func (s *Service) Rescan(ctx context.Context, v store.Visit, key *crypto.VisitKey, f store.File) Verdict {
	if s.Scanner == nil {
		return Verdict{Status: store.ScanUnscanned}
	}
	if f.Size > scan.MaxSize {
		return Verdict{Status: store.ScanScanning, Err: scan.ErrTooLarge}
	}
	r, err := s.Open(ctx, v, key, f, 0, f.Size)
	if err != nil {
		return Verdict{Status: store.ScanScanning, Err: err}
	}
	defer r.Close()
	ctx, cancel := context.WithTimeout(ctx, s.Scanner.VerdictWait(f.Size)+time.Minute)
	defer cancel()
	res, err := s.Scanner.Scan(ctx, r)
	return verdictOf(res, err)
}
