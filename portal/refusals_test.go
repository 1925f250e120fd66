package portal

import (
	"errors"
	"fmt"
	"testing"

	"github.com/ofsted-portal/evidence/portal/store"
)

// TestRefusalsSinceTheRequestWasAllowed: what the store refuses where a
// change is written, after the request was allowed, reaches the person as
// the refusal the policy would have given: a hold as locked, a
// destruction begun as gone, never as a failure of the portal.
func TestRefusalsSinceTheRequestWasAllowed(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want Kind
	}{
		{fmt.Errorf("store: commit file: %w", store.ErrOnHold), KindLocked},
		{fmt.Errorf("store: commit file: %w", store.ErrDestructionBegun), KindGone},
	} {
		var e *Error
		got := heldSince(tc.err)
		if ok := errors.As(got, &e); !ok || e.Kind != tc.want || e.Msg == "" {
			t.Errorf("%v: answered %v, want kind %v with a message", tc.err, got, tc.want)
		}
	}
}
