package portal

import (
	"context"
	"net"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// plaintextListener counts the connections made to a local port, and
// names a host that reaches it without being loopback by the production
// rules (not localhost, not an address): this machine's own name when it
// resolves to a loopback address, else a name that resolves to nothing.
func plaintextListener(t *testing.T) (host, port string, conns *atomic.Int32) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	conns = new(atomic.Int32)
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			conns.Add(1)
			c.Close()
		}
	}()
	host = "db.invalid"
	if name, err := os.Hostname(); err == nil && !strings.Contains(name, ".") {
		if addrs, err := net.LookupHost(name); err == nil && len(addrs) > 0 && net.ParseIP(addrs[0]).IsLoopback() {
			host = name
		}
	}
	_, port, _ = net.SplitHostPort(l.Addr().String())
	return host, port, conns
}

// TestOperatorCommandsRefusePlaintext: portal migrate (the chart's init
// container and compose's migrate service, the only places that hold the
// schema owner's URL), backup, audit verify and admin grant open the
// database with OpenStore, and audit verify reads the anchors with
// FindAnchors. Outside development they are held to the serving portal's
// rule: a database or object store that is not loopback, a Unix socket or
// in PORTAL_PLAINTEXT_HOSTS is reached over verified TLS, or not at all.
// Before, only portal serve checked: migrate sent the owner's password to
// a database URL with sslmode=require (or disable) unrefused.
func TestOperatorCommandsRefusePlaintext(t *testing.T) {
	host, port, conns := plaintextListener(t)
	at := host + ":" + port
	for name, tc := range map[string]struct {
		env  map[string]string
		want string
	}{
		"owner over unverified TLS": {map[string]string{
			"PORTAL_DATABASE_URL":       "postgres://portal_app:pw@" + at + "/portal?sslmode=verify-full&connect_timeout=2",
			"PORTAL_DATABASE_OWNER_URL": "postgres://portal:pw@" + at + "/portal?sslmode=require&connect_timeout=2"},
			"PORTAL_DATABASE_OWNER_URL must ask for sslmode=verify-full"},
		"owner in plaintext": {map[string]string{
			"PORTAL_DATABASE_URL":       "postgres://portal_app:pw@" + at + "/portal?sslmode=verify-full&connect_timeout=2",
			"PORTAL_DATABASE_OWNER_URL": "postgres://portal:pw@" + at + "/portal?sslmode=disable&connect_timeout=2"},
			"PORTAL_DATABASE_OWNER_URL must ask for sslmode=verify-full"},
		"serving role in plaintext": {map[string]string{
			"PORTAL_DATABASE_URL": "postgres://portal_app:pw@" + at + "/portal?sslmode=disable&connect_timeout=2"},
			"PORTAL_DATABASE_URL must ask for sslmode=verify-full"},
	} {
		t.Run(name, func(t *testing.T) {
			before := conns.Load()
			env := func(k string) string { return tc.env[k] }
			st, err := OpenStore(t.Context(), env, true)
			if err == nil {
				st.Close()
				t.Fatal("opened a store")
			}
			if !strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error(), ":pw@") {
				t.Errorf("err = %v, want %q, and the password not echoed", err, tc.want)
			}
			if n := conns.Load() - before; n > 0 {
				t.Errorf("%d connection(s) to the database before the URL was refused", n)
			}
		})
	}
	t.Run("anchors over http", func(t *testing.T) {
		before := conns.Load()
		cfg := PartialConfig(func(k string) string {
			return map[string]string{"PORTAL_S3_ENDPOINT": at, "PORTAL_S3_ACCESS_KEY": "ak", "PORTAL_S3_SECRET_KEY": "sk"}[k]
		})
		ctx, cancel := context.WithTimeout(t.Context(), 3*time.Second)
		defer cancel()
		_, err := FindAnchors(ctx, cfg)
		if err == nil || !strings.Contains(err.Error(), "PORTAL_S3_SECURE must be true") {
			t.Errorf("err = %v, want PORTAL_S3_SECURE named", err)
		}
		if n := conns.Load() - before; n > 0 {
			t.Errorf("%d connection(s) to the object store over http", n)
		}
	})
	// Development, and a host on the portal's own network, are as
	// portal serve takes them: the URL is tried.
	t.Run("development", func(t *testing.T) {
		env := map[string]string{"PORTAL_DEV": "true", "PORTAL_DATABASE_URL": "postgres://portal_app:pw@" + at + "/portal?sslmode=disable&connect_timeout=2"}
		if st, err := OpenStore(t.Context(), func(k string) string { return env[k] }, true); err == nil {
			st.Close()
			t.Fatal("opened a store on a listener that speaks no PostgreSQL")
		} else if strings.Contains(err.Error(), "sslmode=verify-full") {
			t.Fatalf("refused in development: %v", err)
		}
	})
}
