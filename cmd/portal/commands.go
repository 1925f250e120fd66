package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/ofsted-portal/evidence/crypto"
	"github.com/ofsted-portal/evidence/policy"
	"github.com/ofsted-portal/evidence/portal"
	"github.com/ofsted-portal/evidence/portal/retention"
	"github.com/ofsted-portal/evidence/portal/store"
)

const usage = `Usage: portal <command> [flags]

Commands:
  serve          run the portal (configuration from the environment; see README)
  migrate        bring the database's schema up to date and exit (on PostgreSQL as
                 PORTAL_DATABASE_OWNER_URL's role, which grants PORTAL_DATABASE_URL's)
  keygen         print a new master key, or with --signing a certificate signing key
  admin grant    grant a portal-wide role to the person who signs in from an issuer with
                 an email or a subject: portal admin grant --issuer URL (--email E | --subject S)
  admin revoke   take a portal-wide role from that person, at once (open sessions too):
                 portal admin revoke --issuer URL (--email E | --subject S)
  admin disable  disable a person: end every session of theirs at once and refuse their
                 sign-in: portal admin disable --issuer URL (--email E | --subject S)
  admin enable   let a disabled person sign in again: portal admin enable --issuer URL (--email E | --subject S)
  admin member   add a member to a visit, or change one, as the operator (for example an
                 administrator who is to be a member): portal admin member --visit REF --email E --role R
  retention run  run one destruction sweep now
  certificate    verify a destruction certificate offline, or print the signing public key
  receipt verify verify a signed submission receipt offline: portal receipt verify --public-key FILE RECEIPT.json
  audit verify   check the audit trail's hash chain and signed checkpoints
  evidence verify  read every stored file back, authenticate it and check its SHA-256
  scan release   serve unscanned the files held back for the malware scanner (all, or
                 one: --file ID), each recorded in its visit's audit trail
  key rotate     re-wrap the key epochs (and any visit key made before them) to a new master key: portal key rotate --new-key FILE
  key epochs     list the key epochs: when each was superseded and when its key is, or was, destroyed
  key new-epoch  start a new key epoch now, re-wrapping every live visit key to it
  backup         write a consistent copy of the database and its manifest: portal backup DIR
  restore        bring a backup into an empty deployment, destroying again what was destroyed
                 since: portal restore [--force] DIR | portal restore --resume [--confirm ID|taken-in]
  health         ask the portal on PORTAL_ADDR whether it is ready (container health checks)

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
	case "migrate":
		return migrate(ctx, args[1:], os.Stdout)
	case "keygen":
		return keygen(args[1:], os.Stdout)
	case "health":
		return health(ctx, args[1:])
	case "retention":
		if len(args) < 2 || args[1] != "run" {
			return errors.New("usage: portal retention run")
		}
		return retentionRun(ctx, args[2:])
	case "certificate":
		return certificateCmd(args[1:])
	case "receipt":
		return receiptCmd(args[1:], os.Stdout)
	case "audit":
		if len(args) < 2 || args[1] != "verify" {
			return errors.New("usage: portal audit verify [--public-key FILE]")
		}
		return auditVerify(ctx, args[2:])
	case "evidence":
		if len(args) < 2 || args[1] != "verify" {
			return errors.New("usage: portal evidence verify [--visit REF]")
		}
		return evidenceVerify(ctx, args[2:])
	case "scan":
		if len(args) < 2 || args[1] != "release" {
			return errors.New("usage: portal scan release [--file ID]")
		}
		return scanRelease(ctx, args[2:], os.Stdout)
	case "backup":
		return backupCmd(ctx, args[1:], os.Stdout)
	case "restore":
		return restoreCmd(ctx, args[1:], os.Stdout)
	case "key":
		switch {
		case len(args) >= 2 && args[1] == "rotate":
			return keyRotate(ctx, args[2:])
		case len(args) >= 2 && args[1] == "epochs":
			return keyEpochs(ctx, args[2:], os.Stdout)
		case len(args) >= 2 && args[1] == "new-epoch":
			return keyNewEpoch(ctx, args[2:], os.Stdout)
		}
		return errors.New("usage: portal key rotate --new-key FILE | portal key epochs | portal key new-epoch")
	case "admin":
		switch {
		case len(args) >= 2 && args[1] == "grant":
			return adminGrant(ctx, args[2:])
		case len(args) >= 2 && args[1] == "revoke":
			return adminRevoke(ctx, args[2:])
		case len(args) >= 2 && args[1] == "member":
			return adminMember(ctx, args[2:])
		case len(args) >= 2 && (args[1] == "disable" || args[1] == "enable"):
			return adminDisable(ctx, args[1], args[2:], os.Stdout)
		}
		return errors.New("usage: portal admin grant --issuer URL (--email E | --subject S) --role administrator | portal admin revoke --issuer URL (--email E | --subject S) --role administrator | portal admin disable|enable --issuer URL (--email E | --subject S) | portal admin member --visit REF (--email E | --issuer URL --subject S) --role R")
	}
	return fmt.Errorf("unknown command %q\n\n%s", args[0], usage)
}

// operator is the person running a command, for the audit trail.
func operator(command string) portal.Actor {
	return portal.OperatorActor(os.Getenv("USER"), command)
}

// domainOptions are passed to portal.New by withDomain (tests of commands
// that crash use them).
var domainOptions []portal.Option

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
	if name != "key epochs" { // the one that only reads
		if err := noPendingRestore(ctx, cfg, name); err != nil {
			return err
		}
	}
	svc, err := portal.New(ctx, cfg, domainOptions...)
	if err != nil {
		return err
	}
	defer svc.Close()
	return fn(svc)
}

// noPendingRestore is refusePendingRestore on the database cfg names,
// before the domain is opened on it.
func noPendingRestore(ctx context.Context, cfg portal.Config, name string) error {
	st, err := portal.OpenDatabase(ctx, cfg)
	if err != nil {
		return err
	}
	defer st.Close()
	return refusePendingRestore(ctx, st, name)
}

// refusePendingRestore refuses an operator's act on a database whose
// restore is not finished: its records would follow the restored trail
// before the restore's mark, which the anchors outside the database do
// not match, and the restore could then not be finished.
func refusePendingRestore(ctx context.Context, st *store.Store, name string) error {
	r, err := st.PendingRestore(ctx)
	if errors.Is(err, store.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	return fmt.Errorf("portal %s: restore %s of this database is not finished: finish it first with portal restore --resume (docs/operating.md: Backups and restore)", name, r.ID)
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
	return adminRole(ctx, args, "grant", "The role binds to that person at their next sign-in (at once, by subject, if they have signed in before).",
		portal.GrantRole, "granted %s to %s at %s\n")
}

func adminRevoke(ctx context.Context, args []string) error {
	return adminRole(ctx, args, "revoke", "Takes the role from that person: the grant to that email or subject, and any grant bound to them. It ends at their next request, in open sessions too.",
		portal.RevokeRole, "revoked %s from %s at %s\n")
}

// adminRole runs portal admin grant or revoke: act on the role of the
// person named by --issuer and --email or --subject.
func adminRole(ctx context.Context, args []string, verb, about string, act func(context.Context, *store.Store, portal.Actor, portal.RoleGrant) error, done string) error {
	fs := flag.NewFlagSet("admin "+verb, flag.ContinueOnError)
	var g portal.RoleGrant
	fs.StringVar(&g.Issuer, "issuer", "", "issuer URL of the identity provider the person signs in with")
	fs.StringVar(&g.Email, "email", "", "the person's email address at that provider")
	fs.StringVar(&g.Subject, "subject", "", "instead of --email: the person's subject (sub claim) at that provider")
	fs.StringVar(&g.Role, "role", "administrator", "portal-wide role (only: administrator)")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: portal admin %s --issuer URL (--email E | --subject S) --role administrator\n\n%s Uses PORTAL_DB_PATH.\n", verb, about)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return flagErr(err)
	}
	if g.Issuer == "" || (g.Email == "") == (g.Subject == "") {
		return errors.New("--issuer and one of --email or --subject are required")
	}
	// A grant to an issuer no configured provider has never binds: an
	// operator's slip (a slash, http for https) is refused, not "granted".
	if idps := portal.PartialConfig(os.Getenv).IdPs; verb == "grant" && len(idps) > 0 {
		var issuers []string
		for _, p := range idps {
			issuers = append(issuers, p.Issuer)
		}
		if !slices.Contains(issuers, g.Issuer) {
			return fmt.Errorf("--issuer %s is not the issuer of a configured identity provider (PORTAL_IDPS): %s", g.Issuer, strings.Join(issuers, ", "))
		}
	}
	// Only the first grant (the bootstrap, before the portal has run)
	// makes the database: a revoke on a path mistyped or unset must not
	// report of an empty one that nobody holds the role.
	st, err := portal.OpenStore(ctx, os.Getenv, verb == "grant")
	if err != nil {
		return err
	}
	defer st.Close()
	if err := refusePendingRestore(ctx, st, "admin "+verb); err != nil {
		return err
	}
	if err := act(ctx, st, operator("admin "+verb), g); err != nil {
		return err
	}
	who := g.Email
	if who == "" {
		who = "subject " + g.Subject
	}
	fmt.Printf(done, g.Role, who, g.Issuer)
	return nil
}

// adminDisable runs portal admin disable or enable: of the person named by
// --issuer and --email or --subject.
func adminDisable(ctx context.Context, verb string, args []string, out io.Writer) error {
	fs := flag.NewFlagSet("admin "+verb, flag.ContinueOnError)
	var p portal.Person
	fs.StringVar(&p.Issuer, "issuer", "", "issuer URL of the identity provider the person signs in with")
	fs.StringVar(&p.Email, "email", "", "the person's email address at that provider")
	fs.StringVar(&p.Subject, "subject", "", "instead of --email: the person's subject (sub claim) at that provider")
	about := "Disables the person: every session of theirs ends at its next request, on every instance,\nand their sign-in is refused until portal admin enable. Recorded user.disabled."
	if verb == "enable" {
		about = "Lets a disabled person sign in again (their sessions ended by the disable stay ended).\nRecorded user.enabled."
	}
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: portal admin %s --issuer URL (--email E | --subject S)\n\n%s Uses PORTAL_DB_PATH.\n", verb, about)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return flagErr(err)
	}
	if p.Issuer == "" || (p.Email == "") == (p.Subject == "") {
		return errors.New("--issuer and one of --email or --subject are required")
	}
	st, err := portal.OpenStore(ctx, os.Getenv, false)
	if err != nil {
		return err
	}
	defer st.Close()
	if err := refusePendingRestore(ctx, st, "admin "+verb); err != nil {
		return err
	}
	who := strings.ToLower(p.Email)
	if who == "" {
		who = "subject " + p.Subject
	}
	if verb == "enable" {
		if err := portal.EnableUser(ctx, st, operator("admin enable"), p); err != nil {
			return err
		}
		fmt.Fprintf(out, "enabled %s at %s: they can sign in again\n", who, p.Issuer)
		return nil
	}
	newly, err := portal.DisableUser(ctx, st, operator("admin disable"), p)
	if err != nil {
		return err
	}
	already := ""
	if !newly {
		already = " (already disabled)"
	}
	fmt.Fprintf(out, "disabled %s at %s%s: every session of theirs has ended, and sign-in is refused\n", who, p.Issuer, already)
	return nil
}

// flagErr makes --help exit 0.
func flagErr(err error) error {
	if errors.Is(err, flag.ErrHelp) {
		os.Exit(0)
	}
	return err
}

// adminMember adds or changes a visit member as the operator: the way an
// administrator is made a member of a visit (they cannot do it themselves).
func adminMember(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("admin member", flag.ContinueOnError)
	visit := fs.String("visit", "", "the visit's reference, such as FV-2026-014")
	var req portal.MemberRequest
	fs.StringVar(&req.Email, "email", "", "the person's email address")
	fs.StringVar(&req.Issuer, "issuer", "", "the issuer URL of the person's identity provider: with --subject; with --email when several providers can sign in the role")
	fs.StringVar(&req.Subject, "subject", "", "with --issuer: the person's subject at that provider")
	fs.StringVar(&req.Role, "role", "", "the visit role: "+strings.Join(policy.Roles, ", "))
	fs.StringVar(&req.ValidFrom, "valid-from", "", "optional: access opens (YYYY-MM-DD or RFC 3339)")
	fs.StringVar(&req.ValidUntil, "valid-until", "", "optional: the last day of access (YYYY-MM-DD, whole, in London) or when it closes (RFC 3339)")
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "Usage: portal admin member --visit REF (--email E [--issuer URL] | --issuer URL --subject S) --role R\n\nAdds a member to a visit, or changes one, as the operator. Uses the PORTAL_* configuration.")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return flagErr(err)
	}
	if *visit == "" {
		return errors.New("--visit is required")
	}
	cfg, err := portal.LoadConfig(os.Getenv)
	if err != nil {
		return err
	}
	if err := noPendingRestore(ctx, cfg, "admin member"); err != nil {
		return err
	}
	svc, err := portal.New(ctx, cfg)
	if err != nil {
		return err
	}
	defer svc.Close()
	v, err := svc.Store().VisitByReference(ctx, *visit)
	if err != nil {
		return fmt.Errorf("visit %s: %w", *visit, err)
	}
	acc, err := svc.Authorize(ctx, operator("admin member"), policy.MemberManage, v.ID, "")
	if err != nil {
		return err
	}
	m, created, err := acc.PutMember(ctx, req)
	if err != nil {
		return err
	}
	verb := "changed"
	if created {
		verb = "added"
	}
	fmt.Printf("%s member %s of %s: %s\n", verb, m.ID, *visit, m.Role)
	return nil
}

// scanRelease serves unscanned the files held back for the scanner: the
// operator's decision, never the portal's own (scanning off on an
// instance releases nothing).
func scanRelease(ctx context.Context, args []string, out io.Writer) error {
	fs := flag.NewFlagSet("scan release", flag.ContinueOnError)
	file := fs.String("file", "", "only the file with this id (as the visit's file list gives it)")
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "Usage: portal scan release [--file ID]\n\nServes unscanned the files waiting for the malware scanner (clamd was down, refused them, or\nthey are too large for it), or only the one named: the inspection team then sees them, marked\n\"Not scanned\". Each is recorded in its visit's audit trail as file.scan_released.")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return flagErr(err)
	}
	if fs.NArg() != 0 {
		return fmt.Errorf("unexpected arguments: %v", fs.Args())
	}
	return withDomain(ctx, "scan release", "", nil, func(svc *portal.Service) error {
		n, err := svc.ReleaseWaiting(ctx, operator("scan release"), *file)
		if n > 0 || err == nil {
			fmt.Fprintf(out, "released %d file(s) unscanned\n", n)
		}
		return err
	})
}

// evidenceVerify reads every stored file back and checks it against its
// recorded SHA-256: what a download does per segment, for all of them.
func evidenceVerify(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("evidence verify", flag.ContinueOnError)
	visit := fs.String("visit", "", "only the visit with this reference")
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "Usage: portal evidence verify [--visit REF]\n\nReads every file of every live visit back from the object store, authenticates every segment\n(and its place in its file) and compares the whole with its recorded SHA-256. A file stored\nbefore segment MACs were recorded that matches has them recorded, and is counted.\nExit status 0: all good; 1: a file failed (each failure is printed).")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return flagErr(err)
	}
	cfg, err := portal.LoadConfig(os.Getenv)
	if err != nil {
		return err
	}
	// It records the MACs of files stored before they were kept.
	if err := noPendingRestore(ctx, cfg, "evidence verify"); err != nil {
		return err
	}
	svc, err := portal.New(ctx, cfg)
	if err != nil {
		return err
	}
	defer svc.Close()
	n, backfilled := 0, 0
	failed, err := svc.VerifyEvidence(ctx, operator("evidence verify"), *visit, func(c portal.FileCheck) {
		n++
		if c.Err != nil {
			fmt.Printf("FAILED %s file %s (%d bytes): %v\n", c.Reference, c.FileID, c.Size, c.Err)
		}
		if c.Backfilled {
			backfilled++
		}
	})
	if backfilled > 0 {
		// Said even when the run stops on an error: these rows are written.
		fmt.Printf("backfilled segment MACs: %d files (stored before they were recorded)\n", backfilled)
	}
	if err != nil {
		return err
	}
	if failed > 0 {
		return fmt.Errorf("%d of %d files failed", failed, n)
	}
	fmt.Printf("intact: %d files\n", n)
	return nil
}
