package portal_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ofsted-portal/evidence/policy"
	"github.com/ofsted-portal/evidence/portal"
	"github.com/ofsted-portal/evidence/portal/calendar"
	"github.com/ofsted-portal/evidence/portal/store"
)

// seededVisit is the demo visit with n seeded files, and the lead
// inspector's access to list them.
func seededVisit(t *testing.T, n int) (*domain, store.Visit, portal.Actor, *portal.Access) {
	t.Helper()
	d := startDomain(t)
	v := d.demo()
	lead := d.person("ofsted", "lead@ofsted.example")
	if err := d.svc.SeedFiles(context.Background(), v.ID, lead.UserID, n); err != nil {
		t.Fatal(err)
	}
	return d, v, lead, d.mustAccess(lead, policy.FileList)
}

// TestFilePages: a visit's files page in natural order of their names, by
// a cursor, with a total; a search finds names containing the text, case
// aside; a new file shows at once (the index follows files_version).
func TestFilePages(t *testing.T) {
	const n = 250
	d, v, lead, acc := seededVisit(t, n)
	ctx := context.Background()
	var names []string
	after := ""
	for page := 0; ; page++ {
		p, err := acc.FilePage(ctx, portal.FileQuery{After: after})
		if err != nil {
			t.Fatal(err)
		}
		if p.Total != n || len(p.Files) > portal.FilePageSize {
			t.Fatalf("page %d: total %d, %d files", page, p.Total, len(p.Files))
		}
		for _, f := range p.Files {
			names = append(names, f.Name)
		}
		if p.Next == "" {
			break
		}
		after = p.Next
	}
	if len(names) != n {
		t.Fatalf("%d files over the pages, want %d", len(names), n)
	}
	// Items cycle 1.01..1.05, so the first names are 1.01's in the order
	// of their numbers: 0, 5, 10, 15 (not 0, 10, 100, 105).
	if want := []string{"1.01 Seeded 0.pdf", "1.01 Seeded 5.pdf", "1.01 Seeded 10.pdf", "1.01 Seeded 15.pdf"}; strings.Join(names[:4], "|") != strings.Join(want, "|") {
		t.Fatalf("natural order: %q", names[:4])
	}
	p, err := acc.FilePage(ctx, portal.FileQuery{Search: "SEEDED 12"})
	if err != nil {
		t.Fatal(err)
	}
	want := 0
	for i := range n {
		if strings.Contains(fmt.Sprintf("seeded %d.pdf", i), "seeded 12") {
			want++
		}
	}
	if p.Total != want || len(p.Files) != want {
		t.Fatalf("search: %d of %d, want %d", len(p.Files), p.Total, want)
	}
	for _, f := range p.Files {
		if !strings.Contains(strings.ToLower(f.Name), "seeded 12") {
			t.Fatalf("search found %q", f.Name)
		}
	}
	if _, err := acc.FilePage(ctx, portal.FileQuery{After: "not-an-id"}); err == nil {
		t.Fatal("a made-up cursor was accepted")
	}
	// A new file is in the next listing.
	if err := d.svc.SeedFiles(ctx, v.ID, lead.UserID, 1); err != nil {
		t.Fatal(err)
	}
	if p, err := d.mustAccess(lead, policy.FileList).FilePage(ctx, portal.FileQuery{}); err != nil || p.Total != n+1 {
		t.Fatalf("after one more file: %d, %v", p.Total, err)
	}
}

// TestFilePageFilters: filters by item, uploader and day combine with the
// search; every order pages forward and back with the position of the
// page ("51 to 100 of 300"); a cursor from another order still finds its
// place; the filter choices name only what the actor sees.
func TestFilePageFilters(t *testing.T) {
	const n = 300
	_, _, lead, acc := seededVisit(t, n)
	ctx := context.Background()
	page := func(q portal.FileQuery) portal.FilePage {
		t.Helper()
		p, err := acc.FilePage(ctx, q)
		if err != nil {
			t.Fatalf("%+v: %v", q, err)
		}
		return p
	}
	for _, sort := range portal.FileSorts {
		q := portal.FileQuery{Sort: sort, Limit: 50}
		var seen []string
		var cursors []string
		for {
			p := page(q)
			if p.Total != n || p.Start != len(seen)+1 {
				t.Fatalf("%s: total %d, start %d after %d files", sort, p.Total, p.Start, len(seen))
			}
			if (len(seen) > 0) != p.HasPrev {
				t.Fatalf("%s: has_prev %v after %d files", sort, p.HasPrev, len(seen))
			}
			if p.HasPrev && p.Prev != cursors[len(cursors)-1] {
				t.Fatalf("%s: the previous page's cursor is %q, want %q", sort, p.Prev, cursors[len(cursors)-1])
			}
			cursors = append(cursors, q.After)
			for _, f := range p.Files {
				seen = append(seen, f.Name)
			}
			if p.Next == "" {
				break
			}
			q.After = p.Next
		}
		if len(seen) != n {
			t.Fatalf("%s: %d files over the pages", sort, len(seen))
		}
		switch sort {
		case portal.SortNameDesc:
			if seen[0] != "1.05 Seeded 299.pdf" {
				t.Fatalf("name-desc starts with %q", seen[0])
			}
		case portal.SortNewest:
			if seen[0] != "1.05 Seeded 299.pdf" || seen[n-1] != "1.01 Seeded 0.pdf" {
				t.Fatalf("newest: %q ... %q", seen[0], seen[n-1])
			}
		case portal.SortOldest:
			if seen[0] != "1.01 Seeded 0.pdf" || seen[1] != "1.02 Seeded 1.pdf" {
				t.Fatalf("oldest: %q", seen[:2])
			}
		}
	}
	if p := page(portal.FileQuery{Item: "1.03", Limit: 50}); p.Total != n/5 || len(p.Files) != 50 || p.Files[0].Item != "1.03" {
		t.Fatalf("item 1.03: %d of %d", len(p.Files), p.Total)
	}
	want := 0
	for i := 2; i < n; i += 5 { // item 1.03's files
		if strings.HasPrefix(fmt.Sprint(i), "2") {
			want++
		}
	}
	if p := page(portal.FileQuery{Item: "1.03", Search: "seeded 2", Sort: portal.SortNewest}); p.Total != want || p.Files[0].Name != "1.03 Seeded 297.pdf" {
		t.Fatalf("item and search: %d, want %d; first %q", p.Total, want, p.Files[0].Name)
	}
	if p := page(portal.FileQuery{Item: portal.FileItemUnfiled}); p.Total != 0 {
		t.Fatalf("unfiled: %d", p.Total)
	}
	if p := page(portal.FileQuery{Uploader: lead.UserID}); p.Total != n || len(p.Uploaders) != 1 || p.Uploaders[0].ID != lead.UserID ||
		p.Uploaders[0].Name != "lead@ofsted.example" || strings.Join(p.Items, ",") != "1.01,1.02,1.03,1.04,1.05" {
		t.Fatalf("uploader: %d, %+v, %q", p.Total, p.Uploaders, p.Items)
	}
	if p := page(portal.FileQuery{Uploader: "someone-else"}); p.Total != 0 {
		t.Fatalf("another uploader: %d", p.Total)
	}
	today := calendar.Today(time.Now())
	if p := page(portal.FileQuery{From: today.AddDate(0, 0, -1), To: today}); p.Total != n {
		t.Fatalf("uploaded from yesterday to today: %d", p.Total)
	}
	if p := page(portal.FileQuery{From: today.AddDate(0, 0, 1)}); p.Total != 0 {
		t.Fatalf("uploaded from tomorrow: %d", p.Total)
	}
	if _, err := acc.FilePage(ctx, portal.FileQuery{From: today, To: today.AddDate(0, 0, -1)}); err == nil {
		t.Fatal("a range ending before it starts was accepted")
	}
	if _, err := acc.FilePage(ctx, portal.FileQuery{Sort: "size"}); err == nil {
		t.Fatal("an unknown order was accepted")
	}
	// A cursor is a file: it finds its place in any order and filter.
	first := page(portal.FileQuery{Limit: 1})
	if p := page(portal.FileQuery{After: first.Files[0].ID, Sort: portal.SortNewest}); p.Total != n || len(p.Files) != 0 || !p.HasPrev {
		t.Fatalf("after the oldest, newest first: start %d, %d files", p.Start, len(p.Files))
	}
}

// TestSearchFindsWhatAScanFinds: a search through the index of names
// finds, in every order and over every page, exactly the files a scan of
// every name finds.
func TestSearchFindsWhatAScanFinds(t *testing.T) {
	const n = 300
	_, _, _, acc := seededVisit(t, n)
	ctx := context.Background()
	all, err := acc.Files(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{"seeded 1", "SEEDED 12", "ed 2", "1.03 seeded 2", "d 29", ".pdf", "seeded 300", "no such name", "1.0", "ee"} {
		var want []string
		for _, f := range all {
			if strings.Contains(strings.ToLower(f.Name), strings.ToLower(q)) {
				want = append(want, f.ID)
			}
		}
		for _, sort := range portal.FileSorts {
			var got []string
			after := ""
			for {
				p, err := acc.FilePage(ctx, portal.FileQuery{Search: q, Sort: sort, Limit: 7, After: after})
				if err != nil {
					t.Fatal(err)
				}
				if p.Total != len(want) || len(p.Files) > 0 && p.Start != len(got)+1 {
					t.Fatalf("%q, %s: total %d, start %d after %d; want total %d", q, sort, p.Total, p.Start, len(got), len(want))
				}
				for _, f := range p.Files {
					got = append(got, f.ID)
				}
				if p.Next == "" {
					break
				}
				after = p.Next
			}
			if sort == portal.SortName && strings.Join(got, ",") != strings.Join(want, ",") {
				t.Fatalf("%q: found %d files, a scan %d, or in another order", q, len(got), len(want))
			}
			slices.Sort(got)
			w := slices.Clone(want)
			slices.Sort(w)
			if !slices.Equal(got, w) {
				t.Fatalf("%q, %s: found %d files, a scan %d", q, sort, len(got), len(want))
			}
		}
	}
}

// TestFilePageUploaders: the uploaders to filter by are those whose files
// the page could show, by name in natural order ("analyst-2" before
// "analyst-10"), each once.
func TestFilePageUploaders(t *testing.T) {
	d, v, lead, acc := seededVisit(t, 5)
	ctx := context.Background()
	for _, email := range []string{"analyst-10@ofsted.example", "Analyst-9@ofsted.example", "analyst-2@ofsted.example"} {
		if err := d.svc.SeedFiles(ctx, v.ID, d.person("ofsted", email).UserID, 3); err != nil {
			t.Fatal(err)
		}
	}
	var names []string
	for range 2 { // the index as built, then as read again
		p, err := acc.FilePage(ctx, portal.FileQuery{})
		if err != nil {
			t.Fatal(err)
		}
		names = names[:0]
		for _, u := range p.Uploaders {
			names = append(names, u.Name)
		}
		if want := "analyst-2@ofsted.example,analyst-9@ofsted.example,analyst-10@ofsted.example,lead@ofsted.example"; strings.Join(names, ",") != want {
			t.Fatalf("uploaders %q, want %s", names, want)
		}
	}
	if p, err := acc.FilePage(ctx, portal.FileQuery{Uploader: lead.UserID}); err != nil || len(p.Uploaders) != 4 || p.Total != 5 {
		t.Fatalf("filtered by the lead: %d uploaders, %d files, %v", len(p.Uploaders), p.Total, err)
	}
}

// TestOneReadOfAChangedVisit: requests that find a visit's file index
// behind the database at the same moment share one read of its files;
// they each read every file again, and a visit of 20,000 files changes
// with every upload while the team is browsing it.
func TestOneReadOfAChangedVisit(t *testing.T) {
	const n, readers = 3000, 8
	d, v, lead, acc := seededVisit(t, n)
	ctx := context.Background()
	if _, err := acc.FilePage(ctx, portal.FileQuery{}); err != nil {
		t.Fatal(err)
	}
	if err := d.svc.SeedFiles(ctx, v.ID, lead.UserID, 1); err != nil { // the index is now behind
		t.Fatal(err)
	}
	counters := make([]*store.Counter, readers)
	totals := make([]int, readers)
	errs := make([]error, readers)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range readers {
		var rctx context.Context
		rctx, counters[i] = store.WithCounter(ctx)
		wg.Go(func() {
			<-start
			p, err := acc.FilePage(rctx, portal.FileQuery{})
			totals[i], errs[i] = p.Total, err
		})
	}
	close(start)
	wg.Wait()
	reads := 0
	for i, c := range counters {
		if errs[i] != nil || totals[i] != n+1 {
			t.Fatalf("reader %d: %d files, %v", i, totals[i], errs[i])
		}
		for _, q := range c.Statements() {
			if strings.Contains(q, "FROM files WHERE visit_id = ? ORDER BY uploaded_at, id") {
				reads++
			}
		}
	}
	if reads != 1 {
		t.Fatalf("%d requests at once read the visit's files %d times, want once", readers, reads)
	}
}

// TestFilePageControls: a page asks policy whether each file may be
// re-filed, deleted or replaced only when it shows those controls
// (FileQuery.Controls); a list without them says no to both, whatever
// the actor may do.
func TestFilePageControls(t *testing.T) {
	d, _, lead, _ := seededVisit(t, 20)
	ctx := context.Background()
	uploader := d.person("cafcass", "uploader@cafcass.example")
	if _, err := d.mustAccess(uploader, policy.FileUpload).Upload(ctx, portal.NewFile{Name: "1.01 own.pdf", Size: 12}, strings.NewReader("%PDF-1.7 own")); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		who             portal.Actor
		refile, correct bool // some file is so with Controls
	}{
		{who: lead, refile: true},
		{who: uploader, correct: true},
	} {
		acc := d.mustAccess(tc.who, policy.FileList)
		for _, controls := range []bool{false, true} {
			p, err := acc.FilePage(ctx, portal.FileQuery{Controls: controls})
			if err != nil {
				t.Fatal(err)
			}
			refile, correct := false, false
			for _, f := range p.Files {
				refile, correct = refile || f.Refilable, correct || f.Correctable
			}
			if want := controls && tc.refile; refile != want {
				t.Errorf("%s, Controls %v: some file re-filable %v, want %v", tc.who.Email, controls, refile, want)
			}
			if want := controls && tc.correct; correct != want {
				t.Errorf("%s, Controls %v: some file correctable %v, want %v", tc.who.Email, controls, correct, want)
			}
		}
	}
}

// TestFileCursorOfAHiddenFile: a page after a file the actor may not see
// (a restricted item's, another uploader's) is refused exactly as a page
// after a file that does not exist: the cursor cannot tell which ids name
// files, nor place a page by a hidden file's name.
func TestFileCursorOfAHiddenFile(t *testing.T) {
	d := startDomain(t)
	ctx := context.Background()
	uploader := d.person("cafcass", "uploader@cafcass.example")
	coordinator := d.person("cafcass", "coordinator@cafcass.example")
	hmi := d.person("ofsted", "hmi@ofsted.example")
	upload := func(a portal.Actor, name, item string) portal.FileView {
		t.Helper()
		f, err := d.mustAccess(a, policy.FileUpload).Upload(ctx, portal.NewFile{Name: name, Item: item, Size: 1}, strings.NewReader("x"))
		if err != nil {
			t.Fatal(err)
		}
		return f
	}
	for _, n := range []string{"1.01 a.pdf", "1.01 m.pdf", "1.01 z.pdf"} {
		upload(uploader, n, "")
	}
	restricted := upload(uploader, "children.xlsx", portal.ItemChildLevelData)
	others := upload(coordinator, "1.01 n.pdf", "")
	answer := func(a portal.Actor, after string) string {
		t.Helper()
		p, err := d.mustAccess(a, policy.FileList).FilePage(ctx, portal.FileQuery{After: after})
		if err == nil {
			var names []string
			for _, f := range p.Files {
				names = append(names, f.Name)
			}
			return fmt.Sprintf("a page: %q", names)
		}
		e, ok := portal.AsError(err)
		if !ok {
			t.Fatal(err)
		}
		return fmt.Sprintf("%d %s %s %s", e.Kind, e.Code, e.Field, e.Msg)
	}
	for _, c := range []struct {
		name   string
		actor  portal.Actor
		hidden string
	}{
		{"restricted item", hmi, restricted.ID},
		{"another uploader's file", uploader, others.ID},
	} {
		t.Run(c.name, func(t *testing.T) {
			unknown := answer(c.actor, store.NewID())
			if strings.HasPrefix(unknown, "a page") {
				t.Fatalf("a page after an unknown file: %s", unknown)
			}
			if got := answer(c.actor, c.hidden); got != unknown {
				t.Fatalf("after a hidden file: %s; after an unknown one: %s", got, unknown)
			}
		})
	}
}

// TestSearchFindsANameHoweverItsAccentsAreWritten: names are stored in
// NFC; a search typed or pasted as NFD (a name copied on a Mac) finds
// them, short or long, in any case. Before, it found nothing.
func TestSearchFindsANameHoweverItsAccentsAreWritten(t *testing.T) {
	d := startDomain(t)
	ctx := context.Background()
	up := d.mustAccess(d.person("cafcass", "uploader@cafcass.example"), policy.FileUpload)
	f, err := up.Upload(ctx, portal.NewFile{Name: "1.01 Cafe\u0301 E\u0301valuation.pdf", Size: 2}, strings.NewReader("ev"))
	if err != nil {
		t.Fatal(err)
	}
	acc := d.mustAccess(d.person("ofsted", "lead@ofsted.example"), policy.FileList)
	for _, q := range []string{"Café", "cafe\u0301", "CAFE\u0301 E\u0301VAL", "e\u0301", "É", "E\u0301valuation", "Café\u00a0Év"} {
		p, err := acc.FilePage(ctx, portal.FileQuery{Search: q})
		if err != nil {
			t.Fatal(err)
		}
		if p.Total != 1 || len(p.Files) != 1 || p.Files[0].ID != f.ID {
			t.Errorf("search %+q: %d of %d files, want %q", q, len(p.Files), p.Total, f.Name)
		}
	}
}

// TestLongSearchPastedAsNFD: a search as long as a name may be, pasted
// as NFD (more bytes than the name it is), is taken and finds the name.
// Before, its bytes were counted before it was put in NFC, and it was
// refused as longer than any name.
func TestLongSearchPastedAsNFD(t *testing.T) {
	d := startDomain(t)
	ctx := context.Background()
	up := d.mustAccess(d.person("cafcass", "uploader@cafcass.example"), policy.FileUpload)
	name := "1.01 " + strings.Repeat("é", 120) + ".pdf"
	f, err := up.Upload(ctx, portal.NewFile{Name: name, Size: 2}, strings.NewReader("ev"))
	if err != nil {
		t.Fatal(err)
	}
	q := strings.Repeat("e\u0301", 120) // 360 bytes; 240 in NFC
	p, err := d.mustAccess(d.person("ofsted", "lead@ofsted.example"), policy.FileList).FilePage(ctx, portal.FileQuery{Search: q})
	if err != nil || p.Total != 1 || p.Files[0].ID != f.ID {
		t.Errorf("a search of 120 accented letters pasted as NFD: %+v, %v; want the file", p, err)
	}
}
