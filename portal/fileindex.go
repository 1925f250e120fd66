package portal

import (
	"context"
	"iter"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/ofsted-portal/evidence/crypto"
	"github.com/ofsted-portal/evidence/portal/calendar"
	"github.com/ofsted-portal/evidence/portal/store"
)

// The file index: a visit's files with their names decrypted, in natural
// order ("case-2" before "case-19"), kept in memory so that a page of a
// list of 20,000 files, or a search of their names, costs one small read
// (the visit's files_version, which triggers move on with every change)
// and no decryption. Names are sealed at rest, so neither the database
// nor any index in it can sort or search them; this index lives only in
// the memory of the process, beside the visit's key, and goes when the
// key is forgotten (destroyed, or no longer stored: every use checks).
// It is bounded: past maxIndexedFiles files over all visits, the visits
// used least recently are dropped.

const maxIndexedFiles = 200_000

type indexedFile struct {
	store.File
	name  string
	lower string    // for search
	day   time.Time // of upload, in London
	class int       // in visitFiles.classes
}

// fileClass is the files of one item, uploader and scan result: what
// policy decides a file's listing by (Access.fileFilter), and what a
// page's filters of item and uploader look at.
type fileClass struct {
	rep           store.File // the first of them, to ask policy with
	standing, all int        // how many are not superseded; how many in all
}

type visitFiles struct {
	version int64
	files   []indexedFile // natural order of names, then id
	classes []fileClass
	live    map[string]int // files neither withdrawn, superseded nor infected, by item
	// cleared counts, by item, the files that stand for the inspection
	// team: those of live that the scanner has cleared (or that go
	// unscanned), and the cleared versions that stand behind later ones
	// still withheld (behind).
	cleared map[string]int
	// behind is, for each version the scanner has not cleared (being
	// checked, or infected), the index of the version it superseded. A
	// withheld version is shown to provider staff alone, so for everyone
	// else it does not displace the one before it (laterShown).
	behind    map[string]int
	byName    []int                 // 0..n-1: the order of files
	byTime    []int                 // indexes of files, oldest upload first (then id)
	timeRank  []int32               // each file's position in byTime
	pos       map[string]int        // index of each file by id
	uploaders map[string]store.User // read with the files
	// uploaderOrder is everyone who uploaded a file here, by name in
	// natural order (then id): a page's choice of uploaders to filter by
	// is these, less those whose files the actor cannot see.
	uploaderOrder []Uploader
	used          uint64
	grams         gramIndex // for searches: built at the first (filesearch.go)
}

type fileIndex struct {
	visits map[string]*visitFiles
	total  int
	tick   uint64
	// reading is the read of a visit's files in progress, by visit:
	// requests that find the index behind the same version wait for it
	// rather than each reading every file again (a 20,000-file visit
	// takes a quarter of a second of CPU to read, and every upload moves
	// its version on while the team is browsing it).
	reading map[string]*indexRead
}

// indexRead is one read of a visit's files, for the requests waiting on
// it: done closes when vf or err is set.
type indexRead struct {
	version int64
	done    chan struct{}
	vf      *visitFiles
	err     error
}

// indexedFiles returns the visit's files in natural order of their names,
// from memory when nothing changed since they were read. The caller has
// just checked the key (Key), so the visit's key is still stored. One
// read of a version is shared by the requests that need it at once.
func (k *Keyring) indexedFiles(ctx context.Context, visitID string, key *crypto.VisitKey) (*visitFiles, error) {
	version, err := k.store.FilesVersion(ctx, visitID)
	if err != nil {
		return nil, err
	}
	k.mu.Lock()
	vf := k.index.visits[visitID]
	if vf != nil && vf.version == version {
		k.index.tick++
		vf.used = k.index.tick
		k.mu.Unlock()
		return vf, nil
	}
	if r := k.index.reading[visitID]; r != nil && r.version == version {
		k.mu.Unlock()
		select {
		case <-r.done:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
		if r.err == nil {
			return r.vf, nil
		}
		// That read failed (its request may have been cancelled): this
		// request reads for itself.
		return k.readIndex(ctx, visitID, key, version)
	}
	r := &indexRead{version: version, done: make(chan struct{})}
	if k.index.reading == nil {
		k.index.reading = map[string]*indexRead{}
	}
	k.index.reading[visitID] = r
	k.mu.Unlock()
	defer func() {
		k.mu.Lock()
		if k.index.reading[visitID] == r {
			delete(k.index.reading, visitID)
		}
		k.mu.Unlock()
		close(r.done)
	}()
	r.vf, r.err = k.readIndex(ctx, visitID, key, version)
	return r.vf, r.err
}

// readIndex reads, decrypts and orders a visit's files at version, and
// keeps them in the index while the keyring still holds their key: names
// decrypted with a key forgotten meanwhile (a destruction, here or seen
// from another instance) are not kept after it.
func (k *Keyring) readIndex(ctx context.Context, visitID string, key *crypto.VisitKey, version int64) (*visitFiles, error) {
	files, err := k.store.Files(ctx, visitID)
	if err != nil {
		return nil, err
	}
	uploaders, err := k.store.Uploaders(ctx, visitID)
	if err != nil {
		return nil, err
	}
	vf := &visitFiles{version: version, files: make([]indexedFile, len(files)), uploaders: uploaders}
	for i, f := range files {
		name, err := openName(key, f)
		if err != nil {
			return nil, err
		}
		vf.files[i] = indexedFile{File: f, name: name, lower: searchForm(name), day: calendar.Today(f.UploadedAt)}
	}
	vf.live, vf.cleared = map[string]int{}, map[string]int{}
	type classKey struct{ item, uploader, scan string }
	classes := map[classKey]int{}
	for i := range vf.files {
		f := &vf.files[i]
		k := classKey{f.Item, f.UploadedBy, f.Scan}
		c, ok := classes[k]
		if !ok {
			c = len(vf.classes)
			classes[k] = c
			vf.classes = append(vf.classes, fileClass{rep: f.File})
		}
		f.class = c
		vf.classes[c].all++
		if f.Live() && f.Scan != store.ScanInfected {
			// An infected file is kept but never served: it answers no
			// item of the request.
			vf.live[f.Item]++
			if !scanWithheld(f.Scan) {
				vf.cleared[f.Item]++
			}
		}
		if f.SupersededBy == "" {
			vf.classes[c].standing++
		}
	}
	sortNatural(vf.files)
	seen := map[string]bool{}
	for _, c := range vf.classes {
		if id := c.rep.UploadedBy; !seen[id] {
			seen[id] = true
			u := uploaders[id]
			vf.uploaderOrder = append(vf.uploaderOrder, Uploader{ID: id, Name: PersonName(u.Email, u.Name, u.Subject, u.Issuer)})
		}
	}
	slices.SortFunc(vf.uploaderOrder, func(a, b Uploader) int {
		if c := compareNatural(a.Name, b.Name); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
	vf.byName, vf.byTime, vf.pos = make([]int, len(files)), make([]int, len(files)), make(map[string]int, len(files))
	for i, f := range vf.files {
		vf.byName[i], vf.byTime[i], vf.pos[f.ID] = i, i, i
	}
	slices.SortFunc(vf.byTime, func(a, b int) int {
		if c := vf.files[a].UploadedAt.Compare(vf.files[b].UploadedAt); c != 0 {
			return c
		}
		return strings.Compare(vf.files[a].ID, vf.files[b].ID)
	})
	vf.timeRank = make([]int32, len(files))
	for r, i := range vf.byTime {
		vf.timeRank[i] = int32(r)
	}
	vf.behind = map[string]int{}
	for i, f := range vf.files {
		if j, ok := vf.pos[f.SupersededBy]; ok && scanWithheld(vf.files[j].Scan) {
			vf.behind[f.SupersededBy] = i
		}
	}
	// The team counts a cleared version that stands behind withheld ones
	// as answering its item, unless the file was withdrawn meanwhile.
	// Provider staff do not: they see the new version, which answers
	// their count while it is checked, and nothing once it is found
	// infected, so that the item reads as not received and the file is
	// sent again.
	for _, i := range vf.behind {
		f := &vf.files[i]
		if scanWithheld(f.Scan) {
			continue
		}
		if next, end, _ := vf.laterShown(f, seesNone); next == nil && end != nil && end.WithdrawnAt.IsZero() {
			vf.cleared[f.Item]++
		}
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	if held := k.keys[visitID]; held == nil || held.Fingerprint() != key.Fingerprint() {
		return vf, nil
	}
	if old := k.index.visits[visitID]; old != nil {
		k.index.total -= len(old.files)
	}
	k.index.tick++
	vf.used = k.index.tick
	k.index.visits[visitID] = vf
	k.index.total += len(vf.files)
	for k.index.total > maxIndexedFiles && len(k.index.visits) > 1 {
		var oldest string
		for id, v := range k.index.visits {
			if id != visitID && (oldest == "" || v.used < k.index.visits[oldest].used) {
				oldest = id
			}
		}
		k.index.total -= len(k.index.visits[oldest].files)
		delete(k.index.visits, oldest)
	}
	return vf, nil
}

// order yields the indexes of the files in the order sort names (a
// FileQuery's Sort), without copying or sorting anything.
func (vf *visitFiles) order(sort string) iter.Seq[int] {
	idx, reverse := vf.byName, false
	switch sort {
	case SortNameDesc:
		reverse = true
	case SortNewest:
		idx, reverse = vf.byTime, true
	case SortOldest:
		idx = vf.byTime
	}
	return func(yield func(int) bool) {
		for k := range idx {
			if reverse {
				k = len(idx) - 1 - k
			}
			if !yield(idx[k]) {
				return
			}
		}
	}
}

// dropIndex forgets a visit's decrypted names (with its key).
func (k *Keyring) dropIndex(visitID string) {
	if vf := k.index.visits[visitID]; vf != nil {
		k.index.total -= len(vf.files)
		delete(k.index.visits, visitID)
	}
}

func sortNatural(fs []indexedFile) {
	slices.SortFunc(fs, func(a, b indexedFile) int {
		if c := compareNatural(a.name, b.name); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
}

// compareNatural orders names as people do: case aside, and runs of digits
// by their value ("case-2" before "case-19", "1.9" before "1.10"). Digits
// are ASCII's: another script's digit is a character like any other, so
// that runs of one script are never measured against another's and the
// order stays one order.
func compareNatural(a, b string) int {
	// It reads both names rune by rune where they lie: sorting 20,000
	// names, or a page's uploaders on every request, allocates nothing.
	i, j := 0, 0
	for i < len(a) && j < len(b) {
		ra, wa := utf8.DecodeRuneInString(a[i:])
		rb, wb := utf8.DecodeRuneInString(b[j:])
		if isDigit(ra) && isDigit(rb) {
			si, sj := i, j
			i, j = digitsEnd(a, i), digitsEnd(b, j)
			da := strings.TrimLeft(a[si:i], "0")
			db := strings.TrimLeft(b[sj:j], "0")
			if len(da) != len(db) {
				return len(da) - len(db)
			}
			if c := strings.Compare(da, db); c != 0 {
				return c
			}
			continue
		}
		ca, cb := unicode.ToLower(ra), unicode.ToLower(rb)
		if ca != cb {
			if ca < cb {
				return -1
			}
			return 1
		}
		i, j = i+wa, j+wb
	}
	return utf8.RuneCountInString(a[i:]) - utf8.RuneCountInString(b[j:])
}

// digitsEnd is where the run of digits that starts at s[i] ends.
func digitsEnd(s string, i int) int {
	for i < len(s) && isDigit(rune(s[i])) {
		i++
	}
	return i
}

// isDigit is an ASCII digit: the digits compareNatural reads as numbers.
func isDigit(r rune) bool { return '0' <= r && r <= '9' }

// laterShown follows f's later versions to the first that displaces it for
// someone who sees the files seen says they see: one they see, or one the
// scanner has cleared (which stands for everyone who may see it; the
// provider's uploader who cannot see a coordinator's new version still
// sees theirs superseded). It returns that version and when it displaced
// f (the time the version before it was superseded), or nil and the last
// version (the current one) when every later version is withheld from
// them: f then stands for them, withdrawn if end was. f current returns
// nil, f; a chain that does not end (never written so) nil, nil, as does
// a later version not in the index: f is then superseded, as recorded.
func (vf *visitFiles) laterShown(f *indexedFile, seen func(*indexedFile) bool) (next, end *indexedFile, at time.Time) {
	for hops := 0; f.SupersededBy != "" && hops <= len(vf.files); hops++ {
		j, ok := vf.pos[f.SupersededBy]
		if !ok {
			return nil, nil, time.Time{}
		}
		at, f = f.SupersededAt, &vf.files[j]
		if !scanWithheld(f.Scan) || seen(f) {
			return f, nil, at
		}
	}
	if f.SupersededBy != "" {
		return nil, nil, time.Time{}
	}
	return nil, f, time.Time{}
}

// seesNone is the inspection team's sight of withheld versions: none.
func seesNone(*indexedFile) bool { return false }

// scanWithheld says whether a file of scan status scan is withheld from
// all but provider staff, as policy withheld-until-scanned withholds it:
// any status but clean, unscanned (stored with scanning off) and none.
func scanWithheld(scan string) bool {
	return scan != store.ScanClean && scan != store.ScanUnscanned && scan != ""
}
