package crypto

import (
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/sha256"
	"errors"
	"fmt"

	"filippo.io/age"
	"golang.org/x/crypto/chacha20poly1305"
)

// Keys derived for purposes other than evidence.
//
// A name index is HMAC-SHA-256 of a (normalised) file name under
// HKDF-SHA-256(visit identity, "evidence-portal name index v1"): two equal
// names in one visit have equal indexes, so the database can refuse a second
// file of the same name in an item without holding the name, and destroying
// the visit key makes the indexes meaningless. Pinned by
// testdata/derived-v1.json.
//
// A Box seals the portal's own short-lived secrets (the sign-in cookie, the ID
// token kept for sign-out) under HKDF-SHA-256(the master key's first identity,
// "evidence-portal box v1 " + purpose), as 0x01 ‖ nonce(24) ‖
// XChaCha20-Poly1305 with a context as additional data. Rotating the master
// key changes the box keys: what was sealed before no longer opens, which
// costs an unfinished sign-in and the provider-side sign-out of open sessions.
const (
	nameIndexLabel = "evidence-portal name index v1"
	boxLabel       = "evidence-portal box v1 "
	boxVersion1    = 0x01
)

// NameIndexSize is the length of a name index.
const NameIndexSize = sha256.Size

// NameIndex returns the keyed hash of name for this visit. The caller
// normalises the name first; equal input gives equal output.
func (k *VisitKey) NameIndex(name string) []byte {
	m := hmac.New(sha256.New, k.nameKey)
	m.Write([]byte(name))
	return m.Sum(nil)
}

func deriveNameKey(id *age.HybridIdentity) ([]byte, error) {
	key, err := hkdf.Key(sha256.New, []byte(id.String()), nil, nameIndexLabel, sha256.Size)
	if err != nil {
		return nil, fmt.Errorf("crypto: derive name index key: %w", err)
	}
	return key, nil
}

// Box seals short secrets of one purpose under a key derived from the master
// key. It is safe for concurrent use.
type Box struct{ s sealer }

// ErrBox is returned when a sealed secret does not open: another key (a
// rotated master key), another purpose or context, or altered bytes.
var ErrBox = errors.New("crypto: sealed secret cannot be opened")

// Box returns the box of a purpose, such as "signin-cookie".
func (m *MasterKey) Box(purpose string) (*Box, error) {
	id, ok := m.identities[0].(*age.HybridIdentity)
	if !ok || purpose == "" {
		return nil, errors.New("crypto: no box without a hybrid master identity and a purpose")
	}
	key, err := hkdf.Key(sha256.New, []byte(id.String()), nil, boxLabel+purpose, chacha20poly1305.KeySize)
	if err != nil {
		return nil, fmt.Errorf("crypto: derive box key: %w", err)
	}
	aead, err := chacha20poly1305.NewX(key)
	if err != nil {
		return nil, fmt.Errorf("crypto: derive box key: %w", err)
	}
	return &Box{sealer{aead}}, nil
}

// Seal encrypts a secret bound to context.
func (b *Box) Seal(plaintext []byte, context string) []byte {
	return b.s.seal([]byte{boxVersion1}, plaintext, context)
}

// Open reverses Seal; any failure is ErrBox.
func (b *Box) Open(sealed []byte, context string) ([]byte, error) {
	if len(sealed) == 0 || sealed[0] != boxVersion1 {
		return nil, ErrBox
	}
	p, err := b.s.open(sealed[1:], context)
	if err != nil {
		return nil, ErrBox
	}
	return p, nil
}
