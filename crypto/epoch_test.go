package crypto

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"os"
	"testing"
	"time"
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
	if *update {
		text, _ := GenerateEpochKey(time.Date(2026, 11, 30, 0, 0, 0, 0, time.UTC))
		wrapped, err := master.WrapEpoch(text)
		if err != nil {
			t.Fatal(err)
		}
		epoch, _ := master.UnwrapEpoch(wrapped)
		vk, _ := NewVisitKey()
		wv, _ := epoch.Wrap(vk)
		g := goldenEpoch{base64.StdEncoding.EncodeToString(wrapped), epoch.Recipient(), base64.StdEncoding.EncodeToString(wv), vk.Fingerprint()}
		b, _ := json.MarshalIndent(g, "", "  ")
		if err := os.WriteFile("testdata/epoch-v1.json", append(b, '\n'), 0o644); err != nil {
			t.Fatal(err)
		}
	}
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
