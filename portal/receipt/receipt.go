// Package receipt is the signed submission receipt: the provider's proof of
// what it supplied to a visit and when (a file's name, item, size and
// SHA-256, when it arrived and who sent it), signed with the portal's
// signing key, the one that signs destruction certificates.
//
// Invariants: a receipt is signed once, when it is issued, and kept as
// signed; anyone holding the portal's public key checks it offline
// (portal receipt verify), and a receipt changed in any byte of its body
// does not verify. The format is pinned by golden vectors in testdata: a
// receipt issued today must verify in ten years. A receipt names a file
// and a person, so the portal keeps it only sealed under the visit key.
package receipt

import (
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/ofsted-portal/evidence/portal/internal/jsonform"
)

// Type names the format; TypeV1 is what Sign writes.
const TypeV1 = "evidence-portal submission receipt v1"

// Kinds of receipt: one completed upload, or a batch sent from the upload
// page.
const (
	KindUpload = "upload"
	KindBatch  = "batch"
)

// Receipt is what a signed receipt says.
type Receipt struct {
	Type      string    `json:"type"`
	ID        string    `json:"id"`
	Kind      string    `json:"kind"`
	VisitID   string    `json:"visit_id"`
	Reference string    `json:"reference"`
	Uploader  Uploader  `json:"uploader"`
	Files     []File    `json:"files"`
	IssuedAt  time.Time `json:"issued_at"`
	SignerKey string    `json:"signer_public_key"` // base64 Ed25519
}

// Uploader is who sent the files: the account at its identity provider.
type Uploader struct {
	Issuer  string `json:"issuer"`
	Subject string `json:"subject"`
	Email   string `json:"email"`
}

// File is one file received.
type File struct {
	ID         string    `json:"id"`
	Item       string    `json:"item"` // "" when not filed under an item
	Name       string    `json:"name"`
	Size       int64     `json:"size"`
	SHA256     string    `json:"sha256"`
	UploadedAt time.Time `json:"uploaded_at"`
}

// Signed is a receipt with its signature, as kept and served. The signature
// covers the exact bytes of Receipt.
type Signed struct {
	Receipt   json.RawMessage `json:"receipt"`
	Signature string          `json:"signature"` // base64 Ed25519
}

// Sign serialises and signs a receipt in the current format. Ed25519 is
// deterministic: the same receipt and key give the same bytes.
func Sign(r Receipt, key ed25519.PrivateKey) ([]byte, error) {
	r.Type = TypeV1
	r.SignerKey = base64.StdEncoding.EncodeToString(key.Public().(ed25519.PublicKey))
	r.IssuedAt = r.IssuedAt.UTC()
	for i := range r.Files {
		r.Files[i].UploadedAt = r.Files[i].UploadedAt.UTC()
	}
	body, err := json.Marshal(r)
	if err != nil {
		return nil, err
	}
	return json.Marshal(Signed{Receipt: body, Signature: base64.StdEncoding.EncodeToString(ed25519.Sign(key, body))})
}

// ErrBadSignature is returned when a receipt does not verify: it was
// changed, or signed by another key.
var ErrBadSignature = errors.New("receipt: signature does not verify")

// Verify checks a signed receipt against a trusted public key and returns
// what it says.
func Verify(signed []byte, trusted ed25519.PublicKey) (Receipt, error) {
	var s Signed
	if err := json.Unmarshal(signed, &s); err != nil {
		return Receipt{}, fmt.Errorf("receipt: not a signed receipt: %w", err)
	}
	// The signed bytes are compact JSON as encoding/json writes it: the
	// file may have been pretty-printed, its strings escaped otherwise,
	// on its way to the verifier (jsonform).
	forms, err := jsonform.Forms(s.Receipt)
	if err != nil {
		return Receipt{}, ErrBadSignature
	}
	sig, err := base64.StdEncoding.DecodeString(s.Signature)
	if err != nil || !slices.ContainsFunc(forms, func(body []byte) bool { return ed25519.Verify(trusted, body, sig) }) {
		return Receipt{}, ErrBadSignature
	}
	var r Receipt
	if err := json.Unmarshal(s.Receipt, &r); err != nil || r.Type != TypeV1 {
		return Receipt{}, errors.New("receipt: signed, but not a submission receipt")
	}
	return r, nil
}

// Parse reads a signed receipt without checking its signature: for a copy
// whose integrity is known otherwise (the portal's own, sealed). Anyone
// else uses Verify.
func Parse(signed []byte) (Receipt, error) {
	var s Signed
	var r Receipt
	if err := json.Unmarshal(signed, &s); err != nil {
		return r, fmt.Errorf("receipt: not a signed receipt: %w", err)
	}
	if err := json.Unmarshal(s.Receipt, &r); err != nil || r.Type != TypeV1 {
		return Receipt{}, errors.New("receipt: not a submission receipt")
	}
	return r, nil
}
