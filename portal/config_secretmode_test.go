//go:build unix

package portal

import (
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

// TestLoadConfigSecretFileMode: outside development a secret read from a
// file (NAME_FILE) is held to the key files' rule (crypto.OpenKeyFile,
// whose cases crypto's TestMasterKeyFileMode runs): one readable or
// writable by others, or writable by its group, is refused, naming the
// variable and not echoing the secret. Readable by the process's own
// group is accepted (a Kubernetes secret mounted 0440 for the pod's
// fsGroup), and so is a symbolic link, judged by the file it leads to
// (Kubernetes mounts each secret through ..data/). In development the mode
// is not checked. Every secret the configuration reads is covered.
func TestLoadConfigSecretFileMode(t *testing.T) {
	secrets := map[string]struct {
		value string
		env   map[string]string
	}{
		"PORTAL_DATABASE_URL":             {"postgres://portal:file-secret@127.0.0.1:5432/portal", nil},
		"PORTAL_DATABASE_OWNER_URL":       {"postgres://owner:file-secret@127.0.0.1:5432/portal", map[string]string{"PORTAL_DATABASE_URL": "postgres://portal_app:pw@127.0.0.1:5432/portal"}},
		"PORTAL_S3_ACCESS_KEY":            {"file-secret", map[string]string{"PORTAL_S3_ACCESS_KEY": ""}},
		"PORTAL_S3_SECRET_KEY":            {"file-secret", map[string]string{"PORTAL_S3_SECRET_KEY": ""}},
		"PORTAL_IDP_OFSTED_CLIENT_SECRET": {"file-secret", map[string]string{"PORTAL_IDP_OFSTED_CLIENT_SECRET": ""}},
		"PORTAL_SMTP_PASSWORD": {"file-secret", map[string]string{"PORTAL_SMTP_URL": "smtps://portal@relay.example",
			"PORTAL_MAIL_FROM": "evidence-portal@ofsted.example"}},
	}
	// Every variable that has a _FILE form is a secret, and is in the table.
	read := map[string]bool{}
	PartialConfig(func(k string) string {
		read[k] = true
		return devEnv(nil)(k)
	})
	var missing []string
	for k := range read {
		if _, ok := secrets[strings.TrimSuffix(k, "_FILE")]; strings.HasSuffix(k, "_FILE") && read[strings.TrimSuffix(k, "_FILE")] && !ok {
			missing = append(missing, k)
		}
	}
	sort.Strings(missing)
	if len(missing) > 0 {
		t.Fatalf("secrets read from files that this test does not cover: %v", missing)
	}
	load := func(name, path string, dev bool) (Config, error) {
		env := map[string]string{name + "_FILE": path}
		for k, v := range secrets[name].env {
			env[k] = v
		}
		if dev {
			env["PORTAL_DEV"] = "true"
		}
		return LoadConfig(devEnv(env))
	}
	for name, s := range secrets {
		for _, tc := range []struct {
			mode    os.FileMode
			symlink bool
			ok      bool
		}{
			{0o600, false, true},
			{0o400, false, true},
			{0o440, false, true},
			{0o640, false, true},
			{0o644, false, false},
			{0o604, false, false},
			{0o602, false, false},
			{0o660, false, false},
			{0o666, false, false},
			{0o440, true, true},
			{0o644, true, false},
		} {
			label := tc.mode.String()
			if tc.symlink {
				label += ", through a link"
			}
			t.Run(name+" "+label, func(t *testing.T) {
				dir := t.TempDir()
				path := filepath.Join(dir, "secret")
				if err := os.WriteFile(path, []byte(s.value+"\n"), 0o600); err != nil {
					t.Fatal(err)
				}
				if err := os.Chmod(path, tc.mode); err != nil {
					t.Fatal(err)
				}
				if tc.symlink {
					link := filepath.Join(dir, "link")
					if err := os.Symlink(path, link); err != nil {
						t.Fatal(err)
					}
					path = link
				}
				c, err := load(name, path, false)
				if tc.ok {
					if err != nil {
						t.Fatal(err)
					}
					if got := secretOf(c, name); got != s.value {
						t.Fatalf("%s = %q, want the file's %q", name, got, s.value)
					}
					return
				}
				if err == nil || !strings.Contains(err.Error(), name+"_FILE") {
					t.Fatalf("err = %v, want a refusal naming %s_FILE", err, name)
				}
				if strings.Contains(err.Error(), "file-secret") {
					t.Fatal("error echoes the secret")
				}
				if c, err := load(name, path, true); err != nil || secretOf(c, name) != s.value {
					t.Fatalf("in development: %v, %s = %q", err, name, secretOf(c, name))
				}
			})
		}
	}
}

func secretOf(c Config, name string) string {
	switch name {
	case "PORTAL_DATABASE_URL":
		return c.DatabaseURL
	case "PORTAL_DATABASE_OWNER_URL":
		return c.DatabaseOwnerURL
	case "PORTAL_S3_ACCESS_KEY":
		return c.S3AccessKey
	case "PORTAL_S3_SECRET_KEY":
		return c.S3SecretKey
	case "PORTAL_IDP_OFSTED_CLIENT_SECRET":
		return c.IdPs[0].ClientSecret
	case "PORTAL_SMTP_PASSWORD":
		return c.Mail.Password
	}
	return ""
}

// TestOpenStoreDatabaseURLFile: an operator's command (admin grant,
// backup, audit) given a database URL file it cannot use, missing, open
// to others or empty, stops there. It never falls back to SQLite at PORTAL_DB_PATH:
// admin grant would make an empty database there and grant a role in it.
func TestOpenStoreDatabaseURLFile(t *testing.T) {
	dir := t.TempDir()
	open := filepath.Join(dir, "database-url")
	if err := os.WriteFile(open, []byte("postgres://portal:file-secret@127.0.0.1:1/portal\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(open, 0o644); err != nil {
		t.Fatal(err)
	}
	empty := filepath.Join(dir, "empty")
	if err := os.WriteFile(empty, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	for name, path := range map[string]string{"missing": filepath.Join(dir, "nothing"), "open to others": open, "empty": empty} {
		t.Run(name, func(t *testing.T) {
			db := filepath.Join(t.TempDir(), "portal.db")
			env := map[string]string{"PORTAL_DATABASE_URL_FILE": path, "PORTAL_DB_PATH": db}
			st, err := OpenStore(t.Context(), func(k string) string { return env[k] }, true)
			if err == nil {
				st.Close()
				t.Fatal("opened a store")
			}
			if !strings.Contains(err.Error(), "PORTAL_DATABASE_URL_FILE") || strings.Contains(err.Error(), "file-secret") {
				t.Fatalf("err = %v, want PORTAL_DATABASE_URL_FILE named and the URL not echoed", err)
			}
			if _, err := os.Stat(db); !os.IsNotExist(err) {
				t.Fatalf("a SQLite database was made at PORTAL_DB_PATH: %v", err)
			}
		})
	}
}

// TestLoadConfigEmptyDatabaseURLFile: a database URL file that is empty
// is refused, not taken for "no PostgreSQL": the portal would otherwise
// start on an empty SQLite database at PORTAL_DB_PATH.
func TestLoadConfigEmptyDatabaseURLFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "database-url")
	if err := os.WriteFile(path, []byte("\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, dev := range []string{"", "true"} {
		_, err := LoadConfig(devEnv(map[string]string{"PORTAL_DATABASE_URL_FILE": path, "PORTAL_DEV": dev}))
		if err == nil || !strings.Contains(err.Error(), "PORTAL_DATABASE_URL_FILE names an empty file") {
			t.Errorf("PORTAL_DEV=%q: err = %v, want the empty file refused", dev, err)
		}
	}
}
