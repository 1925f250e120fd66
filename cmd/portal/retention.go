package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"text/tabwriter"
	"time"

	"github.com/ofsted-portal/evidence/crypto"
	"github.com/ofsted-portal/evidence/portal"
	"github.com/ofsted-portal/evidence/portal/calendar"
	"github.com/ofsted-portal/evidence/portal/retention"
)

func retentionRun(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("retention run", flag.ContinueOnError)
	wait := fs.Bool("wait", false, "when another process is sweeping, wait for it to finish instead of failing")
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "Usage: portal retention run [--wait]\n\nRuns one destruction sweep now: destroys every published visit past its retention date, noticed\nand not on legal hold, and finishes any destruction that was interrupted or failed (at once, whatever\nthe scheduled sweeps' wait before trying a failed one again). Uses the same PORTAL_*\nconfiguration as serve. Exit status 1 when a destruction failed, or another process holds the\nsweep's lease (it says who, and until when).")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return flagErr(err)
	}
	return withDomain(ctx, "retention run", "", nil, func(svc *portal.Service) error {
		for {
			// At once, whatever a failed destruction's backoff: the
			// operator runs this once they have put its cause right.
			ids, err := svc.RunRetentionNow(ctx)
			for _, id := range ids {
				fmt.Println("destroyed", id)
			}
			var held *retention.LeaseHeldError
			if errors.As(err, &held) && *wait {
				fmt.Printf("waiting: %v\n", err)
				select {
				case <-ctx.Done():
					return ctx.Err()
				case <-time.After(2 * time.Second):
				}
				continue
			}
			if err == nil && len(ids) == 0 {
				fmt.Println("nothing due")
			}
			return err
		}
	})
}

func certificateCmd(args []string) error {
	if len(args) == 0 {
		return errors.New("usage: portal certificate verify --public-key FILE CERT.json | portal certificate public-key")
	}
	switch args[0] {
	case "public-key":
		path := os.Getenv("PORTAL_SIGNING_KEY_FILE")
		if path == "" {
			return errors.New("set PORTAL_SIGNING_KEY_FILE")
		}
		k, err := retention.LoadSigningKey(path)
		if err != nil {
			return err
		}
		os.Stdout.Write(retention.PublicKeyPEM(k))
		return nil
	case "verify":
		pk, b, err := signedArgs("certificate verify", args[1:], "CERT.json", "certificate",
			"Checks a destruction certificate offline. Exit status 0: valid; 1: not valid.")
		if err != nil {
			return err
		}
		c, err := retention.Verify(b, pk)
		if err != nil {
			return err
		}
		return describeCertificate(os.Stdout, c)
	}
	return fmt.Errorf("unknown certificate command %q", args[0])
}

// keyRotate re-wraps the key epochs' keys in the key bucket (and any
// visit key made before epochs, in one transaction) to a new master key.
func keyRotate(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("key rotate", flag.ContinueOnError)
	newKey := fs.String("new-key", "", "the new master key file (from: portal keygen -o FILE)")
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "Usage: portal key rotate --new-key FILE\n\nRe-wraps the key epochs' keys in PORTAL_KEY_BUCKET, and any visit key made before key epochs,\nfrom the master key in PORTAL_MASTER_KEY_FILE to the new one (run it again if it is interrupted).\nThen point PORTAL_MASTER_KEY_FILE at the new file, restart every instance, and destroy the old.")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return flagErr(err)
	}
	if *newKey == "" {
		return errors.New("--new-key is required")
	}
	newMaster, err := crypto.LoadMasterKey(*newKey)
	if err != nil {
		return err
	}
	return withDomain(ctx, "key rotate", "", nil, func(svc *portal.Service) error {
		epochs, keys, err := svc.RotateMasterKey(ctx, operator("key rotate"), newMaster)
		if err != nil {
			return err
		}
		fmt.Printf("re-wrapped %d key epochs and %d visit keys to %s; now set PORTAL_MASTER_KEY_FILE=%s, restart, and destroy the old key file\n", epochs, keys, newMaster.Recipients()[0], *newKey)
		return nil
	})
}

// keyEpochs lists the key epochs.
func keyEpochs(ctx context.Context, args []string, out io.Writer) error {
	return withDomain(ctx, "key epochs", "Usage: portal key epochs\n\nLists the key epochs, oldest first.", args, func(svc *portal.Service) error {
		es, err := svc.KeyEpochs(ctx)
		if err != nil {
			return err
		}
		w := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
		fmt.Fprintln(w, "EPOCH\tCREATED\tSUPERSEDED\tKEY DESTROYED FROM\tKEY DESTROYED\tVISIT KEYS")
		for _, e := range es {
			n, err := svc.KeysInEpoch(ctx, e.ID)
			if err != nil {
				return err
			}
			fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%d\n", e.ID, stamp(e.CreatedAt), stamp(e.SupersededAt), stamp(e.RetireAfter), stamp(e.RetiredAt), n)
		}
		return w.Flush()
	})
}

func stamp(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.UTC().Format(time.RFC3339)
}

// keyNewEpoch starts a new key epoch (after a suspected compromise of an
// epoch key, say).
func keyNewEpoch(ctx context.Context, args []string, out io.Writer) error {
	return withDomain(ctx, "key new-epoch", "Usage: portal key new-epoch\n\nStarts a new key epoch now and re-wraps every live visit key to it.", args, func(svc *portal.Service) error {
		e, n, err := svc.RotateKeyEpoch(ctx, operator("key new-epoch"), "operator")
		if err != nil {
			return err
		}
		fmt.Fprintf(out, "key epoch %s started; %d visit keys re-wrapped to it\n", e.ID, n)
		return nil
	})
}

// describeCertificate prints what a verified certificate proves, for
// whoever holds it and the public key only. A certificate whose own dates
// show the destruction began before it was due is reported, and is an
// error (exit status 1): the signature is the portal's, the destruction
// was not allowed.
func describeCertificate(out io.Writer, c retention.Certificate) error {
	const at = "2006-01-02 15:04:05Z07:00"
	var total int64
	for _, f := range c.Files {
		total += f.Size
	}
	fmt.Fprintf(out, "valid: visit %s (%s) destroyed; %d files, %d bytes, %d object versions; key %s; key destroyed %s; certificate issued %s\n",
		c.Reference, c.VisitID, c.FileCount, total, c.ObjectsDeleted, c.KeyFingerprint, c.Steps.KeyDestroyed.Format(at), c.IssuedAt.Format(at))
	if c.Bucket != "" {
		fmt.Fprintf(out, "bucket %s deleted %s\n", c.Bucket, c.Steps.BucketDeleted.Format(at))
	}
	if c.KeyEpoch != nil {
		fmt.Fprintf(out, "key unrecoverable from backups of the database after %s (key epoch %s)\n", c.KeyEpoch.UnrecoverableFromBackupsAfter.Format(at), c.KeyEpoch.ID)
	}
	// What allowed it to begin, from the notice and approval the
	// certificate names (any version that names them): the notice run
	// out, or an approval given after the notice and before it began.
	// Times written by different instances may differ by the clocks'
	// allowed skew.
	if n := c.Notice; n != nil {
		period, err := time.ParseDuration(n.Period)
		if err != nil || period < 0 {
			return fmt.Errorf("the certificate's notice period %q does not parse: it does not show the destruction waited out its notice", n.Period)
		}
		ranOut := !c.Steps.Started.Before(n.GivenAt.Add(period))
		approved := c.Approval != nil && !c.Steps.Started.Add(clockSkew).Before(c.Approval.At)
		if a := c.Approval; a != nil && a.At.Add(clockSkew).Before(n.GivenAt) {
			return fmt.Errorf("the certificate shows the destruction approved before its notice was given (approved %s, notice given %s)", a.At.Format(at), n.GivenAt.Format(at))
		}
		switch {
		case ranOut:
			fmt.Fprintf(out, "notice given %s ran out (%s) before it began\n", n.GivenAt.Format(at), n.Period)
		case approved:
			fmt.Fprintf(out, "approved %s by %s, after its notice given %s\n", c.Approval.At.Format(at), c.Approval.Email, n.GivenAt.Format(at))
		default:
			return fmt.Errorf("the certificate shows the destruction began before its notice ran out (given %s for %s), and before any approval; began %s",
				n.GivenAt.Format(at), n.Period, c.Steps.Started.Format(at))
		}
	} else {
		fmt.Fprintln(out, "notice: not stated: the certificate alone does not show administrators were given notice")
	}
	if c.Due == nil {
		fmt.Fprintln(out, "due: not stated (a certificate before v5, or no publication recorded): the certificate alone does not show it was not early")
		return nil
	}
	fmt.Fprintf(out, "due %s (London), not before %s; destruction began %s\n", c.Due.DestroyOn, c.Due.DestroyAfter.Format(at), c.Steps.Started.Format(at))
	on, err := time.ParseInLocation(time.DateOnly, c.Due.DestroyOn, calendar.London)
	if err != nil || c.Steps.Started.Before(c.Due.DestroyAfter) || c.Due.DestroyAfter.Before(on) {
		return fmt.Errorf("the certificate shows the destruction began before it was due (due %s, not before %s; began %s)",
			c.Due.DestroyOn, c.Due.DestroyAfter.Format(at), c.Steps.Started.Format(at))
	}
	fmt.Fprintln(out, "not early: it began no sooner than it was due")
	return nil
}

// clockSkew is how far apart the clocks of the instances that wrote a
// certificate's times may be (the portal refuses to run past it:
// portal/clockagree.go).
const clockSkew = 10 * time.Second
