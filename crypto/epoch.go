package crypto

import (
	"bytes"
	"fmt"
	"io"
	"time"

	"filippo.io/age"
)

// Key epochs. Visit keys are not wrapped to the master key directly but to
// an epoch key, itself an age hybrid identity kept wrapped to the master
// key outside the database. The portal moves to a new epoch after each
// destruction (re-wrapping every live visit key to it) and destroys an old
// epoch's key once backups taken before the move have expired. A copy of
// the database made before a destruction then holds the destroyed visit's
// key wrapped to an epoch key that no longer exists anywhere: the master
// key alone cannot open it.
//
// An epoch key has the same form as a master key (and the same methods:
// Wrap and Unwrap visit keys), so it is a *MasterKey. Its stored form is its
// key-file text (GenerateEpochKey) encrypted with age to the master
// recipients (WrapEpoch).

// GenerateEpochKey returns the text of a new epoch key: a comment with its
// creation time, the line saying that every visit key wrapped to it is
// bound to its visit (keybinding.go), its public recipient, then the
// secret identity.
func GenerateEpochKey(now time.Time) ([]byte, error) {
	id, err := age.GenerateHybridIdentity()
	if err != nil {
		return nil, fmt.Errorf("crypto: generate epoch key: %w", err)
	}
	var b bytes.Buffer
	fmt.Fprintf(&b, "# portal key epoch, created %s\n", now.UTC().Format(time.RFC3339))
	fmt.Fprintf(&b, "%s\n", bindsMarker)
	fmt.Fprintf(&b, "# public key: %s\n", id.Recipient())
	fmt.Fprintf(&b, "%s\n", id)
	return b.Bytes(), nil
}

// WrapEpoch encrypts an epoch key's text to the master recipients.
func (m *MasterKey) WrapEpoch(text []byte) ([]byte, error) {
	var b bytes.Buffer
	w, err := age.Encrypt(&b, m.recipients...)
	if err != nil {
		return nil, fmt.Errorf("crypto: wrap epoch key: %w", err)
	}
	if _, err := w.Write(text); err != nil {
		return nil, fmt.Errorf("crypto: wrap epoch key: %w", err)
	}
	if err := w.Close(); err != nil {
		return nil, fmt.Errorf("crypto: wrap epoch key: %w", err)
	}
	return b.Bytes(), nil
}

// UnwrapEpoch opens a wrapped epoch key. Any failure is ErrUnwrap.
func (m *MasterKey) UnwrapEpoch(wrapped []byte) (*MasterKey, error) {
	r, err := age.Decrypt(bytes.NewReader(wrapped), m.identities...)
	if err != nil {
		return nil, ErrUnwrap
	}
	text, err := io.ReadAll(io.LimitReader(r, 16<<10))
	if err != nil {
		return nil, ErrUnwrap
	}
	e, err := ParseMasterKey(bytes.NewReader(text))
	if err != nil || len(e.identities) != 1 {
		return nil, ErrUnwrap
	}
	return e, nil
}

// Recipient is the key's (first) public recipient: an epoch's name in the
// database.
func (m *MasterKey) Recipient() string { return m.public[0] }

// RewrapEpoch re-encrypts a wrapped epoch key from this master key to
// another (master key rotation). Any failure to open it is ErrUnwrap.
func (m *MasterKey) RewrapEpoch(wrapped []byte, to *MasterKey) ([]byte, error) {
	r, err := age.Decrypt(bytes.NewReader(wrapped), m.identities...)
	if err != nil {
		return nil, ErrUnwrap
	}
	text, err := io.ReadAll(io.LimitReader(r, 16<<10))
	if err != nil {
		return nil, ErrUnwrap
	}
	return to.WrapEpoch(text)
}
