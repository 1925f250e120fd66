package portal

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"
)

// Config is the whole configuration of the portal, read from the
// environment (see README: Configuration). Every secret has a _FILE variant.
type Config struct {
	Addr        string // listen address
	PublicURL   string // how browsers reach the portal, no trailing slash
	Dev         bool   // development mode: cookies without Secure, dev banner
	DBPath      string
	MasterKey   string // path of the master key file
	SigningKey  string // path of the Ed25519 signing key (certificates)
	LogLevel    string
	S3Endpoint  string
	S3AccessKey string
	S3SecretKey string
	S3Secure    bool
	S3Region    string

	BucketPrefix    string
	MaxFileSize     int64
	SegmentSize     int64
	UploadExpiry    time.Duration // an unfinished resumable upload is removed after this
	SessionIdle     time.Duration
	SessionLifetime time.Duration
	RetentionDays   int
	RetentionEvery  time.Duration
	// DestructionNotice is how long administrators are warned before a
	// destruction none of them approved.
	DestructionNotice time.Duration
	// RetentionLease is how long a sweep's lease lasts unless renewed: a
	// sweep that dies blocks the next for no longer.
	RetentionLease time.Duration
	// Where signed audit checkpoints are anchored outside the database: a
	// bucket under object lock (compliance mode, for AnchorRetention), or
	// a folder of write-once files (AnchorDir).
	AnchorBucket    string
	AnchorRetention time.Duration
	AnchorDir       string
	CalendarFile    string   // extra bank holidays (optional)
	TrustedProxies  []string // addresses/CIDRs whose X-Forwarded-For is believed
	PprofAddr       string   // loopback address for Go's profiler (diagnostics); empty: off
	// MetricsAddr is where Prometheus metrics are served, on a listener of
	// their own (empty: off); a loopback address unless
	// MetricsAllowRemote (a scraper on another host, such as a
	// Kubernetes pod's).
	MetricsAddr        string
	MetricsAllowRemote bool
	IdPs               []IdPConfig
}

// IdPConfig is one OpenID Provider users may sign in with.
type IdPConfig struct {
	Name         string // path segment: /auth/{Name}/login
	DisplayName  string
	Issuer       string
	ClientID     string
	ClientSecret string
	EmailClaim   string
	// Organisation is "provider" (the inspected body's staff) or
	// "inspectorate": it decides which visit roles an email may bind to.
	Organisation string
}

// Organisations an identity provider can serve.
const (
	OrgProvider     = "provider"
	OrgInspectorate = "inspectorate"
)

// LoadConfig reads the configuration from getenv (os.Getenv in production)
// and validates all of it, reporting every problem at once.
func LoadConfig(getenv func(string) string) (Config, error) {
	e := envReader{get: getenv}
	c := readConfig(&e)
	c.validate(&e)
	if len(e.errs) > 0 {
		return Config{}, fmt.Errorf("configuration:\n  %s", strings.Join(e.errs, "\n  "))
	}
	return c, nil
}

// PartialConfig reads the configuration without requiring what an
// operator's command does not need (keys, identity providers): values
// that are missing or wrong keep their defaults.
func PartialConfig(getenv func(string) string) Config {
	return readConfig(&envReader{get: getenv})
}

func readConfig(e *envReader) Config {
	c := Config{
		Addr:              e.str("PORTAL_ADDR", "127.0.0.1:8080"),
		Dev:               e.bool("PORTAL_DEV", false),
		DBPath:            e.str("PORTAL_DB_PATH", DefaultDBPath),
		MasterKey:         e.str("PORTAL_MASTER_KEY_FILE", ""),
		SigningKey:        e.str("PORTAL_SIGNING_KEY_FILE", ""),
		LogLevel:          e.str("PORTAL_LOG_LEVEL", "info"),
		S3Endpoint:        e.str("PORTAL_S3_ENDPOINT", "127.0.0.1:9000"),
		S3AccessKey:       e.secret("PORTAL_S3_ACCESS_KEY"),
		S3SecretKey:       e.secret("PORTAL_S3_SECRET_KEY"),
		S3Secure:          e.bool("PORTAL_S3_SECURE", false),
		S3Region:          e.str("PORTAL_S3_REGION", "us-east-1"),
		BucketPrefix:      e.str("PORTAL_BUCKET_PREFIX", "portal-visit-"),
		MaxFileSize:       e.size("PORTAL_MAX_FILE_SIZE", 20<<30),
		SegmentSize:       e.size("PORTAL_SEGMENT_SIZE", 32<<20),
		UploadExpiry:      e.duration("PORTAL_UPLOAD_EXPIRY", 24*time.Hour),
		SessionIdle:       e.duration("PORTAL_SESSION_IDLE_TIMEOUT", 30*time.Minute),
		SessionLifetime:   e.duration("PORTAL_SESSION_LIFETIME", 12*time.Hour),
		RetentionDays:     e.int("PORTAL_RETENTION_DAYS", 30),
		RetentionEvery:    e.duration("PORTAL_RETENTION_INTERVAL", 5*time.Minute),
		DestructionNotice: e.days("PORTAL_DESTRUCTION_NOTICE", 7*24*time.Hour),
		RetentionLease:    e.duration("PORTAL_RETENTION_LEASE", 30*time.Second),
		AnchorBucket:      e.str("PORTAL_AUDIT_ANCHOR_BUCKET", "portal-audit-anchors"),
		AnchorRetention:   e.days("PORTAL_AUDIT_ANCHOR_RETENTION", 2190*24*time.Hour),
		AnchorDir:         e.str("PORTAL_AUDIT_ANCHOR_DIR", ""),
		CalendarFile:      e.str("PORTAL_CALENDAR_FILE", ""),
		TrustedProxies:    splitList(e.str("PORTAL_TRUSTED_PROXIES", "")),
		PprofAddr:         e.str("PORTAL_PPROF_ADDR", ""),
	}
	c.MetricsAddr = e.str("PORTAL_METRICS_ADDR", "")
	c.MetricsAllowRemote = e.bool("PORTAL_METRICS_ALLOW_REMOTE", false)
	c.PublicURL = strings.TrimRight(e.str("PORTAL_PUBLIC_URL", "http://"+c.Addr), "/")
	for _, name := range splitList(e.str("PORTAL_IDPS", "")) {
		p := "PORTAL_IDP_" + strings.ToUpper(name) + "_"
		idp := IdPConfig{
			Name:         name,
			DisplayName:  e.str(p+"DISPLAY_NAME", name),
			Issuer:       e.str(p+"ISSUER", ""),
			ClientID:     e.str(p+"CLIENT_ID", ""),
			ClientSecret: e.secret(p + "CLIENT_SECRET"),
			EmailClaim:   e.str(p+"EMAIL_CLAIM", "email"),
			Organisation: e.str(p+"ORGANISATION", ""),
		}
		c.IdPs = append(c.IdPs, idp)
	}
	return c
}

func (c *Config) validate(e *envReader) {
	if c.MasterKey == "" {
		e.fail("PORTAL_MASTER_KEY_FILE is required: the path of the master key (make one with: portal keygen > master.key)")
	}
	if c.SigningKey == "" {
		e.fail("PORTAL_SIGNING_KEY_FILE is required: the Ed25519 key that signs destruction certificates (make one with: portal keygen --signing -o signing.key)")
	}
	if u, err := url.Parse(c.PublicURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		e.fail("PORTAL_PUBLIC_URL must be an absolute http(s) URL, got %q", c.PublicURL)
	} else if u.Scheme != "https" && !c.Dev {
		e.fail("PORTAL_PUBLIC_URL must be https outside development (set PORTAL_DEV=true for a local stack)")
	}
	if c.S3AccessKey == "" || c.S3SecretKey == "" {
		e.fail("PORTAL_S3_ACCESS_KEY and PORTAL_S3_SECRET_KEY (or their _FILE variants) are required")
	}
	if c.MaxFileSize <= 0 {
		e.fail("PORTAL_MAX_FILE_SIZE must be positive")
	}
	if c.SegmentSize < 1<<20 || c.SegmentSize > 1<<30 || c.SegmentSize%(64<<10) != 0 {
		e.fail("PORTAL_SEGMENT_SIZE must be a multiple of 64 KiB between 1 MiB and 1 GiB")
	}
	if c.PprofAddr != "" {
		host, _, err := net.SplitHostPort(c.PprofAddr)
		if ip := net.ParseIP(host); err != nil || ip == nil || !ip.IsLoopback() {
			e.fail("PORTAL_PPROF_ADDR must be a loopback address such as 127.0.0.1:6060 (the profiler must not be reachable from the network)")
		}
	}
	if c.MetricsAddr != "" {
		host, port, err := net.SplitHostPort(c.MetricsAddr)
		ip := net.ParseIP(host)
		switch {
		case err != nil || port == "":
			e.fail("PORTAL_METRICS_ADDR must be host:port, such as 127.0.0.1:9464, got %q", c.MetricsAddr)
		case port == addrPort(c.Addr) && (host == "" || host == addrHost(c.Addr)):
			e.fail("PORTAL_METRICS_ADDR must not be the portal's own address: metrics have a listener of their own")
		case !c.MetricsAllowRemote && (ip == nil || !ip.IsLoopback()):
			e.fail("PORTAL_METRICS_ADDR must be a loopback address such as 127.0.0.1:9464, or set PORTAL_METRICS_ALLOW_REMOTE=true for a scraper on another host (then restrict who reaches the port)")
		}
	}
	if c.UploadExpiry < time.Minute {
		e.fail("PORTAL_UPLOAD_EXPIRY must be at least 1m")
	}
	if !validBucketPrefix(c.AnchorBucket) {
		e.fail("PORTAL_AUDIT_ANCHOR_BUCKET must be 3 to 30 characters of a-z, 0-9 and '-', starting with a letter")
	}
	if c.AnchorRetention < 24*time.Hour {
		e.fail("PORTAL_AUDIT_ANCHOR_RETENTION must be at least 1d")
	}
	if !validBucketPrefix(c.BucketPrefix) {
		e.fail("PORTAL_BUCKET_PREFIX must be 3 to 30 characters of a-z, 0-9 and '-', starting with a letter")
	}
	if c.RetentionDays < 0 {
		e.fail("PORTAL_RETENTION_DAYS must not be negative")
	}
	if len(c.IdPs) == 0 {
		e.fail("PORTAL_IDPS must name at least one identity provider (comma-separated), each configured by PORTAL_IDP_<NAME>_*")
	}
	seen := map[string]bool{}
	for _, p := range c.IdPs {
		pre := "PORTAL_IDP_" + strings.ToUpper(p.Name) + "_"
		if !validName(p.Name) {
			e.fail("identity provider name %q must be lower-case letters, digits and '-'", p.Name)
		}
		if seen[p.Name] {
			e.fail("identity provider %q is listed twice in PORTAL_IDPS", p.Name)
		}
		seen[p.Name] = true
		if u, err := url.Parse(p.Issuer); err != nil || u.Scheme == "" || u.Host == "" {
			e.fail("%sISSUER must be the provider's issuer URL", pre)
		}
		if p.ClientID == "" {
			e.fail("%sCLIENT_ID is required", pre)
		}
		if p.ClientSecret == "" {
			e.fail("%sCLIENT_SECRET (or %sCLIENT_SECRET_FILE) is required", pre, pre)
		}
		if p.Organisation != OrgProvider && p.Organisation != OrgInspectorate {
			e.fail("%sORGANISATION must be %q or %q", pre, OrgProvider, OrgInspectorate)
		}
	}
}

func validName(s string) bool {
	if s == "" || len(s) > 32 {
		return false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-') {
			return false
		}
	}
	return true
}

func validBucketPrefix(s string) bool {
	return len(s) >= 3 && len(s) <= 30 && s[0] >= 'a' && s[0] <= 'z' && validName(s)
}

func splitList(s string) []string {
	var out []string
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}

type envReader struct {
	get  func(string) string
	errs []string
}

func (e *envReader) fail(format string, args ...any) {
	e.errs = append(e.errs, fmt.Sprintf(format, args...))
}

func (e *envReader) str(key, def string) string {
	if v := strings.TrimSpace(e.get(key)); v != "" {
		return v
	}
	return def
}

// secret reads KEY, or the contents of the file named by KEY_FILE. Setting
// both is an error: which one wins would be a guess.
func (e *envReader) secret(key string) string {
	v, f := e.get(key), e.get(key+"_FILE")
	if v != "" && f != "" {
		e.fail("set %s or %s_FILE, not both", key, key)
		return ""
	}
	if f == "" {
		return v
	}
	b, err := os.ReadFile(f)
	if err != nil {
		e.fail("%s_FILE: %v", key, errors.Unwrap(err))
		return ""
	}
	return strings.TrimSpace(string(b))
}

func (e *envReader) bool(key string, def bool) bool {
	v := e.get(key)
	if v == "" {
		return def
	}
	b, err := strconv.ParseBool(v)
	if err != nil {
		e.fail("%s must be true or false, got %q", key, v)
	}
	return b
}

func (e *envReader) int(key string, def int) int {
	v := e.get(key)
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil {
		e.fail("%s must be a whole number, got %q", key, v)
	}
	return n
}

func (e *envReader) duration(key string, def time.Duration) time.Duration {
	v := e.get(key)
	if v == "" {
		return def
	}
	d, err := time.ParseDuration(v)
	if err != nil || d <= 0 {
		e.fail("%s must be a positive duration such as 30m or 12h, got %q", key, v)
	}
	return d
}

// days parses a duration that may be given in days ("7d") as well as Go's
// units ("168h"); zero is allowed (no notice period).
func (e *envReader) days(key string, def time.Duration) time.Duration {
	v := e.get(key)
	if v == "" {
		return def
	}
	if n, ok := strings.CutSuffix(v, "d"); ok {
		if d, err := strconv.Atoi(n); err == nil && d >= 0 && d <= 3650 {
			return time.Duration(d) * 24 * time.Hour
		}
	} else if d, err := time.ParseDuration(v); err == nil && d >= 0 {
		return d
	}
	e.fail("%s must be a number of days such as 7d, or a duration such as 168h, got %q", key, v)
	return def
}

// size parses a byte count with an optional KiB/MiB/GiB/TiB suffix.
func (e *envReader) size(key string, def int64) int64 {
	v := e.get(key)
	if v == "" {
		return def
	}
	n, err := ParseSize(v)
	if err != nil {
		e.fail("%s: %v", key, err)
	}
	return n
}

// ParseSize parses "20GiB", "512MiB", "1048576" into bytes.
func ParseSize(s string) (int64, error) {
	s = strings.TrimSpace(s)
	mult := int64(1)
	for _, u := range []struct {
		suffix string
		mult   int64
	}{{"TiB", 1 << 40}, {"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}, {"B", 1}} {
		if strings.HasSuffix(s, u.suffix) {
			s, mult = strings.TrimSpace(strings.TrimSuffix(s, u.suffix)), u.mult
			break
		}
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 0 || n > (1<<62)/mult {
		return 0, fmt.Errorf("size must be a whole number of bytes, optionally with KiB, MiB, GiB or TiB")
	}
	return n * mult, nil
}

func addrHost(addr string) string {
	h, _, _ := net.SplitHostPort(addr)
	return h
}

func addrPort(addr string) string {
	_, p, _ := net.SplitHostPort(addr)
	return p
}
