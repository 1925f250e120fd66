package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/ofsted-portal/evidence/crypto"
	"github.com/ofsted-portal/evidence/portal"
	"github.com/ofsted-portal/evidence/portal/retention"
	"github.com/ofsted-portal/evidence/web"
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

// The operator's door: each command builds only what it needs (the
// database, the keys, the domain) and acts as the operator on the server.

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

// operator is the person running a command, for the audit trail.
func operator(command string) portal.Actor {
	return portal.OperatorActor(os.Getenv("USER"), command)
}

func serve(ctx context.Context, args []string) error {
	return withDomain(ctx, "serve", "Usage: portal serve\n\nRuns the portal. All configuration comes from PORTAL_* environment variables (see README).",
		args, func(svc *portal.Service) error {
			srv, err := web.New(svc)
			if err != nil {
				return err
			}
			return srv.Serve(ctx)
		})
}

// withDomain parses a command without flags of its own, builds the domain
// from the environment and runs fn with it; it closes the domain (and
// waits for its background work) afterwards.
func withDomain(ctx context.Context, name, usage string, args []string, fn func(*portal.Service) error) error {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.Usage = func() { fmt.Fprintln(fs.Output(), usage) }
	if err := fs.Parse(args); err != nil {
		return flagErr(err)
	}
	cfg, err := portal.LoadConfig(os.Getenv)
	if err != nil {
		return err
	}
	svc, err := portal.New(ctx, cfg)
	if err != nil {
		return err
	}
	defer svc.Close()
	return fn(svc)
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
	role := fs.String("role", "administrator", "portal-wide role (only: administrator)")
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
	st, err := portal.OpenStore(ctx, os.Getenv, true)
	if err != nil {
		return err
	}
	defer st.Close()
	if err := portal.GrantRole(ctx, st, operator("admin grant"), *role, *issuer, *email); err != nil {
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
