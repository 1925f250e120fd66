package pgserver

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"sync"
)

// The test process's cluster: started at the first NewTestDatabase, in a
// temporary folder, without fsync; StopShared stops it and removes the
// folder.
var shared struct {
	mu  sync.Mutex
	srv *Server
	dir string
}

// TestDatabaseWanted reports whether tests should run on PostgreSQL:
// PORTAL_TEST_DATABASE=postgres (make test runs the suites once on SQLite
// and once so).
func TestDatabaseWanted() bool { return os.Getenv("PORTAL_TEST_DATABASE") == "postgres" }

// NewTestDatabase returns the URL of a new, empty database on the test
// process's cluster, starting the cluster at first use.
func NewTestDatabase(ctx context.Context) (string, error) {
	shared.mu.Lock()
	defer shared.mu.Unlock()
	if shared.srv == nil {
		dir, err := os.MkdirTemp("", "portal-pg-")
		if err != nil {
			return "", err
		}
		srv, err := Start(ctx, Options{Dir: dir, Fast: true})
		if err != nil {
			os.RemoveAll(dir)
			return "", fmt.Errorf("start the test cluster: %w", err)
		}
		shared.srv, shared.dir = srv, dir
	}
	var b [6]byte
	rand.Read(b[:])
	return shared.srv.CreateDatabase(ctx, "t_"+hex.EncodeToString(b[:]))
}

// TestServeURL is the URL, for the serving role (ServeRole), of a
// database NewTestDatabase made, whose URL is the owner's: tests of the
// portal as production runs it, migrating as the owner and serving as a
// role that owns nothing.
func TestServeURL(dbURL string) (string, error) {
	shared.mu.Lock()
	defer shared.mu.Unlock()
	if shared.srv == nil {
		return "", fmt.Errorf("no test cluster: make the database with NewTestDatabase first")
	}
	return shared.srv.ServeURLOf(dbURL)
}

// StopShared stops the test process's cluster, if it was started.
func StopShared() {
	shared.mu.Lock()
	defer shared.mu.Unlock()
	if shared.srv != nil {
		shared.srv.Stop()
		os.RemoveAll(shared.dir)
		shared.srv = nil
	}
}

// RunTests runs a package's tests and then stops the shared cluster: call
// it from TestMain as os.Exit(pgserver.RunTests(m)).
func RunTests(m interface{ Run() int }) int {
	defer StopShared()
	return m.Run()
}
