package crypto

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"os"
	"strings"
	"testing"
	"time"

	"filippo.io/age"
)

// goldenEpoch pins the stored forms of key epochs: an epoch key wrapped to
// testdata/master.key, and a visit key wrapped to that epoch key.
type goldenEpoch struct {
	WrappedEpoch    string `json:"wrapped_epoch"`
	EpochRecipient  string `json:"epoch_recipient"`
	WrappedVisitKey string `json:"wrapped_visit_key"`
	Fingerprint     string `json:"fingerprint"`
}

func TestGoldenEpoch(t *testing.T) {
	master := goldenMaster(t)
	// v1 is no longer written: GenerateEpochKey and WrapFor write v2
	// (TestGoldenEpochV2). Its vectors must still read.
	b, err := os.ReadFile("testdata/epoch-v1.json")
	if err != nil {
		t.Fatal(err)
	}
	var g goldenEpoch
	if err := json.Unmarshal(b, &g); err != nil {
		t.Fatal(err)
	}
	wrapped, _ := base64.StdEncoding.DecodeString(g.WrappedEpoch)
	epoch, err := master.UnwrapEpoch(wrapped)
	if err != nil || epoch.Recipient() != g.EpochRecipient {
		t.Fatalf("the golden epoch key: %v", err)
	}
	wv, _ := base64.StdEncoding.DecodeString(g.WrappedVisitKey)
	vk, err := epoch.Unwrap(wv)
	if err != nil || vk.Fingerprint() != g.Fingerprint {
		t.Fatalf("the golden visit key under the epoch: %v", err)
	}
	// The master key alone does not open a visit key wrapped to an epoch.
	if _, err := master.Unwrap(wv); !errors.Is(err, ErrUnwrap) {
		t.Fatalf("the master key opened a key wrapped to an epoch: %v", err)
	}
}

func TestEpochWrapRefusesOtherMasters(t *testing.T) {
	m1text, _ := GenerateMasterKey(time.Now())
	m2text, _ := GenerateMasterKey(time.Now())
	m1, _ := ParseMasterKey(bytes.NewReader(m1text))
	m2, _ := ParseMasterKey(bytes.NewReader(m2text))
	text, _ := GenerateEpochKey(time.Now())
	wrapped, _ := m1.WrapEpoch(text)
	if _, err := m2.UnwrapEpoch(wrapped); !errors.Is(err, ErrUnwrap) {
		t.Fatalf("another master opened the epoch: %v", err)
	}
	tampered := append([]byte(nil), wrapped...)
	tampered[len(tampered)-5] ^= 1
	if _, err := m1.UnwrapEpoch(tampered); !errors.Is(err, ErrUnwrap) {
		t.Fatalf("a tampered epoch opened: %v", err)
	}
}

func TestRewrapEpochMovesToTheNewMaster(t *testing.T) {
	m1text, _ := GenerateMasterKey(time.Now())
	m2text, _ := GenerateMasterKey(time.Now())
	m1, _ := ParseMasterKey(bytes.NewReader(m1text))
	m2, _ := ParseMasterKey(bytes.NewReader(m2text))
	text, _ := GenerateEpochKey(time.Now())
	wrapped, _ := m1.WrapEpoch(text)
	e1, _ := m1.UnwrapEpoch(wrapped)
	moved, err := m1.RewrapEpoch(wrapped, m2)
	if err != nil {
		t.Fatal(err)
	}
	e2, err := m2.UnwrapEpoch(moved)
	if err != nil || e2.Recipient() != e1.Recipient() {
		t.Fatalf("the re-wrapped epoch: %v", err)
	}
	if _, err := m1.UnwrapEpoch(moved); !errors.Is(err, ErrUnwrap) {
		t.Fatalf("the old master still opens the re-wrapped epoch: %v", err)
	}
	if _, err := m2.RewrapEpoch(wrapped, m1); !errors.Is(err, ErrUnwrap) {
		t.Fatalf("re-wrapping with the wrong master: %v", err)
	}
}

// goldenEpochV2 pins an epoch key that binds the keys wrapped to it, and a
// visit key wrapped to it bound to its visit (keybinding.go).
type goldenEpochV2 struct {
	goldenEpoch
	VisitID string `json:"visit_id"`
}

func TestGoldenEpochV2(t *testing.T) {
	master := goldenMaster(t)
	if *update {
		text, _ := GenerateEpochKey(time.Date(2026, 12, 3, 0, 0, 0, 0, time.UTC))
		wrapped, err := master.WrapEpoch(text)
		if err != nil {
			t.Fatal(err)
		}
		epoch, _ := master.UnwrapEpoch(wrapped)
		vk, _ := NewVisitKey()
		wv, _ := epoch.WrapFor(vk, "visit-1")
		g := goldenEpochV2{goldenEpoch{base64.StdEncoding.EncodeToString(wrapped), epoch.Recipient(), base64.StdEncoding.EncodeToString(wv), vk.Fingerprint()}, "visit-1"}
		b, _ := json.MarshalIndent(g, "", "  ")
		if err := writeNew("testdata/epoch-v2.json", append(b, '\n'), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	b, err := os.ReadFile("testdata/epoch-v2.json")
	if err != nil {
		t.Fatal(err)
	}
	var g goldenEpochV2
	if err := json.Unmarshal(b, &g); err != nil {
		t.Fatal(err)
	}
	wrapped, _ := base64.StdEncoding.DecodeString(g.WrappedEpoch)
	epoch, err := master.UnwrapEpoch(wrapped)
	if err != nil || epoch.Recipient() != g.EpochRecipient || !epoch.bindsKeys {
		t.Fatalf("the golden v2 epoch key: %v", err)
	}
	wv, _ := base64.StdEncoding.DecodeString(g.WrappedVisitKey)
	vk, err := epoch.UnwrapFor(wv, g.VisitID)
	if err != nil || vk.Fingerprint() != g.Fingerprint {
		t.Fatalf("the golden bound visit key under the epoch: %v", err)
	}
	if _, err := epoch.UnwrapFor(wv, "visit-2"); !errors.Is(err, ErrUnwrap) {
		t.Fatalf("the golden bound visit key opened as another visit's: %v", err)
	}
}

// TestBoundVisitKeys: a key wrapped for a visit opens as that visit's key
// only; one wrapped to an epoch's public recipient by anyone else (bound to
// nothing, or with a binding they made up) does not open under an epoch
// that binds its keys; an epoch key of v1 still reads the keys of v1.
func TestBoundVisitKeys(t *testing.T) {
	mtext, _ := GenerateMasterKey(time.Now())
	master, _ := ParseMasterKey(bytes.NewReader(mtext))
	text, _ := GenerateEpochKey(time.Now())
	wrappedEpoch, _ := master.WrapEpoch(text)
	epoch, err := master.UnwrapEpoch(wrappedEpoch)
	if err != nil || !epoch.bindsKeys {
		t.Fatalf("a new epoch key does not bind its keys: %v", err)
	}
	vk, _ := NewVisitKey()
	w, err := epoch.WrapFor(vk, "v1")
	if err != nil {
		t.Fatal(err)
	}
	if k, err := epoch.UnwrapFor(w, "v1"); err != nil || k.Fingerprint() != vk.Fingerprint() {
		t.Fatalf("a bound key does not open for its visit: %v", err)
	}
	for _, visit := range []string{"v2", ""} {
		if _, err := epoch.UnwrapFor(w, visit); !errors.Is(err, ErrUnwrap) {
			t.Fatalf("a key bound to v1 opened for %q: %v", visit, err)
		}
	}
	// Forged: encrypted to the epoch's public recipient by someone without
	// its secret, unbound or with a made-up binding.
	rcpt := epoch.recipients[0]
	forge := func(plain string) []byte {
		var b bytes.Buffer
		wr, _ := age.Encrypt(&b, rcpt)
		io.WriteString(wr, plain)
		wr.Close()
		return b.Bytes()
	}
	attacker, _ := NewVisitKey()
	for name, plain := range map[string]string{
		"unbound":        attacker.identity.String(),
		"made-up mac":    attacker.identity.String() + "\nvisit v1 " + base64.RawStdEncoding.EncodeToString(make([]byte, 32)) + "\n",
		"trailing line":  attacker.identity.String() + "\n",
		"binding reused": attacker.identity.String() + "\n" + strings.SplitN(mustOpen(t, epoch, w), "\n", 2)[1],
	} {
		if _, err := epoch.UnwrapFor(forge(plain), "v1"); !errors.Is(err, ErrUnwrap) {
			t.Errorf("%s: a forged key opened: %v", name, err)
		}
		if _, err := epoch.Unwrap(forge(plain)); !errors.Is(err, ErrUnwrap) {
			t.Errorf("%s: a forged key opened (Unwrap): %v", name, err)
		}
	}
	// Keys of v1 under an epoch key of v1 (no marker) still open.
	old, _ := GenerateEpochKey(time.Now())
	oldEpoch, _ := ParseMasterKey(bytes.NewReader(bytes.Replace(old, []byte(bindsMarker+"\n"), nil, 1)))
	legacy, _ := oldEpoch.Wrap(vk)
	if k, err := oldEpoch.UnwrapFor(legacy, "v1"); err != nil || k.Fingerprint() != vk.Fingerprint() {
		t.Fatalf("a v1 key under a v1 epoch: %v", err)
	}
	if _, err := epoch.UnwrapFor(forge(vk.identity.String()), "v1"); !errors.Is(err, ErrUnwrap) {
		t.Fatal("an unbound key opened under an epoch that binds its keys")
	}
}

// mustOpen returns the plaintext of a wrapped key.
func mustOpen(t *testing.T, m *MasterKey, wrapped []byte) string {
	t.Helper()
	r, err := age.Decrypt(bytes.NewReader(wrapped), m.identities...)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(r)
	return string(b)
}
