package portal

import (
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"slices"
	"strings"
	"time"
)

// Bounds that hold outside development (PORTAL_DEV unset): each stops a
// value that would quietly undo a protection the portal is built on.
const (
	// MaxSessionLifetime is the longest a session may last after sign-in:
	// a working day and then some, never days.
	MaxSessionLifetime = 24 * time.Hour
	// MinKeyEpochRetain is the shortest a superseded key epoch's key may
	// be kept.
	MinKeyEpochRetain = 24 * time.Hour
	// MinAnchorRetention is the shortest an audit anchor may be locked:
	// the documented default, six years.
	MinAnchorRetention = 2190 * 24 * time.Hour
)

// validateProduction refuses, outside development, a database or object
// store reached without verified TLS (except on loopback, a Unix socket
// or a host named in PORTAL_PLAINTEXT_HOSTS), a session that lasts for days, every address trusted as a
// proxy, and retention periods too short for what they protect.
func (c *Config) validateProduction(e *envReader) {
	for _, h := range c.PlaintextHosts {
		if !validName(h) || h[0] < 'a' || h[0] > 'z' {
			e.fail("PORTAL_PLAINTEXT_HOSTS must name hosts on a network of the portal's own by a single label, such as compose's postgres and minio, got %q: "+
				"a host with a domain or an address is reached over a network others share, so over TLS", h)
		}
	}
	local := func(host string) bool { return loopbackHost(host) || slices.Contains(c.PlaintextHosts, host) }
	if c.DatabaseURL != "" {
		// sslmode exactly once: pgx reads the first, pg_dump's libpq the last.
		if u, err := url.Parse(c.DatabaseURL); err == nil && !databaseLocal(u, local) && !slices.Equal(u.Query()["sslmode"], []string{"verify-full"}) {
			e.fail("PORTAL_DATABASE_URL must ask for sslmode=verify-full outside development (its host is not loopback, a Unix socket or in PORTAL_PLAINTEXT_HOSTS): " +
				"without it the password and every row cross the network where anyone on the path can read or change them; " +
				"add ?sslmode=verify-full, with sslrootcert=<file> for a private CA")
		}
	}
	if host, _, err := net.SplitHostPort(c.S3Endpoint); err == nil && !c.S3Secure && !local(host) {
		e.fail("PORTAL_S3_SECURE must be true for PORTAL_S3_ENDPOINT %q outside development: plain http to a host that is not loopback (or in PORTAL_PLAINTEXT_HOSTS) "+
			"lets anyone on the path read the credentials' requests and forge the store's answers", c.S3Endpoint)
	}
	if c.SessionLifetime > MaxSessionLifetime {
		e.fail("PORTAL_SESSION_LIFETIME must be at most 24h outside development, got %s: a stolen session would last that long", c.SessionLifetime)
	}
	for _, p := range c.TrustedProxies {
		if pfx, err := netip.ParsePrefix(p); err == nil && (pfx.Bits() == 0 || pfx.Addr().Is4In6() && pfx.Bits() <= 96) {
			e.fail("PORTAL_TRUSTED_PROXIES must not trust every address (%s): any client could then set the client IP the audit trail records "+
				"and step around the sign-in limits; name the reverse proxies' own addresses or network", p)
		}
	}
	if c.KeyEpochRetain < MinKeyEpochRetain {
		e.fail("PORTAL_KEY_EPOCH_RETAIN must be at least 1d outside development, and longer than database backups and point-in-time recovery are kept, got %s", c.KeyEpochRetain)
	}
	if c.AnchorRetention < MinAnchorRetention {
		e.fail("PORTAL_AUDIT_ANCHOR_RETENTION must be at least 2190d (six years) outside development, got %s: an anchor whose lock has run out "+
			"can be deleted, and the audit trail it pinned cut short unnoticed", fmtDays(c.AnchorRetention))
	} else if c.AnchorRetention < c.KeyEpochRetain {
		e.fail("PORTAL_AUDIT_ANCHOR_RETENTION must not be shorter than PORTAL_KEY_EPOCH_RETAIN: a backup that can still be restored "+
			"needs the destruction records anchored since it was taken (%s < %s)", fmtDays(c.AnchorRetention), fmtDays(c.KeyEpochRetain))
	}
}

// databaseLocal reports whether every host a PostgreSQL URL names, in its
// authority or its host parameter, is a Unix socket's folder or local.
func databaseLocal(u *url.URL, local func(host string) bool) bool {
	var hosts []string
	if u.Host != "" {
		hosts = strings.Split(u.Host, ",")
	}
	for _, h := range u.Query()["host"] {
		hosts = append(hosts, strings.Split(h, ",")...)
	}
	for _, h := range hosts {
		if strings.HasPrefix(h, "/") {
			continue
		}
		if host, _, err := net.SplitHostPort(h); err == nil {
			h = host
		}
		if !local(strings.Trim(h, "[]")) {
			return false
		}
	}
	return len(hosts) > 0
}

// loopbackHost reports whether host is localhost or a loopback address.
func loopbackHost(host string) bool {
	if host == "localhost" {
		return true
	}
	ip, err := netip.ParseAddr(host)
	return err == nil && ip.IsLoopback()
}

func fmtDays(d time.Duration) string {
	if d%(24*time.Hour) == 0 {
		return fmt.Sprintf("%dd", d/(24*time.Hour))
	}
	return d.String()
}
