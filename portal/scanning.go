package portal

import (
	"context"
	"errors"
	"net"
	"slices"
	"sync"
	"time"

	"github.com/ofsted-portal/evidence/policy"
	"github.com/ofsted-portal/evidence/portal/evidence"
	"github.com/ofsted-portal/evidence/portal/scan"
	"github.com/ofsted-portal/evidence/portal/store"
)

// Malware scanning. Every upload is scanned on its plaintext stream (a
// plain upload as it arrives, a resumable one from the store through the
// decrypting reader after its last segment); the verdict is the file's scan
// status, and policy decides from it who sees and downloads the file
// (policies.cedar: withheld-until-scanned, served-only-when-scanned,
// infected-kept). A scanner that is down fails no upload: the file waits as
// "scanning", the worker scans it again every PORTAL_SCAN_RETRY, /readyz
// reports the scanner as degraded and the administrators are told.

// ScanEvent is something the administrators are told about: a file found
// infected, or the scanner going down or coming back.
type ScanEvent struct {
	Kind      string // "infected", "scanner_down" or "scanner_back"
	VisitID   string
	FileID    string
	Signature string
	Err       string // scanner_down: why
	At        time.Time
}

// ScanNotifier is told of scan events (mail to the administrators, for
// instance). It must not block for long: a change of the scanner's state
// waits for the notice of the one before (readiness among them). Errors
// are its own to log.
type ScanNotifier interface {
	ScanEvent(ctx context.Context, e ScanEvent)
}

type noScanNotifier struct{}

func (noScanNotifier) ScanEvent(context.Context, ScanEvent) {}

// WithScanNotifier sets who is told of scan events (default: nobody
// beyond the log, /readyz and the administrators' pages).
func WithScanNotifier(n ScanNotifier) Option { return func(o *options) { o.scanNotifier = n } }

// scanner is the scanning state of the service.
type scanner struct {
	notifier ScanNotifier
	// tell is held across a change of state and its notice and gauge:
	// readiness and the worker finding the scanner down and back at once
	// tell the administrators in the order the changes were made, and
	// the last notice is the state left. mu alone, let go before the
	// notice, let a "down" arrive after the "back" that followed it.
	tell   sync.Mutex
	mu     sync.Mutex
	down   error     // the scanner's last failure, nil when it answered
	downAt time.Time // since when
	round  sync.Mutex
	// refused are the files the scanner answered without a verdict
	// while it was up (it refuses them: longer than its StreamMaxLength,
	// say), each tried again after a back-off rather than every round.
	// Only a round touches it, under round.
	refused map[string]refusedFile
	// backs counts the scanner's returns (under mu); refusedAt is the
	// count the refused files were refused at (under round). A scanner
	// that comes back, as after an operator mends clamd's settings, tries
	// every refused file again at once.
	backs, refusedAt int
	// offWaiting is how many files waited when scanning is off, last
	// said in the log (under round).
	offWaiting int
	// felled are the files the scanner went down while scanning (a parser
	// bug, its memory exhausted), each tried again after a back-off as a
	// refused one is: not at once when the scanner comes back, which
	// would have it go down on the same file again at every restart and
	// keep every file after it waiting. Only a round touches it, under
	// round.
	felled map[string]refusedFile
}

// refusedFile is how often a file was refused, and when it is tried next.
type refusedFile struct {
	tries int
	next  time.Time
}

// refusedBackoffMax bounds the wait between tries of a refused file.
const refusedBackoffMax = 6 * time.Hour

// newScanner wires the scanner into the evidence service per the
// configuration.
func (s *Service) newScanner(n ScanNotifier) {
	if n == nil {
		n = noScanNotifier{}
	}
	s.scanning = &scanner{notifier: n, refused: map[string]refusedFile{}, felled: map[string]refusedFile{}}
	if s.cfg.Scan == ScanRequired {
		s.evidence.Scanner = &scan.Client{Addr: s.cfg.ClamdAddr, Timeout: s.cfg.ScanTimeout}
		return
	}
	if s.cfg.Scan != ScanOff {
		return
	}
	// Scanning off here: while another instance says the deployment
	// requires it (noteScanRequired), an upload here waits for that
	// instance's scanner, as it would there; so does one when that cannot
	// be read.
	// The word is read again at most every scanHeldReread while it has
	// run out (it only ever moves later), so that an upload here costs
	// no statement more.
	var mu sync.Mutex
	var until, readAt, told time.Time
	s.evidence.ScanHeld = func(ctx context.Context) bool {
		mu.Lock()
		defer mu.Unlock()
		now := s.now()
		if !now.Before(until) && (readAt.IsZero() || now.Sub(readAt) >= scanHeldReread) {
			u, err := s.store.ScanRequiredUntil(ctx)
			if err != nil {
				s.log.Error("scanning is off here; whether another instance requires it could not be read, so the upload waits for the scanner", "err", err)
				return true
			}
			until, readAt = u, now
		}
		if !now.Before(until) {
			return false
		}
		if !until.Equal(told) { // said once for each word read
			told = until
			s.log.Warn("scanning is off on this instance, but another requires it: uploads here wait for its scanner", "until", until.UTC().Format(time.RFC3339))
		}
		return true
	}
}

// scanHeldReread is how often at most an instance with scanning off reads
// again whether another requires it, while none does.
const scanHeldReread = 10 * time.Second

// scanRequiredFor is how long an instance that scans vouches, each round
// of its worker, that the deployment requires scanning: long past a
// round, so that an instance with scanning off started beside it (a
// configuration left behind in a rolling change) holds its uploads; once
// every instance has scanning off, uploads are served unscanned after it.
func (s *Service) scanRequiredFor() time.Duration {
	return max(15*time.Minute, 4*s.cfg.ScanRetry)
}

// noteScanRequired says, for the instances with scanning off, that this
// one requires scanning; a failure is logged, and said again next round.
func (s *Service) noteScanRequired(ctx context.Context) {
	if err := s.store.NoteScanRequired(ctx, s.now().Add(s.scanRequiredFor())); err != nil && ctx.Err() == nil {
		s.log.Error("could not record that this instance requires scanning", "err", err)
	}
}

// ScanRequired reports whether uploads are scanned.
func (s *Service) ScanRequired() bool { return s.evidence.Scanner != nil }

// ScanOff reports whether uploads here are stored unscanned: scanning is
// off, and no other instance requires it (ScanHeld).
func (s *Service) ScanOff(ctx context.Context) bool {
	return !s.ScanRequired() && (s.evidence.ScanHeld == nil || !s.evidence.ScanHeld(ctx))
}

// scannerState records whether the scanner answered, and tells the
// administrators when that changes.
func (s *Service) scannerState(ctx context.Context, err error) {
	sc := s.scanning
	sc.tell.Lock()
	defer sc.tell.Unlock()
	sc.mu.Lock()
	was := sc.down
	sc.down = err
	if err != nil && was == nil {
		sc.downAt = s.now()
	}
	sc.mu.Unlock()
	s.metrics.Scanner(err == nil)
	switch {
	case err != nil && was == nil:
		s.log.Error("malware scanner unreachable: uploads wait as scanning until it answers", "addr", s.cfg.ClamdAddr, "err", err)
		sc.notifier.ScanEvent(ctx, ScanEvent{Kind: "scanner_down", Err: err.Error(), At: s.now()})
	case err == nil && was != nil:
		sc.mu.Lock()
		sc.backs++
		sc.mu.Unlock()
		s.log.Info("malware scanner answers again", "addr", s.cfg.ClamdAddr)
		sc.notifier.ScanEvent(ctx, ScanEvent{Kind: "scanner_back", At: s.now()})
	}
}

// scannerDegraded adds the scanner to readiness's degraded detail when
// scanning is required and it does not answer: it refuses the connection,
// or the worker found it down and it has not answered since.
func (s *Service) scannerDegraded(ctx context.Context, degraded map[string]string) {
	if !s.ScanRequired() {
		return
	}
	// Briefly: readiness answers within a second whatever is down.
	pctx, cancel := context.WithTimeout(ctx, 500*time.Millisecond)
	defer cancel()
	err := s.evidence.Scanner.Ping(pctx)
	var ne net.Error
	if err != nil && (ctx.Err() != nil || pctx.Err() != nil || errors.As(err, &ne) && ne.Timeout()) {
		// Slower than readiness's half second is not down: a busy
		// clamd queues a PING behind its scans. Nor is a PING readiness
		// had no time left for (the database and the object store
		// slow). What was last found stands; the worker, which waits
		// for it longer, decides.
		s.scanning.mu.Lock()
		err = s.scanning.down
		s.scanning.mu.Unlock()
	} else {
		s.scannerState(ctx, err)
	}
	if err != nil {
		degraded["scanner:clamd"] = "The malware scanner (clamd) does not answer: uploads are kept as waiting for a scan, unseen by the inspection team, and are scanned when it answers again."
	}
}

// recordVerdict stores the verdict on a stored file (scanned again from
// the store), with its audit record, and tells the administrators of an
// infection. A file that already has a verdict is left as it is.
func (s *Service) recordVerdict(ctx context.Context, f *store.File, v evidence.Verdict) {
	if v.Status != store.ScanClean && v.Status != store.ScanInfected {
		if v.Err != nil {
			s.metrics.Scanned("failed")
			s.log.Warn("file still waiting for a scan", "visit", f.VisitID, "file", f.ID, "err", v.Err)
		}
		return
	}
	s.metrics.Scanned(v.Status)
	detail := map[string]any{"scan": v.Status, "was": f.Scan}
	action := "file.scanned"
	if v.Status == store.ScanInfected {
		action, detail["signature"] = "file.infected", v.Signature
	}
	rec := s.systemRec(f.VisitID, action, f.ID, detail)
	if v.Status == store.ScanInfected {
		rec.Outcome = "infected"
	}
	err := s.store.SetScanResult(ctx, f.VisitID, f.ID, v.Status, v.Signature, s.now(), rec)
	if errors.Is(err, store.ErrNotFound) {
		return // deleted, or another instance recorded it first
	}
	if err != nil {
		s.log.Error("record scan verdict", "visit", f.VisitID, "file", f.ID, "err", err)
		return
	}
	f.Scan, f.ScanSignature = v.Status, v.Signature
	s.afterVerdict(ctx, *f)
}

// afterVerdict logs a verdict and tells the administrators of an infection.
func (s *Service) afterVerdict(ctx context.Context, f store.File) {
	if f.Scan != store.ScanInfected {
		return
	}
	s.log.Warn("infected file kept: never served", "visit", f.VisitID, "file", f.ID, "signature", f.ScanSignature)
	s.scanning.notifier.ScanEvent(ctx, ScanEvent{Kind: "infected", VisitID: f.VisitID, FileID: f.ID, Signature: f.ScanSignature, At: s.now()})
}

// countUpload counts the scanner's outcome on a plain upload.
func (s *Service) countUpload(f store.File) {
	if !s.ScanRequired() {
		// Scanning off here: a file held for another instance's scanner
		// (ScanHeld) is no scan that failed.
		return
	}
	switch f.Scan {
	case store.ScanClean, store.ScanInfected:
		s.metrics.Scanned(f.Scan)
	case store.ScanScanning:
		s.metrics.Scanned("failed")
	}
}

// scanStored scans a committed file from the store (a resumable upload
// after its last segment) and records the verdict; without one the file
// waits for the worker.
func (s *Service) scanStored(ctx context.Context, v store.Visit, f *store.File) {
	if !s.ScanRequired() || f.Scan != store.ScanScanning {
		return
	}
	key, err := s.keys.Key(ctx, v.ID)
	if err != nil {
		s.log.Error("scan stored file: visit key", "visit", v.ID, "file", f.ID, "err", err)
		return
	}
	s.recordVerdict(ctx, f, s.evidence.Rescan(ctx, v, key, *f))
}

// ScanWaiting runs one round of the worker: with scanning off, files left
// waiting are released as unscanned; otherwise every file waiting for a
// verdict, and every file stored unscanned, is scanned from the store. A
// round stops at the first sign that the scanner is down.
func (s *Service) ScanWaiting(ctx context.Context) {
	sc := s.scanning
	if s.ScanRequired() {
		// Every tick, whether or not a round is under way (one may take
		// longer than the word lasts), and whether or not clamd answers.
		s.noteScanRequired(ctx)
	}
	if !sc.round.TryLock() {
		return
	}
	defer sc.round.Unlock()
	if !s.ScanRequired() {
		// Files held back for the scanner stay so: scanning off here may
		// be one instance's configuration left behind in a rolling
		// change, and releasing them is the operator's decision.
		counts, err := s.store.ScanCounts(ctx)
		if err != nil {
			s.log.Error("files waiting for a scan", "err", err)
		} else if n := counts[store.ScanScanning]; n > 0 && n != sc.offWaiting {
			s.log.Warn("scanning is off on this instance: files held back for the scanner stay unserved until clamd clears them or an operator runs portal scan release", "files", n)
		}
		if err == nil {
			sc.offWaiting = counts[store.ScanScanning]
		}
		return
	}
	if err := s.evidence.Scanner.Ping(ctx); err != nil {
		if ctx.Err() == nil { // not the portal stopping
			s.scannerState(ctx, err)
		}
		return
	}
	s.scannerState(ctx, nil)
	sc.mu.Lock()
	if sc.backs != sc.refusedAt {
		sc.refusedAt, sc.refused = sc.backs, map[string]refusedFile{}
	}
	sc.mu.Unlock()
	// Every waiting file is tried in each round, a page at a time: files
	// that never get a verdict (clamd refuses them: longer than its
	// StreamMaxLength, say) must not keep the worker from those after
	// them. Files too large for the scanner wait for an administrator.
	seen := map[string]bool{}
	for after := ""; ; {
		files, err := s.store.FilesToScan(ctx, []string{store.ScanScanning, store.ScanUnscanned}, scan.MaxSize, after, scanPageSize)
		if err != nil {
			s.log.Error("files waiting for a scan", "err", err)
			return
		}
		for _, f := range files {
			seen[f.ID] = true
		}
		if !s.scanFiles(ctx, files) {
			return
		}
		if len(files) < scanPageSize {
			// The round went past every waiting file: those refused
			// once and no longer waiting (a verdict, a deletion) are
			// forgotten.
			for id := range sc.refused {
				if !seen[id] {
					delete(sc.refused, id)
				}
			}
			for id := range sc.felled {
				if !seen[id] {
					delete(sc.felled, id)
				}
			}
			return
		}
		after = files[len(files)-1].ID
	}
}

// scanPageSize is how many waiting files the worker reads at a time.
const scanPageSize = 100

// scanFiles scans one page of waiting files; false when the round must
// stop (the portal stopping, or the scanner down).
func (s *Service) scanFiles(ctx context.Context, files []store.File) bool {
	refused, felled := s.scanning.refused, s.scanning.felled
	for _, f := range files {
		if ctx.Err() != nil {
			return false
		}
		if r, ok := refused[f.ID]; ok && s.now().Before(r.next) {
			continue
		}
		if r, ok := felled[f.ID]; ok && s.now().Before(r.next) {
			continue
		}
		v, err := s.store.Visit(ctx, f.VisitID)
		if err != nil || v.State == StateDestroying || v.State == StateDestroyed {
			continue
		}
		key, err := s.keys.Key(ctx, v.ID)
		if err != nil {
			continue
		}
		verdict := s.evidence.Rescan(ctx, v, key, f)
		if ctx.Err() != nil {
			return false // the portal is stopping: the file waits for the next round
		}
		if verdict.Err != nil && s.evidence.Scanner.Ping(ctx) != nil {
			// Down while it scanned this file: this one waits its
			// back-off when the scanner is back, the others do not.
			r := s.backOff(felled[f.ID])
			felled[f.ID] = r
			s.log.Error("the malware scanner went down while it scanned a file: the file is tried again after a back-off, the others first", "visit", f.VisitID,
				"file", f.ID, "times", r.tries, "next", r.next.UTC().Format(time.RFC3339))
			s.scannerState(ctx, verdict.Err)
			return false
		}
		if verdict.Err != nil {
			// Refused while the scanner is up: tried again after
			// PORTAL_SCAN_RETRY, doubling each time, at most
			// refusedBackoffMax; reading and decrypting a large file
			// every round would load the store and the scanner for
			// nothing.
			refused[f.ID] = s.backOff(refused[f.ID])
		} else {
			delete(refused, f.ID)
			delete(felled, f.ID)
		}
		s.recordVerdict(ctx, &f, verdict)
	}
	return true
}

// backOff is r tried once more: next after PORTAL_SCAN_RETRY, doubling
// with each try, at most refusedBackoffMax.
func (s *Service) backOff(r refusedFile) refusedFile {
	r.tries++
	wait := s.cfg.ScanRetry
	for i := 1; i < r.tries && wait < refusedBackoffMax; i++ {
		wait *= 2
	}
	r.next = s.now().Add(min(wait, refusedBackoffMax))
	return r
}

// ScanSummary is what the administrators are shown about scanning.
type ScanSummary struct {
	Required    bool
	ScannerDown bool
	DownSince   time.Time
	Waiting     int // files waiting for a verdict
	Infected    int // infected files kept
}

// ScanSummary counts the files by verdict, for the administrators' pages.
func (s *Service) ScanSummary(ctx context.Context) (ScanSummary, error) {
	counts, err := s.store.ScanCounts(ctx)
	if err != nil {
		return ScanSummary{}, err
	}
	sc := s.scanning
	sc.mu.Lock()
	out := ScanSummary{Required: s.ScanRequired(), ScannerDown: sc.down != nil, DownSince: sc.downAt,
		Waiting: counts[store.ScanScanning], Infected: counts[store.ScanInfected]}
	sc.mu.Unlock()
	return out, nil
}

// scanRefusal is the refusal of a download the scan status forbids, for
// the provider's staff who see the file: they are told why. Everyone else
// gets the ordinary refusal.
func (acc *Access) scanRefusal(d policy.Decision) *Error {
	if !slices.Contains(d.Policies, "served-only-when-scanned") || !policy.IsProviderRole(acc.Member.Role) {
		return nil
	}
	if acc.File.Scan == store.ScanInfected && scan.Unreadable(acc.File.ScanSignature) {
		return &Error{Kind: KindForbidden, Code: "infected",
			Msg: "The malware scanner could not look inside this file (" + acc.File.ScanSignature + "): it is protected by a password, or holds more files, or archives inside archives, than the scanner opens. It will never be downloaded. It is kept for the portal's administrators. Upload it again without a password, or as separate files."}
	}
	if acc.File.Scan == store.ScanInfected {
		return &Error{Kind: KindForbidden, Code: "infected",
			Msg: "This file contains malware (" + acc.File.ScanSignature + ") and will never be downloaded. It is kept for the portal's administrators. Check the original on your own systems."}
	}
	if acc.File.Size > scan.MaxSize {
		return locked("scanning", "This file is larger than the malware scanner can check (2 GiB). It can be downloaded, and the inspection team can see it, only once the portal's administrators release it unchecked: ask them, or upload it again in smaller parts.", time.Time{})
	}
	return locked("scanning", "This file is being checked for malware. It can be downloaded, and the inspection team can see it, once the check has found it clean.", time.Time{})
}
