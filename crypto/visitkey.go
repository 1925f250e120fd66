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
	seal       sealer // the current sealing format (v2)
	fp         string
	sealV1     sealer // reads values sealed before the format carried its version
	nameKey    []byte // keys NameIndex
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
	sum := sha256.Sum256([]byte(k.recipient.String()))
	k.fp = hex.EncodeToString(sum[:])
	var err error
	if k.seal, err = newSealer(id, sealV2); err != nil {
		return nil, err
	}
	if k.sealV1, err = newSealer(id, sealV1); err != nil {
		return nil, err
	}
	if k.nameKey, err = deriveNameKey(id); err != nil {
		return nil, err
	}
	hs, err := measureHeader(k.recipient)
	if err != nil {
		return nil, err
	}
	k.headerSize = hs
	return k, nil
}

// Fingerprint identifies the key without revealing it: the hex SHA-256 of
// its public recipient. Destruction certificates name keys by it.
func (k *VisitKey) Fingerprint() string { return k.fp }

// Recipient is the public age recipient evidence is encrypted to.
func (k *VisitKey) Recipient() age.Recipient { return k.recipient }

// Identity decrypts evidence of this visit.
func (k *VisitKey) Identity() age.Identity { return k.identity }

// Sealed values (names, titles, reasons) are XChaCha20-Poly1305 under a key
// derived from the visit identity, bound to a context string such as
// "file-name:<visit>:<file>" as additional data, so that a sealed value
// cannot be moved to another row. Formats:
//
//	v1: nonce(24) ‖ ciphertext, key HKDF-SHA-256(identity, "evidence-portal seal v1")
//	v2: 0x02 ‖ nonce(24) ‖ ciphertext, key HKDF-SHA-256(identity, "evidence-portal seal v2")
//
// Seal writes v2; Open reads both (a v1 value whose nonce happens to start
// with 0x02 fails v2's authentication and is then read as v1). Both are
// pinned by testdata/seal-*.json.
const (
	sealV1 = "evidence-portal seal v1"
	sealV2 = "evidence-portal seal v2"

	sealVersion2 = 0x02
)

// Seal encrypts a short value bound to context (format v2).
func (k *VisitKey) Seal(plaintext []byte, context string) []byte {
	return k.seal.seal([]byte{sealVersion2}, plaintext, context)
}

// Open reverses Seal, for values of every format. Any failure is
// ErrSealed.
func (k *VisitKey) Open(sealed []byte, context string) ([]byte, error) {
	if len(sealed) > 0 && sealed[0] == sealVersion2 {
		if p, err := k.seal.open(sealed[1:], context); err == nil {
			return p, nil
		}
	}
	return k.sealV1.open(sealed, context)
}

type sealer struct {
	aead interface {
		Seal(dst, nonce, plaintext, additionalData []byte) []byte
		Open(dst, nonce, ciphertext, additionalData []byte) ([]byte, error)
		NonceSize() int
	}
}

func newSealer(id *age.HybridIdentity, label string) (sealer, error) {
	key, err := hkdf.Key(sha256.New, []byte(id.String()), nil, label, chacha20poly1305.KeySize)
	if err != nil {
		return sealer{}, fmt.Errorf("crypto: derive seal key: %w", err)
	}
	aead, err := chacha20poly1305.NewX(key)
	if err != nil {
		return sealer{}, fmt.Errorf("crypto: derive seal key: %w", err)
	}
	return sealer{aead}, nil
}

// seal writes prefix ‖ nonce ‖ ciphertext.
func (s sealer) seal(prefix, plaintext []byte, context string) []byte {
	ns := s.aead.NonceSize()
	out := make([]byte, len(prefix)+ns, len(prefix)+ns+len(plaintext)+chacha20poly1305.Overhead)
	copy(out, prefix)
	nonce := out[len(prefix):]
	if _, err := io.ReadFull(rand.Reader, nonce); err != nil {
		panic("crypto: no randomness: " + err.Error())
	}
	return s.aead.Seal(out, nonce, plaintext, []byte(context))
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
