package crypto

import (
	"bytes"
	"crypto/rand"
	"io"
	"testing"
)

func BenchmarkDecryptSegment(b *testing.B) {
	k, _ := NewVisitKey()
	p := make([]byte, 32<<20)
	rand.Read(p)
	r, _ := k.EncryptReader(bytes.NewReader(p))
	ct, _ := io.ReadAll(r)
	dst := make([]byte, len(p))
	b.SetBytes(int64(len(p)))
	for b.Loop() {
		if err := k.DecryptSegment(dst, bytes.NewReader(ct)); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDecryptSegmentInPlace(b *testing.B) {
	k, _ := NewVisitKey()
	p := make([]byte, 32<<20)
	rand.Read(p)
	r, _ := k.EncryptReader(bytes.NewReader(p))
	ct, _ := io.ReadAll(r)
	buf := make([]byte, len(ct))
	b.SetBytes(int64(len(p)))
	for b.Loop() {
		copy(buf, ct) // what the GET does
		if _, err := k.DecryptSegmentInPlace(buf); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkEncryptSegment(b *testing.B) {
	k, _ := NewVisitKey()
	p := make([]byte, 32<<20)
	rand.Read(p)
	b.SetBytes(int64(len(p)))
	for b.Loop() {
		r, _ := k.EncryptReader(bytes.NewReader(p))
		io.Copy(io.Discard, r)
	}
}
