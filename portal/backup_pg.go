package portal

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/ofsted-portal/evidence/portal/store"
)

// PostgreSQL is backed up with its own tools: pg_dump in the custom
// format, from a snapshot exported by the portal so that the manifest's
// audit head is the dump's, without the sessions' rows; and restored with
// pg_restore in one transaction. Point-in-time recovery from the server's
// archive is the operator's (README: Backups and restore): a database
// recovered that way is then brought in with portal restore --resume
// --confirm taken-in.

// PostgresTools finds pg_dump and pg_restore: in $PORTAL_POSTGRES_BIN when
// set, else the newest of Debian's /usr/lib/postgresql/<version>/bin, else
// on the PATH. They must be at least as new as the server.
func PostgresTools(getenv func(string) string) (string, error) {
	if d := getenv("PORTAL_POSTGRES_BIN"); d != "" {
		return d, nil
	}
	found, _ := filepath.Glob("/usr/lib/postgresql/*/bin/pg_dump")
	sort.Slice(found, func(i, j int) bool {
		v := func(p string) int { n, _ := strconv.Atoi(filepath.Base(filepath.Dir(filepath.Dir(p)))); return n }
		return v(found[i]) > v(found[j])
	})
	if len(found) > 0 {
		return filepath.Dir(found[0]), nil
	}
	if p, err := exec.LookPath("pg_dump"); err == nil {
		return filepath.Dir(p), nil
	}
	return "", errors.New("pg_dump not found: install PostgreSQL's client tools, or set PORTAL_POSTGRES_BIN to their folder")
}

// libpqParams are the URL parameters passed on to pg_dump and pg_restore;
// pgx's own (such as pool settings) are not libpq's.
var libpqParams = map[string]bool{"host": true, "sslmode": true, "sslrootcert": true, "sslcert": true, "sslkey": true, "sslcrl": true,
	"connect_timeout": true, "application_name": true, "target_session_attrs": true, "options": true}

// pgCommand runs one of PostgreSQL's tools against the database at dbURL,
// with the password in the environment rather than on the command line.
func pgCommand(ctx context.Context, bin, tool, dbURL string, args ...string) error {
	u, err := url.Parse(dbURL)
	if err != nil {
		return errors.New("PORTAL_DATABASE_URL does not parse")
	}
	env := os.Environ()
	if p, ok := u.User.Password(); ok {
		env = append(env, "PGPASSWORD="+p)
		u.User = url.User(u.User.Username())
	}
	q := url.Values{}
	for k, v := range u.Query() {
		if libpqParams[k] {
			q[k] = v
		}
	}
	u.RawQuery = q.Encode()
	cmd := exec.CommandContext(ctx, filepath.Join(bin, tool), append(args, "--dbname="+u.String())...)
	cmd.Env = env
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("%s: %v: %s", tool, err, strings.TrimSpace(out.String()))
	}
	return nil
}

// BackupPostgres dumps the PostgreSQL database st (at dbURL) into dir with
// its manifest.
func BackupPostgres(ctx context.Context, st *store.Store, dbURL, bin, dir string, key ed25519.PrivateKey) (Manifest, error) {
	m := Manifest{Format: ManifestFormat, CreatedAt: time.Now().UTC(), PortalVersion: Version(), Database: "postgres", File: "portal.dump"}
	if err := emptyDir(dir); err != nil {
		return m, err
	}
	snap, err := st.ExportSnapshot(ctx)
	if err != nil {
		return m, err
	}
	defer snap.Release()
	m.AuditSeq, m.AuditHash, m.SchemaVersion, m.LastCheckpoint = snap.AuditSeq, snap.AuditHash, snap.SchemaVersion, snap.Checkpoint
	// pg_dump would create the file 0666 less the umask (0644): it is
	// made 0600 first, and pg_dump truncates and writes it, mode and all.
	if err := newPrivateFile(filepath.Join(dir, m.File)); err != nil {
		return m, err
	}
	if err := pgCommand(ctx, bin, "pg_dump", dbURL, "--format=custom", "--no-owner", "--no-privileges", "--snapshot="+snap.ID,
		"--exclude-table-data=sessions", "--file="+filepath.Join(dir, m.File)); err != nil {
		return m, err
	}
	return m, WriteManifest(dir, &m, key)
}

// RestorePostgres loads a backup's dump into the database at dbURL, in one
// transaction, then records the restore as pending, as id. The database
// must be empty (a new one, or one a portal has only migrated) unless
// force.
func RestorePostgres(ctx context.Context, dir string, m Manifest, dbURL, bin, id string, force bool, open func() (*store.Store, error)) error {
	st, err := open()
	if err != nil {
		return err
	}
	empty, err := st.Empty(ctx)
	st.Close()
	if err != nil {
		return err
	}
	if !empty && !force {
		return errors.New("the database is not empty: restore into an empty deployment, or give --force to replace it")
	}
	// The dump pg_restore reads is a private copy, hashed as it was
	// made: what is restored is what the signed manifest names, whatever
	// the backup folder holds by then.
	priv, err := os.MkdirTemp("", "portal-restore-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(priv)
	dump := filepath.Join(priv, m.File)
	if err := copyChecked(filepath.Join(dir, m.File), dump, m); err != nil {
		return err
	}
	if err := pgCommand(ctx, bin, "pg_restore", dbURL, "--clean", "--if-exists", "--no-owner", "--no-privileges",
		"--single-transaction", "--exit-on-error", dump); err != nil {
		return err
	}
	// A crash here leaves a restored database with no pending restore:
	// serve refuses it (it is behind its anchors) until portal restore
	// --resume --confirm taken-in (the operator knows they restored it;
	// the restore is then recorded as taken in, no manifest checked).
	if st, err = open(); err != nil {
		return err
	}
	defer st.Close()
	return BeginRestore(ctx, st, id, m.CreatedAt)
}
