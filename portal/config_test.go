package portal

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
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
	if c.IdPs[0].EmailClaim != "email" || c.IdPs[0].ClientSecret != "s3cret" || c.IdPs[0].Logout != LogoutRPInitiated {
		t.Fatalf("idp: %+v", c.IdPs[0])
	}
	if c.SignInRate != (Rate{N: 20, Per: time.Minute}) || c.SignInFailureRate != (Rate{N: 10, Per: 15 * time.Minute}) ||
		c.ReadIdleTimeout != 2*time.Minute || c.WriteIdleTimeout != 2*time.Minute || c.IdPDiscoveryInterval != time.Hour || c.LogLevel != "info" {
		t.Fatalf("defaults: %+v", c)
	}
}

func TestLoadConfigSignIn(t *testing.T) {
	c, err := LoadConfig(devEnv(map[string]string{
		"PORTAL_TRUSTED_PROXIES":        "10.0.0.1, 192.168.0.0/16,::1",
		"PORTAL_LOG_LEVEL":              "WARN",
		"PORTAL_SIGNIN_RATE":            "1000/1m",
		"PORTAL_SIGNIN_FAILURE_RATE":    "3/1h",
		"PORTAL_IDP_OFSTED_LOGOUT":      "local",
		"PORTAL_IDP_OFSTED_REQUIRE_ACR": "urn:a  urn:b",
		"PORTAL_IDP_OFSTED_REQUIRE_AMR": "mfa",
	}))
	if err != nil {
		t.Fatal(err)
	}
	p := c.IdPs[0]
	if len(c.TrustedProxies) != 3 || c.LogLevel != "warn" || c.SignInRate.N != 1000 || c.SignInFailureRate != (Rate{3, time.Hour}) ||
		p.Logout != LogoutLocal || strings.Join(p.RequireACR, ",") != "urn:a,urn:b" || p.RequireAMR != "mfa" {
		t.Fatalf("config: %+v %+v", c, p)
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
		"no master key":     {map[string]string{"PORTAL_MASTER_KEY_FILE": ""}, "portal keygen -o master.key"}, // a file of mode 0600, never a redirect under the umask
		"bad segment size":  {map[string]string{"PORTAL_SEGMENT_SIZE": "1000"}, "PORTAL_SEGMENT_SIZE"},
		"bad bucket prefix": {map[string]string{"PORTAL_BUCKET_PREFIX": "Bad_Prefix"}, "PORTAL_BUCKET_PREFIX"},
		// The S3 policy grants DeleteBucket and the rest on <prefix>*: a
		// prefix that is not a whole word of the name (portal matches
		// portalbackups) or is empty (every bucket) covers buckets that
		// are not the portal's. (Empty is unset: the default.)
		"prefix without a separator": {map[string]string{"PORTAL_BUCKET_PREFIX": "portal", "PORTAL_AUDIT_ANCHOR_BUCKET": "anchors", "PORTAL_KEY_BUCKET": "keys"},
			"and must end with '-'"},
		// The S3 policy grants on <prefix>*, DeleteBucket and lifecycle
		// rules among it: a prefix that covers the anchor bucket would
		// give the visits' powers over the locked audit anchors.
		"anchors among visits": {map[string]string{"PORTAL_BUCKET_PREFIX": "portal-", "PORTAL_KEY_BUCKET": "keys-portal"}, "PORTAL_AUDIT_ANCHOR_BUCKET"},
		"anchors, the prefix":  {map[string]string{"PORTAL_BUCKET_PREFIX": "anchors", "PORTAL_AUDIT_ANCHOR_BUCKET": "anchors"}, "PORTAL_AUDIT_ANCHOR_BUCKET"},
		"no providers":         {map[string]string{"PORTAL_IDPS": ""}, "PORTAL_IDPS"},
		// People are keyed by issuer and subject: a second entry for the
		// same issuer, without the first's REQUIRE_AMR, signs the same
		// people in without it.
		"two providers, one issuer": {map[string]string{"PORTAL_IDPS": "ofsted,cafcass", "PORTAL_IDP_CAFCASS_ISSUER": "https://login.example/ofsted",
			"PORTAL_IDP_CAFCASS_CLIENT_ID": "portal2", "PORTAL_IDP_CAFCASS_CLIENT_SECRET": "s3cret", "PORTAL_IDP_CAFCASS_ORGANISATION": "provider"}, "PORTAL_IDP_CAFCASS_ISSUER"},
		"bad proxy list":         {map[string]string{"PORTAL_TRUSTED_PROXIES": "10.0.0.1, proxy.internal"}, "PORTAL_TRUSTED_PROXIES"},
		"bad proxy cidr":         {map[string]string{"PORTAL_TRUSTED_PROXIES": "10.0.0.0/33"}, "PORTAL_TRUSTED_PROXIES"},
		"bad log level":          {map[string]string{"PORTAL_LOG_LEVEL": "verbose"}, "PORTAL_LOG_LEVEL"},
		"bad listen addr":        {map[string]string{"PORTAL_ADDR": "8080"}, "PORTAL_ADDR"},
		"s3 endpoint url":        {map[string]string{"PORTAL_S3_ENDPOINT": "http://minio:9000"}, "PORTAL_S3_ENDPOINT"},
		"idle past life":         {map[string]string{"PORTAL_SESSION_IDLE_TIMEOUT": "13h"}, "PORTAL_SESSION_IDLE_TIMEOUT"},
		"http issuer":            {map[string]string{"PORTAL_IDP_OFSTED_ISSUER": "http://login.example/ofsted"}, "PORTAL_IDP_OFSTED_ISSUER"},
		"issuer with query":      {map[string]string{"PORTAL_IDP_OFSTED_ISSUER": "https://login.example/?tenant=x"}, "PORTAL_IDP_OFSTED_ISSUER"},
		"bad logout":             {map[string]string{"PORTAL_IDP_OFSTED_LOGOUT": "sometimes"}, "PORTAL_IDP_OFSTED_LOGOUT"},
		"two amr values":         {map[string]string{"PORTAL_IDP_OFSTED_REQUIRE_AMR": "mfa otp"}, "PORTAL_IDP_OFSTED_REQUIRE_AMR"},
		"bad sign-in rate":       {map[string]string{"PORTAL_SIGNIN_RATE": "lots"}, "PORTAL_SIGNIN_RATE"},
		"zero failure rate":      {map[string]string{"PORTAL_SIGNIN_FAILURE_RATE": "0/1m"}, "PORTAL_SIGNIN_FAILURE_RATE"},
		"bad read timeout":       {map[string]string{"PORTAL_READ_IDLE_TIMEOUT": "0s"}, "PORTAL_READ_IDLE_TIMEOUT"},
		"bad write timeout":      {map[string]string{"PORTAL_WRITE_IDLE_TIMEOUT": "0s"}, "PORTAL_WRITE_IDLE_TIMEOUT"},
		"bad discovery":          {map[string]string{"PORTAL_IDP_DISCOVERY_INTERVAL": "hourly"}, "PORTAL_IDP_DISCOVERY_INTERVAL"},
		"remote metrics":         {map[string]string{"PORTAL_METRICS_ADDR": ":9464"}, "PORTAL_METRICS_ALLOW_REMOTE"},
		"metrics no port":        {map[string]string{"PORTAL_METRICS_ADDR": "127.0.0.1"}, "PORTAL_METRICS_ADDR must be host:port"},
		"metrics on portal":      {map[string]string{"PORTAL_METRICS_ADDR": "127.0.0.1:8080"}, "own address"},
		"no retention":           {map[string]string{"PORTAL_RETENTION_DAYS": "0"}, "PORTAL_RETENTION_DAYS must be between 1 and 3650"},
		"negative retention":     {map[string]string{"PORTAL_RETENTION_DAYS": "-5"}, "PORTAL_RETENTION_DAYS must be between 1 and 3650"},
		"retention too long":     {map[string]string{"PORTAL_RETENTION_DAYS": "3651"}, "PORTAL_RETENTION_DAYS must be between 1 and 3650"},
		"no downloads":           {map[string]string{"PORTAL_DOWNLOADS_PER_PERSON": "0"}, "PORTAL_DOWNLOADS_PER_PERSON must be between 1 and 1000"},
		"download wait too long": {map[string]string{"PORTAL_DOWNLOAD_WAIT": "11m"}, "PORTAL_DOWNLOAD_WAIT must be between 0s and 10m"},
		"owner without database": {map[string]string{"PORTAL_DATABASE_OWNER_URL": "postgres://portal:s3cret@127.0.0.1/portal"}, "PORTAL_DATABASE_OWNER_URL is the owner"},
		"owner not postgres": {map[string]string{"PORTAL_DATABASE_URL": "postgres://portal_app@127.0.0.1/portal",
			"PORTAL_DATABASE_OWNER_URL": "mysql://portal:s3cret@127.0.0.1/portal"}, "PORTAL_DATABASE_OWNER_URL must be a PostgreSQL URL"},
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

// TestLoadConfigRefusesUnsafeProduction: outside development, a database
// reached without verified TLS, an object store reached over plain http,
// a clamd (sent every upload's plaintext) elsewhere than on loopback,
// a session that lasts for days, every address (or, split into ranges,
// much of the internet) trusted as a proxy, key
// epochs kept for no time and audit anchors locked for less than the
// trail is kept are each refused, naming the variable. The
// same values are accepted for development, and plaintext is accepted to
// a loopback host or a Unix socket, or to a host the operator names as on
// a network of the portal's own (compose's internal network).
func TestLoadConfigRefusesUnsafeProduction(t *testing.T) {
	for name, tc := range map[string]struct {
		env  map[string]string
		want string
	}{
		"database, no sslmode":      {map[string]string{"PORTAL_DATABASE_URL": "postgres://portal:pw@db.example.org:5432/portal"}, "PORTAL_DATABASE_URL must ask for sslmode=verify-full"},
		"database, sslmode=disable": {map[string]string{"PORTAL_DATABASE_URL": "postgres://portal@db.example.org/portal?sslmode=disable"}, "PORTAL_DATABASE_URL must ask for sslmode=verify-full"},
		"database, sslmode=require": {map[string]string{"PORTAL_DATABASE_URL": "postgres://portal@db.example.org/portal?sslmode=require"}, "PORTAL_DATABASE_URL must ask for sslmode=verify-full"},
		"database, sslmode twice":   {map[string]string{"PORTAL_DATABASE_URL": "postgres://portal@db.example.org/portal?sslmode=verify-full&sslmode=disable"}, "PORTAL_DATABASE_URL must ask for sslmode=verify-full"},
		"database, ssl=true after":  {map[string]string{"PORTAL_DATABASE_URL": "postgres://portal@db.example.org/portal?sslmode=verify-full&ssl=true"}, "PORTAL_DATABASE_URL must ask for sslmode=verify-full"},
		"database, verify-ca":       {map[string]string{"PORTAL_DATABASE_URL": "postgres://portal@10.0.0.5/portal?sslmode=verify-ca"}, "PORTAL_DATABASE_URL must ask for sslmode=verify-full"},
		"database, host param":      {map[string]string{"PORTAL_DATABASE_URL": "postgres://portal@127.0.0.1/portal?host=db.example.org&sslmode=disable"}, "PORTAL_DATABASE_URL must ask for sslmode=verify-full"},
		"database, second host":     {map[string]string{"PORTAL_DATABASE_URL": "postgres://portal@127.0.0.1:5432,db.example.org:5432/portal"}, "PORTAL_DATABASE_URL must ask for sslmode=verify-full"},
		"database owner, no sslmode": {map[string]string{"PORTAL_DATABASE_URL": "postgres://portal_app@db.example.org/portal?sslmode=verify-full",
			"PORTAL_DATABASE_OWNER_URL": "postgres://portal:pw@db.example.org/portal"}, "PORTAL_DATABASE_OWNER_URL must ask for sslmode=verify-full"},
		"s3 over http":              {map[string]string{"PORTAL_S3_ENDPOINT": "s3.storage.example.org:443"}, "PORTAL_S3_SECURE must be true"},
		"s3 over http, by name":     {map[string]string{"PORTAL_S3_ENDPOINT": "minio:9000", "PORTAL_S3_SECURE": "false"}, "PORTAL_S3_SECURE must be true"},
		"s3 not on the own network": {map[string]string{"PORTAL_S3_ENDPOINT": "minio:9000", "PORTAL_PLAINTEXT_HOSTS": "postgres"}, "PORTAL_S3_SECURE must be true"},
		"database elsewhere":        {map[string]string{"PORTAL_DATABASE_URL": "postgres://portal:pw@db:5432/portal", "PORTAL_PLAINTEXT_HOSTS": "postgres"}, "PORTAL_DATABASE_URL must ask for sslmode=verify-full"},
		"clamd elsewhere":           {map[string]string{"PORTAL_CLAMD_ADDR": "clamd.clamav.svc:3310"}, "PORTAL_CLAMD_ADDR must be a loopback address"},
		"clamd at an address":       {map[string]string{"PORTAL_CLAMD_ADDR": "10.0.0.7:3310"}, "PORTAL_CLAMD_ADDR must be a loopback address"},
		"clamd not on own network":  {map[string]string{"PORTAL_CLAMD_ADDR": "clamd:3310", "PORTAL_PLAINTEXT_HOSTS": "postgres,minio"}, "PORTAL_CLAMD_ADDR must be a loopback address"},
		"plaintext to a DNS name":   {map[string]string{"PORTAL_PLAINTEXT_HOSTS": "db.example.org"}, "PORTAL_PLAINTEXT_HOSTS"},
		"plaintext to an address":   {map[string]string{"PORTAL_PLAINTEXT_HOSTS": "10.0.0.5"}, "PORTAL_PLAINTEXT_HOSTS"},
		"session of a year":         {map[string]string{"PORTAL_SESSION_LIFETIME": "8760h", "PORTAL_SESSION_IDLE_TIMEOUT": "8760h"}, "PORTAL_SESSION_LIFETIME must be at most 24h"},
		"every IPv4 a proxy":        {map[string]string{"PORTAL_TRUSTED_PROXIES": "10.0.0.0/8,0.0.0.0/0"}, "PORTAL_TRUSTED_PROXIES must not trust every address"},
		"every IPv6 a proxy":        {map[string]string{"PORTAL_TRUSTED_PROXIES": "::/0"}, "PORTAL_TRUSTED_PROXIES must not trust every address"},
		"every mapped IPv4 a proxy": {map[string]string{"PORTAL_TRUSTED_PROXIES": "::ffff:0.0.0.0/96"}, "PORTAL_TRUSTED_PROXIES must not trust every address"},
		"IPv4 in two halves":        {map[string]string{"PORTAL_TRUSTED_PROXIES": "0.0.0.0/1,128.0.0.0/1"}, "PORTAL_TRUSTED_PROXIES trusts too many public addresses"},
		"IPv6 in two halves":        {map[string]string{"PORTAL_TRUSTED_PROXIES": "::/1,8000::/1"}, "PORTAL_TRUSTED_PROXIES trusts too many public addresses"},
		"IPv4 in quarters":          {map[string]string{"PORTAL_TRUSTED_PROXIES": "0.0.0.0/2,64.0.0.0/2,128.0.0.0/2,192.0.0.0/2"}, "PORTAL_TRUSTED_PROXIES trusts too many public addresses"},
		"mapped IPv4 in two halves": {map[string]string{"PORTAL_TRUSTED_PROXIES": "::ffff:0.0.0.0/97,::ffff:128.0.0.0/97"}, "PORTAL_TRUSTED_PROXIES trusts too many public addresses"},
		"every global IPv6":         {map[string]string{"PORTAL_TRUSTED_PROXIES": "fd00::/8,2000::/3"}, "PORTAL_TRUSTED_PROXIES trusts too many public addresses"},
		"two public /8s":            {map[string]string{"PORTAL_TRUSTED_PROXIES": "10.0.0.0/8,3.0.0.0/8,52.0.0.0/8"}, "PORTAL_TRUSTED_PROXIES trusts too many public addresses"},
		"a public /7, unmasked":     {map[string]string{"PORTAL_TRUSTED_PROXIES": "3.1.2.3/7"}, "PORTAL_TRUSTED_PROXIES trusts too many public addresses"},
		"key epochs kept no time":   {map[string]string{"PORTAL_KEY_EPOCH_RETAIN": "0d"}, "PORTAL_KEY_EPOCH_RETAIN must be at least 1d"},
		"anchors locked a year":     {map[string]string{"PORTAL_AUDIT_ANCHOR_RETENTION": "365d"}, "PORTAL_AUDIT_ANCHOR_RETENTION must be at least 2190d"},
		"anchors before key epochs": {map[string]string{"PORTAL_AUDIT_ANCHOR_RETENTION": "2190d", "PORTAL_KEY_EPOCH_RETAIN": "3000d"}, "PORTAL_AUDIT_ANCHOR_RETENTION must not be shorter than PORTAL_KEY_EPOCH_RETAIN"},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := LoadConfig(devEnv(tc.env))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want mention of %q", err, tc.want)
			}
			if strings.Contains(err.Error(), ":pw@") {
				t.Fatal("error echoes the database password")
			}
			dev := map[string]string{"PORTAL_DEV": "true"}
			for k, v := range tc.env {
				dev[k] = v
			}
			if _, err := LoadConfig(devEnv(dev)); err != nil {
				t.Fatalf("refused in development too: %v", err)
			}
		})
	}
	for name, env := range map[string]map[string]string{
		"database on loopback":       {"PORTAL_DATABASE_URL": "postgres://portal:pw@127.0.0.1:5432/portal?sslmode=disable"},
		"database on localhost":      {"PORTAL_DATABASE_URL": "postgres://portal@localhost/portal"},
		"database on IPv6 loopback":  {"PORTAL_DATABASE_URL": "postgres://portal@[::1]:5432/portal"},
		"database on a Unix socket":  {"PORTAL_DATABASE_URL": "postgres:///portal?host=/run/postgresql"},
		"database, verified TLS":     {"PORTAL_DATABASE_URL": "postgres://portal@db.example.org/portal?sslmode=verify-full&sslrootcert=/run/secrets/ca.pem"},
		"s3 on loopback":             {"PORTAL_S3_ENDPOINT": "127.0.0.1:9000"},
		"clamd on loopback":          {"PORTAL_CLAMD_ADDR": "127.0.0.1:3310"},
		"clamd on IPv6 loopback":     {"PORTAL_CLAMD_ADDR": "[::1]:3310"},
		"clamd on localhost":         {"PORTAL_CLAMD_ADDR": "localhost:3310"},
		"clamd on a Unix socket":     {"PORTAL_CLAMD_ADDR": "/run/clamav/clamd.sock"},
		"clamd unused":               {"PORTAL_SCAN": "off", "PORTAL_CLAMD_ADDR": "clamd.clamav.svc:3310"},
		"s3 over https":              {"PORTAL_S3_ENDPOINT": "s3.eu-west-2.amazonaws.com:443", "PORTAL_S3_SECURE": "true"},
		"a day's session":            {"PORTAL_SESSION_LIFETIME": "24h"},
		"the pod network as proxies": {"PORTAL_TRUSTED_PROXIES": "10.0.0.0/8,fd00::/8"},
		"every private range":        {"PORTAL_TRUSTED_PROXIES": "10.0.0.0/8,172.16.0.0/12,192.168.0.0/16,100.64.0.0/10,127.0.0.1,fc00::/7,::1"},
		// A CDN's published ranges (Cloudflare's) and a cloud load
		// balancer's (Google's front ends, CloudFront's IPv6).
		"a CDN's ranges": {"PORTAL_TRUSTED_PROXIES": "173.245.48.0/20,103.21.244.0/22,103.22.200.0/22,103.31.4.0/22,141.101.64.0/18,108.162.192.0/18," +
			"190.93.240.0/20,188.114.96.0/20,197.234.240.0/22,198.41.128.0/17,162.158.0.0/15,104.16.0.0/13,104.24.0.0/14,172.64.0.0/13,131.0.72.0/22," +
			"2400:cb00::/32,2606:4700::/32,2803:f800::/32,2405:b500::/32,2405:8100::/32,2a06:98c0::/29,2c0f:f248::/32"},
		"a cloud load balancer's ranges": {"PORTAL_TRUSTED_PROXIES": "130.211.0.0/22,35.191.0.0/16,2600:9000::/28,10.0.0.0/8"},
		"anchors for seven years":        {"PORTAL_AUDIT_ANCHOR_RETENTION": "2555d"},
		"compose's own network": {"PORTAL_PLAINTEXT_HOSTS": "postgres,minio,clamd", "PORTAL_S3_ENDPOINT": "minio:9000", "PORTAL_CLAMD_ADDR": "clamd:3310",
			"PORTAL_DATABASE_URL": "postgres://portal_app:pw@postgres:5432/portal?sslmode=disable", "PORTAL_DATABASE_OWNER_URL": "postgres://portal:pw@postgres:5432/portal?sslmode=disable"},
		"database owner, verified TLS": {"PORTAL_DATABASE_URL": "postgres://portal_app@db.example.org/portal?sslmode=verify-full",
			"PORTAL_DATABASE_OWNER_URL": "postgres://portal@db.example.org/portal?sslmode=verify-full"},
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := LoadConfig(devEnv(env)); err != nil {
				t.Fatal(err)
			}
		})
	}
}
