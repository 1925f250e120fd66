package main

import (
	"context"
	"io"
	"os"
	"strings"
	"testing"

	"github.com/ofsted-portal/evidence/deploy/devstack"
	"github.com/ofsted-portal/evidence/portal"
)

// TestHealth asks a running portal, then one that is stopped.
func TestHealth(t *testing.T) {
	bin, err := devstack.FindMinIO()
	if err != nil {
		if os.Getenv("PORTAL_REQUIRE_INTEGRATION") != "" {
			t.Fatal(err)
		}
		t.Skip(err)
	}
	ctx := context.Background()
	st, err := devstack.Start(ctx, devstack.Options{Dir: t.TempDir(), MinIOBinary: bin, Logger: portal.NewLogger(io.Discard, "error")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(st.Close)
	t.Setenv("PORTAL_ADDR", st.Config.Addr)
	if err := health(ctx, nil); err != nil {
		t.Fatalf("ready portal: %v", err)
	}
	if err := health(ctx, []string{"--live"}); err != nil {
		t.Fatalf("live portal: %v", err)
	}
	st.StopPortal()
	if err := health(ctx, nil); err == nil || !strings.Contains(err.Error(), "connection refused") {
		t.Fatalf("stopped portal: %v", err)
	}
}

func TestLocalAddr(t *testing.T) {
	for in, want := range map[string]string{
		"0.0.0.0:8080": "127.0.0.1:8080", ":8080": "127.0.0.1:8080", "[::]:8080": "127.0.0.1:8080",
		"127.0.0.1:8080": "127.0.0.1:8080", "10.1.2.3:80": "10.1.2.3:80",
	} {
		if got := localAddr(in); got != want {
			t.Errorf("localAddr(%q) = %q, want %q", in, got, want)
		}
	}
}
