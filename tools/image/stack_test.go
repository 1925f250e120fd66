package main

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sync"
	"syscall"
	"testing"
	"time"
)

// The parts the container is started against, each a real server on a free
// loopback port: MinIO (bin/minio, as make test installs it) and the dev
// identity provider (cmd/devidp). This module cannot import the portal's
// deploy/devstack, so it starts them as child processes itself.

// givenAddrs holds every address freeAddr has handed out: its port is
// closed again on return, and the kernel picks a just-closed port again
// within a few dozen picks, so two servers could be handed one port.
var givenAddrs sync.Map

func freeAddr(t *testing.T) string {
	t.Helper()
	for range 100 {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		a := l.Addr().String()
		l.Close()
		if _, taken := givenAddrs.LoadOrStore(a, true); !taken {
			return a
		}
	}
	t.Fatal("no free loopback port that was not handed out already")
	return ""
}

// child starts a program and stops it (by its pid) when the test ends.
func child(t *testing.T, env []string, name string, args ...string) {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Env = append(os.Environ(), env...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", name, err)
	}
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		done := make(chan struct{})
		go func() { cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			cmd.Process.Kill()
			<-done
		}
	})
}

// waitOK polls url until it answers 200.
func waitOK(t *testing.T, url string, limit time.Duration, alive func() error) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for {
		resp, err := http.Get(url)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		if alive != nil {
			if err := alive(); err != nil {
				t.Fatal(err)
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s did not answer 200 within %s (last: %v)", url, limit, err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// minio finds the MinIO server make test installs.
func minio(t *testing.T) string {
	t.Helper()
	bin := os.Getenv("PORTAL_MINIO_BIN")
	if bin == "" {
		bin = filepath.Join(repoRoot, "bin", "minio")
	}
	if _, err := os.Stat(bin); err != nil {
		skipOrFail(t, "no MinIO (make test installs bin/minio): %v", err)
	}
	return bin
}

// startMinIO runs MinIO with its data in dir.
func startMinIO(t *testing.T, bin, dir, accessKey, secretKey string) string {
	t.Helper()
	addr := freeAddr(t)
	child(t, []string{"MINIO_ROOT_USER=" + accessKey, "MINIO_ROOT_PASSWORD=" + secretKey, "MINIO_BROWSER=off", "MINIO_UPDATE=off"},
		bin, "server", dir, "--address", addr, "--console-address", freeAddr(t), "--quiet")
	waitOK(t, "http://"+addr+"/minio/health/ready", time.Minute, nil)
	return addr
}

// startDevIdP builds and runs the dev identity provider for a portal at
// portalURL.
func startDevIdP(t *testing.T, dir, portalURL string) string {
	t.Helper()
	bin := filepath.Join(dir, "devidp")
	cmd := exec.Command("go", "build", "-o", bin, "./cmd/devidp")
	cmd.Dir = repoRoot
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build devidp: %v\n%s", err, b)
	}
	addr := freeAddr(t)
	child(t, []string{"DEVIDP_ADDR=" + addr, "PORTAL_PUBLIC_URL=" + portalURL}, bin)
	waitOK(t, "http://"+addr+"/ofsted/.well-known/openid-configuration", 30*time.Second, nil)
	return addr
}

var (
	formAction = regexp.MustCompile(`<form method="post" action="([^"]+)">`)
	hiddenID   = regexp.MustCompile(`<input type="hidden" name="id" value="([^"]+)">`)
)

// signIn goes through the real sign-in, as a browser would: the portal
// sends the browser to the provider's form, the form posts back, the
// provider redirects to the portal's callback, which lands on /visits.
func signIn(t *testing.T, portalURL, idp, username, password string) {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar, Timeout: 30 * time.Second}
	resp, err := c.Get(portalURL + "/auth/" + idp + "/login")
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	action, id := formAction.FindSubmatch(page), hiddenID.FindSubmatch(page)
	if action == nil || id == nil {
		t.Fatalf("no sign-in form at %s:\n%s", resp.Request.URL, page)
	}
	target, err := resp.Request.URL.Parse(string(action[1]))
	if err != nil {
		t.Fatal(err)
	}
	resp, err = c.PostForm(target.String(), url.Values{"id": {string(id[1])}, "username": {username}, "password": {password}})
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || resp.Request.URL.Path != "/visits" {
		t.Fatalf("sign-in as %s ended at %s with %d:\n%s", username, resp.Request.URL, resp.StatusCode, body)
	}
}

// writeSecret writes a secret file as Kubernetes mounts one for a pod
// with an fsGroup: owned by root, group the portal's, mode 0440.
func writeSecret(t *testing.T, path string, data []byte) {
	t.Helper()
	if err := os.WriteFile(path, data, 0o440); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(path, 0, GID); err != nil {
		t.Fatal(fmt.Errorf("secret for the portal's group: %w", err))
	}
	if err := os.Chmod(path, 0o440); err != nil {
		t.Fatal(err)
	}
}
