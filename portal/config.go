package portal

import (
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"strings"
	"time"
)

// Config is the whole configuration of the portal, read from the
// environment (see README: Configuration). Every secret has a _FILE variant.
type Config struct {
	Addr      string // listen address
	PublicURL string // how browsers reach the portal, no trailing slash
	Dev       bool   // development mode: cookies without Secure, dev banner
	DBPath    string
	// DatabaseURL selects PostgreSQL (postgres://…, TLS by its sslmode)
	// instead of SQLite at DBPath; DBMaxConns and DBStatementTimeout tune
	// its pool.
	DatabaseURL string
	// DatabaseOwnerURL is the role that owns the PostgreSQL schema: the
	// portal migrates (and restores) as it, and serves as DatabaseURL's,
	// to which it grants what serving needs. Empty: DatabaseURL's role
	// migrates, which outside development must not own the audit trail
	// (a separate step migrated as the owner: portal migrate).
	DatabaseOwnerURL   string
	DBMaxConns         int
	DBStatementTimeout time.Duration
	MasterKey          string // path of the master key file
	SigningKey         string // path of the Ed25519 signing key (certificates)
	LogLevel           string // debug, info, warn or error
	S3Endpoint         string
	S3AccessKey        string
	S3SecretKey        string
	// S3SessionToken goes with temporary S3 credentials. It is not read
	// from the environment: such a token expires within hours and the
	// portal would not renew it. Tests set it, to run the portal under
	// credentials limited to a policy (an STS AssumeRole's session).
	S3SessionToken string
	S3Secure       bool
	S3Region       string

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
	// KeyBucket holds the key epochs' keys (wrapped to the master key),
	// outside the database and its backups; an epoch's key is destroyed
	// KeyEpochRetain after the epoch was superseded, which must be longer
	// than the database's backups and point-in-time recovery are kept.
	KeyBucket      string
	KeyEpochRetain time.Duration
	CalendarFile   string   // extra bank holidays (optional)
	TrustedProxies []string // addresses/CIDRs whose X-Forwarded-For is believed
	// PlaintextHosts are host names (single labels, such as compose's
	// service names) on a network of the portal's own, which it may reach
	// without TLS outside development.
	PlaintextHosts []string
	PprofAddr      string // loopback address for Go's profiler (diagnostics); empty: off
	// ReadIdleTimeout is the longest a request body may stall: a body that
	// sends nothing for this long is refused.
	ReadIdleTimeout time.Duration
	// WriteIdleTimeout is the longest one write of a response may wait on
	// a client that does not read: a download it stalls is cut, and what
	// it held (buffers, the object store's connections) let go.
	WriteIdleTimeout time.Duration
	// DownloadsPerPerson bounds the downloads (files and zips) one person
	// has under way at once; one more waits up to DownloadWait for one to
	// end, then is refused (429).
	DownloadsPerPerson int
	DownloadWait       time.Duration
	// SignInRate limits the sign-ins started, and SignInFailureRate the
	// failed sign-ins, per client address.
	SignInRate        Rate
	SignInFailureRate Rate
	// IdPDiscoveryInterval is how often each provider's discovery document
	// is fetched again after start-up.
	IdPDiscoveryInterval time.Duration
	// MetricsAddr is where Prometheus metrics are served, on a listener of
	// their own (empty: off); a loopback address unless
	// MetricsAllowRemote (a scraper on another host, such as a
	// Kubernetes pod's).
	MetricsAddr        string
	MetricsAllowRemote bool
	// Scan is ScanRequired (every upload goes through the malware scanner
	// at ClamdAddr before the inspection team sees it) or ScanOff;
	// ScanTimeout bounds each exchange with the scanner, and ScanRetry is
	// how often files still waiting for a verdict are scanned again.
	Scan        string
	ClamdAddr   string
	ScanTimeout time.Duration
	ScanRetry   time.Duration
	IdPs        []IdPConfig
	Mail        MailConfig
	Service     ServiceInfo // who runs the portal: its public pages
}

// The values of PORTAL_SCAN.
const (
	ScanRequired = "required"
	ScanOff      = "off"
)

// Rate is N events per period.
type Rate struct {
	N   int
	Per time.Duration
}

func (r Rate) String() string { return fmt.Sprintf("%d/%s", r.N, r.Per) }

// LogLevels are the accepted values of PORTAL_LOG_LEVEL.
var LogLevels = []string{"debug", "info", "warn", "error"}

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
	// First: it decides how secret files are read.
	e.dev = e.bool("PORTAL_DEV", false)
	c := Config{
		Addr:                 e.str("PORTAL_ADDR", "127.0.0.1:8080"),
		Dev:                  e.dev,
		DBPath:               e.str("PORTAL_DB_PATH", DefaultDBPath),
		DatabaseURL:          e.databaseURL(),
		DatabaseOwnerURL:     e.secret("PORTAL_DATABASE_OWNER_URL"),
		DBMaxConns:           e.int("PORTAL_DB_MAX_CONNS", 10),
		DBStatementTimeout:   e.duration("PORTAL_DB_STATEMENT_TIMEOUT", 30*time.Second),
		MasterKey:            e.str("PORTAL_MASTER_KEY_FILE", ""),
		SigningKey:           e.str("PORTAL_SIGNING_KEY_FILE", ""),
		LogLevel:             strings.ToLower(e.str("PORTAL_LOG_LEVEL", "info")),
		S3Endpoint:           e.str("PORTAL_S3_ENDPOINT", "127.0.0.1:9000"),
		S3AccessKey:          e.secret("PORTAL_S3_ACCESS_KEY"),
		S3SecretKey:          e.secret("PORTAL_S3_SECRET_KEY"),
		S3Secure:             e.bool("PORTAL_S3_SECURE", false),
		S3Region:             e.str("PORTAL_S3_REGION", "us-east-1"),
		BucketPrefix:         e.str("PORTAL_BUCKET_PREFIX", "portal-visit-"),
		MaxFileSize:          e.size("PORTAL_MAX_FILE_SIZE", 20<<30),
		SegmentSize:          e.size("PORTAL_SEGMENT_SIZE", 32<<20),
		UploadExpiry:         e.duration("PORTAL_UPLOAD_EXPIRY", 24*time.Hour),
		SessionIdle:          e.duration("PORTAL_SESSION_IDLE_TIMEOUT", 30*time.Minute),
		SessionLifetime:      e.duration("PORTAL_SESSION_LIFETIME", 12*time.Hour),
		RetentionDays:        e.int("PORTAL_RETENTION_DAYS", 30),
		RetentionEvery:       e.duration("PORTAL_RETENTION_INTERVAL", 5*time.Minute),
		DestructionNotice:    e.days("PORTAL_DESTRUCTION_NOTICE", 7*24*time.Hour),
		RetentionLease:       e.duration("PORTAL_RETENTION_LEASE", 30*time.Second),
		AnchorBucket:         e.str("PORTAL_AUDIT_ANCHOR_BUCKET", "portal-audit-anchors"),
		AnchorRetention:      e.days("PORTAL_AUDIT_ANCHOR_RETENTION", MinAnchorRetention),
		AnchorDir:            e.str("PORTAL_AUDIT_ANCHOR_DIR", ""),
		KeyBucket:            e.str("PORTAL_KEY_BUCKET", "portal-key-epochs"),
		KeyEpochRetain:       e.days("PORTAL_KEY_EPOCH_RETAIN", 35*24*time.Hour),
		CalendarFile:         e.str("PORTAL_CALENDAR_FILE", ""),
		TrustedProxies:       splitList(e.str("PORTAL_TRUSTED_PROXIES", "")),
		PlaintextHosts:       splitList(e.str("PORTAL_PLAINTEXT_HOSTS", "")),
		PprofAddr:            e.str("PORTAL_PPROF_ADDR", ""),
		ReadIdleTimeout:      e.duration("PORTAL_READ_IDLE_TIMEOUT", 2*time.Minute),
		WriteIdleTimeout:     e.duration("PORTAL_WRITE_IDLE_TIMEOUT", 2*time.Minute),
		DownloadsPerPerson:   e.int("PORTAL_DOWNLOADS_PER_PERSON", 8),
		DownloadWait:         e.duration("PORTAL_DOWNLOAD_WAIT", 30*time.Second),
		SignInRate:           e.rate("PORTAL_SIGNIN_RATE", Rate{20, time.Minute}),
		SignInFailureRate:    e.rate("PORTAL_SIGNIN_FAILURE_RATE", Rate{10, 15 * time.Minute}),
		IdPDiscoveryInterval: e.duration("PORTAL_IDP_DISCOVERY_INTERVAL", time.Hour),
	}
	c.MetricsAddr = e.str("PORTAL_METRICS_ADDR", "")
	c.MetricsAllowRemote = e.bool("PORTAL_METRICS_ALLOW_REMOTE", false)
	c.Mail = readMail(e)
	c.Service = readService(e)
	c.Scan = strings.ToLower(e.str("PORTAL_SCAN", ScanRequired))
	c.ClamdAddr = e.str("PORTAL_CLAMD_ADDR", "127.0.0.1:3310")
	c.ScanTimeout = e.duration("PORTAL_SCAN_TIMEOUT", time.Minute)
	c.ScanRetry = e.duration("PORTAL_SCAN_RETRY", 30*time.Second)
	c.PublicURL = strings.TrimRight(e.str("PORTAL_PUBLIC_URL", "http://"+c.Addr), "/")
	for _, name := range splitList(e.str("PORTAL_IDPS", "")) {
		c.IdPs = append(c.IdPs, loadIdP(e, name))
	}
	return c
}

func (c *Config) validate(e *envReader) {
	if c.MasterKey == "" {
		e.fail("PORTAL_MASTER_KEY_FILE is required: the path of the master key (make one with: portal keygen -o master.key, which writes it readable by its owner alone)")
	}
	if c.SigningKey == "" {
		e.fail("PORTAL_SIGNING_KEY_FILE is required: the Ed25519 key that signs destruction certificates (make one with: portal keygen --signing -o signing.key)")
	}
	if _, _, err := net.SplitHostPort(c.Addr); err != nil {
		e.fail("PORTAL_ADDR must be host:port, such as 127.0.0.1:8080 or :8080, got %q", c.Addr)
	}
	if u, err := url.Parse(c.PublicURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
		e.fail("PORTAL_PUBLIC_URL must be an absolute http(s) URL, got %q", c.PublicURL)
	} else if u.Scheme != "https" && !c.Dev {
		e.fail("PORTAL_PUBLIC_URL must be https outside development (set PORTAL_DEV=true for a local stack)")
	}
	if !validLevel(c.LogLevel) {
		e.fail("PORTAL_LOG_LEVEL must be one of %s, got %q", strings.Join(LogLevels, ", "), c.LogLevel)
	}
	if _, _, err := net.SplitHostPort(c.S3Endpoint); err != nil || strings.Contains(c.S3Endpoint, "/") {
		e.fail("PORTAL_S3_ENDPOINT must be host:port without a scheme (PORTAL_S3_SECURE chooses https), got %q", c.S3Endpoint)
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
	if c.SessionIdle > c.SessionLifetime {
		e.fail("PORTAL_SESSION_IDLE_TIMEOUT (%s) must not be longer than PORTAL_SESSION_LIFETIME (%s)", c.SessionIdle, c.SessionLifetime)
	}
	if c.PprofAddr != "" {
		host, _, err := net.SplitHostPort(c.PprofAddr)
		if ip := net.ParseIP(host); err != nil || ip == nil || !ip.IsLoopback() {
			e.fail("PORTAL_PPROF_ADDR must be a loopback address such as 127.0.0.1:6060 (the profiler must not be reachable from the network)")
		}
	}
	for _, p := range c.TrustedProxies {
		if !validProxy(p) {
			e.fail("PORTAL_TRUSTED_PROXIES must be comma-separated IP addresses or CIDR ranges (such as 10.0.0.5 or 10.0.0.0/24), got %q", p)
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
	if c.Scan != ScanRequired && c.Scan != ScanOff {
		e.fail("PORTAL_SCAN must be required or off, got %q", c.Scan)
	}
	if _, _, err := net.SplitHostPort(c.ClamdAddr); err != nil && !strings.HasPrefix(c.ClamdAddr, "/") && !strings.HasPrefix(c.ClamdAddr, "unix:") {
		e.fail("PORTAL_CLAMD_ADDR must be host:port (clamd's TCPSocket) or the path of its LocalSocket, got %q", c.ClamdAddr)
	}
	if c.ScanTimeout < time.Second || c.ScanRetry < time.Second {
		e.fail("PORTAL_SCAN_TIMEOUT and PORTAL_SCAN_RETRY must be at least 1s")
	}
	for _, d := range c.databaseURLs() {
		if u, err := url.Parse(d.url); err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") || (u.Host == "" && u.Query().Get("host") == "") {
			e.fail("%s must be a PostgreSQL URL such as postgres://portal@db.internal:5432/portal?sslmode=verify-full, or postgres:///portal?host=/run/postgresql for a Unix socket", d.name)
		}
	}
	if c.DatabaseOwnerURL != "" && c.DatabaseURL == "" {
		e.fail("PORTAL_DATABASE_OWNER_URL is the owner of a PostgreSQL schema the portal serves through PORTAL_DATABASE_URL: set that too, or neither for SQLite")
	}
	if c.DBMaxConns < 1 || c.DBMaxConns > 1000 {
		e.fail("PORTAL_DB_MAX_CONNS must be between 1 and 1000")
	}
	if c.DownloadsPerPerson < 1 || c.DownloadsPerPerson > 1000 {
		e.fail("PORTAL_DOWNLOADS_PER_PERSON must be between 1 and 1000")
	}
	if c.DownloadWait < 0 || c.DownloadWait > 10*time.Minute {
		e.fail("PORTAL_DOWNLOAD_WAIT must be between 0s and 10m")
	}
	if c.DBStatementTimeout < time.Second {
		e.fail("PORTAL_DB_STATEMENT_TIMEOUT must be at least 1s")
	}
	if c.UploadExpiry < time.Minute {
		e.fail("PORTAL_UPLOAD_EXPIRY must be at least 1m")
	}
	// Neither the anchors' nor the keys' bucket may be named from the
	// visits' prefix: the portal's S3 policy grants on <prefix>* what
	// destroying a visit needs (deleting the bucket and every version,
	// changing its versioning, lock and lifecycle), which the anchors'
	// bucket must never be open to.
	if !validBucketPrefix(c.AnchorBucket) || strings.HasPrefix(c.AnchorBucket, c.BucketPrefix) {
		e.fail("PORTAL_AUDIT_ANCHOR_BUCKET must be 3 to 30 characters of a-z, 0-9 and '-', starting with a letter, and not start with PORTAL_BUCKET_PREFIX "+
			"(the S3 policy lets the portal delete every bucket named so), got %q with prefix %q", c.AnchorBucket, c.BucketPrefix)
	}
	if !validBucketPrefix(c.KeyBucket) || strings.HasPrefix(c.KeyBucket, c.BucketPrefix) || c.KeyBucket == c.AnchorBucket {
		e.fail("PORTAL_KEY_BUCKET must be 3 to 30 characters of a-z, 0-9 and '-', starting with a letter, and not a visit's or the anchors' bucket")
	}
	if c.AnchorRetention < 24*time.Hour {
		e.fail("PORTAL_AUDIT_ANCHOR_RETENTION must be at least 1d")
	}
	// The S3 policy grants on <prefix>* what destroying a visit needs,
	// DeleteBucket among it: a prefix that ends inside a word (portal
	// covers portalbackups) reaches buckets that are not the portal's.
	if !validBucketPrefix(c.BucketPrefix) || !strings.HasSuffix(c.BucketPrefix, "-") {
		e.fail("PORTAL_BUCKET_PREFIX must be 3 to 30 characters of a-z, 0-9 and '-', starting with a letter, and must end with '-' "+
			"(the S3 policy lets the portal delete every bucket whose name starts with it, so no other bucket of the account may), got %q", c.BucketPrefix)
	}
	// At least a day: evidence is kept for a period after publication,
	// and at 0 it could go on the day the letter is published (at once
	// with an approval, or no notice period), before anyone could set a
	// legal hold for a challenge to it. At most what an administrator may
	// give a visit (NewVisit), so a visit created at the default holds a
	// period it could have been given.
	if c.RetentionDays < 1 || c.RetentionDays > maxRetentionDays {
		e.fail("PORTAL_RETENTION_DAYS must be between 1 and %d (days evidence is kept after publication), got %d", maxRetentionDays, c.RetentionDays)
	}
	if !c.Dev {
		c.validateProduction(e)
	}
	c.validateMail(e)
	c.validateService(e)
	if len(c.IdPs) == 0 {
		e.fail("PORTAL_IDPS must name at least one identity provider (comma-separated), each configured by PORTAL_IDP_<NAME>_*")
	}
	seen, issuers := map[string]bool{}, map[string]string{}
	for _, p := range c.IdPs {
		if seen[p.Name] {
			e.fail("identity provider %q is listed twice in PORTAL_IDPS", p.Name)
		}
		seen[p.Name] = true
		// People are keyed by issuer and subject: two entries for one
		// issuer sign the same people in as one, through whichever asks
		// less (a REQUIRE_AMR one has and the other has not), with that
		// entry's organisation deciding the roles they may take up.
		// (Compared exactly, as issuers are: "https://x/" is not
		// "https://x", and its people are other users.)
		if other, ok := issuers[p.Issuer]; ok && p.Issuer != "" {
			e.fail("PORTAL_IDP_%s_ISSUER is identity provider %q's issuer too: each provider must have its own", strings.ToUpper(p.Name), other)
		}
		issuers[p.Issuer] = p.Name
		p.validate(e, c.Dev)
	}
}

func validLevel(s string) bool {
	for _, l := range LogLevels {
		if s == l {
			return true
		}
	}
	return false
}

// validProxy accepts what the router's trusted proxies take: an address
// or a CIDR range.
func validProxy(s string) bool {
	if _, err := netip.ParseAddr(s); err == nil {
		return true
	}
	_, err := netip.ParsePrefix(s)
	return err == nil
}

func addrHost(addr string) string {
	h, _, _ := net.SplitHostPort(addr)
	return h
}

func addrPort(addr string) string {
	_, p, _ := net.SplitHostPort(addr)
	return p
}
