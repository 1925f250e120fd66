package crypto

import (
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/sha256"
	"errors"
	"io"

	"filippo.io/age"
	"golang.org/x/crypto/chacha20poly1305"
)

// PayloadReader decrypts one segment's age file read front to back from a
// stream, a block of chunks at a time, each chunk over the bytes it was read
// into. It lets a download move through the processor's cache in small
// blocks instead of holding and re-copying a whole segment.
//
// The header is parsed and unwrapped by age (age.DecryptHeader checks its
// MAC). The payload is age's STREAM (age-encryption.org/v1): ChaCha20-
// Poly1305 over 64 KiB chunks, the nonce an 11-byte big-endian counter and a
// final-chunk flag, under HKDF-SHA-256(file key, payload nonce, "payload").
// The plaintext size is known in advance, so the final chunk is known by
// its position and must carry the flag: a segment cut short, extended,
// reordered or from another file fails authentication. Every chunk is
// authenticated before any byte of it is returned; bytes of earlier chunks
// of a segment that later turns out corrupt may already have been returned.
type PayloadReader struct {
	src    io.Reader
	aead   cipher.AEAD
	nonce  [chacha20poly1305.NonceSize]byte
	next   int64 // index of the next chunk
	chunks int64 // chunks in the payload (at least one)
	size   int64 // plaintext size
	mac    []byte
	err    error
}

// NewPayloadReader reads the header and payload nonce of an age file of
// plaintextSize bytes from src and returns a reader of its payload. src
// must hold exactly the age file: EncryptedSize(k.HeaderSize(),
// plaintextSize) bytes. When mac is not nil the header's MAC must be it
// (the segment is the one recorded at upload), or the segment is corrupt.
func (k *VisitKey) NewPayloadReader(src io.Reader, plaintextSize int64, mac []byte) (*PayloadReader, error) {
	if plaintextSize < 0 {
		return nil, errors.New("crypto: negative plaintext size")
	}
	hdr := make([]byte, k.headerSize+nonceSize)
	if _, err := io.ReadFull(src, hdr); err != nil {
		return nil, readError(err)
	}
	if err := checkMAC(hdr[:k.headerSize], mac); err != nil {
		return nil, err
	}
	fileKey, err := age.DecryptHeader(hdr[:k.headerSize], k.identity)
	if err != nil {
		return nil, ErrCorrupt
	}
	aead, err := payloadAEAD(fileKey, hdr[k.headerSize:])
	if err != nil {
		return nil, ErrCorrupt
	}
	if mac == nil {
		// age.DecryptHeader took the header: it ends with its MAC.
		if mac, err = HeaderMAC(hdr[:k.headerSize]); err != nil {
			return nil, err
		}
	}
	return &PayloadReader{src: src, aead: aead, chunks: chunkCount(plaintextSize), size: plaintextSize, mac: mac}, nil
}

// MAC is the MAC of the segment's header: the one it was asked to carry,
// or, when none was, the one it carries (to be recorded once the
// segment's content is known to be the file's).
func (r *PayloadReader) MAC() []byte { return r.mac }

// payloadAEAD is the cipher of an age payload: ChaCha20-Poly1305 under
// HKDF-SHA-256(file key, payload nonce, "payload").
func payloadAEAD(fileKey, nonce []byte) (cipher.AEAD, error) {
	key, err := hkdf.Key(sha256.New, fileKey, nonce, "payload", chacha20poly1305.KeySize)
	if err != nil {
		return nil, err
	}
	defer clear(key)
	return chacha20poly1305.New(key)
}

// ReadBlock reads as many whole chunks as fit in buf (at least one must:
// len(buf) >= EncryptedChunkSize), authenticates and decrypts them, and
// returns their plaintext, which is at the start of buf. At the end of the
// payload it returns io.EOF, after checking that src has nothing more.
// Errors are ErrCorrupt for content that fails authentication or is cut
// short, and SourceError for a failure of src itself; after an error the
// reader returns it again.
func (r *PayloadReader) ReadBlock(buf []byte) ([]byte, error) {
	if r.err != nil {
		return nil, r.err
	}
	if len(buf) < EncryptedChunkSize {
		return nil, errors.New("crypto: ReadBlock buffer smaller than one chunk")
	}
	if r.next == r.chunks {
		// Trailing data after the final chunk is corruption.
		var one [1]byte
		switch n, err := io.ReadFull(r.src, one[:]); {
		case n == 0 && err == io.EOF:
			r.err = io.EOF
		case n > 0:
			r.err = ErrCorrupt
		default:
			r.err = readError(err)
		}
		return nil, r.err
	}
	k := min(int64(len(buf)/EncryptedChunkSize), r.chunks-r.next)
	ctLen := r.chunkStart(r.next+k) - r.chunkStart(r.next)
	if _, err := io.ReadFull(r.src, buf[:ctLen]); err != nil {
		r.err = readError(err)
		return nil, r.err
	}
	var pt int
	for ct := int64(0); ct < ctLen; r.next++ {
		n := min(EncryptedChunkSize, ctLen-ct)
		chunk := buf[ct : ct+n]
		setStreamNonce(&r.nonce, r.next, r.chunks)
		if _, err := r.aead.Open(chunk[:0], r.nonce[:], chunk, nil); err != nil {
			r.err = ErrCorrupt
			return nil, r.err
		}
		// The plaintext of chunk i moves down over the tags of chunks
		// before it while it is still in cache.
		pt += copy(buf[pt:], chunk[:n-chunkOverhead])
		ct += n
	}
	return buf[:pt], nil
}

// chunkStart is where the ciphertext of chunk i starts in the payload (the
// payload's size for i == chunks).
func (r *PayloadReader) chunkStart(i int64) int64 {
	if i == r.chunks {
		return r.size + chunkOverhead*r.chunks
	}
	return i * EncryptedChunkSize
}

// setStreamNonce sets nonce to that of chunk i of a payload of chunks
// chunks: i big-endian in the first 11 bytes, and the final-chunk flag in
// the last.
func setStreamNonce(nonce *[chacha20poly1305.NonceSize]byte, i, chunks int64) {
	n := uint64(i)
	for j := len(nonce) - 2; j >= 0; j-- {
		nonce[j] = byte(n)
		n >>= 8
	}
	nonce[len(nonce)-1] = 0
	if i == chunks-1 {
		nonce[len(nonce)-1] = 1
	}
}

// readError maps a short read to corruption (the object is shorter than
// its recorded size) and anything else to a SourceError.
func readError(err error) error {
	if err == io.EOF || err == io.ErrUnexpectedEOF {
		return ErrCorrupt
	}
	if isSourceError(err) {
		return err
	}
	return &SourceError{Err: err}
}
