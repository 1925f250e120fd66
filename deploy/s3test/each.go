package s3test

import (
	"bytes"
	"context"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/ofsted-portal/evidence/deploy/devstack"
)

// starts are the servers Each knows how to start, in the order it runs
// them.
var starts = []struct {
	name  string
	start func(context.Context, Options) (*Server, error)
	find  func() (string, error)
	// optIn, when set, names the variable that must be set for the
	// server to be tried at all (Ceph is large and slow to start).
	optIn string
}{
	{"minio", StartMinIO, devstack.FindMinIO, ""},
	{"versitygw", StartVersityGW, FindVersityGW, ""},
	{"versitygw-unversioned", StartVersityGWUnversioned, FindVersityGW, ""},
	{"ceph", StartCeph, FindCeph, "PORTAL_TEST_CEPH"},
}

// Each runs fn as a subtest of t (named after the server) for every server
// this run tests against, each started inside its subtest (so that -run
// picks servers) and stopped when the subtest ends:
//
//   - minio and versitygw: when installed (make test installs both). When
//     one is missing the subtest skips, or fails if
//     PORTAL_REQUIRE_INTEGRATION is set.
//   - ceph: only when PORTAL_TEST_CEPH is set (make test-ceph); then a
//     missing Ceph fails the subtest.
//   - external: the server FromEnv describes, when there is one.
func Each(t *testing.T, fn func(t *testing.T, s *Server)) {
	for _, st := range starts {
		t.Run(st.name, func(t *testing.T) {
			if st.optIn != "" && os.Getenv(st.optIn) == "" {
				t.Skipf("set %s=1 to test against %s (make test-ceph)", st.optIn, st.name)
			}
			if st.find != nil {
				if _, err := st.find(); err != nil {
					if st.optIn != "" || os.Getenv("PORTAL_REQUIRE_INTEGRATION") != "" {
						t.Fatalf("%s is required here: %v", st.name, err)
					}
					t.Skipf("skipping %s: %v", st.name, err)
				}
			}
			s := startForTest(t, st.name, st.start)
			fn(t, s)
		})
	}
	if s, ok := FromEnv(); ok {
		t.Run(s.Name, func(t *testing.T) { fn(t, s) })
	}
}

// startForTest starts a server for t, stops it when t ends, and shows its
// output only if t failed.
func startForTest(t *testing.T, name string, start func(context.Context, Options) (*Server, error)) *Server {
	t.Helper()
	out := &syncBuffer{}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	s, err := start(ctx, Options{Output: out})
	if err != nil {
		t.Fatalf("start %s: %v\n%s", name, err, out)
	}
	t.Logf("%s: started on %s in %s", name, s.Endpoint, s.StartupTime.Round(time.Millisecond))
	t.Cleanup(func() {
		began := time.Now()
		if err := s.Stop(); err != nil {
			t.Errorf("stop %s: %v", name, err)
		}
		t.Logf("%s: stopped in %s", name, time.Since(began).Round(time.Millisecond))
		if _, err := os.Stat(s.Dir); !os.IsNotExist(err) {
			t.Errorf("%s: data folder %s still there after Stop (%v)", name, s.Dir, err)
		}
		if t.Failed() {
			t.Logf("%s output:\n%s", name, out)
		}
	})
	return s
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
