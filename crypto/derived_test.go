package crypto

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"os"
	"testing"
)

// goldenDerived pins the derived formats: name indexes under the visit key
// of keys-v1.json, and box-sealed secrets under testdata/master.key.
type goldenDerived struct {
	NameIndex []struct {
		Name  string `json:"name"`
		Index string `json:"index"`
	} `json:"name_index"`
	Box []struct {
		Purpose   string `json:"purpose"`
		Context   string `json:"context"`
		Plaintext string `json:"plaintext"`
		Sealed    string `json:"sealed"`
	} `json:"box"`
}

func goldenMasterAndVisit(t *testing.T) (*MasterKey, *VisitKey) {
	t.Helper()
	master := goldenMaster(t)
	b, _ := os.ReadFile("testdata/keys-v1.json")
	var g goldenKeys
	if err := json.Unmarshal(b, &g); err != nil {
		t.Fatal(err)
	}
	wrapped, _ := base64.StdEncoding.DecodeString(g.WrappedVisitKey)
	k, err := master.Unwrap(wrapped)
	if err != nil {
		t.Fatal(err)
	}
	return master, k
}

func TestGoldenDerived(t *testing.T) {
	master, k := goldenMasterAndVisit(t)
	if *update {
		var g goldenDerived
		for _, n := range []string{"1.03 mi report.xlsx", "straße.pdf", ""} {
			g.NameIndex = append(g.NameIndex, struct {
				Name  string `json:"name"`
				Index string `json:"index"`
			}{n, hex.EncodeToString(k.NameIndex(n))})
		}
		box, _ := master.Box("signin-cookie")
		g.Box = append(g.Box, struct {
			Purpose   string `json:"purpose"`
			Context   string `json:"context"`
			Plaintext string `json:"plaintext"`
			Sealed    string `json:"sealed"`
		}{"signin-cookie", "portal_signin", `[{"s":"state"}]`, base64.StdEncoding.EncodeToString(box.Seal([]byte(`[{"s":"state"}]`), "portal_signin"))})
		b, _ := json.MarshalIndent(g, "", "  ")
		if err := writeNew("testdata/derived-v1.json", append(b, '\n'), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	b, err := os.ReadFile("testdata/derived-v1.json")
	if err != nil {
		t.Fatal(err)
	}
	var g goldenDerived
	if err := json.Unmarshal(b, &g); err != nil {
		t.Fatal(err)
	}
	if len(g.NameIndex) == 0 || len(g.Box) == 0 {
		t.Fatal("no vectors")
	}
	for _, v := range g.NameIndex {
		if got := hex.EncodeToString(k.NameIndex(v.Name)); got != v.Index {
			t.Errorf("name index of %q: %s, want %s", v.Name, got, v.Index)
		}
	}
	for _, v := range g.Box {
		box, err := master.Box(v.Purpose)
		if err != nil {
			t.Fatal(err)
		}
		sealed, _ := base64.StdEncoding.DecodeString(v.Sealed)
		if got, err := box.Open(sealed, v.Context); err != nil || string(got) != v.Plaintext {
			t.Errorf("box %s: %q, %v", v.Purpose, got, err)
		}
		other, _ := master.Box(v.Purpose + "x")
		if _, err := other.Open(sealed, v.Context); err == nil {
			t.Error("a secret opens in the box of another purpose")
		}
		if _, err := box.Open(sealed, v.Context+"x"); err == nil {
			t.Error("a secret opens under another context")
		}
	}
}

func TestNameIndexPerVisit(t *testing.T) {
	a, _ := NewVisitKey()
	b, _ := NewVisitKey()
	if !bytes.Equal(a.NameIndex("x.pdf"), a.NameIndex("x.pdf")) || bytes.Equal(a.NameIndex("x.pdf"), b.NameIndex("x.pdf")) ||
		bytes.Equal(a.NameIndex("x.pdf"), a.NameIndex("y.pdf")) || len(a.NameIndex("x")) != NameIndexSize {
		t.Fatal("a name index must be equal for equal names in a visit, and differ across visits and names")
	}
}
