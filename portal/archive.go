package portal

import (
	"archive/zip"
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/ofsted-portal/evidence/crypto"
	"github.com/ofsted-portal/evidence/policy"
	"github.com/ofsted-portal/evidence/portal/evidence"
	"github.com/ofsted-portal/evidence/portal/store"
)

// ManifestName is the file inside every archive that lists the SHA-256 of
// each file as recorded at upload, in sha256sum's format, so that
// "sha256sum -c manifest-sha256.txt" checks the unpacked files.
const ManifestName = "manifest-sha256.txt"

// Archive is a chosen set of files, authorised and recorded, ready to be
// written as one zip.
type Archive struct {
	acc     *Access
	key     *crypto.VisitKey
	files   []store.File
	paths   []string
	first   io.ReadCloser                       // the first file, opened before any record
	may     func(fileID string, now bool) error // whether the zip may go on with a file (stillMay)
	damaged *store.File                         // the file whose damage stopped WriteTo
	at      int                                 // files wholly handed on; the one being written
	atSent  int64                               // bytes of files[at] handed on
	Bytes   int64                               // total plaintext size
}

// Files is how many files the archive holds.
func (a *Archive) Files() int { return len(a.files) }

// MaxArchiveChoices is the most files, and the most items, one zip may
// name.
const MaxArchiveChoices = 1000

// PrepareArchive chooses the files named (fileIDs) and those filed under
// the items named (codes; "unfiled" for files under none) that the actor
// may download, and records one download per file, all or none, before any
// byte is sent. A named file the actor may not download is not found, like
// one that does not exist.
func (acc *Access) PrepareArchive(ctx context.Context, fileIDs, codes []string) (*Archive, error) {
	if err := acc.require(ctx, policy.FileDownload, nil); err != nil {
		return nil, err
	}
	if len(fileIDs) == 0 && len(codes) == 0 {
		return nil, invalid("file", "Choose at least one file or item to download.")
	}
	// Each named once: what is read and compared is bounded by what one
	// zip may name, not by how often a request repeats it.
	fileIDs, codes = slices.Compact(slices.Sorted(slices.Values(fileIDs))), slices.Compact(slices.Sorted(slices.Values(codes)))
	if len(fileIDs) > MaxArchiveChoices || len(codes) > MaxArchiveChoices {
		return nil, invalidf("file", "Choose at most %d files and %d items for one download.", MaxArchiveChoices, MaxArchiveChoices)
	}
	s := acc.svc
	// Only the chosen files, and the standing files of the chosen items,
	// are read: a zip of one file costs the same in a visit of twenty
	// thousand. They go in the order the visit's list gives them.
	items := make([]string, 0, len(codes))
	for _, c := range codes {
		if c == "unfiled" {
			c = ""
		}
		items = append(items, c)
	}
	files, err := s.store.FilesByID(ctx, acc.Visit.ID, fileIDs)
	if err != nil {
		return nil, err
	}
	ofItems, err := s.store.StandingFilesOf(ctx, acc.Visit.ID, items)
	if err != nil {
		return nil, err
	}
	standsBehind, err := acc.versionsBehindWithheld(ctx, ofItems)
	if err != nil {
		return nil, err
	}
	// A file read more than once (chosen by id and by item, or standing
	// behind a withheld one) is kept as read last: the index's copy, then
	// the item's, then the one chosen by id. A file cleared meanwhile then
	// stands as cleared.
	read := make([]store.File, 0, len(standsBehind)+len(ofItems)+len(files))
	for _, f := range standsBehind {
		read = append(read, f)
	}
	files = append(append(read, ofItems...), files...)
	slices.SortStableFunc(files, func(a, b store.File) int {
		return cmp.Or(a.UploadedAt.Compare(b.UploadedAt), strings.Compare(a.ID, b.ID))
	})
	files = slices.CompactFunc(files, func(a, b store.File) bool { return a.ID == b.ID })
	// The files' decisions, below, stand from the request's (the person
	// and their membership as read then), however fresh the files' rows.
	decided := acc.decidedAt()
	may := acc.fileFilter(ctx, policy.FileDownload)
	a := &Archive{acc: acc}
	found := map[string]bool{}
	for _, f := range files {
		// An item's zip holds the files that stand; a withdrawn file or an
		// earlier version only when chosen by itself.
		_, byID := slices.BinarySearch(fileIDs, f.ID)
		_, ofItem := slices.BinarySearch(codes, f.Item)
		_, unfiled := slices.BinarySearch(codes, "unfiled")
		_, behind := standsBehind[f.ID]
		byItem := (f.Live() || behind) && (ofItem || f.Item == "" && unfiled)
		if !byID && !byItem {
			continue
		}
		ok, err := may(f)
		if err != nil {
			return nil, err
		}
		if !ok {
			if byID {
				// Chosen by its id: refused, and recorded, as its own
				// download is, so that file ids cannot be tried through
				// the zip unseen.
				rec := acc.rec("request.denied", f.ID, "denied", map[string]any{"action": string(policy.FileDownload), "route": acc.Actor.Via, "archive": true})
				if err := s.store.Audit(context.WithoutCancel(ctx), rec); err != nil {
					return nil, s.dbErr(ctx, "audit", err)
				}
			}
			continue // the same answer as for a file that does not exist
		}
		found[f.ID] = true
		a.files = append(a.files, f)
	}
	for _, id := range fileIDs {
		if !found[id] {
			return nil, notFound("One of the chosen files does not exist or is not yours to download.")
		}
	}
	if len(a.files) == 0 {
		return nil, notFound("There are no files you may download in the chosen items.")
	}
	// The zip goes on only while each file in it may still be downloaded
	// (stillMay): it may take many minutes.
	a.may = acc.stillMay(ctx, policy.FileDownload, a.files, decided)
	if a.key, err = acc.key(ctx); err != nil {
		return nil, err
	}
	a.paths = make([]string, len(a.files))
	used := map[string]bool{}
	for i, f := range a.files {
		name, err := openName(a.key, f)
		if err != nil {
			s.log.Error("file name does not open", "visit", acc.Visit.ID, "file", f.ID)
			_ = s.store.Audit(context.WithoutCancel(ctx), acc.rec("file.download", f.ID, "corrupt", map[string]any{"from": 0, "bytes": f.Size, "archive": true, "name": true}))
			return nil, errCorrupt
		}
		a.paths[i] = archivePath(f.Item, name, used)
		a.Bytes += f.Size
	}
	// The first file's first part is authenticated before the status line,
	// as a single download's is: damage there is an error page, not a
	// connection cut with no answer.
	f := a.files[0]
	if err = a.checkEnd(ctx, f); err == nil {
		a.first, err = s.evidence.Open(ctx, acc.Visit, a.key, f, 0, f.Size)
	}
	if err != nil {
		if errors.Is(err, evidence.ErrCorrupt) {
			if refusal := a.may(f.ID, true); errors.Is(err, evidence.ErrMissing) && isRefusal(refusal) {
				return nil, refusal // deleted, or the visit destroyed, meanwhile
			}
			_ = s.store.Audit(context.WithoutCancel(ctx), acc.rec("file.download", f.ID, "corrupt", map[string]any{"from": 0, "bytes": f.Size, "archive": true}))
		}
		return nil, err
	}
	// No download without its record: one per file, all or none.
	recs := make([]store.AuditRecord, len(a.files))
	for i, f := range a.files {
		recs[i] = acc.rec("file.download", f.ID, "success", map[string]any{"from": 0, "bytes": f.Size, "archive": true})
	}
	if err := acc.recordDownload(ctx, a.files, recs...); err != nil {
		a.first.Close()
		if err == errFileGone {
			return nil, notFound("One of the chosen files was deleted as the download began. Choose the files again.")
		}
		return nil, err
	}
	return a, nil
}

// WriteTo streams the archive as a zip with no temporary file. Files are
// stored uncompressed (evidence is mostly compressed already, and the CPU
// goes to decryption). Every file is checked against its recorded SHA-256
// as it is written; a mismatch or a corrupt segment stops the archive with
// an error, so the caller can cut the connection and a broken archive never
// looks complete. So does the actor's access ending while it is written
// (the refusal, an *Error): the file being written is cut at a block.
func (a *Archive) WriteTo(ctx context.Context, w io.Writer) error {
	s := a.acc.svc
	zw := zip.NewWriter(w)
	var manifest strings.Builder
	defer a.first.Close()
	// Each file is flushed to the connection once written, before it is
	// counted whole: what the zip and the response still buffered would
	// go unsent if the connection were cut (ArchiveCut).
	flush := func() error {
		if err := zw.Flush(); err != nil {
			return err
		}
		if f, ok := w.(interface{ Flush() error }); ok {
			return f.Flush()
		}
		return nil
	}
	for i, f := range a.files {
		a.at, a.atSent = i, 0
		err := a.writeFile(ctx, zw, f, a.paths[i], i == 0)
		if err == nil {
			err = flush()
		}
		if err != nil {
			if _, refused := AsError(err); ctx.Err() == nil && !refused {
				s.log.Error("archive stopped", "visit", a.acc.Visit.ID, "file", f.ID, "err", err)
			}
			if errors.Is(err, evidence.ErrCorrupt) {
				a.damaged = &a.files[i]
			}
			return err
		}
		fmt.Fprintf(&manifest, "%s  %s\n", f.SHA256, a.paths[i])
	}
	a.at = len(a.files)
	mw, err := zw.CreateHeader(&zip.FileHeader{Name: ManifestName, Method: zip.Deflate, Modified: s.now()})
	if err == nil {
		_, err = io.WriteString(mw, manifest.String())
	}
	if err == nil {
		err = zw.Close()
	}
	if err == nil {
		s.log.Info("archive downloaded", "visit", a.acc.Visit.ID, "files", len(a.files), "bytes", a.Bytes, "user", a.acc.Actor.UserID)
	}
	return err
}

// writeFile writes f into the archive, from the reader PrepareArchive
// opened when first.
func (a *Archive) writeFile(ctx context.Context, zw *zip.Writer, f store.File, path string, first bool) error {
	// Missing because the file was purged, or the visit destroyed,
	// meanwhile: a refusal, not damage (Download.stoppedBy).
	missing := func(err error) error {
		if errors.Is(err, evidence.ErrMissing) {
			if refusal := a.may(f.ID, true); isRefusal(refusal) {
				return refusal
			}
		}
		return err
	}
	// Decided as it begins (an empty file writes no block to decide at),
	// before it is opened or its name sent.
	if err := a.may(f.ID, false); err != nil {
		return err
	}
	r := a.first
	if !first {
		err := a.checkEnd(ctx, f)
		if err == nil {
			r, err = a.acc.svc.evidence.Open(ctx, a.acc.Visit, a.key, f, 0, f.Size)
		}
		if err != nil {
			return missing(err)
		}
		defer r.Close()
	}
	w, err := zw.CreateHeader(&zip.FileHeader{Name: path, Method: zip.Store, Modified: f.UploadedAt})
	if err != nil {
		return err
	}
	h := sha256.New()
	allowed := &allowedWriter{w: io.MultiWriter(w, h), allowed: func() error { return a.may(f.ID, false) }}
	if _, err := io.Copy(&countingWriter{w: allowed, n: &a.atSent}, r); err != nil {
		return missing(err)
	}
	if got := hex.EncodeToString(h.Sum(nil)); got != f.SHA256 {
		return fmt.Errorf("%w: file %s does not match its recorded SHA-256", evidence.ErrCorrupt, f.ID)
	}
	return nil
}

// checkEnd refuses, before any byte of it is sent, a file whose row was
// cut short in the database (evidence.CheckEnd), as a single download
// does: its segments are each authentic, and would be sent before the
// SHA-256 at the entry's end found the file short. A file with no MACs
// is hashed whole as it is opened.
func (a *Archive) checkEnd(ctx context.Context, f store.File) error {
	if f.SegmentMACs == nil {
		return nil
	}
	return a.acc.svc.evidence.CheckEnd(ctx, a.acc.Visit, f)
}

// archivePath is "item/name" inside the archive, the name as Windows can
// create it (windowsName), made unique as the systems it is unpacked on
// compare names: ignoring case (NameKey), and the dots and spaces Windows
// drops from a name's end; "name (2).ext", shortened to fit MaxNameBytes.
func archivePath(item, name string, used map[string]bool) string {
	dir := item
	if dir == "" {
		dir = "unfiled"
	}
	name = windowsName(name)
	key := func(p string) string { return NameKey(strings.TrimRight(p, ". ")) }
	p := dir + "/" + name
	for i := 2; used[key(p)]; i++ {
		// Shortened to fit, as a name kept beside another is stored: a
		// name longer than 255 bytes is refused where it is unpacked.
		p = dir + "/" + renamed(name, i)
	}
	used[key(p)] = true
	return p
}

// windowsName is name as Windows can create it, so that a zip unpacks
// there whole: each character it refuses in a name (< > : " | ? * and
// the separators; a name from a Mac or Linux may hold them, and ":" would
// open an NTFS alternate stream: "a.txt:x" unpacked as an empty a.txt) as
// "_", without the dots and spaces it drops from a name's end, and a
// device name (CON, NUL, COM1, LPT1, with any extension), which opens the
// device rather than a file, with "_" before it (and shortened to fit
// MaxNameBytes). Other names are as they were.
func windowsName(name string) string {
	name = strings.Map(func(r rune) rune {
		if r < 0x20 || strings.ContainsRune(`<>:"|?*/\`, r) {
			return '_'
		}
		return r
	}, name)
	name = strings.TrimRight(name, ". ")
	if name == "" {
		return "_"
	}
	stem, _, _ := strings.Cut(name, ".")
	if isDeviceName(strings.TrimRight(stem, " ")) {
		// One more byte: a name of 255 would no longer fit.
		name = strings.TrimRight(fitName("_"+name, ""), ". ")
	}
	return name
}

// isDeviceName says whether Windows takes stem, whatever its case, for a
// device: CON, PRN, AUX, NUL, CONIN$, CONOUT$, and COM or LPT followed by
// one digit (0 to 9, or a superscript 1, 2 or 3).
func isDeviceName(stem string) bool {
	stem = strings.ToUpper(stem)
	switch stem {
	case "CON", "PRN", "AUX", "NUL", "CONIN$", "CONOUT$":
		return true
	}
	for _, p := range []string{"COM", "LPT"} {
		if rest, ok := strings.CutPrefix(stem, p); ok && utf8.RuneCountInString(rest) == 1 && strings.ContainsAny(rest, "0123456789¹²³") {
			return true
		}
	}
	return false
}

// versionsBehindWithheld finds, for the standing files withheld from the
// actor (a new version being scanned, or infected, which policy shows to
// provider staff alone), the version before it that stands for them in
// their list (FilePage): the latest the scanner cleared. An item's zip
// holds that one. The file index is read only when there are any. It is
// read after the item's files: a standing file the scanner cleared in
// between stands itself, as the index has it (with no version behind it
// any more), so that the zip holds one or the other.
func (acc *Access) versionsBehindWithheld(ctx context.Context, standing []store.File) (map[string]store.File, error) {
	var (
		out      map[string]store.File
		vf       *visitFiles
		listable func(store.File) (bool, error)
	)
	for _, f := range standing {
		if !scanWithheld(f.Scan) {
			continue
		}
		if listable == nil {
			listable = acc.fileFilter(ctx, policy.FileList)
		}
		if ok, err := listable(f); err != nil || ok {
			if err != nil {
				return nil, err
			}
			continue // they see it: it stands for them (and is not served)
		}
		if vf == nil {
			key, err := acc.key(ctx)
			if err != nil {
				return nil, err
			}
			if vf, err = acc.svc.keys.indexedFiles(ctx, acc.Visit.ID, key); err != nil {
				return nil, err
			}
		}
		if j, ok := vf.pos[f.ID]; ok && !scanWithheld(vf.files[j].File.Scan) {
			// Cleared since: it stands, unless it was withdrawn or
			// replaced meanwhile too (then, as read, it is left out).
			if g := vf.files[j].File; g.Live() {
				if out == nil {
					out = map[string]store.File{}
				}
				out[f.ID] = g
			}
			continue
		}
		i, ok := vf.behind[f.ID]
		for hops := 0; ok && hops <= len(vf.files); hops++ {
			b := vf.files[i].File
			if !scanWithheld(b.Scan) {
				if out == nil {
					out = map[string]store.File{}
				}
				out[b.ID] = b
				break
			}
			if ok, err := listable(b); err != nil || ok {
				if err != nil {
					return nil, err
				}
				break // one they see, withheld: nothing before it stands
			}
			i, ok = vf.behind[b.ID]
		}
	}
	return out, nil
}
