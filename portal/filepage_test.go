package portal_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/ofsted-portal/evidence/policy"
	"github.com/ofsted-portal/evidence/portal"
)

// TestFilePages: a visit's files page in natural order of their names, by
// a cursor, with a total; a search finds names containing the text, case
// aside; a new file shows at once (the index follows files_version).
func TestFilePages(t *testing.T) {
	d := startDomain(t)
	ctx := context.Background()
	v := d.demo()
	lead := d.person("ofsted", "lead@ofsted.example")
	const n = 250
	if err := d.svc.SeedFiles(ctx, v.ID, lead.UserID, n); err != nil {
		t.Fatal(err)
	}
	acc := d.mustAccess(lead, policy.FileList)
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
