package portal

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ofsted-portal/evidence/portal/evidence"
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

// slowClamd answers every PING with PONG, after delay.
func slowClamd(t *testing.T, delay time.Duration) string {
	t.Helper()
	return FakeClamd(t, func(conn net.Conn) {
		if _, err := bufio.NewReader(conn).ReadString(0); err != nil {
			return
		}
		time.Sleep(delay)
		conn.Write([]byte("PONG\x00"))
	})
}

// TestSlowPingIsNoOutage: readiness gives the scanner half a second, so
// that it answers within a second whatever is down. A clamd busy enough
// to take longer over one PING is not down: nobody is told it is (an
// error in the log, a notice to every administrator, and "back" a moment
// later), and readiness does not call it down. The scan worker, which
// waits for it longer, is what finds a scanner that has stopped
// answering. A scanner that refuses the connection is down at once.
func TestSlowPingIsNoOutage(t *testing.T) {
	rec := &scanEvents{}
	var logged strings.Builder
	s := &Service{now: time.Now, log: NewLogger(&logged, "info"), metrics: rec, evidence: &evidence.Service{},
		cfg: Config{Scan: ScanRequired, ClamdAddr: slowClamd(t, 800*time.Millisecond), ScanTimeout: time.Minute}}
	s.newScanner(rec)
	ctx := context.Background()
	for range 3 {
		degraded := map[string]string{}
		s.scannerDegraded(ctx, degraded)
		if len(degraded) != 0 {
			t.Errorf("a scanner slow to answer one PING is reported down by readiness: %v", degraded)
		}
	}
	if len(rec.kinds) != 0 || strings.Contains(logged.String(), `"level":"ERROR"`) {
		t.Fatalf("a scanner slow to answer one PING is announced as down: notices %q, log:\n%s", rec.kinds, logged.String())
	}
	// Nor is it down when readiness has run out of time before it asks
	// (the database and the object store slow): the PING fails at once,
	// on readiness's deadline, not the scanner's. Before, that declared
	// the scanner down, with its notice and the log's ERROR.
	spent, cancel := context.WithDeadline(ctx, time.Now().Add(-time.Second))
	degraded := map[string]string{}
	s.scannerDegraded(spent, degraded)
	cancel()
	if len(degraded) != 0 || len(rec.kinds) != 0 || strings.Contains(logged.String(), `"level":"ERROR"`) {
		t.Fatalf("readiness out of time before it asked the scanner: degraded %v, notices %q, log:\n%s", degraded, rec.kinds, logged.String())
	}
	if err := s.evidence.Scanner.Ping(ctx); err != nil {
		t.Fatalf("the worker's PING: %v", err)
	}

	// Refused: down at once, and told once.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	gone := l.Addr().String()
	l.Close()
	s.evidence.Scanner.Addr = gone
	for range 2 {
		degraded := map[string]string{}
		s.scannerDegraded(ctx, degraded)
		if degraded["scanner:clamd"] == "" {
			t.Errorf("a scanner that refuses the connection is not reported down: %v", degraded)
		}
	}
	if !slices.Equal(rec.kinds, []string{"scanner_down"}) {
		t.Fatalf("a scanner that refuses the connection: notices %q, want one scanner_down", rec.kinds)
	}
}
