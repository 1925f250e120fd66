package portal_test

import (
	"context"
	"strings"
	"testing"

	"github.com/minio/minio-go/v7"

	"github.com/ofsted-portal/evidence/policy"
	"github.com/ofsted-portal/evidence/portal"
	"github.com/ofsted-portal/evidence/portal/store"
)

// TestEvidenceVerifyIsRecorded: portal evidence verify decrypts every file
// of every live visit, and records the segment MACs of files stored before
// they were kept, yet left nothing in the audit trail: not who read the
// evidence, nor the damage it found (a download that finds damage is
// recorded "corrupt"). Each visit checked is now one record, by the
// operator, saying how many files were read and which failed.
func TestEvidenceVerifyIsRecorded(t *testing.T) {
	ctx := context.Background()
	d := startDomain(t)
	v := d.demo()
	uploader := d.person("cafcass", "uploader@cafcass.example")
	up := d.mustAccess(uploader, policy.FileUpload)
	good, err := up.Upload(ctx, portal.NewFile{Name: "1.01 Good.pdf", Size: 4}, strings.NewReader("good"))
	if err != nil {
		t.Fatal(err)
	}
	bad, err := up.Upload(ctx, portal.NewFile{Name: "1.02 Bad.pdf", Size: 3}, strings.NewReader("bad"))
	if err != nil {
		t.Fatal(err)
	}
	if err := d.svc.Blobs().Client().RemoveObject(ctx, v.Bucket, bad.ID+"/0", minio.RemoveObjectOptions{}); err != nil {
		t.Fatal(err)
	}
	op := portal.OperatorActor("ops.person", "evidence verify")
	failed, err := d.svc.VerifyEvidence(ctx, op, v.Reference, func(portal.FileCheck) {})
	if err != nil || failed != 1 {
		t.Fatalf("verify: %d failed (%v), want 1", failed, err)
	}
	recs, err := d.svc.Store().AuditRecords(ctx, store.AuditFilter{Action: "evidence.verified"})
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 1 {
		t.Fatalf("evidence verify left %d records, want one for the visit it read", len(recs))
	}
	r := recs[0]
	if r.Role != "operator" || r.ActorSubject != "operator:ops.person" || r.VisitID != v.ID || r.Outcome != "failure" ||
		!strings.Contains(r.Detail, `"files":2`) || !strings.Contains(r.Detail, bad.ID) || strings.Contains(r.Detail, good.ID) {
		t.Fatalf("evidence verify recorded %+v, want the operator, the visit, 2 files read and the one that failed", r)
	}
}
