package portal_test

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/ofsted-portal/evidence/deploy/devstack"
	"github.com/ofsted-portal/evidence/policy"
	"github.com/ofsted-portal/evidence/portal"
	"github.com/ofsted-portal/evidence/portal/metrics"
	"github.com/ofsted-portal/evidence/portal/store"
)

// questionsTo writes a questions digest for the members of v in roles, due
// at due, as an act of the ten minutes before it would.
func questionsTo(t *testing.T, d *domain, v store.Visit, roles []string, due time.Time) {
	t.Helper()
	out := store.Outgoing{Kind: portal.NoteQuestions, VisitID: v.ID, To: store.Audience{Roles: roles},
		Period: due.Add(-10 * time.Minute).UTC().Format(time.RFC3339), Accumulate: true, Count: 1, Due: due,
		Data: map[string]string{"date": due.Format(time.RFC3339)}}
	if err := d.svc.Store().Enqueue(context.Background(), d.svc.Now(), out); err != nil {
		t.Fatal(err)
	}
}

// TestNoMailAfterAccessCloses: a member whose access closes between a
// notification being written and its being sent is not mailed about the
// visit. The provider coordinator's access ends at the end of the fifth
// working day after fieldwork; a question posted minutes before is told
// after it, and must not reach them.
func TestNoMailAfterAccessCloses(t *testing.T) {
	d := startMailDomain(t)
	box := &mailbox{d: d, seen: map[string]bool{}}
	d.deliver()
	box.fresh()
	v := d.demo()
	tl, err := timelineOf(d, v)
	if err != nil {
		t.Fatal(err)
	}
	last := d.svc.Calendar().AddWorkingDays(tl.FieldworkEnd, 5)
	d.at(last)
	d.later(11*time.Hour + 55*time.Minute) // 23:55 on the last day of access
	questionsTo(t, d, v, []string{policy.RoleProviderCoordinator}, d.svc.Now().Add(10*time.Minute))
	d.later(10 * time.Minute)
	if n := d.deliver(); n != 0 {
		t.Errorf("sent %d after the coordinator's access closed; want none", n)
	}
	box.expect("after access closed", "", []string{}...)
}

// TestNoMailAfterDestruction: members of a visit whose evidence has been
// destroyed are not mailed about it; administrators still hear of the
// destruction.
func TestNoMailAfterDestruction(t *testing.T) {
	d := startMailDomain(t)
	ctx := context.Background()
	box := &mailbox{d: d, seen: map[string]bool{}}
	d.deliver()
	box.fresh()
	v := d.demo()
	admin := d.person("ofsted", "admin@ofsted.example")
	lead := d.person("ofsted", "lead@ofsted.example")
	day := d.publish(lead, v)
	destroyOn := day.AddDate(0, 0, d.Config.RetentionDays)
	d.at(destroyOn.AddDate(0, 0, -7))
	if _, err := d.svc.RunRetention(ctx); err != nil { // the notice
		t.Fatal(err)
	}
	d.at(destroyOn)
	if _, err := d.mustAccess(admin, policy.DestructionApprove).ApproveDestruction(ctx); err != nil {
		t.Fatal(err)
	}
	// The lead's question's digest is due after the destruction.
	questionsTo(t, d, v, []string{policy.RoleLeadInspector}, d.svc.Now().Add(10*time.Minute))
	if ids, err := d.svc.RunRetention(ctx); err != nil || len(ids) != 1 {
		t.Fatalf("destruction: %v %v", ids, err)
	}
	d.later(10 * time.Minute)
	d.deliver()
	for _, m := range box.fresh() {
		if m.To[0].Address != "admin@ofsted.example" {
			t.Errorf("%q went to %v after the visit was destroyed", m.Subject, m.To)
		}
	}
}

// TestUnusableAddressFailsAtOnce: an address from an identity provider's
// claims that is not one plain address (here one carrying a header) is
// never mailed, and fails at once for administrators to see, rather than
// being tried again for a day as though the mail server were down.
func TestUnusableAddressFailsAtOnce(t *testing.T) {
	d := startMailDomain(t)
	ctx := context.Background()
	box := &mailbox{d: d, seen: map[string]bool{}}
	d.deliver()
	box.fresh()
	v := d.demo()
	hmi := d.person("ofsted", "hmi@ofsted.example")
	var issuer string
	for _, p := range d.Config.IdPs {
		if p.Name == "ofsted" {
			issuer = p.Issuer
		}
	}
	for _, email := range []string{"hmi@ofsted.example\r\nBcc: evil@evil.example", "HMI <evil@evil.example>"} {
		if _, err := d.svc.SignIn(ctx, portal.Actor{Via: "test"}, portal.Identity{IdP: "ofsted", Issuer: issuer, Subject: "sub-hmi@ofsted.example", Email: email}); err != nil {
			t.Fatal(err)
		}
		ms, err := d.svc.Store().MembershipsOf(ctx, v.ID, hmi.UserID)
		if err != nil || len(ms) != 1 {
			t.Fatalf("memberships: %v %v", ms, err)
		}
		if err := d.svc.Store().Enqueue(ctx, d.svc.Now(), store.Outgoing{Kind: portal.NoteAccessClosing, VisitID: v.ID, To: store.Audience{MemberID: ms[0].ID}}); err != nil {
			t.Fatal(err)
		}
		if n, _ := d.svc.DeliverNotifications(ctx); n != 0 {
			t.Errorf("%q: sent %d", email, n)
		}
		box.expect("to "+email, "", []string{}...)
		ns, err := d.svc.Store().Notifications(ctx, "", 1)
		if err != nil || len(ns) != 1 || ns[0].State != store.NoteFailed || ns[0].Attempts != 1 {
			t.Errorf("%q: the notification is %+v (%v); want failed after one attempt", email, ns, err)
		}
		d.later(time.Minute)
	}
}

// TestRefusedRecipientFailsAtOnce: an address the mail server refuses for
// good (550: no such mailbox, here every address outside the two
// departments) fails at once for administrators to see, rather than being
// sent again for a day as though the mail server were down.
func TestRefusedRecipientFailsAtOnce(t *testing.T) {
	bin, err := devstack.FindMailpit()
	if err != nil {
		if os.Getenv("PORTAL_REQUIRE_INTEGRATION") != "" {
			t.Fatalf("notification tests need mailpit: %v", err)
		}
		t.Skipf("skipping: %v", err)
	}
	reg := metrics.New(nil)
	d := startDomainWith(t, func(o *devstack.Options) {
		o.Mailpit, o.MailpitBinary = true, bin
		o.MailpitAllowedRecipients = `@(ofsted|cafcass)\.example$`
		o.PortalOptions = append(o.PortalOptions, portal.WithMetrics(reg))
	})
	ctx := context.Background()
	box := &mailbox{d: d, seen: map[string]bool{}}
	d.deliver()
	box.fresh()
	v := d.demo()
	hmi := d.person("ofsted", "hmi@ofsted.example")
	var issuer string
	for _, p := range d.Config.IdPs {
		if p.Name == "ofsted" {
			issuer = p.Issuer
		}
	}
	if _, err := d.svc.SignIn(ctx, portal.Actor{Via: "test"}, portal.Identity{IdP: "ofsted", Issuer: issuer, Subject: "sub-hmi@ofsted.example", Email: "hmi@gone.example"}); err != nil {
		t.Fatal(err)
	}
	ms, err := d.svc.Store().MembershipsOf(ctx, v.ID, hmi.UserID)
	if err != nil || len(ms) != 1 {
		t.Fatalf("memberships: %v %v", ms, err)
	}
	if err := d.svc.Store().Enqueue(ctx, d.svc.Now(), store.Outgoing{Kind: portal.NoteAccessClosing, VisitID: v.ID, To: store.Audience{MemberID: ms[0].ID}}); err != nil {
		t.Fatal(err)
	}
	if n, _ := d.svc.DeliverNotifications(ctx); n != 0 {
		t.Errorf("sent %d", n)
	}
	box.expect("to hmi@gone.example", "", []string{}...)
	ns, err := d.svc.Store().Notifications(ctx, "", 1)
	if err != nil || len(ns) != 1 || ns[0].State != store.NoteFailed || ns[0].Attempts != 1 {
		t.Errorf("the notification is %+v (%v); want failed after one attempt", ns, err)
	}
	// Why it failed is shown to every administrator, and logged: the
	// mail server's answer names the address, which is said no further.
	if len(ns) == 1 && strings.Contains(ns[0].LastError, "gone.example") {
		t.Errorf("the failure administrators see names the person's address: %q", ns[0].LastError)
	}
	if strings.Contains(d.log.String(), "gone.example") {
		t.Errorf("the portal's log names the person's address")
	}
	// Monitoring sees it: the failures' counter, and the log's warning.
	// Before, a notification given up at once was neither.
	if got := mailFailures(t, reg); got != 1 {
		t.Errorf("portal_mail_failures_total is %v, want 1", got)
	}
	if !strings.Contains(d.log.String(), "notifications not sent") {
		t.Errorf("the portal's log has no warning of the notification given up")
	}
}

// mailFailures reads portal_mail_failures_total.
func mailFailures(t *testing.T, reg *metrics.Registry) float64 {
	t.Helper()
	fams, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range fams {
		if f.GetName() == "portal_mail_failures_total" {
			return f.GetMetric()[0].GetCounter().GetValue()
		}
	}
	t.Fatal("no portal_mail_failures_total")
	return 0
}

// TestNoMailAfterRoleChange: a notification addressed to the members in
// some roles is not sent to a member whose role has changed to another
// since it was written. The coordinator is told of questions on every
// file; once an uploader, they may read only those on their own files.
func TestNoMailAfterRoleChange(t *testing.T) {
	d := startMailDomain(t)
	ctx := context.Background()
	box := &mailbox{d: d, seen: map[string]bool{}}
	d.deliver()
	box.fresh()
	v, _ := d.openDemo()
	questionsTo(t, d, v, []string{policy.RoleProviderCoordinator}, d.svc.Now().Add(10*time.Minute))
	admin := d.person("ofsted", "admin@ofsted.example")
	if _, _, err := d.mustAccess(admin, policy.MemberManage).PutMember(ctx, portal.MemberRequest{Email: "coordinator@cafcass.example", Role: policy.RoleProviderUploader}); err != nil {
		t.Fatal(err)
	}
	d.later(10 * time.Minute)
	d.deliver()
	for _, m := range box.fresh() {
		if m.To[0].Address == "coordinator@cafcass.example" && m.Subject != "You have been added to visit FV-DEMO" {
			t.Errorf("%q went to the former coordinator, now an uploader", m.Subject)
		}
	}
}

// TestNoMailToADisabledPerson: a person disabled on the server (portal
// admin disable: they left, or their account is suspected) is no longer
// told of the visit's evidence by mail, as they can no longer sign in to
// it; enabled again, they are.
func TestNoMailToADisabledPerson(t *testing.T) {
	d := startMailDomain(t)
	ctx := context.Background()
	box := &mailbox{d: d, seen: map[string]bool{}}
	d.deliver()
	box.fresh()
	v, _ := d.openDemo()
	d.person("ofsted", "lead@ofsted.example") // signed in: a user the disable names
	lead := portal.Person{Issuer: d.issuer("ofsted"), Email: "lead@ofsted.example"}
	op := portal.OperatorActor("test", "admin disable")
	if _, err := portal.DisableUser(ctx, d.svc.Store(), op, lead); err != nil {
		t.Fatal(err)
	}
	questionsTo(t, d, v, []string{policy.RoleLeadInspector}, d.svc.Now().Add(10*time.Minute))
	d.later(10 * time.Minute)
	d.deliver()
	for _, m := range box.fresh() {
		if m.To[0].Address == "lead@ofsted.example" {
			t.Errorf("%q went to the lead inspector, whose access to the portal is disabled", m.Subject)
		}
	}
	if err := portal.EnableUser(ctx, d.svc.Store(), op, lead); err != nil {
		t.Fatal(err)
	}
	questionsTo(t, d, v, []string{policy.RoleLeadInspector}, d.svc.Now().Add(10*time.Minute))
	d.later(10 * time.Minute)
	d.deliver()
	got := 0
	for _, m := range box.fresh() {
		if m.To[0].Address == "lead@ofsted.example" {
			got++
		}
	}
	if got != 1 {
		t.Errorf("enabled again, the lead inspector was sent %d mails of the visit's questions, want 1", got)
	}
}

// TestNoMailToADisabledPersonAddedByEmail: a person disabled on the
// server, then added to another visit by email (or given the
// administrator role by email), is mailed nothing: such a membership or
// grant binds only at a sign-in they can no longer make, and was taken
// for a person not yet known, who is mailed.
func TestNoMailToADisabledPersonAddedByEmail(t *testing.T) {
	d := startMailDomain(t)
	ctx := context.Background()
	box := &mailbox{d: d, seen: map[string]bool{}}
	d.deliver()
	box.fresh()
	admin := d.person("ofsted", "admin@ofsted.example")
	d.person("ofsted", "hmi@ofsted.example") // signed in once: a user the disable names
	op := portal.OperatorActor("test", "admin disable")
	if _, err := portal.DisableUser(ctx, d.svc.Store(), op, portal.Person{Issuer: d.issuer("ofsted"), Email: "hmi@ofsted.example"}); err != nil {
		t.Fatal(err)
	}
	cal := d.svc.Calendar()
	day := d.svc.Today()
	if !cal.IsWorkingDay(day) {
		day = cal.PreviousWorkingDay(day)
	}
	nv, err := d.svc.CreateVisit(ctx, admin, portal.NewVisit{Reference: "FV-LATER", Title: "Later", Provider: "Cafcass",
		NotificationDate: day.Format(time.DateOnly), FieldworkStart: cal.AddWorkingDays(day, 5).Format(time.DateOnly)})
	if err != nil {
		t.Fatal(err)
	}
	members, err := d.svc.Authorize(ctx, admin, policy.MemberManage, nv.ID, "")
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := members.PutMember(ctx, portal.MemberRequest{Email: "hmi@ofsted.example", Role: policy.RoleInspector}); err != nil {
		t.Fatal(err)
	}
	if err := portal.GrantRole(ctx, d.svc.Store(), portal.OperatorActor("test", "admin grant"), portal.RoleGrant{Role: "administrator", Issuer: d.issuer("ofsted"), Email: "hmi@ofsted.example"}); err != nil {
		t.Fatal(err)
	}
	hold, err := d.svc.Authorize(ctx, admin, policy.LegalHoldSet, nv.ID, "")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := hold.SetLegalHold(ctx, true, "Complaint escalated"); err != nil {
		t.Fatal(err)
	}
	d.later(time.Hour)
	d.deliver()
	for _, m := range box.fresh() {
		if m.To[0].Address == "hmi@ofsted.example" {
			t.Errorf("%q went to a person disabled on the server", m.Subject)
		}
	}
}

// TestNoMailBeforeAccessOpens: a member whose access opens later (an
// inspector joining for fieldwork) is told they were added, but not mailed
// about the visit's evidence before their access opens: the mail waits
// for the day, as a provider's waits for the notification call.
func TestNoMailBeforeAccessOpens(t *testing.T) {
	d := startMailDomain(t)
	ctx := context.Background()
	box := &mailbox{d: d, seen: map[string]bool{}}
	d.deliver()
	box.fresh()
	v, tl := d.openDemo()
	opens := d.svc.Calendar().AddWorkingDays(tl.Notification, 2)
	admin := d.person("ofsted", "admin@ofsted.example")
	if _, _, err := d.mustAccess(admin, policy.MemberManage).PutMember(ctx, portal.MemberRequest{Email: "joining@ofsted.example", Role: policy.RoleInspector, ValidFrom: opens.Format(time.DateOnly)}); err != nil {
		t.Fatal(err)
	}
	to := func() int {
		n := 0
		for _, m := range box.fresh() {
			for _, a := range m.To {
				if a.Address == "joining@ofsted.example" {
					n++
				}
			}
		}
		return n
	}
	d.deliver()
	if n := to(); n != 1 {
		t.Fatalf("%d mails to the member added, want the one saying so", n)
	}
	questionsTo(t, d, v, []string{policy.RoleInspector}, d.svc.Now().Add(10*time.Minute))
	d.later(10 * time.Minute)
	d.deliver()
	if n := to(); n != 0 {
		t.Errorf("%d mails about the visit to a member whose access opens on %s, before it opened", n, opens.Format(time.DateOnly))
	}
	d.at(opens.Add(time.Hour))
	d.deliver()
	if n := to(); n != 1 {
		t.Errorf("%d mails to the member once their access opened, want the one held", n)
	}
}

// TestNoMailToAMembershipThatGivesNothing: a membership whose role the
// person's organisation may not hold gives them nothing (membershipOf),
// and is mailed nothing either. Before, the outbox sent it the lead
// inspector's mail: Cafcass's coordinator, holding a lead inspector's
// membership bound while their identity provider was configured as the
// inspectorate's, was told of the provider's questions to the team.
func TestNoMailToAMembershipThatGivesNothing(t *testing.T) {
	d := startMailDomain(t)
	ctx := context.Background()
	box := &mailbox{d: d, seen: map[string]bool{}}
	v, _ := d.openDemo()
	d.deliver()
	box.fresh()
	coord := d.person("cafcass", "coordinator@cafcass.example")
	if _, err := d.svc.Store().DB().Exec(`DELETE FROM members WHERE user_id = ?`, coord.UserID); err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	if err := d.svc.Store().SeedMembers(ctx, []store.Member{{ID: "0000000000000000000000000000000c", VisitID: v.ID, Role: policy.RoleLeadInspector,
		Issuer: coord.Issuer, Subject: coord.Subject, UserID: coord.UserID, CreatedAt: now, UpdatedAt: now}}); err != nil {
		t.Fatal(err)
	}
	questionsTo(t, d, v, []string{policy.RoleLeadInspector}, d.svc.Now().Add(10*time.Minute))
	d.later(10 * time.Minute)
	d.deliver()
	lead := 0
	for _, m := range box.fresh() {
		for _, a := range m.To {
			switch a.Address {
			case "coordinator@cafcass.example":
				t.Errorf("mail %q to Cafcass's coordinator, whose lead inspector's membership gives them nothing", m.Subject)
			case "lead@ofsted.example":
				lead++
			}
		}
	}
	if lead != 1 {
		t.Errorf("%d mails to the lead inspector, want 1", lead)
	}
}
