package s3test_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/minio/minio-go/v7"
)

// facts records what a server does, for the log and the README's table:
// what must work is asserted; the rest is recorded as it is.
type facts struct {
	t    *testing.T
	rows [][2]string
}

func (f *facts) add(name, format string, args ...any) {
	f.t.Helper()
	v := fmt.Sprintf(format, args...)
	f.rows = append(f.rows, [2]string{name, v})
	f.t.Logf("fact: %s: %s", name, v)
}

// table logs every fact as a Markdown table.
func (f *facts) table(server string) {
	var b strings.Builder
	fmt.Fprintf(&b, "| %s | |\n|---|---|\n", server)
	for _, r := range f.rows {
		fmt.Fprintf(&b, "| %s | %s |\n", r[0], r[1])
	}
	f.t.Logf("capabilities of %s:\n%s", server, b.String())
}

// outcome says how a call ended: "ok", or the S3 error code and status.
func outcome(err error) string {
	if err == nil {
		return "ok"
	}
	resp := minio.ToErrorResponse(err)
	if resp.Code == "" {
		return "error: " + err.Error()
	}
	return fmt.Sprintf("%s (%d)", resp.Code, resp.StatusCode)
}

// removeAll deletes every version in bucket, lifting legal holds that stop
// it, and then the bucket. A bucket already gone is success.
func removeAll(ctx context.Context, c *minio.Client, bucket string) error {
	var errs []error
	for obj := range c.ListObjects(ctx, bucket, minio.ListObjectsOptions{Recursive: true, WithVersions: true}) {
		if obj.Err != nil {
			if minio.ToErrorResponse(obj.Err).Code == "NoSuchBucket" {
				return nil
			}
			return obj.Err
		}
		opts := minio.RemoveObjectOptions{VersionID: obj.VersionID, GovernanceBypass: true}
		if err := c.RemoveObject(ctx, bucket, obj.Key, opts); err != nil {
			off := minio.LegalHoldDisabled
			_ = c.PutObjectLegalHold(ctx, bucket, obj.Key, minio.PutObjectLegalHoldOptions{VersionID: obj.VersionID, Status: &off})
			if err := c.RemoveObject(ctx, bucket, obj.Key, opts); err != nil {
				errs = append(errs, fmt.Errorf("remove %s/%s@%s: %w", bucket, obj.Key, obj.VersionID, err))
			}
		}
	}
	if err := c.RemoveBucket(ctx, bucket); err != nil && minio.ToErrorResponse(err).Code != "NoSuchBucket" {
		errs = append(errs, fmt.Errorf("remove bucket %s: %w", bucket, err))
	}
	return errors.Join(errs...)
}

// versions lists every version under bucket as "key@version" with "(marker)"
// for delete markers and "*" for the latest.
func versions(ctx context.Context, c *minio.Client, bucket string) ([]minio.ObjectInfo, string) {
	var infos []minio.ObjectInfo
	var parts []string
	for obj := range c.ListObjects(ctx, bucket, minio.ListObjectsOptions{Recursive: true, WithVersions: true}) {
		if obj.Err != nil {
			return infos, "list: " + outcome(obj.Err)
		}
		infos = append(infos, obj)
		p := fmt.Sprintf("%s@%q", obj.Key, obj.VersionID)
		if obj.IsDeleteMarker {
			p += " (marker)"
		}
		if obj.IsLatest {
			p += "*"
		}
		parts = append(parts, p)
	}
	if len(parts) == 0 {
		return infos, "none"
	}
	return infos, strings.Join(parts, ", ")
}
