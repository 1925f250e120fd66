package portal_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"

	"github.com/ofsted-portal/evidence/deploy/devstack"
	"github.com/ofsted-portal/evidence/policy"
	"github.com/ofsted-portal/evidence/portal"
	"github.com/ofsted-portal/evidence/portal/calendar"
	"github.com/ofsted-portal/evidence/portal/retention"
	"github.com/ofsted-portal/evidence/portal/store"
)

// domain is the portal's domain on a real database and object store, with
// no HTTP: the rules are exercised by calling it as the web and the command
// line do.
type domain struct {
	*devstack.Stack
	svc    *portal.Service
	offset atomic.Int64 // added to the wall clock
	t      *testing.T
	log    *testLog // the portal's log
}

func startDomain(t *testing.T) *domain {
	t.Helper()
	return startDomainOn(t, nil, nil)
}

// startDomainOn starts the domain on an S3 server of the test's (nil: a
// MinIO of its own), with extra configuration.
func startDomainOn(t *testing.T, s3 *devstack.S3Endpoint, env map[string]string) *domain {
	t.Helper()
	return startDomainWith(t, func(o *devstack.Options) { o.S3, o.Env = s3, env })
}

// startDomainWith starts the domain with options changed by opt.
func startDomainWith(t *testing.T, opt func(*devstack.Options)) *domain {
	t.Helper()
	o := devstack.Options{Dir: t.TempDir(), DomainOnly: true}
	opt(&o)
	s3 := o.S3
	var bin string
	if s3 == nil {
		var err error
		if bin, err = devstack.FindMinIO(); err != nil {
			if os.Getenv("PORTAL_REQUIRE_INTEGRATION") != "" {
				t.Fatalf("domain tests need MinIO: %v", err)
			}
			t.Skipf("skipping: %v", err)
		}
	}
	d := &domain{t: t, log: &testLog{}}
	clock := func() time.Time { return time.Now().Add(time.Duration(d.offset.Load())) }
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	log := d.log
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("the portal's log:\n%s", log.String())
		}
	})
	o.MinIOBinary, o.Logger, o.PortalOptions = bin, portal.NewLogger(log, "warn"), append([]portal.Option{portal.WithClock(clock)}, o.PortalOptions...)
	st, err := devstack.Start(ctx, o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(st.Close)
	d.Stack, d.svc = st, st.Portal
	return d
}

// testLog keeps the portal's log for a test that fails: what a run
// refused, skipped or retried is what explains most failures here.
type testLog struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *testLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *testLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

// at moves the domain's clock to noon (London) on the civil date day.
func (d *domain) at(day time.Time) {
	y, m, dd := day.Date()
	noon := time.Date(y, m, dd, 12, 0, 0, 0, calendar.London)
	d.offset.Store(int64(time.Until(noon)))
}

// person signs a demo account in (the web door does this after OpenID
// Connect), binding their memberships, and returns them as an actor.
func (d *domain) person(idp, email string) portal.Actor {
	d.t.Helper()
	var issuer string
	for _, p := range d.Config.IdPs {
		if p.Name == idp {
			issuer = p.Issuer
		}
	}
	a, err := d.svc.SignIn(context.Background(), portal.Actor{Via: "test"}, portal.Identity{IdP: idp, Issuer: issuer, Subject: "sub-" + email, Email: email})
	if err != nil {
		d.t.Fatal(err)
	}
	a.Via = "test"
	return a
}

func (d *domain) demo() store.Visit {
	d.t.Helper()
	v, err := d.svc.Store().VisitByReference(context.Background(), portal.DemoReference)
	if err != nil {
		d.t.Fatal(err)
	}
	return v
}

func (d *domain) access(a portal.Actor, action policy.Action, fileID string) (*portal.Access, error) {
	return d.svc.Authorize(context.Background(), a, action, d.demo().ID, fileID)
}

func (d *domain) mustAccess(a portal.Actor, action policy.Action) *portal.Access {
	d.t.Helper()
	acc, err := d.access(a, action, "")
	if err != nil {
		d.t.Fatalf("%s %s: %v", a.Email, action, err)
	}
	return acc
}

// replace sends body as a new version of the file of, as who.
func (d *domain) replace(who portal.Actor, of portal.FileView, body string) portal.FileView {
	d.t.Helper()
	rep, err := d.access(who, policy.FileReplace, of.ID)
	if err != nil {
		d.t.Fatal(err)
	}
	f, err := rep.ReplaceFile(context.Background(), int64(len(body)), strings.NewReader(body))
	if err != nil {
		d.t.Fatal(err)
	}
	return f
}

func kindOf(err error) portal.Kind {
	if e, ok := portal.AsError(err); ok {
		return e.Kind
	}
	return 0
}

// TestDomainAccessWindows: access opens on the notification date (for the
// lead inspector, on the day the visit was set up; for provider staff the
// visit does not exist before it), provider staff lose it five working days
// after fieldwork, inspectors at publication; the lead inspector keeps it.
// Closed windows are "locked" with the reason and, before opening, the time
// it opens.
func TestDomainAccessWindows(t *testing.T) {
	d := startDomain(t)
	ctx := context.Background()
	v := d.demo()
	tl, err := timelineOf(d, v)
	if err != nil {
		t.Fatal(err)
	}
	uploader := d.person("cafcass", "uploader@cafcass.example")
	hmi := d.person("ofsted", "hmi@ofsted.example")
	lead := d.person("ofsted", "lead@ofsted.example")

	d.at(tl.Notification.AddDate(0, 0, -3))
	if _, err = d.access(uploader, policy.VisitView, ""); kindOf(err) != portal.KindNotFound {
		t.Fatalf("uploader before notification: %v, want not found (the visit is unannounced)", err)
	}
	if vs, err := d.svc.Visits(ctx, uploader, ""); err != nil || len(vs.Visits) != 0 {
		t.Fatalf("uploader's visits before notification: %v %v", vs, err)
	}
	// The explanation an administrator asks for says the same.
	admin := d.person("ofsted", "admin@ofsted.example")
	ms, err := d.mustAccess(admin, policy.MemberManage).Members(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range ms {
		if m.Email != "uploader@cafcass.example" {
			continue
		}
		e, err := d.mustAccess(admin, policy.MemberManage).Explain(ctx, m.ID, string(policy.VisitView), "")
		if err != nil || e.Allow || e.Refusal != portal.KindNotFound || !strings.Contains(e.Reason, "notification") {
			t.Fatalf("explained before notification: allow %v, refusal %v, %q (%v); want not found, the visit unannounced", e.Allow, e.Refusal, e.Reason, err)
		}
	}
	// An inspector whose window opens later is told when.
	later := tl.Notification.AddDate(0, 0, 1)
	if _, _, err := d.mustAccess(admin, policy.MemberManage).PutMember(ctx, portal.MemberRequest{Email: "hmi@ofsted.example", Role: policy.RoleInspector, ValidFrom: later.Format(time.DateOnly)}); err != nil {
		t.Fatal(err)
	}
	_, err = d.access(hmi, policy.FileList, "")
	var pe *portal.Error
	if !errors.As(err, &pe) || pe.Kind != portal.KindLocked || pe.Code != "window_closed" || !pe.Opens.Equal(later) || !strings.Contains(pe.Msg, "opens on") {
		t.Fatalf("inspector before their window: %v (%+v)", err, pe)
	}
	if _, _, err := d.mustAccess(admin, policy.MemberManage).PutMember(ctx, portal.MemberRequest{Email: "hmi@ofsted.example", Role: policy.RoleInspector}); err != nil {
		t.Fatal(err)
	}

	d.at(tl.Notification)
	up := d.mustAccess(uploader, policy.FileUpload)
	if _, err := up.Upload(ctx, portal.NewFile{Name: "1.01 Structure.pdf", Size: 5}, strings.NewReader("hello")); err != nil {
		t.Fatalf("upload in window: %v", err)
	}

	closes := d.svc.Calendar().AddWorkingDays(tl.FieldworkEnd, 5)
	d.at(closes)
	d.mustAccess(uploader, policy.VisitView)
	d.at(closes.AddDate(0, 0, 1))
	if _, err := d.access(uploader, policy.VisitView, ""); kindOf(err) != portal.KindLocked {
		t.Fatalf("uploader after the fifth working day after fieldwork: %v", err)
	}
	d.mustAccess(hmi, policy.FileList)

	// Publication closes the inspectors' window, not the lead's.
	day := d.publish(lead, v)
	d.at(day.AddDate(0, 0, 1))
	if _, err := d.access(hmi, policy.FileList, ""); kindOf(err) != portal.KindLocked {
		t.Fatalf("inspector after publication: %v", err)
	}
	d.mustAccess(lead, policy.FileList)
}

// timelineOf is the visit's timeline, as an administrator sees it.
func timelineOf(d *domain, v store.Visit) (*timelineView, error) {
	admin := d.person("ofsted", "admin@ofsted.example")
	a, err := d.svc.Authorize(context.Background(), admin, policy.VisitView, v.ID, "")
	if err != nil {
		return nil, err
	}
	tl := a.Status.Timeline
	return &timelineView{Notification: tl.Notification, FieldworkEnd: tl.FieldworkEnd}, nil
}

type timelineView struct{ Notification, FieldworkEnd time.Time }

// openDemo is the demo visit and its timeline, the clock at noon on its
// notification date: the provider's access open, uploads taken.
func (d *domain) openDemo() (store.Visit, *timelineView) {
	d.t.Helper()
	v := d.demo()
	tl, err := timelineOf(d, v)
	if err != nil {
		d.t.Fatal(err)
	}
	d.at(tl.Notification)
	return v, tl
}

// publish has lead record the draft and final letters on the two days
// after fieldwork ended and the publication on the first day after
// Cafcass's time to complain, moving the clock to each; it returns the
// publication day.
func (d *domain) publish(lead portal.Actor, v store.Visit) time.Time {
	d.t.Helper()
	tl, err := timelineOf(d, v)
	if err != nil {
		d.t.Fatal(err)
	}
	for _, ev := range d.letterDays(tl.FieldworkEnd) {
		d.at(ev.on)
		if _, err := d.mustAccess(lead, policy.VisitRecordEvent).RecordEvent(context.Background(), ev.event, ev.on.Format(time.DateOnly)); err != nil {
			d.t.Fatalf("%s: %v", ev.event, err)
		}
	}
	return d.publishedOn(tl.FieldworkEnd)
}

// letterEvent is a letter event and its date.
type letterEvent struct {
	event string
	on    time.Time
}

// letterDays is the earliest a letter's events can be recorded after
// fieldwork ending on end: the draft and the final letter on the two days
// after it, the publication on the day after Cafcass's time to complain.
func (d *domain) letterDays(end time.Time) []letterEvent {
	final := end.AddDate(0, 0, 2)
	return []letterEvent{{"draft_sent", end.AddDate(0, 0, 1)}, {"final_sent", final}, {"published", d.publishedOn(end)}}
}

// publishedOn is the publication day of letterDays(end).
// noticeGiven publishes v (lead records the letter's events), moves the
// clock to its destruction date and runs retention once: the notice is
// given.
func (d *domain) noticeGiven(lead portal.Actor, v store.Visit) {
	d.t.Helper()
	day := d.publish(lead, v)
	d.at(day.AddDate(0, 0, d.Config.RetentionDays))
	if _, err := d.svc.RunRetention(context.Background()); err != nil {
		d.t.Fatal(err)
	}
}

func (d *domain) publishedOn(end time.Time) time.Time {
	return retention.ComplaintsUntil(d.svc.Calendar(), end.AddDate(0, 0, 2)).AddDate(0, 0, 1)
}

// TestDomainRestrictions: child-level data is for the lead, the QAM and the
// analysts; an administrator's change applies to the next decision.
func TestDomainRestrictions(t *testing.T) {
	d := startDomain(t)
	ctx := context.Background()
	uploader := d.person("cafcass", "uploader@cafcass.example")
	hmi := d.person("ofsted", "hmi@ofsted.example")
	sao := d.person("ofsted", "sao@ofsted.example")
	admin := d.person("ofsted", "admin@ofsted.example")
	if _, err := d.mustAccess(uploader, policy.FileUpload).Upload(ctx, portal.NewFile{Name: "children.xlsx", Item: portal.ItemChildLevelData, Size: 4}, strings.NewReader("kids")); err != nil {
		t.Fatal(err)
	}
	names := func(a portal.Actor) []string {
		fs, err := d.mustAccess(a, policy.FileList).Files(ctx)
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, f := range fs {
			out = append(out, f.Name)
		}
		return out
	}
	if got := names(hmi); slices.Contains(got, "children.xlsx") {
		t.Fatalf("inspector sees child-level data: %v", got)
	}
	if got := names(sao); !slices.Contains(got, "children.xlsx") {
		t.Fatalf("analyst does not see child-level data: %v", got)
	}
	if _, err := d.mustAccess(admin, policy.VisitManage).SetRestriction(ctx, portal.ItemChildLevelData, false, nil); err != nil {
		t.Fatal(err)
	}
	if got := names(hmi); !slices.Contains(got, "children.xlsx") {
		t.Fatalf("inspector does not see the unrestricted item: %v", got)
	}
	// The administrator manages but reads nothing.
	if _, err := d.access(admin, policy.FileList, ""); kindOf(err) != portal.KindForbidden {
		t.Fatalf("administrator listing files: %v", err)
	}
}

// TestDomainRestrictionsOneItemNumber: a restriction on an item holds
// however the item's number is written: a name that starts "1.4" is filed
// under 1.04, an item sent as 01.04 is refused with the form to use, and a
// restriction stored under another form before there was one form still
// applies to the item.
func TestDomainRestrictionsOneItemNumber(t *testing.T) {
	d := startDomain(t)
	ctx := context.Background()
	uploader := d.person("cafcass", "uploader@cafcass.example")
	hmi := d.person("ofsted", "hmi@ofsted.example")
	admin := d.person("ofsted", "admin@ofsted.example")
	if _, err := d.mustAccess(admin, policy.VisitManage).SetRestriction(ctx, "01.04", true, []string{policy.RoleLeadInspector}); kindOf(err) != portal.KindInvalid || !strings.Contains(err.Error()+errMsg(err), "1.04") {
		t.Fatalf("restricting 01.04: %v (%s), want refused naming 1.04", err, errMsg(err))
	}
	if _, err := d.mustAccess(admin, policy.VisitManage).SetRestriction(ctx, "1.04", true, []string{policy.RoleLeadInspector}); err != nil {
		t.Fatal(err)
	}
	up := d.mustAccess(uploader, policy.FileUpload)
	f, err := up.Upload(ctx, portal.NewFile{Name: "1.4 Serious incidents.xlsx", Size: 2}, strings.NewReader("si"))
	if err != nil || f.Item != "1.04" {
		t.Fatalf("upload of \"1.4 Serious incidents.xlsx\": %+v, %v; want filed under 1.04", f, err)
	}
	if _, err := up.Upload(ctx, portal.NewFile{Name: "SI log.xlsx", Item: "01.04", Size: 2}, strings.NewReader("si")); kindOf(err) != portal.KindInvalid || !strings.Contains(errMsg(err), "1.04") {
		t.Fatalf("upload with item 01.04: %v (%s), want refused naming 1.04", err, errMsg(err))
	}
	// A restriction stored as 1.5 (before there was one form) holds for 1.05.
	if err := d.svc.Store().PutRestriction(ctx, store.Restriction{VisitID: d.demo().ID, Code: "1.5", Restricted: true, Roles: []string{policy.RoleLeadInspector}}, time.Now()); err != nil {
		t.Fatal(err)
	}
	if _, err := up.Upload(ctx, portal.NewFile{Name: "1.05 Self-evaluation.pdf", Size: 2}, strings.NewReader("se")); err != nil {
		t.Fatal(err)
	}
	fs, err := d.mustAccess(hmi, policy.FileList).Files(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range fs {
		if f.Item == "1.04" || f.Item == "1.05" {
			t.Fatalf("inspector sees %q filed under restricted item %s", f.Name, f.Item)
		}
	}
}

func errMsg(err error) string {
	if e, ok := portal.AsError(err); ok {
		return e.Msg
	}
	return ""
}

// TestDomainLetterEvents: events in order, dated no later than today and
// not before fieldwork ends; a complaint stops publication; refusals are
// conflicts with a sentence, and are recorded with the actor's route.
func TestDomainLetterEvents(t *testing.T) {
	d := startDomain(t)
	ctx := context.Background()
	v := d.demo()
	tl, err := timelineOf(d, v)
	if err != nil {
		t.Fatal(err)
	}
	lead := d.person("ofsted", "lead@ofsted.example")
	hmi := d.person("ofsted", "hmi@ofsted.example")
	day := tl.FieldworkEnd.AddDate(0, 0, 3)
	// The final letter goes on date(2); publication can be recorded from
	// date(pub), the day after Cafcass's time to complain.
	pub := int(retention.ComplaintsUntil(d.svc.Calendar(), day.AddDate(0, 0, 2)).AddDate(0, 0, 1).Sub(day).Hours() / 24)
	d.at(day.AddDate(0, 0, pub+10))
	acc := d.mustAccess(lead, policy.VisitRecordEvent)
	date := func(n int) string { return day.AddDate(0, 0, n).Format(time.DateOnly) }
	for _, tc := range []struct {
		event, date string
		kind        portal.Kind
	}{
		{"final_sent", date(0), portal.KindConflict},
		{"published", date(0), portal.KindConflict},
		{"draft_sent", date(pub + 30), portal.KindInvalid},
		{"drafted", date(0), portal.KindInvalid},
		{"draft_sent", tl.FieldworkEnd.AddDate(0, 0, -1).Format(time.DateOnly), portal.KindConflict},
		{"draft_sent", date(0), 0},
		{"complaint_received", date(1), 0},
		{"final_sent", date(2), 0},
		{"published", date(pub), portal.KindConflict},
		{"complaint_resolved", date(pub), 0},
		{"published", date(pub), 0},
		{"draft_sent", date(pub + 1), portal.KindConflict},
	} {
		_, err := acc.RecordEvent(ctx, tc.event, tc.date)
		if kindOf(err) != tc.kind || tc.kind == 0 && err != nil {
			t.Fatalf("%s on %s: %v, want kind %d", tc.event, tc.date, err, tc.kind)
		}
	}
	view := acc.View(ctx)
	if view.State != portal.StatePublished || view.DestroyOn == nil || *view.DestroyOn != day.AddDate(0, 0, pub+d.Config.RetentionDays).Format(time.DateOnly) {
		t.Fatalf("after publication: %+v", view)
	}
	// An inspector may not record events: refused and recorded.
	if _, err := d.access(hmi, policy.VisitRecordEvent, ""); kindOf(err) != portal.KindLocked && kindOf(err) != portal.KindForbidden {
		t.Fatalf("inspector recording an event: %v", err)
	}
	recs, err := d.svc.Store().AuditRecords(ctx, store.AuditFilter{Action: "request.denied", VisitID: v.ID})
	if err != nil || len(recs) == 0 || !strings.Contains(recs[len(recs)-1].Detail, `"route":"test"`) || recs[len(recs)-1].ActorEmail != "hmi@ofsted.example" {
		t.Fatalf("refusal records: %v %+v", err, recs)
	}
}

// TestDomainRetention: a published visit past its retention is destroyed
// by the sweep: members get "gone", administrators the certificate.
func TestDomainRetention(t *testing.T) {
	d := startDomain(t)
	ctx := context.Background()
	v := d.demo()
	lead := d.person("ofsted", "lead@ofsted.example")
	admin := d.person("ofsted", "admin@ofsted.example")
	day := d.publish(lead, v)
	d.at(day.AddDate(0, 0, d.Config.RetentionDays-1))
	if ids, err := d.svc.RunRetention(ctx); err != nil || len(ids) != 0 {
		t.Fatalf("a day early: %v %v", ids, err)
	}
	d.at(day.AddDate(0, 0, d.Config.RetentionDays))
	// Not before the notice has run, or an administrator approved.
	if ids, err := d.svc.RunRetention(ctx); err != nil || len(ids) != 0 {
		t.Fatalf("on the date, notice given just now: %v %v", ids, err)
	}
	if _, err := d.mustAccess(lead, policy.VisitView).ApproveDestruction(ctx); kindOf(err) != portal.KindForbidden {
		t.Fatalf("a lead inspector approving: %v", err)
	}
	if _, err := d.mustAccess(admin, policy.DestructionApprove).ApproveDestruction(ctx); err != nil {
		t.Fatal(err)
	}
	if ids, err := d.svc.RunRetention(ctx); err != nil || len(ids) != 1 || ids[0] != v.ID {
		t.Fatalf("approved: %v %v", ids, err)
	}
	if _, err := d.access(lead, policy.VisitView, ""); kindOf(err) != portal.KindGone {
		t.Fatalf("lead after destruction: %v", err)
	}
	cert, err := d.mustAccess(admin, policy.CertificateView).Certificate(ctx)
	if err != nil || cert.Reference != portal.DemoReference || len(cert.Signed) == 0 {
		t.Fatalf("certificate: %v %+v", err, cert)
	}
}

// TestCertificateIsTheVisits: a visit's certificate is served, and shown
// on its record, only if it is that visit's: a certificate the portal
// signed for another visit, put in the visit's row by someone who can
// write to the database, is not presented as this one's.
func TestCertificateIsTheVisits(t *testing.T) {
	d := startDomain(t)
	ctx := context.Background()
	v := d.demo()
	lead := d.person("ofsted", "lead@ofsted.example")
	admin := d.person("ofsted", "admin@ofsted.example")
	d.noticeGiven(lead, v)
	if _, err := d.mustAccess(admin, policy.DestructionApprove).ApproveDestruction(ctx); err != nil {
		t.Fatal(err)
	}
	if ids, err := d.svc.RunRetention(ctx); err != nil || len(ids) != 1 {
		t.Fatalf("approved: %v %v", ids, err)
	}
	key, err := retention.LoadSigningKey(d.Config.SigningKey)
	if err != nil {
		t.Fatal(err)
	}
	other, err := retention.Sign(retention.Certificate{VisitID: "0123456789abcdef0123456789abcdef", Reference: "FV-OTHER"}, key)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := d.svc.Store().DB().Exec(`UPDATE destructions SET certificate = ? WHERE visit_id = ?`, other, v.ID); err != nil {
		t.Fatal(err)
	}
	acc := d.mustAccess(admin, policy.CertificateView)
	if cert, err := acc.Certificate(ctx); err == nil {
		t.Fatalf("another visit's certificate served as %s's: %s", v.Reference, cert.Signed)
	}
	if rec, err := acc.DestroyedRecord(ctx); err == nil {
		t.Fatalf("another visit's certificate shown on %s's record: %+v", v.Reference, rec.Certificate)
	}
}

// TestLegalHoldTooLate: an administrator sets a legal hold on a visit
// whose destruction the sweep began after the request read the visit. The
// hold cannot stop it, so it is refused with the reason, and not stored.
func TestLegalHoldTooLate(t *testing.T) {
	d := startDomain(t)
	ctx := context.Background()
	admin := d.person("ofsted", "admin@ofsted.example")
	hold := d.mustAccess(admin, policy.LegalHoldSet)
	if err := d.svc.Store().SetVisitState(ctx, d.demo().ID, portal.StateDestroying); err != nil {
		t.Fatal(err)
	}
	_, err := hold.SetLegalHold(ctx, true, "Judicial review")
	if e, ok := portal.AsError(err); !ok || e.Kind != portal.KindConflict || !strings.Contains(e.Msg, "destruction has begun") {
		t.Fatalf("hold after destruction began: %v", err)
	}
	if h, err := d.svc.Store().GetLegalHold(ctx, d.demo().ID); err != nil || h.On {
		t.Fatalf("hold stored: %+v %v", h, err)
	}
}

// TestBackgroundRunsStatementsDoNotGrow: a retention run (the sweep, then
// the review that counts visits for the metrics) and a round of the
// scheduled notifications (every minute) send as many statements to the
// database with 300 live and 300 destroyed visits, each with a member, as
// with 10 of each: live visits are read a page at a time (500 a page),
// their holds, letter events, notices, failures and members with them,
// and destroyed visits are counted, not read. The visits added are old
// (past their fieldwork), as most a portal holds are: a visit that accepts
// uploads costs the notifications its items, and those are as many as the
// inspections under way, not as the visits held.
func TestBackgroundRunsStatementsDoNotGrow(t *testing.T) {
	d := startDomain(t)
	ctx := context.Background()
	st := d.svc.Store()
	lead := d.person("ofsted", "lead@ofsted.example")
	n := 0
	seed := func(live, destroyed int, age int) {
		t.Helper()
		prefix := fmt.Sprintf("FV-RUN-%d", n)
		n++
		vs, err := d.svc.SeedVisits(ctx, live+destroyed, prefix, lead.UserID)
		if err != nil {
			t.Fatal(err)
		}
		if age > 0 {
			nd := time.Now().AddDate(0, 0, -age)
			if _, err := st.DB().Exec(`UPDATE visits SET notification_date = ?, fieldwork_start = ? WHERE reference LIKE ?`,
				nd.Format(time.DateOnly), nd.AddDate(0, 0, 7).Format(time.DateOnly), prefix+"-%"); err != nil {
				t.Fatal(err)
			}
		}
		var gone []string
		for _, v := range vs[live:] {
			gone = append(gone, v.ID)
		}
		if err := st.SeedDestroyed(ctx, gone, time.Now()); err != nil {
			t.Fatal(err)
		}
	}
	count := func(what string, run func(context.Context) error) *store.Counter {
		t.Helper()
		if err := run(ctx); err != nil {
			t.Fatal(what, err)
		}
		cctx, c := store.WithCounter(ctx)
		if err := run(cctx); err != nil {
			t.Fatal(what, err)
		}
		return c
	}
	runs := map[string]func(context.Context) error{
		"retention run":           func(ctx context.Context) error { _, err := d.svc.RunRetention(ctx); return err },
		"scheduled notifications": d.svc.ScheduleNotifications,
	}
	small := map[string]*store.Counter{}
	seed(10, 10, 0)
	for what, run := range runs {
		small[what] = count(what, run)
	}
	seed(290, 290, 120)
	for what, run := range runs {
		large := count(what, run)
		t.Logf("%s: %d statements with 10 live and 10 destroyed visits, %d with 300 of each", what, small[what].N(), large.N())
		if small[what].N() != large.N() {
			first := func(qs []string) []string { return qs[:min(len(qs), 12)] }
			t.Errorf("%s: %d statements with 10 live and 10 destroyed visits, %d with 300 of each:\n   %q\n   %q", what, small[what].N(), large.N(), first(small[what].Statements()), first(large.Statements()))
		}
	}
}

// oneFileUploaded starts the domain at the demo visit's notification
// date, with "1.01 a.pdf" uploaded by the provider's uploader, and returns
// the visit, its timeline, the uploader and the file.
func oneFileUploaded(t *testing.T) (*domain, store.Visit, *timelineView, portal.Actor, portal.FileView) {
	t.Helper()
	return oneFileUploadedOn(t, startDomain(t))
}

// oneFileUploadedOn is oneFileUploaded on a domain already started.
func oneFileUploadedOn(t *testing.T, d *domain) (*domain, store.Visit, *timelineView, portal.Actor, portal.FileView) {
	t.Helper()
	v := d.demo()
	tl, err := timelineOf(d, v)
	if err != nil {
		t.Fatal(err)
	}
	d.at(tl.Notification)
	uploader := d.person("cafcass", "uploader@cafcass.example")
	a, err := d.mustAccess(uploader, policy.FileUpload).Upload(context.Background(), portal.NewFile{Name: "1.01 a.pdf", Size: 5}, strings.NewReader("first"))
	if err != nil {
		t.Fatal(err)
	}
	return d, v, tl, uploader, a
}

// holdingReader is a file's body that sets a legal hold on the visit as
// its first bytes are read: the hold comes while the upload streams.
type holdingReader struct {
	r    io.Reader
	hold func()
	once sync.Once
}

func (h *holdingReader) Read(p []byte) (int, error) {
	h.once.Do(h.hold)
	return h.r.Read(p)
}

// TestRemovedWhileUploadingStoresNothing: a member removed while their
// upload streams (a large file takes minutes over home broadband) does
// not have the file stored once the body ends: the decision, taken as the
// request began, is taken again before the file is committed when it is
// older than a moment, and the refusal stands. Nothing is left in the
// bucket or the list.
func TestRemovedWhileUploadingStoresNothing(t *testing.T) {
	d, v, _, uploader, _ := oneFileUploaded(t)
	ctx := context.Background()
	admin := d.person("ofsted", "admin@ofsted.example")
	remove := func() {
		ms, err := d.mustAccess(admin, policy.MemberManage).Members(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range ms {
			if m.Email == "uploader@cafcass.example" {
				if err := d.mustAccess(admin, policy.MemberManage).RemoveMember(ctx, m.ID); err != nil {
					t.Fatal(err)
				}
			}
		}
		d.later(time.Minute) // the rest of a large file
	}
	acc := d.mustAccess(uploader, policy.FileUpload)
	f, err := acc.Upload(ctx, portal.NewFile{Name: "1.02 b.pdf", Size: 11}, &holdingReader{r: strings.NewReader("second file"), hold: remove})
	if err == nil {
		t.Fatalf("an upload whose uploader was removed as it streamed was stored (file %s)", f.ID)
	}
	files, err := d.svc.Store().Files(ctx, v.ID)
	if err != nil || len(files) != 1 {
		t.Fatalf("the visit holds %d files (%v), want the one stored before", len(files), err)
	}
	objects := 0
	for o := range d.svc.Blobs().Client().ListObjects(ctx, v.Bucket, minio.ListObjectsOptions{Recursive: true}) {
		if o.Err == nil && strings.HasPrefix(o.Key, files[0].ID+"/") {
			continue
		}
		objects++
	}
	if objects != 0 {
		t.Errorf("%d objects of the refused upload left in the bucket", objects)
	}

	// A resumable upload's segment likewise: decided again before it is
	// committed, and the upload stays as it was.
	d2, v2, _, uploader2, _ := oneFileUploaded(t)
	admin2 := d2.person("ofsted", "admin@ofsted.example")
	up := d2.mustAccess(uploader2, policy.FileUpload)
	r, err := up.CreateResumable(ctx, portal.NewFile{Name: "1.02 b.pdf", Size: 11})
	if err != nil {
		t.Fatal(err)
	}
	d, admin = d2, admin2
	if r, f, err := up.Append(ctx, r, &holdingReader{r: strings.NewReader("second file"), hold: remove}, nil); err == nil || f != nil || r.SegmentsDone != 0 {
		t.Fatalf("a resumable upload whose uploader was removed as it streamed: %d segments committed, file %v (%v)", r.SegmentsDone, f, err)
	}
	if files, err := d2.svc.Store().Files(ctx, v2.ID); err != nil || len(files) != 1 {
		t.Fatalf("the visit holds %d files (%v), want the one stored before", len(files), err)
	}
}

// TestHoldAfterTheDecisionFreezesTheEvidence: a legal hold set after a
// request was allowed (by an administrator, as the request runs) still
// stops it changing the evidence: a delete, a re-filing, a purge, and a
// new version whose upload was streaming when the hold came. Each is
// refused as the policy refuses it, and the file is as it was.
func TestHoldAfterTheDecisionFreezesTheEvidence(t *testing.T) {
	d, v, tl, uploader, a := oneFileUploaded(t)
	ctx := context.Background()
	lead := d.person("ofsted", "lead@ofsted.example")
	admin := d.person("ofsted", "admin@ofsted.example")
	st := d.svc.Store()
	hold := func(on bool) {
		t.Helper()
		if _, err := st.SetLegalHold(ctx, v.ID, store.LegalHold{On: on, At: time.Now()}); err != nil {
			t.Fatal(err)
		}
	}
	refused := func(what string, err error) {
		t.Helper()
		if e, ok := portal.AsError(err); !ok || e.Kind != portal.KindLocked || e.Code != "legal_hold" {
			t.Errorf("%s under a hold set after the decision: %v", what, err)
		}
		f, ferr := st.File(ctx, v.ID, a.ID)
		if ferr != nil || !f.Live() || f.Item != "1.01" {
			t.Fatalf("after the %s: %+v %v", what, f, ferr)
		}
		hold(false)
	}
	del, err := d.access(uploader, policy.FileDelete, a.ID)
	if err != nil {
		t.Fatal(err)
	}
	hold(true)
	_, err = del.DeleteFile(ctx)
	refused("delete", err)

	ref, err := d.access(lead, policy.FileRefile, a.ID)
	if err != nil {
		t.Fatal(err)
	}
	hold(true)
	_, err = ref.Refile(ctx, "1.03")
	refused("re-filing", err)

	rep, err := d.access(uploader, policy.FileReplace, a.ID)
	if err != nil {
		t.Fatal(err)
	}
	_, err = rep.ReplaceFile(ctx, 6, &holdingReader{r: strings.NewReader("second"), hold: func() { hold(true) }})
	refused("new version", err)
	if fs, err := st.Files(ctx, v.ID); err != nil || len(fs) != 1 {
		t.Fatalf("files after the refused version: %d %v", len(fs), err)
	}

	// A purge, once the provider can no longer delete.
	d.at(tl.FieldworkEnd.AddDate(0, 0, 14))
	pur, err := d.access(admin, policy.FilePurge, a.ID)
	if err != nil {
		t.Fatal(err)
	}
	hold(true)
	refused("purge", pur.Purge(ctx, "Uploaded to the wrong visit"))
}

// TestResumableRefusedAtTheEndIsNotComplete: a resumable upload of a new
// version whose last segment is stored as a legal hold is set is refused,
// and must not look complete: its offset stays before the last segment, so
// a client that asks (HEAD) sends it again, and once the hold is lifted the
// upload completes. Before, the last segment was committed in a
// transaction of its own: the offset said "all of it" and no file existed.
func TestResumableRefusedAtTheEndIsNotComplete(t *testing.T) {
	d, v, _, uploader, old := oneFileUploaded(t)
	ctx := context.Background()
	st := d.svc.Store()
	up := d.mustAccess(uploader, policy.FileUpload)
	r, err := up.CreateResumable(ctx, portal.NewFile{Name: "1.01 a.pdf", Size: 6, OnConflict: portal.OnConflictReplace})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.SetLegalHold(ctx, v.ID, store.LegalHold{On: true, At: time.Now()}); err != nil {
		t.Fatal(err)
	}
	_, _, err = up.Append(ctx, r, strings.NewReader("second"), nil)
	if e, ok := portal.AsError(err); !ok || e.Code != "legal_hold" {
		t.Fatalf("the last segment under a hold: %v", err)
	}
	r, err = st.Resumable(ctx, v.ID, r.ID)
	if err != nil {
		t.Fatal(err)
	}
	if r.Offset() == r.Length || !r.CompletedAt.IsZero() {
		t.Fatalf("refused upload looks complete: offset %d of %d, completed %v", r.Offset(), r.Length, r.CompletedAt)
	}
	if _, err := st.SetLegalHold(ctx, v.ID, store.LegalHold{On: false, At: time.Now()}); err != nil {
		t.Fatal(err)
	}
	r, f, err := up.Append(ctx, r, strings.NewReader("second"[r.Offset():]), nil)
	if err != nil || f == nil {
		t.Fatalf("sent again once the hold was lifted: %v %v", f, err)
	}
	if o, err := st.File(ctx, v.ID, old.ID); err != nil || o.SupersededBy != f.ID {
		t.Fatalf("the earlier version: %+v %v", o, err)
	}
}

// replacedRecords are the trail's file.replaced records of a file, each
// as "<by>:<outcome>".
func replacedRecords(t *testing.T, d *domain, v store.Visit, fileID string) []string {
	t.Helper()
	recs, err := d.svc.Store().AuditRecords(context.Background(), store.AuditFilter{VisitID: v.ID, Action: "file.replaced"})
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, r := range recs {
		var detail struct{ By string }
		json.Unmarshal([]byte(r.Detail), &detail)
		if r.Object == fileID {
			out = append(out, detail.By+":"+r.Outcome)
		}
	}
	return out
}

// TestReplacedOnlyWhenTheVersionIsStored: the trail says a file was
// replaced when, and only when, its new version is stored (the record is
// written in the transaction that commits the version). A version refused
// at its commit (a legal hold set while it streamed), or whose body fell
// short, replaced nothing, and the file stays live. Before, the record
// was written as the name was taken, before a byte was read: the trail
// said "replaced" of files that never were.
func TestReplacedOnlyWhenTheVersionIsStored(t *testing.T) {
	d, v, _, uploader, a := oneFileUploaded(t)
	ctx := context.Background()
	st := d.svc.Store()
	hold := func(on bool) {
		t.Helper()
		if _, err := st.SetLegalHold(ctx, v.ID, store.LegalHold{On: on, At: time.Now()}); err != nil {
			t.Fatal(err)
		}
	}
	rep, err := d.access(uploader, policy.FileReplace, a.ID)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := rep.ReplaceFile(ctx, 6, &holdingReader{r: strings.NewReader("second"), hold: func() { hold(true) }}); err == nil {
		t.Fatal("a new version under a hold set as it streamed was stored")
	}
	hold(false)
	if got := replacedRecords(t, d, v, a.ID); len(got) != 0 {
		t.Errorf("version refused at its commit: the trail says replaced: %v", got)
	}
	if _, err := rep.ReplaceFile(ctx, 6, strings.NewReader("sec")); err == nil {
		t.Fatal("a new version whose body fell short was stored")
	}
	if got := replacedRecords(t, d, v, a.ID); len(got) != 0 {
		t.Errorf("version whose body fell short: the trail says replaced: %v", got)
	}

	// Resumable: refused at its last segment, then sent again and stored.
	up := d.mustAccess(uploader, policy.FileUpload)
	r, err := up.CreateResumable(ctx, portal.NewFile{Name: "1.01 a.pdf", Size: 6, OnConflict: portal.OnConflictReplace})
	if err != nil {
		t.Fatal(err)
	}
	hold(true)
	if _, _, err := up.Append(ctx, r, strings.NewReader("second"), nil); err == nil {
		t.Fatal("the last segment under a hold was committed")
	}
	if got := replacedRecords(t, d, v, a.ID); len(got) != 0 {
		t.Errorf("resumable version refused at its end: the trail says replaced: %v", got)
	}
	hold(false)
	if r, err = st.Resumable(ctx, v.ID, r.ID); err != nil {
		t.Fatal(err)
	}
	_, f, err := up.Append(ctx, r, strings.NewReader("second"[r.Offset():]), nil)
	if err != nil || f == nil {
		t.Fatalf("sent again: %v %v", f, err)
	}
	if got := replacedRecords(t, d, v, a.ID); len(got) != 1 || got[0] != f.ID+":success" {
		t.Errorf("the stored version: the trail says %v, want one %s:success", got, f.ID)
	}
	if o, err := st.File(ctx, v.ID, a.ID); err != nil || o.SupersededBy != f.ID {
		t.Fatalf("the earlier version: %+v %v", o, err)
	}

	// An ordinary new version: one record, with the upload's.
	rep, err = d.access(uploader, policy.FileReplace, f.ID)
	if err != nil {
		t.Fatal(err)
	}
	third, err := rep.ReplaceFile(ctx, 5, strings.NewReader("third"))
	if err != nil {
		t.Fatal(err)
	}
	if got := replacedRecords(t, d, v, f.ID); len(got) != 1 || got[0] != third.ID+":success" {
		t.Errorf("the third version: the trail says %v, want one %s:success", got, third.ID)
	}
}

// TestDestructionReviewHeld: a visit put under a legal hold after its
// destruction was noticed stays in the review, but an administrator with
// no part in it is not offered to approve it (ApproveDestruction refuses:
// errHeld), in the review as in its approval.
func TestDestructionReviewHeld(t *testing.T) {
	d := startDomain(t)
	ctx := context.Background()
	v := d.demo()
	lead := d.person("ofsted", "lead@ofsted.example")
	admin := d.person("ofsted", "admin@ofsted.example")
	day := d.publish(lead, v)
	d.at(day.AddDate(0, 0, d.Config.RetentionDays))
	if _, err := d.svc.RunRetention(ctx); err != nil { // the notice
		t.Fatal(err)
	}
	canApprove := func() bool {
		t.Helper()
		page, err := d.svc.DestructionReview(ctx, admin, "")
		if err != nil || len(page.Visits) != 1 || page.Visits[0].Visit.ID != v.ID {
			t.Fatalf("review: %+v %v", page, err)
		}
		return page.Visits[0].CanApprove
	}
	if !canApprove() {
		t.Fatal("an administrator with no part in the visit is not offered to approve it")
	}
	if _, err := d.mustAccess(admin, policy.LegalHoldSet).SetLegalHold(ctx, true, "Judicial review"); err != nil {
		t.Fatal(err)
	}
	if canApprove() {
		t.Fatal("a visit under a legal hold is offered for approval")
	}
	if _, err := d.mustAccess(admin, policy.DestructionApprove).ApproveDestruction(ctx); kindOf(err) != portal.KindLocked {
		t.Fatalf("approval under a legal hold: %v", err)
	}
}

// TestLegalHoldLiftedFromOutside: any administrator may set a legal hold,
// but only one with no part in the visit may lift it, as only one may
// approve its destruction: a lift withdraws the notice, and the
// destruction follows a fresh one without anyone else's approval.
func TestLegalHoldLiftedFromOutside(t *testing.T) {
	d := startDomain(t)
	ctx := context.Background()
	v := d.demo()
	admin := d.person("ofsted", "admin@ofsted.example")
	// The administrator joins the visit's team.
	op, err := d.svc.Authorize(ctx, portal.OperatorActor("test", "test"), policy.MemberManage, v.ID, "")
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := op.PutMember(ctx, portal.MemberRequest{Issuer: admin.Issuer, Subject: admin.Subject, Role: policy.RoleQAManager}); err != nil {
		t.Fatal(err)
	}
	if _, err := d.mustAccess(admin, policy.LegalHoldSet).SetLegalHold(ctx, true, "Judicial review"); err != nil {
		t.Fatalf("a member administrator setting a hold: %v", err)
	}
	if _, err := d.mustAccess(admin, policy.LegalHoldSet).SetLegalHold(ctx, false, "Review ended"); kindOf(err) != portal.KindForbidden {
		t.Fatalf("a member administrator lifting the hold: %v", err)
	}
	if h, err := d.svc.Store().GetLegalHold(ctx, v.ID); err != nil || !h.On {
		t.Fatalf("the hold after a member's lift: %+v %v", h, err)
	}
	if _, err := d.svc.Store().DB().Exec(`DELETE FROM members WHERE visit_id = ? AND subject = ?`, v.ID, admin.Subject); err != nil {
		t.Fatal(err)
	}
	if _, err := d.mustAccess(admin, policy.LegalHoldSet).SetLegalHold(ctx, false, "Review ended"); err != nil {
		t.Fatalf("an administrator with no part in the visit lifting the hold: %v", err)
	}
}
