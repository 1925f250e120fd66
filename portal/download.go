package portal

import (
	"context"
	"errors"
	"io"
	"time"

	"github.com/ofsted-portal/evidence/policy"
	"github.com/ofsted-portal/evidence/portal/evidence"
	"github.com/ofsted-portal/evidence/portal/store"
)

// Download is a file being sent: its plaintext from Offset, Length bytes,
// decrypted and authenticated as it is read. Partial says a range is sent;
// Whole that the whole file is, whatever was asked, because only the whole
// of it can be checked (a file stored before segment MACs were recorded).
//
// A download goes on only while its reader may still download the file:
// before each block is handed out, the decision is taken again once it is
// older than recheckAfter, and a refusal (a member removed, a window
// closed, the file's item restricted, the visit destroyed, the person
// disabled) stops it with that refusal's error.
type Download struct {
	File    store.File
	Name    string
	Offset  int64
	Length  int64
	Partial bool
	Whole   bool
	io.ReadCloser
	// allowed, when set, says whether the download may go on (stillMay);
	// decided, whether it may, deciding now.
	allowed, decided func() error
}

// Read hands out the next bytes while the download may go on.
func (d *Download) Read(p []byte) (int, error) {
	if err := d.mayGoOn(); err != nil {
		return 0, err
	}
	n, err := d.ReadCloser.Read(p)
	return n, d.stoppedBy(err)
}

// stoppedBy is why the download stopped at err: a stored segment found
// missing is taken as the end of the reader's access when the decision,
// taken again at once, refuses (the visit destroyed, its bucket gone,
// before the decision was next due), and as damage otherwise (also when
// the decision cannot be taken: the damage is not hidden). A segment
// present and failing its check is damage whatever the decision.
func (d *Download) stoppedBy(err error) error {
	if d.decided != nil && errors.Is(err, evidence.ErrMissing) {
		if refusal := d.decided(); isRefusal(refusal) {
			return refusal
		}
	}
	return err
}

// WriteTo hands the decrypted blocks to w as they are, when the reader
// can (evidence's segment reader does): io.Copy would otherwise copy
// every byte once more through a buffer of its own. Each block is handed
// over only while the download may go on.
func (d *Download) WriteTo(w io.Writer) (int64, error) {
	if d.allowed != nil {
		w = &allowedWriter{w: w, allowed: d.mayGoOn}
	}
	var n int64
	var err error
	if wt, ok := d.ReadCloser.(io.WriterTo); ok {
		n, err = wt.WriteTo(w)
	} else {
		n, err = io.Copy(w, struct{ io.Reader }{d.ReadCloser})
	}
	return n, d.stoppedBy(err)
}

func (d *Download) mayGoOn() error {
	if d.allowed == nil {
		return nil
	}
	return d.allowed()
}

// allowedWriter writes each block only while allowed says the download
// may go on.
type allowedWriter struct {
	w       io.Writer
	allowed func() error
}

func (a *allowedWriter) Write(p []byte) (int, error) {
	if err := a.allowed(); err != nil {
		return 0, err
	}
	return a.w.Write(p)
}

// countingWriter adds to n what w took.
type countingWriter struct {
	w io.Writer
	n *int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	*c.n += int64(n)
	return n, err
}

// stillMay says whether the actor may still do action on a file: the
// decision is taken again, from the database as it now stands, when the
// last one is older than recheckAfter (a download of a large file, or a
// zip of many, lasts minutes), or at once when now is set, and a refusal
// is recorded as any is and returned from then on. An error while deciding
// stops the download as a refusal does.
//
// A zip names its files (in the order it sends them), all decided at
// since: each round decides the file being sent and, together, the next
// roundAhead files of the zip (their rows in one statement, the decisions
// in memory), so that a file whose item was restricted while another was
// sent is not begun on the decision taken on that other. A file the round
// finds refused, or gone, is decided again alone as it begins, which
// records the refusal; so is one past the round's part, with the part
// after it.
func (acc *Access) stillMay(ctx context.Context, action policy.Action, files []store.File, since time.Time) func(fileID string, now bool) error {
	s, decided := acc.svc, since
	order := make(map[string]int, len(files))
	for i, f := range files {
		order[f.ID] = i
	}
	var refused error
	doubt := map[string]bool{} // refused or gone at the last round
	horizon := len(files) - 1  // the last file the last round decided
	return func(fileID string, now bool) error {
		if refused != nil {
			return refused
		}
		i, inZip := order[fileID]
		if !now && !doubt[fileID] && (!inZip || i <= horizon) && s.now().Sub(decided) < recheckAfter {
			return nil
		}
		a, err := s.actorNow(ctx, acc.Actor)
		var again *Access
		if err == nil {
			again, err = s.Authorize(ctx, a, action, acc.Visit.ID, fileID)
		}
		if err == nil && inZip {
			end := min(len(files), i+1+roundAhead)
			doubt, err = again.doubtful(ctx, action, files[i+1:end])
			horizon = end - 1
		}
		if errors.Is(err, store.ErrNotFound) {
			err = errFileGone // deleted or purged meanwhile: a refusal, not a failure
		}
		if err != nil {
			refused = err
			return err
		}
		decided = s.now()
		return nil
	}
}

// roundAhead is how many files of a zip past the one being sent a round
// of decisions takes (stillMay): a zip of thousands is read again a part
// at a time, not whole every round.
var roundAhead = 500

// doubtful reads files again, in one statement, and names those the actor
// may no longer do action on (decided in memory, by their item, uploader
// and scan, as fileFilter does), or that are no longer the visit's.
func (acc *Access) doubtful(ctx context.Context, action policy.Action, files []store.File) (map[string]bool, error) {
	out := map[string]bool{}
	if len(files) == 0 {
		return out, nil
	}
	ids := make([]string, len(files))
	for i, f := range files {
		ids[i] = f.ID
	}
	now, err := acc.svc.store.FilesByID(ctx, acc.Visit.ID, ids)
	if err != nil {
		return nil, err
	}
	may := acc.fileFilter(ctx, action)
	found := make(map[string]bool, len(now))
	for _, f := range now {
		ok, err := may(f)
		if err != nil {
			return nil, err
		}
		found[f.ID] = true
		if !ok {
			out[f.ID] = true
		}
	}
	for _, id := range ids {
		if !found[id] {
			out[id] = true
		}
	}
	return out, nil
}

// OpenDownload opens the file Authorize named, from off for length bytes,
// and records the download: no download without its record. The first part
// of the file is authenticated before this returns, so damage there is an
// error (KindCorrupt) rather than a broken download. A file stored before
// segment MACs were recorded is checked against its SHA-256, whole,
// before this returns (evidence.Open): a range of it is answered with the
// whole file (RFC 9110 lets a server ignore a Range).
func (acc *Access) OpenDownload(ctx context.Context, off, length int64, partial bool) (*Download, error) {
	if err := acc.needFile(); err != nil {
		return nil, err
	}
	if err := acc.require(ctx, policy.FileDownload, &acc.File); err != nil {
		return nil, err
	}
	s, f := acc.svc, acc.File
	may := acc.stillMay(ctx, policy.FileDownload, nil, acc.decidedAt())
	whole := f.SegmentMACs == nil
	if whole {
		off, length, partial = 0, f.Size, false
	}
	key, err := acc.key(ctx)
	if err != nil {
		return nil, err
	}
	name, err := openName(key, f)
	if err != nil {
		// Damaged, or another file's sealed name put over it: recorded as
		// damage in its objects is.
		s.log.Error("file name does not open", "visit", acc.Visit.ID, "file", f.ID)
		_ = s.store.Audit(context.WithoutCancel(ctx), acc.rec("file.download", f.ID, "corrupt", map[string]any{"from": off, "bytes": length, "name": true}))
		return nil, errCorrupt
	}
	// A file with segment MACs is checked segment by segment: not how
	// many it has (one without is hashed whole).
	var r io.ReadCloser
	if err = nil; !whole {
		err = s.evidence.CheckEnd(ctx, acc.Visit, f)
	}
	if err == nil {
		r, err = s.evidence.Open(ctx, acc.Visit, key, f, off, length)
	}
	if err != nil {
		if errors.Is(err, evidence.ErrCorrupt) {
			// Missing because the file was deleted, or the visit destroyed,
			// since the download was allowed: not damage (stoppedBy). A
			// segment there that fails its check is damage, whatever.
			if refusal := may(f.ID, true); errors.Is(err, evidence.ErrMissing) && isRefusal(refusal) {
				return nil, refusal
			}
			_ = s.store.Audit(context.WithoutCancel(ctx), acc.rec("file.download", f.ID, "corrupt", map[string]any{"from": off, "bytes": length}))
		}
		return nil, err
	}
	if err := acc.recordDownload(ctx, []store.File{f}, acc.rec("file.download", f.ID, "success", map[string]any{"from": off, "bytes": length, "range": partial})); err != nil {
		r.Close()
		return nil, err
	}
	return &Download{File: f, Name: name, Offset: off, Length: length, Partial: partial, Whole: whole, ReadCloser: r,
		allowed: func() error { return may(f.ID, false) }, decided: func() error { return may(f.ID, true) }}, nil
}

// DownloadCut records that a download ended before its end, with the
// bytes actually sent: "corrupt" when damage found in the stored file
// stopped it (err), "refused" when its reader's access ended while it ran
// (the refusal has its own record), else "interrupted" (the connection
// went). The download's own record, written before its first byte, says
// what was asked for.
func (acc *Access) DownloadCut(ctx context.Context, d *Download, sent int64, err error) {
	rec := acc.rec("file.download", d.File.ID, cutOutcome(err), map[string]any{"from": d.Offset, "bytes": d.Length, "sent": sent})
	if err := acc.svc.store.Audit(context.WithoutCancel(ctx), rec); err != nil {
		acc.svc.log.Error("record a cut download", "visit", acc.Visit.ID, "file", d.File.ID, "err", err)
	}
}

// ArchiveCut records that an archive download ended before its end, with
// the bytes actually sent (err stopped it, as DownloadCut's). Each file
// had its download recorded before the first byte: the file being written
// when it stopped gets its own cut record, with its bytes handed on
// ("corrupt" when its damage stopped the archive), and each file after it
// "not_sent", so that no file's trail says it went whole when it did not.
func (acc *Access) ArchiveCut(ctx context.Context, a *Archive, sent int64, err error) {
	detail := map[string]any{"files": a.Files(), "bytes": a.Bytes, "sent": sent, "files_whole": a.at}
	if f := a.damaged; f != nil && errors.Is(err, evidence.ErrCorrupt) {
		detail["file"] = f.ID
	}
	recs := []store.AuditRecord{acc.rec("archive.download", "", cutOutcome(err), detail)}
	for i := a.at; i < len(a.files); i++ {
		f, outcome, at := a.files[i], "not_sent", int64(0)
		if i == a.at {
			outcome, at = cutOutcome(err), a.atSent
		}
		recs = append(recs, acc.rec("file.download", f.ID, outcome, map[string]any{"from": 0, "bytes": f.Size, "sent": at, "archive": true}))
	}
	if err := acc.svc.store.Audit(context.WithoutCancel(ctx), recs...); err != nil {
		acc.svc.log.Error("record a cut archive", "visit", acc.Visit.ID, "err", err)
	}
}

// isRefusal says whether err is a decision's refusal (an *Error), not a
// failure to decide.
func isRefusal(err error) bool {
	_, ok := AsError(err)
	return ok
}

// cutOutcome is the outcome recorded for a download that err stopped.
func cutOutcome(err error) string {
	switch {
	case errors.Is(err, evidence.ErrCorrupt):
		return "corrupt"
	case isRefusal(err):
		return "refused"
	}
	return "interrupted"
}
