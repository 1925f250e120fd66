package portal

import (
	"context"
	"errors"
	"fmt"
	"syscall"
	"testing"
)

// TestExportCutOutcome: a cut export's second record says why it was cut,
// and a trail that could not be read is not put down to the reader.
func TestExportCutOutcome(t *testing.T) {
	live := context.Background()
	gone, cancel := context.WithCancel(live)
	cancel()
	for _, c := range []struct {
		ctx  context.Context
		err  error
		want string
	}{
		{live, fmt.Errorf("recheck: %w", errForbidden), "refused"},
		{live, &exportWriteError{syscall.EPIPE}, "interrupted"},
		{gone, fmt.Errorf("store: audit records: %w", context.Canceled), "interrupted"},
		{live, errors.New("store: audit records: disk I/O error"), "failed"},
	} {
		if got := exportCutOutcome(c.ctx, c.err); got != c.want {
			t.Errorf("an export stopped by %v (request ended: %v) is recorded %q, want %q", c.err, c.ctx.Err() != nil, got, c.want)
		}
	}
}
