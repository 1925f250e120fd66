package receipt

import (
	"bytes"
	"crypto/ed25519"
	"flag"
	"os"
	"testing"
	"time"

	"github.com/ofsted-portal/evidence/portal/retention"
)

// Golden vectors of submission receipts, written once by
// `go test ./portal/receipt -run Golden -update` and read by every later
// build: a receipt issued today must verify, and be re-made byte for byte,
// in ten years.
var update = flag.Bool("update", false, "write the golden vectors in testdata")

func goldenReceipt() Receipt {
	at := time.Date(2026, 11, 30, 10, 0, 0, 0, time.UTC)
	return Receipt{ID: "4d5e6f708192a3b4c5d6e7f801234567", Kind: KindBatch, VisitID: "0f1e2d3c4b5a69788796a5b4c3d2e1f0", Reference: "FV-2026-014",
		Uploader: Uploader{Issuer: "https://login.example/cafcass", Subject: "s-uploader-1", Email: "uploader@cafcass.example"},
		Files: []File{
			{ID: "aa11bb22cc33dd44ee55ff6600778899", Item: "1.03", Name: "1.03 MI report é.xlsx", Size: 70000, SHA256: "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08", UploadedAt: at.Add(-2 * time.Minute)},
			{ID: "bb22cc33dd44ee55ff6600778899aa11", Item: "", Name: "notes.txt", Size: 0, SHA256: "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", UploadedAt: at.Add(-time.Minute)},
		},
		IssuedAt: at}
}

func TestGoldenReceipts(t *testing.T) {
	if *update {
		pemKey, err := retention.GenerateSigningKey()
		if err != nil {
			t.Fatal(err)
		}
		os.WriteFile("testdata/signing.key", pemKey, 0o600)
		key, err := retention.LoadSigningKey("testdata/signing.key")
		if err != nil {
			t.Fatal(err)
		}
		b, err := Sign(goldenReceipt(), key)
		if err != nil {
			t.Fatal(err)
		}
		os.WriteFile("testdata/receipt-v1.json", b, 0o644)
		os.WriteFile("testdata/signing.pub", retention.PublicKeyPEM(key), 0o644)
	}
	pemPub, err := os.ReadFile("testdata/signing.pub")
	if err != nil {
		t.Fatal(err)
	}
	pub, err := retention.ParsePublicKeyPEM(pemPub)
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile("testdata/receipt-v1.json")
	if err != nil {
		t.Fatal(err)
	}
	r, err := Verify(b, pub)
	if err != nil {
		t.Fatalf("receipt-v1.json no longer verifies: %v", err)
	}
	want := goldenReceipt()
	if r.Type != TypeV1 || r.Reference != want.Reference || r.Kind != KindBatch || r.Uploader != want.Uploader || len(r.Files) != 2 ||
		r.Files[0].Name != want.Files[0].Name || r.Files[0].Size != 70000 || r.Files[1].SHA256 != want.Files[1].SHA256 ||
		!r.Files[0].UploadedAt.Equal(want.Files[0].UploadedAt) || !r.IssuedAt.Equal(want.IssuedAt) {
		t.Errorf("receipt-v1.json reads as %+v", r)
	}
	// The signing key is kept with the vectors (it signs nothing else), so
	// that the format itself is pinned: the same receipt signs to the same
	// bytes. A renamed field or a changed label fails here. It is a test
	// vector, not a secret, and git keeps no file mode tighter than 0644,
	// so it is parsed rather than loaded (LoadSigningKey refuses it).
	pemKey, err := os.ReadFile("testdata/signing.key")
	if err != nil {
		t.Fatal(err)
	}
	key, err := retention.ParseSigningKey(pemKey, "testdata/signing.key")
	if err != nil {
		t.Fatal(err)
	}
	again, err := Sign(goldenReceipt(), key)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(again, b) {
		t.Errorf("the format changed: a receipt now signs to\n%s\nnot\n%s", again, b)
	}
	_, other, _ := ed25519.GenerateKey(nil)
	if _, err := Verify(b, other.Public().(ed25519.PublicKey)); err == nil {
		t.Error("receipt-v1.json verifies with another key")
	}
}

// TestEditedReceiptsAreRefused: a change to any field, or to the signature,
// is refused; pretty-printing is not a change.
func TestEditedReceiptsAreRefused(t *testing.T) {
	pub, priv, _ := ed25519.GenerateKey(nil)
	b, err := Sign(goldenReceipt(), priv)
	if err != nil {
		t.Fatal(err)
	}
	for name, edit := range map[string][2]string{
		"size":      {`"size":70000`, `"size":70001`},
		"name":      {`1.03 MI report`, `1.04 MI report`},
		"time":      {`"issued_at":"2026-11-30T10:00:00Z"`, `"issued_at":"2026-11-29T10:00:00Z"`},
		"uploader":  {`uploader@cafcass.example`, `coordinator@cafcass.example`},
		"signature": {`"signature":"`, `"signature":"AA`},
	} {
		t.Run(name, func(t *testing.T) {
			edited := bytes.Replace(b, []byte(edit[0]), []byte(edit[1]), 1)
			if bytes.Equal(edited, b) {
				t.Fatalf("%q is not in the receipt", edit[0])
			}
			if _, err := Verify(edited, pub); err == nil {
				t.Fatal("an edited receipt verified")
			}
		})
	}
	var pretty bytes.Buffer
	if err := jsonIndent(&pretty, b); err != nil {
		t.Fatal(err)
	}
	if _, err := Verify(pretty.Bytes(), pub); err != nil {
		t.Errorf("a pretty-printed receipt does not verify: %v", err)
	}
}
