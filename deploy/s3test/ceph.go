package s3test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/ofsted-portal/evidence/deploy/devstack"
)

// cephName is the cluster's name: it names the configuration file and the
// daemons' data folders, and keeps them apart from a cluster called ceph.
const cephName = "s3test"

// cephPrograms are the Ceph programs StartCeph runs, all found beside
// radosgw (Debian's ceph-mon, ceph-osd, radosgw and, with them,
// ceph-common and ceph-base).
var cephPrograms = []string{"ceph-authtool", "monmaptool", "ceph-mon", "ceph", "ceph-osd", "radosgw", "radosgw-admin"}

// FindCeph returns the radosgw program: $PORTAL_RADOSGW_BIN, else radosgw
// on PATH (make test-ceph installs Debian's Ceph). The other Ceph programs
// must be beside it.
func FindCeph() (string, error) {
	bin := os.Getenv("PORTAL_RADOSGW_BIN")
	if bin == "" {
		var err error
		if bin, err = exec.LookPath("radosgw"); err != nil {
			return "", fmt.Errorf("s3test: no radosgw on PATH: run make test-ceph (it installs Debian's ceph-mon, ceph-osd and radosgw)")
		}
	}
	for _, p := range cephPrograms {
		if _, err := os.Stat(filepath.Join(filepath.Dir(bin), p)); err != nil {
			return "", fmt.Errorf("s3test: no %s beside %s: run make test-ceph", p, bin)
		}
	}
	return bin, nil
}

// cephCluster is a one-node cluster in a folder: one monitor, one OSD on
// memstore and one RADOS gateway, all on loopback, with cephx keys made
// for it. RGW needs no manager daemon, so there is none.
type cephCluster struct {
	dir, bin, conf string
	o              Options
	user           *cephUser
	mon, osd, rgw  *proc
}

// StartCeph builds a one-node Ceph cluster in Options.Dir and starts it:
// a monitor (monmaptool, ceph-mon --mkfs), an OSD on memstore (ceph osd new,
// ceph-osd --mkfs), the RADOS gateway on a free loopback port, and an S3
// user with Options' keys (radosgw-admin user create). As root, the daemons
// drop to Debian's ceph user when it can reach the folder (an empty Dir
// makes one under the system's temporary folder, which it can). A Dir
// given must be empty: the cluster is made afresh each time.
func StartCeph(ctx context.Context, o Options) (*Server, error) {
	made, err := o.defaults("ceph", 3*time.Minute)
	if err != nil {
		return nil, err
	}
	if o.Binary == "" {
		if o.Binary, err = FindCeph(); err != nil {
			return nil, cleanup(made, o.Dir, err)
		}
	}
	if o.Dir, err = filepath.Abs(o.Dir); err != nil {
		return nil, cleanup(made, o.Dir, err)
	}
	if ents, err := os.ReadDir(o.Dir); err != nil {
		return nil, cleanup(made, o.Dir, err)
	} else if len(ents) > 0 {
		return nil, cleanup(made, o.Dir, fmt.Errorf("s3test: ceph needs an empty folder: %s is not", o.Dir))
	}
	c := &cephCluster{dir: o.Dir, bin: filepath.Dir(o.Binary), conf: filepath.Join(o.Dir, cephName+".conf"), o: o, user: lookupCephUser(o.Dir)}
	stop := func() error {
		c.stop()
		return cleanup(made, o.Dir, nil)
	}
	ctx, cancel := context.WithTimeout(ctx, o.StartupWait)
	defer cancel()
	began := time.Now()
	endpoint, err := c.start(ctx)
	if err != nil {
		return nil, errors.Join(err, stop())
	}
	return &Server{
		Name: "ceph", Endpoint: endpoint, AccessKey: o.AccessKey, SecretKey: o.SecretKey,
		Region: o.Region, Dir: o.Dir, StartupTime: time.Since(began), stop: stop,
	}, nil
}

func (c *cephCluster) start(ctx context.Context) (string, error) {
	for _, d := range []string{"run", "log", "crash", "mon", "osd", "rgw"} {
		if err := os.MkdirAll(filepath.Join(c.dir, d), 0o700); err != nil {
			return "", err
		}
	}
	mon, err := devstack.FreeAddr()
	if err != nil {
		return "", err
	}
	rgw, err := devstack.FreeAddr()
	if err != nil {
		return "", err
	}
	fsid := newUUID()
	if err := writeCephConf(c.conf, c.dir, fsid, mon, rgw); err != nil {
		return "", err
	}
	if err := c.makeMonitor(ctx, fsid, mon); err != nil {
		return "", err
	}
	if err := c.makeOSD(ctx); err != nil {
		return "", err
	}
	// radosgw-admin, like the gateway, makes the default zone and
	// zonegroup (and their pools) if they are not there yet.
	_, err = c.tool(ctx, "", "radosgw-admin", "user", "create", "--uid=s3test", "--display-name=s3test",
		"--access-key="+c.o.AccessKey, "--secret-key="+c.o.SecretKey)
	if err != nil {
		return "", err
	}
	// The gateway accepts a bucket's location constraint only when it
	// names its zonegroup's API name, which is "default" unless changed
	// before it starts (minio-go sends none for us-east-1).
	if c.o.Region != DefaultRegion {
		if _, err := c.tool(ctx, "", "radosgw-admin", "zonegroup", "modify", "--rgw-zonegroup=default", "--api-name="+c.o.Region); err != nil {
			return "", err
		}
	}
	if c.rgw, err = c.daemon("radosgw", "-n", "client.rgw."+cephName); err != nil {
		return "", err
	}
	// The gateway answers an anonymous bucket listing once it is up.
	ready := func(ctx context.Context) bool { return httpOK(ctx, "http://"+rgw+"/", http.StatusOK) }
	if err := waitUntil(ctx, c.o.StartupWait, "radosgw on "+rgw, ready, c.mon, c.osd, c.rgw); err != nil {
		return "", c.withLog(err, "client.rgw."+cephName, "osd.0", "mon.a")
	}
	return rgw, nil
}

// makeMonitor makes the cluster's keys (the monitor's, the administrator's
// and the gateway's, all imported into the monitor's keyring so they exist
// from the start), its monitor map and monitor, and starts it.
func (c *cephCluster) makeMonitor(ctx context.Context, fsid, addr string) error {
	monKeyring, adminKeyring, rgwKeyring := c.path("mon.keyring"), c.path("admin.keyring"), c.path("rgw", "keyring")
	steps := [][]string{
		{"ceph-authtool", "--create-keyring", monKeyring, "--gen-key", "-n", "mon.", "--cap", "mon", "allow *"},
		{"ceph-authtool", "--create-keyring", adminKeyring, "--gen-key", "-n", "client.admin",
			"--cap", "mon", "allow *", "--cap", "osd", "allow *", "--cap", "mgr", "allow *"},
		{"ceph-authtool", "--create-keyring", rgwKeyring, "--gen-key", "-n", "client.rgw." + cephName,
			"--cap", "mon", "allow rw", "--cap", "osd", "allow rwx"},
		{"ceph-authtool", monKeyring, "--import-keyring", adminKeyring},
		{"ceph-authtool", monKeyring, "--import-keyring", rgwKeyring},
		{"monmaptool", "--create", "--addv", "a", "[v2:" + addr + "]", "--fsid", fsid, c.path("monmap")},
	}
	for _, s := range steps {
		if _, err := run(ctx, "", append([]string{filepath.Join(c.bin, s[0])}, s[1:]...)...); err != nil {
			return err
		}
	}
	if err := c.user.own(c.dir); err != nil {
		return err
	}
	if _, err := c.tool(ctx, "", "ceph-mon", append(c.user.args(), "--mkfs", "-i", "a", "--monmap", c.path("monmap"), "--keyring", monKeyring)...); err != nil {
		return err
	}
	var err error
	c.mon, err = c.daemon("ceph-mon", "-i", "a")
	return err
}

// makeOSD registers OSD 0 with the monitor under a new key (ceph osd new
// waits for the monitor to form its quorum), makes its memstore and starts
// it.
func (c *cephCluster) makeOSD(ctx context.Context) error {
	uuid := newUUID()
	secret, err := c.tool(ctx, "", "ceph-authtool", "--gen-print-key")
	if err != nil {
		return err
	}
	secret = strings.TrimSpace(secret)
	id, err := c.tool(ctx, `{"cephx_secret": "`+secret+`"}`, "ceph", "osd", "new", uuid, "-i", "-")
	if err != nil {
		return c.withLog(err, "mon.a")
	}
	id = strings.TrimSpace(id)
	if id != "0" {
		return fmt.Errorf("s3test: ceph osd new gave OSD %q, want 0", id)
	}
	data := c.path("osd", cephName+"-0")
	if err := os.MkdirAll(data, 0o700); err != nil {
		return err
	}
	if _, err := c.tool(ctx, "", "ceph-authtool", "--create-keyring", filepath.Join(data, "keyring"), "--name", "osd.0", "--add-key", secret); err != nil {
		return err
	}
	if err := c.user.own(data); err != nil {
		return err
	}
	if _, err := c.tool(ctx, "", "ceph-osd", append(c.user.args(), "-i", "0", "--mkfs", "--osd-uuid", uuid)...); err != nil {
		return c.withLog(err, "osd.0")
	}
	c.osd, err = c.daemon("ceph-osd", "-i", "0")
	return err
}

// tool runs a Ceph program to completion against this cluster.
func (c *cephCluster) tool(ctx context.Context, stdin, name string, args ...string) (string, error) {
	argv := append([]string{filepath.Join(c.bin, name)}, c.common(name)...)
	return run(ctx, stdin, append(argv, args...)...)
}

// daemon starts a Ceph daemon in the foreground (so its pid is the one we
// started), dropping root where it can.
func (c *cephCluster) daemon(name string, args ...string) (*proc, error) {
	argv := append([]string{filepath.Join(c.bin, name)}, c.common(name)...)
	argv = append(append(append(argv, "-f"), c.user.args()...), args...)
	return startProc(name, c.o.Output, os.Environ(), argv...)
}

// common are the options every Ceph program takes to find this cluster
// (ceph-authtool and monmaptool take none).
func (c *cephCluster) common(name string) []string {
	if name == "ceph-authtool" || name == "monmaptool" {
		return nil
	}
	return []string{"--cluster", cephName, "-c", c.conf}
}

// stop ends the daemons in the reverse order of their start, so the OSD
// can tell the monitor it is going.
func (c *cephCluster) stop() {
	for _, p := range []*proc{c.rgw, c.osd, c.mon} {
		p.stop(10 * time.Second)
	}
}

func (c *cephCluster) path(elem ...string) string {
	return filepath.Join(append([]string{c.dir}, elem...)...)
}

// withLog adds the last lines of the named daemons' logs to err: Ceph
// daemons say why they failed there, not on their standard error.
func (c *cephCluster) withLog(err error, names ...string) error {
	for _, n := range names {
		b, rerr := os.ReadFile(c.path("log", n+".log"))
		if rerr != nil {
			continue
		}
		lines := strings.Split(strings.TrimSpace(string(b)), "\n")
		lines = lines[max(0, len(lines)-15):]
		err = fmt.Errorf("%w\n--- end of %s.log:\n%s", err, n, strings.Join(lines, "\n"))
	}
	return err
}

// newUUID returns a random (version 4) UUID, as Ceph wants for fsids and
// OSD ids.
func newUUID() string {
	h := randomHex(16)
	b := []byte(h)
	b[12] = '4'
	b[16] = "89ab"[b[16]%4]
	return fmt.Sprintf("%s-%s-%s-%s-%s", b[0:8], b[8:12], b[12:16], b[16:20], b[20:32])
}
