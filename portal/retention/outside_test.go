package retention

import (
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"os"
	"reflect"
	"testing"
	"time"
)

// TestGoldenTombstone: the note a destruction writes outside the database
// before its key goes, as written once (-update) and read by every later
// build: a restore years from now must still trust it, and nothing else.
func TestGoldenTombstone(t *testing.T) {
	want := Tombstone{Type: TombstoneType, VisitID: "0f1e2d3c4b5a69788796a5b4c3d2e1f0", Reference: "FV-2026-014", Bucket: "portal-visit-0f1e2d3c4b5a69788796a5b4c3d2e1f0",
		KeyFingerprint: "3b7c" + "00000000000000000000000000000000000000000000000000000000000a", StartedAt: time.Date(2026, 11, 30, 10, 0, 0, 0, time.UTC)}
	b := goldenTombstone(t, "tombstone-v1.json", "tombstone-signing.pub", want)
	_, other, _ := ed25519.GenerateKey(nil)
	if _, err := VerifyTombstone(b, other.Public().(ed25519.PublicKey)); err == nil {
		t.Fatal("the tombstone verifies with another key")
	}
	// A certificate is not a tombstone, even signed by the same key.
	cert, _ := os.ReadFile("testdata/certificate-v2.json")
	certPub, _ := os.ReadFile("testdata/signing.pub")
	if k, err := ParsePublicKeyPEM(certPub); err == nil {
		if _, err := VerifyTombstone(cert, k); err == nil {
			t.Fatal("a certificate read as a tombstone")
		}
	}
}

// TestGoldenDecidedTombstone: the note as written since it carries what
// the destruction was decided on (the notice, the approval, the date),
// which a restore that finishes the destruction certifies. Notes without
// it (tombstone-v1.json) are read as before.
func TestGoldenDecidedTombstone(t *testing.T) {
	want := Tombstone{Type: TombstoneType, VisitID: "0f1e2d3c4b5a69788796a5b4c3d2e1f0", Reference: "FV-2026-014", Bucket: "portal-visit-0f1e2d3c4b5a69788796a5b4c3d2e1f0",
		KeyFingerprint: "3b7c" + "00000000000000000000000000000000000000000000000000000000000a", StartedAt: time.Date(2026, 12, 7, 10, 0, 0, 0, time.UTC),
		Decided: &Decision{
			Notice:   &CertNotice{GivenAt: time.Date(2026, 11, 30, 3, 0, 0, 0, time.UTC), Period: "720h0m0s"},
			Approval: &CertApproval{Issuer: "https://idp.ofsted.example", Subject: "admin-2", Email: "records@ofsted.example", At: time.Date(2026, 12, 4, 15, 30, 0, 0, time.UTC)},
			Due:      &CertDue{DestroyOn: "2026-12-07", DestroyAfter: time.Date(2026, 12, 7, 0, 0, 0, 0, time.UTC)},
		}}
	goldenTombstone(t, "tombstone-decided-v1.json", "tombstone-decided-signing.pub", want)
}

// goldenTombstone reads the signed note testdata/name (written, with a new
// key whose public half is testdata/pubName, by -update) and fails unless
// it verifies with that key as want; it returns the note's bytes.
func goldenTombstone(t *testing.T, name, pubName string, want Tombstone) []byte {
	t.Helper()
	if *update {
		_, key, _ := ed25519.GenerateKey(nil)
		body, _ := json.Marshal(want)
		signed, _ := json.Marshal(Signed{Certificate: body, Signature: base64.StdEncoding.EncodeToString(ed25519.Sign(key, body))})
		os.WriteFile("testdata/"+name, signed, 0o644)
		os.WriteFile("testdata/"+pubName, PublicKeyPEM(key), 0o644)
	}
	pemPub, err := os.ReadFile("testdata/" + pubName)
	if err != nil {
		t.Fatal(err)
	}
	pub, err := ParsePublicKeyPEM(pemPub)
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	got, err := VerifyTombstone(b, pub)
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Fatalf("%s reads as %+v (%v), decided %+v", name, got, err, got.Decided)
	}
	return b
}
