package web_test

import (
	"bytes"
	"crypto/ed25519"
	"net/http"
	"strings"
	"testing"

	"github.com/ofsted-portal/evidence/portal/receipt"
	"github.com/ofsted-portal/evidence/portal/retention"
)

// signingPublicKey is the stack's public key as a verifier holds it: the
// PEM that `portal certificate public-key` prints, read back.
func (ts *testStack) signingPublicKey(t *testing.T) ed25519.PublicKey {
	t.Helper()
	k, err := retention.LoadSigningKey(ts.Env["PORTAL_SIGNING_KEY_FILE"])
	if err != nil {
		t.Fatal(err)
	}
	pub, err := retention.ParsePublicKeyPEM(retention.PublicKeyPEM(k))
	if err != nil {
		t.Fatal(err)
	}
	return pub
}

func (b *browser) body(path string, want int) []byte {
	b.t.Helper()
	resp := b.get(path)
	body := readAll(b.t, resp)
	if resp.StatusCode != want {
		b.t.Fatalf("GET %s: %d, want %d: %s", path, resp.StatusCode, want, body)
	}
	return []byte(body)
}

type receiptLinks struct {
	ID       string `json:"id"`
	Kind     string `json:"kind"`
	Download string `json:"download"`
	Page     string `json:"page"`
}

// TestReceipts: every completed upload has a signed receipt, the same bytes
// at every download, that verifies offline with the portal's public key and
// is refused once edited; a batch gets one more; receipts are the
// provider's (the coordinator's and the uploader's own).
func TestReceipts(t *testing.T) {
	ts := startStack(t)
	v := ts.demoVisit(t)
	pub := ts.signingPublicKey(t)
	uploader := ts.signIn(t, "cafcass", "uploader@cafcass.example")
	coordinator := ts.signIn(t, "cafcass", "coordinator@cafcass.example")
	lead := ts.signIn(t, "ofsted", "lead@ofsted.example")
	admin := ts.signIn(t, "ofsted", "admin@ofsted.example")
	base := "/api/v1/visits/" + v.ID + "/receipts"

	f := uploader.uploadItem(v.ID, "1.01 Structure chart.pdf", "", []byte("the structure chart"))
	first := uploader.body(base+"?file="+f.ID, http.StatusOK)
	if again := uploader.body(base+"?file="+f.ID, http.StatusOK); !bytes.Equal(first, again) {
		t.Fatalf("two downloads of one receipt differ:\n%s\n%s", first, again)
	}
	r, err := receipt.Verify(first, pub)
	if err != nil {
		t.Fatalf("the upload's receipt does not verify: %v\n%s", err, first)
	}
	if r.Kind != receipt.KindUpload || r.Reference != v.Reference || r.Uploader.Email != "uploader@cafcass.example" || len(r.Files) != 1 ||
		r.Files[0].Name != "1.01 Structure chart.pdf" || r.Files[0].Item != "1.01" || r.Files[0].Size != f.Size || r.Files[0].SHA256 != f.SHA256 || r.Files[0].UploadedAt.IsZero() {
		t.Fatalf("receipt says %+v", r)
	}
	for _, edit := range [][2]string{{`"size":19`, `"size":20`}, {"Structure chart", "Structure chant"}, {"uploader@", "coordinator@"}} {
		edited := bytes.Replace(first, []byte(edit[0]), []byte(edit[1]), 1)
		if bytes.Equal(edited, first) {
			t.Fatalf("%q is not in the receipt", edit[0])
		}
		if _, err := receipt.Verify(edited, pub); err == nil {
			t.Fatalf("a receipt with %q changed to %q verified", edit[0], edit[1])
		}
	}

	// A batch sent from the upload page: one receipt listing its files.
	a := uploader.uploadItem(v.ID, "1.02 Allocation policy.docx", "", []byte("allocation"))
	b := uploader.uploadItem(v.ID, "notes.txt", "", []byte("unfiled notes"))
	batch := decode[receiptLinks](t, uploader.sendJSON("POST", base, map[string][]string{"files": {a.ID, b.ID}}), http.StatusCreated)
	signed := uploader.body(batch.Download, http.StatusOK)
	if again := uploader.body(batch.Download, http.StatusOK); !bytes.Equal(signed, again) {
		t.Fatal("two downloads of a batch receipt differ")
	}
	br, err := receipt.Verify(signed, pub)
	if err != nil || br.Kind != receipt.KindBatch || len(br.Files) != 2 || br.Files[0].ID != a.ID || br.Files[1].Item != "" || br.ID != batch.ID {
		t.Fatalf("batch receipt: %+v %v", br, err)
	}
	if page := string(uploader.body(batch.Page, http.StatusOK)); !strings.Contains(page, "1.02 Allocation policy.docx") || !strings.Contains(page, b.SHA256) {
		t.Fatalf("the receipt's page does not list the files:\n%s", page)
	}

	theirs := coordinator.uploadItem(v.ID, "1.04 Complaints.pdf", "", []byte("complaints"))
	t.Run("a batch lists only one's own uploads", func(t *testing.T) {
		for _, files := range [][]string{{a.ID, theirs.ID}, {}, {"not-an-id"}} {
			if s := uploader.status("POST", base, map[string][]string{"files": files}); s != http.StatusBadRequest {
				t.Errorf("batch %v: %d, want 400", files, s)
			}
		}
	})
	t.Run("receipts are the provider's", func(t *testing.T) {
		if got := coordinator.body(base+"?file="+f.ID, http.StatusOK); !bytes.Equal(got, first) {
			t.Error("the coordinator gets other bytes for the uploader's receipt")
		}
		coordinator.body(batch.Download, http.StatusOK)
		// A colleague's file, and its receipt, are no file and no receipt
		// to an uploader: answered as an id that does not exist.
		own, err := receipt.Verify(coordinator.body(base+"?file="+theirs.ID, http.StatusOK), pub)
		if err != nil {
			t.Fatal(err)
		}
		for _, path := range []string{base + "?file=" + theirs.ID, base + "/" + own.ID, "/visits/" + v.ID + "/receipts/" + own.ID} {
			if s := uploader.status("GET", path, nil); s != http.StatusNotFound {
				t.Errorf("uploader reading the coordinator's receipt (%s): %d, want 404 as for no receipt", path, s)
			}
		}
		for who, c := range map[string]*browser{"lead inspector": lead, "administrator": admin} {
			for _, path := range []string{batch.Download, base + "?file=" + f.ID, base, batch.Page} {
				if s := c.status("GET", path, nil); s != http.StatusForbidden {
					t.Errorf("%s GET %s: %d, want 403", who, path, s)
				}
			}
		}
		list := decode[struct {
			Receipts []receiptLinks `json:"receipts"`
		}](t, uploader.get(base), http.StatusOK)
		if len(list.Receipts) != 4 { // three uploads and the batch
			t.Errorf("uploader lists %d receipts, want 4", len(list.Receipts))
		}
		all := decode[struct {
			Receipts []receiptLinks `json:"receipts"`
		}](t, coordinator.get(base), http.StatusOK)
		if len(all.Receipts) != 5 {
			t.Errorf("coordinator lists %d receipts, want 5", len(all.Receipts))
		}
	})
	t.Run("kept sealed", func(t *testing.T) {
		var n int
		if err := ts.Portal.Store().DB().QueryRow(`SELECT COUNT(*) FROM receipts WHERE visit_id = ?`, v.ID).Scan(&n); err != nil || n != 5 {
			t.Fatalf("%d receipts stored (%v)", n, err)
		}
		rows, err := ts.Portal.Store().DB().Query(`SELECT signed_sealed FROM receipts`)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		for rows.Next() {
			var sealed []byte
			rows.Scan(&sealed)
			if bytes.Contains(sealed, []byte("Structure")) || bytes.Contains(sealed, []byte("uploader@")) {
				t.Fatal("a receipt is stored in plaintext")
			}
		}
	})
}

// TestVisitPageReceiptLinksOpenTheReceipt: the visit page's "Print" and
// "Download (JSON)" links of a receipt lead to it, each named by its file.
// Before, both had no visit in their address (/visits//receipts/…), so
// each gave "Page not found".
func TestVisitPageReceiptLinksOpenTheReceipt(t *testing.T) {
	ts := startStack(t)
	v := ts.demoVisit(t)
	coordinator := ts.signIn(t, "cafcass", "coordinator@cafcass.example")
	coordinator.uploadItem(v.ID, "1.01 Structure chart.pdf", "", []byte("structure"))
	page := readAll(t, coordinator.get("/visits/"+v.ID))
	for _, want := range []string{`href="/visits/` + v.ID + `/receipts/`, `href="/api/v1/visits/` + v.ID + `/receipts/`, "the upload receipt for 1.01 Structure chart.pdf (item 1.01)"} {
		if !strings.Contains(page, want) {
			t.Errorf("the visit page's receipts: no %q", want)
		}
	}
	i := strings.Index(page, `href="/visits/`+v.ID+`/receipts/`)
	if i < 0 {
		t.FailNow()
	}
	href := page[i+len(`href="`):]
	href = href[:strings.IndexByte(href, '"')]
	if resp := coordinator.get(href); resp.StatusCode != http.StatusOK {
		t.Errorf("GET %s: %d, want the receipt", href, resp.StatusCode)
	}
}
