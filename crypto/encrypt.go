package crypto

import (
	"bytes"
	"crypto/cipher"
	"errors"
	"fmt"
	"io"
	"sync"

	"filippo.io/age"
	"golang.org/x/crypto/chacha20poly1305"
)

// EncryptSegment returns a reader of the age file of the next n bytes of
// src, encrypted to the visit, and the MAC of its header, which binds the
// segment to its file and place (see HeaderMAC). The reader yields exactly
// EncryptedSize(n) bytes; if src ends before n bytes, reading fails with
// io.ErrUnexpectedEOF (or src's error), so no short age file can be
// produced. Nothing is read from src beyond n bytes.
//
// The header is age's own (age.Encrypt writes it, the file key wrapped to
// the visit's hybrid recipient); the payload is age's STREAM written here,
// a chunk at a time into a buffer shared between uploads: age's reader
// grows a fresh buffer for every file, which made a small upload's
// encryption allocate about 290 KB. Since n is known, the final chunk is
// known by its position, as age.Decrypt and PayloadReader expect it.
func (k *VisitKey) EncryptSegment(src io.Reader, n int64) (io.Reader, []byte, error) {
	if n < 0 {
		return nil, nil, errors.New("crypto: negative plaintext size")
	}
	tap := &fileKeyTap{r: k.recipient}
	var head bytes.Buffer
	head.Grow(int(k.headerSize + nonceSize))
	if _, err := age.Encrypt(&head, tap); err != nil {
		return nil, nil, fmt.Errorf("crypto: encrypt: %w", err)
	}
	// age.Encrypt has written the header and the payload nonce; the stream
	// writer it returns is not used.
	if int64(head.Len()) != k.headerSize+nonceSize || tap.fileKey == nil {
		return nil, nil, errors.New("crypto: encrypt: unexpected age header")
	}
	hdr := head.Bytes()
	mac, err := HeaderMAC(hdr[:k.headerSize])
	if err != nil {
		return nil, nil, fmt.Errorf("crypto: encrypt: %w", err)
	}
	aead, err := payloadAEAD(tap.fileKey, hdr[k.headerSize:])
	clear(tap.fileKey)
	if err != nil {
		return nil, nil, fmt.Errorf("crypto: encrypt: %w", err)
	}
	return &segmentEncrypter{src: src, aead: aead, out: hdr, chunks: chunkCount(n), size: n}, mac, nil
}

// fileKeyTap is the visit's recipient, keeping the file key age wraps to
// it, so that the payload can be encrypted here under age's header.
type fileKeyTap struct {
	r       *age.HybridRecipient
	fileKey []byte
}

func (t *fileKeyTap) Wrap(fileKey []byte) ([]*age.Stanza, error) {
	t.fileKey = bytes.Clone(fileKey)
	return t.r.Wrap(fileKey)
}

func (t *fileKeyTap) WrapWithLabels(fileKey []byte) ([]*age.Stanza, []string, error) {
	t.fileKey = bytes.Clone(fileKey)
	return t.r.WrapWithLabels(fileKey)
}

// chunkPool holds buffers of one encrypted chunk, shared by uploads.
var chunkPool = sync.Pool{New: func() any { b := make([]byte, EncryptedChunkSize); return &b }}

// segmentEncrypter is age's STREAM over a payload of known size: 64 KiB
// chunks under payloadAEAD, the nonce an 11-byte big-endian counter and a
// final-chunk flag (setStreamNonce).
type segmentEncrypter struct {
	src    io.Reader
	aead   cipher.AEAD
	nonce  [chacha20poly1305.NonceSize]byte
	out    []byte // encrypted bytes not yet read (the header, then a chunk)
	buf    *[]byte
	next   int64 // index of the next chunk to encrypt
	chunks int64
	size   int64
	err    error
}

func (e *segmentEncrypter) Read(p []byte) (int, error) {
	for len(e.out) == 0 {
		if e.err != nil {
			return 0, e.err
		}
		if e.next == e.chunks {
			e.release()
			e.err = io.EOF
			return 0, e.err
		}
		if e.err = e.seal(); e.err != nil {
			e.release()
		}
	}
	n := copy(p, e.out)
	e.out = e.out[n:]
	return n, nil
}

// seal reads and encrypts chunk e.next into the shared buffer.
func (e *segmentEncrypter) seal() error {
	if e.buf == nil {
		e.buf = chunkPool.Get().(*[]byte)
	}
	n := min(ChunkSize, e.size-e.next*ChunkSize)
	chunk := (*e.buf)[:n]
	if _, err := io.ReadFull(e.src, chunk); err != nil {
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return err
	}
	setStreamNonce(&e.nonce, e.next, e.chunks)
	e.out = e.aead.Seal(chunk[:0], e.nonce[:], chunk, nil)
	e.next++
	return nil
}

// release gives the chunk buffer back once nothing more will be read from
// it (the last chunk has been read out, or reading failed).
func (e *segmentEncrypter) release() {
	if e.buf != nil {
		chunkPool.Put(e.buf)
		e.buf, e.out = nil, nil
	}
}
