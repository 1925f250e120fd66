package main

import (
	"context"
	"crypto/ed25519"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/ofsted-portal/evidence/portal"
	"github.com/ofsted-portal/evidence/portal/retention"
	"github.com/ofsted-portal/evidence/portal/store"
)

// auditVerify walks the whole audit chain and its checkpoints; a broken
// link is reported with its record number and exit status 1.
func auditVerify(ctx context.Context, args []string) error {
	return auditVerifyTo(ctx, args, os.Stdout)
}

func auditVerifyTo(ctx context.Context, args []string, out io.Writer) error {
	fs := flag.NewFlagSet("audit verify", flag.ContinueOnError)
	pubPath := fs.String("public-key", "", "the signing public key (PEM); default: the public half of PORTAL_SIGNING_KEY_FILE")
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "Usage: portal audit verify [--public-key FILE]\n\nChecks every audit record's hash link and every signed checkpoint (PORTAL_DB_PATH), and the\ntrail against the checkpoints anchored outside the database (PORTAL_AUDIT_ANCHOR_DIR, or the\nbucket PORTAL_AUDIT_ANCHOR_BUCKET on the PORTAL_S3_* store). Exit status 0: intact; 1: the\nfirst broken link is reported, naming the last anchored record when the trail was cut short.")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return flagErr(err)
	}
	var pub ed25519.PublicKey
	if *pubPath != "" {
		b, err := os.ReadFile(*pubPath)
		if err != nil {
			return err
		}
		if pub, err = retention.ParsePublicKeyPEM(b); err != nil {
			return err
		}
	} else {
		k, err := retention.LoadSigningKey(os.Getenv("PORTAL_SIGNING_KEY_FILE"))
		if err != nil {
			return fmt.Errorf("give --public-key or set PORTAL_SIGNING_KEY_FILE: %w", err)
		}
		pub = k.Public().(ed25519.PublicKey)
	}
	st, err := portal.OpenStore(ctx, os.Getenv, false)
	if err != nil {
		return err
	}
	defer st.Close()
	anchors, err := portal.FindAnchors(ctx, portal.PartialConfig(os.Getenv))
	if err != nil {
		return fmt.Errorf("audit anchors: %w", err)
	}
	sum, err := portal.VerifyAudit(ctx, st, pub, anchors)
	if err != nil {
		var ce *store.ChainError
		if errors.As(err, &ce) {
			return fmt.Errorf("BROKEN at record %d: %s", ce.Seq, ce.Reason)
		}
		return err
	}
	where := "no anchors outside the database"
	if anchors != nil {
		where = fmt.Sprintf("%d anchored outside the database (%s), the last at record %d", sum.Anchors, anchors.Where(), sum.LastAnchored)
	}
	state := "intact"
	for _, g := range sum.Restores {
		state = "restored"
		lost := fmt.Sprintf("records %d..%d lost, anchored up to %d", g.Restored+1, g.Anchored, g.Anchored)
		if g.Anchored == g.Restored {
			lost = fmt.Sprintf("no anchored record lost (any records after %d that were never anchored are)", g.Restored)
		}
		fmt.Fprintf(out, "restored at record %d; %s (restored %s, marked at record %d)\n", g.Restored, lost, g.At.UTC().Format(time.RFC3339), g.Mark)
	}
	fmt.Fprintf(out, "%s: %d records, %d signed checkpoints, %s\n", state, sum.Records, sum.Checkpoints, where)
	return nil
}
