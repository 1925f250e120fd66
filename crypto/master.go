package crypto

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"filippo.io/age"
)

// MasterKey wraps and unwraps visit keys. It holds one or more age hybrid
// identities; new wraps go to all of their recipients, so a key file may list
// the current identity and, during a rotation, the next one.
type MasterKey struct {
	identities []age.Identity
	recipients []age.Recipient
	public     []string
	// bindsKeys: every visit key wrapped to this key must be bound to its
	// visit (an epoch key whose text carries bindsMarker; keybinding.go).
	bindsKeys bool
}

// ErrUnwrap is returned when a wrapped visit key cannot be opened with the
// master key: wrong master key, or the wrapped bytes were altered.
var ErrUnwrap = errors.New("crypto: visit key cannot be unwrapped with this master key")

// GenerateMasterKey returns the text of a new master key file: a comment with
// the creation time and public recipient, then the secret identity.
func GenerateMasterKey(now time.Time) ([]byte, error) {
	id, err := age.GenerateHybridIdentity()
	if err != nil {
		return nil, fmt.Errorf("crypto: generate master key: %w", err)
	}
	var b bytes.Buffer
	fmt.Fprintf(&b, "# portal master key, created %s\n", now.UTC().Format(time.RFC3339))
	fmt.Fprintf(&b, "# public key: %s\n", id.Recipient())
	fmt.Fprintf(&b, "%s\n", id)
	return b.Bytes(), nil
}

// LoadMasterKey reads a master key file. Lines starting with # and blank
// lines are ignored; every other line must be an age hybrid identity
// (AGE-SECRET-KEY-PQ-1...). The file must not be readable by others, nor
// by its group unless that group is the process's own (see keyFileMode).
func LoadMasterKey(path string) (*MasterKey, error) {
	f, err := OpenKeyFile(path, "crypto: master key")
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return ParseMasterKey(f)
}

// OpenKeyFile opens a secret key file for reading, refusing one that is
// open to others: readable by others, writable by its group, or readable
// by a group not the process's own (see keyFileMode). The mode checked is
// the open file's own, so the file cannot be swapped between the check
// and the read. what names the key in errors.
func OpenKeyFile(path, what string) (*os.File, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	if !keyFileMode(fi) {
		f.Close()
		return nil, fmt.Errorf("%s %s is open to others (mode %v, or readable by a group not the portal's): run chmod 600 on it", what, path, fi.Mode().Perm())
	}
	return f, nil
}

// ParseMasterKey parses master key text as written by GenerateMasterKey.
func ParseMasterKey(r io.Reader) (*MasterKey, error) {
	m := &MasterKey{}
	sc := bufio.NewScanner(r)
	line := 0
	for sc.Scan() {
		line++
		s := strings.TrimSpace(sc.Text())
		if s == bindsMarker {
			m.bindsKeys = true
		}
		if s == "" || strings.HasPrefix(s, "#") {
			continue
		}
		id, err := age.ParseHybridIdentity(s)
		if err != nil {
			// Never echo the line: it may be a secret with a typo in it.
			return nil, fmt.Errorf("crypto: master key line %d is not an age post-quantum identity (AGE-SECRET-KEY-PQ-1...)", line)
		}
		m.identities = append(m.identities, id)
		m.recipients = append(m.recipients, id.Recipient())
		m.public = append(m.public, id.Recipient().String())
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("crypto: master key: %w", err)
	}
	if len(m.identities) == 0 {
		return nil, errors.New("crypto: master key file holds no identity")
	}
	return m, nil
}

// Recipients returns the public recipients that new wraps are encrypted to.
func (m *MasterKey) Recipients() []string { return append([]string(nil), m.public...) }

// Wrap encrypts a visit key's identity to the master recipients, bound to
// no visit (format v1): the self-test's throwaway key. A visit's key is
// wrapped with WrapFor.
func (m *MasterKey) Wrap(k *VisitKey) ([]byte, error) {
	return m.wrapText(k.identity.String())
}

func (m *MasterKey) wrapText(text string) ([]byte, error) {
	var b bytes.Buffer
	w, err := age.Encrypt(&b, m.recipients...)
	if err != nil {
		return nil, fmt.Errorf("crypto: wrap visit key: %w", err)
	}
	if _, err := io.WriteString(w, text); err != nil {
		return nil, fmt.Errorf("crypto: wrap visit key: %w", err)
	}
	if err := w.Close(); err != nil {
		return nil, fmt.Errorf("crypto: wrap visit key: %w", err)
	}
	return b.Bytes(), nil
}

// Unwrap opens a wrapped visit key without asking which visit it is bound
// to: a binding must still be this key's own, and an unbound key is refused
// when this key binds every key (keybinding.go). The portal opens a
// visit's key with UnwrapFor. Any failure is ErrUnwrap.
func (m *MasterKey) Unwrap(wrapped []byte) (*VisitKey, error) {
	k, bound, err := m.unwrap(wrapped)
	if err != nil {
		return nil, err
	}
	if bound == "" && m.bindsKeys {
		return nil, ErrUnwrap
	}
	return k, nil
}

func readAllLimit(r io.Reader, n int64) ([]byte, error) { return io.ReadAll(io.LimitReader(r, n)) }
