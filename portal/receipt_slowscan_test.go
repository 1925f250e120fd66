package portal_test

import (
	"bufio"
	"context"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/ofsted-portal/evidence/deploy/devstack"
	"github.com/ofsted-portal/evidence/policy"
	"github.com/ofsted-portal/evidence/portal"
)

// slowVerdictClamd is a scanner that answers PING at once and gives its
// verdict on a stream (clean) delay after the stream ends, as clamd does
// on a large file: it receives the whole stream before it scans it.
func slowVerdictClamd(t *testing.T, delay time.Duration) string {
	t.Helper()
	return portal.FakeClamd(t, func(conn net.Conn) {
		r := bufio.NewReader(conn)
		cmd, err := r.ReadString(0)
		if err != nil {
			return
		}
		if strings.HasPrefix(cmd, "zPING") {
			conn.Write([]byte("PONG\x00"))
			return
		}
		if portal.ReadInstream(r, io.Discard) != nil {
			return
		}
		time.Sleep(delay)
		conn.Write([]byte("stream: OK\x00"))
	})
}

// TestReceiptAfterASlowVerdict: a file whose scanner verdict came seconds
// after its last byte (clamd scans a stream once it has all of it, at some
// tens of MB/s) is receipted with others, later. Before, the file's arrival time was taken
// before the verdict and its upload's record after, more than the two
// seconds apart a receipt allows: the receipt was refused as though the
// database had been altered, and the log sent the operator to check the
// trail for tampering.
func TestReceiptAfterASlowVerdict(t *testing.T) {
	d := startDomainWith(t, func(o *devstack.Options) {
		o.Env = map[string]string{"PORTAL_CLAMD_ADDR": slowVerdictClamd(t, 3*time.Second)}
	})
	ctx := context.Background()
	d.openDemo()
	uploader := d.person("cafcass", "uploader@cafcass.example")
	f, err := d.mustAccess(uploader, policy.FileUpload).Upload(ctx, portal.NewFile{Name: "1.01 Large.pdf", Size: 5}, strings.NewReader("large"))
	if err != nil {
		t.Fatal(err)
	}
	if f.Scan != "clean" {
		t.Fatalf("the file's scan: %q, want clean", f.Scan)
	}
	if _, err := d.mustAccess(uploader, policy.ReceiptIssue).IssueBatchReceipt(ctx, []string{f.ID}); err != nil {
		t.Errorf("a receipt for a file scanned slowly: %v", err)
	}
}
