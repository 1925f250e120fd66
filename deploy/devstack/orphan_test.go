package devstack_test

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ofsted-portal/evidence/deploy/devstack"
)

// TestServersDieWithTheirStarter: the servers the stack starts (here
// MinIO and mailpit) run in process groups of their own, so that a Ctrl-C
// reaches the stack, which stops them in order. A stack that dies without
// stopping them (SIGKILL, the out-of-memory killer, a crash) must not
// leave them running, holding the contract's fixed ports and their data
// folders: the next make run could not start. Before, both outlived it.
func TestServersDieWithTheirStarter(t *testing.T) {
	if os.Getenv("DEVSTACK_ORPHAN_HELPER") != "" {
		orphanHelper()
		return
	}
	need(t, devstack.FindMinIO)
	need(t, devstack.FindMailpit)
	helper := exec.Command(os.Args[0], "-test.run=^TestServersDieWithTheirStarter$")
	helper.Env = append(os.Environ(), "DEVSTACK_ORPHAN_HELPER="+t.TempDir())
	out, err := helper.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	helper.Stderr = os.Stderr
	if err := helper.Start(); err != nil {
		t.Fatal(err)
	}
	var pids []int
	lines := bufio.NewScanner(out)
	for len(pids) < 2 && lines.Scan() {
		if pid, ok := strings.CutPrefix(lines.Text(), "server pid "); ok {
			n, err := strconv.Atoi(pid)
			if err != nil {
				t.Fatal(err)
			}
			pids = append(pids, n)
		}
	}
	if len(pids) < 2 {
		helper.Process.Kill()
		helper.Wait()
		t.Fatalf("the helper did not start its servers (%v)", lines.Err())
	}
	// Only a server seen running, when the test fails, is stopped: once
	// one is seen gone, its pid may be another process's.
	running := map[int]bool{}
	for _, pid := range pids {
		running[pid] = true
	}
	defer func() {
		for pid := range running {
			syscall.Kill(pid, syscall.SIGKILL)
		}
	}()
	helper.Process.Kill()
	helper.Wait()
	deadline := time.Now().Add(15 * time.Second)
	for _, pid := range pids {
		for alive(pid) {
			if time.Now().After(deadline) {
				t.Fatalf("server %d still runs 15 s after what started it was killed", pid)
			}
			time.Sleep(100 * time.Millisecond)
		}
		delete(running, pid)
	}
}

// alive reports whether pid runs (a zombie, gone but not yet reaped by
// whoever adopted it, does not).
func alive(pid int) bool {
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	s := string(stat)
	if i := strings.LastIndexByte(s, ')'); i >= 0 && len(s) > i+2 {
		return s[i+2] != 'Z' && s[i+2] != 'X'
	}
	return true
}

// orphanHelper starts MinIO and mailpit, prints their pids, and waits to
// be killed.
func orphanHelper() {
	dir := os.Getenv("DEVSTACK_ORPHAN_HELPER")
	bin, _ := devstack.FindMinIO()
	m, err := devstack.StartMinIO(context.Background(), devstack.MinIOOptions{Binary: bin, DataDir: dir + "/minio", AccessKey: "orphan", SecretKey: "orphan-secret"})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	fmt.Printf("server pid %d\n", m.Pid())
	mp, err := devstack.StartMailpit(context.Background(), devstack.MailpitOptions{Dir: dir + "/mailpit"})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		m.Stop()
		os.Exit(1)
	}
	fmt.Printf("server pid %d\n", mp.Pid())
	select {}
}
