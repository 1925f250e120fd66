// Package s3test starts S3-compatible servers for tests, so that what the
// portal stores can be tested against more than one implementation: MinIO,
// VersityGW (posix backend with versioning) and a one-node Ceph cluster with
// its RADOS gateway, each a real server started as child processes on
// loopback with its data in a folder of its own; or an external server
// described by the environment (FromEnv).
//
// Invariants: a started server listens only on 127.0.0.1, on a free port;
// every process is started, and stopped, by its pid; Stop stops them all
// and removes the data folder when the package made it. Servers are
// described by the same Server value whatever they are, so a test written
// against one runs against all (Each).
//
// This package is test support: only tests import it, never the portal.
package s3test

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"sync"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
)

// DefaultRegion is the region servers are started in when Options.Region
// is empty (and the portal's default, PORTAL_S3_REGION).
const DefaultRegion = "us-east-1"

// Server is a running (or external) S3-compatible server: what a client
// needs to reach it.
type Server struct {
	Name      string // "minio", "versitygw", "ceph" or "external"
	Endpoint  string // host:port
	AccessKey string
	SecretKey string
	Region    string
	Secure    bool   // HTTPS
	Dir       string // where the server keeps its data ("" for external)

	// StartupTime is how long the server took to start and answer.
	StartupTime time.Duration

	stop     func() error
	stopOnce sync.Once
	stopErr  error
}

// Options configure the Start functions. Every field may be left empty.
type Options struct {
	// Binary is the server program (for Ceph: radosgw, with the other
	// Ceph programs beside it). Empty: found as make installs it (see
	// FindVersityGW, FindCeph, devstack.FindMinIO).
	Binary string
	// Dir holds the server's data. Empty: a new temporary folder, which
	// Stop removes.
	Dir string
	// Output receives the servers' output (nil: discarded).
	Output io.Writer
	// Region is the region the server is configured for (empty:
	// DefaultRegion).
	Region string
	// AccessKey and SecretKey are the root (or S3 user) credentials
	// (empty: random).
	AccessKey, SecretKey string
	// StartupWait bounds the start-up (0: one minute; three for Ceph).
	StartupWait time.Duration
}

// Stop stops the server's processes and removes the data folder when the
// package made it. It may be called more than once; an external server is
// left alone.
func (s *Server) Stop() error {
	if s == nil || s.stop == nil {
		return nil
	}
	s.stopOnce.Do(func() { s.stopErr = s.stop() })
	return s.stopErr
}

// Client returns a minio-go client for the server, configured as the
// portal's store configures its own (path-style, the server's region).
func (s *Server) Client() (*minio.Client, error) {
	return minio.New(s.Endpoint, &minio.Options{
		Creds:  credentials.NewStaticV4(s.AccessKey, s.SecretKey, ""),
		Secure: s.Secure,
		Region: s.Region,
	})
}

// FromEnv describes the external server given by PORTAL_TEST_S3_ENDPOINT
// (host:port), PORTAL_TEST_S3_ACCESS_KEY, PORTAL_TEST_S3_SECRET_KEY,
// PORTAL_TEST_S3_REGION (default us-east-1) and PORTAL_TEST_S3_SECURE
// (true or false, default false). It reports false when
// PORTAL_TEST_S3_ENDPOINT is unset. A set endpoint with missing keys or a
// PORTAL_TEST_S3_SECURE that is not a boolean panics with what to fix: a
// test run against a misdescribed server would prove nothing.
func FromEnv() (*Server, bool) {
	s, ok, err := parseEnv(os.Getenv)
	if err != nil {
		panic(err)
	}
	return s, ok
}

func parseEnv(getenv func(string) string) (*Server, bool, error) {
	endpoint := getenv("PORTAL_TEST_S3_ENDPOINT")
	if endpoint == "" {
		return nil, false, nil
	}
	s := &Server{
		Name:      "external",
		Endpoint:  endpoint,
		AccessKey: getenv("PORTAL_TEST_S3_ACCESS_KEY"),
		SecretKey: getenv("PORTAL_TEST_S3_SECRET_KEY"),
		Region:    getenv("PORTAL_TEST_S3_REGION"),
	}
	var errs []error
	if s.AccessKey == "" || s.SecretKey == "" {
		errs = append(errs, errors.New("s3test: PORTAL_TEST_S3_ENDPOINT is set: set PORTAL_TEST_S3_ACCESS_KEY and PORTAL_TEST_S3_SECRET_KEY too"))
	}
	if v := getenv("PORTAL_TEST_S3_SECURE"); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			errs = append(errs, fmt.Errorf("s3test: PORTAL_TEST_S3_SECURE=%q: want true or false", v))
		}
		s.Secure = b
	}
	if s.Region == "" {
		s.Region = DefaultRegion
	}
	if err := errors.Join(errs...); err != nil {
		return nil, true, err
	}
	return s, true, nil
}

// defaults fills in what the caller left empty. made says whether Dir is
// a temporary folder made here (and so Stop's to remove).
func (o *Options) defaults(name string, wait time.Duration) (made bool, err error) {
	if o.Output == nil {
		o.Output = io.Discard
	}
	if o.Region == "" {
		o.Region = DefaultRegion
	}
	if o.AccessKey == "" {
		o.AccessKey = "s3test" + randomHex(7)
	}
	if o.SecretKey == "" {
		o.SecretKey = randomHex(20)
	}
	if o.StartupWait == 0 {
		o.StartupWait = wait
	}
	if o.Dir != "" {
		return false, os.MkdirAll(o.Dir, 0o700)
	}
	o.Dir, err = os.MkdirTemp("", "s3test-"+name+"-")
	return err == nil, err
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b) // never fails (crypto/rand)
	return hex.EncodeToString(b)
}
