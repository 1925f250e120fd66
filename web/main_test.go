package web_test

import (
	"os"
	"testing"

	"github.com/ofsted-portal/evidence/deploy/pgserver"
)

// TestMain stops the PostgreSQL cluster the tests shared, if they used one
// (PORTAL_TEST_DATABASE=postgres).
func TestMain(m *testing.M) { os.Exit(pgserver.RunTests(m)) }
