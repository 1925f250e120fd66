package crypto

import (
	"bytes"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"filippo.io/age"
)

func newTestMaster(t *testing.T) *MasterKey {
	t.Helper()
	text, err := GenerateMasterKey(time.Now())
	if err != nil {
		t.Fatal(err)
	}
	m, err := ParseMasterKey(bytes.NewReader(text))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func TestWrapRoundTrip(t *testing.T) {
	m := newTestMaster(t)
	k, err := NewVisitKey()
	if err != nil {
		t.Fatal(err)
	}
	wrapped, err := m.Wrap(k)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(wrapped, []byte("age-encryption.org/v1\n-> mlkem768x25519 ")) {
		t.Fatalf("wrapped key is not a post-quantum age file: %q", wrapped[:40])
	}
	if bytes.Contains(wrapped, []byte("AGE-SECRET-KEY")) {
		t.Fatal("wrapped key contains the identity in clear")
	}
	k2, err := m.Unwrap(wrapped)
	if err != nil {
		t.Fatal(err)
	}
	if k2.Fingerprint() != k.Fingerprint() {
		t.Fatal("unwrapped key differs")
	}
	// A name sealed with the original opens with the unwrapped copy.
	sealed := k.Seal([]byte("1.01 Structure.pdf"), "file-name:f1")
	got, err := k2.Open(sealed, "file-name:f1")
	if err != nil || string(got) != "1.01 Structure.pdf" {
		t.Fatalf("open = %q, %v", got, err)
	}
}

func TestUnwrapFailures(t *testing.T) {
	m := newTestMaster(t)
	other := newTestMaster(t)
	k, _ := NewVisitKey()
	wrapped, _ := m.Wrap(k)
	tampered := bytes.Clone(wrapped)
	tampered[len(tampered)-5] ^= 1
	for name, tc := range map[string]struct {
		m *MasterKey
		b []byte
	}{
		"fail_wrong_master": {other, wrapped},
		"fail_tampered":     {m, tampered},
		"fail_truncated":    {m, wrapped[:len(wrapped)-20]},
		"fail_empty":        {m, nil},
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := tc.m.Unwrap(tc.b); !errors.Is(err, ErrUnwrap) {
				t.Fatalf("err = %v, want ErrUnwrap", err)
			}
		})
	}
}

func TestParseMasterKeyRejectsNonPQ(t *testing.T) {
	for name, text := range map[string]string{
		"fail_empty":   "# nothing\n",
		"fail_classic": "AGE-SECRET-KEY-1QQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQ\n",
		"fail_garbage": "hello\n",
	} {
		t.Run(name, func(t *testing.T) {
			_, err := ParseMasterKey(strings.NewReader(text))
			if err == nil {
				t.Fatal("accepted")
			}
			if strings.Contains(err.Error(), "QQQQ") || strings.Contains(err.Error(), "hello") {
				t.Fatalf("error echoes key material: %v", err)
			}
		})
	}
}

func TestSealFailures(t *testing.T) {
	k, _ := NewVisitKey()
	other, _ := NewVisitKey()
	sealed := k.Seal([]byte("Case of child A"), "file-name:f1")
	flipped := bytes.Clone(sealed)
	flipped[30] ^= 0x80
	for name, tc := range map[string]struct {
		k   *VisitKey
		b   []byte
		ctx string
	}{
		"fail_other_visit":   {other, sealed, "file-name:f1"},
		"fail_other_context": {k, sealed, "file-name:f2"},
		"fail_flipped":       {k, flipped, "file-name:f1"},
		"fail_short":         {k, sealed[:10], "file-name:f1"},
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := tc.k.Open(tc.b, tc.ctx); !errors.Is(err, ErrSealed) {
				t.Fatalf("err = %v", err)
			}
		})
	}
}

func TestEncryptedSizeIsExact(t *testing.T) {
	k, _ := NewVisitKey()
	for _, n := range []int64{0, 1, ChunkSize - 1, ChunkSize, ChunkSize + 1, 3*ChunkSize + 7, 1 << 20} {
		p := make([]byte, n)
		rand.Read(p)
		r, err := ageEncrypt(k, bytes.NewReader(p))
		if err != nil {
			t.Fatal(err)
		}
		ct, _ := io.ReadAll(r)
		if int64(len(ct)) != k.EncryptedSize(n) {
			t.Fatalf("n=%d: ciphertext %d bytes, formula says %d", n, len(ct), k.EncryptedSize(n))
		}
		got := make([]byte, n)
		if err := k.DecryptSegment(got, bytes.NewReader(ct)); err != nil {
			t.Fatalf("n=%d: %v", n, err)
		}
		if !bytes.Equal(got, p) {
			t.Fatalf("n=%d: round trip differs", n)
		}
	}
}

func TestDecryptSegmentCorrupt(t *testing.T) {
	k, _ := NewVisitKey()
	other, _ := NewVisitKey()
	p := make([]byte, 200_000)
	rand.Read(p)
	r, _ := ageEncrypt(k, bytes.NewReader(p))
	ct, _ := io.ReadAll(r)
	flip := func(i int64) []byte { c := bytes.Clone(ct); c[i] ^= 1; return c }
	for name, tc := range map[string]struct {
		k  *VisitKey
		ct []byte
		n  int
	}{
		"fail_flipped_first_chunk": {k, flip(ChunkOffset(k.HeaderSize(), 0) + 10), len(p)},
		"fail_flipped_last_chunk":  {k, flip(int64(len(ct)) - 3), len(p)},
		"fail_flipped_header":      {k, flip(40), len(p)},
		"fail_truncated":           {k, ct[:len(ct)-EncryptedChunkSize/2], len(p)},
		"fail_extra_plaintext":     {k, ct, len(p) - 1},
		"fail_other_key":           {other, ct, len(p)},
	} {
		t.Run(name, func(t *testing.T) {
			dst := make([]byte, tc.n)
			if err := tc.k.DecryptSegment(dst, bytes.NewReader(tc.ct)); !errors.Is(err, ErrCorrupt) {
				t.Fatalf("err = %v, want ErrCorrupt", err)
			}
		})
	}
}

func TestDecryptRange(t *testing.T) {
	k, _ := NewVisitKey()
	p := make([]byte, 5*ChunkSize+123)
	rand.Read(p)
	r, _ := ageEncrypt(k, bytes.NewReader(p))
	ct, _ := io.ReadAll(r)
	ra, n, err := k.DecryptRange(bytes.NewReader(ct), int64(len(ct)), nil)
	if err != nil || n != int64(len(p)) {
		t.Fatalf("n=%d err=%v", n, err)
	}
	got := make([]byte, 100_000)
	if _, err := ra.ReadAt(got, 70_000); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, p[70_000:170_000]) {
		t.Fatal("range differs")
	}
	bad := bytes.Clone(ct)
	bad[ChunkOffset(k.HeaderSize(), 2)+5] ^= 1
	ra, _, err = k.DecryptRange(bytes.NewReader(bad), int64(len(bad)), nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ra.ReadAt(got, 2*ChunkSize); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("err = %v, want ErrCorrupt", err)
	}
}

func TestSourceErrorIsNotCorruption(t *testing.T) {
	k, _ := NewVisitKey()
	r, _ := ageEncrypt(k, bytes.NewReader(make([]byte, 3*ChunkSize)))
	ct, _ := io.ReadAll(r)
	boom := errors.New("connection reset")
	src := io.MultiReader(bytes.NewReader(ct[:len(ct)/2]), errReader{&SourceError{boom}})
	err := k.DecryptSegment(make([]byte, 3*ChunkSize), src)
	if !errors.Is(err, boom) || errors.Is(err, ErrCorrupt) {
		t.Fatalf("err = %v, want the source's error", err)
	}
}

type errReader struct{ err error }

func (e errReader) Read([]byte) (int, error) { return 0, e.err }

func ExampleVisitKey_EncryptedSize() {
	k, _ := NewVisitKey()
	// A 32 MiB segment costs 512 tags of 16 bytes plus the header and nonce.
	overhead := k.EncryptedSize(32<<20) - 32<<20 - k.HeaderSize()
	fmt.Println(overhead == 16+512*16)
	// Output: true
}

// ageEncrypt is age's own encryption of src to the visit: the reference
// the portal's readers and EncryptSegment are checked against.
func ageEncrypt(k *VisitKey, src io.Reader) (io.Reader, error) {
	return age.EncryptReader(src, k.recipient)
}
