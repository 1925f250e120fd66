package portal_test

import (
	"context"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// TestJanitorKeepsItsLease: the janitor's round took a 5-minute lease and
// never renewed it, so a round slowed down (many uploads to remove, a slow
// object store) outlived it and another instance's janitor started the
// same work beside it. The round renews its lease while it works, and one
// that loses it (another holder, the database out of reach) stops.
func TestJanitorKeepsItsLease(t *testing.T) {
	ctx := context.Background()
	var refuse atomic.Pointer[func(*http.Request) bool]
	d := refusingStore(t, &refuse)
	st := d.svc.Store()
	const lease = 2 * time.Second // a renewal has about a second, however loaded the machine
	d.svc.SetLeases(lease)
	d.svc.Sweep(ctx) // the first round starts the key epoch

	// stall holds the janitor's first listing of the epoch keys until
	// release is closed, or its request is given up; left is closed
	// then.
	stall := func() (stalled, release, left chan struct{}, gaveUp *atomic.Bool) {
		stalled, release, left, gaveUp = make(chan struct{}), make(chan struct{}), make(chan struct{}), new(atomic.Bool)
		var once atomic.Bool
		f := func(r *http.Request) bool {
			if !strings.Contains(r.URL.Path, d.Config.KeyBucket) || !r.URL.Query().Has("versions") || !once.CompareAndSwap(false, true) {
				return false
			}
			close(stalled)
			defer close(left)
			select {
			case <-release:
			case <-r.Context().Done():
				gaveUp.Store(true)
			}
			return false
		}
		refuse.Store(&f)
		return stalled, release, left, gaveUp
	}

	stalled, release, _, _ := stall()
	done := make(chan struct{})
	go func() { defer close(done); d.svc.Sweep(ctx) }()
	<-stalled
	time.Sleep(3 * lease)
	now := time.Now()
	took, err := st.TakeLease(ctx, "janitor", "another instance", now, now.Add(time.Minute))
	close(release)
	<-done
	if err != nil {
		t.Fatal(err)
	}
	if took {
		t.Fatal("another instance took the janitor's lease while a round still worked under it")
	}

	// givesUp runs a round, does what to its lease once the round is
	// under way, and says whether the round gave its work up.
	givesUp := func(what string) bool {
		t.Helper()
		if err := st.ReleaseLease(ctx, "janitor", "another instance"); err != nil {
			t.Fatal(err)
		}
		stalled, release, left, gaveUp := stall()
		done := make(chan struct{})
		go func() { defer close(done); d.svc.Sweep(ctx) }()
		<-stalled
		if _, err := st.DB().Exec(what); err != nil {
			t.Fatal(err)
		}
		select {
		case <-left:
		case <-time.After(10 * lease):
			close(release)
		}
		<-done
		return gaveUp.Load()
	}

	// A round whose lease is taken from it stops its work.
	if !givesUp(`UPDATE leases SET holder = 'another instance' WHERE name = 'janitor'`) {
		t.Fatal("a janitor round whose lease another instance took went on with its work")
	}
	// Nor does one whose lease another holder took, worked under and gave
	// up while it was paused: its renewal finds no lease of its own, and
	// does not take the one free. Before, the renewal took it again, and
	// the round went on as though it had held it throughout.
	if !givesUp(`DELETE FROM leases WHERE name = 'janitor'`) {
		t.Fatal("a janitor round whose lease was taken and given up elsewhere took it again and went on with its work")
	}
}
