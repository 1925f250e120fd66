package main

import (
	"bytes"
	"context"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/ofsted-portal/evidence/crypto"
	"github.com/ofsted-portal/evidence/portal"
	"github.com/ofsted-portal/evidence/portal/calendar"
	"github.com/ofsted-portal/evidence/portal/evidence"
	"github.com/ofsted-portal/evidence/portal/retention"
	"github.com/ofsted-portal/evidence/portal/store"
	"github.com/ofsted-portal/evidence/portal/timeline"
)

// seeded seeds a small plan in the given steps into a new database and
// returns the store, the seeder and the file ids it holds.
func seeded(t *testing.T, steps ...volumePlan) (*store.Store, *seeder, []string) {
	t.Helper()
	ctx := context.Background()
	st, err := store.Open(ctx, filepath.Join(t.TempDir(), "p.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	raw, _ := crypto.GenerateMasterKey(time.Now())
	master, err := crypto.ParseMasterKey(bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)
	// The measured visit, as the portal creates it: its key wrapped to
	// the current key epoch, bound to the visit.
	epochText, _ := crypto.GenerateEpochKey(now)
	epoch, err := crypto.ParseMasterKey(bytes.NewReader(epochText))
	if err != nil {
		t.Fatal(err)
	}
	wrappedEpoch, _ := master.WrapEpoch(epochText)
	if _, err := st.StartEpoch(ctx, store.Epoch{ID: seedEpoch, Recipient: epoch.Recipient(), CreatedAt: now}, now.AddDate(1, 0, 0), nil); err != nil {
		t.Fatal(err)
	}
	key, _ := crypto.NewVisitKey()
	wrapped, _ := epoch.WrapFor(key, "target")
	v := store.Visit{ID: "target", Reference: "VOLUME-1", TitleSealed: key.Seal([]byte("t"), "visit-title:target"), Provider: "Cafcass", RetentionDays: 30,
		NotificationDate: now, FieldworkStart: now, State: portal.StateActive, Bucket: "b", CreatedAt: now, CreatedBy: "system"}
	if err := st.CreateVisit(ctx, v, store.VisitKey{VisitID: "target", Wrapped: wrapped, Epoch: seedEpoch, Fingerprint: key.Fingerprint(), HeaderSize: key.HeaderSize(), CreatedAt: now}, nil, nil); err != nil {
		t.Fatal(err)
	}
	s := &seeder{st: st, master: master, seed: 7, target: "target", now: now, issuer: func(idp string) string { return "http://idp/" + idp },
		epochKey: func(_ context.Context, id string) ([]byte, error) {
			if id != seedEpoch {
				t.Fatalf("the seed asked for epoch %q", id)
			}
			return wrappedEpoch, nil
		}}
	for _, p := range steps {
		if err := s.grow(ctx, p); err != nil {
			t.Fatal(err)
		}
	}
	rows, err := st.DB().Query(`SELECT id FROM files ORDER BY id`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var ids []string
	for rows.Next() {
		var id string
		rows.Scan(&id)
		ids = append(ids, id)
	}
	return st, s, ids
}

// seedEpoch is the key epoch of the seed tests' measured visit.
const seedEpoch = "epoch-1"

// TestSeededKeysOpenAsThePortalOpensThem: every seeded visit's key is
// wrapped to the key epoch the measured visit's is, bound to its visit,
// as the portal wraps a new key. The portal refuses a key wrapped to the
// master key once epochs have begun (Keyring.KeyWithFingerprint): seeded
// so, every live visit of the volume showed "(title destroyed)" and cost
// the lists three statements a row.
func TestSeededKeysOpenAsThePortalOpensThem(t *testing.T) {
	ctx := context.Background()
	st, s, _ := seeded(t, volumePlan{visits: 6, people: 20, bigFiles: 250})
	w, err := s.epochKey(ctx, seedEpoch)
	if err != nil {
		t.Fatal(err)
	}
	epoch, err := s.master.UnwrapEpoch(w)
	if err != nil {
		t.Fatal(err)
	}
	vs, err := st.Visits(ctx)
	if err != nil {
		t.Fatal(err)
	}
	live := 0
	for _, v := range vs {
		if v.State == "destroyed" {
			continue
		}
		live++
		wk, err := st.WrappedKey(ctx, v.ID)
		if err != nil {
			t.Fatal(err)
		}
		if wk.Epoch != seedEpoch {
			t.Fatalf("visit %s: its key is wrapped to epoch %q, not the measured visit's %q", v.Reference, wk.Epoch, seedEpoch)
		}
		key, err := epoch.UnwrapFor(wk.Wrapped, v.ID)
		if err != nil || key.Fingerprint() != wk.Fingerprint {
			t.Fatalf("visit %s: its key does not open under the epoch bound to the visit: %v", v.Reference, err)
		}
		if _, err := key.Open(v.TitleSealed, "visit-title:"+v.ID); err != nil {
			t.Fatalf("visit %s: its title does not open: %v", v.Reference, err)
		}
	}
	if live != 3 {
		t.Fatalf("%d live visits, want 3", live)
	}
}

// TestSeedIsRepeatableInSteps: a plan seeded in two steps holds the rows
// it holds seeded at once; the files carry segment MACs; the names open
// under their visit's key; the chain verifies; half the visits are
// destroyed.
func TestSeedIsRepeatableInSteps(t *testing.T) {
	ctx := context.Background()
	small := volumePlan{visits: 4, people: 20, bigFiles: 250, audit: 500}
	big := volumePlan{visits: 8, people: 24, bigFiles: 400, audit: 1200}
	_, _, once := seeded(t, big)
	st, s, twice := seeded(t, small, big)
	if !slices.Equal(once, twice) || len(once) != big.files() {
		t.Fatalf("seeded at once: %d files; in steps: %d; the plan: %d", len(once), len(twice), big.files())
	}
	files, err := st.Files(ctx, "target")
	if err != nil || len(files) != 400 {
		t.Fatalf("the measured visit: %d files, %v", len(files), err)
	}
	// A seeded row is shaped as an upload leaves one now: with the MACs
	// of its segments, not as one stored before they were recorded.
	for _, f := range files {
		if len(f.SegmentMACs) != f.Segments*crypto.MACSize {
			t.Fatalf("a seeded file has %d bytes of segment MACs for %d segments", len(f.SegmentMACs), f.Segments)
		}
	}
	name, err := s.keys["target"].Open(files[0].NameSealed, evidence.NameContext("target", files[0].ID))
	if err != nil || !bytes.HasPrefix(name, []byte("case-")) {
		t.Fatalf("a seeded name: %q, %v", name, err)
	}
	destroyed := 0
	vs, _ := st.Visits(ctx)
	for _, v := range vs {
		if v.State == "destroyed" {
			destroyed++
		}
	}
	if len(vs) != 8 || destroyed != 4 {
		t.Fatalf("%d visits, %d destroyed", len(vs), destroyed)
	}
	recs, _ := st.AuditRecords(ctx, store.AuditFilter{})
	if len(recs) != 1200 {
		t.Fatalf("%d audit records", len(recs))
	}
	if err := store.VerifyAudit(recs, nil, nil); err != nil {
		t.Fatal(err)
	}
}

// TestSeededVisitsStandInEveryState: the live visits of the seed carry
// letter histories that the portal would have accepted one event at a
// time (retention.Check, after fieldwork), and between them stand in
// every state a visit passes through: nothing recorded yet, the draft
// sent, the final letter sent, published (some under a destruction
// notice), a complaint open, and published under a legal hold. None is
// due for destruction unless held.
func TestSeededVisitsStandInEveryState(t *testing.T) {
	ctx := context.Background()
	st, s, _ := seeded(t, volumePlan{visits: 400, people: 30, bigFiles: 250})
	cal, err := calendar.New()
	if err != nil {
		t.Fatal(err)
	}
	today := calendar.Date(s.now.Date())
	vs, err := st.Visits(ctx)
	if err != nil {
		t.Fatal(err)
	}
	states := map[string]int{}
	for _, v := range vs {
		if v.State == "destroyed" || v.ID == "target" {
			continue
		}
		evs, err := st.Events(ctx, v.ID)
		if err != nil {
			t.Fatal(err)
		}
		tl, err := timeline.Compute(cal, v.NotificationDate, v.FieldworkStart)
		if err != nil {
			t.Fatal(err)
		}
		var history []retention.Event
		for _, e := range evs {
			next := retention.Event{Event: e.Event, Date: e.Date}
			if err := retention.Check(cal, history, next, tl.FieldworkEnd); err != nil {
				t.Fatalf("visit %s: %s after %v: %v", v.ID, e.Event, history, err)
			}
			if e.Date.After(today) {
				t.Fatalf("visit %s: %s dated %s, after today", v.ID, e.Event, e.Date.Format(time.DateOnly))
			}
			history = append(history, next)
		}
		// Each event is in the visit's trail, as recording it leaves it:
		// the retention run holds the events to it.
		if recs, err := st.AuditRecords(ctx, store.AuditFilter{VisitID: v.ID, Action: "letter."}); err != nil || len(recs) != len(evs) {
			t.Fatalf("visit %s: %d letter records in its trail for %d events (%v)", v.ID, len(recs), len(evs), err)
		}
		hold, err := st.GetLegalHold(ctx, v.ID)
		if err != nil {
			t.Fatal(err)
		}
		_, noticeErr := st.GetNotice(ctx, v.ID)
		l := retention.Replay(history)
		state := "none"
		switch {
		case !l.Published.IsZero() && hold.On:
			state = "published, held"
		case !l.Published.IsZero():
			state = "published"
			if noticeErr == nil {
				state = "published, under notice"
			}
			if on := retention.DestroyOn(l, 30); !on.After(today) {
				// Due: only a failed destruction, tried again after the
				// bench, may be, as the sweep leaves one.
				f, err := st.GetFailure(ctx, v.ID)
				if err != nil || noticeErr != nil || !f.NextAttemptAt.After(s.now) || f.Attempts < 2 || f.FirstFailedAt.Before(calendar.StartOfDay(on)) {
					t.Fatalf("visit %s is due for destruction on %s and neither held nor failed and waiting (notice: %v, failure: %+v, %v)", v.ID, on.Format(time.DateOnly), noticeErr, f, err)
				}
				state = "published, destruction failed"
			}
		case l.ComplaintOpen:
			state = "complaint open"
		case !l.FinalSent.IsZero():
			state = "final letter sent"
		case !l.DraftSent.IsZero():
			state = "draft sent"
		}
		states[state]++
	}
	for _, want := range []string{"none", "draft sent", "final letter sent", "published", "published, under notice", "complaint open", "published, held", "published, destruction failed"} {
		if states[want] == 0 {
			t.Errorf("no live visit is %s: %v", want, states)
		}
	}
}
