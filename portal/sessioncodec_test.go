package portal

import (
	"bytes"
	"flag"
	"os"
	"testing"
	"time"

	"github.com/alexedwards/scs/v2"
)

var update = flag.Bool("update", false, "write the golden sessions in testdata")

func goldenSession() (time.Time, map[string]any) {
	return time.Date(2026, 12, 1, 17, 0, 0, 0, time.UTC),
		map[string]any{"user_id": "u1", "idp": "ofsted", "id_token_sealed": "c2VhbGVk", "signed_in_at": int64(1764590400), "flash": "Saved."}
}

// TestSessionCodec: the same session encodes to the same bytes every
// time; what it encodes decodes to what it was; and a session that scs's
// own codec wrote (before an upgrade) is still read, not signed out.
func TestSessionCodec(t *testing.T) {
	deadline, values := goldenSession()
	c := SessionCodec{}
	first, err := c.Encode(deadline, values)
	if err != nil {
		t.Fatal(err)
	}
	for range 50 {
		b, err := c.Encode(deadline, values)
		if err != nil || !bytes.Equal(b, first) {
			t.Fatalf("the same session encoded differently (%v)", err)
		}
	}
	check := func(what string, b []byte) {
		t.Helper()
		d, got, err := c.Decode(b)
		if err != nil || !d.Equal(deadline) || len(got) != len(values) {
			t.Fatalf("%s: %v %v %v", what, d, got, err)
		}
		for k, v := range values {
			if got[k] != v {
				t.Fatalf("%s: %s is %#v, want %#v", what, k, got[k], v)
			}
		}
	}
	check("this codec's", first)
	old, err := scs.GobCodec{}.Encode(deadline, values)
	if err != nil {
		t.Fatal(err)
	}
	check("scs's codec's", old)
	// Sessions outlive a release: one this build wrote, and one scs's
	// codec wrote (the builds before this codec), are read by every later
	// build (go test ./portal -run TestSessionCodec -update writes them).
	if *update {
		os.WriteFile("testdata/session-v1.gob", first, 0o644)
		os.WriteFile("testdata/session-scs.gob", old, 0o644)
	}
	for _, name := range []string{"session-v1.gob", "session-scs.gob"} {
		b, err := os.ReadFile("testdata/" + name)
		if err != nil {
			t.Fatal(err)
		}
		check(name, b)
	}
	if golden, _ := os.ReadFile("testdata/session-v1.gob"); !bytes.Equal(golden, first) {
		t.Fatal("a session encodes differently from testdata/session-v1.gob: a new format needs a new vector, and the old still read")
	}
	if _, _, err := c.Decode([]byte("not a session")); err == nil {
		t.Fatal("garbage decoded")
	}
}
