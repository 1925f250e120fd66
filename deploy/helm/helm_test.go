package helm

import (
	"bytes"
	"flag"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/ofsted-portal/evidence/deploy/devstack"
)

var update = flag.Bool("update", false, "rewrite testdata/portal.golden.yaml from the chart")

const (
	chart       = "portal"
	values      = "testdata/values.yaml"
	golden      = "testdata/portal.golden.yaml"
	kubeVersion = "1.31.0" // helm built from source defaults to 1.20, below the chart's minimum
)

func helm(t *testing.T) string {
	t.Helper()
	bin, err := devstack.FindTool("helm", "PORTAL_HELM_BIN")
	if err != nil {
		if os.Getenv("PORTAL_REQUIRE_INTEGRATION") != "" {
			t.Fatalf("the chart's checks need helm: %v", err)
		}
		t.Skipf("skipping the chart's checks: %v", err)
	}
	return bin
}

func run(t *testing.T, bin string, args ...string) (string, error) {
	t.Helper()
	var out, errOut bytes.Buffer
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = &out, &errOut
	// No repositories, plugins or caches of the user's: a clean helm.
	home := t.TempDir()
	cmd.Env = append(os.Environ(), "HELM_CACHE_HOME="+filepath.Join(home, "cache"),
		"HELM_CONFIG_HOME="+filepath.Join(home, "config"), "HELM_DATA_HOME="+filepath.Join(home, "data"))
	err := cmd.Run()
	return out.String() + errOut.String(), err
}

func render(t *testing.T, bin string, extra ...string) (string, error) {
	t.Helper()
	return run(t, bin, append([]string{"template", "portal", chart, "--namespace", "evidence", "--kube-version", kubeVersion}, extra...)...)
}

// TestChart lints the chart, renders it with the test values, compares the
// manifests with the golden ones, and checks what the chart promises on
// the rendered objects.
func TestChart(t *testing.T) {
	bin := helm(t)
	if out, err := run(t, bin, "lint", "--strict", chart, "-f", values, "--kube-version", kubeVersion); err != nil {
		t.Fatalf("helm lint: %v\n%s", err, out)
	}
	out, err := render(t, bin, "-f", values)
	if err != nil {
		t.Fatalf("helm template: %v\n%s", err, out)
	}
	if *update {
		if err := os.WriteFile(golden, []byte(out), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if out != string(want) {
		t.Errorf("the rendered manifests differ from %s (after a deliberate change: go test ./deploy/helm -update):\n%s", golden, diff(string(want), out))
	}
	checkObjects(t, decodeAll(t, out))
}

// TestChartRefuses: values that would deploy something broken or unsafe
// stop the render with a sentence that says what to fix.
func TestChartRefuses(t *testing.T) {
	bin := helm(t)
	for name, tc := range map[string]struct {
		args []string
		want string
	}{
		"defaults alone":      {nil, "publicURL is required"},
		"plain http":          {[]string{"-f", values, "--set", "publicURL=http://evidence.example.org"}, "publicURL must be https"},
		"a secret in config":  {[]string{"-f", values, "--set", "config.PORTAL_S3_SECRET_KEY=x"}, "config.PORTAL_S3_SECRET_KEY is a secret"},
		"a chart setting":     {[]string{"-f", values, "--set", "config.PORTAL_ADDR=:80"}, "set by the chart"},
		"mail without sender": {[]string{"-f", values, "--set", "mail.from="}, "mail.from is required"},
		"SMTP password":       {[]string{"-f", values, "--set", "config.PORTAL_SMTP_PASSWORD=x"}, "config.PORTAL_SMTP_PASSWORD is a secret"},
		"database unfiltered": {[]string{"-f", values, "--set", "networkPolicy.egress.database.to=null"}, "networkPolicy.egress.database.to must name the database"},
		"no TLS":              {[]string{"-f", values, "--set", "ingress.tlsSecretName="}, "ingress.tlsSecretName is required"},
		"bad provider name":   {[]string{"-f", values, "--set", "identityProviders[0].name=Ofsted_Staff"}, "must be 1 to 32 of a-z"},
		// clamd has no TLS and is sent every upload's plaintext: it runs
		// in the pod, and no value points the portal at another one.
		"clamd elsewhere": {[]string{"-f", values, "--set", "scanning.clamdAddr=clamd.clamav.svc:3310"}, "scanning.clamdAddr"},
		"egress to a clamd": {[]string{"-f", values, "--set", "networkPolicy.egress.clamd.to[0].ipBlock.cidr=10.20.4.0/24"},
			"networkPolicy.egress.clamd"},
		"clamd address in config": {[]string{"-f", values, "--set", "config.PORTAL_CLAMD_ADDR=clamd:3310"}, "set by the chart"},
		"signatures unfiltered": {[]string{"-f", values, "--set", "networkPolicy.egress.signatures.to=null"},
			"networkPolicy.egress.signatures.to must name"},
		"clamd image unpinned": {[]string{"-f", values, "--set", "scanning.clamd.image.tag=latest"}, "scanning.clamd.image"},
		"scanning misspelt":    {[]string{"-f", values, "--set", "scanning.mode=optional"}, "scanning.mode must be required or off"},
		"scan set in config":   {[]string{"-f", values, "--set", "config.PORTAL_SCAN=off"}, "set by the chart"},
		"providers unfiltered": {[]string{"-f", values, "--set", "networkPolicy.egress.identityProviders.to=null"},
			"networkPolicy.egress.identityProviders.to must name the identity providers"},
		"egress to anywhere": {[]string{"-f", values, "--set", "networkPolicy.egress.identityProviders.to[0].ipBlock.cidr=0.0.0.0/0"},
			"networkPolicy.egress.identityProviders.to allows every address"},
		// Every address in two halves, or in an IPv6 range as wide as
		// the global unicast space: each is as open as 0.0.0.0/0.
		"egress to half of IPv4": {[]string{"-f", values, "--set", "networkPolicy.egress.identityProviders.to[0].ipBlock.cidr=0.0.0.0/1"},
			"networkPolicy.egress.identityProviders.to allows too wide a range (0.0.0.0/1)"},
		"egress to every global IPv6": {[]string{"-f", values, "--set", "networkPolicy.egress.smtp.to[0].ipBlock.cidr=2000::/3"},
			"networkPolicy.egress.smtp.to allows too wide a range (2000::/3)"},
		"egress to every address, spelt otherwise": {[]string{"-f", values, "--set", "networkPolicy.egress.s3.to[0].ipBlock.cidr=0.0.0.0/00"},
			"networkPolicy.egress.s3.to allows every address"},
		// A rule without ports allows every port of its peers.
		"database on every port": {[]string{"-f", values, "--set", "networkPolicy.egress.database.ports=null"},
			"networkPolicy.egress.database.ports must name"},
		"S3 over http":        {[]string{"-f", values, "--set", "s3.secure=false"}, "s3.secure must be true"},
		"plaintext in config": {[]string{"-f", values, "--set", "config.PORTAL_PLAINTEXT_HOSTS=postgres"}, "config.PORTAL_PLAINTEXT_HOSTS"},
		"secrets for another group": {[]string{"-f", values, "--set", "podSecurityContext.fsGroup=2000"},
			"podSecurityContext.fsGroup and podSecurityContext.runAsGroup must be set"},
		"secrets for no group": {[]string{"-f", values, "--set", "podSecurityContext.fsGroup=null"},
			"podSecurityContext.fsGroup and podSecurityContext.runAsGroup must be set"},
		"the portal's group unset": {[]string{"-f", values, "--set", "podSecurityContext.runAsGroup=null"},
			"podSecurityContext.fsGroup and podSecurityContext.runAsGroup must be set"},
		// The metrics listener is on every interface for Prometheus, and
		// only the network policy limits who may reach it.
		"metrics open to every pod": {[]string{"-f", values, "--set", "networkPolicy.enabled=false"},
			"metrics.enabled needs networkPolicy.enabled"},
	} {
		t.Run(name, func(t *testing.T) {
			out, err := render(t, bin, tc.args...)
			if err == nil || !strings.Contains(out, tc.want) {
				t.Fatalf("err %v, output:\n%s\nwant a failure mentioning %q", err, out, tc.want)
			}
		})
	}
}

// TestChartWithoutNetworkPolicy: without the chart's network policy the
// metrics listener, open to every interface, is not rendered at all: no
// PORTAL_METRICS_ALLOW_REMOTE, no metrics port.
func TestChartWithoutNetworkPolicy(t *testing.T) {
	bin := helm(t)
	out, err := render(t, bin, "-f", values, "--set", "networkPolicy.enabled=false", "--set", "metrics.enabled=false")
	if err != nil {
		t.Fatalf("helm template: %v\n%s", err, out)
	}
	for _, s := range []string{"PORTAL_METRICS_ALLOW_REMOTE", "PORTAL_METRICS_ADDR", "kind: NetworkPolicy"} {
		if strings.Contains(out, s) {
			t.Errorf("rendered without the network policy and without metrics: %s is there", s)
		}
	}
}

// TestChartRefusesSecretsInConfig: every secret the portal reads (each
// variable it also reads from NAME_FILE) is refused in config, which
// would put it in the Deployment as a value, readable by whoever may read
// the Deployment, and give it to both containers. The list is the
// portal's own, so a secret added later is covered.
func TestChartRefusesSecretsInConfig(t *testing.T) {
	bin := helm(t)
	secrets := devstack.SecretVariables(devstack.ConfigVariables("ofsted", "cafcass"))
	if len(secrets) < 5 {
		t.Fatalf("secrets %v: the portal's list was not read", secrets)
	}
	for name := range secrets {
		t.Run(name, func(t *testing.T) {
			out, err := render(t, bin, "-f", values, "--set", "config."+name+"=postgres://portal:pw@db.example.org/portal")
			if want := "config." + name + " is a secret"; err == nil || !strings.Contains(out, want) {
				t.Fatalf("err %v, want a failure mentioning %q; output:\n%.600s", err, want, out)
			}
		})
	}
}

type object = map[string]any

func decodeAll(t *testing.T, manifests string) map[string]object {
	t.Helper()
	out := map[string]object{}
	dec := yaml.NewDecoder(strings.NewReader(manifests))
	for {
		var o object
		if err := dec.Decode(&o); err != nil {
			if err.Error() == "EOF" {
				return out
			}
			t.Fatalf("decode manifests: %v", err)
		}
		if o == nil {
			continue
		}
		kind, _ := o["kind"].(string)
		if _, dup := out[kind]; dup {
			t.Errorf("two objects of kind %s", kind)
		}
		out[kind] = o
	}
}

// get walks o by keys and list indexes.
func get(o any, path ...any) any {
	for _, p := range path {
		switch k := p.(type) {
		case string:
			m, _ := o.(map[string]any)
			o = m[k]
		case int:
			l, _ := o.([]any)
			if k >= len(l) {
				return nil
			}
			o = l[k]
		}
	}
	return o
}

func diff(want, got string) string {
	w, g := strings.Split(want, "\n"), strings.Split(got, "\n")
	for i := 0; i < len(w) || i < len(g); i++ {
		var a, b string
		if i < len(w) {
			a = w[i]
		}
		if i < len(g) {
			b = g[i]
		}
		if a != b {
			return "first difference at line " + strconv.Itoa(i+1) + ":\n- " + a + "\n+ " + b
		}
	}
	return ""
}
