package retention

import (
	"crypto/ed25519"
	"flag"
	"os"
	"testing"
	"time"
)

// Golden vectors of destruction certificates, written once by
// `go test ./portal/retention -run Golden -update` and verified by every
// later build: a certificate issued today must verify in ten years.
var update = flag.Bool("update", false, "write the golden vectors in testdata")

func TestGoldenCertificates(t *testing.T) {
	at := time.Date(2026, 11, 30, 10, 0, 0, 0, time.UTC)
	base := Certificate{VisitID: "0f1e2d3c4b5a69788796a5b4c3d2e1f0", Reference: "FV-2026-014", KeyFingerprint: "3b7c" + "00000000000000000000000000000000000000000000000000000000000a",
		FileCount: 2, TotalBytes: 71000, ObjectsDeleted: 3, IssuedAt: at,
		Files: []CertFile{{ID: "aa11bb22cc33dd44ee55ff6600778899", SHA256: "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08", Size: 70000},
			{ID: "bb22cc33dd44ee55ff6600778899aa11", SHA256: "60303ae22b998861bce3b28f33eec1be758a213c86c93c076dbe9f558c11c752", Size: 1000}},
		Steps: CertSteps{Started: at.Add(-4 * time.Minute), KeyDestroyed: at.Add(-3 * time.Minute), ObjectsDeleted: at.Add(-time.Minute), BucketDeleted: at.Add(-time.Minute)}}
	v2 := base
	v2.Notice = &CertNotice{GivenAt: at.Add(-7 * 24 * time.Hour), Period: "168h0m0s"}
	v2.Approval = &CertApproval{Issuer: "https://login.example/ofsted", Subject: "s-admin-2", Email: "admin2@ofsted.example", At: at.Add(-2 * time.Hour)}
	v3 := v2
	v3.KeyEpoch = &CertKeyEpoch{ID: "5e6f7a8b9c0d1e2f3a4b5c6d7e8f9a0b", SupersededAt: at.Add(-2 * time.Minute), UnrecoverableFromBackupsAfter: at.Add(35*24*time.Hour - 2*time.Minute)}
	v4 := v3
	v4.Purged = []CertPurged{{ID: "cc33dd44ee55ff6600778899aa11bb22", SHA256: "2c26b46b68ffc68ff99b453c1d30413413422d706483bfa0f98a5e886266e7ae", Size: 3, PurgedAt: at.Add(-30 * 24 * time.Hour)}}
	v5 := v4
	v5.Bucket = "portal-visit-0f1e2d3c4b5a69788796a5b4c3d2e1f0"
	v5.Due = &CertDue{DestroyOn: "2026-11-30", DestroyAfter: time.Date(2026, 11, 30, 0, 0, 0, 0, time.UTC)}
	if *update && os.Getenv("UPDATE_V5_CERTIFICATE") != "" {
		// v5 came later, signed by a key of its own: the vectors written
		// before it stay as they were.
		_, key5, _ := ed25519.GenerateKey(nil)
		b, err := sign(v5, key5, CertificateTypeV5)
		if err != nil {
			t.Fatal(err)
		}
		os.WriteFile("testdata/certificate-v5.json", b, 0o644)
		os.WriteFile("testdata/signing-v5.pub", PublicKeyPEM(key5), 0o644)
	}
	if *update && os.Getenv("UPDATE_V4_CERTIFICATE") != "" {
		// v4 came later, signed by a key of its own: the vectors written
		// before it stay as they were.
		_, key4, _ := ed25519.GenerateKey(nil)
		b, err := sign(v4, key4, CertificateTypeV4)
		if err != nil {
			t.Fatal(err)
		}
		os.WriteFile("testdata/certificate-v4.json", b, 0o644)
		os.WriteFile("testdata/signing-v4.pub", PublicKeyPEM(key4), 0o644)
	}
	if *update && os.Getenv("UPDATE_V3_CERTIFICATE") != "" {
		// v3 came later, signed by a key of its own: the vectors written
		// before it stay as they were.
		_, key3, _ := ed25519.GenerateKey(nil)
		b, err := sign(v3, key3, CertificateTypeV3)
		if err != nil {
			t.Fatal(err)
		}
		os.WriteFile("testdata/certificate-v3.json", b, 0o644)
		os.WriteFile("testdata/signing-v3.pub", PublicKeyPEM(key3), 0o644)
	}
	if *update && os.Getenv("UPDATE_ALL_CERTIFICATES") != "" {
		_, key, _ := ed25519.GenerateKey(nil)
		os.WriteFile("testdata/signing.pub", PublicKeyPEM(key), 0o644)
		for name, c := range map[string]struct {
			c   Certificate
			typ string
		}{"certificate-v1.json": {base, CertificateTypeV1}, "certificate-v2.json": {v2, CertificateTypeV2}} {
			b, err := sign(c.c, key, c.typ)
			if err != nil {
				t.Fatal(err)
			}
			os.WriteFile("testdata/"+name, b, 0o644)
		}
	}
	pemPub, err := os.ReadFile("testdata/signing.pub")
	if err != nil {
		t.Fatal(err)
	}
	pub, err := ParsePublicKeyPEM(pemPub)
	if err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]struct {
		typ      string
		approval bool
	}{"certificate-v1.json": {CertificateTypeV1, false}, "certificate-v2.json": {CertificateTypeV2, true}} {
		b, err := os.ReadFile("testdata/" + name)
		if err != nil {
			t.Fatal(err)
		}
		c, err := Verify(b, pub)
		if err != nil {
			t.Fatalf("%s no longer verifies: %v", name, err)
		}
		if c.Type != want.typ || c.Reference != "FV-2026-014" || c.FileCount != 2 || c.Files[1].Size != 1000 || !c.Steps.KeyDestroyed.Equal(at.Add(-3*time.Minute)) ||
			(c.Approval != nil) != want.approval {
			t.Errorf("%s reads as %+v", name, c)
		}
		if want.approval && (c.Approval.Email != "admin2@ofsted.example" || c.Notice.Period != "168h0m0s") {
			t.Errorf("%s: approval %+v notice %+v", name, c.Approval, c.Notice)
		}
		_, other, _ := ed25519.GenerateKey(nil)
		if _, err := Verify(b, other.Public().(ed25519.PublicKey)); err == nil {
			t.Errorf("%s verifies with another key", name)
		}
	}
	pem3, err := os.ReadFile("testdata/signing-v3.pub")
	if err != nil {
		t.Fatal(err)
	}
	pub3, err := ParsePublicKeyPEM(pem3)
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile("testdata/certificate-v3.json")
	if err != nil {
		t.Fatal(err)
	}
	c, err := Verify(b, pub3)
	if err != nil {
		t.Fatalf("certificate-v3.json no longer verifies: %v", err)
	}
	if c.Type != CertificateTypeV3 || c.KeyEpoch == nil || c.KeyEpoch.ID != v3.KeyEpoch.ID || !c.KeyEpoch.SupersededAt.Equal(v3.KeyEpoch.SupersededAt) ||
		!c.KeyEpoch.UnrecoverableFromBackupsAfter.Equal(v3.KeyEpoch.UnrecoverableFromBackupsAfter) || c.Approval == nil || c.FileCount != 2 {
		t.Errorf("certificate-v3.json reads as %+v", c)
	}
	if _, err := Verify(b, pub); err == nil {
		t.Error("certificate-v3.json verifies with the v1/v2 vectors' key")
	}
	pem4, err := os.ReadFile("testdata/signing-v4.pub")
	if err != nil {
		t.Fatal(err)
	}
	pub4, err := ParsePublicKeyPEM(pem4)
	if err != nil {
		t.Fatal(err)
	}
	b4, err := os.ReadFile("testdata/certificate-v4.json")
	if err != nil {
		t.Fatal(err)
	}
	c4, err := Verify(b4, pub4)
	if err != nil {
		t.Fatalf("certificate-v4.json no longer verifies: %v", err)
	}
	if c4.Type != CertificateTypeV4 || len(c4.Purged) != 1 || !c4.Purged[0].PurgedAt.Equal(v4.Purged[0].PurgedAt) ||
		c4.Purged[0].SHA256 != v4.Purged[0].SHA256 || c4.Purged[0].Size != 3 || c4.FileCount != 2 || c4.KeyEpoch == nil {
		t.Errorf("certificate-v4.json reads as %+v", c4)
	}
	if _, err := Verify(b4, pub3); err == nil {
		t.Error("certificate-v4.json verifies with the v3 vector's key")
	}
	pem5, err := os.ReadFile("testdata/signing-v5.pub")
	if err != nil {
		t.Fatal(err)
	}
	pub5, err := ParsePublicKeyPEM(pem5)
	if err != nil {
		t.Fatal(err)
	}
	b5, err := os.ReadFile("testdata/certificate-v5.json")
	if err != nil {
		t.Fatal(err)
	}
	c5, err := Verify(b5, pub5)
	if err != nil {
		t.Fatalf("certificate-v5.json no longer verifies: %v", err)
	}
	if c5.Type != CertificateTypeV5 || c5.Bucket != v5.Bucket || c5.Due == nil || c5.Due.DestroyOn != "2026-11-30" || !c5.Due.DestroyAfter.Equal(v5.Due.DestroyAfter) ||
		len(c5.Purged) != 1 || c5.KeyEpoch == nil || c5.FileCount != 2 {
		t.Errorf("certificate-v5.json reads as %+v", c5)
	}
	if _, err := Verify(b5, pub4); err == nil {
		t.Error("certificate-v5.json verifies with the v4 vector's key")
	}
}
