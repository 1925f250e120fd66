package devstack

import (
	"archive/zip"
	"bytes"
	"hash/crc32"
)

// Archives clamd cannot see into, for the tests that show such a file is
// never taken as clean (clamd.conf's AlertEncrypted and AlertExceedsMax).

// EncryptedZip returns a zip of one file, name, holding data encrypted
// with password by the zip format's traditional cipher (APPNOTE 6.1, what
// "zip -P" writes): any unzip opens it with the password, and no scanner
// reads it without.
func EncryptedZip(name string, data []byte, password string) ([]byte, error) {
	k0, k1, k2 := uint32(0x12345678), uint32(0x23456789), uint32(0x34567890)
	update := func(c byte) {
		k0 = crc32.IEEETable[byte(k0)^c] ^ (k0 >> 8)
		k1 = (k1+(k0&0xff))*134775813 + 1
		k2 = crc32.IEEETable[byte(k2)^byte(k1>>24)] ^ (k2 >> 8)
	}
	for i := 0; i < len(password); i++ {
		update(password[i])
	}
	crc := crc32.ChecksumIEEE(data)
	// A 12-byte header, whose last byte checks the password, then the
	// data, stored (not compressed).
	plain := append([]byte{0x5a, 0x3c, 0x91, 0x07, 0xe2, 0x48, 0xb6, 0x1d, 0x6f, 0xc3, 0x20, byte(crc >> 24)}, data...)
	enc := make([]byte, len(plain))
	for i, c := range plain {
		t := k2 | 2
		enc[i] = c ^ byte((t*(t^1))>>8)
		update(c)
	}
	var b bytes.Buffer
	z := zip.NewWriter(&b)
	w, err := z.CreateRaw(&zip.FileHeader{Name: name, Method: zip.Store, Flags: 1, CRC32: crc,
		CompressedSize64: uint64(len(enc)), UncompressedSize64: uint64(len(data))})
	if err != nil {
		return nil, err
	}
	if _, err := w.Write(enc); err != nil {
		return nil, err
	}
	if err := z.Close(); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// NestedZip returns data, named name, inside depth zips, each inside the
// next (compressed: the data is not seen by reading the outer bytes).
// clamd opens archives to MaxRecursion levels (17 by default).
func NestedZip(name string, data []byte, depth int) ([]byte, error) {
	for i := 0; i < depth; i++ {
		var b bytes.Buffer
		z := zip.NewWriter(&b)
		w, err := z.Create(name)
		if err != nil {
			return nil, err
		}
		if _, err := w.Write(data); err != nil {
			return nil, err
		}
		if err := z.Close(); err != nil {
			return nil, err
		}
		data, name = b.Bytes(), "inner.zip"
	}
	return data, nil
}
