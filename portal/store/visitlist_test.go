package store

import (
	"context"
	"fmt"
	"testing"
	"time"
)

// TestVisitPageCarriesTheMembership: a page of visits brings each visit
// with the user's membership of it (role and window), nil where they are
// not a member, and lists a visit once even when the user holds two
// memberships of it (the schema allows it: one added by subject, one by
// user), showing the one MembershipOf gives.
func TestVisitPageCarriesTheMembership(t *testing.T) {
	ctx := context.Background()
	s := openTest(t)
	now := time.Now().UTC().Truncate(time.Second)
	threeVisits(t, s, now, 0)
	u, err := s.SignIn(ctx, "https://ofsted.example", "sub-lead", "lead@ofsted.example", "Lead", []string{"lead_inspector", "inspector"}, now)
	if err != nil {
		t.Fatal(err)
	}
	until := now.AddDate(0, 1, 0)
	if _, _, err := s.PutMember(ctx, Member{VisitID: "v1", Issuer: u.Issuer, Subject: u.Subject, UserID: u.ID, Role: "lead_inspector", ValidUntil: until}, now); err != nil {
		t.Fatal(err)
	}
	// A second membership of v2 for the same user.
	for _, role := range []string{"inspector", "lead_inspector"} {
		if _, _, err := s.PutMember(ctx, Member{VisitID: "v2", UserID: u.ID, Role: role}, now); err != nil {
			t.Fatal(err)
		}
	}
	var n int
	if err := s.DB().QueryRow(`SELECT COUNT(*) FROM members WHERE visit_id = 'v2' AND user_id = ?`, u.ID).Scan(&n); err != nil || n != 2 {
		t.Fatalf("want two memberships of v2, have %d (%v)", n, err)
	}
	want, err := s.MembershipOf(ctx, "v2", u.ID)
	if err != nil {
		t.Fatal(err)
	}
	for _, all := range []bool{false, true} {
		rows, err := s.VisitPage(ctx, u.ID, all, VisitCursor{}, 50)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, r := range rows {
			role := "-"
			if r.Member != nil {
				role = r.Member.Role
			}
			got = append(got, r.ID+":"+role)
		}
		wantIDs := "[v1:lead_inspector v2:" + want.Role + "]"
		if all {
			wantIDs = "[v1:lead_inspector v2:" + want.Role + " v3:-]"
		}
		if s := fmt.Sprint(got); s != wantIDs {
			t.Fatalf("all=%v: page %s, want %s", all, s, wantIDs)
		}
		if m := rows[0].Member; !m.ValidUntil.Equal(until) || m.UserID != u.ID || m.VisitID != "v1" || rows[0].KeyFingerprint != "f-v1" {
			t.Fatalf("all=%v: v1's membership %+v, fingerprint %q", all, *m, rows[0].KeyFingerprint)
		}
		if rows[1].Member.ID != want.ID {
			t.Fatalf("all=%v: the page shows membership %s of v2, MembershipOf %s", all, rows[1].Member.ID, want.ID)
		}
	}
}

// TestMembersListKeysFollowTheVisit: a member's page of visits is read
// from their memberships (members_list), which carry a copy of the
// visit's notification date and reference: a membership added one at a
// time or in bulk takes them from its visit, and a visit whose dates are
// corrected moves in its members' lists as in the administrators'.
func TestMembersListKeysFollowTheVisit(t *testing.T) {
	ctx := context.Background()
	s := openTest(t)
	now := time.Now().UTC().Truncate(24 * time.Hour)
	threeVisits(t, s, now, 0)
	u, err := s.SignIn(ctx, "https://ofsted.example", "sub-lead", "lead@ofsted.example", "Lead", []string{"lead_inspector"}, now)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.PutMember(ctx, Member{VisitID: "v1", UserID: u.ID, Role: "lead_inspector"}, now); err != nil {
		t.Fatal(err)
	}
	if err := s.SeedMembers(ctx, []Member{
		{ID: "m2", VisitID: "v2", UserID: u.ID, Role: "inspector", CreatedAt: now, UpdatedAt: now},
		{ID: "m3", VisitID: "v3", UserID: u.ID, Role: "inspector", CreatedAt: now, UpdatedAt: now},
	}); err != nil {
		t.Fatal(err)
	}
	page := func(all bool, after VisitCursor, limit int) string {
		t.Helper()
		rows, err := s.VisitPage(ctx, u.ID, all, after, limit)
		if err != nil {
			t.Fatal(err)
		}
		var ids []string
		for _, r := range rows {
			ids = append(ids, r.ID)
		}
		return fmt.Sprint(ids)
	}
	check := func(want string) {
		t.Helper()
		for _, all := range []bool{false, true} {
			if got := page(all, VisitCursor{}, 50); got != want {
				t.Fatalf("all=%v: page %s, want %s", all, got, want)
			}
		}
		var stale int
		if err := s.DB().QueryRow(`SELECT COUNT(*) FROM members JOIN visits ON visits.id = members.visit_id
			WHERE members.list_date IS NULL OR members.list_date <> visits.notification_date OR members.list_reference <> visits.reference`).Scan(&stale); err != nil || stale != 0 {
			t.Fatalf("%d memberships whose list keys are not their visit's (%v)", stale, err)
		}
	}
	check("[v1 v2 v3]")
	// v3's notification moves to tomorrow: it leads both lists.
	if err := s.SetVisitDates(ctx, "v3", now.AddDate(0, 0, 1), now.AddDate(0, 0, 8)); err != nil {
		t.Fatal(err)
	}
	check("[v3 v1 v2]")
	// Pages of one, each after the last: the member's walk meets every
	// visit once, in the list's order.
	var walked []string
	after := VisitCursor{}
	for range 4 {
		rows, err := s.VisitPage(ctx, u.ID, false, after, 1)
		if err != nil {
			t.Fatal(err)
		}
		if len(rows) == 0 {
			break
		}
		walked = append(walked, rows[0].ID)
		after = VisitCursor{NotificationDate: rows[0].NotificationDate, Reference: rows[0].Reference}
	}
	if fmt.Sprint(walked) != "[v3 v1 v2]" {
		t.Fatalf("pages of one walked %v", walked)
	}
}

// TestVisitPageEventsInRecordedOrder: a page of visits brings each
// visit's letter events (event and date) in the order they were recorded,
// as Events gives them for one visit, whatever order the visits' events
// were recorded in between them, and whatever their dates (v2's complaint
// is dated before its final letter, recorded after it).
func TestVisitPageEventsInRecordedOrder(t *testing.T) {
	ctx := context.Background()
	s := openTest(t)
	now := time.Now().UTC().Truncate(24 * time.Hour)
	threeVisits(t, s, now, 60)
	at := now.Add(-time.Hour)
	for k, e := range []struct {
		visit, event string
		day          int
	}{
		{"v2", "draft_sent", -30}, {"v1", "draft_sent", -20}, {"v2", "final_sent", -25}, {"v1", "final_sent", -10},
		{"v2", "complaint_received", -26}, {"v1", "published", -5}, {"v2", "complaint_resolved", -3},
	} {
		if _, err := s.AddEvent(ctx, Event{VisitID: e.visit, Event: e.event, Date: now.AddDate(0, 0, e.day), RecordedBy: "lead", RecordedAt: at.Add(time.Duration(k) * time.Minute)},
			func([]Event) error { return nil }); err != nil {
			t.Fatal(err)
		}
	}
	rows, err := s.VisitPage(ctx, "nobody", true, VisitCursor{}, 50)
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 3 {
		t.Fatalf("%d visits on the page", len(rows))
	}
	for _, r := range rows {
		want, err := s.Events(ctx, r.ID)
		if err != nil {
			t.Fatal(err)
		}
		var got, wants []string
		for _, e := range r.Events {
			got = append(got, e.VisitID+" "+e.Event+" "+e.Date.Format(time.DateOnly))
		}
		for _, e := range want {
			wants = append(wants, e.VisitID+" "+e.Event+" "+e.Date.Format(time.DateOnly))
		}
		if fmt.Sprint(got) != fmt.Sprint(wants) {
			t.Fatalf("%s: the page's events %v, want %v", r.ID, got, wants)
		}
	}
}

// threeVisits creates active visits v1, v2 and v3, notified (and in
// fieldwork) daysAgo, daysAgo+1 and daysAgo+2 days before now: the lists'
// order is v1, v2, v3. Each key's fingerprint is "f-" and the visit's id.
func threeVisits(t *testing.T, s *Store, now time.Time, daysAgo int) {
	t.Helper()
	for i, id := range []string{"v1", "v2", "v3"} {
		nd := now.AddDate(0, 0, -daysAgo-i)
		v := Visit{ID: id, Reference: "FV-" + id, TitleSealed: []byte("x"), Provider: "Cafcass", RetentionDays: 30, NotificationDate: nd, FieldworkStart: nd,
			State: "active", Bucket: "b-" + id, CreatedAt: now, CreatedBy: "system"}
		if err := s.CreateVisit(context.Background(), v, VisitKey{VisitID: id, Wrapped: []byte("w"), Fingerprint: "f-" + id, CreatedAt: now}, nil, nil); err != nil {
			t.Fatal(err)
		}
	}
}
