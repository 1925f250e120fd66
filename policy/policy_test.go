package policy

import (
	"fmt"
	"slices"
	"strings"
	"testing"
)

func engine(t testing.TB) *Engine {
	t.Helper()
	e, err := New()
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// expected states the issue's rules directly, independently of the Cedar
// text: the matrix test holds the policies to it.
func expected(role string, admin bool, a Action, inWindow, restricted, unfiled, held, own, accepts bool, state string, onFile bool) bool {
	if state == "destroyed" || state == "destroying" {
		return (a == VisitView || a == AuditView || a == CertificateView) && admin
	}
	adminAllowed := map[Action]bool{VisitCreate: true, VisitView: true, VisitManage: true, MemberManage: true,
		VisitRecordEvent: true, LegalHoldSet: true, AuditView: true, CertificateView: true, RequestManage: true, FileScanRelease: true, ItemView: true}
	if a == VisitList || a == SelfView || admin && adminAllowed[a] {
		return true
	}
	// Approving a destruction is for administrators with no part in the
	// visit, and so is lifting a legal hold, after which destruction
	// follows a fresh notice.
	if a == DestructionApprove || a == LegalHoldLift || a == EventWithdraw {
		return admin && role == ""
	}
	// Purging a misdirected upload likewise, once the provider can no
	// longer delete it, and never under a legal hold.
	if a == FilePurge {
		return admin && role == "" && onFile && !accepts && !held
	}
	if role == "" || !inWindow {
		return false
	}
	seesRestricted := slices.Contains(ChildLevelDataRoles, role) || IsProviderRole(role)
	seesUnfiled := role == RoleLeadInspector || role == RoleQAManager || IsProviderRole(role)
	fileAct := a == FileList || a == FileDownload || a == FileDelete || a == FileRefile || a == FileReplace || a == QuestionView || a == QuestionPost
	if fileAct && onFile && (restricted && !seesRestricted || unfiled && !seesUnfiled) {
		return false
	}
	if onFile && held && (a == FileDelete || a == FileRefile || a == FileReplace) {
		return false
	}
	switch a {
	case VisitView, ItemView:
		return true
	case FileRefile:
		return onFile && (role == RoleLeadInspector || role == RoleProviderCoordinator && accepts)
	case FileList, FileDownload:
		switch role {
		case RoleLeadInspector, RoleQAManager, RoleAnalyst, RoleInspector, RoleProviderCoordinator:
			return true
		case RoleProviderUploader:
			return own || (a == FileList && !onFile)
		}
	case FileUpload:
		return !onFile && IsProviderRole(role) && accepts
	case ItemComplete:
		return !onFile && role == RoleProviderCoordinator && accepts
	case FileDelete, FileReplace:
		if !onFile || !accepts {
			return false
		}
		return role == RoleProviderCoordinator || role == RoleProviderUploader && own
	case QuestionView, QuestionPost:
		return !onFile || role != RoleProviderUploader || own
	case ReceiptView, ReceiptIssue:
		return !onFile && IsProviderRole(role)
	case AuditView:
		return role == RoleLeadInspector || role == RoleQAManager
	case VisitRecordEvent, RequestManage:
		return role == RoleLeadInspector
	}
	return false
}

// TestMatrix: every role (and administrator, and outsider) × every action ×
// inside/outside the window × restricted/unrestricted × own/other's file ×
// visit state.
func TestMatrix(t *testing.T) {
	e := engine(t)
	const me, other = "u-me", "u-other"
	type who struct {
		role  string
		admin bool
	}
	people := []who{{"", false}, {"", true}, {RoleLeadInspector, true}}
	for _, r := range Roles {
		people = append(people, who{r, false})
	}
	states := []struct {
		name          string
		accepts, held bool
	}{{"collecting", true, false}, {"collecting", true, true}, {"reporting", false, false}, {"reporting", false, true}, {"destroyed", false, false}}
	n := 0
	for _, w := range people {
		for _, a := range Actions {
			for _, inWindow := range []bool{true, false} {
				for _, st := range states {
					for _, target := range []string{"visit", "file", "own-file", "restricted-file", "own-restricted-file", "unfiled-file", "own-unfiled-file"} {
						onFile := target != "visit"
						own := strings.HasPrefix(target, "own")
						restricted := strings.Contains(target, "restricted")
						unfiled := strings.Contains(target, "unfiled")
						res := Resource{VisitID: "v1", VisitState: st.name, AcceptsUploads: st.accepts, LegalHold: st.held}
						if onFile {
							by := other
							if own {
								by = me
							}
							item := "1.01"
							if unfiled {
								item = ""
							}
							res.File = &File{ID: "f1", UploadedBy: by, Item: item, Restricted: restricted, Roles: ChildLevelDataRoles}
						}
						p := Principal{UserID: me, Administrator: w.admin, Role: w.role, InWindow: inWindow}
						want := expected(w.role, w.admin, a, inWindow, restricted, unfiled, st.held, own, st.accepts, st.name, onFile)
						got := e.Decide(p, a, res)
						n++
						if got.Allow != want {
							t.Errorf("role=%q admin=%v %s window=%v state=%s held=%v on %s: allow=%v (%v), want %v",
								w.role, w.admin, a, inWindow, st.name, st.held, target, got.Allow, got.Policies, want)
						}
						if got.Allow && len(got.Policies) == 0 {
							t.Errorf("%s allowed without naming a policy", a)
						}
						if st.name == "destroyed" && !got.Allow && !got.Gone {
							t.Errorf("destroyed visit: %s not marked gone", a)
						}
					}
				}
			}
		}
	}
	t.Logf("%d decisions checked", n)
}

func TestDecisionStatuses(t *testing.T) {
	e := engine(t)
	open := Resource{VisitID: "v", VisitState: "collecting", AcceptsUploads: true}
	closed := Resource{VisitID: "v", VisitState: "reporting"}
	for _, tc := range []struct {
		name                  string
		p                     Principal
		a                     Action
		r                     Resource
		visible, locked, gone bool
		rule                  string
	}{
		{"outsider cannot know the visit", Principal{UserID: "u"}, VisitView, open, false, false, false, "no-policy-permits"},
		{"admin knows but cannot read", Principal{UserID: "u", Administrator: true}, FileDownload, open, true, false, false, "no-policy-permits"},
		{"member outside window is locked", Principal{UserID: "u", Role: RoleInspector}, FileList, open, true, true, false, "outside-access-window"},
		{"uploads closed is locked", Principal{UserID: "u", Role: RoleProviderUploader, InWindow: true}, FileUpload, closed, true, true, false, "visit-not-accepting-uploads"},
		{"inspector cannot upload, not locked", Principal{UserID: "u", Role: RoleInspector, InWindow: true}, FileUpload, closed, true, false, false, "no-policy-permits"},
		{"destroyed is gone", Principal{UserID: "u", Role: RoleLeadInspector, InWindow: true}, FileList, Resource{VisitID: "v", VisitState: "destroyed"}, true, false, true, "visit-destroyed"},
		{"restricted names its policy, and hides the file", Principal{UserID: "u", Role: RoleInspector, InWindow: true}, FileDownload,
			Resource{VisitID: "v", VisitState: "collecting", File: &File{ID: "f", Item: "cld", Restricted: true, Roles: ChildLevelDataRoles}}, false, false, false, "restricted-item"},
		{"a hidden file is hidden under a legal hold too", Principal{UserID: "u", Role: RoleInspector, InWindow: true}, FileDelete,
			Resource{VisitID: "v", VisitState: "collecting", AcceptsUploads: true, LegalHold: true, File: &File{ID: "f", Item: "cld", Restricted: true, Roles: ChildLevelDataRoles}}, false, false, false, "restricted-item"},
		{"their own file outside the window is locked, not hidden", Principal{UserID: "u", Role: RoleProviderUploader}, FileDownload,
			Resource{VisitID: "v", VisitState: "reporting", File: &File{ID: "f", UploadedBy: "u", Item: "1.01", Scan: "clean"}}, true, true, false, "outside-access-window"},
		{"a file the member lists is refused, not hidden", Principal{UserID: "u", Role: RoleInspector, InWindow: true}, FileDelete,
			Resource{VisitID: "v", VisitState: "collecting", AcceptsUploads: true, File: &File{ID: "f", UploadedBy: "w", Item: "1.01", Scan: "clean"}}, true, false, false, "no-policy-permits"},
		{"unfiled names its policy", Principal{UserID: "u", Role: RoleAnalyst, InWindow: true}, FileList,
			Resource{VisitID: "v", VisitState: "collecting", File: &File{ID: "f", Item: ""}}, true, false, false, "unfiled-until-filed"},
		{"another's receipt is hidden from an uploader", Principal{UserID: "u", Role: RoleProviderUploader, InWindow: true}, ReceiptView,
			Resource{VisitID: "v", VisitState: "collecting", Receipt: &Receipt{ID: "r", IssuedTo: "w"}}, false, false, false, "no-policy-permits"},
		{"another's receipt is hidden outside the window too", Principal{UserID: "u", Role: RoleProviderUploader}, ReceiptView,
			Resource{VisitID: "v", VisitState: "reporting", Receipt: &Receipt{ID: "r", IssuedTo: "w"}}, false, false, false, "no-policy-permits"},
		{"their own receipt outside the window is locked, not hidden", Principal{UserID: "u", Role: RoleProviderUploader}, ReceiptView,
			Resource{VisitID: "v", VisitState: "reporting", Receipt: &Receipt{ID: "r", IssuedTo: "u"}}, true, true, false, "outside-access-window"},
		{"another's receipt outside the coordinator's window is locked, not hidden", Principal{UserID: "u", Role: RoleProviderCoordinator}, ReceiptView,
			Resource{VisitID: "v", VisitState: "reporting", Receipt: &Receipt{ID: "r", IssuedTo: "w"}}, true, true, false, "outside-access-window"},
		{"a receipt is refused to the team, not hidden", Principal{UserID: "u", Role: RoleLeadInspector, InWindow: true}, ReceiptView,
			Resource{VisitID: "v", VisitState: "collecting", Receipt: &Receipt{ID: "r", IssuedTo: "w"}}, true, false, false, "no-policy-permits"},
		{"a legal hold locks a delete", Principal{UserID: "u", Role: RoleProviderCoordinator, InWindow: true}, FileDelete,
			Resource{VisitID: "v", VisitState: "collecting", AcceptsUploads: true, LegalHold: true, File: &File{ID: "f", Item: "1.01"}}, true, true, false, "legal-hold"},
		{"a member may not approve a destruction", Principal{UserID: "u", Administrator: true, Role: RoleLeadInspector, InWindow: true}, DestructionApprove,
			Resource{VisitID: "v", VisitState: "published"}, true, false, false, "destruction-approved-from-outside"},
		{"a member may not lift a legal hold", Principal{UserID: "u", Administrator: true, Role: RoleQAManager, InWindow: true}, LegalHoldLift,
			Resource{VisitID: "v", VisitState: "complaint", LegalHold: true}, true, false, false, "legal-hold-lifted-from-outside"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := e.Decide(tc.p, tc.a, tc.r)
			if d.Allow || d.Visible != tc.visible || d.Locked != tc.locked || d.Gone != tc.gone || d.Rule != tc.rule {
				t.Fatalf("Decide = %+v", d)
			}
			if Explain(d) == "" {
				t.Fatal("no explanation")
			}
		})
	}
}

func TestPolicyIDsAreStable(t *testing.T) {
	ids := engine(t).PolicyIDs()
	for _, id := range ids {
		if _, ok := reasons[id]; !ok {
			t.Errorf("policy %q has no explanation in words", id)
		}
	}
	if len(ids) != len(reasons) {
		t.Errorf("%d policies, %d explanations", len(ids), len(reasons))
	}
}

func ExampleExplain() {
	e, _ := New()
	d := e.Decide(Principal{UserID: "u1", Role: RoleInspector, InWindow: true}, FileDownload, Resource{
		VisitID: "v1", VisitState: "fieldwork",
		File: &File{ID: "f1", Item: "cld", Restricted: true, Roles: ChildLevelDataRoles},
	})
	fmt.Println(d.Allow, d.Policies)
	fmt.Println(Explain(d))
	// Output:
	// false [restricted-item]
	// Denied: this file's item is restricted to other roles of the inspection team.
}

// BenchmarkDecide: one decision costs the same at 1,000 members and 10,000
// files, because the request carries only the principal's own membership and
// the one file in question.
func BenchmarkDecide(b *testing.B) {
	e := engine(b)
	p := Principal{UserID: "u1", Role: RoleInspector, InWindow: true}
	r := Resource{VisitID: "v1", VisitState: "fieldwork", File: &File{ID: "f1", UploadedBy: "u2", Item: "1.03", Roles: ChildLevelDataRoles}}
	for b.Loop() {
		if !e.Decide(p, FileDownload, r).Allow {
			b.Fatal("denied")
		}
	}
}

// TestScanStatus holds the malware-scanning rules against the decision for
// a clean file: a file being checked or infected is listed (and re-filed)
// only by the provider's staff, downloaded by nobody, and an infected one
// is deleted by nobody; "unscanned" (scanning off) is served as clean.
func TestScanStatus(t *testing.T) {
	e := engine(t)
	const me = "u-me"
	for _, role := range append([]string{""}, Roles...) {
		for _, admin := range []bool{false, true} {
			for _, a := range []Action{FileList, FileDownload, FileDelete, FileRefile} {
				for _, own := range []bool{false, true} {
					uploader := "u-other"
					if own {
						uploader = me
					}
					p := Principal{UserID: me, Administrator: admin, Role: role, InWindow: role != ""}
					res := func(scan string) Resource {
						return Resource{VisitID: "v1", VisitState: "collecting", AcceptsUploads: true,
							File: &File{ID: "f1", UploadedBy: uploader, Item: "1.03", Scan: scan}}
					}
					clean := e.Decide(p, a, res("clean")).Allow
					for _, scan := range []string{"", "unscanned", "scanning", "infected"} {
						want := clean
						switch {
						case scan == "" || scan == "unscanned":
						case a == FileDownload:
							want = false
						case a == FileDelete:
							want = clean && scan == "scanning"
						default: // list, refile
							want = clean && IsProviderRole(role)
						}
						if got := e.Decide(p, a, res(scan)); got.Allow != want {
							t.Errorf("role %q admin %v %s own %v scan %q: allow %v, want %v (%v)", role, admin, a, own, scan, got.Allow, want, got.Policies)
						}
					}
				}
			}
		}
	}
}

// TestRestrictedItemTitle: an item's title (item.view), decided on the
// item: every member in their window and administrators see an open
// item's; a restricted item's is for the roles it names, the lead
// inspector, the provider's staff and administrators.
func TestRestrictedItemTitle(t *testing.T) {
	e := engine(t)
	restricted := &Item{Code: "case-1", Restricted: true, Roles: []string{RoleQAManager}}
	open := &Item{Code: "1.01"}
	for _, c := range []struct {
		role        string
		admin, want bool
		item        *Item
	}{
		{RoleInspector, false, false, restricted},
		{RoleAnalyst, false, false, restricted},
		{RoleQAManager, false, true, restricted},
		{RoleLeadInspector, false, true, restricted},
		{RoleProviderUploader, false, true, restricted},
		{RoleProviderCoordinator, false, true, restricted},
		{"", true, true, restricted},
		{RoleInspector, true, true, restricted},
		{"", false, false, restricted},
		{RoleInspector, false, true, open},
		{RoleAnalyst, false, true, open},
	} {
		p := Principal{UserID: "u1", Administrator: c.admin, Role: c.role, InWindow: c.role != ""}
		d := e.Decide(p, ItemView, Resource{VisitID: "v1", VisitState: "fieldwork", Item: c.item})
		if d.Allow != c.want {
			t.Errorf("item.view of %s (restricted %v) by %q (administrator %v): %v (%s), want %v", c.item.Code, c.item.Restricted, c.role, c.admin, d.Allow, d.Rule, c.want)
		}
	}
}
