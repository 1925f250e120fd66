package main

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"

	"github.com/ofsted-portal/evidence/crypto"
	"github.com/ofsted-portal/evidence/deploy/devidp"
	"github.com/ofsted-portal/evidence/deploy/devstack"
	"github.com/ofsted-portal/evidence/portal"
	"github.com/ofsted-portal/evidence/portal/retention"
	"github.com/ofsted-portal/evidence/portal/store"
)

// benchStack is MinIO, the dev identity provider and the portal as its own
// process (so its memory can be measured alone).
type benchStack struct {
	dir       string
	minio     *devstack.MinIO
	raw       *minio.Client
	idp       *http.Server
	portal    *exec.Cmd
	portalURL string
	env       []string
	pprofAddr string // with BENCH_PROFILE: the portal's profiler
	dbURL     string // PostgreSQL's, or empty for SQLite
	idpURL    string // the dev identity provider
}

// openStore opens the portal's database from this process (the volume
// seed writes it while the portal is stopped).
func (b *benchStack) openStore(ctx context.Context) (*store.Store, error) {
	if b.dbURL != "" {
		return store.OpenPostgres(ctx, b.dbURL, store.PostgresOptions{})
	}
	return store.Open(ctx, filepath.Join(b.dir, "portal.db"))
}

// startStack starts a stack whose portal keeps its metadata in SQLite, or
// on PostgreSQL at dbURL when given; extra is configuration over the
// stack's own (KEY=value).
func startStack(ctx context.Context, dbURL string, extra ...string) (*benchStack, error) {
	b := &benchStack{dbURL: dbURL}
	var err error
	if b.dir, err = os.MkdirTemp("", "portal-bench-"); err != nil {
		return nil, err
	}
	bin, err := devstack.FindMinIO()
	if err != nil {
		return nil, err
	}
	access, secret := "bench"+store.NewID()[:8], store.NewID()
	if b.minio, err = devstack.StartMinIO(ctx, devstack.MinIOOptions{Binary: bin, DataDir: filepath.Join(b.dir, "minio"), AccessKey: access, SecretKey: secret}); err != nil {
		return nil, err
	}
	if b.raw, err = minio.New(b.minio.Endpoint, &minio.Options{Creds: credentials.NewStaticV4(access, secret, "")}); err != nil {
		return nil, err
	}
	idpAddr, _ := devstack.FreeAddr()
	portalAddr, _ := devstack.FreeAddr()
	b.portalURL, b.idpURL = "http://"+portalAddr, "http://"+idpAddr
	h, err := devidp.New(devidp.DemoConfig("http://"+idpAddr, b.portalURL))
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", idpAddr)
	if err != nil {
		return nil, err
	}
	b.idp = &http.Server{Handler: h}
	go b.idp.Serve(ln)

	master, _ := crypto.GenerateMasterKey(time.Now())
	signing, _ := retention.GenerateSigningKey()
	for name, k := range map[string][]byte{"master.key": master, "signing.key": signing} {
		if err := portal.WriteNewKeyFile(filepath.Join(b.dir, name), k); err != nil {
			return nil, err
		}
	}
	b.env = []string{
		"PORTAL_ADDR=" + portalAddr, "PORTAL_PUBLIC_URL=" + b.portalURL, "PORTAL_DEV=true", "PORTAL_LOG_LEVEL=warn",
		"PORTAL_DB_PATH=" + filepath.Join(b.dir, "portal.db"), "PORTAL_MASTER_KEY_FILE=" + filepath.Join(b.dir, "master.key"),
		"PORTAL_SIGNING_KEY_FILE=" + filepath.Join(b.dir, "signing.key"),
		"PORTAL_S3_ENDPOINT=" + b.minio.Endpoint, "PORTAL_S3_ACCESS_KEY=" + access, "PORTAL_S3_SECRET_KEY=" + secret,
		"PORTAL_IDPS=cafcass,ofsted",
		// Every client of the bench is on one loopback address: the
		// per-address sign-in limits are set above what it needs.
		"PORTAL_SIGNIN_RATE=5000/1m", "PORTAL_SIGNIN_FAILURE_RATE=1000/1m",
		// The cases measure the portal without the malware scanner; the
		// scan case turns it on (scan.go).
		"PORTAL_SCAN=off",
	}
	if dbURL != "" {
		b.env = append(b.env, "PORTAL_DATABASE_URL="+dbURL)
	}
	b.env = append(b.env, extra...)
	if os.Getenv("BENCH_PROFILE") != "" {
		if b.pprofAddr, err = devstack.FreeAddr(); err != nil {
			return nil, err
		}
		b.env = append(b.env, "PORTAL_PPROF_ADDR="+b.pprofAddr)
	}
	for _, p := range []struct{ name, org string }{{"cafcass", "provider"}, {"ofsted", "inspectorate"}} {
		pre := "PORTAL_IDP_" + strings.ToUpper(p.name) + "_"
		b.env = append(b.env, pre+"ISSUER=http://"+idpAddr+"/"+p.name, pre+"CLIENT_ID=portal", pre+"CLIENT_SECRET=dev-portal-secret", pre+"ORGANISATION="+p.org)
	}
	// The administrator, before the portal starts.
	st, err := b.openStore(ctx)
	if err != nil {
		return nil, err
	}
	err = st.GrantPortalRole(ctx, store.RoleAdministrator, "http://"+idpAddr+"/ofsted", "admin@ofsted.example", time.Now())
	st.Close()
	if err != nil {
		return nil, err
	}
	return b, b.startPortal(ctx)
}

func (b *benchStack) startPortal(ctx context.Context) error {
	bin, err := devstack.FindTool("portal", "")
	if err != nil {
		return err
	}
	b.portal = exec.Command(bin, "serve")
	b.portal.Env = append(os.Environ(), b.env...)
	b.portal.Stderr = os.Stderr
	if err := b.portal.Start(); err != nil {
		return err
	}
	for i := 0; i < 300; i++ {
		resp, err := http.Get(b.portalURL + "/healthz")
		if err == nil {
			resp.Body.Close()
			return nil
		}
		time.Sleep(50 * time.Millisecond)
	}
	return fmt.Errorf("portal did not start")
}

// stopPortal stops the portal process (it signs the audit chain's head
// as it goes).
func (b *benchStack) stopPortal() {
	if b.portal != nil && b.portal.Process != nil {
		b.portal.Process.Signal(syscall.SIGTERM)
		b.portal.Wait()
		b.portal = nil
	}
}

func (b *benchStack) close() {
	b.stopPortal()
	if b.idp != nil {
		b.idp.Close()
	}
	b.minio.Stop()
	os.RemoveAll(b.dir)
}

// resetPeakRSS clears the portal's high-water mark (Linux clear_refs 5).
func (b *benchStack) resetPeakRSS() error {
	return os.WriteFile(fmt.Sprintf("/proc/%d/clear_refs", b.portal.Process.Pid), []byte("5"), 0)
}

// peakRSS is the portal's VmHWM in bytes.
func (b *benchStack) peakRSS() (int64, error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", b.portal.Process.Pid))
	if err != nil {
		return 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "VmHWM:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return kb << 10, err
		}
	}
	return 0, fmt.Errorf("no VmHWM")
}

// cpuTime is the CPU time (user + system) a process has used so far.
func cpuTime(pid int) (time.Duration, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	// Fields after the command name (which may hold spaces) in ")":
	// state is field 3, utime 14 and stime 15 (clock ticks of 1/100 s).
	_, rest, ok := strings.Cut(string(b), ") ")
	f := strings.Fields(rest)
	if !ok || len(f) < 13 {
		return 0, fmt.Errorf("/proc/%d/stat: unexpected format", pid)
	}
	u, err1 := strconv.ParseInt(f[11], 10, 64)
	s, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, fmt.Errorf("/proc/%d/stat: unexpected format", pid)
	}
	return time.Duration(u+s) * 10 * time.Millisecond, nil
}

// cpuUse is the CPU time MinIO, the portal and this process (the client)
// use between two calls.
type cpuUse struct{ minio, portal, client time.Duration }

func (b *benchStack) cpuNow() cpuUse {
	var u cpuUse
	u.minio, _ = cpuTime(b.minio.Pid())
	u.portal, _ = cpuTime(b.portal.Process.Pid)
	u.client, _ = cpuTime(os.Getpid())
	return u
}

func (u cpuUse) sub(v cpuUse) cpuUse {
	return cpuUse{u.minio - v.minio, u.portal - v.portal, u.client - v.client}
}

func (u cpuUse) add(v cpuUse) cpuUse {
	return cpuUse{u.minio + v.minio, u.portal + v.portal, u.client + v.client}
}
