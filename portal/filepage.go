package portal

import (
	"context"
	"slices"
	"strings"
	"time"

	"github.com/ofsted-portal/evidence/policy"
	"github.com/ofsted-portal/evidence/portal/store"
)

// FileQuery asks for a page of a visit's files: those whose name contains
// Search (case aside), filed under Item (FileItemUnfiled for none),
// uploaded by the user Uploader, on or after the day From and on or before
// the day To (London days), in the order Sort, after the file After (the
// last of the previous page; "" for the first), at most Limit
// (FilePageSize when 0; -1 for all). Empty fields do not filter.
type FileQuery struct {
	After    string
	Search   string
	Item     string
	Uploader string
	From, To time.Time
	Sort     string
	Limit    int
	// Versions lists superseded versions too (otherwise only the files
	// that stand, and the withdrawn).
	Versions bool
	// Controls decides, for each file listed, whether the actor may
	// re-file it and delete or replace it (FileView.Refilable and
	// Correctable, which only pages show); without it both are false
	// and policy is not asked.
	Controls bool
}

// FileItemUnfiled is the Item of a FileQuery for the files not filed under
// an item.
const FileItemUnfiled = "unfiled"

// The orders of a list of files (FileQuery.Sort); "" is SortName.
const (
	SortName     = "name"      // natural order of names, A to Z
	SortNameDesc = "name-desc" // Z to A
	SortNewest   = "newest"    // most recently uploaded first
	SortOldest   = "oldest"
)

// FileSorts lists the orders, in the order a page offers them.
var FileSorts = []string{SortName, SortNameDesc, SortNewest, SortOldest}

// FilePageSize is the default number of files a page lists; MaxFilePage
// the most one may ask for.
const (
	FilePageSize = 100
	MaxFilePage  = 1000
)

// FilePage is a page of files in the order asked for; Next is the After of
// the next page ("" on the last), Prev the After of the previous page (""
// for the first: HasPrev says whether there is one); Total counts every
// file that matches, on all pages, and Start is the position (from 1) of
// the page's first file among them (0 for an empty page). Items and
// Uploaders are what the actor's visible files hold, to filter by.
type FilePage struct {
	Files     []FileView `json:"files"`
	Next      string     `json:"next,omitempty"`
	Prev      string     `json:"prev,omitempty"`
	HasPrev   bool       `json:"has_prev,omitempty"`
	Total     int        `json:"total"`
	Start     int        `json:"start"`
	Items     []string   `json:"items"`
	Uploaders []Uploader `json:"uploaders"`
}

// Uploader is a person who uploaded files, to filter by.
type Uploader struct {
	ID   string `json:"id"`
	Name string `json:"name"`
}

// Files lists every file of the visit that policy lets the actor see, in
// natural order of their names.
func (acc *Access) Files(ctx context.Context) ([]FileView, error) {
	p, err := acc.FilePage(ctx, FileQuery{Limit: -1})
	return p.Files, err
}

// FilePage lists a page of the files of the visit that policy lets the
// actor see. Its cost in statements does not grow with the visit's files:
// the names come from the in-memory index (fileindex.go), checked with one
// small read, and filters and orders work on that index.
func (acc *Access) FilePage(ctx context.Context, q FileQuery) (FilePage, error) {
	if err := acc.require(ctx, policy.FileList, nil); err != nil {
		return FilePage{}, err
	}
	if q.Limit == 0 {
		q.Limit = FilePageSize
	}
	if q.Limit > MaxFilePage || q.After != "" && !IsID(q.After) {
		return FilePage{}, invalid("after", "This page of files does not exist: go back to the first page.")
	}
	if SearchTooLong(q.Search) {
		return FilePage{}, invalidf("q", "Search for %s: no file's name is longer.", NameLength)
	}
	if q.Sort != "" && !slices.Contains(FileSorts, q.Sort) {
		return FilePage{}, invalid("sort", "Choose an order: name, name-desc, newest or oldest.")
	}
	if !q.From.IsZero() && !q.To.IsZero() && q.To.Before(q.From) {
		return FilePage{}, invalid("to", "The last day must be the same as or after the first day.")
	}
	s, v := acc.svc, acc.Visit
	key, err := acc.key(ctx)
	if err != nil {
		return FilePage{}, err
	}
	vf, err := s.keys.indexedFiles(ctx, v.ID, key)
	if err != nil {
		return FilePage{}, err
	}
	visible := acc.fileFilter(ctx, policy.FileList)
	refilable, correctable := noFiles, noFiles
	if q.Controls {
		refilable, correctable = acc.fileFilter(ctx, policy.FileRefile), acc.fileFilter(ctx, policy.FileDelete)
	}
	out := FilePage{Files: []FileView{}, Items: []string{}, Uploaders: []Uploader{}}
	items, uploaders := map[string]bool{}, map[string]bool{}
	// Policy, and the item and uploader filters, are decided once per
	// class of files (item, uploader, scan), not once per file; so are
	// the items and uploaders to filter by, and, when no filter looks
	// at a file's own name or day, the total. The walk below is then
	// cheap, and stops at the page's end unless the total needs it all.
	shown := make([]bool, len(vf.classes)) // visible and matching the class filters
	seen := make([]bool, len(vf.classes))  // visible
	for c, cl := range vf.classes {
		n := cl.standing
		if q.Versions {
			n = cl.all
		}
		ok, err := visible(cl.rep)
		if err != nil {
			return FilePage{}, err
		}
		seen[c] = ok
		if !ok {
			continue
		}
		shown[c] = q.matchesClass(cl.rep)
		if n == 0 {
			continue // unless a version of it stands for the actor (below)
		}
		items[cl.rep.Item], uploaders[cl.rep.UploadedBy] = true, true
		if shown[c] {
			out.Total += n
		}
	}
	// A version superseded only by later ones withheld from the actor
	// (being scanned, or infected: policy withheld-until-scanned shows
	// them to provider staff alone) stands for them, and names none of
	// them. There are few: the versions behind a new one not yet cleared.
	var behind map[string]actorVersion
	sees := func(f *indexedFile) bool { return seen[f.class] }
	for _, i := range vf.behind {
		f := &vf.files[i]
		if !seen[f.class] {
			continue
		}
		next, end, at := vf.laterShown(f, sees)
		if next == nil && end == nil {
			continue // superseded as recorded
		}
		if behind == nil {
			behind = map[string]actorVersion{}
		}
		behind[f.ID] = actorVersion{next, end, at}
		if next == nil && !q.Versions {
			items[f.Item], uploaders[f.UploadedBy] = true, true
			if shown[f.class] {
				out.Total++
			}
		}
	}
	search := searchForm(strings.TrimSpace(q.Search))
	perFile := search != "" || !q.From.IsZero() || !q.To.IsZero()
	if perFile {
		out.Total = 0
	}
	after := -1
	if q.After != "" {
		// A file the actor may not see is no cursor: it is answered as
		// one that does not exist, so that neither the answer nor the
		// page's place says that it does, or where its name sorts.
		i, ok := vf.pos[q.After]
		if !ok || !seen[vf.files[i].class] {
			return FilePage{}, invalid("after", "The list of files changed: go back to the first page.")
		}
		after = i
	}
	// before counts the matching files before the page; ring keeps the
	// last q.Limit+1 of them, to name the previous page's cursor.
	before := 0
	var ring []int
	if q.Limit > 0 {
		ring = make([]int, q.Limit+1)
	}
	var page []indexedFile
	found := after < 0
	files := vf.order(q.Sort)
	if len(search) >= 3 {
		// Only the files whose names may hold the text, and the
		// cursor's file, to find the page's place.
		c := vf.candidates(search)
		if after >= 0 {
			if k, ok := slices.BinarySearch(c, after); !ok {
				c = slices.Insert(c, k, after)
			}
		}
		files = vf.orderOf(c, q.Sort)
	}
	for i := range files {
		f := &vf.files[i]
		superseded := f.SupersededBy != ""
		if superseded && behind != nil {
			if b, ok := behind[f.ID]; ok {
				superseded = b.next != nil
			}
		}
		match := (q.Versions || !superseded) && shown[f.class] &&
			(!perFile || f.matches(search, q.From, q.To))
		if match {
			if perFile {
				out.Total++
			}
			switch {
			case !found:
				if ring != nil {
					ring[before%len(ring)] = i
				}
				before++
			case q.Limit < 0 || len(page) < q.Limit:
				page = append(page, *f)
			case out.Next == "":
				out.Next = page[len(page)-1].ID
			}
		}
		if i == after {
			found = true
		}
		if found && out.Next != "" && !perFile {
			break
		}
	}
	if len(page) > 0 {
		out.Start = before + 1
	}
	if before > 0 && q.Limit > 0 {
		out.HasPrev = true
		if before > q.Limit {
			out.Prev = vf.files[ring[(before-q.Limit-1)%len(ring)]].ID
		}
	}
	for _, f := range page {
		u := vf.uploaders[f.UploadedBy]
		fv := FileView{ID: f.ID, Name: f.name, Size: f.Size, SHA256: f.SHA256, Item: f.Item, UploadedBy: PersonName(u.Email, u.Name, u.Subject, u.Issuer), UploadedAt: f.UploadedAt,
			Scan: f.Scan, ScanSignature: f.ScanSignature}
		if fv.Refilable, err = refilable(f.File); err != nil {
			return FilePage{}, err
		}
		if fv.Correctable, err = correctable(f.File); err != nil {
			return FilePage{}, err
		}
		fv.Refilable = fv.Refilable && f.Live()
		fv.Correctable = fv.Correctable && f.Live()
		markCorrections(&fv, f.File, vf.uploaders)
		if b, ok := behind[f.ID]; ok {
			b.mark(&fv, vf.uploaders)
		}
		out.Files = append(out.Files, fv)
	}
	for it := range items {
		if it != "" {
			out.Items = append(out.Items, it)
		}
	}
	slices.SortFunc(out.Items, compareNatural)
	if items[""] {
		out.Items = append(out.Items, FileItemUnfiled)
	}
	for _, u := range vf.uploaderOrder {
		if uploaders[u.ID] {
			out.Uploaders = append(out.Uploaders, u)
		}
	}
	return out, nil
}

// actorVersion is how a version superseded by one withheld from the actor
// stands for them (visitFiles.laterShown): superseded by next, the first
// later version they see or the scanner cleared, at at; or, next nil,
// standing, withdrawn if the current version, end, was.
type actorVersion struct {
	next, end *indexedFile
	at        time.Time
}

// mark corrects what markCorrections said of the version from the record
// to what the actor sees.
func (b actorVersion) mark(fv *FileView, people map[string]store.User) {
	if b.next != nil {
		at := b.at
		fv.SupersededBy, fv.SupersededAt = b.next.ID, &at
		return
	}
	fv.SupersededBy, fv.SupersededAt = "", nil
	if !b.end.WithdrawnAt.IsZero() {
		at := b.end.WithdrawnAt
		u := people[b.end.WithdrawnBy]
		fv.WithdrawnAt, fv.WithdrawnBy = &at, PersonName(u.Email, u.Name, u.Subject, u.Issuer)
	}
}

// noFiles is the filter that lets no file through.
func noFiles(store.File) (bool, error) { return false, nil }

// matchesClass says whether files of f's item and uploader pass the
// query's filters of item and uploader.
func (q *FileQuery) matchesClass(f store.File) bool {
	switch q.Item {
	case "":
	case FileItemUnfiled:
		if f.Item != "" {
			return false
		}
	default:
		if !strings.EqualFold(f.Item, q.Item) {
			return false
		}
	}
	return q.Uploader == "" || f.UploadedBy == q.Uploader
}

// matches says whether f's name contains search (lower case) and its day
// of upload is within from and to (zero for no bound).
func (f *indexedFile) matches(search string, from, to time.Time) bool {
	if search != "" && !strings.Contains(f.lower, search) {
		return false
	}
	return (from.IsZero() || !f.day.Before(from)) && (to.IsZero() || !f.day.After(to))
}
