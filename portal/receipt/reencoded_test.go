package receipt

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/ofsted-portal/evidence/portal/retention"
)

// TestReceiptReencodedVerifies: a records manager formats a receipt to read
// it (python -m json.tool writes "é" as \u00e9; jq writes "&" as it is,
// where the portal wrote \u0026). Nothing in it changed, so it verifies;
// before, only whitespace was undone and such a copy did not verify,
// though it was the receipt the portal signed. A copy whose name was
// changed still does not.
func TestReceiptReencodedVerifies(t *testing.T) {
	pemKey, _ := retention.GenerateSigningKey()
	key, _ := retention.ParseSigningKey(pemKey, "test")
	pub, _ := retention.ParsePublicKeyPEM(retention.PublicKeyPEM(key))
	r := goldenReceipt()
	r.Files[1].Name = "Health & Safety <draft>.pdf"
	signed, err := Sign(r, key)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(signed, []byte(`\u0026`)) || !bytes.Contains(signed, []byte("é")) {
		t.Fatalf("the receipt is not written as this test expects: %s", signed)
	}
	var pretty bytes.Buffer
	if err := jsonIndent(&pretty, signed); err != nil {
		t.Fatal(err)
	}
	python := strings.ReplaceAll(pretty.String(), "é", `\u00e9`)
	jq := strings.NewReplacer(`\u0026`, "&", `\u003c`, "<", `\u003e`, ">").Replace(pretty.String())
	for name, copy := range map[string]string{"python -m json.tool": python, "jq": jq} {
		got, err := Verify([]byte(copy), pub)
		if err != nil {
			t.Errorf("the receipt formatted by %s does not verify: %v", name, err)
		} else if got.Files[1].Name != r.Files[1].Name || !got.IssuedAt.Equal(r.IssuedAt.Truncate(time.Second)) {
			t.Errorf("formatted by %s: %+v", name, got)
		}
	}
	changed := strings.Replace(jq, "Health & Safety", "Health & Safety 2", 1)
	if _, err := Verify([]byte(changed), pub); err == nil {
		t.Fatal("a receipt with a changed name verified")
	}
}
