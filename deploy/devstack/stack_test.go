package devstack_test

import (
	"context"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/ofsted-portal/evidence/deploy/devstack"
	"github.com/ofsted-portal/evidence/portal"
)

// TestPortalThatCannotStart: a portal that stops during start-up (here its
// port is taken) makes Start fail with the reason, and stops the rest of
// the stack; it used to wait for ever for the portal it had already seen
// stop (a whole test package hung on it for its 30-minute limit).
func TestPortalThatCannotStart(t *testing.T) {
	bin := need(t, devstack.FindMinIO)
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	type result struct {
		st  *devstack.Stack
		err error
	}
	done := make(chan result, 1)
	go func() {
		st, err := devstack.Start(context.Background(), devstack.Options{Dir: t.TempDir(), MinIOBinary: bin, PortalAddr: taken.Addr().String(),
			Logger: portal.NewLogger(io.Discard, "error")})
		done <- result{st, err}
	}()
	select {
	case r := <-done:
		if r.err == nil {
			r.st.Close()
			t.Fatal("a portal whose port is taken started")
		}
		if !strings.Contains(r.err.Error(), "address already in use") {
			t.Errorf("Start's error does not say why: %v", r.err)
		}
	case <-time.After(2 * time.Minute):
		t.Fatal("Start hung on a portal that could not start")
	}
}

// TestPortalThatCannotRestart: a restart whose port was taken meanwhile
// fails with the reason, and the stack still stops (Close waited for
// ever for the portal that had already stopped).
func TestPortalThatCannotRestart(t *testing.T) {
	bin := need(t, devstack.FindMinIO)
	ctx := context.Background()
	st, err := devstack.Start(ctx, devstack.Options{Dir: t.TempDir(), MinIOBinary: bin, Logger: portal.NewLogger(io.Discard, "error")})
	if err != nil {
		t.Fatal(err)
	}
	st.StopPortal()
	taken, err := net.Listen("tcp", st.Config.Addr)
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	if err := st.RestartPortal(ctx, false); err == nil || !strings.Contains(err.Error(), "address already in use") {
		t.Errorf("a restart on a taken port: %v", err)
	}
	closed := make(chan struct{})
	go func() {
		st.Close()
		close(closed)
	}()
	select {
	case <-closed:
	case <-time.After(time.Minute):
		t.Fatal("Close hung on a portal that had stopped during start-up")
	}
}

// TestFreeAddrNeverRepeats: the ports of one stack are picked one after
// another and bound later, so an address handed out twice puts two
// servers on one port (CI once started a portal whose metrics had its
// own address). The kernel repeats a just-closed port within a few dozen
// picks; FreeAddr must not.
func TestFreeAddrNeverRepeats(t *testing.T) {
	seen := map[string]int{}
	for i := range 2000 {
		a, err := devstack.FreeAddr()
		if err != nil {
			t.Fatal(err)
		}
		if j, ok := seen[a]; ok {
			t.Fatalf("pick %d returned %s, as pick %d did", i, a, j)
		}
		seen[a] = i
	}
}
