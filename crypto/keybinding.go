package crypto

import (
	"bytes"
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"strings"

	"filippo.io/age"
)

// Binding a wrapped visit key to its visit (wrapped key format v2).
//
// age encrypts to a public recipient and does not say who encrypted, and a
// key epoch's recipient is in the database: anyone who can write there
// could wrap a visit key of their own to it and put it, with its
// fingerprint, in a visit's row (the portal would then seal and encrypt
// that visit's new names and evidence to a key they hold), or copy another
// visit's row (whose key would then outlive that visit's destruction). So
// the wrapped text holds, after the identity's line, the line
//
//	visit <visit id> <base64 HMAC-SHA-256(K, visit id ‖ "\n" ‖ identity)>
//
// with K = HKDF-SHA-256(the wrapping identity's text, "evidence-portal
// visit key binding v1"): only a holder of the wrapping key writes it.
// Format v1 (the identity alone) is what earlier versions wrote; it is
// read, except under an epoch key whose text says that every key wrapped
// to it is bound (bindsMarker, written by GenerateEpochKey since v2): a
// key epoch started by this version accepts bound keys only. Pinned by
// testdata/epoch-v2.json.
const (
	bindingLabel  = "evidence-portal visit key binding v1"
	bindingPrefix = "visit "
	// bindsMarker is the line of an epoch key's text that makes it refuse
	// unbound visit keys. The text is only ever read encrypted to the
	// master key, by its recipient's holder, so it cannot be forged
	// without the epoch's own secret.
	bindsMarker = "# visit keys bound: v1"
)

// BindsKeys reports whether every visit key wrapped to this key must be
// bound to its visit (an epoch key made since format v2).
func (m *MasterKey) BindsKeys() bool { return m.bindsKeys }

func bindingMAC(wrapper age.Identity, visitID, identity string) ([]byte, bool) {
	id, ok := wrapper.(*age.HybridIdentity)
	if !ok {
		return nil, false
	}
	key, err := hkdf.Key(sha256.New, []byte(id.String()), nil, bindingLabel, sha256.Size)
	if err != nil {
		return nil, false
	}
	m := hmac.New(sha256.New, key)
	m.Write([]byte(visitID))
	m.Write([]byte("\n"))
	m.Write([]byte(identity))
	return m.Sum(nil), true
}

// WrapFor encrypts a visit key's identity to the master (or epoch)
// recipients, bound to the visit visitID.
func (m *MasterKey) WrapFor(k *VisitKey, visitID string) ([]byte, error) {
	if visitID == "" || strings.ContainsAny(visitID, " \n") {
		return nil, ErrUnwrap
	}
	id := k.identity.String()
	mac, ok := bindingMAC(m.identities[0], visitID, id)
	if !ok {
		return nil, ErrUnwrap
	}
	return m.wrapText(id + "\n" + bindingPrefix + visitID + " " + base64.RawStdEncoding.EncodeToString(mac) + "\n")
}

// UnwrapFor opens the wrapped key of the visit visitID: a bound key must be
// bound to it by this key; an unbound one (format v1) is refused when this
// key binds every key wrapped to it. Any failure is ErrUnwrap.
func (m *MasterKey) UnwrapFor(wrapped []byte, visitID string) (*VisitKey, error) {
	if visitID == "" {
		return nil, ErrUnwrap
	}
	k, bound, err := m.unwrap(wrapped)
	if err != nil {
		return nil, err
	}
	if bound != visitID && (bound != "" || m.bindsKeys) {
		return nil, ErrUnwrap
	}
	return k, nil
}

// unwrap opens a wrapped visit key and returns the visit it is bound to
// ("" for format v1); a binding that this key did not write is ErrUnwrap.
func (m *MasterKey) unwrap(wrapped []byte) (*VisitKey, string, error) {
	r, err := age.Decrypt(bytes.NewReader(wrapped), m.identities...)
	if err != nil {
		return nil, "", ErrUnwrap
	}
	b, err := readAllLimit(r, 4096)
	if err != nil {
		return nil, "", ErrUnwrap
	}
	idText, rest, bound := strings.Cut(string(b), "\n")
	visitID := ""
	if bound {
		line, ok := strings.CutSuffix(rest, "\n")
		line, ok2 := strings.CutPrefix(line, bindingPrefix)
		vid, macText, ok3 := strings.Cut(line, " ")
		mac, err := base64.RawStdEncoding.Strict().DecodeString(macText)
		if !ok || !ok2 || !ok3 || vid == "" || err != nil || !m.bindingValid(vid, idText, mac) {
			return nil, "", ErrUnwrap
		}
		visitID = vid
	}
	id, err := age.ParseHybridIdentity(idText)
	if err != nil {
		return nil, "", ErrUnwrap
	}
	k, err := newVisitKey(id)
	if err != nil {
		return nil, "", ErrUnwrap
	}
	return k, visitID, nil
}

func (m *MasterKey) bindingValid(visitID, identity string, mac []byte) bool {
	for _, w := range m.identities {
		if want, ok := bindingMAC(w, visitID, identity); ok && hmac.Equal(want, mac) {
			return true
		}
	}
	return false
}
