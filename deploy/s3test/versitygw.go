package s3test

import (
	"context"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/ofsted-portal/evidence/deploy/devstack"
)

// FindVersityGW returns the VersityGW binary: $PORTAL_VERSITYGW_BIN, else
// bin/versitygw in the module root (make test installs it).
func FindVersityGW() (string, error) { return devstack.FindTool("versitygw", "PORTAL_VERSITYGW_BIN") }

// StartVersityGW starts VersityGW v1.8.0's posix backend on a free loopback
// port: buckets are folders under Dir/gw, object versions go to
// Dir/versions (the backend enables versioning only when given that folder,
// which must lie outside the bucket root), metadata in extended attributes,
// no IAM service (single account: the root credentials).
func StartVersityGW(ctx context.Context, o Options) (*Server, error) {
	return startVersityGW(ctx, o, "versitygw", true)
}

// StartVersityGWUnversioned starts VersityGW's posix backend without a
// versioning folder: it lists every object with version id "null", and
// reports object lock on buckets whose versioning is off.
func StartVersityGWUnversioned(ctx context.Context, o Options) (*Server, error) {
	return startVersityGW(ctx, o, "versitygw-unversioned", false)
}

func startVersityGW(ctx context.Context, o Options, name string, versioned bool) (*Server, error) {
	made, err := o.defaults(name, time.Minute)
	if err != nil {
		return nil, err
	}
	if o.Binary == "" {
		if o.Binary, err = FindVersityGW(); err != nil {
			return nil, cleanup(made, o.Dir, err)
		}
	}
	root, versions := filepath.Join(o.Dir, "gw"), filepath.Join(o.Dir, "versions")
	for _, d := range []string{root, versions} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return nil, cleanup(made, o.Dir, err)
		}
	}
	addr, err := devstack.FreeAddr()
	if err != nil {
		return nil, cleanup(made, o.Dir, err)
	}
	began := time.Now()
	// Global options come before the backend's subcommand; the keys go in
	// the environment, where ps does not show them.
	args := []string{"--port", addr, "--region", o.Region, "--health", "/health", "--quiet", "posix", "--versioning-dir", versions, root}
	if !versioned {
		args = append(args[:len(args)-3], root)
	}
	p, err := startProc("versitygw", o.Output,
		append(os.Environ(), "ROOT_ACCESS_KEY="+o.AccessKey, "ROOT_SECRET_KEY="+o.SecretKey), append([]string{o.Binary}, args...)...)
	if err != nil {
		return nil, cleanup(made, o.Dir, err)
	}
	stop := func() error {
		p.stop(10 * time.Second)
		return cleanup(made, o.Dir, nil)
	}
	ready := func(ctx context.Context) bool { return httpOK(ctx, "http://"+addr+"/health", http.StatusOK) }
	if err := waitUntil(ctx, o.StartupWait, "versitygw on "+addr, ready, p); err != nil {
		return nil, errors.Join(err, stop())
	}
	return &Server{
		Name: name, Endpoint: addr, AccessKey: o.AccessKey, SecretKey: o.SecretKey,
		Region: o.Region, Dir: o.Dir, StartupTime: time.Since(began), stop: stop,
	}, nil
}
