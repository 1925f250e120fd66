package s3test

import (
	"context"
	"os"
	"path/filepath"
	"time"

	"github.com/ofsted-portal/evidence/deploy/devstack"
)

// StartMinIO starts MinIO as the development stack does (devstack.StartMinIO),
// on a free loopback port. MinIO is not told a region, so it accepts
// requests signed for any; Server.Region is Options.Region.
func StartMinIO(ctx context.Context, o Options) (*Server, error) {
	made, err := o.defaults("minio", time.Minute)
	if err != nil {
		return nil, err
	}
	if o.Binary == "" {
		if o.Binary, err = devstack.FindMinIO(); err != nil {
			return nil, cleanup(made, o.Dir, err)
		}
	}
	began := time.Now()
	m, err := devstack.StartMinIO(ctx, devstack.MinIOOptions{
		Binary: o.Binary, DataDir: filepath.Join(o.Dir, "data"), Addr: "127.0.0.1:0",
		AccessKey: o.AccessKey, SecretKey: o.SecretKey, Output: o.Output, StartupWait: o.StartupWait,
	})
	if err != nil {
		return nil, cleanup(made, o.Dir, err)
	}
	return &Server{
		Name: "minio", Endpoint: m.Endpoint, AccessKey: o.AccessKey, SecretKey: o.SecretKey,
		Region: o.Region, Dir: o.Dir, StartupTime: time.Since(began),
		stop: func() error {
			err := m.Stop()
			return cleanup(made, o.Dir, err)
		},
	}, nil
}

// cleanup removes dir when this package made it, and returns err, or the
// removal's error when err is nil.
func cleanup(made bool, dir string, err error) error {
	if !made {
		return err
	}
	if rerr := os.RemoveAll(dir); err == nil {
		err = rerr
	}
	return err
}
