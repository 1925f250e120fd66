package s3test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"os/exec"
	"strings"
	"syscall"
	"time"

	"github.com/ofsted-portal/evidence/deploy/owned"
)

// proc is a server process started by this package and stopped by its pid.
type proc struct {
	name string
	cmd  *exec.Cmd
	done chan struct{}
	err  error // Wait's result, once done is closed
}

// startProc starts argv in its own process group (so a Ctrl-C in a
// terminal reaches the test, which stops its servers in order) with its
// output to out.
func startProc(name string, out io.Writer, env []string, argv ...string) (*proc, error) {
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env = env
	cmd.Stdout, cmd.Stderr = out, out
	cmd.SysProcAttr = owned.SysProcAttr()
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("s3test: start %s: %w", name, err)
	}
	p := &proc{name: name, cmd: cmd, done: make(chan struct{})}
	go func() { p.err = cmd.Wait(); close(p.done) }()
	return p, nil
}

// stop sends SIGTERM to the process, then SIGKILL after grace.
func (p *proc) stop(grace time.Duration) {
	if p == nil {
		return
	}
	select {
	case <-p.done:
		return
	default:
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(grace):
		_ = p.cmd.Process.Kill()
		<-p.done
	}
}

// waitUntil polls ready every 100ms until it holds, one of procs exits,
// ctx ends or wait passes.
func waitUntil(ctx context.Context, wait time.Duration, what string, ready func(context.Context) bool, procs ...*proc) error {
	deadline := time.Now().Add(wait)
	for {
		if ready(ctx) {
			return nil
		}
		for _, p := range procs {
			select {
			case <-p.done:
				return fmt.Errorf("s3test: %s exited while waiting for %s: %v", p.name, what, p.err)
			default:
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("s3test: %s not ready after %s", what, wait)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// httpOK reports whether GET url answers with status.
func httpOK(ctx context.Context, url string, status int) bool {
	ctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return false
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return false
	}
	resp.Body.Close()
	return resp.StatusCode == status
}

// run runs a short command to completion and returns its standard output;
// on failure the error carries its standard error.
func run(ctx context.Context, stdin string, argv ...string) (string, error) {
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if stdin != "" {
		cmd.Stdin = strings.NewReader(stdin)
	}
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("s3test: %s: %w: %s", strings.Join(argv, " "), err, strings.TrimSpace(stderr.String()))
	}
	return stdout.String(), nil
}
