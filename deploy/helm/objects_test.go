package helm

import (
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/ofsted-portal/evidence/deploy/devstack"
)

// checkObjects asserts what the chart promises, on the rendered objects,
// so that a golden file rewritten in haste cannot lose it.
func checkObjects(t *testing.T, objs map[string]object) {
	t.Helper()
	for _, kind := range []string{"Deployment", "Service", "Ingress", "PodDisruptionBudget", "NetworkPolicy", "ServiceAccount", "ConfigMap"} {
		if objs[kind] == nil {
			t.Errorf("no %s", kind)
		}
	}
	for kind := range objs {
		if kind == "CronJob" || kind == "Job" {
			t.Errorf("a %s: retention and the janitor run in the replicas, under the lease", kind)
		}
	}
	d := objs["Deployment"]
	if get(d, "spec", "replicas") != 2 {
		t.Errorf("replicas %v, want 2", get(d, "spec", "replicas"))
	}
	pod := get(d, "spec", "template", "spec")
	c := get(pod, "containers", 0)
	for path, want := range map[string]any{
		"livenessProbe.httpGet.path":                      "/healthz",
		"readinessProbe.httpGet.path":                     "/readyz",
		"securityContext.readOnlyRootFilesystem":          true,
		"securityContext.allowPrivilegeEscalation":        false,
		"securityContext.capabilities.drop.0":             "ALL",
		"resources.requests.memory":                       "256Mi",
		"resources.limits.memory":                         "1Gi",
		"@securityContext.runAsNonRoot":                   true,
		"@securityContext.runAsUser":                      10001,
		"@securityContext.seccompProfile.type":            "RuntimeDefault",
		"@automountServiceAccountToken":                   false,
		"@volumes.0.secret.defaultMode":                   0o440,
		"@topologySpreadConstraints.0.topologyKey":        "kubernetes.io/hostname",
		"@containers.0.volumeMounts.0.readOnly":           true,
		"@containers.0.volumeMounts.0.mountPath":          "/run/secrets/portal",
		"@containers.0.ports.1.containerPort":             9464,
		"@containers.0.securityContext.privileged":        false,
		"@containers.0.livenessProbe.httpGet.port":        "http",
		"@containers.0.readinessProbe.httpGet.port":       "http",
		"@containers.0.startupProbe.httpGet.path":         "/healthz",
		"@containers.0.imagePullPolicy":                   "IfNotPresent",
		"@containers.0.image":                             "registry.example.org/evidence-portal@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
		"@securityContext.fsGroup":                        10001,
		"@securityContext.runAsGroup":                     10001,
		"@enableServiceLinks":                             false,
		"@containers.0.securityContext.capabilities.drop": []any{"ALL"},
	} {
		base := c
		if strings.HasPrefix(path, "@") {
			base, path = pod, path[1:]
		}
		var keys []any
		for _, k := range strings.Split(path, ".") {
			if n := atoi(k); n >= 0 {
				keys = append(keys, n)
			} else {
				keys = append(keys, k)
			}
		}
		if got := get(base, keys...); !equal(got, want) {
			t.Errorf("%s = %v, want %v", path, got, want)
		}
	}
	// The portal writes nothing outside the database and the store: the
	// emptyDirs are clamd's and freshclam's.
	for _, m := range get(c, "volumeMounts").([]any) {
		for _, v := range get(pod, "volumes").([]any) {
			if get(v, "name") == get(m, "name") && get(v, "emptyDir") != nil {
				t.Errorf("the portal mounts the emptyDir %v: it writes nothing outside the database and the store", get(v, "name"))
			}
		}
	}
	checkEnv(t, c, get(pod, "volumes", 0, "secret", "items").([]any))
	checkMigrate(t, pod)
	checkClamd(t, pod, objs["ConfigMap"])
	np := objs["NetworkPolicy"]
	if types := get(np, "spec", "policyTypes"); !equal(types, []any{"Ingress", "Egress"}) {
		t.Errorf("network policy types %v", types)
	}
	if n := len(get(np, "spec", "egress").([]any)); n != 6 {
		t.Errorf("%d egress rules, want DNS, database, S3, identity providers, SMTP, the signature mirror", n)
	}
	// No rule lets the pods reach every address: one that did would make
	// every other rule moot (a compromised replica could send what it holds
	// anywhere).
	for i, rule := range get(np, "spec", "egress").([]any) {
		for _, peer := range get(rule, "to").([]any) {
			if cidr, _ := get(peer, "ipBlock", "cidr").(string); cidr == "0.0.0.0/0" || cidr == "::/0" {
				t.Errorf("egress rule %d allows every address (%s)", i, cidr)
			}
		}
	}
	if get(objs["Ingress"], "spec", "tls", 0, "secretName") == nil {
		t.Error("the Ingress has no TLS")
	}
	if get(objs["PodDisruptionBudget"], "spec", "minAvailable") != 1 {
		t.Error("the disruption budget does not keep a replica")
	}
}

// checkClamd: every upload's plaintext goes to a clamd in the same pod,
// over loopback, never across the pod network (clamd has no TLS). clamd
// and freshclam run from a pinned image, confined as the portal is,
// as a user of their own, with none of the portal's secrets; clamd runs
// deploy/clamd.conf, which listens on loopback only. Neither holds the
// pod's readiness: the portal reports a scanner that is down, and holds
// uploads until it answers.
func checkClamd(t *testing.T, pod any, cm any) {
	t.Helper()
	for _, e := range get(pod, "containers", 0, "env").([]any) {
		if get(e, "name") == "PORTAL_CLAMD_ADDR" && get(e, "value") != "127.0.0.1:3310" {
			t.Errorf("PORTAL_CLAMD_ADDR=%v, want 127.0.0.1:3310: clamd in the pod", get(e, "value"))
		}
	}
	want, err := os.ReadFile("../clamd.conf")
	if err != nil {
		t.Fatal(err)
	}
	if got := get(cm, "data", "clamd.conf"); got != string(want) {
		t.Errorf("the ConfigMap's clamd.conf is not deploy/clamd.conf (copy it to portal/files/clamd.conf):\n%s", diff(string(want), fmt.Sprint(got)))
	}
	names := map[string]bool{}
	for i, c := range get(pod, "containers").([]any) {
		name, _ := get(c, "name").(string)
		names[name] = true
		if i == 0 {
			continue
		}
		image, _ := get(c, "image").(string)
		if tag := image[strings.LastIndex(image, ":")+1:]; !strings.HasPrefix(image, "docker.io/clamav/clamav:") || tag == "latest" || tag == "stable" {
			t.Errorf("%s: image %q, want ClamAV's, at a pinned version", name, image)
		}
		for path, want := range map[string]any{
			"securityContext.runAsNonRoot":             true,
			"securityContext.runAsUser":                10002,
			"securityContext.readOnlyRootFilesystem":   true,
			"securityContext.allowPrivilegeEscalation": false,
			"securityContext.privileged":               false,
			"securityContext.capabilities.drop":        []any{"ALL"},
		} {
			var keys []any
			for _, k := range strings.Split(path, ".") {
				keys = append(keys, k)
			}
			if got := get(c, keys...); !equal(got, want) {
				t.Errorf("%s: %s = %v, want %v", name, path, got, want)
			}
		}
		if get(c, "readinessProbe") != nil || get(c, "startupProbe") != nil {
			t.Errorf("%s has a readiness or startup probe: the pod would not be ready until clamd has loaded its signatures", name)
		}
		if get(c, "resources", "limits", "memory") == nil {
			t.Errorf("%s: no memory limit", name)
		}
		for _, m := range get(c, "volumeMounts").([]any) {
			if n := get(m, "name"); n == "secrets" || n == "database-owner" || n == "anchors" {
				t.Errorf("%s mounts %v", name, n)
			}
		}
		if get(c, "env") != nil || get(c, "envFrom") != nil {
			t.Errorf("%s has an environment: it needs none of the portal's", name)
		}
	}
	if !names["clamd"] || !names["freshclam"] || len(names) != 3 {
		t.Errorf("containers %v, want portal, clamd and freshclam", names)
	}
	clamd := get(pod, "containers", 1)
	if get(clamd, "name") != "clamd" || get(clamd, "livenessProbe", "exec") == nil {
		t.Errorf("clamd: want a liveness probe that asks clamd, got %v", get(clamd, "livenessProbe"))
	}
	// A clamd killed mid-stream leaves the stream's plaintext in its
	// scratch emptyDir, which outlives it: emptied before clamd starts.
	if cmd := fmt.Sprint(get(clamd, "command")); !strings.Contains(cmd, "find /scratch -mindepth 1 -delete") {
		t.Errorf("clamd's command %s does not empty /scratch before clamd starts", cmd)
	}
	if p := get(clamd, "ports"); p != nil {
		t.Errorf("clamd names ports %v: it is reached on loopback only", p)
	}
}

// checkEnv: every variable is one the portal reads; every secret is a
// _FILE naming a file of the mounted Secret, never a value.
func checkEnv(t *testing.T, c any, items []any) {
	t.Helper()
	known := devstack.ConfigVariables("ofsted", "cafcass")
	secrets := devstack.SecretVariables(known)
	files := map[string]bool{}
	for _, it := range items {
		files["/run/secrets/portal/"+get(it, "path").(string)] = true
	}
	var names []string
	for _, e := range get(c, "env").([]any) {
		name, value := get(e, "name").(string), get(e, "value")
		names = append(names, name)
		switch {
		case !known[name]:
			t.Errorf("%s is not a variable the portal reads", name)
		case secrets[name]:
			t.Errorf("%s is a secret passed as a value: pass %s_FILE", name, name)
		}
		if get(e, "valueFrom") != nil {
			t.Errorf("%s comes from valueFrom: secrets are files", name)
		}
		if strings.HasSuffix(name, "_FILE") && !files[value.(string)] {
			t.Errorf("%s=%v is not a file of the mounted Secret", name, value)
		}
	}
	for s := range secrets {
		if !slices.Contains(names, s+"_FILE") && s != "PORTAL_DATABASE_OWNER_URL" {
			t.Errorf("%s_FILE is not set", s)
		}
	}
	// The serving container never holds the owner's credentials: with
	// them, it could drop the audit trail's triggers.
	if slices.Contains(names, "PORTAL_DATABASE_OWNER_URL_FILE") {
		t.Error("the portal container is given the database owner's URL: only the migrate init container may hold it")
	}
	for _, want := range []string{"PORTAL_MASTER_KEY_FILE", "PORTAL_SIGNING_KEY_FILE", "PORTAL_DATABASE_URL_FILE", "PORTAL_METRICS_ADDR",
		"PORTAL_SCAN", "PORTAL_CLAMD_ADDR"} {
		if !slices.Contains(names, want) {
			t.Errorf("%s is not set", want)
		}
	}
}

// checkMigrate: the schema is migrated by an init container, as the role
// that owns it, from a volume that only that container mounts.
func checkMigrate(t *testing.T, pod any) {
	t.Helper()
	m := get(pod, "initContainers", 0)
	if get(m, "name") != "migrate" || !equal(get(m, "command"), []any{"/portal", "migrate"}) || get(m, "image") != get(pod, "containers", 0, "image") {
		t.Fatalf("init container %v %v: want migrate, the portal's image running portal migrate", get(m, "name"), get(m, "command"))
	}
	env := map[string]any{}
	for _, e := range get(m, "env").([]any) {
		env[get(e, "name").(string)] = get(e, "value")
	}
	if env["PORTAL_DATABASE_OWNER_URL_FILE"] != "/run/secrets/portal-migrate/database-owner-url" || env["PORTAL_DATABASE_URL_FILE"] != "/run/secrets/portal-migrate/database-url" {
		t.Errorf("migrate's env %v: want the owner's URL and the serving role's, from its own volume", env)
	}
	if get(m, "securityContext", "readOnlyRootFilesystem") != true || get(m, "securityContext", "allowPrivilegeEscalation") != false {
		t.Error("migrate is not confined as the portal is")
	}
	if get(m, "volumeMounts", 0, "name") != "database-owner" || get(m, "volumeMounts", 0, "readOnly") != true {
		t.Errorf("migrate mounts %v", get(m, "volumeMounts"))
	}
	for _, mount := range get(pod, "containers", 0, "volumeMounts").([]any) {
		if get(mount, "name") == "database-owner" {
			t.Error("the portal container mounts the database owner's URL")
		}
	}
	for _, v := range get(pod, "volumes").([]any) {
		if get(v, "name") == "secrets" {
			for _, it := range get(v, "secret", "items").([]any) {
				if get(it, "key") == "database-owner-url" {
					t.Error("the portal container's secrets hold the database owner's URL")
				}
			}
		}
	}
}

func atoi(s string) int {
	n := 0
	for _, r := range s {
		if r < '0' || r > '9' {
			return -1
		}
		n = n*10 + int(r-'0')
	}
	return n
}

func equal(a, b any) bool {
	la, ok1 := a.([]any)
	lb, ok2 := b.([]any)
	if ok1 && ok2 {
		return slices.EqualFunc(la, lb, equal)
	}
	return a == b
}
