package devstack_test

import (
	"os"
	"testing"
)

// need returns what find finds, or skips the test when the part is not
// installed and the run does not require integration tests (make test
// requires them).
func need(t *testing.T, find func() (string, error)) string {
	t.Helper()
	p, err := find()
	if err != nil {
		if os.Getenv("PORTAL_REQUIRE_INTEGRATION") != "" {
			t.Fatalf("integration tests need it: %v", err)
		}
		t.Skipf("skipping integration test: %v", err)
	}
	return p
}

// logWriter sends a child process's output to the test log.
type logWriter struct{ t *testing.T }

func (w logWriter) Write(p []byte) (int, error) {
	w.t.Helper()
	w.t.Logf("%s", p)
	return len(p), nil
}
