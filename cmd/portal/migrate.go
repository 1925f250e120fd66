package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/ofsted-portal/evidence/portal"
)

// migrate brings the schema up to date as a step of its own, before the
// portal starts: on PostgreSQL as the role that owns the schema
// (PORTAL_DATABASE_OWNER_URL), which then grants the serving role
// (PORTAL_DATABASE_URL) what it serves with. The serving containers then
// never hold the owner's credentials (deploy/compose.yaml, the Helm
// chart's init container).
func migrate(ctx context.Context, args []string, out io.Writer) error {
	fs := flag.NewFlagSet("migrate", flag.ContinueOnError)
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "Usage: portal migrate\n\nBrings the database's schema up to date and exits. On PostgreSQL the schema is changed as PORTAL_DATABASE_OWNER_URL's role, "+
			"which grants PORTAL_DATABASE_URL's role what the portal serves with; without it, as PORTAL_DATABASE_URL's. Uses PORTAL_DB_PATH for SQLite.")
	}
	if err := fs.Parse(args); err != nil {
		return flagErr(err)
	}
	st, err := portal.OpenStore(ctx, os.Getenv, true)
	if err != nil {
		return err
	}
	defer st.Close()
	v, err := st.SchemaVersion(ctx)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "the schema of %s is at version %d\n", portal.DatabaseName(portal.PartialConfig(os.Getenv)), v)
	return nil
}
