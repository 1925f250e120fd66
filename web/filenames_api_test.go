package web_test

import (
	"net/http"
	"testing"
)

// TestFileNameTaken: the upload page asks, before sending a file, whether
// the item already holds a file of its name (to offer "Keep both" or
// "Replace it"), with the name in the request's body, never its address.
// Names are compared as the portal files them: case and Unicode form
// aside, per item.
func TestFileNameTaken(t *testing.T) {
	ts := startStack(t)
	v := ts.demoVisit(t)
	uploader := ts.signIn(t, "cafcass", "uploader@cafcass.example")
	uploader.uploadItem(v.ID, "1.01 Structure chart.pdf", "", []byte("structure"))
	for _, c := range []struct {
		item, name string
		taken      bool
	}{
		{"1.01", "1.01 Structure chart.pdf", true},
		{"1.01", "1.01 STRUCTURE CHART.PDF", true},
		{"1.02", "1.01 Structure chart.pdf", false},
		{"1.01", "1.01 Another chart.pdf", false},
	} {
		got := decode[struct {
			Taken bool `json:"taken"`
		}](t, uploader.sendJSON("POST", "/api/v1/visits/"+v.ID+"/file-names", map[string]string{"item": c.item, "name": c.name}), http.StatusOK)
		if got.Taken != c.taken {
			t.Errorf("%q in item %s: taken %v, want %v", c.name, c.item, got.Taken, c.taken)
		}
	}
	if resp := uploader.sendJSON("POST", "/api/v1/visits/"+v.ID+"/file-names", map[string]string{"item": "1.01", "name": "../x"}); resp.StatusCode != http.StatusBadRequest {
		t.Errorf("a name the portal would refuse: %d, want 400", resp.StatusCode)
	}
}
