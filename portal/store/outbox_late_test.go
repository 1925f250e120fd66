package store

import (
	"context"
	"testing"
	"time"
)

// TestDigestTellsLateActs: a digest row (Accumulate) counts acts of its
// period. One that lands while the row is being sent, or after it was
// sent, is told in a mail of its own; none is lost.
func TestDigestTellsLateActs(t *testing.T) {
	s := openTest(t)
	ctx := context.Background()
	start := time.Now().Add(-time.Hour).Truncate(time.Hour)
	due := start.Add(time.Hour)
	out := Outgoing{Kind: "files_arrived", VisitID: "v1", To: Audience{MemberID: "m1"}, Period: start.UTC().Format(time.RFC3339),
		Accumulate: true, Count: 1, Due: due}
	enqueue := func(n int) {
		t.Helper()
		for range n {
			if err := s.Enqueue(ctx, start.Add(59*time.Minute), out); err != nil {
				t.Fatal(err)
			}
		}
	}
	told := 0
	send := func(at time.Time, meanwhile int) {
		t.Helper()
		notes, err := s.ClaimNotifications(ctx, "A", at, at.Add(2*time.Minute), 10)
		if err != nil || len(notes) != 1 {
			t.Fatalf("claim at %s: %v %v", at, notes, err)
		}
		enqueue(meanwhile)
		if err := s.FinishNotification(ctx, notes[0].ID, "A", NoteSent, "", notes[0].Count, true, at, at); err != nil {
			t.Fatal(err)
		}
		told += notes[0].Count
	}
	enqueue(3)
	now := due.Add(time.Second)
	send(now, 1) // one commits while the mail of three goes
	send(now.Add(time.Minute), 0)
	enqueue(2) // two commit after it was sent
	send(now.Add(2*time.Minute), 0)
	if told != 6 {
		t.Errorf("6 acts, %d told in mails", told)
	}
	if notes, err := s.ClaimNotifications(ctx, "A", now.Add(time.Hour), now.Add(time.Hour+time.Minute), 10); err != nil || len(notes) != 0 {
		t.Errorf("after every act was told: %v %v, want nothing more to send", notes, err)
	}
}

// TestDigestActDuringFinish: an act that commits while a sent digest is
// being marked sent is told later, never lost: marking it sent and keeping
// the acts counted meanwhile is one step.
func TestDigestActDuringFinish(t *testing.T) {
	s := openTest(t)
	ctx := context.Background()
	start := time.Now().Add(-time.Hour).Truncate(time.Hour)
	out := Outgoing{Kind: "files_arrived", VisitID: "v1", To: Audience{MemberID: "m1"}, Period: start.UTC().Format(time.RFC3339),
		Accumulate: true, Count: 1, Due: start.Add(time.Hour)}
	at := start.Add(2 * time.Hour)
	acts, told := 0, 0
	enqueue := func() {
		if err := s.Enqueue(ctx, start.Add(59*time.Minute), out); err != nil {
			t.Error(err)
		}
	}
	send := func(meanwhile bool) bool {
		t.Helper()
		notes, err := s.ClaimNotifications(ctx, "A", at, at.Add(2*time.Minute), 10)
		if err != nil {
			t.Fatal(err)
		}
		if len(notes) == 0 {
			return false
		}
		done := make(chan struct{})
		if meanwhile {
			acts++
			go func() { defer close(done); enqueue() }()
		} else {
			close(done)
		}
		if err := s.FinishNotification(ctx, notes[0].ID, "A", NoteSent, "", notes[0].Count, true, at, at); err != nil {
			t.Fatal(err)
		}
		<-done
		told += notes[0].Count
		return true
	}
	for range 200 {
		acts++
		enqueue()
		send(true)
		for send(false) {
		}
		if told != acts {
			t.Fatalf("%d acts, %d told in mails", acts, told)
		}
	}
}
