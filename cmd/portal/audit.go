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
// link is reported with its record number and exit status 1, records no
// signature covers beyond the last few minutes with exit status 2.
func auditVerify(ctx context.Context, args []string) error {
	return auditVerifyTo(ctx, args, os.Stdout)
}

func auditVerifyTo(ctx context.Context, args []string, out io.Writer) error {
	fs := flag.NewFlagSet("audit verify", flag.ContinueOnError)
	var trusted []ed25519.PublicKey
	fs.Func("public-key", "a signing public key (PEM), repeatable: every key the trail was signed with (default: the public half of PORTAL_SIGNING_KEY_FILE)", func(path string) error {
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		pub, err := retention.ParsePublicKeyPEM(b)
		if err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
		trusted = append(trusted, pub)
		return nil
	})
	without := fs.Bool("without-anchors", false, "check the chain and its signatures only, where the anchor store cannot be reached (an offline copy): a trail cut after its last anchor then goes unseen")
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "Usage: portal audit verify [--public-key FILE]... [--without-anchors]\n\nChecks every audit record's hash link and every signed checkpoint (PORTAL_DB_PATH), and the\ntrail against the checkpoints anchored outside the database (PORTAL_AUDIT_ANCHOR_DIR, or the\nbucket PORTAL_AUDIT_ANCHOR_BUCKET on the PORTAL_S3_* store). Each signature must be made by one\nof the public keys given: after the signing key was replaced, give the old and the new. Exit\nstatus 0: intact; 1: the first broken link is reported, naming the last anchored record when the\ntrail was cut short; 2: unsigned, nothing broken but records that no signed checkpoint covers\n(none at all, or some written longer ago than a serving portal leaves them unsigned); 3: cannot\ncheck, the anchor store was not found for a trail that holds signed checkpoints, or no record.")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return flagErr(err)
	}
	if len(trusted) == 0 {
		k, err := retention.LoadSigningKey(os.Getenv("PORTAL_SIGNING_KEY_FILE"))
		if err != nil {
			return fmt.Errorf("give --public-key or set PORTAL_SIGNING_KEY_FILE: %w", err)
		}
		trusted = append(trusted, k.Public().(ed25519.PublicKey))
	}
	st, err := portal.OpenStore(ctx, os.Getenv, false)
	if err != nil {
		return err
	}
	defer st.Close()
	var anchors portal.Anchors
	if !*without {
		if anchors, err = portal.FindAnchors(ctx, portal.PartialConfig(os.Getenv)); err != nil {
			return fmt.Errorf("audit anchors: %w", err)
		}
	}
	sum, err := portal.VerifyAudit(ctx, st, anchors, trusted...)
	if errors.Is(err, portal.ErrNoAnchors) && *without {
		// Asked for: the chain and its signatures alone.
		var u *portal.UnsignedError
		if !errors.As(err, &u) {
			u = nil
		}
		if err = nil; u != nil {
			err = u
		}
	}
	if errors.Is(err, portal.ErrNoAnchors) {
		return &statusError{status: 3, err: fmt.Errorf("CANNOT CHECK: %w (or give --without-anchors to check the chain and its signatures alone)", err)}
	}
	var unsigned *portal.UnsignedError
	if err != nil && !errors.As(err, &unsigned) {
		var ce *store.ChainError
		if errors.As(err, &ce) {
			return fmt.Errorf("BROKEN at record %d: %s", ce.Seq, ce.Reason)
		}
		return err
	}
	where := "no anchors outside the database"
	if *without {
		where = "not checked against the anchors outside the database (--without-anchors: a trail cut after its last anchor would not show)"
	} else if anchors != nil {
		where = fmt.Sprintf("%d anchored outside the database (%s), the last at record %d", sum.Anchors, anchors.Where(), sum.LastAnchored)
	}
	state := "intact"
	if unsigned != nil {
		state = "unsigned"
	}
	for _, g := range sum.Restores {
		state = "restored"
		lost := fmt.Sprintf("records %d..%d lost, anchored up to %d", g.Restored+1, g.Anchored, g.Anchored)
		if g.Anchored == g.Restored {
			lost = fmt.Sprintf("no anchored record lost (any records after %d that were never anchored are)", g.Restored)
		}
		from := "from a backup taken " + g.BackupCreatedAt.UTC().Format(time.RFC3339)
		if g.BackupCreatedAt.IsZero() {
			from = "taken in on the operator's word: restored by other means, no backup's manifest vouched for it"
		}
		fmt.Fprintf(out, "restored at record %d; %s (restored %s, %s, marked at record %d)\n", g.Restored, lost, g.At.UTC().Format(time.RFC3339), from, g.Mark)
	}
	tail := ""
	if sum.Unsigned > 0 && unsigned == nil {
		tail = fmt.Sprintf("; records %d..%d are not signed yet (written in the last %s; a serving portal signs a checkpoint within 100 records or 10 minutes)",
			sum.Signed+1, sum.Signed+int64(sum.Unsigned), time.Since(sum.UnsignedSince).Round(time.Second))
	}
	fmt.Fprintf(out, "%s: %d records, %d signed checkpoints, %s%s\n", state, sum.Records, sum.Checkpoints, where, tail)
	if unsigned != nil {
		return &statusError{status: 2, err: fmt.Errorf("UNSIGNED: %w", unsigned)}
	}
	return nil
}

// statusError ends the command with its exit status instead of 1.
type statusError struct {
	status int
	err    error
}

func (e *statusError) Error() string { return e.err.Error() }
func (e *statusError) Unwrap() error { return e.err }
