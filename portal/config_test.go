package portal

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func devEnv(extra map[string]string) func(string) string {
	env := map[string]string{
		"PORTAL_MASTER_KEY_FILE":          "/tmp/master.key",
		"PORTAL_SIGNING_KEY_FILE":         "/tmp/signing.key",
		"PORTAL_PUBLIC_URL":               "https://portal.example",
		"PORTAL_S3_ACCESS_KEY":            "ak",
		"PORTAL_S3_SECRET_KEY":            "sk",
		"PORTAL_IDPS":                     "ofsted",
		"PORTAL_IDP_OFSTED_ISSUER":        "https://login.example/ofsted",
		"PORTAL_IDP_OFSTED_CLIENT_ID":     "portal",
		"PORTAL_IDP_OFSTED_CLIENT_SECRET": "s3cret",
		"PORTAL_IDP_OFSTED_ORGANISATION":  "inspectorate",
	}
	for k, v := range extra {
		env[k] = v
	}
	return func(k string) string { return env[k] }
}

func TestLoadConfig(t *testing.T) {
	c, err := LoadConfig(devEnv(nil))
	if err != nil {
		t.Fatal(err)
	}
	if c.MaxFileSize != 20<<30 || c.SegmentSize != 32<<20 || c.SessionIdle.Minutes() != 30 || c.SessionLifetime.Hours() != 12 || c.RetentionDays != 30 {
		t.Fatalf("defaults: %+v", c)
	}
	if c.IdPs[0].EmailClaim != "email" || c.IdPs[0].ClientSecret != "s3cret" {
		t.Fatalf("idp: %+v", c.IdPs[0])
	}
}

func TestLoadConfigSecretFile(t *testing.T) {
	p := filepath.Join(t.TempDir(), "secret")
	os.WriteFile(p, []byte("from-file\n"), 0o600)
	c, err := LoadConfig(devEnv(map[string]string{"PORTAL_IDP_OFSTED_CLIENT_SECRET": "", "PORTAL_IDP_OFSTED_CLIENT_SECRET_FILE": p}))
	if err != nil {
		t.Fatal(err)
	}
	if c.IdPs[0].ClientSecret != "from-file" {
		t.Fatalf("secret %q", c.IdPs[0].ClientSecret)
	}
}

func TestLoadConfigRejects(t *testing.T) {
	for name, tc := range map[string]struct {
		env  map[string]string
		want string
	}{
		"bad size":          {map[string]string{"PORTAL_MAX_FILE_SIZE": "lots"}, "PORTAL_MAX_FILE_SIZE"},
		"bad duration":      {map[string]string{"PORTAL_SESSION_IDLE_TIMEOUT": "soon"}, "PORTAL_SESSION_IDLE_TIMEOUT"},
		"http outside dev":  {map[string]string{"PORTAL_PUBLIC_URL": "http://portal.example"}, "must be https"},
		"both secret forms": {map[string]string{"PORTAL_IDP_OFSTED_CLIENT_SECRET_FILE": "/x"}, "not both"},
		"no organisation":   {map[string]string{"PORTAL_IDP_OFSTED_ORGANISATION": ""}, "ORGANISATION"},
		"no master key":     {map[string]string{"PORTAL_MASTER_KEY_FILE": ""}, "PORTAL_MASTER_KEY_FILE"},
		"bad segment size":  {map[string]string{"PORTAL_SEGMENT_SIZE": "1000"}, "PORTAL_SEGMENT_SIZE"},
		"bad bucket prefix": {map[string]string{"PORTAL_BUCKET_PREFIX": "Bad_Prefix"}, "PORTAL_BUCKET_PREFIX"},
		"no providers":      {map[string]string{"PORTAL_IDPS": ""}, "PORTAL_IDPS"},
		"remote metrics":    {map[string]string{"PORTAL_METRICS_ADDR": ":9464"}, "PORTAL_METRICS_ALLOW_REMOTE"},
		"metrics no port":   {map[string]string{"PORTAL_METRICS_ADDR": "127.0.0.1"}, "PORTAL_METRICS_ADDR must be host:port"},
		"metrics on portal": {map[string]string{"PORTAL_METRICS_ADDR": "127.0.0.1:8080"}, "own address"},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := LoadConfig(devEnv(tc.env))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want mention of %q", err, tc.want)
			}
			if strings.Contains(err.Error(), "s3cret") {
				t.Fatal("error echoes a secret")
			}
		})
	}
}

func TestLoadConfigMetrics(t *testing.T) {
	for name, tc := range map[string]struct {
		env    map[string]string
		addr   string
		remote bool
	}{
		"off by default":  {nil, "", false},
		"loopback":        {map[string]string{"PORTAL_METRICS_ADDR": "127.0.0.1:9464"}, "127.0.0.1:9464", false},
		"remote, allowed": {map[string]string{"PORTAL_METRICS_ADDR": ":9464", "PORTAL_METRICS_ALLOW_REMOTE": "true"}, ":9464", true},
		"ipv6 loopback":   {map[string]string{"PORTAL_METRICS_ADDR": "[::1]:9464"}, "[::1]:9464", false},
	} {
		t.Run(name, func(t *testing.T) {
			c, err := LoadConfig(devEnv(tc.env))
			if err != nil {
				t.Fatal(err)
			}
			if c.MetricsAddr != tc.addr || c.MetricsAllowRemote != tc.remote {
				t.Fatalf("metrics %q remote %v, want %q %v", c.MetricsAddr, c.MetricsAllowRemote, tc.addr, tc.remote)
			}
		})
	}
}
