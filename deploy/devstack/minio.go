// Package devstack starts the parts of a development or test stack: a real
// MinIO server as a child process, the development identity provider and the
// portal, all on loopback. make run and the integration tests use it; no part
// is faked. PostgreSQL, mailpit and clamd are started the same way, each a
// child process in its own process group with its state in a folder of its
// own, listening only on 127.0.0.1, and stopped by its pid.
package devstack

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"time"

	"github.com/ofsted-portal/evidence/deploy/loopback"
	"github.com/ofsted-portal/evidence/deploy/owned"
)

// MinIO is a MinIO server child process.
type MinIO struct {
	Endpoint  string // host:port
	AccessKey string
	SecretKey string
	cmd       *exec.Cmd
	done      chan error
	stopOnce  sync.Once
}

// MinIOOptions configure StartMinIO.
type MinIOOptions struct {
	Binary      string // path of the minio binary
	DataDir     string
	Addr        string // "127.0.0.1:9000", or "127.0.0.1:0" for a free port
	AccessKey   string
	SecretKey   string
	Output      io.Writer // server output (nil: discarded)
	StartupWait time.Duration
}

// FindMinIO returns the MinIO binary: $PORTAL_MINIO_BIN, else bin/minio in
// the module root.
func FindMinIO() (string, error) { return FindTool("minio", "PORTAL_MINIO_BIN") }

// FindTool returns a program the make targets install: $env when it is set,
// else bin/<name> in the module root (found by walking up from the working
// directory).
func FindTool(name, env string) (string, error) {
	if p := os.Getenv(env); env != "" && p != "" {
		return p, nil
	}
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			p := filepath.Join(dir, "bin", name)
			if _, err := os.Stat(p); err != nil {
				return "", fmt.Errorf("no %s at %s: run make (make run, make test or make bench install it)", name, p)
			}
			return p, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("no go.mod above the working directory: set %s", env)
		}
		dir = parent
	}
}

// FreeAddr returns a free loopback address, never one it has returned
// before in this process (see loopback.FreeAddr).
func FreeAddr() (string, error) { return loopback.FreeAddr() }

// StartMinIO starts the server and waits until it is ready.
func StartMinIO(ctx context.Context, o MinIOOptions) (*MinIO, error) {
	if o.Addr == "" || o.Addr == "127.0.0.1:0" {
		a, err := FreeAddr()
		if err != nil {
			return nil, err
		}
		o.Addr = a
	}
	console, err := FreeAddr()
	if err != nil {
		return nil, err
	}
	if o.StartupWait == 0 {
		o.StartupWait = 60 * time.Second
	}
	if err := os.MkdirAll(o.DataDir, 0o700); err != nil {
		return nil, err
	}
	cmd := exec.Command(o.Binary, "server", o.DataDir, "--address", o.Addr, "--console-address", console, "--quiet")
	cmd.Env = append(os.Environ(),
		"MINIO_ROOT_USER="+o.AccessKey,
		"MINIO_ROOT_PASSWORD="+o.SecretKey,
		"MINIO_BROWSER=off",
		"MINIO_UPDATE=off",
		"MINIO_CALLHOME_ENABLE=off",
	)
	if o.Output == nil {
		o.Output = io.Discard
	}
	cmd.Stdout, cmd.Stderr = o.Output, o.Output
	// Own process group: Ctrl-C in a terminal reaches us, and we stop MinIO
	// ourselves, in order.
	cmd.SysProcAttr = owned.SysProcAttr()
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start minio: %w", err)
	}
	m := &MinIO{Endpoint: o.Addr, AccessKey: o.AccessKey, SecretKey: o.SecretKey, cmd: cmd, done: make(chan error, 1)}
	go func() { m.done <- cmd.Wait() }()
	deadline := time.Now().Add(o.StartupWait)
	for {
		// Not /minio/health/ready, which answers before MinIO has loaded
		// its buckets' metadata: that load then replaces, in memory, any
		// bucket configuration set meanwhile (a lifecycle rule put or
		// removed in the first tenth of a second or so is undone, and reads
		// say so). The cluster check waits for it.
		if ready(ctx, "http://"+o.Addr+"/minio/health/cluster") {
			return m, nil
		}
		select {
		case err := <-m.done:
			return nil, fmt.Errorf("minio exited during start-up: %v", err)
		case <-ctx.Done():
			m.Stop()
			return nil, ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			m.Stop()
			return nil, fmt.Errorf("minio not ready on %s after %s", o.Addr, o.StartupWait)
		}
	}
}

func ready(ctx context.Context, url string) bool {
	ctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return false
	}
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}

// Pid is the MinIO server's process id (for measuring what it costs).
func (m *MinIO) Pid() int { return m.cmd.Process.Pid }

// Stop ends the server: SIGTERM, then SIGKILL after 10 seconds. It may be
// called more than once.
func (m *MinIO) Stop() error {
	if m == nil || m.cmd.Process == nil {
		return nil
	}
	m.stopOnce.Do(func() {
		_ = m.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-m.done:
		case <-time.After(10 * time.Second):
			_ = m.cmd.Process.Kill()
			<-m.done
		}
	})
	return nil
}
