package crypto

import (
	"bytes"
	"crypto/subtle"
	"encoding/base64"
)

// Binding a segment to its file and place. Every segment of a visit is an
// age file under the same key, so a segment copied over another (by someone
// with write access to the bucket) would decrypt and authenticate. The
// header MAC of each segment differs (it is keyed by the segment's random
// file key), so the portal records the MAC of every segment at upload, in
// order, and compares the header of every segment it reads before
// decrypting it: a swapped, reordered, replaced or foreign segment is
// corrupt before any byte of it is used.

// MACSize is the size of an age header MAC.
const MACSize = 32

// HeaderMAC returns the MAC on the last line of an age header ("--- " and
// the base64 MAC, then a newline).
func HeaderMAC(header []byte) ([]byte, error) {
	body, ok := bytes.CutSuffix(header, []byte("\n"))
	i := bytes.LastIndexByte(body, '\n')
	if !ok || i < 0 || !bytes.HasPrefix(body[i+1:], []byte("--- ")) {
		return nil, ErrCorrupt
	}
	mac, err := base64.RawStdEncoding.Strict().DecodeString(string(body[i+5:]))
	if err != nil || len(mac) != MACSize {
		return nil, ErrCorrupt
	}
	return mac, nil
}

// checkMAC compares the MAC of header with want; a nil want checks nothing
// (a segment stored before MACs were recorded).
func checkMAC(header, want []byte) error {
	if want == nil {
		return nil
	}
	got, err := HeaderMAC(header)
	if err != nil || subtle.ConstantTimeCompare(got, want) != 1 {
		return ErrCorrupt
	}
	return nil
}
