package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/ofsted-portal/evidence/portal/receipt"
	"github.com/ofsted-portal/evidence/portal/retention"
)

// receiptCmd checks a signed submission receipt offline, as certificate
// verify does a destruction certificate: with the portal's public key and
// nothing else.
func receiptCmd(args []string, out io.Writer) error {
	if len(args) == 0 || args[0] != "verify" {
		return errors.New("usage: portal receipt verify --public-key FILE RECEIPT.json")
	}
	fs := flag.NewFlagSet("receipt verify", flag.ContinueOnError)
	pub := fs.String("public-key", "", "the portal's signing public key (PEM, from: portal certificate public-key)")
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "Usage: portal receipt verify --public-key FILE RECEIPT.json\n\nChecks a submission receipt offline: that the portal signed it and that nothing in it was\nchanged since. Exit status 0: valid; 1: not valid.")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args[1:]); err != nil {
		return flagErr(err)
	}
	if *pub == "" || fs.NArg() != 1 {
		fs.Usage()
		return errors.New("--public-key and one receipt file are required")
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
	r, err := receipt.Verify(b, pk)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "valid: receipt %s for visit %s, issued %s to %s (%s), %d file(s):\n", r.ID, r.Reference,
		r.IssuedAt.Format("2006-01-02 15:04:05Z07:00"), r.Uploader.Email, r.Uploader.Issuer, len(r.Files))
	for _, f := range r.Files {
		item := f.Item
		if item == "" {
			item = "(not filed)"
		}
		fmt.Fprintf(out, "  %s  %d bytes  item %s  received %s  %q\n", f.SHA256, f.Size, item, f.UploadedAt.Format("2006-01-02 15:04:05Z07:00"), f.Name)
	}
	return nil
}
