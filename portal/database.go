package portal

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"

	"github.com/ofsted-portal/evidence/portal/store"
)

// OpenDatabase opens the database cfg names: PostgreSQL when
// PORTAL_DATABASE_URL is set, migrated as PORTAL_DATABASE_OWNER_URL's
// role when that is set, else SQLite at PORTAL_DB_PATH.
func OpenDatabase(ctx context.Context, cfg Config) (*store.Store, error) {
	if cfg.DatabaseURL != "" {
		st, err := store.OpenPostgres(ctx, cfg.DatabaseURL, store.PostgresOptions{MaxConns: cfg.DBMaxConns, StatementTimeout: cfg.DBStatementTimeout,
			Defaults: StoreDefaults(cfg), OwnerURL: cfg.DatabaseOwnerURL})
		if errors.Is(err, store.ErrNotOwner) {
			return nil, fmt.Errorf("%w: set PORTAL_DATABASE_OWNER_URL to the role that owns the schema (or run portal migrate with it) (README: Databases)", err)
		}
		return st, err
	}
	return store.OpenWith(ctx, cfg.DBPath, StoreDefaults(cfg))
}

// DatabaseOwner is the URL of the role that owns the PostgreSQL schema,
// which restores a backup into it: PORTAL_DATABASE_OWNER_URL, else
// PORTAL_DATABASE_URL (one role, as in development).
func (c Config) DatabaseOwner() string {
	if c.DatabaseOwnerURL != "" {
		return c.DatabaseOwnerURL
	}
	return c.DatabaseURL
}

// checkDatabaseRole refuses, outside development, to serve as a database
// role that could rewrite or cut the audit trail: one that owns its
// tables could drop or disable the triggers that keep it append-only, and
// one that may create in its schema could put objects of its own beside
// it. Each power the store names says how to take it away.
func checkDatabaseRole(ctx context.Context, cfg Config, st *store.Store) error {
	if cfg.Dev {
		return nil
	}
	powers, err := st.AuditPowers(ctx)
	if err != nil {
		return err
	}
	if len(powers) == 0 {
		return nil
	}
	return fmt.Errorf("PORTAL_DATABASE_URL's role can change the audit trail (%s): outside development the portal serves as a role that owns nothing, "+
		"may create nothing in the database, and may only read and add to the trail. Give the role that owns the tables in PORTAL_DATABASE_OWNER_URL, which migrates the schema and grants "+
		"the serving role what it needs, and a role of its own in PORTAL_DATABASE_URL (README: Databases)", strings.Join(powers, "; "))
}

// StoreDefaults are the settings of cfg that a migration writes into rows
// made before those rows kept their own. A setting out of range (a
// partial configuration's, not validated) is not given: a migration that
// needs it fails rather than write it.
func StoreDefaults(cfg Config) store.Defaults {
	var d store.Defaults
	if cfg.RetentionDays >= 1 && cfg.RetentionDays <= maxRetentionDays {
		d.RetentionDays = cfg.RetentionDays
	}
	return d
}

// DatabaseName says which database cfg names, without credentials: for
// logs and the start-up record.
func DatabaseName(cfg Config) string {
	if cfg.DatabaseURL == "" {
		return "sqlite:" + cfg.DBPath
	}
	u, err := url.Parse(cfg.DatabaseURL)
	if err != nil {
		return "postgres"
	}
	name := "postgres://" + u.Host + u.Path
	if mode := u.Query().Get("sslmode"); mode != "" {
		name += "?sslmode=" + mode
	}
	return name
}
