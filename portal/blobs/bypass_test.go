package blobs

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
)

// awsUnlocked answers as Amazon S3 does for a bucket without object lock:
// a delete that asks to bypass governance retention is refused with
// InvalidArgument ("only applicable to Object Lock enabled buckets"). The
// key bucket is such a bucket, and so is every visit bucket on a store
// without object lock. It holds one object version until deleted.
type awsUnlocked struct {
	mu      sync.Mutex
	deleted bool
	refused int
}

func (a *awsUnlocked) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	io.Copy(io.Discard, r.Body)
	a.mu.Lock()
	defer a.mu.Unlock()
	switch {
	case r.Method == http.MethodGet && r.URL.Query().Has("versions"):
		w.Header().Set("Content-Type", "application/xml")
		fmt.Fprint(w, `<?xml version="1.0" encoding="UTF-8"?><ListVersionsResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Name>portal-key-epochs</Name><Prefix></Prefix><MaxKeys>1000</MaxKeys><IsTruncated>false</IsTruncated>`)
		if !a.deleted {
			fmt.Fprint(w, `<Version><Key>epochs/e1</Key><VersionId>null</VersionId><IsLatest>true</IsLatest><LastModified>2026-12-01T00:00:00.000Z</LastModified><ETag>"x"</ETag><Size>1</Size><StorageClass>STANDARD</StorageClass></Version>`)
		}
		fmt.Fprint(w, `</ListVersionsResult>`)
	case r.Method == http.MethodDelete && r.Header.Get("X-Amz-Bypass-Governance-Retention") != "":
		a.refused++
		w.Header().Set("Content-Type", "application/xml")
		w.WriteHeader(http.StatusBadRequest)
		fmt.Fprint(w, `<?xml version="1.0" encoding="UTF-8"?><Error><Code>InvalidArgument</Code><Message>x-amz-bypass-governance-retention is only applicable to Object Lock enabled buckets.</Message></Error>`)
	case r.Method == http.MethodDelete:
		a.deleted = true
		w.WriteHeader(http.StatusNoContent)
	default:
		w.WriteHeader(http.StatusNotImplemented)
	}
}

// TestDeletesNeedNoGovernanceBypass: the portal sets no governance
// retention on anything it deletes (its holds are legal holds, which no
// bypass lifts, and the anchors it never deletes are in compliance mode),
// so its deletes ask for no bypass, which Amazon S3 refuses on a bucket
// without object lock: the epoch janitor could never delete a retired
// epoch's key there, and a certificate's "unrecoverable from backups
// after" would never come true.
func TestDeletesNeedNoGovernanceBypass(t *testing.T) {
	for _, tc := range []struct {
		name   string
		remove func(s *Store) error
	}{
		{"RemoveKeys", func(s *Store) error {
			return s.RemoveKeys(context.Background(), "portal-key-epochs", []string{"epochs/e1"})
		}},
		{"RemovePrefix", func(s *Store) error { return s.RemovePrefix(context.Background(), "portal-key-epochs", "epochs/") }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			aws := &awsUnlocked{}
			srv := httptest.NewServer(aws)
			defer srv.Close()
			s, err := New(Config{Endpoint: strings.TrimPrefix(srv.URL, "http://"), AccessKey: "k", SecretKey: "s", Region: "eu-west-2"})
			if err != nil {
				t.Fatal(err)
			}
			if err := tc.remove(s); err != nil || !aws.deleted || aws.refused > 0 {
				t.Fatalf("delete from a bucket without object lock: err %v, deleted %v, %d refused for asking to bypass governance retention", err, aws.deleted, aws.refused)
			}
		})
	}
}
