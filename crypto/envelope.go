package crypto

import (
	"bytes"
	"errors"
	"fmt"
	"io"

	"filippo.io/age"
)

// Sizes of age's STREAM payload (age-encryption.org/v1).
const (
	// ChunkSize is the plaintext size of one age payload chunk.
	ChunkSize = 64 * 1024
	// chunkOverhead is the Poly1305 tag on every chunk.
	chunkOverhead = 16
	// EncryptedChunkSize is the ciphertext size of one full chunk.
	EncryptedChunkSize = ChunkSize + chunkOverhead
	// nonceSize is the payload nonce that follows the header.
	nonceSize = 16
)

// ErrCorrupt is returned when a segment fails authentication: it was altered,
// truncated or belongs to another key. Callers must not serve any byte of it.
var ErrCorrupt = errors.New("crypto: segment failed authentication")

// measureHeader encrypts nothing to r and returns the size of the age header.
// For a hybrid recipient the header has a fixed size, so one measurement
// gives the exact ciphertext size of every segment.
func measureHeader(r age.Recipient) (int64, error) {
	var b bytes.Buffer
	w, err := age.Encrypt(&b, r)
	if err != nil {
		return 0, fmt.Errorf("crypto: measure header: %w", err)
	}
	if err := w.Close(); err != nil {
		return 0, fmt.Errorf("crypto: measure header: %w", err)
	}
	// An empty payload is one empty final chunk: just its tag.
	return int64(b.Len()) - nonceSize - chunkOverhead, nil
}

// HeaderSize is the size of the age header of every segment of this key.
func (k *VisitKey) HeaderSize() int64 { return k.headerSize }

// EncryptedSize returns the exact size of the age file holding n bytes of
// plaintext: header + nonce + n + one tag per 64 KiB chunk (at least one).
func (k *VisitKey) EncryptedSize(n int64) int64 {
	return EncryptedSize(k.headerSize, n)
}

// EncryptedSize is the age file size for a header of headerSize bytes and n
// bytes of plaintext.
func EncryptedSize(headerSize, n int64) int64 {
	return headerSize + nonceSize + n + chunkOverhead*chunkCount(n)
}

// chunkCount is how many chunks hold n bytes of plaintext: at least one
// (an empty payload is one empty final chunk).
func chunkCount(n int64) int64 { return max(1, (n+ChunkSize-1)/ChunkSize) }

// ChunkOffset is where chunk i of a segment starts in its age file.
func ChunkOffset(headerSize, i int64) int64 {
	return headerSize + nonceSize + i*EncryptedChunkSize
}

// PayloadOffset is where the first chunk of a segment starts.
func PayloadOffset(headerSize int64) int64 { return headerSize + nonceSize }

// DecryptSegment reads the whole age file src (of plaintext size n) into
// dst[:n] and authenticates it. On any failure it returns ErrCorrupt, or the
// read error of src when the source itself failed.
func (k *VisitKey) DecryptSegment(dst []byte, src io.Reader) error {
	r, err := age.Decrypt(src, k.identity)
	if err != nil {
		if isSourceError(err) {
			return err
		}
		return ErrCorrupt
	}
	if _, err := io.ReadFull(r, dst); err != nil {
		if isSourceError(err) {
			return err
		}
		return ErrCorrupt
	}
	// The plaintext must end exactly here: one more byte, or a missing final
	// chunk, is corruption.
	var one [1]byte
	if n, err := io.ReadAtLeast(r, one[:], 1); n != 0 || err != io.EOF {
		if err != nil && isSourceError(err) {
			return err
		}
		return ErrCorrupt
	}
	return nil
}

// DecryptRange returns a ReaderAt of the plaintext of the age file src of
// size encryptedSize, authenticating each chunk as it is read. Read errors
// that are not the source's own become ErrCorrupt. When mac is not nil the
// header's MAC must be it (see NewPayloadReader).
func (k *VisitKey) DecryptRange(src io.ReaderAt, encryptedSize int64, mac []byte) (io.ReaderAt, int64, error) {
	if mac != nil {
		hdr := make([]byte, k.headerSize)
		if _, err := src.ReadAt(hdr, 0); err != nil {
			if isSourceError(err) {
				return nil, 0, err
			}
			return nil, 0, ErrCorrupt
		}
		if err := checkMAC(hdr, mac); err != nil {
			return nil, 0, err
		}
	}
	r, n, err := age.DecryptReaderAt(src, encryptedSize, k.identity)
	if err != nil {
		if isSourceError(err) {
			return nil, 0, err
		}
		return nil, 0, ErrCorrupt
	}
	return corruptReaderAt{r}, n, nil
}

type corruptReaderAt struct{ r io.ReaderAt }

func (c corruptReaderAt) ReadAt(p []byte, off int64) (int, error) {
	n, err := c.r.ReadAt(p, off)
	if err != nil && err != io.EOF && !isSourceError(err) {
		err = ErrCorrupt
	}
	return n, err
}

// SourceError marks an error that came from the storage below the age layer
// (a network failure), as opposed to a failed authentication.
type SourceError struct{ Err error }

func (e *SourceError) Error() string { return "crypto: read source: " + e.Err.Error() }
func (e *SourceError) Unwrap() error { return e.Err }

func isSourceError(err error) bool {
	var se *SourceError
	return errors.As(err, &se)
}
