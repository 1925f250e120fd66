package portal_test

import (
	"bytes"
	"context"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ofsted-portal/evidence/deploy/devstack"
	"github.com/ofsted-portal/evidence/policy"
	"github.com/ofsted-portal/evidence/portal"
	"github.com/ofsted-portal/evidence/portal/store"
)

// another builds a second instance of the portal on the same database and
// store, with the same clock (a restart, or a second replica).
func (d *domain) another() *portal.Service {
	d.t.Helper()
	clock := func() time.Time { return time.Now().Add(time.Duration(d.offset.Load())) }
	svc, err := portal.New(context.Background(), d.Config, portal.WithClock(clock), portal.WithLogger(portal.NewLogger(&bytes.Buffer{}, "error")))
	if err != nil {
		d.t.Fatal(err)
	}
	d.t.Cleanup(func() { svc.Close() })
	return svc
}

// TestDestroyedKeysLeaveOtherInstances: a visit destroyed by one
// instance leaves no key, and no decrypted name, in another's memory: each
// instance's own round forgets keys whose stored key is gone, whether or
// not a request asks for the visit again. Before, another instance kept
// both until something asked it for that visit's key.
func TestDestroyedKeysLeaveOtherInstances(t *testing.T) {
	ctx := context.Background()
	d := startDomain(t)
	v := d.demo()
	uploader := d.person("cafcass", "uploader@cafcass.example")
	if _, err := d.mustAccess(uploader, policy.FileUpload).Upload(ctx, portal.NewFile{Name: "1.01 Structure.pdf", Size: 5}, strings.NewReader("hello")); err != nil {
		t.Fatal(err)
	}
	second := d.another()
	lead := d.person("ofsted", "lead@ofsted.example")
	acc, err := second.Authorize(ctx, lead, policy.FileList, v.ID, "")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := acc.FilePage(ctx, portal.FileQuery{}); err != nil {
		t.Fatal(err)
	}
	second.ForgetGoneKeys(ctx)
	if !second.HoldsKey(v.ID) {
		t.Fatal("the second instance's round forgot a live visit's key")
	}
	if err := d.svc.Store().DeleteKey(ctx, v.ID); err != nil { // the destruction's key step, by the first
		t.Fatal(err)
	}
	second.ForgetGoneKeys(ctx)
	if second.HoldsKey(v.ID) {
		t.Error("the second instance keeps a destroyed visit's key in memory after its round")
	}
}

// TestNotificationsSurviveRestarts: with the mail server down an act still
// succeeds and its notification waits in the outbox; it survives a restart
// of the portal and is sent once the mail server is back.
func TestNotificationsSurviveRestarts(t *testing.T) {
	d := startMailDomain(t)
	ctx := context.Background()
	box := &mailbox{d: d, seen: map[string]bool{}}
	d.deliver()
	box.fresh()
	admin := d.person("ofsted", "admin@ofsted.example")

	if err := d.StopMailpit(); err != nil {
		t.Fatal(err)
	}
	if _, _, err := d.mustAccess(admin, policy.MemberManage).PutMember(ctx, portal.MemberRequest{Email: "new.hmi@ofsted.example", Role: policy.RoleInspector}); err != nil {
		t.Fatalf("an act with the mail server down: %v", err)
	}
	if n, err := d.svc.DeliverNotifications(ctx); err == nil || n != 0 {
		t.Fatalf("mail server down: sent %d, %v", n, err)
	}
	failed, err := d.svc.FailedDeliveries(ctx, admin)
	if err != nil || len(failed) != 1 || failed[0].Attempts != 1 || failed[0].Reference != portal.DemoReference || failed[0].State != store.NotePending {
		t.Fatalf("failed deliveries: %v %+v", err, failed)
	}
	if _, err := d.svc.FailedDeliveries(ctx, d.person("ofsted", "lead@ofsted.example")); kindOf(err) != portal.KindForbidden {
		t.Fatalf("a lead inspector listing failed deliveries: %v", err)
	}

	// The portal restarts; then the mail server comes back.
	d.svc.Close()
	d.svc = d.another()
	d.Stack.Portal = d.svc
	if err := d.StartMailpitAgain(ctx); err != nil {
		t.Fatal(err)
	}
	if n := d.deliver(); n != 0 {
		t.Fatalf("sent %d before the backoff ran out", n)
	}
	d.later(31 * time.Second)
	if n := d.deliver(); n != 1 {
		t.Fatalf("sent %d after the restarts; want 1", n)
	}
	box.expect("after the restarts", "You have been added to visit FV-DEMO", "new.hmi@ofsted.example")
	d.later(time.Hour)
	if n := d.deliver(); n != 0 {
		t.Fatalf("sent again: %d", n)
	}
	if failed, err := d.svc.FailedDeliveries(ctx, admin); err != nil || len(failed) != 0 {
		t.Fatalf("failed deliveries once sent: %v %+v", err, failed)
	}
	// Sent rows are kept 30 days, then purged.
	if sent, err := d.svc.Store().Notifications(ctx, store.NoteSent, 100); err != nil || len(sent) != 7 {
		t.Fatalf("sent rows: %d, %v", len(sent), err)
	}
	d.later(31 * 24 * time.Hour)
	d.svc.ScheduleNotifications(ctx)
	if sent, err := d.svc.Store().Notifications(ctx, store.NoteSent, 100); err != nil || len(sent) != 0 {
		t.Fatalf("sent rows after 31 days: %d, %v", len(sent), err)
	}
}

// TestNotificationsOnceWithTwoWorkers: two instances send the same outbox
// at once; every notification is sent exactly once, and scheduled digests
// written by both exist once.
func TestNotificationsOnceWithTwoWorkers(t *testing.T) {
	d := startMailDomain(t)
	ctx := context.Background()
	box := &mailbox{d: d, seen: map[string]bool{}}
	d.deliver()
	box.fresh()
	tl, err := timelineOf(d, d.demo())
	if err != nil {
		t.Fatal(err)
	}
	d.at(tl.Notification) // the data lists are due on the next working day
	admin := d.person("ofsted", "admin@ofsted.example")
	members := d.mustAccess(admin, policy.MemberManage)
	const n = 30
	var want []string
	for i := range n {
		email := "inspector" + string(rune('a'+i%26)) + string(rune('a'+i/26)) + "@ofsted.example"
		want = append(want, email)
		if _, _, err := members.PutMember(ctx, portal.MemberRequest{Email: email, Role: policy.RoleInspector}); err != nil {
			t.Fatal(err)
		}
	}
	second := d.another()
	var mu sync.Mutex
	sent := 0
	var wg sync.WaitGroup
	for _, svc := range []*portal.Service{d.svc, second} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 5 {
				svc.ScheduleNotifications(ctx)
				got, err := svc.DeliverNotifications(ctx)
				if err != nil {
					t.Error(err)
				}
				mu.Lock()
				sent += got
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if sent != n+2 {
		t.Fatalf("sent %d in all; want %d (the members, and one digest to each of the two provider staff)", sent, n+2)
	}
	got := box.fresh()
	ids := map[string]bool{}
	var added []string
	for _, m := range got {
		if ids[m.MessageID] {
			t.Fatalf("Message-ID %s twice", m.MessageID)
		}
		ids[m.MessageID] = true
		if strings.HasPrefix(m.Subject, "You have been added") {
			added = append(added, m.To[0].Address)
		}
	}
	slices.Sort(added)
	slices.Sort(want)
	if len(got) != n+2 || !slices.Equal(added, want) {
		t.Fatalf("%d messages, members told %v; want %d and %v", len(got), added, n+2, want)
	}
}

// TestLateDigestIsAMailOfItsOwn: an act counted into an hour's digest after
// its mail went is told in a second mail, under a Message-ID of its own (a
// mail client drops a message whose Message-ID it has already seen).
func TestLateDigestIsAMailOfItsOwn(t *testing.T) {
	d := startMailDomain(t)
	ctx := context.Background()
	box := &mailbox{d: d, seen: map[string]bool{}}
	d.deliver()
	box.fresh()
	v := d.demo()
	start := d.svc.Now().Truncate(time.Hour)
	out := store.Outgoing{Kind: portal.NoteFilesArrived, VisitID: v.ID, To: store.Audience{Roles: []string{policy.RoleLeadInspector}},
		Period: start.UTC().Format(time.RFC3339), Accumulate: true, Count: 1, Due: start.Add(time.Hour),
		Data: map[string]string{"date": start.Add(time.Hour).Format(time.RFC3339)}}
	digest := func() devstack.Mail {
		t.Helper()
		if err := d.svc.Store().Enqueue(ctx, d.svc.Now(), out); err != nil {
			t.Fatal(err)
		}
		d.later(time.Hour)
		if n := d.deliver(); n != 1 {
			t.Fatalf("sent %d, want the digest", n)
		}
		got := box.fresh()
		if len(got) != 1 {
			t.Fatalf("%d messages, want the digest", len(got))
		}
		return got[0]
	}
	first, late := digest(), digest()
	if first.MessageID == late.MessageID {
		t.Errorf("the late act's mail has the first mail's Message-ID %s", first.MessageID)
	}
}

// TestRetryKeepsTheMessageID: a message tried again after a failed
// attempt goes under the Message-ID it was first tried under. A failure
// can come after the server took the message (the reply to its data lost,
// or too slow), and the retry must then be recognisable as the same mail.
func TestRetryKeepsTheMessageID(t *testing.T) {
	d := startMailDomain(t)
	ctx := context.Background()
	box := &mailbox{d: d, seen: map[string]bool{}}
	d.deliver()
	box.fresh()
	admin := d.person("ofsted", "admin@ofsted.example")
	if err := d.StopMailpit(); err != nil {
		t.Fatal(err)
	}
	if _, _, err := d.mustAccess(admin, policy.MemberManage).PutMember(ctx, portal.MemberRequest{Email: "new.hmi@ofsted.example", Role: policy.RoleInspector}); err != nil {
		t.Fatal(err)
	}
	pending, err := d.svc.Store().Notifications(ctx, store.NotePending, 10)
	if err != nil || len(pending) != 1 {
		t.Fatalf("pending: %v %v", pending, err)
	}
	first := portal.MessageIDOf(pending[0])
	if n, err := d.svc.DeliverNotifications(ctx); err == nil || n != 0 {
		t.Fatalf("mail server down: sent %d, %v", n, err)
	}
	if err := d.StartMailpitAgain(ctx); err != nil {
		t.Fatal(err)
	}
	d.later(31 * time.Second)
	if n := d.deliver(); n != 1 {
		t.Fatalf("sent %d; want 1", n)
	}
	got := box.expect("after the retry", "You have been added to visit FV-DEMO", "new.hmi@ofsted.example")
	if want := first + "@portal.example"; got[0].MessageID != want {
		t.Errorf("the retry went as %s; the first attempt as %s", got[0].MessageID, want)
	}
}
