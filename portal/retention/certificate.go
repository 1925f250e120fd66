package retention

import (
	"crypto/ed25519"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"slices"
	"time"

	"github.com/ofsted-portal/evidence/crypto"
	"github.com/ofsted-portal/evidence/portal/internal/jsonform"
)

// Certificate formats. A verifier reads every one: v2 adds how the
// destruction was authorised (the notice and, when given, the approval);
// v3 adds the key epoch, and so when the visit key became unrecoverable
// from backups of the database too; v4 lists apart the files purged before
// destruction (misdirected uploads), by id, size, SHA-256 and when; v5
// adds the bucket destroyed and when the destruction was due, so that the
// certificate alone shows it was not early.
const (
	CertificateTypeV1 = "evidence-portal destruction certificate v1"
	CertificateTypeV2 = "evidence-portal destruction certificate v2"
	CertificateTypeV3 = "evidence-portal destruction certificate v3"
	CertificateTypeV4 = "evidence-portal destruction certificate v4"
	CertificateTypeV5 = "evidence-portal destruction certificate v5"
	// CertificateType is what Sign writes.
	CertificateType = CertificateTypeV5
)

// Certificate records one visit's destruction. It names no person and no
// file: files appear by id, size and SHA-256 only.
type Certificate struct {
	Type           string `json:"type"`
	VisitID        string `json:"visit_id"`
	Reference      string `json:"reference"`
	KeyFingerprint string `json:"key_fingerprint"`
	FileCount      int    `json:"file_count"`
	TotalBytes     int64  `json:"total_bytes"`
	ObjectsDeleted int    `json:"objects_deleted"` // object versions in the bucket when destruction began, all gone
	// v2: the segments the files had, and how many were gone before
	// destruction began (expired by the store's lifecycle backstop).
	SegmentsExpected   int        `json:"segments_expected,omitempty"`
	SegmentsGoneBefore int        `json:"segments_gone_before,omitempty"`
	Files              []CertFile `json:"files"`
	Steps              CertSteps  `json:"steps"`
	IssuedAt           time.Time  `json:"issued_at"`
	SignerKey          string     `json:"signer_public_key"` // base64 Ed25519
	// v2: the notice given to administrators, and the approval of one
	// of them when the destruction did not wait for the notice to run.
	Notice   *CertNotice   `json:"notice,omitempty"`
	Approval *CertApproval `json:"approval,omitempty"`
	// v3: the key epoch the visit key was wrapped to when it was deleted
	// (absent for a key wrapped to the master key directly, by an earlier
	// version); any epoch it was wrapped to before was superseded earlier.
	KeyEpoch *CertKeyEpoch `json:"key_epoch,omitempty"`
	// v4: the files an administrator purged before destruction (their
	// objects deleted then); never in Files. Empty, not absent, in v4.
	Purged []CertPurged `json:"purged,omitempty"`
	// v5: the visit's bucket, deleted with every object version in it.
	Bucket string `json:"bucket,omitempty"`
	// v5: when the destruction was due (absent when the database held no
	// publication, as for one applied again after a restore of a backup
	// taken before it was recorded).
	Due *CertDue `json:"due,omitempty"`
}

// CertDue is when a destruction was due: the date the schedule set (the
// publication date plus the retention period, a civil date in London) and
// the first moment it could run, that day's start in London or, when no
// administrator approved it, the end of the notice if later. A
// destruction that was not early has Steps.Started at or after
// DestroyAfter.
type CertDue struct {
	DestroyOn    string    `json:"destroy_on"` // YYYY-MM-DD, London
	DestroyAfter time.Time `json:"destroy_after"`
}

// CertPurged is one file purged before the visit's destruction.
type CertPurged struct {
	ID       string    `json:"id"`
	SHA256   string    `json:"sha256"`
	Size     int64     `json:"size"`
	PurgedAt time.Time `json:"purged_at"`
}

// CertKeyEpoch says when a destroyed visit key stopped being recoverable
// from copies of the database (backups, archived logs, replicas): those
// copies hold it wrapped to the epoch's key, which is kept outside the
// database and destroyed at UnrecoverableFromBackupsAfter, once every live
// key had moved off the epoch (SupersededAt) and the backups taken before
// that had expired.
type CertKeyEpoch struct {
	ID                            string    `json:"id"`
	SupersededAt                  time.Time `json:"superseded_at"`
	UnrecoverableFromBackupsAfter time.Time `json:"unrecoverable_from_backups_after"`
}

// CertNotice is the notice of destruction administrators were given.
type CertNotice struct {
	GivenAt time.Time `json:"given_at"`
	Period  string    `json:"period"`
}

// CertApproval is the administrator who approved the destruction.
type CertApproval struct {
	Issuer  string    `json:"issuer"`
	Subject string    `json:"subject"`
	Email   string    `json:"email"`
	At      time.Time `json:"at"`
}

// CertFile is one destroyed file.
type CertFile struct {
	ID     string `json:"id"`
	SHA256 string `json:"sha256"`
	Size   int64  `json:"size"`
}

// CertSteps are the times of each destruction step.
type CertSteps struct {
	Started        time.Time `json:"started"`
	KeyDestroyed   time.Time `json:"key_destroyed"`
	ObjectsDeleted time.Time `json:"objects_deleted"`
	BucketDeleted  time.Time `json:"bucket_deleted"`
}

// Signed is a certificate with its signature, as stored and served. The
// signature covers the exact bytes of Certificate.
type Signed struct {
	Certificate json.RawMessage `json:"certificate"`
	Signature   string          `json:"signature"` // base64 Ed25519
}

// Sign serialises and signs a certificate in the current format.
func Sign(c Certificate, key ed25519.PrivateKey) ([]byte, error) {
	return sign(c, key, CertificateType)
}

func sign(c Certificate, key ed25519.PrivateKey, typ string) ([]byte, error) {
	c.Type = typ
	c.SignerKey = base64.StdEncoding.EncodeToString(key.Public().(ed25519.PublicKey))
	body, err := json.Marshal(c)
	if err != nil {
		return nil, err
	}
	return SignBody(body, key), nil
}

// SignBody wraps body, compact JSON, in a Signed envelope signed with key:
// a certificate, and the other records kept outside the database (a
// destruction's note, a purge's).
func SignBody(body []byte, key ed25519.PrivateKey) []byte {
	b, _ := json.Marshal(Signed{Certificate: body, Signature: base64.StdEncoding.EncodeToString(ed25519.Sign(key, body))})
	return b
}

// OpenSigned returns the body of a Signed envelope whose signature
// verifies with trusted over the body's exact bytes (ErrBadSignature
// otherwise).
func OpenSigned(signed []byte, trusted ed25519.PublicKey) ([]byte, error) {
	var s Signed
	if err := json.Unmarshal(signed, &s); err != nil {
		return nil, ErrBadSignature
	}
	sig, err := base64.StdEncoding.DecodeString(s.Signature)
	if err != nil || !ed25519.Verify(trusted, s.Certificate, sig) {
		return nil, ErrBadSignature
	}
	return s.Certificate, nil
}

// ErrBadSignature is returned when a certificate does not verify.
var ErrBadSignature = errors.New("retention: certificate signature does not verify")

// Verify checks a signed certificate against a trusted public key and
// returns its contents.
func Verify(signed []byte, trusted ed25519.PublicKey) (Certificate, error) {
	var s Signed
	if err := json.Unmarshal(signed, &s); err != nil {
		return Certificate{}, fmt.Errorf("retention: not a signed certificate: %w", err)
	}
	// The signed bytes are compact JSON as encoding/json writes it: the
	// file may have been pretty-printed, its strings escaped otherwise,
	// on its way to the verifier (jsonform).
	forms, err := jsonform.Forms(s.Certificate)
	if err != nil {
		return Certificate{}, ErrBadSignature
	}
	sig, err := base64.StdEncoding.DecodeString(s.Signature)
	if err != nil || !slices.ContainsFunc(forms, func(body []byte) bool { return ed25519.Verify(trusted, body, sig) }) {
		return Certificate{}, ErrBadSignature
	}
	var c Certificate
	if err := json.Unmarshal(s.Certificate, &c); err != nil || !slices.Contains([]string{CertificateTypeV1, CertificateTypeV2, CertificateTypeV3, CertificateTypeV4, CertificateTypeV5}, c.Type) {
		return Certificate{}, fmt.Errorf("retention: signed, but not a destruction certificate")
	}
	return c, nil
}

// GenerateSigningKey returns a new Ed25519 key as PKCS#8 PEM (readable by
// openssl too).
func GenerateSigningKey() ([]byte, error) {
	_, priv, err := ed25519.GenerateKey(nil)
	if err != nil {
		return nil, err
	}
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		return nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), nil
}

// LoadSigningKey reads a PKCS#8 PEM Ed25519 private key from a file held
// to the master key's rule: not open to others (crypto.OpenKeyFile). It
// signs certificates, receipts and the audit trail's checkpoints.
func LoadSigningKey(path string) (ed25519.PrivateKey, error) {
	f, err := crypto.OpenKeyFile(path, "signing key")
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(f)
	if err != nil {
		return nil, fmt.Errorf("signing key: %w", err)
	}
	return ParseSigningKey(b, path)
}

// ParseSigningKey parses a PKCS#8 PEM Ed25519 private key; name says
// where it came from, in errors.
func ParseSigningKey(b []byte, path string) (ed25519.PrivateKey, error) {
	blk, _ := pem.Decode(b)
	if blk == nil {
		return nil, fmt.Errorf("signing key %s is not PEM", path)
	}
	k, err := x509.ParsePKCS8PrivateKey(blk.Bytes)
	if err != nil {
		return nil, fmt.Errorf("signing key %s: %w", path, err)
	}
	ek, ok := k.(ed25519.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("signing key %s is not Ed25519", path)
	}
	return ek, nil
}

// PublicKeyPEM is the public half as PKIX PEM, for verifiers.
func PublicKeyPEM(k ed25519.PrivateKey) []byte {
	der, _ := x509.MarshalPKIXPublicKey(k.Public())
	return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
}

// ParsePublicKeyPEM reads a PKIX PEM Ed25519 public key.
func ParsePublicKeyPEM(b []byte) (ed25519.PublicKey, error) {
	blk, _ := pem.Decode(b)
	if blk == nil {
		return nil, errors.New("public key is not PEM")
	}
	k, err := x509.ParsePKIXPublicKey(blk.Bytes)
	if err != nil {
		return nil, err
	}
	pk, ok := k.(ed25519.PublicKey)
	if !ok {
		return nil, errors.New("public key is not Ed25519")
	}
	return pk, nil
}
