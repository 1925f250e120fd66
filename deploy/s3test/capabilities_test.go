package s3test_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"io"
	"slices"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
	"github.com/minio/minio-go/v7/pkg/lifecycle"

	"github.com/ofsted-portal/evidence/deploy/s3test"
)

// TestCapabilities checks, on every server this run has, what the portal's
// store relies on (bucket create and remove, an exact-size streaming PUT,
// GET, list, delete), and records what else each server does: versioning,
// version ids, delete markers, object lock, legal holds, lifecycle rules,
// regions, trailing checksums and PUTs cut off halfway.
func TestCapabilities(t *testing.T) {
	s3test.Each(t, func(t *testing.T, s *s3test.Server) {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		defer cancel()
		c, err := s.Client()
		if err != nil {
			t.Fatal(err)
		}
		f := &facts{t: t}
		f.add("start-up", "%s", s.StartupTime.Round(100*time.Millisecond))
		prefix := "s3test-" + hex.EncodeToString(random(t, 4)) + "-"
		bucket := func(name string) string {
			b := prefix + name
			t.Cleanup(func() {
				if err := removeAll(context.Background(), c, b); err != nil {
					t.Errorf("cleanup: %v", err)
				}
			})
			return b
		}

		plain := bucket("plain")
		basics(ctx, t, f, s, c, plain)
		regions(ctx, t, f, s, c, bucket("region"))
		versioning(ctx, t, f, c, bucket("versioned"))
		objectLock(ctx, t, f, c, bucket("locked"))
		lifecycleRules(ctx, t, f, c, plain)
		cutOff(ctx, t, f, s, c, plain)

		if err := removeAll(ctx, c, plain); err != nil {
			t.Fatalf("remove bucket: %v", err)
		}
		if ok, err := c.BucketExists(ctx, plain); err != nil || ok {
			t.Fatalf("bucket still there after removal: %v, %v", ok, err)
		}
		f.add("remove bucket", "ok")
		f.table(s.Name)
	})
}

// basics asserts what the portal needs and records the version ids an
// unversioned bucket reports.
func basics(ctx context.Context, t *testing.T, f *facts, s *s3test.Server, c *minio.Client, bucket string) {
	if err := c.MakeBucket(ctx, bucket, minio.MakeBucketOptions{Region: s.Region}); err != nil {
		t.Fatalf("create bucket in %s: %v", s.Region, err)
	}
	f.add("create bucket in "+s.Region, "ok")

	// What portal/blobs.Put sends: one PUT of a known length, payload
	// unsigned, no multipart.
	data := random(t, 5<<20+123)
	info, err := c.PutObject(ctx, bucket, "segment", bytes.NewReader(data), int64(len(data)),
		minio.PutObjectOptions{ContentType: "application/octet-stream", DisableMultipart: true, DisableContentSha256: true})
	if err != nil {
		t.Fatalf("put (single request, unsigned payload): %v", err)
	}
	if info.Size != int64(len(data)) {
		t.Fatalf("put reported %d bytes, sent %d", info.Size, len(data))
	}
	f.add("PUT exact size, DisableMultipart, DisableContentSha256", "ok (version id %q)", info.VersionID)
	if got := get(ctx, t, c, bucket, "segment"); !bytes.Equal(got, data) {
		t.Fatalf("get returned %d bytes, not the %d put", len(got), len(data))
	}

	// The same with a CRC32C trailer (aws-chunked, STREAMING-UNSIGNED-PAYLOAD-TRAILER),
	// which minio-go sends when the client has TrailingHeaders.
	tc, err := minio.New(s.Endpoint, &minio.Options{Creds: credentials.NewStaticV4(s.AccessKey, s.SecretKey, ""),
		Secure: s.Secure, Region: s.Region, TrailingHeaders: true})
	if err != nil {
		t.Fatal(err)
	}
	_, err = tc.PutObject(ctx, bucket, "trailer", bytes.NewReader(data), int64(len(data)),
		minio.PutObjectOptions{DisableMultipart: true, DisableContentSha256: true})
	if err == nil && !bytes.Equal(get(ctx, t, c, bucket, "trailer"), data) {
		f.add("PUT with CRC32C trailer", "accepted, but the object differs from what was sent")
	} else {
		f.add("PUT with CRC32C trailer", "%s", outcome(err))
	}

	var keys []string
	for obj := range c.ListObjects(ctx, bucket, minio.ListObjectsOptions{Recursive: true}) {
		if obj.Err != nil {
			t.Fatalf("list: %v", obj.Err)
		}
		keys = append(keys, obj.Key)
	}
	if !slices.Contains(keys, "segment") {
		t.Fatalf("list: %q, want segment", keys)
	}
	_, list := versions(ctx, c, bucket)
	f.add("list with versions, unversioned bucket", "%s", list)
	vc, err := c.GetBucketVersioning(ctx, bucket)
	f.add("versioning status of a new bucket", "%q (%s)", vc.Status, outcome(err))

	if err := c.RemoveObject(ctx, bucket, "segment", minio.RemoveObjectOptions{}); err != nil {
		t.Fatalf("delete: %v", err)
	}
	if _, err := c.StatObject(ctx, bucket, "segment", minio.StatObjectOptions{}); minio.ToErrorResponse(err).StatusCode != 404 {
		t.Fatalf("stat after delete: %v, want 404", err)
	}
	_ = c.RemoveObject(ctx, bucket, "trailer", minio.RemoveObjectOptions{})
	f.add("GET, list, delete", "ok")
}

// regions records what a server does with a region it was not told about.
func regions(ctx context.Context, t *testing.T, f *facts, s *s3test.Server, c *minio.Client, bucket string) {
	err := c.MakeBucket(ctx, bucket, minio.MakeBucketOptions{Region: "eu-west-2"})
	f.add("create bucket in eu-west-2", "%s", outcome(err))
	other, err := minio.New(s.Endpoint, &minio.Options{Creds: credentials.NewStaticV4(s.AccessKey, s.SecretKey, ""),
		Secure: s.Secure, Region: "eu-west-2"})
	if err != nil {
		t.Fatal(err)
	}
	_, err = other.ListBuckets(ctx)
	f.add("request signed for eu-west-2", "%s", outcome(err))
}

// versioning records versioning, version ids, delete markers and removing
// versions and markers by id.
func versioning(ctx context.Context, t *testing.T, f *facts, c *minio.Client, bucket string) {
	if err := c.MakeBucket(ctx, bucket, minio.MakeBucketOptions{}); err != nil {
		t.Fatalf("create bucket: %v", err)
	}
	err := c.EnableVersioning(ctx, bucket)
	f.add("enable versioning", "%s", outcome(err))
	vc, verr := c.GetBucketVersioning(ctx, bucket)
	f.add("versioning status after enabling", "%q (%s)", vc.Status, outcome(verr))
	if err != nil {
		return
	}
	put(ctx, t, c, bucket, "k", "one")
	put(ctx, t, c, bucket, "k", "two")
	infos, list := versions(ctx, c, bucket)
	f.add("two PUTs of one key", "%s", list)
	if len(infos) < 2 {
		return
	}
	err = c.RemoveObject(ctx, bucket, "k", minio.RemoveObjectOptions{})
	after, list := versions(ctx, c, bucket)
	f.add("DELETE without a version", "%s; then %s", outcome(err), list)
	var marker string
	for _, v := range after {
		if v.IsDeleteMarker {
			marker = v.VersionID
		}
	}
	if marker != "" {
		err = c.RemoveObject(ctx, bucket, "k", minio.RemoveObjectOptions{VersionID: marker})
		_, serr := c.StatObject(ctx, bucket, "k", minio.StatObjectOptions{})
		f.add("remove the delete marker by id", "%s; GET after: %s", outcome(err), outcome(serr))
	}
	oldest := infos[len(infos)-1] // listed newest first
	for _, v := range infos {
		if string(get(ctx, t, c, bucket, "k", v.VersionID)) == "one" {
			oldest = v
		}
	}
	err = c.RemoveObject(ctx, bucket, "k", minio.RemoveObjectOptions{VersionID: oldest.VersionID})
	_, list = versions(ctx, c, bucket)
	f.add("remove a specific version", "%s; then %s", outcome(err), list)
}

// objectLock records object lock at bucket creation and legal holds.
func objectLock(ctx context.Context, t *testing.T, f *facts, c *minio.Client, bucket string) {
	err := c.MakeBucket(ctx, bucket, minio.MakeBucketOptions{ObjectLocking: true})
	f.add("create bucket with ObjectLocking", "%s", outcome(err))
	if err != nil {
		return
	}
	status, mode, validity, unit, err := c.GetObjectLockConfig(ctx, bucket)
	f.add("GetObjectLockConfig", "%q, mode %v, validity %v %v (%s)", status, deref(mode), deref(validity), deref(unit), outcome(err))
	vc, err := c.GetBucketVersioning(ctx, bucket)
	f.add("versioning status of a locked bucket", "%q (%s)", vc.Status, outcome(err))

	v := put(ctx, t, c, bucket, "held", "evidence")
	on, off := minio.LegalHoldEnabled, minio.LegalHoldDisabled
	err = c.PutObjectLegalHold(ctx, bucket, "held", minio.PutObjectLegalHoldOptions{VersionID: v, Status: &on})
	f.add("PutObjectLegalHold ON", "%s", outcome(err))
	if err != nil {
		return
	}
	got, err := c.GetObjectLegalHold(ctx, bucket, "held", minio.GetObjectLegalHoldOptions{VersionID: v})
	f.add("GetObjectLegalHold", "%v (%s)", deref(got), outcome(err))
	err = c.RemoveObject(ctx, bucket, "held", minio.RemoveObjectOptions{VersionID: v, GovernanceBypass: true})
	f.add("remove a held version (governance bypass)", "%s", outcome(err))
	err = c.PutObjectLegalHold(ctx, bucket, "held", minio.PutObjectLegalHoldOptions{VersionID: v, Status: &off})
	rerr := c.RemoveObject(ctx, bucket, "held", minio.RemoveObjectOptions{VersionID: v, GovernanceBypass: true})
	f.add("lift the hold, then remove the version", "%s, %s", outcome(err), outcome(rerr))
}

// lifecycleRules records setting and reading the rule portal/blobs sets
// as a retention backstop.
func lifecycleRules(ctx context.Context, t *testing.T, f *facts, c *minio.Client, bucket string) {
	date := time.Now().UTC().AddDate(0, 1, 0).Truncate(24 * time.Hour)
	cfg := lifecycle.NewConfiguration()
	cfg.Rules = []lifecycle.Rule{{
		ID: "portal-retention-backstop", Status: "Enabled", RuleFilter: lifecycle.Filter{Prefix: ""},
		Expiration:                  lifecycle.Expiration{Date: lifecycle.ExpirationDate{Time: date}},
		NoncurrentVersionExpiration: lifecycle.NoncurrentVersionExpiration{NoncurrentDays: 1},
	}}
	err := c.SetBucketLifecycle(ctx, bucket, cfg)
	f.add("set lifecycle (expiry date, noncurrent 1 day)", "%s", outcome(err))
	got, err := c.GetBucketLifecycle(ctx, bucket)
	switch {
	case err != nil:
		f.add("get lifecycle", "%s", outcome(err))
	case len(got.Rules) != 1:
		f.add("get lifecycle", "%d rules", len(got.Rules))
	default:
		r := got.Rules[0]
		f.add("get lifecycle", "id %q, date %s (same: %v), noncurrent %d days", r.ID,
			r.Expiration.Date.Format(time.DateOnly), r.Expiration.Date.Equal(date), r.NoncurrentVersionExpiration.NoncurrentDays)
	}
}

func put(ctx context.Context, t *testing.T, c *minio.Client, bucket, key, body string) string {
	t.Helper()
	info, err := c.PutObject(ctx, bucket, key, bytes.NewReader([]byte(body)), int64(len(body)),
		minio.PutObjectOptions{DisableMultipart: true, DisableContentSha256: true})
	if err != nil {
		t.Fatalf("put %s/%s: %v", bucket, key, err)
	}
	return info.VersionID
}

func get(ctx context.Context, t *testing.T, c *minio.Client, bucket, key string, version ...string) []byte {
	t.Helper()
	opts := minio.GetObjectOptions{}
	if len(version) > 0 {
		opts.VersionID = version[0]
	}
	obj, err := c.GetObject(ctx, bucket, key, opts)
	if err != nil {
		t.Fatalf("get %s/%s: %v", bucket, key, err)
	}
	defer obj.Close()
	b, err := io.ReadAll(obj)
	if err != nil {
		t.Fatalf("get %s/%s: %v", bucket, key, err)
	}
	return b
}

func random(t *testing.T, n int) []byte {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return b
}

func deref[T any](p *T) any {
	if p == nil {
		return "none"
	}
	return *p
}
