package portal

import (
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/ofsted-portal/evidence/crypto"
)

// Parsing of single values: each parser records a problem that names its
// variable and says what is expected, and never falls back silently.

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
	// dev is PORTAL_DEV: secret files are then read whatever their mode.
	dev bool
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
// both is an error: which one wins would be a guess. Outside development
// the file is held to the key files' rule (crypto.OpenKeyFile): one that
// others may read or change, or its group change, is refused, as a master
// key would be. A secret is worth no less than the key: the database URL
// reaches every row, the S3 keys every object, a client secret lets
// anyone act as the portal at its identity provider.
func (e *envReader) secret(key string) string {
	v, f := e.get(key), e.get(key+"_FILE")
	if v != "" && f != "" {
		e.fail("set %s or %s_FILE, not both", key, key)
		return ""
	}
	if f == "" {
		return v
	}
	b, err := readSecretFile(f, key+"_FILE", e.dev)
	if err != nil {
		e.fail("%v", err)
		return ""
	}
	return strings.TrimSpace(string(b))
}

// databaseURL reads PORTAL_DATABASE_URL (or its file). A file that holds
// nothing is an error, not "no PostgreSQL": a deployment that means
// PostgreSQL must never run on an empty SQLite database instead.
func (e *envReader) databaseURL() string {
	n := len(e.errs)
	u := e.secret("PORTAL_DATABASE_URL")
	if u == "" && len(e.errs) == n && e.get("PORTAL_DATABASE_URL_FILE") != "" {
		e.fail("PORTAL_DATABASE_URL_FILE names an empty file: put the PostgreSQL URL in it, or unset it to use SQLite at PORTAL_DB_PATH")
	}
	return u
}

// readSecretFile reads the secret file at path, named by the variable
// name; outside development (dev false) only if its mode keeps it to the
// portal. The mode checked is the open file's, so a symbolic link (how
// Kubernetes mounts a secret) is judged by the file it leads to.
func readSecretFile(path, name string, dev bool) ([]byte, error) {
	var f *os.File
	var err error
	if dev {
		f, err = os.Open(path)
	} else {
		f, err = crypto.OpenKeyFile(path, name)
	}
	if err != nil {
		if !dev {
			return nil, err
		}
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	defer f.Close()
	b, err := io.ReadAll(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return b, nil
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

// rate parses "N/duration", such as 20/1m: N events per duration.
func (e *envReader) rate(key string, def Rate) Rate {
	v := strings.TrimSpace(e.get(key))
	if v == "" {
		return def
	}
	n, per, ok := strings.Cut(v, "/")
	r := Rate{}
	var err1, err2 error
	if ok {
		r.N, err1 = strconv.Atoi(strings.TrimSpace(n))
		r.Per, err2 = time.ParseDuration(strings.TrimSpace(per))
	}
	if !ok || err1 != nil || err2 != nil || r.N < 1 || r.Per <= 0 {
		e.fail("%s must be a number of events per duration, such as 20/1m, got %q", key, v)
		return def
	}
	return r
}
