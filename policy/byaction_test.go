package policy

import (
	"iter"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/cedar-policy/cedar-go"
)

// TestPoliciesByActionDecideAsTheWholeSet: evaluating only the policies
// whose action scope can match an action decides exactly as the whole set
// does (allow, the policies named, the rule, and what callers answer), over
// a seeded sample of principals, resources and every action, and an action
// the portal does not define (which falls back to the whole set).
func TestPoliciesByActionDecideAsTheWholeSet(t *testing.T) {
	e := engine(t)
	whole := &Engine{policies: e.policies}
	count := func(ps interface {
		All() iter.Seq2[cedar.PolicyID, *cedar.Policy]
	}) int {
		n := 0
		for range ps.All() {
			n++
		}
		return n
	}
	for _, a := range Actions {
		if n, all := count(e.byAction[a]), count(e.policies); n >= all {
			t.Errorf("%s evaluates %d of %d policies: none left out", a, n, all)
		}
	}
	rng := rand.New(rand.NewPCG(2026, 12))
	pick := func(ss ...string) string { return ss[rng.IntN(len(ss))] }
	flip := func() bool { return rng.IntN(2) == 1 }
	actions := append(slices.Clone(Actions), Action("file.unknown"))
	roles := append(slices.Clone(Roles), "")
	for range 20000 {
		p := Principal{UserID: pick("u1", "u2"), Administrator: flip(), Role: pick(roles...), InWindow: flip()}
		r := Resource{VisitID: "v1", VisitState: pick("collecting", "fieldwork", "published", "complaint", "destroying", "destroyed"),
			AcceptsUploads: flip(), LegalHold: flip()}
		switch rng.IntN(4) {
		case 1:
			restricted := flip()
			r.File = &File{ID: "f1", UploadedBy: pick("u1", "u2"), Item: pick("", "1.01", "cld"), Restricted: restricted,
				Scan: pick("", "clean", "scanning", "infected", "unscanned")}
			if restricted {
				r.File.Roles = ChildLevelDataRoles
			}
		case 2:
			r.Item = &Item{Code: pick("", "1.01", "cld"), Restricted: flip(), Roles: ChildLevelDataRoles}
		case 3:
			r.Receipt = &Receipt{ID: "r1", IssuedTo: pick("u1", "u2")}
		}
		a := actions[rng.IntN(len(actions))]
		got, want := e.Decide(p, a, r), whole.Decide(p, a, r)
		if got.Allow != want.Allow || !slices.Equal(got.Policies, want.Policies) || got.Rule != want.Rule ||
			got.Visible != want.Visible || got.Locked != want.Locked || got.Gone != want.Gone {
			t.Fatalf("%+v %s %+v (file %+v, item %+v, receipt %+v):\nby action %+v\nwhole set %+v", p, a, r, r.File, r.Item, r.Receipt, got, want)
		}
	}
}
