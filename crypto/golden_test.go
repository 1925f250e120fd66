package crypto

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	"filippo.io/age"
)

// Golden vectors: every stored format of this package, written once by
// `go test ./crypto -run Golden -update` and read by every later build. A
// change of a label, a layout or a size fails here; a deliberate change
// adds a new version with vectors of its own, and the old ones must still
// read.
var update = flag.Bool("update", false, "write the golden vectors in testdata (once, for a new format version)")

type goldenKeys struct {
	// WrappedVisitKey is a visit key wrapped to testdata/master.key
	// (age-encryption.org/v1 to the master's hybrid recipients, holding the
	// visit identity's text).
	WrappedVisitKey string `json:"wrapped_visit_key"`
	Fingerprint     string `json:"fingerprint"`
	HeaderSize      int64  `json:"header_size"`
	Seal            []struct {
		Format    string `json:"format"`
		Context   string `json:"context"`
		Plaintext string `json:"plaintext"`
		Sealed    string `json:"sealed"`
	} `json:"seal"`
	Segments []struct {
		File          string `json:"file"`
		PlaintextSize int64  `json:"plaintext_size"`
		MAC           string `json:"mac"`
	} `json:"segments"`
}

// segmentPlaintext is the plaintext of a golden segment: bytes i mod 251.
func segmentPlaintext(n int64) []byte {
	p := make([]byte, n)
	for i := range p {
		p[i] = byte(i % 251)
	}
	return p
}

func writeGolden(t *testing.T) {
	masterText, _ := GenerateMasterKey(time.Date(2026, 11, 30, 0, 0, 0, 0, time.UTC))
	if err := writeNew("testdata/master.key", masterText, 0o600); err != nil {
		t.Fatal(err)
	}
	master, err := ParseMasterKey(bytes.NewReader(masterText))
	if err != nil {
		t.Fatal(err)
	}
	k, _ := NewVisitKey()
	wrapped, _ := master.Wrap(k)
	var g goldenKeys
	g.WrappedVisitKey, g.Fingerprint, g.HeaderSize = base64.StdEncoding.EncodeToString(wrapped), k.Fingerprint(), k.HeaderSize()
	for _, v := range []struct{ format, ctx, text string }{
		{"v1", "file-name:visit-1:file-1", "1.01 Structure.pdf"},
		{"v1", "visit-title:visit-1", "Focused visit to Cafcass"},
		{"v2", "file-name:visit-1:file-1", "1.01 Structure.pdf"},
		{"v2", "request-item:visit-1:case-1", "Case file of a named child"},
		{"v2", "legal-hold:visit-1", ""},
	} {
		sealed := k.Seal([]byte(v.text), v.ctx)
		if v.format == "v1" {
			sealed = k.sealV1.seal(nil, []byte(v.text), v.ctx)
		}
		g.Seal = append(g.Seal, struct {
			Format    string `json:"format"`
			Context   string `json:"context"`
			Plaintext string `json:"plaintext"`
			Sealed    string `json:"sealed"`
		}{v.format, v.ctx, v.text, base64.StdEncoding.EncodeToString(sealed)})
	}
	for _, n := range []int64{0, 100, ChunkSize + 1} {
		r, m, _ := k.EncryptSegment(bytes.NewReader(segmentPlaintext(n)), n)
		ct, _ := io.ReadAll(r)
		name := fmt.Sprintf("segment-%d.age", n)
		if err := writeNew(filepath.Join("testdata", name), ct, 0o644); err != nil {
			t.Fatal(err)
		}
		g.Segments = append(g.Segments, struct {
			File          string `json:"file"`
			PlaintextSize int64  `json:"plaintext_size"`
			MAC           string `json:"mac"`
		}{name, n, hex.EncodeToString(m)})
	}
	b, _ := json.MarshalIndent(g, "", "  ")
	if err := writeNew("testdata/keys-v1.json", append(b, '\n'), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestGoldenVectors(t *testing.T) {
	if *update {
		writeGolden(t)
	}
	master := goldenMaster(t)
	b, err := os.ReadFile("testdata/keys-v1.json")
	if err != nil {
		t.Fatal(err)
	}
	var g goldenKeys
	if err := json.Unmarshal(b, &g); err != nil {
		t.Fatal(err)
	}
	wrapped, _ := base64.StdEncoding.DecodeString(g.WrappedVisitKey)
	k, err := master.Unwrap(wrapped)
	if err != nil {
		t.Fatalf("the wrapped visit key no longer unwraps: %v", err)
	}
	if k.Fingerprint() != g.Fingerprint || k.HeaderSize() != g.HeaderSize {
		t.Fatalf("visit key: fingerprint %s header %d, want %s %d", k.Fingerprint(), k.HeaderSize(), g.Fingerprint, g.HeaderSize)
	}
	formats := map[string]bool{}
	for _, v := range g.Seal {
		formats[v.Format] = true
		sealed, _ := base64.StdEncoding.DecodeString(v.Sealed)
		got, err := k.Open(sealed, v.Context)
		if err != nil || string(got) != v.Plaintext {
			t.Errorf("sealed %s %q: %q, %v", v.Format, v.Context, got, err)
		}
		if _, err := k.Open(sealed, v.Context+"x"); err == nil {
			t.Errorf("sealed %s opens under another context", v.Format)
		}
		if v.Format == "v2" && (sealed[0] != sealVersion2 || len(sealed) != 1+24+len(v.Plaintext)+16) {
			t.Errorf("v2 layout: %d bytes starting %#x", len(sealed), sealed[0])
		}
	}
	if !formats["v1"] || !formats["v2"] {
		t.Fatalf("vectors cover %v", formats)
	}
	// What Seal writes today is v2, and reads back.
	if s := k.Seal([]byte("x"), "c"); s[0] != sealVersion2 || len(s) != 1+24+1+16 {
		t.Fatalf("Seal writes %d bytes starting %#x, not format v2", len(s), s[0])
	}
	for _, sv := range g.Segments {
		ct, err := os.ReadFile(filepath.Join("testdata", sv.File))
		if err != nil {
			t.Fatal(err)
		}
		if int64(len(ct)) != k.EncryptedSize(sv.PlaintextSize) {
			t.Errorf("%s: %d bytes, EncryptedSize says %d", sv.File, len(ct), k.EncryptedSize(sv.PlaintextSize))
		}
		mac, _ := hex.DecodeString(sv.MAC)
		if got, err := HeaderMAC(ct[:k.HeaderSize()]); err != nil || !bytes.Equal(got, mac) {
			t.Errorf("%s: header MAC %x, %v", sv.File, got, err)
		}
		pr, err := k.NewPayloadReader(bytes.NewReader(ct), sv.PlaintextSize, mac)
		if err != nil {
			t.Fatalf("%s: %v", sv.File, err)
		}
		var out bytes.Buffer
		buf := make([]byte, 4*EncryptedChunkSize)
		for {
			p, err := pr.ReadBlock(buf)
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatalf("%s: %v", sv.File, err)
			}
			out.Write(p)
		}
		if !bytes.Equal(out.Bytes(), segmentPlaintext(sv.PlaintextSize)) {
			t.Errorf("%s: plaintext differs", sv.File)
		}
		// Every other way the portal reads a stored segment reads it too:
		// whole (DecryptSegment), by range (DecryptRange, a Range
		// request's), and as the plain age file the contract promises
		// (age.Decrypt with the visit identity, which `age -d` does).
		whole := make([]byte, sv.PlaintextSize)
		if err := k.DecryptSegment(whole, bytes.NewReader(ct)); err != nil || !bytes.Equal(whole, segmentPlaintext(sv.PlaintextSize)) {
			t.Errorf("%s: DecryptSegment: %v", sv.File, err)
		}
		ra, n, err := k.DecryptRange(bytes.NewReader(ct), int64(len(ct)), mac)
		if err != nil || n != sv.PlaintextSize {
			t.Errorf("%s: DecryptRange: %d bytes, %v", sv.File, n, err)
		} else if n > 0 {
			from := n / 2
			part := make([]byte, n-from)
			if _, err := ra.ReadAt(part, from); err != nil && err != io.EOF || !bytes.Equal(part, segmentPlaintext(n)[from:]) {
				t.Errorf("%s: DecryptRange from %d: %v", sv.File, from, err)
			}
		}
		if _, _, err := k.DecryptRange(bytes.NewReader(ct), int64(len(ct)), make([]byte, len(mac))); err == nil {
			t.Errorf("%s: DecryptRange under another header MAC", sv.File)
		}
		plain, err := age.Decrypt(bytes.NewReader(ct), k.identity)
		if err != nil {
			t.Errorf("%s: not a plain age file: %v", sv.File, err)
		} else if b, err := io.ReadAll(plain); err != nil || !bytes.Equal(b, segmentPlaintext(sv.PlaintextSize)) {
			t.Errorf("%s: as a plain age file: %d bytes, %v", sv.File, len(b), err)
		}
	}
}

// writeNew writes a golden vector's file, never over one: pinned vectors
// must still read after a format changes, which adds a version of its own
// (remove a file by hand only to write the vectors of a version not yet
// released).
func writeNew(path string, b []byte, mode os.FileMode) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, mode)
	if err != nil {
		return fmt.Errorf("%w: -update writes the vectors of a new format version, never over pinned ones", err)
	}
	if _, err := f.Write(b); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// goldenMaster reads testdata/master.key as text: git does not keep the
// file's 0600 mode, which LoadMasterKey insists on.
func goldenMaster(t *testing.T) *MasterKey {
	t.Helper()
	mt, err := os.ReadFile("testdata/master.key")
	if err != nil {
		t.Fatal(err)
	}
	master, err := ParseMasterKey(bytes.NewReader(mt))
	if err != nil {
		t.Fatal(err)
	}
	return master
}
