package main

import (
	"bytes"
	"context"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/ofsted-portal/evidence/policy"
	"github.com/ofsted-portal/evidence/portal"
	"github.com/ofsted-portal/evidence/portal/store"
)

// TestRestoreEndsAccessAgain: access ended after a backup was taken (an
// inspector removed from the visit, a departing administrator's role
// revoked, a person disabled, an item restricted to fewer roles) is ended
// again when that backup is restored. Before, the restored database let
// each of them back in. Each such act is noted outside the database,
// signed, as the trail recording it is anchored, and the restore applies
// it again; it grants nothing: a person disabled and enabled again, a role
// revoked and granted again, an item restricted and opened again (before
// the backup or after it), is as the backup has them.
func TestRestoreEndsAccessAgain(t *testing.T) {
	ctx := context.Background()
	d, demo := demoDrill(t)
	ofsted, cafcass := d.issuer("ofsted"), d.issuer("cafcass")
	admin := d.person("ofsted", "admin@ofsted.example")
	hmi := d.person("ofsted", "hmi@ofsted.example")
	qam := d.person("ofsted", "qam@ofsted.example")
	d.person("ofsted", "sao@ofsted.example")
	lead := d.person("ofsted", "lead@ofsted.example")
	d.person("cafcass", "uploader@cafcass.example")
	d.person("cafcass", "coordinator@cafcass.example")
	cmd := func(args ...string) {
		t.Helper()
		var err error
		switch args[0] {
		case "grant":
			err = adminGrant(ctx, args[1:])
		case "revoke":
			err = adminRevoke(ctx, args[1:])
		default:
			err = adminDisable(ctx, args[0], args[1:], &bytes.Buffer{})
		}
		if err != nil {
			t.Fatalf("portal admin %s: %v", strings.Join(args, " "), err)
		}
	}
	person := func(email string) []string { return []string{"--issuer", ofsted, "--email", email} }
	// Before the backup: two deputies made administrators, one of whom
	// is revoked and granted again; the analyst disabled and enabled
	// again.
	cmd(append([]string{"grant"}, person("qam@ofsted.example")...)...)
	cmd(append([]string{"grant"}, person("lead@ofsted.example")...)...)
	cmd(append([]string{"revoke"}, person("lead@ofsted.example")...)...)
	cmd(append([]string{"grant"}, person("lead@ofsted.example")...)...)
	cmd(append([]string{"disable"}, person("sao@ofsted.example")...)...)
	cmd(append([]string{"enable"}, person("sao@ofsted.example")...)...)
	d.person("ofsted", "qam@ofsted.example") // the grants bind at sign-in
	d.person("ofsted", "lead@ofsted.example")
	manage, err := d.svc.Authorize(ctx, admin, policy.VisitManage, demo.ID, "")
	if err != nil {
		t.Fatal(err)
	}
	restrict := func(item string, roles ...string) {
		t.Helper()
		if _, err := manage.SetRestriction(ctx, item, roles != nil, roles); err != nil {
			t.Fatal(err)
		}
	}
	restrict("1.03", policy.RoleLeadInspector, policy.RoleInspector)
	if err := d.svc.Checkpoint(ctx, true); err != nil {
		t.Fatal(err)
	}
	var inspector store.Member
	members, err := d.svc.Store().Members(ctx, demo.ID)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range members {
		if m.UserID == hmi.UserID {
			inspector = m
		}
	}
	if inspector.ID == "" {
		t.Fatalf("the inspector is not a member of the demo visit: %+v", members)
	}
	dir := d.backup()

	// After it: the inspector taken off the visit, the deputy's role
	// revoked, the uploader disabled, the coordinator disabled and
	// enabled again. The portal anchors its trail as it serves.
	acc, err := d.svc.Authorize(ctx, admin, policy.MemberManage, demo.ID, "")
	if err != nil {
		t.Fatal(err)
	}
	if err := acc.RemoveMember(ctx, inspector.ID); err != nil {
		t.Fatal(err)
	}
	cmd("revoke", "--issuer", ofsted, "--email", "qam@ofsted.example")
	cmd("disable", "--issuer", cafcass, "--email", "uploader@cafcass.example")
	cmd("disable", "--issuer", cafcass, "--email", "coordinator@cafcass.example")
	cmd("enable", "--issuer", cafcass, "--email", "coordinator@cafcass.example")
	// Items restricted: one to the lead inspector, one narrowed to them,
	// one restricted and opened again.
	restrict("1.01", policy.RoleLeadInspector)
	restrict("1.03", policy.RoleLeadInspector)
	restrict("1.02", policy.RoleLeadInspector)
	restrict("1.02")
	if err := d.svc.Checkpoint(ctx, true); err != nil {
		t.Fatal(err)
	}

	out := d.restore(dir)
	t.Logf("%s", out)
	d.open()
	db := d.svc.Store()
	if _, err := db.Member(ctx, demo.ID, inspector.ID); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("the inspector removed from the visit after the backup is a member again after its restore (%v)", err)
	}
	if _, err := d.svc.Authorize(ctx, hmi, policy.FileList, demo.ID, ""); err == nil {
		t.Errorf("the inspector removed from the visit after the backup may list its files after its restore")
	}
	role := func(a portal.Actor) bool {
		t.Helper()
		ok, err := db.HasPortalRole(ctx, a.UserID, store.RoleAdministrator)
		if err != nil {
			t.Fatal(err)
		}
		return ok
	}
	if role(qam) {
		t.Errorf("the administrator role revoked after the backup is held again after its restore")
	}
	if !role(lead) {
		t.Errorf("the administrator role revoked and granted again before the backup is gone after its restore")
	}
	if !role(admin) {
		t.Errorf("the administrator role never revoked is gone after its restore")
	}
	if !d.disabled("cafcass", "uploader@cafcass.example") {
		t.Errorf("the person disabled after the backup may sign in again after its restore")
	}
	if after, before := d.disabled("cafcass", "coordinator@cafcass.example"), d.disabled("ofsted", "sao@ofsted.example"); after || before {
		t.Errorf("a person disabled and enabled again (after the backup: %v; before it: %v) is disabled after its restore", after, before)
	}
	for item, want := range map[string][]string{"1.01": {policy.RoleLeadInspector}, "1.03": {policy.RoleLeadInspector}, "1.02": nil} {
		r, err := db.Restriction(ctx, demo.ID, item)
		if err != nil {
			t.Fatal(err)
		}
		if r.Restricted != (want != nil) || !slices.Equal(r.Roles, want) {
			t.Errorf("item %s after the restore: restricted %v to %v, want restricted %v to %v", item, r.Restricted, r.Roles, want != nil, want)
		}
	}
	if !strings.Contains(out, "ended again: 5") {
		t.Errorf("the restore does not say it ended access again five times (a member, a role, a person, two items):\n%s", out)
	}
	recs, err := db.AuditRecords(ctx, store.AuditFilter{Actions: []string{"member.removed", "portal_role.revoked", "user.disabled", "item.restriction_changed"}})
	if err != nil {
		t.Fatal(err)
	}
	again := 0
	for _, r := range recs {
		if strings.Contains(r.Detail, `"reapplied"`) {
			again++
		}
	}
	if again != 5 {
		t.Errorf("records of access ended again: %d, want 5", again)
	}
}

// TestRestoreEndsAccessOfPeopleItNeverSaw: access ended after the backup
// of people who first signed in after it, whose grant by email the
// backup holds untaken. Before, a disable applied again found nobody to
// disable, and a revocation by the subject they signed in with found no
// grant, and each let them sign in, take the grant up and be an
// administrator again. The notes now carry the identities the person
// signed in with, and the restore keeps such a person as disabled and
// revokes the grants to each of their identities.
func TestRestoreEndsAccessOfPeopleItNeverSaw(t *testing.T) {
	ctx := context.Background()
	d := newDrill(t, domainStack(t))
	d.open()
	defer func() { d.svc.Close() }()
	ofsted := d.issuer("ofsted")
	for _, email := range []string{"deputy@ofsted.example", "newcomer@ofsted.example"} {
		if err := adminGrant(ctx, []string{"--issuer", ofsted, "--email", email}); err != nil {
			t.Fatal(err)
		}
	}
	dir := d.backup()
	// After it, they sign in for the first time, taking the grants up;
	// then the deputy's role is revoked by the subject they signed in
	// with, and the newcomer is disabled.
	d.person("ofsted", "deputy@ofsted.example")
	d.person("ofsted", "newcomer@ofsted.example")
	if err := adminRevoke(ctx, []string{"--issuer", ofsted, "--subject", "deputy@ofsted.example"}); err != nil {
		t.Fatal(err)
	}
	if err := adminDisable(ctx, "disable", []string{"--issuer", ofsted, "--email", "newcomer@ofsted.example"}, &bytes.Buffer{}); err != nil {
		t.Fatal(err)
	}
	if err := d.svc.Checkpoint(ctx, true); err != nil {
		t.Fatal(err)
	}
	out := d.restore(dir)
	t.Logf("%s", out)
	d.open()
	a, err := d.svc.SignIn(ctx, portal.Actor{}, portal.Identity{IdP: "ofsted", Issuer: ofsted, Subject: "deputy@ofsted.example", Email: "deputy@ofsted.example"})
	if err != nil {
		t.Fatal(err)
	}
	if held, err := d.svc.Store().HasPortalRole(ctx, a.UserID, store.RoleAdministrator); err != nil || held {
		t.Errorf("the deputy whose role was revoked after the backup is an administrator again after its restore (%v)", err)
	}
	if !d.disabled("ofsted", "newcomer@ofsted.example") {
		t.Error("the newcomer disabled after the backup signs in after its restore")
	}
}

// TestSecondRestoreKeepsWhatTheFirstLost: a person disabled after an early
// backup and enabled again after a later one. Restoring the later backup
// loses the enable, and they stay disabled. Restoring then the earlier
// backup read the notes as they are (disabled, then enabled) and let them
// in, though since the first restore they had been disabled. What an
// earlier restore lost (the records after its backup's last, before its
// mark, as its finished note outside the database says) is now passed
// over: that restore applied again the access ended in it, noted anew.
func TestSecondRestoreKeepsWhatTheFirstLost(t *testing.T) {
	d := uploaderDrill(t)
	defer func() { d.svc.Close() }()
	early := d.backup()
	d.uploaderThenAnchor("disable")
	later := d.backup()
	d.uploaderThenAnchor("enable")
	t.Logf("%s", d.restore(later))
	d.open()
	if !d.disabled("cafcass", "uploader@cafcass.example") {
		t.Fatal("the person disabled in the later backup signs in after its restore")
	}
	t.Logf("%s", d.restore(early))
	d.open()
	if !d.disabled("cafcass", "uploader@cafcass.example") {
		t.Error("the person disabled since the first restore signs in after the second, of an earlier backup")
	}
}

// TestRefusedRestoreLosesNothing: a restore refused after writing its
// intent (here, into a database that is not empty, without --force) lost
// nothing. Before, a later restore took the intent for a restore that
// happened, passed over the notes of the acts after its backup as lost
// by it, and let back in a person disabled since. Only a restore that
// finished (its note outside the database) is now taken to have lost
// anything.
func TestRefusedRestoreLosesNothing(t *testing.T) {
	ctx := context.Background()
	d := uploaderDrill(t)
	defer func() { d.svc.Close() }()
	early := d.backup()
	later := d.backup()
	d.uploaderThenAnchor("disable")
	d.svc.Close()
	var out bytes.Buffer
	if err := restoreCmd(ctx, []string{later}, &out); err == nil {
		t.Fatalf("a restore into the live database without --force was not refused:\n%s", out.String())
	}
	d.open()
	t.Logf("%s", d.restore(early))
	d.open()
	if !d.disabled("cafcass", "uploader@cafcass.example") {
		t.Error("the person disabled after both backups signs in after the restore that followed a refused one")
	}
}

// TestRestoreFollowsAPersonWhoseEmailChanged: a person disabled and then
// enabled by their email, whose provider gave them a new email before the
// enable was noted outside the database. The enable's note then knew them
// by no identity, and the restore of a backup from before both took the
// disable for their last act and disabled them. An act named as an
// earlier one was now covers every identity that one knew.
func TestRestoreFollowsAPersonWhoseEmailChanged(t *testing.T) {
	ctx := context.Background()
	d := uploaderDrill(t)
	defer func() { d.svc.Close() }()
	dir := d.backup()
	d.uploaderThenAnchor("disable")
	if err := adminDisable(ctx, "enable", []string{"--issuer", d.issuer("cafcass"), "--email", "uploader@cafcass.example"}, &bytes.Buffer{}); err != nil {
		t.Fatal(err)
	}
	renamed := portal.Identity{IdP: "cafcass", Issuer: d.issuer("cafcass"), Subject: "uploader@cafcass.example", Email: "renamed@cafcass.example"}
	if _, err := d.svc.SignIn(ctx, portal.Actor{}, renamed); err != nil {
		t.Fatal(err)
	}
	if err := d.svc.Checkpoint(ctx, true); err != nil {
		t.Fatal(err)
	}
	t.Logf("%s", d.restore(dir))
	d.open()
	if _, err := d.svc.SignIn(ctx, portal.Actor{}, renamed); err != nil {
		t.Errorf("the person enabled after their disable is refused after the restore of a backup from before both: %v", err)
	}
}

// issuer is the issuer of the drill's identity provider idp.
func (d *drill) issuer(idp string) string {
	d.t.Helper()
	for _, p := range d.cfg.IdPs {
		if p.Name == idp {
			return p.Issuer
		}
	}
	d.t.Fatalf("no identity provider %s", idp)
	return ""
}

// disabled reports whether the sign-in of the person who signs in from
// idp as email (their subject too) is refused as disabled.
func (d *drill) disabled(idp, email string) bool {
	d.t.Helper()
	_, err := d.svc.SignIn(context.Background(), portal.Actor{}, portal.Identity{IdP: idp, Issuer: d.issuer(idp), Subject: email, Email: email})
	if err != nil && !errors.Is(err, portal.ErrDisabled) {
		d.t.Fatal(err)
	}
	return err != nil
}

// demoDrill is a drill open on the test stack, closed at the end of the
// test, and its demo visit.
func demoDrill(t *testing.T) (*drill, store.Visit) {
	t.Helper()
	d := newDrill(t, domainStack(t))
	d.open()
	t.Cleanup(func() { d.svc.Close() })
	demo, err := d.svc.Store().VisitByReference(context.Background(), portal.DemoReference)
	if err != nil {
		t.Fatal(err)
	}
	return d, demo
}

// uploaderDrill is a drill open on the test stack, the provider's
// uploader signed in.
func uploaderDrill(t *testing.T) *drill {
	t.Helper()
	d := newDrill(t, domainStack(t))
	d.open()
	d.person("cafcass", "uploader@cafcass.example")
	return d
}

// uploaderThenAnchor runs portal admin cmd (disable, enable) for the
// uploader, and then anchors the trail, as the serving portal does.
func (d *drill) uploaderThenAnchor(cmd string) {
	d.t.Helper()
	ctx := context.Background()
	if err := adminDisable(ctx, cmd, []string{"--issuer", d.issuer("cafcass"), "--email", "uploader@cafcass.example"}, &bytes.Buffer{}); err != nil {
		d.t.Fatal(err)
	}
	if err := d.svc.Checkpoint(ctx, true); err != nil {
		d.t.Fatal(err)
	}
}
