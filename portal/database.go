package portal

import (
	"context"
	"net/url"

	"github.com/ofsted-portal/evidence/portal/store"
)

// OpenDatabase opens the database cfg names: PostgreSQL when
// PORTAL_DATABASE_URL is set, else SQLite at PORTAL_DB_PATH.
func OpenDatabase(ctx context.Context, cfg Config) (*store.Store, error) {
	if cfg.DatabaseURL != "" {
		return store.OpenPostgres(ctx, cfg.DatabaseURL, store.PostgresOptions{MaxConns: cfg.DBMaxConns, StatementTimeout: cfg.DBStatementTimeout,
			Defaults: StoreDefaults(cfg)})
	}
	return store.OpenWith(ctx, cfg.DBPath, StoreDefaults(cfg))
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
