package crypto

import (
	"bytes"
	"crypto/rand"
	"errors"
	"io"
	"testing"

	"filippo.io/age"
)

// readPayload decrypts ct, said to hold size bytes, with a PayloadReader
// reading blocks of the given number of chunks.
func readPayload(k *VisitKey, src io.Reader, size int64, chunks int) ([]byte, error) {
	r, err := k.NewPayloadReader(src, size, nil)
	if err != nil {
		return nil, err
	}
	buf := make([]byte, chunks*EncryptedChunkSize)
	var out []byte
	for {
		p, err := r.ReadBlock(buf)
		out = append(out, p...)
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return out, err
		}
	}
}

func encrypt(t testing.TB, k *VisitKey, p []byte) []byte {
	t.Helper()
	r, err := ageEncrypt(k, bytes.NewReader(p))
	if err != nil {
		t.Fatal(err)
	}
	ct, err := io.ReadAll(r)
	if err != nil {
		t.Fatal(err)
	}
	return ct
}

// TestPayloadReaderMatchesAge: for sizes around chunk boundaries and every
// block size, the plaintext is what age itself decrypts.
func TestPayloadReaderMatchesAge(t *testing.T) {
	k, _ := NewVisitKey()
	for _, n := range []int64{0, 1, ChunkSize - 1, ChunkSize, ChunkSize + 1, 2 * ChunkSize, 3*ChunkSize + 7, 16*ChunkSize - 1, 1<<20 + 5} {
		p := make([]byte, n)
		rand.Read(p)
		ct := encrypt(t, k, p)
		ref, err := age.Decrypt(bytes.NewReader(ct), k.identity)
		if err != nil {
			t.Fatal(err)
		}
		want, _ := io.ReadAll(ref)
		if !bytes.Equal(want, p) {
			t.Fatal("age round trip differs")
		}
		for _, chunks := range []int{1, 2, 3, 16} {
			got, err := readPayload(k, bytes.NewReader(ct), n, chunks)
			if err != nil || !bytes.Equal(got, want) {
				t.Fatalf("n=%d, %d chunks per block: err %v, equal %v", n, chunks, err, bytes.Equal(got, want))
			}
		}
	}
}

// TestPayloadReaderRefusesCorruption: every way of spoiling a segment is
// ErrCorrupt, and no plaintext of the spoiled chunk is returned.
func TestPayloadReaderRefusesCorruption(t *testing.T) {
	k, _ := NewVisitKey()
	other, _ := NewVisitKey()
	const n = 3*ChunkSize + 1000
	p := make([]byte, n)
	rand.Read(p)
	ct := encrypt(t, k, p)
	p2 := make([]byte, n)
	rand.Read(p2)
	ct2 := encrypt(t, k, p2)
	h := k.HeaderSize()
	flip := func(i int64) []byte { c := bytes.Clone(ct); c[i] ^= 1; return c }
	chunk := func(c []byte, i int64) []byte {
		return c[ChunkOffset(h, i):min(ChunkOffset(h, i+1), int64(len(c)))]
	}
	swapped := bytes.Clone(ct)
	copy(swapped[ChunkOffset(h, 0):], chunk(ct, 1))
	copy(swapped[ChunkOffset(h, 1):], chunk(ct, 0))
	spliced := bytes.Clone(ct) // chunk 1 of another file under the same key
	copy(spliced[ChunkOffset(h, 1):], chunk(ct2, 1))
	for name, tc := range map[string]struct {
		k    *VisitKey
		ct   []byte
		size int64
		// chunks before the bad one: their plaintext may be returned
		good int64
	}{
		"fail_flipped_header":            {k, flip(40), n, 0},
		"fail_flipped_nonce":             {k, flip(h + 3), n, 0},
		"fail_flipped_first_chunk":       {k, flip(ChunkOffset(h, 0) + 10), n, 0},
		"fail_flipped_middle_tag":        {k, flip(ChunkOffset(h, 2) - 1), n, 1},
		"fail_flipped_last_chunk":        {k, flip(int64(len(ct)) - 3), n, 3},
		"fail_truncated_mid_chunk":       {k, ct[:len(ct)-500], n, 3},
		"fail_truncated_at_chunk":        {k, ct[:ChunkOffset(h, 3)], n, 3},
		"fail_truncated_in_header":       {k, ct[:h/2], n, 0},
		"fail_trailing_byte":             {k, append(bytes.Clone(ct), 0), n, 4},
		"fail_trailing_chunk":            {k, append(bytes.Clone(ct), chunk(ct, 3)...), n, 4},
		"fail_size_one_less":             {k, ct, n - 1, 3},
		"fail_size_one_more":             {k, ct, n + 1, 3},
		"fail_size_chunk_less":           {k, ct, n - ChunkSize, 2},
		"fail_chunks_swapped":            {k, swapped, n, 0},
		"fail_chunk_from_another_file":   {k, spliced, n, 1},
		"fail_other_key":                 {other, ct, n, 0},
		"fail_empty_claimed_for_content": {k, ct, 0, 0},
	} {
		t.Run(name, func(t *testing.T) {
			got, err := readPayload(tc.k, bytes.NewReader(tc.ct), tc.size, 1)
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("err = %v, want ErrCorrupt", err)
			}
			if int64(len(got)) > tc.good*ChunkSize || !bytes.Equal(got, p[:len(got)]) {
				t.Fatalf("%d bytes returned, want at most the %d good chunks of the original", len(got), tc.good)
			}
		})
	}
}

func TestPayloadReaderSourceError(t *testing.T) {
	k, _ := NewVisitKey()
	ct := encrypt(t, k, make([]byte, 3*ChunkSize))
	boom := errors.New("connection reset")
	src := io.MultiReader(bytes.NewReader(ct[:len(ct)/2]), errReader{boom})
	_, err := readPayload(k, src, 3*ChunkSize, 1)
	var se *SourceError
	if !errors.As(err, &se) || !errors.Is(err, boom) || errors.Is(err, ErrCorrupt) {
		t.Fatalf("err = %v, want a SourceError wrapping the source's error", err)
	}
	if _, err := k.NewPayloadReader(bytes.NewReader(ct), 3*ChunkSize, nil); err != nil {
		t.Fatal(err)
	}
	r, _ := k.NewPayloadReader(bytes.NewReader(ct), 3*ChunkSize, nil)
	if _, err := r.ReadBlock(make([]byte, EncryptedChunkSize-1)); err == nil {
		t.Fatal("a buffer smaller than a chunk was accepted")
	}
}

// FuzzPayloadReader: for any change to a segment (bytes flipped, cut or
// appended) the reader agrees with age: it returns the plaintext only when
// age decrypts the changed file to the recorded size, and the same bytes.
func FuzzPayloadReader(f *testing.F) {
	k, _ := NewVisitKey()
	p := make([]byte, 2*ChunkSize+300)
	rand.Read(p)
	ct := encrypt(f, k, p)
	f.Add(uint32(0), byte(0), uint32(len(ct)), []byte(nil))
	f.Add(uint32(len(ct)-5), byte(1), uint32(len(ct)), []byte(nil))
	f.Add(uint32(0), byte(0), uint32(ChunkOffset(k.HeaderSize(), 2)), []byte(nil))
	f.Add(uint32(0), byte(0), uint32(len(ct)), []byte{1})
	f.Fuzz(func(t *testing.T, at uint32, xor byte, cut uint32, tail []byte) {
		c := bytes.Clone(ct)
		c[int(at)%len(c)] ^= xor
		c = append(c[:int(cut)%(len(c)+1)], tail...)
		ref, err := age.Decrypt(bytes.NewReader(c), k.identity)
		var want []byte
		if err == nil {
			want, err = io.ReadAll(ref)
		}
		ageOK := err == nil && bytes.Equal(want, p)
		got, err := readPayload(k, bytes.NewReader(c), int64(len(p)), 2)
		switch {
		case ageOK && (err != nil || !bytes.Equal(got, p)):
			t.Fatalf("age decrypts the file, the reader says %v", err)
		case !ageOK && err == nil:
			t.Fatal("the reader accepts a file age refuses (or decrypts differently)")
		case !ageOK && !bytes.Equal(got, p[:len(got)]):
			t.Fatal("the reader returned bytes that are not the original's")
		}
	})
}

// TestSegmentBinding: the MAC recorded as a segment is encrypted is the
// MAC read back from its header; another segment of the same key (a swap
// within or between files) is refused before a byte of it is returned,
// by the streaming reader and by random access alike.
func TestSegmentBinding(t *testing.T) {
	k, _ := NewVisitKey()
	seal := func(p []byte) ([]byte, []byte) {
		return encryptSegment(t, k, bytes.NewReader(p), int64(len(p)))
	}
	a, macA := seal(bytes.Repeat([]byte("a"), 70_000))
	b, macB := seal(bytes.Repeat([]byte("b"), 70_000))
	if bytes.Equal(macA, macB) || len(macA) != MACSize {
		t.Fatalf("MACs %x %x", macA, macB)
	}
	if got, _ := HeaderMAC(a[:k.HeaderSize()]); !bytes.Equal(got, macA) {
		t.Fatal("HeaderMAC differs from the MAC recorded at encryption")
	}
	if _, err := k.NewPayloadReader(bytes.NewReader(a), 70_000, macA); err != nil {
		t.Fatalf("own segment: %v", err)
	}
	if _, err := k.NewPayloadReader(bytes.NewReader(b), 70_000, macA); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("swapped segment, streaming: %v", err)
	}
	if _, _, err := k.DecryptRange(bytes.NewReader(b), int64(len(b)), macA); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("swapped segment, random access: %v", err)
	}
	if _, _, err := k.DecryptRange(bytes.NewReader(a), int64(len(a)), macA); err != nil {
		t.Fatalf("own segment, random access: %v", err)
	}
	for _, bad := range [][]byte{nil, []byte("age-encryption.org/v1\n"), []byte("--- x\n")} {
		if _, err := HeaderMAC(bad); err == nil {
			t.Errorf("HeaderMAC(%q) accepted", bad)
		}
	}
}
