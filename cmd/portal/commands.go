package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/ofsted-portal/evidence/crypto"
	"github.com/ofsted-portal/evidence/portal"
	"github.com/ofsted-portal/evidence/portal/retention"
	"github.com/ofsted-portal/evidence/portal/store"
)

const usage = `Usage: portal <command> [flags]

Commands:
  serve          run the portal (configuration from the environment; see README)
  keygen         print a new master key, or with --signing a certificate signing key
  admin grant    grant a portal-wide role to the person who signs in with an email
                 from an issuer: portal admin grant --issuer URL --email E --role administrator
  retention run  run one destruction sweep now
  certificate    verify a destruction certificate offline, or print the signing public key
  audit verify   check the audit trail's hash chain and signed checkpoints
  key rotate     re-wrap every visit key to a new master key: portal key rotate --new-key FILE

Run "portal <command> --help" for a command's flags.
`

func run(ctx context.Context, args []string) error {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		fmt.Print(usage)
		return nil
	}
	switch args[0] {
	case "serve":
		return serve(ctx, args[1:])
	case "keygen":
		return keygen(args[1:], os.Stdout)
	case "retention":
		if len(args) < 2 || args[1] != "run" {
			return errors.New("usage: portal retention run")
		}
		return retentionRun(ctx, args[2:])
	case "certificate":
		return certificateCmd(args[1:])
	case "audit":
		if len(args) < 2 || args[1] != "verify" {
			return errors.New("usage: portal audit verify [--public-key FILE]")
		}
		return auditVerify(ctx, args[2:])
	case "key":
		if len(args) < 2 || args[1] != "rotate" {
			return errors.New("usage: portal key rotate --new-key FILE")
		}
		return keyRotate(ctx, args[2:])
	case "admin":
		if len(args) < 2 || args[1] != "grant" {
			return errors.New("usage: portal admin grant --issuer URL --email E --role administrator")
		}
		return adminGrant(ctx, args[2:])
	}
	return fmt.Errorf("unknown command %q\n\n%s", args[0], usage)
}

func serve(ctx context.Context, args []string) error {
	return withPortal(ctx, "serve", "Usage: portal serve\n\nRuns the portal. All configuration comes from PORTAL_* environment variables (see README).",
		args, func(srv *portal.Server) error { return srv.Serve(ctx) })
}

// withPortal parses a command without flags of its own, builds the portal
// from the environment and runs fn with it.
func withPortal(ctx context.Context, name, usage string, args []string, fn func(*portal.Server) error) error {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.Usage = func() { fmt.Fprintln(fs.Output(), usage) }
	if err := fs.Parse(args); err != nil {
		return flagErr(err)
	}
	cfg, err := portal.LoadConfig(os.Getenv)
	if err != nil {
		return err
	}
	srv, err := portal.New(ctx, cfg)
	if err != nil {
		return err
	}
	defer srv.Close()
	return fn(srv)
}

func keygen(args []string, out io.Writer) error {
	fs := flag.NewFlagSet("keygen", flag.ContinueOnError)
	file := fs.String("o", "", "write the key to this file (mode 0600, must not exist) instead of standard output")
	signing := fs.Bool("signing", false, "make an Ed25519 certificate signing key (PKCS#8 PEM) instead of a master key")
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "Usage: portal keygen [-o FILE]\n\nMakes a new post-quantum master key (age ML-KEM-768 + X25519).")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return flagErr(err)
	}
	key, err := crypto.GenerateMasterKey(time.Now())
	if *signing {
		key, err = retention.GenerateSigningKey()
	}
	if err != nil {
		return err
	}
	if *file == "" {
		_, err = out.Write(key)
		return err
	}
	return portal.WriteNewKeyFile(*file, key)
}

func adminGrant(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("admin grant", flag.ContinueOnError)
	issuer := fs.String("issuer", "", "issuer URL of the identity provider the person signs in with")
	email := fs.String("email", "", "the person's email address at that provider")
	role := fs.String("role", store.RoleAdministrator, "portal-wide role (only: administrator)")
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "Usage: portal admin grant --issuer URL --email E --role administrator\n\nThe role binds to that person at their next sign-in. Uses PORTAL_DB_PATH.")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return flagErr(err)
	}
	if *issuer == "" || *email == "" {
		return errors.New("--issuer and --email are required")
	}
	if *role != store.RoleAdministrator {
		return fmt.Errorf("unknown role %q: the only portal-wide role is administrator", *role)
	}
	path := os.Getenv("PORTAL_DB_PATH")
	if path == "" {
		path = "var/portal.db"
	}
	st, err := store.Open(ctx, path)
	if err != nil {
		return err
	}
	defer st.Close()
	rec := store.AuditRecord{Time: time.Now(), ActorSubject: "operator:" + os.Getenv("USER"), Role: "operator", Action: "portal_role.granted", Outcome: "success",
		Detail: fmt.Sprintf(`{"role":%q,"issuer":%q,"email":%q}`, *role, *issuer, strings.ToLower(*email))}
	if err := st.GrantPortalRole(ctx, *role, *issuer, strings.ToLower(*email), time.Now(), rec); err != nil {
		return err
	}
	fmt.Printf("granted %s to %s at %s (binds at their next sign-in)\n", *role, *email, *issuer)
	return nil
}

// flagErr makes --help exit 0.
func flagErr(err error) error {
	if errors.Is(err, flag.ErrHelp) {
		os.Exit(0)
	}
	return err
}
