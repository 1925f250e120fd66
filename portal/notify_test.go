package portal_test

import (
	"context"
	"os"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/ofsted-portal/evidence/deploy/devstack"
	"github.com/ofsted-portal/evidence/policy"
	"github.com/ofsted-portal/evidence/portal"
	"github.com/ofsted-portal/evidence/portal/store"
)

// startMailDomain starts the domain with mailpit as its mail server.
func startMailDomain(t *testing.T) *domain {
	t.Helper()
	bin, err := devstack.FindMailpit()
	if err != nil {
		if os.Getenv("PORTAL_REQUIRE_INTEGRATION") != "" {
			t.Fatalf("notification tests need mailpit: %v", err)
		}
		t.Skipf("skipping: %v", err)
	}
	return startDomainWith(t, func(o *devstack.Options) { o.Mailpit, o.MailpitBinary = true, bin })
}

// later moves the domain's clock on by dur.
func (d *domain) later(dur time.Duration) { d.offset.Add(int64(dur)) }

// deliver runs the outbox's worker once and returns how many it sent.
func (d *domain) deliver() int {
	d.t.Helper()
	n, err := d.svc.DeliverNotifications(context.Background())
	if err != nil {
		d.t.Fatalf("deliver: %v", err)
	}
	return n
}

// mailbox reads mailpit's messages, each once.
type mailbox struct {
	d    *domain
	seen map[string]bool
	all  []devstack.Mail
}

// fresh returns the messages that arrived since the last call, whole.
func (b *mailbox) fresh() []devstack.Mail {
	b.d.t.Helper()
	ctx := context.Background()
	list, err := b.d.Mailpit.Messages(ctx)
	if err != nil {
		b.d.t.Fatal(err)
	}
	var out []devstack.Mail
	for _, s := range list {
		if b.seen[s.ID] {
			continue
		}
		b.seen[s.ID] = true
		m, err := b.d.Mailpit.Message(ctx, s.ID)
		if err != nil {
			b.d.t.Fatal(err)
		}
		m.MessageID = s.MessageID
		out = append(out, m)
	}
	b.all = append(b.all, out...)
	return out
}

// expect checks that exactly the messages with subject arrived, one to
// each of to.
func (b *mailbox) expect(what, subject string, to ...string) []devstack.Mail {
	b.d.t.Helper()
	got := b.fresh()
	var addrs []string
	for _, m := range got {
		if m.Subject != subject || len(m.To) != 1 {
			b.d.t.Fatalf("%s: got %q to %v; want %q", what, m.Subject, m.To, subject)
		}
		addrs = append(addrs, m.To[0].Address)
	}
	sort.Strings(addrs)
	sort.Strings(to)
	if strings.Join(addrs, ",") != strings.Join(to, ",") {
		b.d.t.Fatalf("%s: %q went to %v; want %v", what, subject, addrs, to)
	}
	return got
}

// Distinctive evidence: none of it may appear in any mail.
var secrets = []string{"Zanzibar-Quokka", "Ottoline Brimblecombe", "Periwinkle-Halloran", "Marmaduke-Fennimore", "Tiberius Wobblesworth"}

// TestNotificationsByMail walks a visit through everything that sends
// mail, reads each message from mailpit, and finds no evidence in any.
func TestNotificationsByMail(t *testing.T) {
	d := startMailDomain(t)
	ctx := context.Background()
	box := &mailbox{d: d, seen: map[string]bool{}}
	v := d.demo()
	tl, err := timelineOf(d, v)
	if err != nil {
		t.Fatal(err)
	}
	cal := d.svc.Calendar()
	admin := d.person("ofsted", "admin@ofsted.example")
	lead := d.person("ofsted", "lead@ofsted.example")
	coord := d.person("cafcass", "coordinator@cafcass.example")
	uploader := d.person("cafcass", "uploader@cafcass.example")
	demoMembers := []string{"lead@ofsted.example", "hmi@ofsted.example", "qam@ofsted.example", "sao@ofsted.example", "coordinator@cafcass.example", "uploader@cafcass.example"}

	// Seeding added the demo's members: each is told, with the sign-in link.
	if n := d.deliver(); n != len(demoMembers) {
		t.Fatalf("sent %d; want %d", n, len(demoMembers))
	}
	for _, m := range box.expect("members added", "You have been added to visit FV-DEMO", demoMembers...) {
		if !strings.Contains(m.Text, d.Config.PublicURL+"/") || !strings.Contains(m.HTML, `href="`+d.Config.PublicURL+`/"`) {
			t.Fatalf("no sign-in link: %s", m.Text)
		}
		if m.To[0].Address == "uploader@cafcass.example" && !strings.Contains(m.Text, "as a provider uploader") {
			t.Fatalf("no role: %s", m.Text)
		}
		if !strings.HasPrefix(m.MessageID, "notification-") {
			t.Fatalf("Message-ID %q", m.MessageID)
		}
	}
	d.at(tl.Notification)
	d.later(-3 * time.Hour) // 9am: the batches below end the same day

	// The coordinator switches off "case files requested"; the lead names
	// two children. One message per person for the batch, when it ends.
	if err := d.svc.SaveNotificationSettings(ctx, coord, map[string]bool{portal.NoteProviderDigest: true, portal.NoteFilesArrived: true}); err != nil {
		t.Fatal(err)
	}
	req := d.mustAccess(lead, policy.RequestManage)
	for _, name := range []string{"Case of Ottoline Brimblecombe", "Case of Tiberius Wobblesworth"} {
		if _, err := req.SaveRequestItem(ctx, portal.RequestItemInput{Kind: "case_file", Title: name}, portal.AddItem); err != nil {
			t.Fatal(err)
		}
	}
	if n := d.deliver(); n != 0 {
		t.Fatalf("case files told before the batch ended: %d", n)
	}
	d.later(11 * time.Minute)
	d.deliver()
	if m := box.expect("cases named", "Case files requested for FV-DEMO", "uploader@cafcass.example"); !strings.Contains(m[0].Text, "named 2 children's cases") {
		t.Fatalf("cases named: %s", m[0].Text)
	}

	// Three files arrive: the lead hears once, when the hour ends.
	up := d.mustAccess(uploader, policy.FileUpload)
	for _, name := range []string{"1.01 Zanzibar-Quokka structure.pdf", "1.02 Zanzibar-Quokka policy.pdf", "1.03 Zanzibar-Quokka MI.xlsx"} {
		if _, err := up.Upload(ctx, portal.NewFile{Name: name, Size: 4}, strings.NewReader("data")); err != nil {
			t.Fatal(err)
		}
	}
	if n := d.deliver(); n != 0 {
		t.Fatalf("files told before the hour ended: %d", n)
	}
	d.later(time.Hour)
	d.deliver()
	box.expect("files arrived", "3 files received for FV-DEMO", "lead@ofsted.example")

	// The daily digest: the data lists are due on the next working day.
	// Scheduled three times, sent once per person.
	for range 3 {
		if err := d.svc.ScheduleNotifications(ctx); err != nil {
			t.Fatal(err)
		}
	}
	d.deliver()
	digest := box.fresh()
	if len(digest) != 2 || !strings.HasPrefix(digest[0].Subject, "FV-DEMO: ") || !strings.Contains(digest[0].Subject, " due ") {
		t.Fatalf("provider digest: %+v", digest)
	}

	// A legal hold, set and lifted: the lead and the administrator.
	hold := d.mustAccess(admin, policy.LegalHoldSet)
	if _, err := hold.SetLegalHold(ctx, true, "Reason Periwinkle-Halloran"); err != nil {
		t.Fatal(err)
	}
	d.deliver()
	box.expect("hold set", "FV-DEMO: a legal hold was set", "lead@ofsted.example", "admin@ofsted.example")
	if _, err := d.mustAccess(admin, policy.LegalHoldSet).SetLegalHold(ctx, false, "Lifted Periwinkle-Halloran"); err != nil {
		t.Fatal(err)
	}
	d.deliver()
	box.expect("hold lifted", "FV-DEMO: the legal hold was lifted", "lead@ofsted.example", "admin@ofsted.example")

	// A destruction that fails (as the sweep records it), twice in a day:
	// administrators hear once.
	for range 2 {
		rec := store.AuditRecord{Time: d.svc.Now(), ActorSubject: "portal", Role: "system", VisitID: v.ID, Action: "destruction.failed", Object: v.ID,
			Outcome: "success", Detail: `{"reason":"bucket Zanzibar-Quokka refused"}`}
		if err := d.svc.Store().Audit(ctx, rec); err != nil {
			t.Fatal(err)
		}
	}
	d.deliver()
	box.expect("destruction failed", "FV-DEMO: a destruction failed", "admin@ofsted.example")

	// Provider staff's access closes 5 working days after fieldwork: they
	// are told 2 working days before.
	last := cal.AddWorkingDays(tl.FieldworkEnd, 5)
	d.at(cal.AddWorkingDays(last, -3))
	d.svc.ScheduleNotifications(ctx)
	if n := d.deliver(); n != 0 {
		t.Fatalf("3 working days before access closes: %d sent", n)
	}
	d.at(cal.AddWorkingDays(last, -2))
	d.svc.ScheduleNotifications(ctx)
	d.svc.ScheduleNotifications(ctx)
	d.deliver()
	closing := "Your access to FV-DEMO closes on " + last.Format("Monday 2 January 2006")
	box.expect("access closing", closing, "coordinator@cafcass.example", "uploader@cafcass.example")

	// Publication, the notice, the review and the destruction.
	day := d.publish(lead, v)
	destroyOn := day.AddDate(0, 0, d.Config.RetentionDays)
	d.at(destroyOn.AddDate(0, 0, -7))
	d.svc.RunRetention(ctx)
	d.deliver()
	box.expect("notice", "FV-DEMO: evidence to be destroyed on "+destroyOn.Format("Monday 2 January 2006"), "admin@ofsted.example")
	d.at(cal.PreviousWorkingDay(destroyOn))
	d.svc.ScheduleNotifications(ctx)
	d.svc.ScheduleNotifications(ctx)
	d.deliver()
	box.expect("review", "FV-DEMO: the destruction on "+destroyOn.Format("Monday 2 January 2006")+" needs review", "admin@ofsted.example")
	d.at(destroyOn)
	if _, err := d.mustAccess(admin, policy.DestructionApprove).ApproveDestruction(ctx); err != nil {
		t.Fatal(err)
	}
	if ids, err := d.svc.RunRetention(ctx); err != nil || len(ids) != 1 {
		t.Fatalf("destruction: %v %v", ids, err)
	}
	d.deliver()
	done := box.expect("destroyed", "FV-DEMO: evidence destroyed", "admin@ofsted.example")
	if !strings.Contains(done[0].Text, d.Config.PublicURL+"/api/v1/visits/"+v.ID+"/certificate") {
		t.Fatalf("no certificate link: %s", done[0].Text)
	}

	// A visit is not announced to provider staff before its notification
	// date; the inspector hears at once.
	notify := cal.AddWorkingDays(d.svc.Today(), 3)
	nv, err := d.svc.CreateVisit(ctx, admin, portal.NewVisit{Reference: "FV-HOLD", Title: "Title Marmaduke-Fennimore", Provider: "Cafcass",
		NotificationDate: notify.Format(time.DateOnly), FieldworkStart: cal.AddWorkingDays(notify, 5).Format(time.DateOnly)})
	if err != nil {
		t.Fatal(err)
	}
	members, err := d.svc.Authorize(ctx, admin, policy.MemberManage, nv.ID, "")
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range []portal.MemberRequest{{Email: "coordinator@cafcass.example", Role: policy.RoleProviderCoordinator}, {Email: "hmi@ofsted.example", Role: policy.RoleInspector}} {
		if _, _, err := members.PutMember(ctx, m); err != nil {
			t.Fatal(err)
		}
	}
	d.deliver()
	box.expect("before the call", "You have been added to visit FV-HOLD", "hmi@ofsted.example")
	d.at(notify.AddDate(0, 0, -1))
	d.deliver()
	box.expect("the day before the call", "", []string{}...)
	d.at(notify)
	d.deliver()
	box.expect("on the day of the call", "You have been added to visit FV-HOLD", "coordinator@cafcass.example")

	// No evidence in any mail: no file name, child's name, title or free
	// text, in the subject or either body.
	kinds := map[string]bool{}
	for _, m := range box.all {
		for _, s := range secrets {
			if strings.Contains(m.Subject, s) || strings.Contains(m.Text, s) || strings.Contains(m.HTML, s) {
				t.Errorf("mail %q to %v holds %q", m.Subject, m.To, s)
			}
		}
		kinds[m.Subject] = true
	}
	if len(box.all) != 22 {
		t.Errorf("%d messages in all; want 22", len(box.all))
	}
	t.Logf("%d messages, %d subjects", len(box.all), len(kinds))
}
