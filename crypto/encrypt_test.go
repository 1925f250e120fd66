package crypto

import (
	"bytes"
	"crypto/rand"
	"io"
	"runtime"
	"testing"
	"testing/iotest"

	"filippo.io/age"
)

// encryptSegment encrypts p as one segment and returns its age file and
// the MAC recorded for it.
func encryptSegment(t testing.TB, k *VisitKey, src io.Reader, n int64) ([]byte, []byte) {
	t.Helper()
	r, mac, err := k.EncryptSegment(src, n)
	if err != nil {
		t.Fatal(err)
	}
	ct, err := io.ReadAll(r)
	if err != nil {
		t.Fatal(err)
	}
	return ct, mac
}

// TestSmallSegmentsReuseTheirBuffers: encrypting a small file costs a
// header, not a fresh chunk-sized buffer grown step by step (age's reader
// grew a bytes.Buffer to 128 KiB for every file, which was most of what a
// portal receiving small files allocated).
func TestSmallSegmentsReuseTheirBuffers(t *testing.T) {
	k, _ := NewVisitKey()
	p := make([]byte, ChunkSize)
	rand.Read(p)
	ct := make([]byte, k.EncryptedSize(ChunkSize)+1)
	encrypt := func() {
		r, _, err := k.EncryptSegment(bytes.NewReader(p), ChunkSize)
		if err != nil {
			t.Fatal(err)
		}
		if n, err := io.ReadFull(r, ct); err != io.ErrUnexpectedEOF || int64(n) != k.EncryptedSize(ChunkSize) {
			t.Fatalf("read %d bytes of the age file, %v", n, err)
		}
	}
	encrypt() // warm the pool
	const runs = 200
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	for range runs {
		encrypt()
	}
	runtime.ReadMemStats(&after)
	perFile := (after.TotalAlloc - before.TotalAlloc) / runs
	// The header (a post-quantum encapsulation, its stanza and MAC) costs
	// about 26 KB; a chunk buffer of its own per file would add 64 KiB.
	if limit := uint64(48 << 10); perFile > limit {
		t.Fatalf("encrypting a 64 KiB segment allocated %d bytes, want at most %d", perFile, limit)
	}
}

// TestEncryptSegmentIsAge: a segment encrypted here is an age file that
// age itself decrypts to the plaintext, of exactly EncryptedSize bytes,
// whose header carries the MAC returned; read and fed a byte at a time or
// all at once, around every chunk boundary.
func TestEncryptSegmentIsAge(t *testing.T) {
	k, _ := NewVisitKey()
	for _, n := range []int64{0, 1, ChunkSize - 1, ChunkSize, ChunkSize + 1, 2 * ChunkSize, 3*ChunkSize + 7} {
		p := make([]byte, n)
		rand.Read(p)
		for _, feed := range []string{"whole", "bytes"} {
			var src io.Reader = bytes.NewReader(p)
			if feed == "bytes" {
				src = iotest.OneByteReader(src)
			}
			r, mac, err := k.EncryptSegment(src, n)
			if err != nil {
				t.Fatal(err)
			}
			if feed == "bytes" {
				r = iotest.OneByteReader(r)
			}
			ct, err := io.ReadAll(r)
			if err != nil {
				t.Fatalf("%d bytes (%s): %v", n, feed, err)
			}
			if int64(len(ct)) != k.EncryptedSize(n) {
				t.Fatalf("%d bytes (%s): age file of %d bytes, want %d", n, feed, len(ct), k.EncryptedSize(n))
			}
			if got, err := HeaderMAC(ct[:k.HeaderSize()]); err != nil || !bytes.Equal(got, mac) {
				t.Fatalf("%d bytes (%s): header MAC %x, returned %x (%v)", n, feed, got, mac, err)
			}
			dr, err := age.Decrypt(bytes.NewReader(ct), k.Identity())
			if err != nil {
				t.Fatalf("%d bytes (%s): age: %v", n, feed, err)
			}
			got, err := io.ReadAll(dr)
			if err != nil || !bytes.Equal(got, p) {
				t.Fatalf("%d bytes (%s): age decrypted %d bytes (%v)", n, feed, len(got), err)
			}
			pr, err := k.NewPayloadReader(bytes.NewReader(ct), n, mac)
			if err != nil {
				t.Fatal(err)
			}
			buf := make([]byte, 4*EncryptedChunkSize)
			var back []byte
			for {
				b, err := pr.ReadBlock(buf)
				if err == io.EOF {
					break
				} else if err != nil {
					t.Fatalf("%d bytes (%s): payload reader: %v", n, feed, err)
				}
				back = append(back, b...)
			}
			if !bytes.Equal(back, p) {
				t.Fatalf("%d bytes (%s): payload reader read %d bytes", n, feed, len(back))
			}
		}
	}
}

// TestEncryptSegmentReadsExactly: a source that ends early fails the read
// (no short age file reaches the store), and nothing past the segment's
// size is taken from the source (the next segment's bytes stay there).
func TestEncryptSegmentReadsExactly(t *testing.T) {
	k, _ := NewVisitKey()
	p := make([]byte, 2*ChunkSize+10)
	rand.Read(p)
	r, _, err := k.EncryptSegment(bytes.NewReader(p[:ChunkSize+5]), int64(len(p)))
	if err != nil {
		t.Fatal(err)
	}
	if ct, err := io.ReadAll(r); err != io.ErrUnexpectedEOF {
		t.Fatalf("short source: read %d bytes, error %v, want io.ErrUnexpectedEOF", len(ct), err)
	}
	if _, err := r.Read(make([]byte, 10)); err != io.ErrUnexpectedEOF {
		t.Fatalf("read after the failure: %v", err)
	}
	src := bytes.NewReader(p)
	r, _, err = k.EncryptSegment(src, ChunkSize)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.ReadAll(r); err != nil {
		t.Fatal(err)
	}
	if rest := src.Len(); rest != len(p)-ChunkSize {
		t.Fatalf("the source has %d bytes left, want %d", rest, len(p)-ChunkSize)
	}
	a, macA := encryptSegment(t, k, bytes.NewReader(p), int64(len(p)))
	b, macB := encryptSegment(t, k, bytes.NewReader(p), int64(len(p)))
	if bytes.Equal(a, b) || bytes.Equal(macA, macB) {
		t.Fatal("two encryptions of the same plaintext are the same: file keys or nonces repeat")
	}
}
