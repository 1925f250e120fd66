package main

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/ofsted-portal/evidence/policy"
	"github.com/ofsted-portal/evidence/portal"
	"github.com/ofsted-portal/evidence/portal/calendar"
	"github.com/ofsted-portal/evidence/portal/store"
)

// TestRestoreNarrowsMembershipsAgain: a membership whose access window an
// administrator ended, or whose role they changed, after a backup was
// taken was given back as the backup had it when that backup was
// restored: an inspector whose access had ended could list the visit's
// files again, and a lead inspector made an inspector could manage the
// information request again. The restore now narrows the window again
// to what both allow, and removes a membership whose role was changed
// (neither role is the restore's to give). It grants nothing: a window
// widened after the backup, or narrowed and widened again, is as the
// backup has it.
func TestRestoreNarrowsMembershipsAgain(t *testing.T) {
	ctx := context.Background()
	d, demo := demoDrill(t)
	admin := d.person("ofsted", "admin@ofsted.example")
	hmi := d.person("ofsted", "hmi@ofsted.example")
	lead := d.person("ofsted", "lead@ofsted.example")
	qam := d.person("ofsted", "qam@ofsted.example")
	sao := d.person("ofsted", "sao@ofsted.example")
	today := calendar.Today(time.Now())
	// Access on the demo visit opens as its notification day begins:
	// today, or the last working day.
	ended, inAMonth := time.Now().Add(-time.Second).UTC().Format(time.RFC3339), today.AddDate(0, 0, 30).Format(time.DateOnly)
	put := func(email, role, until string) {
		t.Helper()
		acc, err := d.svc.Authorize(ctx, admin, policy.MemberManage, demo.ID, "")
		if err != nil {
			t.Fatal(err)
		}
		if _, _, err := acc.PutMember(ctx, portal.MemberRequest{Email: email, Role: role, ValidUntil: until}); err != nil {
			t.Fatalf("%s as %s until %q: %v", email, role, until, err)
		}
	}
	// Before the backup: the analyst's access ends in a month.
	put("sao@ofsted.example", policy.RoleAnalyst, inAMonth)
	if err := d.svc.Checkpoint(ctx, true); err != nil {
		t.Fatal(err)
	}
	dir := d.backup()

	// After it: the inspector's access ended a moment ago; the lead made an
	// inspector; the QA manager's access ended and given back; the
	// analyst's end taken away.
	put("hmi@ofsted.example", policy.RoleInspector, ended)
	put("lead@ofsted.example", policy.RoleInspector, "")
	put("qam@ofsted.example", policy.RoleQAManager, ended)
	put("qam@ofsted.example", policy.RoleQAManager, "")
	put("sao@ofsted.example", policy.RoleAnalyst, "")
	if err := d.svc.Checkpoint(ctx, true); err != nil {
		t.Fatal(err)
	}

	out := d.restore(dir)
	t.Logf("%s", out)
	d.open()
	may := func(a portal.Actor, act policy.Action) bool {
		t.Helper()
		_, err := d.svc.Authorize(ctx, a, act, demo.ID, "")
		var pe *portal.Error
		if err != nil && !errors.As(err, &pe) {
			t.Fatal(err)
		}
		return err == nil
	}
	if may(hmi, policy.FileList) {
		t.Errorf("the inspector whose access was ended after the backup may list the visit's files after its restore")
	}
	if may(lead, policy.RequestManage) {
		t.Errorf("the lead inspector made an inspector after the backup may manage the information request after its restore")
	}
	if !may(qam, policy.FileList) {
		t.Errorf("the QA manager whose access was ended and given back after the backup may not list the visit's files after its restore")
	}
	if !may(sao, policy.FileList) {
		t.Errorf("the analyst may not list the visit's files after its restore")
	}
	ms, err := d.svc.Store().Members(ctx, demo.ID)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range ms {
		if m.UserID == sao.UserID && !m.ValidUntil.Equal(calendar.StartOfDay(today.AddDate(0, 0, 31))) {
			t.Errorf("the analyst's access, which ended in a month in the backup and was made open-ended after it, ends %v after its restore", m.ValidUntil)
		}
	}
	if !strings.Contains(out, "ended again: 2") {
		t.Errorf("the restore does not say it ended access again twice (a window, a role):\n%s", out)
	}
	recs, err := d.svc.Store().AuditRecords(ctx, store.AuditFilter{Actions: []string{"member.changed", "member.removed"}})
	if err != nil {
		t.Fatal(err)
	}
	var again []string
	for _, r := range recs {
		if strings.Contains(r.Detail, `"reapplied"`) {
			again = append(again, r.Action)
		}
	}
	if strings.Join(again, " ") != "member.removed member.changed" && strings.Join(again, " ") != "member.changed member.removed" {
		t.Errorf("records of memberships narrowed again: %v, want a member.changed and a member.removed", again)
	}
}
