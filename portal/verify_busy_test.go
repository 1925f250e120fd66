package portal_test

import (
	"context"
	"testing"
	"time"

	"github.com/ofsted-portal/evidence/portal"
	"github.com/ofsted-portal/evidence/portal/store"
)

// busyAnchors is the anchor store of a portal that goes on serving while
// the trail is checked: once its anchors have been listed, the portal
// appends records and signs (and anchors) checkpoints of them.
type busyAnchors struct {
	portal.Anchors
	after func()
}

func (b busyAnchors) List(ctx context.Context) ([]store.Checkpoint, error) {
	cps, err := b.Anchors.List(ctx)
	b.after()
	return cps, err
}

// TestVerifyWhileServing: portal audit verify, run beside a serving
// portal that signs and anchors checkpoints while the trail is walked,
// reports the trail intact. Before, it listed the anchors first and read
// the checkpoints after the walk, so every checkpoint signed meanwhile
// but the latest looked unanchored: "BROKEN … anchors were removed or
// hidden", on a healthy trail.
func TestVerifyWhileServing(t *testing.T) {
	d := startDomain(t)
	ctx := context.Background()
	st := d.svc.Store()
	if err := d.svc.Checkpoint(ctx, true); err != nil {
		t.Fatal(err)
	}
	anchors, err := portal.FindAnchors(ctx, d.Config)
	if err != nil || anchors == nil {
		t.Fatalf("the anchors: %v %v", anchors, err)
	}
	busy := busyAnchors{Anchors: anchors, after: func() {
		for range 3 {
			for range 100 {
				if err := st.Audit(ctx, store.AuditRecord{Time: time.Now(), ActorSubject: "portal", Action: "test.act", Outcome: "success"}); err != nil {
					t.Fatal(err)
				}
			}
			if err := d.svc.Checkpoint(ctx, true); err != nil {
				t.Fatal(err)
			}
		}
	}}
	if _, err := portal.VerifyAudit(ctx, st, busy, d.svc.SigningPublicKey()); err != nil {
		t.Errorf("the trail checked while the portal signed and anchored three checkpoints: %v, want it intact", err)
	}
	if _, err := portal.VerifyAudit(ctx, st, anchors, d.svc.SigningPublicKey()); err != nil {
		t.Errorf("the trail checked after: %v", err)
	}
}
