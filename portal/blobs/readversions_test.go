package blobs

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// oneVersion serves a bucket holding one version of records/r of size
// bytes, as a versioned S3 bucket does.
type oneVersion struct{ size int64 }

func (o oneVersion) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch {
	case r.Method == http.MethodGet && r.URL.Query().Has("versions"):
		w.Header().Set("Content-Type", "application/xml")
		fmt.Fprintf(w, `<?xml version="1.0" encoding="UTF-8"?><ListVersionsResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Name>anchors</Name><Prefix>records/</Prefix><MaxKeys>1000</MaxKeys><IsTruncated>false</IsTruncated><Version><Key>records/r</Key><VersionId>v1</VersionId><IsLatest>true</IsLatest><LastModified>2026-12-01T00:00:00.000Z</LastModified><ETag>"x"</ETag><Size>%d</Size><StorageClass>STANDARD</StorageClass></Version></ListVersionsResult>`, o.size)
	case r.Method == http.MethodGet:
		w.Header().Set("Content-Length", fmt.Sprint(o.size))
		w.Header().Set("Last-Modified", "Tue, 01 Dec 2026 00:00:00 GMT")
		w.Header().Set("ETag", `"x"`)
		io.Copy(w, io.LimitReader(repeat('a'), o.size))
	default:
		w.WriteHeader(http.StatusNotImplemented)
	}
}

type repeat byte

func (b repeat) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = byte(b)
	}
	return len(p), nil
}

// TestReadVersionsReadsRecordsWhole: the records kept outside the database
// (destruction certificates, a few hundred bytes a destroyed file) are
// read whole: a certificate of a visit of 20,000 files is over 2 MiB, and
// read cut at 1 MiB it did not verify, so a second one was signed in its
// place. One larger than the portal ever writes is an error, not cut.
func TestReadVersionsReadsRecordsWhole(t *testing.T) {
	for _, size := range []int64{2 << 20, maxRecord + 1} {
		srv := httptest.NewServer(oneVersion{size})
		s, err := New(Config{Endpoint: strings.TrimPrefix(srv.URL, "http://"), AccessKey: "k", SecretKey: "s", Region: "eu-west-2"})
		if err != nil {
			t.Fatal(err)
		}
		objs, err := s.ReadVersions(context.Background(), "anchors", "records/")
		srv.Close()
		switch {
		case size > maxRecord && err == nil:
			t.Errorf("a record of %d bytes, over the %d the portal writes, was read (%d bytes) without an error", size, maxRecord, len(objs[0].Body))
		case size <= maxRecord && (err != nil || len(objs) != 1 || int64(len(objs[0].Body)) != size || !bytes.Equal(objs[0].Body[:4], []byte("aaaa"))):
			n := 0
			if len(objs) == 1 {
				n = len(objs[0].Body)
			}
			t.Errorf("a record of %d bytes read as %d bytes (%v)", size, n, err)
		}
	}
}
