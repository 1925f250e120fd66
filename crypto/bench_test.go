package crypto

import (
	"bytes"
	"crypto/rand"
	"io"
	"testing"
)

// segmentFixture is a visit key, a random 32 MiB segment and its age file.
func segmentFixture() (*VisitKey, []byte, []byte) {
	k, _ := NewVisitKey()
	p := make([]byte, 32<<20)
	rand.Read(p)
	r, _ := ageEncrypt(k, bytes.NewReader(p))
	ct, _ := io.ReadAll(r)
	return k, p, ct
}

func BenchmarkDecryptSegment(b *testing.B) {
	k, p, ct := segmentFixture()
	dst := make([]byte, len(p))
	b.SetBytes(int64(len(p)))
	for b.Loop() {
		if err := k.DecryptSegment(dst, bytes.NewReader(ct)); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkPayloadReader is a segment read the way downloads read it: from
// a stream, 16 chunks at a time, each block decrypted over itself.
func BenchmarkPayloadReader(b *testing.B) {
	k, p, ct := segmentFixture()
	buf := make([]byte, 16*EncryptedChunkSize)
	b.SetBytes(int64(len(p)))
	for b.Loop() {
		pr, err := k.NewPayloadReader(bytes.NewReader(ct), int64(len(p)), nil)
		if err != nil {
			b.Fatal(err)
		}
		for {
			if _, err := pr.ReadBlock(buf); err == io.EOF {
				break
			} else if err != nil {
				b.Fatal(err)
			}
		}
	}
}

func BenchmarkEncryptSegment(b *testing.B) {
	k, _ := NewVisitKey()
	p := make([]byte, 32<<20)
	rand.Read(p)
	b.SetBytes(int64(len(p)))
	for b.Loop() {
		r, _, _ := k.EncryptSegment(bytes.NewReader(p), int64(len(p)))
		io.Copy(io.Discard, r)
	}
}
