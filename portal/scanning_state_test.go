package portal

import (
	"context"
	"errors"
	"io"
	"sync"
	"testing"
	"time"
)

// scanEvents records the scanner's notices and gauge, in the order given.
type scanEvents struct {
	noMetrics
	mu    sync.Mutex
	kinds []string
	up    []bool
}

func (r *scanEvents) ScanEvent(_ context.Context, e ScanEvent) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.kinds = append(r.kinds, e.Kind)
}

func (r *scanEvents) Scanner(up bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.up = append(r.up, up)
}

// TestScannerNoticesInOrder: readiness and the scan worker find the
// scanner down or back at the same moment, many times over. The
// administrators are told of each change once, in the order the changes
// were made: "down" and "back" alternate, and the last notice, like the
// scanner gauge, says what the service last recorded. Before, the notices
// were sent after the state was let go, and a "down" could arrive after
// the "back" that followed it.
func TestScannerNoticesInOrder(t *testing.T) {
	rec := &scanEvents{}
	s := &Service{now: time.Now, log: NewLogger(io.Discard, "error"), metrics: rec}
	s.newScanner(rec)
	ctx := context.Background()
	refused := errors.New("connection refused")
	for round := range 400 {
		start := make(chan struct{})
		var wg sync.WaitGroup
		for i := range 8 {
			wg.Go(func() {
				<-start
				var err error
				if (i+round)%2 == 0 {
					err = refused
				}
				s.scannerState(ctx, err)
			})
		}
		close(start)
		wg.Wait()
		s.scanning.mu.Lock()
		down := s.scanning.down != nil
		s.scanning.mu.Unlock()
		rec.mu.Lock()
		for i, k := range rec.kinds {
			if want := []string{"scanner_down", "scanner_back"}[i%2]; k != want {
				rec.mu.Unlock()
				t.Fatalf("round %d: notice %d is %s, want %s (notices %q)", round, i, k, want, rec.kinds[max(0, i-3):i+1])
			}
		}
		if n := len(rec.kinds); n > 0 && (rec.kinds[n-1] == "scanner_down") != down {
			t.Fatalf("round %d: the last notice is %s, but the scanner is recorded down: %v", round, rec.kinds[n-1], down)
		}
		if n := len(rec.up); n > 0 && rec.up[n-1] == down {
			t.Fatalf("round %d: the gauge says up=%v, but the scanner is recorded down: %v", round, rec.up[n-1], down)
		}
		rec.mu.Unlock()
	}
}
