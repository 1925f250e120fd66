package s3test_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/signer"

	"github.com/ofsted-portal/evidence/deploy/s3test"
)

// cutOff records what a server makes of a PUT whose client closes the
// connection halfway through the body (a portal that crashes or loses its
// network mid-segment): whether an object appears under the key, when, and
// whether an object already there survives. It tries the plain
// unsigned-payload PUT portal/blobs sends today and the aws-chunked one with
// a CRC32C trailer (minio-go with TrailingHeaders).
func cutOff(ctx context.Context, t *testing.T, f *facts, s *s3test.Server, c *minio.Client, bucket string) {
	data := random(t, 8<<20)
	original := random(t, 1000)
	for _, trailer := range []bool{false, true} {
		kind := "UNSIGNED-PAYLOAD"
		if trailer {
			kind = "STREAMING-UNSIGNED-PAYLOAD-TRAILER"
		}
		put(ctx, t, c, bucket, "cut-existing", string(original))
		for _, key := range []string{"cut-new", "cut-existing"} {
			conn, err := putHalf(ctx, s, bucket, key, data, trailer)
			if err != nil {
				t.Fatalf("cut-off PUT: %v", err)
			}
			// What the key holds while the request is still open, and
			// then once the server has seen the connection go.
			before := look(ctx, t, c, bucket, key, original)
			conn.Close()
			after := watch(ctx, t, c, bucket, key, original)
			f.add(fmt.Sprintf("%s PUT cut off halfway, %s key", kind, strings.TrimPrefix(key, "cut-")), "before the close: %s; after: %s", before, after)
			_ = c.RemoveObject(ctx, bucket, key, minio.RemoveObjectOptions{})
		}
	}
}

// watch says what the key holds over the 2 seconds after a cut-off PUT: a
// server may publish what it got when it notices the connection is gone.
func watch(ctx context.Context, t *testing.T, c *minio.Client, bucket, key string, original []byte) string {
	closed := time.Now()
	for time.Since(closed) < 2*time.Second {
		if seen := look(ctx, t, c, bucket, key, original); seen != "nothing" && seen != "the earlier object" {
			return fmt.Sprintf("%s (seen %s after the close)", seen, time.Since(closed).Round(10*time.Millisecond))
		}
		time.Sleep(100 * time.Millisecond)
	}
	return look(ctx, t, c, bucket, key, original) + " (for 2 s)"
}

// look says what the key holds now: nothing, the earlier object, or
// another object (and its size).
func look(ctx context.Context, t *testing.T, c *minio.Client, bucket, key string, original []byte) string {
	st, err := c.StatObject(ctx, bucket, key, minio.StatObjectOptions{})
	switch {
	case err != nil && minio.ToErrorResponse(err).StatusCode == http.StatusNotFound:
		return "nothing"
	case err != nil:
		return "stat: " + outcome(err)
	case st.Size == int64(len(original)) && bytes.Equal(get(ctx, t, c, bucket, key), original):
		return "the earlier object"
	default:
		return fmt.Sprintf("an object of %d bytes", st.Size)
	}
}

// putHalf starts a signed PUT of data (plain unsigned payload, or
// aws-chunked with a CRC32C trailer), sends only the first half of its body,
// and returns the connection for the caller to close.
func putHalf(ctx context.Context, s *s3test.Server, bucket, key string, data []byte, trailer bool) (net.Conn, error) {
	scheme := "http"
	if s.Secure {
		scheme = "https"
	}
	u := &url.URL{Scheme: scheme, Host: s.Endpoint, Path: "/" + bucket + "/" + key}
	req, err := http.NewRequestWithContext(ctx, http.MethodPut, u.String(), bytes.NewReader(data))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/octet-stream")
	var signed *http.Request
	if trailer {
		crc := crc32.Checksum(data, crc32.MakeTable(crc32.Castagnoli))
		sum := base64.StdEncoding.EncodeToString(binary.BigEndian.AppendUint32(nil, crc))
		req.Header.Set("X-Amz-Content-Sha256", "STREAMING-UNSIGNED-PAYLOAD-TRAILER")
		signed = signer.SignV4Trailer(*req, s.AccessKey, s.SecretKey, "", s.Region, http.Header{"X-Amz-Checksum-Crc32c": {sum}})
	} else {
		req.Header.Set("X-Amz-Content-Sha256", "UNSIGNED-PAYLOAD")
		signed = signer.SignV4(*req, s.AccessKey, s.SecretKey, "", s.Region)
	}

	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", s.Endpoint)
	if err != nil {
		return nil, err
	}
	if s.Secure {
		host, _, _ := net.SplitHostPort(s.Endpoint)
		conn = tls.Client(conn, &tls.Config{ServerName: host})
	}
	fail := func(err error) (net.Conn, error) {
		conn.Close()
		return nil, err
	}
	var head bytes.Buffer
	fmt.Fprintf(&head, "PUT %s HTTP/1.1\r\nHost: %s\r\nContent-Length: %d\r\n", u.EscapedPath(), s.Endpoint, signed.ContentLength)
	if err := signed.Header.Write(&head); err != nil {
		return fail(err)
	}
	head.WriteString("\r\n")
	if _, err := conn.Write(head.Bytes()); err != nil {
		return fail(err)
	}
	if _, err := io.CopyN(conn, signed.Body, signed.ContentLength/2); err != nil {
		return fail(fmt.Errorf("sending the first half: %w", err))
	}
	// Let the server take in what was sent before the connection goes.
	time.Sleep(200 * time.Millisecond)
	return conn, nil
}
