// Package blobs is the portal's object store: one bucket per visit, objects
// that are age files under opaque keys. It speaks S3 through minio-go, so any
// S3-compatible server works. It never sees plaintext.
package blobs

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
	"github.com/minio/minio-go/v7/pkg/lifecycle"

	"github.com/ofsted-portal/evidence/crypto"
)

// Config says where the S3-compatible server is.
type Config struct {
	Endpoint  string // host:port
	AccessKey string
	SecretKey string
	Secure    bool // HTTPS
	Region    string
}

// Store talks to the object store.
type Store struct {
	c      *minio.Client
	region string
}

// ErrMissing is returned when an object that metadata says exists is gone.
var ErrMissing = errors.New("blobs: object missing")

// New connects lazily: it checks nothing until first use (see Ping).
func New(cfg Config) (*Store, error) {
	tr, err := minio.DefaultTransport(cfg.Secure)
	if err != nil {
		return nil, fmt.Errorf("blobs: transport: %w", err)
	}
	// Uploads stream large bodies; keep enough idle connections for
	// concurrent segments and don't cap per-host connections.
	tr.MaxIdleConnsPerHost = 64
	c, err := minio.New(cfg.Endpoint, &minio.Options{
		Creds:     credentials.NewStaticV4(cfg.AccessKey, cfg.SecretKey, ""),
		Secure:    cfg.Secure,
		Region:    cfg.Region,
		Transport: tr,
	})
	if err != nil {
		return nil, fmt.Errorf("blobs: client for %s: %w", cfg.Endpoint, err)
	}
	return &Store{c: c, region: cfg.Region}, nil
}

// Client exposes the minio client for tests that inspect raw objects.
func (s *Store) Client() *minio.Client { return s.c }

// Ping checks that the store answers with these credentials.
func (s *Store) Ping(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if _, err := s.c.ListBuckets(ctx); err != nil {
		return fmt.Errorf("blobs: ping: %w", err)
	}
	return nil
}

// CreateBucket makes a visit's bucket, with object locking (and so
// versioning) where the server supports it; it reports whether locking is on.
// An existing bucket of ours is reused, so creation can be retried.
func (s *Store) CreateBucket(ctx context.Context, name string) (locking bool, err error) {
	err = s.c.MakeBucket(ctx, name, minio.MakeBucketOptions{Region: s.region, ObjectLocking: true})
	if err != nil {
		code := minio.ToErrorResponse(err).Code
		switch code {
		case "BucketAlreadyOwnedByYou":
			err = nil
		case "NotImplemented", "InvalidRequest", "InvalidBucketState":
			// No object lock on this server: a plain bucket still works.
			err = s.c.MakeBucket(ctx, name, minio.MakeBucketOptions{Region: s.region})
		}
		if err != nil {
			return false, fmt.Errorf("blobs: create bucket %s: %w", name, err)
		}
	}
	status, _, _, _, lerr := s.c.GetObjectLockConfig(ctx, name)
	return lerr == nil && status == "Enabled", nil
}

// Put stores one object of exactly size bytes in one streaming request.
func (s *Store) Put(ctx context.Context, bucket, key string, r io.Reader, size int64) error {
	_, err := s.c.PutObject(ctx, bucket, key, r, size, minio.PutObjectOptions{
		ContentType: "application/octet-stream",
		// One request per segment: the caller sized segments for that.
		DisableMultipart: true,
		// age authenticates every chunk; the transport checksum is CRC32C.
		DisableContentSha256: true,
	})
	if err != nil {
		return fmt.Errorf("blobs: put %s/%s: %w", bucket, key, err)
	}
	return nil
}

// Get returns the whole object. Read errors are crypto.SourceError, so the
// decryption layer can tell a failing network from a failed authentication.
func (s *Store) Get(ctx context.Context, bucket, key string) (io.ReadCloser, error) {
	return s.get(ctx, bucket, key, minio.GetObjectOptions{})
}

// GetRange returns length bytes of the object from off, in one request.
func (s *Store) GetRange(ctx context.Context, bucket, key string, off, length int64) (io.ReadCloser, error) {
	opts := minio.GetObjectOptions{}
	if err := opts.SetRange(off, off+length-1); err != nil {
		return nil, fmt.Errorf("blobs: range: %w", err)
	}
	return s.get(ctx, bucket, key, opts)
}

func (s *Store) get(ctx context.Context, bucket, key string, opts minio.GetObjectOptions) (io.ReadCloser, error) {
	// GetObjectWithInfo-style: a core GET so that errors show up now, not
	// on first read, and so one request is one GET.
	core := minio.Core{Client: s.c}
	body, info, _, err := core.GetObject(ctx, bucket, key, opts)
	if err != nil {
		resp := minio.ToErrorResponse(err)
		if resp.StatusCode == http.StatusNotFound || resp.Code == "NoSuchKey" {
			return nil, ErrMissing
		}
		return nil, fmt.Errorf("blobs: get %s/%s: %w", bucket, key, err)
	}
	return sourceReader{body, info.Size}, nil
}

// sourceReader marks the store's read errors as the source's (not
// corruption), and knows how long the body is (Size).
type sourceReader struct {
	io.ReadCloser
	size int64
}

// Size is the length of the body the store announced.
func (r sourceReader) Size() int64 { return r.size }

func (r sourceReader) Read(p []byte) (int, error) {
	n, err := r.ReadCloser.Read(p)
	if err != nil && err != io.EOF {
		err = &crypto.SourceError{Err: err}
	}
	return n, err
}

// RemovePrefix deletes every version of every object under prefix, so
// nothing of it can be restored from the bucket.
func (s *Store) RemovePrefix(ctx context.Context, bucket, prefix string) error {
	_, err := s.removeVersions(ctx, bucket, prefix)
	return err
}

func (s *Store) removeVersions(ctx context.Context, bucket, prefix string) (int, error) {
	objects := s.c.ListObjects(ctx, bucket, minio.ListObjectsOptions{Prefix: prefix, Recursive: true, WithVersions: true})
	var firstErr error
	n := 0
	for obj := range objects {
		if obj.Err != nil {
			if minio.ToErrorResponse(obj.Err).Code == "NoSuchBucket" {
				return n, nil
			}
			return n, fmt.Errorf("blobs: list %s/%s: %w", bucket, prefix, obj.Err)
		}
		err := s.c.RemoveObject(ctx, bucket, obj.Key, minio.RemoveObjectOptions{VersionID: obj.VersionID, GovernanceBypass: true})
		if err != nil && firstErr == nil {
			firstErr = fmt.Errorf("blobs: remove %s/%s: %w", bucket, obj.Key, err)
		}
		if err == nil {
			n++
		}
	}
	return n, firstErr
}

// SetLegalHold puts an S3 legal hold on (or off) every object version in the
// bucket. It does nothing where the bucket has no object lock.
func (s *Store) SetLegalHold(ctx context.Context, bucket string, on bool) error {
	if status, _, _, _, err := s.c.GetObjectLockConfig(ctx, bucket); err != nil || status != "Enabled" {
		return nil
	}
	st := minio.LegalHoldDisabled
	if on {
		st = minio.LegalHoldEnabled
	}
	for obj := range s.c.ListObjects(ctx, bucket, minio.ListObjectsOptions{Recursive: true, WithVersions: true}) {
		if obj.Err != nil {
			return fmt.Errorf("blobs: list %s: %w", bucket, obj.Err)
		}
		if obj.IsDeleteMarker {
			continue
		}
		if err := s.c.PutObjectLegalHold(ctx, bucket, obj.Key, minio.PutObjectLegalHoldOptions{VersionID: obj.VersionID, Status: &st}); err != nil {
			return fmt.Errorf("blobs: legal hold %s/%s: %w", bucket, obj.Key, err)
		}
	}
	return nil
}

// RemoveBucket deletes every object version in a bucket, then the bucket,
// and says how many versions it deleted. A bucket already gone is success.
func (s *Store) RemoveBucket(ctx context.Context, bucket string) (int, error) {
	n, err := s.removeVersions(ctx, bucket, "")
	if err != nil {
		return n, err
	}
	if err := s.c.RemoveBucket(ctx, bucket); err != nil && minio.ToErrorResponse(err).Code != "NoSuchBucket" {
		return n, fmt.Errorf("blobs: remove bucket %s: %w", bucket, err)
	}
	return n, nil
}

// BucketExists reports whether the bucket is there (tests of destruction).
func (s *Store) BucketExists(ctx context.Context, bucket string) (bool, error) {
	return s.c.BucketExists(ctx, bucket)
}

// SetExpiry gives the bucket a lifecycle rule that expires every object (and
// every older version a day later) on date, as a backstop should the portal
// be down when destruction is due; a zero date removes the rule. Servers
// without lifecycle support are left alone: the portal's own destruction
// does not depend on it.
func (s *Store) SetExpiry(ctx context.Context, bucket string, date time.Time) error {
	cfg := lifecycle.NewConfiguration()
	if !date.IsZero() {
		y, m, d := date.Date()
		cfg.Rules = []lifecycle.Rule{{
			ID:                          "portal-retention-backstop",
			Status:                      "Enabled",
			RuleFilter:                  lifecycle.Filter{Prefix: ""},
			Expiration:                  lifecycle.Expiration{Date: lifecycle.ExpirationDate{Time: time.Date(y, m, d, 0, 0, 0, 0, time.UTC)}},
			NoncurrentVersionExpiration: lifecycle.NoncurrentVersionExpiration{NoncurrentDays: 1},
		}}
	}
	err := s.c.SetBucketLifecycle(ctx, bucket, cfg)
	if err != nil && minio.ToErrorResponse(err).Code == "NotImplemented" {
		return nil
	}
	if err != nil {
		return fmt.Errorf("blobs: lifecycle %s: %w", bucket, err)
	}
	return nil
}

// Expiry returns the backstop date, or zero when there is none.
func (s *Store) Expiry(ctx context.Context, bucket string) (time.Time, error) {
	cfg, err := s.c.GetBucketLifecycle(ctx, bucket)
	if err != nil {
		if minio.ToErrorResponse(err).Code == "NoSuchLifecycleConfiguration" {
			return time.Time{}, nil
		}
		return time.Time{}, err
	}
	for _, r := range cfg.Rules {
		if r.ID == "portal-retention-backstop" {
			return r.Expiration.Date.Time, nil
		}
	}
	return time.Time{}, nil
}
