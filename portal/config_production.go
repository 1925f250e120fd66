package portal

import (
	"fmt"
	"math/big"
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
// or a host named in PORTAL_PLAINTEXT_HOSTS), a clamd anywhere else, a session that lasts for days, every address (or, in
// ranges, much of the internet) trusted as a proxy, and retention periods too short for what they protect.
func (c *Config) validateProduction(e *envReader) {
	c.validateTransport(e)
	// clamd has no TLS and no authentication, and is sent every upload
	// as it was uploaded, before it is encrypted.
	if host, _, err := net.SplitHostPort(c.ClamdAddr); err == nil && c.Scan != ScanOff && !c.plaintextLocal(host) {
		e.fail("PORTAL_CLAMD_ADDR must be a loopback address (such as 127.0.0.1:3310, clamd beside the portal), a Unix socket "+
			"or a host in PORTAL_PLAINTEXT_HOSTS outside development, got %q: clamd speaks no TLS, and the portal sends it the plaintext "+
			"of every upload, which anyone on the path could then read or answer for", c.ClamdAddr)
	}
	if c.SessionLifetime > MaxSessionLifetime {
		e.fail("PORTAL_SESSION_LIFETIME must be at most 24h outside development, got %s: a stolen session would last that long", c.SessionLifetime)
	}
	every := false
	for _, p := range c.TrustedProxies {
		if pfx, err := netip.ParsePrefix(p); err == nil && (pfx.Bits() == 0 || pfx.Addr().Is4In6() && pfx.Bits() <= 96) {
			every = true
			e.fail("PORTAL_TRUSTED_PROXIES must not trust every address (%s): any client could then set the client IP the audit trail records "+
				"and step around the sign-in limits; name the reverse proxies' own addresses or network", p)
		}
	}
	v4, v6 := publicProxyBits(c.TrustedProxies)
	for _, f := range []struct {
		family          string
		bits, max, size int
	}{{"IPv4", v4, maxPublicProxyBits4, 32}, {"IPv6", v6, maxPublicProxyBits6, 128}} {
		if !every && f.bits > f.max {
			e.fail("PORTAL_TRUSTED_PROXIES trusts too many public addresses: as many %s addresses as a /%d, at most a /%d's worth outside private ranges. "+
				"Ranges that together cover much of the internet let any client there set the client IP the audit trail records "+
				"and step around the sign-in limits; name the reverse proxies' own addresses or network (private ranges are not counted), or a CDN's published ranges",
				f.family, f.size-f.bits, f.size-f.max)
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

// validateTransport refuses, outside development, a database or object
// store reached without verified TLS, except on loopback, a Unix socket or
// a host named in PORTAL_PLAINTEXT_HOSTS. portal serve checks it with the
// rest (validateProduction); the operator's commands, which read only
// part of the configuration, check it before they connect (OpenStore,
// FindAnchors): portal migrate is where the schema owner's URL is used.
// An S3 endpoint that is not host:port is left to validate.
func (c *Config) validateTransport(e *envReader) {
	for _, h := range c.PlaintextHosts {
		if !validName(h) || h[0] < 'a' || h[0] > 'z' {
			e.fail("PORTAL_PLAINTEXT_HOSTS must name hosts on a network of the portal's own by a single label, such as compose's postgres and minio, got %q: "+
				"a host with a domain or an address is reached over a network others share, so over TLS", h)
		}
	}
	local := c.plaintextLocal
	for _, d := range c.databaseURLs() {
		// sslmode exactly once: a repeated one is read differently by
		// different clients. And no ssl parameter: pgx (as libpq) takes
		// ssl=true after sslmode for sslmode=require, which verifies no
		// certificate.
		if u, err := url.Parse(d.url); err == nil && !databaseLocal(u, local) &&
			(!slices.Equal(u.Query()["sslmode"], []string{"verify-full"}) || u.Query().Has("ssl")) {
			e.fail("%s must ask for sslmode=verify-full outside development (its host is not loopback, a Unix socket or in PORTAL_PLAINTEXT_HOSTS): "+
				"without it the password and every row cross the network where anyone on the path can read or change them; "+
				"add ?sslmode=verify-full, with sslrootcert=<file> for a private CA, and no ssl parameter", d.name)
		}
	}
	if host, _, err := net.SplitHostPort(c.S3Endpoint); err == nil && !c.S3Secure && !local(host) {
		e.fail("PORTAL_S3_SECURE must be true for PORTAL_S3_ENDPOINT %q outside development: plain http to a host that is not loopback (or in PORTAL_PLAINTEXT_HOSTS) "+
			"lets anyone on the path read the credentials' requests and forge the store's answers", c.S3Endpoint)
	}
}

// plaintextLocal reports whether host may be reached without TLS: it is
// loopback, or named in PORTAL_PLAINTEXT_HOSTS.
func (c *Config) plaintextLocal(host string) bool {
	return loopbackHost(host) || slices.Contains(c.PlaintextHosts, host)
}

// How much public address space PORTAL_TRUSTED_PROXIES may trust
// outside development, as the log2 of a number of addresses: an IPv4 /8's
// worth, an IPv6 /24's. Addresses in private, shared (100.64.0.0/10),
// loopback, link-local and unique local ranges are not counted: there
// sit the reverse proxies and load balancers of the portal's own network,
// whatever their size. The bound is for those in front of it on the
// internet: a CDN's published ranges (Cloudflare's come to about 2^20.5
// IPv4 addresses and 2^100 IPv6, CloudFront's to about 2^22 and 2^100)
// pass with room to spare; ranges that split a catch-all (0.0.0.0/1 and
// 128.0.0.0/1, ::/1 and 8000::/1, all of 2000::/3) do not, however many
// there are.
const (
	maxPublicProxyBits4 = 24
	maxPublicProxyBits6 = 104
)

var privateRanges = []netip.Prefix{
	netip.MustParsePrefix("10.0.0.0/8"),
	netip.MustParsePrefix("172.16.0.0/12"),
	netip.MustParsePrefix("192.168.0.0/16"),
	netip.MustParsePrefix("100.64.0.0/10"),
	netip.MustParsePrefix("127.0.0.0/8"),
	netip.MustParsePrefix("169.254.0.0/16"),
	netip.MustParsePrefix("fc00::/7"),
	netip.MustParsePrefix("fe80::/10"),
	netip.MustParsePrefix("::1/128"),
}

// publicProxyBits returns the log2 (rounded down; 0 for none) of how many
// public addresses the trusted proxies cover: IPv4 (IPv4-mapped IPv6
// ranges, which the router matches against IPv4 clients, counted as the
// IPv4 ranges they are) and IPv6 apart. Overlapping ranges count once.
// Entries that do not parse are skipped: validate reports them.
func publicProxyBits(proxies []string) (v4, v6 int) {
	var ranges []netip.Prefix
	for _, s := range proxies {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			a, err := netip.ParseAddr(s)
			if err != nil {
				continue
			}
			a = a.WithZone("")
			p = netip.PrefixFrom(a, a.BitLen())
		}
		if p = p.Masked(); p.Addr().Is4In6() && p.Bits() >= 96 {
			p = netip.PrefixFrom(p.Addr().Unmap(), p.Bits()-96)
		}
		ranges = append(ranges, p)
	}
	// Two prefixes are nested or apart: in address order, one inside the
	// last kept is already counted.
	slices.SortFunc(ranges, func(a, b netip.Prefix) int {
		if c := a.Addr().Compare(b.Addr()); c != 0 {
			return c
		}
		return a.Bits() - b.Bits()
	})
	n4, n6 := new(big.Int), new(big.Int)
	var last netip.Prefix
	for _, p := range ranges {
		if last.IsValid() && last.Overlaps(p) {
			continue
		}
		last = p
		n := n6
		if p.Addr().Is4() {
			n = n4
		}
		n.Add(n, publicSize(p))
	}
	bits := func(n *big.Int) int {
		if n.Sign() == 0 {
			return 0
		}
		return n.BitLen() - 1
	}
	return bits(n4), bits(n6)
}

// publicSize is how many addresses of p lie outside privateRanges.
func publicSize(p netip.Prefix) *big.Int {
	size := func(q netip.Prefix) *big.Int {
		return new(big.Int).Lsh(big.NewInt(1), uint(q.Addr().BitLen()-q.Bits()))
	}
	n := size(p)
	for _, r := range privateRanges {
		switch {
		case r.Addr().BitLen() != p.Addr().BitLen() || !r.Overlaps(p):
		case r.Bits() <= p.Bits():
			return new(big.Int)
		default:
			n.Sub(n, size(r))
		}
	}
	return n
}

// databaseURLs are the PostgreSQL URLs set, by setting.
func (c *Config) databaseURLs() []struct{ name, url string } {
	var out []struct{ name, url string }
	for _, d := range []struct{ name, url string }{{"PORTAL_DATABASE_URL", c.DatabaseURL}, {"PORTAL_DATABASE_OWNER_URL", c.DatabaseOwnerURL}} {
		if d.url != "" {
			out = append(out, d)
		}
	}
	return out
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
