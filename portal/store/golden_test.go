package store

import (
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"flag"
	"os"
	"testing"
	"time"
)

// Golden vectors of the audit trail's stored formats (record canonical
// form 1 and its chain hash, checkpoint format 1), written once by
// `go test ./portal/store -run Golden -update` and read by every later
// build: a trail written by one build must verify in the next.
var update = flag.Bool("update", false, "write the golden vectors in testdata")

type goldenAudit struct {
	PublicKey   string        `json:"public_key"`
	Records     []AuditRecord `json:"records"`
	Checkpoints []Checkpoint  `json:"checkpoints"`
}

func TestGoldenAuditTrail(t *testing.T) {
	const path = "testdata/audit-v1.json"
	if *update {
		_, key, _ := ed25519.GenerateKey(nil)
		at := time.Date(2026, 11, 30, 9, 15, 0, 123456000, time.UTC)
		var g goldenAudit
		g.PublicKey = base64.StdEncoding.EncodeToString(key.Public().(ed25519.PublicKey))
		prev := GenesisHash
		for i, r := range []AuditRecord{
			{ActorSubject: "portal", Role: "system", Action: "portal.started", Outcome: "success", Detail: `{"dev":false}`},
			{ActorIssuer: "https://login.example/ofsted", ActorSubject: "s-lead", ActorEmail: "lead@ofsted.example", Role: "lead_inspector",
				VisitID: "0f1e2d3c4b5a69788796a5b4c3d2e1f0", Action: "file.download", Object: "aa11bb22cc33dd44ee55ff6600778899", Outcome: "success",
				Detail: `{"bytes":70000,"from":0,"range":false}`, ClientIP: "192.0.2.10", UserAgent: "Mozilla/5.0 (X11; Linux x86_64)", RequestID: "4f2a9c0e1b7d3a5e6c8f0a2b"},
			{ActorIssuer: "https://login.example/cafcass", ActorSubject: "s-up", ActorEmail: "uploader@cafcass.example", Role: "provider_uploader",
				VisitID: "0f1e2d3c4b5a69788796a5b4c3d2e1f0", Action: "request.denied", Object: "", Outcome: "denied",
				Detail: `{"action":"audit.view","policies":null,"route":"/api/v1/visits/:id/audit","rule":"no-policy-permits"}`, ClientIP: "2001:db8::1"},
			{ActorSubject: "operator:ops", Role: "operator", Action: "master_key.rotated", Outcome: "success", Detail: `{"from":"age1pq1a","to":"age1pq1b"}`},
		} {
			r.Seq, r.Time, r.PrevHash, r.Format = int64(i+1), at.Add(time.Duration(i)*time.Minute), prev, AuditFormat
			r.Hash = ChainHash(r)
			prev = r.Hash
			g.Records = append(g.Records, r)
		}
		g.Checkpoints = []Checkpoint{SignCheckpoint(2, g.Records[1].Hash, at, key), SignCheckpoint(4, g.Records[3].Hash, at.Add(time.Hour), key)}
		b, _ := json.MarshalIndent(g, "", "  ")
		if err := os.WriteFile(path, append(b, '\n'), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var g goldenAudit
	if err := json.Unmarshal(b, &g); err != nil {
		t.Fatal(err)
	}
	pubBytes, _ := base64.StdEncoding.DecodeString(g.PublicKey)
	pub := ed25519.PublicKey(pubBytes)
	for _, r := range g.Records {
		if r.Format != 1 {
			t.Fatalf("record %d: format %d in the v1 vectors", r.Seq, r.Format)
		}
		if got := ChainHash(r); got != r.Hash {
			t.Errorf("record %d: hash %s, the vector says %s: canonical form 1 changed", r.Seq, got, r.Hash)
		}
	}
	if err := VerifyAudit(g.Records, g.Checkpoints, pub); err != nil {
		t.Fatalf("a trail written by an earlier build: %v", err)
	}
	// Stored without a format (read from a database written before the
	// column existed), records are form 1.
	old := append([]AuditRecord(nil), g.Records...)
	for i := range old {
		old[i].Format = 0
	}
	if err := VerifyAudit(old, g.Checkpoints, pub); err != nil {
		t.Fatalf("records without a format: %v", err)
	}
	// A form this build does not know is reported, never guessed.
	unknown := append([]AuditRecord(nil), g.Records...)
	unknown[2].Format = 99
	if err := VerifyAudit(unknown, g.Checkpoints, pub); err == nil {
		t.Fatal("a record of an unknown format verified")
	}
	cps := append([]Checkpoint(nil), g.Checkpoints...)
	cps[0].Format = 99
	if err := VerifyAudit(g.Records, cps, pub); err == nil {
		t.Fatal("a checkpoint of an unknown format verified")
	}
}
