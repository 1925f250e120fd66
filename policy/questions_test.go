package policy

import "testing"

// TestItemsAndReceipts: the resources the matrix does not cover. An item's
// questions follow the item's restriction; a receipt is read by the
// coordinator and the person it was issued to, and nobody else.
func TestItemsAndReceipts(t *testing.T) {
	e := engine(t)
	open := Resource{VisitID: "v1", VisitState: "collecting", AcceptsUploads: true}
	item := func(restricted bool) Resource {
		r := open
		r.Item = &Item{Code: "CLD", Restricted: restricted, Roles: ChildLevelDataRoles}
		return r
	}
	receipt := func(to string) Resource {
		r := open
		r.Receipt = &Receipt{ID: "r1", IssuedTo: to}
		return r
	}
	cases := []struct {
		name   string
		role   string
		admin  bool
		window bool
		action Action
		res    Resource
		want   bool
	}{
		{"inspector asks on an open item", RoleInspector, false, true, QuestionPost, item(false), true},
		{"inspector reads a restricted item's questions", RoleInspector, false, true, QuestionView, item(true), false},
		{"analyst reads a restricted item's questions", RoleAnalyst, false, true, QuestionView, item(true), true},
		{"uploader answers on a restricted item", RoleProviderUploader, false, true, QuestionPost, item(true), true},
		{"coordinator outside the window", RoleProviderCoordinator, false, false, QuestionView, item(false), false},
		{"administrator not a member", "", true, true, QuestionView, item(false), false},
		{"outsider", "", false, true, QuestionView, item(false), false},
		{"coordinator reads another's receipt", RoleProviderCoordinator, false, true, ReceiptView, receipt("u-other"), true},
		{"uploader reads own receipt", RoleProviderUploader, false, true, ReceiptView, receipt("u-me"), true},
		{"uploader reads another's receipt", RoleProviderUploader, false, true, ReceiptView, receipt("u-other"), false},
		{"lead reads a receipt", RoleLeadInspector, false, true, ReceiptView, receipt("u-me"), false},
		{"administrator reads a receipt", "", true, true, ReceiptView, receipt("u-me"), false},
		{"questions are no way into a receipt", RoleInspector, false, true, QuestionView, receipt("u-me"), false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			d := e.Decide(Principal{UserID: "u-me", Administrator: c.admin, Role: c.role, InWindow: c.window}, c.action, c.res)
			if d.Allow != c.want {
				t.Fatalf("allow=%v (%v), want %v", d.Allow, d.Policies, c.want)
			}
		})
	}
}
