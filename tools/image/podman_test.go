package main

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestImageUnderPodman starts the image with Debian's podman, as an
// operator would on one host: read-only root file system, every
// capability dropped, secrets as read-only files, host networking to reach
// MinIO and the dev identity provider on loopback; then signs in through
// it and checks readiness and metrics.
//
// Where podman cannot start containers on this machine the test says why,
// with podman's own error, and skips: it never pretends.
func TestImageUnderPodman(t *testing.T) {
	podman := os.Getenv("PORTAL_PODMAN_BIN")
	if podman == "" {
		podman = "podman"
	}
	podman, err := exec.LookPath(podman)
	if err != nil {
		skipOrFail(t, "no podman (make test installs Debian's): %v", err)
	}
	if os.Geteuid() != 0 {
		t.Skip("podman must run as root here: the test mounts files owned by root for the image's group 10001, which rootless podman maps elsewhere")
	}
	minioBin := minio(t)
	dir := t.TempDir()
	version := "podman-test-" + randomHex(4)
	s := testSpec(t, portalBinary(t, "portal"))
	s.Version = version
	img, err := Build(s)
	if err != nil {
		t.Fatal(err)
	}
	if err := Write(img, dir, version); err != nil {
		t.Fatal(err)
	}

	accessKey, secretKey := "portal-"+randomHex(4), randomHex(16)
	s3 := startMinIO(t, minioBin, filepath.Join(dir, "minio"), accessKey, secretKey)
	portalAddr, metricsAddr := freeAddr(t), freeAddr(t)
	portalURL := "http://" + portalAddr
	idp := startDevIdP(t, dir, portalURL)

	secrets, data := filepath.Join(dir, "secrets"), filepath.Join(dir, "data")
	for _, d := range []string{secrets, data} {
		if err := os.Mkdir(d, 0o750); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Chown(data, UID, GID); err != nil {
		t.Fatal(err)
	}
	os.Chown(secrets, 0, GID)
	writeSecret(t, filepath.Join(secrets, "master.key"), keygen(t, s.Binary))
	writeSecret(t, filepath.Join(secrets, "signing.key"), keygen(t, s.Binary, "--signing"))
	writeSecret(t, filepath.Join(secrets, "s3-access-key"), []byte(accessKey))
	writeSecret(t, filepath.Join(secrets, "s3-secret-key"), []byte(secretKey))
	writeSecret(t, filepath.Join(secrets, "idp-ofsted-client-secret"), []byte("dev-portal-secret"))

	name := "portal-" + version
	args := []string{"run", "--detach", "--name", name, "--network=host", "--read-only",
		"--cap-drop=ALL", "--security-opt=no-new-privileges",
		// This machine's podman cannot raise resource limits (no
		// CAP_SYS_RESOURCE) and by default asks for more than it has.
		"--ulimit", "nofile=4096:4096", "--ulimit", "nproc=4096:4096",
		"--volume", data + ":/data", "--volume", secrets + ":/run/secrets:ro"}
	for _, kv := range []string{
		"PORTAL_ADDR=" + portalAddr, "PORTAL_PUBLIC_URL=" + portalURL, "PORTAL_DEV=true",
		"PORTAL_METRICS_ADDR=" + metricsAddr,
		"PORTAL_MASTER_KEY_FILE=/run/secrets/master.key", "PORTAL_SIGNING_KEY_FILE=/run/secrets/signing.key",
		"PORTAL_S3_ENDPOINT=" + s3, "PORTAL_S3_ACCESS_KEY_FILE=/run/secrets/s3-access-key", "PORTAL_S3_SECRET_KEY_FILE=/run/secrets/s3-secret-key",
		"PORTAL_AUDIT_ANCHOR_RETENTION=1d",
		"PORTAL_IDPS=ofsted", "PORTAL_IDP_OFSTED_ISSUER=http://" + idp + "/ofsted", "PORTAL_IDP_OFSTED_CLIENT_ID=portal",
		"PORTAL_IDP_OFSTED_CLIENT_SECRET_FILE=/run/secrets/idp-ofsted-client-secret", "PORTAL_IDP_OFSTED_ORGANISATION=inspectorate",
	} {
		args = append(args, "--env", kv)
	}
	args = append(args, "docker-archive:"+filepath.Join(dir, "portal.tar"))
	args = append(runtimeArgs(), args...)
	t.Cleanup(func() {
		exec.Command(podman, "rm", "--force", "--time", "10", name).Run()
		exec.Command(podman, "rmi", "--force", "localhost/portal:"+version).Run()
	})
	start := time.Now()
	out, err := exec.Command(podman, args...).CombinedOutput()
	if err != nil {
		cannotRun(t, err, out)
	}
	alive := func() error {
		state, _ := exec.Command(podman, "inspect", "--format", "{{.State.Status}}", name).Output()
		if s := strings.TrimSpace(string(state)); s != "running" {
			logs, _ := exec.Command(podman, "logs", name).CombinedOutput()
			return fmt.Errorf("the container is %s:\n%s", s, logs)
		}
		return nil
	}
	waitOK(t, portalURL+"/readyz", 90*time.Second, alive)
	t.Logf("podman: the image loaded and the portal was ready in %s", time.Since(start).Round(100*time.Millisecond))

	signIn(t, portalURL, "ofsted", "lead@ofsted.example", "demo-password")
	resp, err := http.Get("http://" + metricsAddr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	var body bytes.Buffer
	body.ReadFrom(resp.Body)
	resp.Body.Close()
	for _, want := range []string{"portal_ready 1", `portal_http_requests_total{method="GET",route="/auth/:idp/callback",status="303"} 1`} {
		if !strings.Contains(body.String(), want+"\n") {
			t.Errorf("metrics from the container lack %q", want)
		}
	}
	if err := alive(); err != nil {
		t.Fatal(err)
	}
	// The health check a compose file runs: the binary itself, no shell.
	if got, err := exec.Command(podman, "exec", name, "/portal", "health").CombinedOutput(); err != nil {
		t.Errorf("podman exec /portal health: %v: %s", err, got)
	}
	if got, _ := exec.Command(podman, "exec", name, "/bin/sh", "-c", "true").CombinedOutput(); !strings.Contains(string(got), "no such file") {
		t.Errorf("a shell in the running container? podman exec /bin/sh: %s", got)
	}
}

// runtimeArgs picks runc when it is installed: crun, podman's default,
// refuses hosts that mount cgroup v2 beside v1 with a controller in it
// ("cgroups in hybrid mode not supported"), as this machine does.
func runtimeArgs() []string {
	if p, err := exec.LookPath("runc"); err == nil {
		return []string{"--runtime", p}
	}
	return nil
}

// cannotRun decides what a failed podman run means. Exit status 125 is
// podman itself failing, and 126 without the image's program named is the
// OCI runtime unable to make a container here (limits, cgroups,
// namespaces): the machine, not the image, so the test skips with the
// error. Anything else is the image's fault.
func cannotRun(t *testing.T, err error, out []byte) {
	t.Helper()
	var exit *exec.ExitError
	code := -1
	if errors.As(err, &exit) {
		code = exit.ExitCode()
	}
	msg := strings.TrimSpace(string(out))
	if code == 125 || code == 126 && !strings.Contains(msg, "/portal") {
		t.Skipf("podman cannot run containers on this machine (exit %d): %s", code, lastLine(msg))
	}
	t.Fatalf("podman run (exit %d): %s", code, msg)
}

func lastLine(s string) string {
	if i := strings.LastIndexByte(s, '\n'); i >= 0 {
		return s[i+1:]
	}
	return s
}

func keygen(t *testing.T, binary string, args ...string) []byte {
	t.Helper()
	out, err := exec.Command(binary, append([]string{"keygen"}, args...)...).Output()
	if err != nil {
		t.Fatalf("portal keygen %v: %v", args, err)
	}
	return out
}

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}
