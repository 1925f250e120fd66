package crypto

import (
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"

	"filippo.io/age"
	"golang.org/x/crypto/chacha20poly1305"
)

// VisitKey is a visit's age identity with the keys derived from it. It is
// safe for concurrent use.
type VisitKey struct {
	identity   *age.HybridIdentity
	recipient  *age.HybridRecipient
	headerSize int64
	seal       sealer
}

// ErrSealed is returned when sealed bytes cannot be opened: wrong visit, wrong
// context, or altered bytes.
var ErrSealed = errors.New("crypto: sealed value cannot be opened")

// NewVisitKey generates a fresh visit key.
func NewVisitKey() (*VisitKey, error) {
	id, err := age.GenerateHybridIdentity()
	if err != nil {
		return nil, fmt.Errorf("crypto: new visit key: %w", err)
	}
	return newVisitKey(id)
}

func newVisitKey(id *age.HybridIdentity) (*VisitKey, error) {
	k := &VisitKey{identity: id, recipient: id.Recipient()}
	sealKey, err := hkdf.Key(sha256.New, []byte(id.String()), nil, "evidence-portal seal v1", chacha20poly1305.KeySize)
	if err != nil {
		return nil, fmt.Errorf("crypto: derive seal key: %w", err)
	}
	aead, err := chacha20poly1305.NewX(sealKey)
	if err != nil {
		return nil, fmt.Errorf("crypto: derive seal key: %w", err)
	}
	k.seal = sealer{aead}
	hs, err := measureHeader(k.recipient)
	if err != nil {
		return nil, err
	}
	k.headerSize = hs
	return k, nil
}

// Fingerprint identifies the key without revealing it: the hex SHA-256 of
// its public recipient. Destruction certificates name keys by it.
func (k *VisitKey) Fingerprint() string {
	sum := sha256.Sum256([]byte(k.recipient.String()))
	return hex.EncodeToString(sum[:])
}

// Recipient is the public age recipient evidence is encrypted to.
func (k *VisitKey) Recipient() age.Recipient { return k.recipient }

// Identity decrypts evidence of this visit.
func (k *VisitKey) Identity() age.Identity { return k.identity }

// Seal encrypts a short value (a file name, a description) bound to context,
// for example "file-name:"+fileID, so that a sealed value cannot be moved to
// another row.
func (k *VisitKey) Seal(plaintext []byte, context string) []byte {
	return k.seal.seal(plaintext, context)
}

// Open reverses Seal. Any failure is ErrSealed.
func (k *VisitKey) Open(sealed []byte, context string) ([]byte, error) {
	return k.seal.open(sealed, context)
}

type sealer struct {
	aead interface {
		Seal(dst, nonce, plaintext, additionalData []byte) []byte
		Open(dst, nonce, ciphertext, additionalData []byte) ([]byte, error)
		NonceSize() int
	}
}

func (s sealer) seal(plaintext []byte, context string) []byte {
	ns := s.aead.NonceSize()
	out := make([]byte, ns, ns+len(plaintext)+chacha20poly1305.Overhead)
	if _, err := io.ReadFull(rand.Reader, out); err != nil {
		panic("crypto: no randomness: " + err.Error())
	}
	return s.aead.Seal(out, out[:ns], plaintext, []byte(context))
}

func (s sealer) open(sealed []byte, context string) ([]byte, error) {
	ns := s.aead.NonceSize()
	if len(sealed) < ns+chacha20poly1305.Overhead {
		return nil, ErrSealed
	}
	p, err := s.aead.Open(nil, sealed[:ns], sealed[ns:], []byte(context))
	if err != nil {
		return nil, ErrSealed
	}
	return p, nil
}
