package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestReceiptVerify: the golden receipt verifies with its public key, and
// the same receipt with one byte of it changed is refused.
func TestReceiptVerify(t *testing.T) {
	dir := t.TempDir()
	pub := filepath.Join("..", "..", "portal", "receipt", "testdata", "signing.pub")
	signed, err := os.ReadFile(filepath.Join("..", "..", "portal", "receipt", "testdata", "receipt-v1.json"))
	if err != nil {
		t.Fatal(err)
	}
	good := writeKey(t, dir, "good.json", signed)
	var out bytes.Buffer
	if err := receiptCmd([]string{"verify", "--public-key", pub, good}, &out); err != nil {
		t.Fatalf("good receipt: %v", err)
	}
	if !strings.Contains(out.String(), "valid: receipt") || !strings.Contains(out.String(), "FV-2026-014") || !strings.Contains(out.String(), "70000 bytes") {
		t.Errorf("output: %s", out.String())
	}
	bad := writeKey(t, dir, "bad.json", bytes.Replace(signed, []byte(`"size":70000`), []byte(`"size":7000`), 1))
	if err := receiptCmd([]string{"verify", "--public-key", pub, bad}, &out); err == nil {
		t.Fatal("an edited receipt verified")
	}
	if err := receiptCmd([]string{"verify", good}, &out); err == nil {
		t.Fatal("verified without a public key")
	}
}
