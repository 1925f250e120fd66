package portal_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/ofsted-portal/evidence/deploy/devstack"
	"github.com/ofsted-portal/evidence/policy"
	"github.com/ofsted-portal/evidence/portal"
)

// TestSweepRefusesAClockThatIsOut: an instance whose clock runs days ahead
// of the database's (a host whose time sync failed, a clock set by hand)
// finds a visit due that is not, and would destroy it early by its skew.
// The sweep first compares the clock with the database's and, when they
// differ by more than a few seconds, destroys nothing; readiness names the
// difference for the operator. Once the clocks agree, the visit is
// destroyed as due.
func TestSweepRefusesAClockThatIsOut(t *testing.T) {
	d := startDomainWith(t, func(o *devstack.Options) {
		o.PortalOptions = []portal.Option{portal.WithClockCheck()}
		o.Env = map[string]string{"PORTAL_DESTRUCTION_NOTICE": "0d"}
	})
	ctx := context.Background()
	v := d.demo()
	lead := d.person("ofsted", "lead@ofsted.example")
	day := d.publish(lead, v)
	d.at(day.AddDate(0, 0, d.Config.RetentionDays))
	ids, err := d.svc.RunRetention(ctx)
	if len(ids) != 0 || err == nil || !strings.Contains(err.Error(), "clock") {
		t.Fatalf("a sweep on a clock far ahead of the database's: destroyed %v, err %v; want nothing destroyed and the clocks named", ids, err)
	}
	if _, err := d.access(lead, policy.VisitView, ""); err != nil {
		t.Fatalf("the visit after the refused sweep: %v", err)
	}
	if r := d.svc.Ready(ctx); !strings.Contains(r.Degraded["clock"], "database") {
		t.Fatalf("readiness with the clock out: %+v", r.Degraded)
	}
	// The same check passes a clock that agrees with the database's: the
	// refusal is the skew's, not the check's.
	// Readiness answers from checks up to 2 s old.
	d.offset.Store(0)
	deadline := time.Now().Add(10 * time.Second)
	for r := d.svc.Ready(ctx); r.Degraded["clock"] != ""; r = d.svc.Ready(ctx) {
		if time.Now().After(deadline) {
			t.Fatalf("readiness with the clocks agreeing: %q", r.Degraded["clock"])
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// TestEpochsNotRetiredOnAClockThatIsOut: retiring a superseded key epoch
// destroys its key, after which a backup from before can no longer be
// restored; a clock running ahead would do it early, so the janitor
// compares the clocks first, as the sweep does.
func TestEpochsNotRetiredOnAClockThatIsOut(t *testing.T) {
	d := startDomainWith(t, func(o *devstack.Options) { o.PortalOptions = []portal.Option{portal.WithClockCheck()} })
	ctx := context.Background()
	old, err := d.svc.Store().CurrentEpoch(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := d.svc.RotateKeyEpoch(ctx, portal.OperatorActor("test", "key new-epoch"), "operator"); err != nil {
		t.Fatal(err)
	}
	d.offset.Store(int64(d.Config.KeyEpochRetain + 48*time.Hour))
	n, err := d.svc.RetireKeyEpochs(ctx)
	if e, _ := d.svc.Store().GetEpoch(ctx, old.ID); n != 0 || err == nil || !strings.Contains(err.Error(), "clock") || !e.RetiredAt.IsZero() {
		t.Fatalf("retiring on a clock %s ahead of the database's: %d retired (epoch retired at %v), err %v; want none and the clocks named",
			d.Config.KeyEpochRetain+48*time.Hour, n, e.RetiredAt, err)
	}
}
