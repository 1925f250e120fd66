package devstack_test

import (
	"os"
	"testing"

	"github.com/ofsted-portal/evidence/deploy/pgserver"
)

// TestMain stops the test cluster a PostgreSQL run started
// (PORTAL_TEST_DATABASE=postgres): without it the cluster outlived the
// tests.
func TestMain(m *testing.M) { os.Exit(pgserver.RunTests(m)) }
