package deploy

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/ofsted-portal/evidence/deploy/devstack"
	"github.com/ofsted-portal/evidence/portal"
)

// composeFile is the part of the compose specification the checks read.
type composeFile struct {
	Services map[string]struct {
		Image       string            `yaml:"image"`
		Entrypoint  []string          `yaml:"entrypoint"`
		Restart     string            `yaml:"restart"`
		ReadOnly    bool              `yaml:"read_only"`
		User        string            `yaml:"user"`
		CapDrop     []string          `yaml:"cap_drop"`
		Environment map[string]string `yaml:"environment"`
		Secrets     []string          `yaml:"secrets"`
		Ports       []string          `yaml:"ports"`
		Networks    []string          `yaml:"networks"`
		Volumes     []string          `yaml:"volumes"`
		Healthcheck struct {
			Test []string `yaml:"test"`
		} `yaml:"healthcheck"`
	} `yaml:"services"`
	Networks map[string]struct {
		Internal bool `yaml:"internal"`
	} `yaml:"networks"`
	Volumes map[string]struct {
		DriverOpts map[string]string `yaml:"driver_opts"`
	} `yaml:"volumes"`
	Secrets map[string]struct {
		File string `yaml:"file"`
	} `yaml:"secrets"`
}

// secretName looks like a credential: such a variable must be a _FILE.
var secretName = regexp.MustCompile(`PASSWORD|SECRET|_KEY$|ACCESS_KEY|DATABASE_URL|DATABASE_OWNER_URL|ROOT_USER`)

// TestCompose checks deploy/compose.yaml: the portal's environment names
// only variables the portal reads, every secret of every service comes
// from a file, every service has a health check and a restart policy,
// uploads are scanned by the clamd service, and neither the database, MinIO
// nor clamd is published.
func TestCompose(t *testing.T) {
	b, err := os.ReadFile("compose.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var c composeFile
	dec := yaml.NewDecoder(strings.NewReader(string(b)))
	dec.KnownFields(false)
	if err := dec.Decode(&c); err != nil {
		t.Fatalf("compose.yaml: %v", err)
	}
	for _, name := range []string{"portal", "migrate", "postgres", "minio", "clamd"} {
		if _, ok := c.Services[name]; !ok {
			t.Fatalf("no %s service", name)
		}
	}
	for name, s := range c.Services {
		// migrate runs to its end: the portal waits for it to succeed.
		if name != "migrate" && (len(s.Healthcheck.Test) < 2 || s.Healthcheck.Test[0] != "CMD") {
			t.Errorf("%s: no health check (an exec-form test)", name)
		}
		if s.Restart == "" || s.Restart == "no" {
			t.Errorf("%s: no restart policy", name)
		}
		for k, v := range s.Environment {
			if secretName.MatchString(k) && !strings.HasSuffix(k, "_FILE") {
				t.Errorf("%s: %s is a secret given as a value: give %s_FILE", name, k, k)
			}
			if strings.HasSuffix(k, "_FILE") {
				secret, ok := strings.CutPrefix(v, "/run/secrets/")
				if !ok || !slices.Contains(s.Secrets, secret) || c.Secrets[secret].File == "" {
					t.Errorf("%s: %s=%s is not a secret mounted from a file", name, k, v)
				}
			}
		}
		if name != "portal" && len(s.Ports) > 0 {
			t.Errorf("%s publishes %v: only the portal is reached from outside", name, s.Ports)
		}
	}
	checkPortal(t, c)
	checkMigrate(t, c)
	checkClamd(t, c)
	// Plaintext only to the services on the internal network, by their
	// names there.
	if p := c.Services["portal"].Environment; p["PORTAL_PLAINTEXT_HOSTS"] != "postgres,minio" || p["PORTAL_S3_ENDPOINT"] != "minio:9000" {
		t.Errorf("portal: PORTAL_PLAINTEXT_HOSTS=%q, PORTAL_S3_ENDPOINT=%q: want plaintext to the postgres and minio services only",
			p["PORTAL_PLAINTEXT_HOSTS"], p["PORTAL_S3_ENDPOINT"])
	}
	if !c.Networks["backend"].Internal || slices.Contains(c.Services["postgres"].Networks, "frontend") || slices.Contains(c.Services["minio"].Networks, "frontend") {
		t.Error("the database and MinIO must be on the internal network only")
	}
}

// checkClamd: scanning is on, and the portal sends each upload's
// plaintext to clamd over its Unix socket, on a volume in memory that only
// the two share: never over a network, where clamd (which has no TLS)
// would be in the clear. clamd is on no network the database or MinIO is
// on: it parses hostile files, and needs only ClamAV's mirrors
// (freshclam).
func checkClamd(t *testing.T, c composeFile) {
	t.Helper()
	p, clamd := c.Services["portal"], c.Services["clamd"]
	addr := p.Environment["PORTAL_CLAMD_ADDR"]
	if p.Environment["PORTAL_SCAN"] != "required" {
		t.Errorf("portal: PORTAL_SCAN=%q: want every upload scanned", p.Environment["PORTAL_SCAN"])
	}
	if !strings.HasPrefix(addr, "/") {
		t.Fatalf("portal: PORTAL_CLAMD_ADDR=%q: want clamd's Unix socket, not a network address (clamd has no TLS)", addr)
	}
	// The socket's directory in the portal, and clamd's LocalSocket's in
	// clamd, are the same volume.
	conf, err := os.ReadFile("clamd.conf")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^LocalSocket (/\S+)$`).FindStringSubmatch(string(conf))
	if m == nil {
		t.Fatal("clamd.conf: no LocalSocket")
	}
	mounted := func(s []string, dir string) string {
		for _, v := range s {
			if f := strings.Split(v, ":"); len(f) >= 2 && f[1] == dir {
				return f[0]
			}
		}
		return ""
	}
	vp, vc := mounted(p.Volumes, filepath.Dir(addr)), mounted(clamd.Volumes, filepath.Dir(m[1]))
	if vp == "" || vp != vc || filepath.Base(addr) != filepath.Base(m[1]) {
		t.Errorf("portal: PORTAL_CLAMD_ADDR=%q is not clamd's LocalSocket %s on a volume both mount (portal %q, clamd %q)", addr, m[1], vp, vc)
	} else if c.Volumes[vp].DriverOpts["type"] != "tmpfs" {
		t.Errorf("volume %s: want a tmpfs, which holds nothing past a restart", vp)
	}
	for name, s := range c.Services {
		for _, v := range s.Volumes {
			if name != "portal" && name != "clamd" && vp != "" && strings.HasPrefix(v, vp+":") {
				t.Errorf("%s mounts clamd's socket", name)
			}
		}
	}
	if slices.Contains(clamd.Networks, "backend") {
		t.Errorf("clamd on %v: want it off the network of the database and MinIO", clamd.Networks)
	}
}

func checkPortal(t *testing.T, c composeFile) {
	t.Helper()
	p := c.Services["portal"]
	known := devstack.ConfigVariables(strings.Split(p.Environment["PORTAL_IDPS"], ",")...)
	secrets := devstack.SecretVariables(known)
	for k := range p.Environment {
		if !known[k] {
			t.Errorf("portal: %s is not a variable the portal reads", k)
		}
		if secrets[k] {
			t.Errorf("portal: %s is a secret given as a value: give %s_FILE", k, k)
		}
	}
	for s := range secrets {
		if p.Environment[s+"_FILE"] == "" && s != "PORTAL_DATABASE_OWNER_URL" {
			t.Errorf("portal: %s_FILE is not set", s)
		}
	}
	// The serving container never holds the owner's credentials: with
	// them, it could drop the audit trail's triggers.
	if _, ok := p.Environment["PORTAL_DATABASE_OWNER_URL_FILE"]; ok || slices.Contains(p.Secrets, "database-owner-url") {
		t.Error("portal: the database owner's URL is given to the serving portal: only the migrate service may hold it")
	}
	for _, k := range []string{"PORTAL_MASTER_KEY_FILE", "PORTAL_SIGNING_KEY_FILE", "PORTAL_DATABASE_URL_FILE"} {
		if p.Environment[k] == "" {
			t.Errorf("portal: %s is not set", k)
		}
	}
	if !p.ReadOnly || p.User != "10001:10001" || !slices.Equal(p.CapDrop, []string{"ALL"}) {
		t.Errorf("portal: read_only %v, user %q, cap_drop %v: want a read-only root, the image's user, no capabilities", p.ReadOnly, p.User, p.CapDrop)
	}
	if !slices.Equal(p.Healthcheck.Test, []string{"CMD", "/portal", "health"}) {
		t.Errorf("portal: health check %v, want the binary's own (the image has no shell)", p.Healthcheck.Test)
	}
	for _, port := range p.Ports {
		if !strings.HasPrefix(port, "127.0.0.1:") {
			t.Errorf("portal: port %s is published beyond loopback (the TLS proxy on the host reaches it there)", port)
		}
	}
}

// checkMigrate: the schema is migrated, as its owner, by a service of its
// own that the portal waits for, as the image's user with nothing more.
func checkMigrate(t *testing.T, c composeFile) {
	t.Helper()
	m := c.Services["migrate"]
	if !slices.Equal(m.Entrypoint, []string{"/portal", "migrate"}) || m.Image != c.Services["portal"].Image {
		t.Errorf("migrate: entrypoint %v, image %q: want the portal's image running portal migrate", m.Entrypoint, m.Image)
	}
	if m.Environment["PORTAL_DATABASE_OWNER_URL_FILE"] == "" || m.Environment["PORTAL_DATABASE_URL_FILE"] != c.Services["portal"].Environment["PORTAL_DATABASE_URL_FILE"] {
		t.Errorf("migrate: %v: want the owner's URL and the portal's own database URL (the role it grants)", m.Environment)
	}
	if !m.ReadOnly || m.User != "10001:10001" || !slices.Equal(m.CapDrop, []string{"ALL"}) || slices.Contains(m.Networks, "frontend") {
		t.Errorf("migrate: read_only %v, user %q, cap_drop %v, networks %v: want the portal's confinement, on the internal network only", m.ReadOnly, m.User, m.CapDrop, m.Networks)
	}
	// portal migrate holds the URLs to portal serve's TLS rule: the
	// services' URLs as the file's notes give them (sslmode=disable, to
	// the postgres service on the internal network) are accepted.
	secrets := t.TempDir()
	files := map[string]string{
		"database-url":       "postgres://portal_app:pw@postgres:5432/portal?sslmode=disable",
		"database-owner-url": "postgres://portal:pw@postgres:5432/portal?sslmode=disable",
	}
	env := map[string]string{}
	for k, v := range m.Environment {
		if name, ok := strings.CutPrefix(v, "/run/secrets/"); ok && files[name] != "" {
			v = filepath.Join(secrets, name)
			if err := os.WriteFile(v, []byte(files[name]), 0o600); err != nil {
				t.Fatal(err)
			}
		}
		env[k] = v
	}
	if err := portal.CheckDatabaseSettings(func(k string) string { return env[k] }); err != nil {
		t.Errorf("migrate: portal migrate would refuse its settings: %v", err)
	}
	b, err := os.ReadFile("compose.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), "condition: service_completed_successfully") {
		t.Error("portal: does not wait for migrate to succeed")
	}
}

// TestClamdConf: the clamd configuration compose mounts parses (ClamAV's
// clamconf reads it), listens on loopback only, and sets the limits large uploads need: a stream of
// up to 2047 MiB accepted and scanned whole, written to the tmpfs; and an
// archive clamd cannot read inside (encrypted, or past its limits) is
// reported, never called clean.
func TestClamdConf(t *testing.T) {
	bin, err := exec.LookPath("clamconf")
	if err != nil {
		if os.Getenv("PORTAL_REQUIRE_INTEGRATION") != "" {
			t.Fatalf("checking clamd.conf needs ClamAV's clamconf (make clamd): %v", err)
		}
		t.Skipf("skipping: %v", err)
	}
	dir := t.TempDir()
	b, err := os.ReadFile("clamd.conf")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "clamd.conf"), b, 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(bin, "-n", "-c", dir).CombinedOutput()
	if err != nil || strings.Contains(string(out), "ERROR") {
		t.Fatalf("clamconf: %v\n%s", err, out)
	}
	for _, want := range []string{`StreamMaxLength = "2146435072"`, `MaxFileSize = "2146435072"`, `MaxScanSize = "4194304000"`,
		`TemporaryDirectory = "/scratch"`, `TCPSocket = "3310"`, `Foreground = "yes"`,
		// clamd has no TLS and no authentication: it listens on loopback
		// only (a pod's own, in the Helm chart), and on its Unix socket.
		`TCPAddr = "127.0.0.1"`, `LocalSocket = "/tmp/clamd.sock"`,
		// What clamd cannot read inside is a finding, not "OK".
		`AlertEncrypted = "yes"`, `AlertExceedsMax = "yes"`} {
		if !strings.Contains(string(out), want) {
			t.Errorf("clamd.conf: want %s; clamconf says:\n%s", want, out)
		}
	}
}
