package portal_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/ofsted-portal/evidence/policy"
	"github.com/ofsted-portal/evidence/portal"
	"github.com/ofsted-portal/evidence/portal/store"
)

// together runs act n times at once, released together, and returns
// their errors.
func together(n int, act func(i int) error) []error {
	start := make(chan struct{})
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			<-start
			errs[i] = act(i)
		})
	}
	close(start)
	wg.Wait()
	return errs
}

// TestRequestItemSavedTogether: the information request page's form adds
// an item, or changes it when its number is there already; the same form
// sent several times at once (a double click, two inspectors) adds the
// item once and changes it for the others. None is refused because
// another added it first.
func TestRequestItemSavedTogether(t *testing.T) {
	d := startDomain(t)
	ctx := context.Background()
	lead := d.person("ofsted", "lead@ofsted.example")
	for round := range 40 {
		code := fmt.Sprintf("9.%02d", round+1)
		errs := together(6, func(i int) error {
			acc, err := d.access(lead, policy.RequestManage, "")
			if err != nil {
				return err
			}
			_, err = acc.SaveRequestItem(ctx, portal.RequestItemInput{Kind: portal.KindAnnexA, Code: code, Title: fmt.Sprintf("Item %s, sent by %d", code, i)}, portal.AddOrChangeItem)
			return err
		})
		for i, err := range errs {
			if err != nil {
				t.Fatalf("round %d: save %d of item %s, sent with the others: %v", round, i, code, err)
			}
		}
	}
}

// TestMemberPutTogether: an administrator's "add or change this member",
// sent several times at once for one person (a double click, two
// administrators), adds them once and changes them for the others. None
// is refused because another added them first.
func TestMemberPutTogether(t *testing.T) {
	d := startDomain(t)
	ctx := context.Background()
	admin := d.person("ofsted", "admin@ofsted.example")
	var issuer string
	for _, p := range d.Config.IdPs {
		if p.Name == "ofsted" {
			issuer = p.Issuer
		}
	}
	for round := range 40 {
		email := fmt.Sprintf("hmi.%d@ofsted.example", round)
		req := portal.MemberRequest{Email: email, Role: policy.RoleInspector}
		if round%2 == 1 {
			req = portal.MemberRequest{Issuer: issuer, Subject: "sub-" + email, Role: policy.RoleInspector}
		}
		var mu sync.Mutex
		created := 0
		errs := together(6, func(int) error {
			acc, err := d.access(admin, policy.MemberManage, "")
			if err != nil {
				return err
			}
			_, c, err := acc.PutMember(ctx, req)
			if c {
				mu.Lock()
				created++
				mu.Unlock()
			}
			return err
		})
		for i, err := range errs {
			if err != nil {
				t.Fatalf("round %d: put %d of member %+v, sent with the others: %v", round, i, req, err)
			}
		}
		if created != 1 {
			t.Fatalf("round %d: member %+v created %d times, want once", round, req, created)
		}
	}
}

// TestReplacementsTogether: the uploader (several times) and the
// coordinator send new versions of the uploader's file at once. One
// becomes the new version; each other is treated as if it came a moment
// later, when the name is held by that upload in progress: the
// coordinator's file, as another person's, is kept beside it under
// "name (2)"; the uploader's, their own, is refused as being uploaded
// now. None is refused as if the file had been withdrawn or replaced
// already.
func TestReplacementsTogether(t *testing.T) {
	d := startDomain(t)
	ctx := context.Background()
	tl, err := timelineOf(d, d.demo())
	if err != nil {
		t.Fatal(err)
	}
	d.at(tl.Notification)
	uploader := d.person("cafcass", "uploader@cafcass.example")
	coordinator := d.person("cafcass", "coordinator@cafcass.example")
	for round := range 60 {
		name := fmt.Sprintf("1.01 policy %d.pdf", round)
		if _, err := d.mustAccess(uploader, policy.FileUpload).Upload(ctx, portal.NewFile{Name: name, Size: 5}, strings.NewReader("first")); err != nil {
			t.Fatal(err)
		}
		errs := together(8, func(i int) error {
			who := uploader
			if i == 1 {
				who = coordinator
			}
			acc, err := d.access(who, policy.FileUpload, "")
			if err != nil {
				return err
			}
			_, err = acc.Upload(ctx, portal.NewFile{Name: name, Size: 6, OnConflict: portal.OnConflictReplace}, strings.NewReader(fmt.Sprintf("again%d", i)))
			return err
		})
		for i, err := range errs {
			if e, ok := portal.AsError(err); err != nil && (!ok || e.Code != "name_exists" || i == 1) {
				t.Fatalf("round %d: replacement %d (by the %s), sent with the others: %v", round, i, map[bool]string{false: "uploader", true: "coordinator"}[i == 1], err)
			}
		}
	}
}

// TestSignInWhileAddedBySubject: a person invited by email signs in for
// the first time just as an administrator adds them by their subject.
// Either the sign-in binds the invitation first, and the administrator is
// told the person is a member under their email address, or the
// administrator's membership comes first, and the sign-in binds that. The
// sign-in never fails. Before, on PostgreSQL, both gave the visit a
// membership with the person's subject and the sign-in failed on the
// unique index.
func TestSignInWhileAddedBySubject(t *testing.T) {
	d := startDomain(t)
	ctx := context.Background()
	admin := d.person("ofsted", "admin@ofsted.example")
	var issuer string
	for _, p := range d.Config.IdPs {
		if p.Name == "ofsted" {
			issuer = p.Issuer
		}
	}
	for round := range 40 {
		email := fmt.Sprintf("new.hmi.%d@ofsted.example", round)
		if _, _, err := d.mustAccess(admin, policy.MemberManage).PutMember(ctx, portal.MemberRequest{Email: email, Role: policy.RoleInspector}); err != nil {
			t.Fatal(err)
		}
		errs := together(2, func(i int) error {
			if i == 0 {
				_, err := d.svc.SignIn(ctx, portal.Actor{Via: "test"}, portal.Identity{IdP: "ofsted", Issuer: issuer, Subject: "sub-" + email, Email: email})
				return err
			}
			acc, err := d.access(admin, policy.MemberManage, "")
			if err != nil {
				return err
			}
			_, _, err = acc.PutMember(ctx, portal.MemberRequest{Issuer: issuer, Subject: "sub-" + email, Role: policy.RoleInspector})
			if e, ok := portal.AsError(err); ok && e.Kind == portal.KindInvalid && strings.Contains(e.Msg, "under their email address") {
				return nil // the sign-in bound the invitation first
			}
			return err
		})
		if errs[0] != nil {
			t.Fatalf("round %d: the sign-in, as the administrator added the person by subject: %v", round, errs[0])
		}
		if errs[1] != nil {
			t.Fatalf("round %d: the administrator's put, as the person signed in: %v", round, errs[1])
		}
	}
}

// TestRefileWhileTheNameIsFreed: the lead inspector files a file under
// an item where its name is held by a file they may not see, as the
// coordinator deletes that file. Either the filing comes first, and the
// file is kept as "name (2)" beside the other, or the deletion does, and
// the file keeps its name. It is never renamed for a name already free:
// a "name (2)" filed after the holder was deleted (by the trail's order).
func TestRefileWhileTheNameIsFreed(t *testing.T) {
	d := startDomain(t)
	ctx := context.Background()
	coordinator := d.person("cafcass", "coordinator@cafcass.example")
	lead := d.person("ofsted", "lead@ofsted.example")
	admin := d.person("ofsted", "admin@ofsted.example")
	if _, err := d.mustAccess(admin, policy.VisitManage).SetRestriction(ctx, "1.05", true, []string{policy.RoleAnalyst}); err != nil {
		t.Fatal(err)
	}
	upload := func(name, item string) portal.FileView {
		t.Helper()
		f, err := d.mustAccess(coordinator, policy.FileUpload).Upload(ctx, portal.NewFile{Name: name, Item: item, Size: 1}, strings.NewReader("x"))
		if err != nil {
			t.Fatal(err)
		}
		return f
	}
	for round := range 60 {
		hidden := upload(fmt.Sprintf("Plan %d.pdf", round), "1.05")
		mine := upload(fmt.Sprintf("plan %d.PDF", round), "1.02")
		var filed portal.FileView
		errs := together(2, func(i int) error {
			if i == 1 {
				acc, err := d.access(coordinator, policy.FileDelete, hidden.ID)
				if err != nil {
					return err
				}
				_, err = acc.DeleteFile(ctx)
				return err
			}
			acc, err := d.access(lead, policy.FileRefile, mine.ID)
			if err != nil {
				return err
			}
			filed, err = acc.Refile(ctx, "1.05")
			return err
		})
		for i, err := range errs {
			if err != nil {
				t.Fatalf("round %d: %s, at once with the other: %v", round, []string{"the filing", "the deletion"}[i], err)
			}
		}
		if filed.Name == mine.Name {
			continue
		}
		recs, err := d.svc.Store().AuditRecords(ctx, store.AuditFilter{VisitID: d.demo().ID, Actions: []string{"file.deleted", "file.refiled"}})
		if err != nil {
			t.Fatal(err)
		}
		var deleted, refiled int64
		for _, r := range recs {
			switch {
			case r.Action == "file.deleted" && r.Object == hidden.ID:
				deleted = r.Seq
			case r.Action == "file.refiled" && r.Object == mine.ID:
				refiled = r.Seq
			}
		}
		if deleted == 0 || refiled == 0 || deleted < refiled {
			t.Fatalf("round %d: filed as %q, after the file holding %q was deleted (records %d, %d)", round, filed.Name, mine.Name, deleted, refiled)
		}
	}
}

// TestMemberByEmailAndSubjectTogether: administrators add one person
// at once, who has signed in before: one by email address, the other by
// issuer and subject. The visit ends with one membership for them: the
// second put changes the first's (the subject's membership carries the
// address the person signed in with, so the put by email finds it), or
// the one by subject is told the person is a member under their address
// (the unique index on the address decides). Never two.
func TestMemberByEmailAndSubjectTogether(t *testing.T) {
	d := startDomain(t)
	ctx := context.Background()
	admin := d.person("ofsted", "admin@ofsted.example")
	var issuer string
	for _, p := range d.Config.IdPs {
		if p.Name == "ofsted" {
			issuer = p.Issuer
		}
	}
	for round := range 40 {
		email := fmt.Sprintf("both.%d@ofsted.example", round)
		if _, err := d.svc.SignIn(ctx, portal.Actor{Via: "test"}, portal.Identity{IdP: "ofsted", Issuer: issuer, Subject: "sub-" + email, Email: email}); err != nil {
			t.Fatal(err)
		}
		errs := together(2, func(i int) error {
			acc, err := d.access(admin, policy.MemberManage, "")
			if err != nil {
				return err
			}
			req := portal.MemberRequest{Email: email, Role: policy.RoleInspector}
			if i == 1 {
				req = portal.MemberRequest{Issuer: issuer, Subject: "sub-" + email, Role: policy.RoleInspector}
			}
			_, _, err = acc.PutMember(ctx, req)
			if e, ok := portal.AsError(err); ok && i == 1 && e.Kind == portal.KindInvalid && strings.Contains(e.Msg, "under their email address") {
				return nil
			}
			return err
		})
		for i, err := range errs {
			if err != nil {
				t.Fatalf("round %d: the put by %s, at once with the other: %v", round, []string{"email", "subject"}[i], err)
			}
		}
		ms, err := d.svc.Store().Members(ctx, d.demo().ID)
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for _, m := range ms {
			if m.Email == email || m.Subject == "sub-"+email {
				n++
			}
		}
		if n != 1 {
			t.Fatalf("round %d: %d memberships of the person added at once by email and by subject", round, n)
		}
	}
}
