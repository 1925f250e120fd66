package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"time"

	"github.com/ofsted-portal/evidence/crypto"
	"github.com/ofsted-portal/evidence/portal"
	"github.com/ofsted-portal/evidence/portal/retention"
)

func retentionRun(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("retention run", flag.ContinueOnError)
	wait := fs.Bool("wait", false, "when another process is sweeping, wait for it to finish instead of failing")
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "Usage: portal retention run [--wait]\n\nRuns one destruction sweep now: destroys every published visit past its retention date, noticed\nand not on legal hold, and finishes any destruction that was interrupted. Uses the same PORTAL_*\nconfiguration as serve. Exit status 1 when a destruction failed, or another process holds the\nsweep's lease (it says who, and until when).")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return flagErr(err)
	}
	return withDomain(ctx, "retention run", "", nil, func(svc *portal.Service) error {
		for {
			ids, err := svc.RunRetention(ctx)
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
		fs := flag.NewFlagSet("certificate verify", flag.ContinueOnError)
		pub := fs.String("public-key", "", "the portal's signing public key (PEM, from: portal certificate public-key)")
		fs.Usage = func() {
			fmt.Fprintln(fs.Output(), "Usage: portal certificate verify --public-key FILE CERT.json\n\nChecks a destruction certificate offline. Exit status 0: valid; 1: not valid.")
			fs.PrintDefaults()
		}
		if err := fs.Parse(args[1:]); err != nil {
			return flagErr(err)
		}
		if *pub == "" || fs.NArg() != 1 {
			fs.Usage()
			return errors.New("--public-key and one certificate file are required")
		}
		pemBytes, err := os.ReadFile(*pub)
		if err != nil {
			return err
		}
		pk, err := retention.ParsePublicKeyPEM(pemBytes)
		if err != nil {
			return err
		}
		b, err := os.ReadFile(fs.Arg(0))
		if err != nil {
			return err
		}
		c, err := retention.Verify(b, pk)
		if err != nil {
			return err
		}
		var total int64
		for _, f := range c.Files {
			total += f.Size
		}
		fmt.Printf("valid: visit %s (%s) destroyed; %d files, %d bytes, %d object versions; key %s; key destroyed %s; certificate issued %s\n",
			c.Reference, c.VisitID, c.FileCount, total, c.ObjectsDeleted, c.KeyFingerprint, c.Steps.KeyDestroyed.Format("2006-01-02 15:04:05Z07:00"), c.IssuedAt.Format("2006-01-02 15:04:05Z07:00"))
		return nil
	}
	return fmt.Errorf("unknown certificate command %q", args[0])
}

// keyRotate re-wraps every live visit key to a new master key, in one
// transaction, without touching object storage.
func keyRotate(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("key rotate", flag.ContinueOnError)
	newKey := fs.String("new-key", "", "the new master key file (from: portal keygen -o FILE)")
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "Usage: portal key rotate --new-key FILE\n\nRe-wraps every visit key from the master key in PORTAL_MASTER_KEY_FILE to the new one,\nin one transaction. Then point PORTAL_MASTER_KEY_FILE at the new file and destroy the old.")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return flagErr(err)
	}
	if *newKey == "" {
		return errors.New("--new-key is required")
	}
	oldMaster, err := crypto.LoadMasterKey(os.Getenv("PORTAL_MASTER_KEY_FILE"))
	if err != nil {
		return err
	}
	newMaster, err := crypto.LoadMasterKey(*newKey)
	if err != nil {
		return err
	}
	st, err := portal.OpenStore(ctx, os.Getenv, false)
	if err != nil {
		return err
	}
	defer st.Close()
	n, err := portal.RotateMasterKey(ctx, st, operator("key rotate"), oldMaster, newMaster)
	if err != nil {
		return err
	}
	fmt.Printf("re-wrapped %d visit keys to %s; now set PORTAL_MASTER_KEY_FILE=%s, restart, and destroy the old key file\n", n, newMaster.Recipients()[0], *newKey)
	return nil
}
