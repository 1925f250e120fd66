package portal

import (
	"bytes"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/ofsted-portal/evidence/portal/retention"
)

// signedGolden returns the golden files under testdata named in sign, and
// the public key they verify with (testdata/pub). With -update and env
// set, it first writes each anew, signed with a new key, and that key.
func signedGolden(t *testing.T, pub, env string, sign map[string]func(ed25519.PrivateKey) []byte) (map[string][]byte, ed25519.PublicKey) {
	t.Helper()
	pub = filepath.Join("testdata", pub)
	if *update && os.Getenv(env) != "" {
		pk, key, _ := ed25519.GenerateKey(nil)
		for name, f := range sign {
			if err := os.WriteFile(filepath.Join("testdata", name), f(key), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		if err := os.WriteFile(pub, []byte(base64.StdEncoding.EncodeToString(pk)+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	k, err := os.ReadFile(pub)
	if err != nil {
		t.Fatal(err)
	}
	key, err := base64.StdEncoding.DecodeString(string(bytes.TrimSpace(k)))
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]byte{}
	for name, f := range sign {
		b, err := os.ReadFile(filepath.Join("testdata", name))
		if err != nil {
			t.Fatal(err)
		}
		// Today's writer writes it byte for byte (the signature aside,
		// which is the key's).
		var golden, written retention.Signed
		_, anyKey, _ := ed25519.GenerateKey(nil)
		if json.Unmarshal(b, &golden) != nil || json.Unmarshal(f(anyKey), &written) != nil || !bytes.Equal(golden.Certificate, written.Certificate) {
			t.Fatalf("%s written today:\n%s\nthe golden one:\n%s", name, written.Certificate, golden.Certificate)
		}
		out[name] = b
	}
	return out, ed25519.PublicKey(key)
}

// otherKey is a key no golden file is signed with.
var otherKey = ed25519.PublicKey(make([]byte, ed25519.PublicKeySize))
