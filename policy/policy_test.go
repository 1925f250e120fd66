package policy

import "testing"

func TestDecide(t *testing.T) {
	const me, other = "u1", "u2"
	open := Resource{VisitID: "v", AcceptsUploads: true}
	closed := Resource{VisitID: "v"}
	mine := Resource{VisitID: "v", AcceptsUploads: true, FileUploadedBy: me}
	theirs := Resource{VisitID: "v", AcceptsUploads: true, FileUploadedBy: other}
	admin := Principal{UserID: me, Administrator: true}
	member := func(role string) Principal { return Principal{UserID: me, Role: role} }
	tests := []struct {
		name    string
		p       Principal
		a       Action
		r       Resource
		allow   bool
		visible bool
		locked  bool
	}{
		{"signed out sees nothing", Principal{}, VisitView, open, false, false, false},
		{"signed out lists nothing", Principal{}, VisitList, open, false, false, false},
		{"admin creates visits", admin, VisitCreate, open, true, true, false},
		{"inspector cannot create visits", member(RoleLeadInspector), VisitCreate, open, false, true, false},
		{"admin manages members", admin, MemberManage, open, true, true, false},
		{"lead cannot manage members", member(RoleLeadInspector), MemberManage, open, false, true, false},
		{"admin views visit", admin, VisitView, open, true, true, false},
		{"admin cannot list evidence", admin, FileList, open, false, true, false},
		{"admin cannot download", admin, FileDownload, open, false, true, false},
		{"admin cannot upload", admin, FileUpload, open, false, true, false},
		{"admin who is a member downloads", Principal{UserID: me, Administrator: true, Role: RoleLeadInspector}, FileDownload, open, true, true, false},
		{"outsider cannot see visit", Principal{UserID: me}, VisitView, open, false, false, false},
		{"outsider cannot download", Principal{UserID: me}, FileDownload, open, false, false, false},
		{"lead downloads", member(RoleLeadInspector), FileDownload, open, true, true, false},
		{"inspector downloads", member(RoleInspector), FileDownload, open, true, true, false},
		{"lead cannot upload", member(RoleLeadInspector), FileUpload, open, false, true, false},
		{"uploader uploads", member(RoleProviderUploader), FileUpload, open, true, true, false},
		{"coordinator uploads", member(RoleProviderCoordinator), FileUpload, open, true, true, false},
		{"uploader locked out when closed", member(RoleProviderUploader), FileUpload, closed, false, true, true},
		{"uploader deletes own", member(RoleProviderUploader), FileDelete, mine, true, true, false},
		{"uploader cannot delete others'", member(RoleProviderUploader), FileDelete, theirs, false, true, false},
		{"coordinator deletes any", member(RoleProviderCoordinator), FileDelete, theirs, true, true, false},
		{"coordinator locked when closed", member(RoleProviderCoordinator), FileDelete, Resource{FileUploadedBy: other}, false, true, true},
		{"inspector cannot delete", member(RoleInspector), FileDelete, theirs, false, true, false},
		{"unknown action denied", member(RoleLeadInspector), Action("file.burn"), open, false, false, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d := Decide(tc.p, tc.a, tc.r)
			if d.Allow != tc.allow || d.Visible != tc.visible || d.Locked != tc.locked {
				t.Fatalf("Decide = %+v, want allow=%v visible=%v locked=%v", d, tc.allow, tc.visible, tc.locked)
			}
			if d.Rule == "" {
				t.Fatal("decision names no rule")
			}
		})
	}
}
