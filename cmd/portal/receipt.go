package main

import (
	"crypto/ed25519"
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
	pk, b, err := signedArgs("receipt verify", args[1:], "RECEIPT.json", "receipt",
		"Checks a submission receipt offline: that the portal signed it and that nothing in it was\nchanged since. Exit status 0: valid; 1: not valid.")
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

// signedArgs parses "--public-key FILE DOCUMENT" for an offline check of
// something the portal signed (a certificate, a receipt) and returns the
// public key and the document's bytes.
func signedArgs(name string, args []string, doc, what, about string) (ed25519.PublicKey, []byte, error) {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	pub := fs.String("public-key", "", "the portal's signing public key (PEM, from: portal certificate public-key)")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: portal %s --public-key FILE %s\n\n%s\n", name, doc, about)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return nil, nil, flagErr(err)
	}
	if *pub == "" || fs.NArg() != 1 {
		fs.Usage()
		return nil, nil, fmt.Errorf("--public-key and one %s file are required", what)
	}
	pemBytes, err := os.ReadFile(*pub)
	if err != nil {
		return nil, nil, err
	}
	pk, err := retention.ParsePublicKeyPEM(pemBytes)
	if err != nil {
		return nil, nil, err
	}
	b, err := os.ReadFile(fs.Arg(0))
	return pk, b, err
}
