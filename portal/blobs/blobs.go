// Package blobs is the portal's object store: one bucket per visit, objects
// that are age files under opaque keys. It speaks S3 through minio-go, so any
// S3-compatible server works. It never sees plaintext.
package blobs

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strconv"
	"strings"
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
	// SessionToken goes with temporary credentials (an STS AssumeRole's):
	// empty for an access key of the store's own.
	SessionToken string
	Secure       bool // HTTPS
	Region       string
	// OnError, when set, is told of every exchange with the server that
	// failed, by operation (OpGet, OpPut, ...): for monitoring.
	OnError func(op string)
}

// Store talks to the object store.
type Store struct {
	c      *minio.Client
	region string
}

// ErrMissing is returned when an object that metadata says exists is gone.
var ErrMissing = errors.New("blobs: object missing")

// ErrBeyondEnd is returned for a range that starts past the object's end
// (416): the object is shorter than the range asked of it.
var ErrBeyondEnd = errors.New("blobs: range beyond the object's end")

// ErrFull is returned when the object store has no room: nothing was
// stored, and writing will fail until an operator makes room.
var ErrFull = errors.New("blobs: the object store is full")

// full classifies a store's "no room" answers (HTTP 507; MinIO's
// XMinioStorageFull; a server's disk full).
func full(err error) error {
	resp := minio.ToErrorResponse(err)
	switch {
	case err == nil:
		return nil
	case resp.StatusCode == http.StatusInsufficientStorage, resp.Code == "XMinioStorageFull", resp.Code == "StorageFull",
		strings.Contains(resp.Message, "minimum free drive threshold"), strings.Contains(err.Error(), "no space left on device"):
		return fmt.Errorf("%w: %v", ErrFull, err)
	}
	return err
}

// New connects lazily: it checks nothing until first use (see Ping).
func New(cfg Config) (*Store, error) {
	tr, err := minio.DefaultTransport(cfg.Secure)
	if err != nil {
		return nil, fmt.Errorf("blobs: transport: %w", err)
	}
	// Uploads stream large bodies; keep enough idle connections for
	// concurrent segments and don't cap per-host connections.
	tr.MaxIdleConnsPerHost = 64
	var rt http.RoundTripper = tr
	if cfg.OnError != nil {
		rt = observed{next: tr, host: cfg.Endpoint, onError: cfg.OnError}
	}
	c, err := minio.New(cfg.Endpoint, &minio.Options{
		Creds:     credentials.NewStaticV4(cfg.AccessKey, cfg.SecretKey, cfg.SessionToken),
		Secure:    cfg.Secure,
		Region:    cfg.Region,
		Transport: rt,
		// A CRC32C trailer on every unsigned-payload PUT: a server then
		// knows a body cut short is incomplete (VersityGW otherwise keeps
		// an aborted PUT as a short object).
		TrailingHeaders: true,
	})
	if err != nil {
		return nil, fmt.Errorf("blobs: client for %s: %w", cfg.Endpoint, err)
	}
	return &Store{c: c, region: cfg.Region}, nil
}

// Client exposes the minio client for tests that inspect raw objects.
func (s *Store) Client() *minio.Client { return s.c }

// Ping checks that the store answers with these credentials, by asking
// whether bucket (one of the portal's own) is there: listing every bucket
// would need a right on the whole account, which the portal's S3 policy
// does not give.
func (s *Store) Ping(ctx context.Context, bucket string) error {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if _, err := s.c.BucketExists(ctx, bucket); err != nil {
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
	return s.lockOn(ctx, name)
}

// lockOn reports whether object lock really works in a bucket: its
// configuration says so and versioning, which it rests on, is on (a
// server may report object lock on a bucket whose versioning is off). A
// server that says the bucket has no lock configuration, or that it does
// not do object lock, has none; any other failure to read either (a
// refusal, the server down) is an error, never "no lock": the legal holds
// that rest on it would be skipped in silence.
func (s *Store) lockOn(ctx context.Context, bucket string) (bool, error) {
	status, _, _, _, err := s.c.GetObjectLockConfig(ctx, bucket)
	if err != nil {
		resp := minio.ToErrorResponse(err)
		switch {
		case resp.StatusCode == http.StatusNotImplemented, resp.StatusCode == http.StatusNotFound:
			return false, nil
		}
		switch resp.Code {
		case "ObjectLockConfigurationNotFoundError", "NoSuchObjectLockConfiguration", "NotImplemented", "InvalidRequest", "InvalidBucketState", "MethodNotAllowed":
			return false, nil
		}
		return false, fmt.Errorf("blobs: object lock of %s: %w", bucket, err)
	}
	if status != "Enabled" {
		return false, nil
	}
	v, err := s.c.GetBucketVersioning(ctx, bucket)
	if err != nil {
		return false, fmt.Errorf("blobs: versioning of %s: %w", bucket, err)
	}
	return v.Enabled(), nil
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
		return fmt.Errorf("blobs: put %s/%s: %w", bucket, key, full(err))
	}
	return nil
}

// Get returns the whole object. Read errors are crypto.SourceError, so the
// decryption layer can tell a failing network from a failed authentication.
func (s *Store) Get(ctx context.Context, bucket, key string) (io.ReadCloser, error) {
	return s.get(ctx, bucket, key, minio.GetObjectOptions{}, 0, -1)
}

// Exists says whether the object key is in the bucket (its current
// version: one deleted is not).
func (s *Store) Exists(ctx context.Context, bucket, key string) (bool, error) {
	_, err := s.c.StatObject(ctx, bucket, key, minio.StatObjectOptions{})
	if err == nil {
		return true, nil
	}
	if resp := minio.ToErrorResponse(err); resp.StatusCode == http.StatusNotFound || resp.Code == "NoSuchKey" {
		return false, nil
	}
	return false, fmt.Errorf("blobs: stat %s/%s: %w", bucket, key, err)
}

// GetRange returns length bytes of the object from off, in one request.
// A store that answers with the whole object (RFC 9110 lets a server
// ignore a Range) has the bytes before off read and dropped, and those
// after the range left unread: slower, but the same bytes, never taken
// for the object's damage.
func (s *Store) GetRange(ctx context.Context, bucket, key string, off, length int64) (io.ReadCloser, error) {
	opts := minio.GetObjectOptions{}
	if err := opts.SetRange(off, off+length-1); err != nil {
		return nil, fmt.Errorf("blobs: range: %w", err)
	}
	return s.get(ctx, bucket, key, opts, off, length)
}

// get is one GET of the object: whole (length < 0), or the range of
// length bytes from off that opts asks for.
func (s *Store) get(ctx context.Context, bucket, key string, opts minio.GetObjectOptions, off, length int64) (io.ReadCloser, error) {
	// GetObjectWithInfo-style: a core GET so that errors show up now, not
	// on first read, and so one request is one GET.
	core := minio.Core{Client: s.c}
	body, info, header, err := core.GetObject(ctx, bucket, key, opts)
	if err != nil {
		resp := minio.ToErrorResponse(err)
		if resp.StatusCode == http.StatusNotFound || resp.Code == "NoSuchKey" {
			return nil, ErrMissing
		}
		if resp.StatusCode == http.StatusRequestedRangeNotSatisfiable || resp.Code == "InvalidRange" {
			return nil, ErrBeyondEnd
		}
		return nil, fmt.Errorf("blobs: get %s/%s: %w", bucket, key, err)
	}
	size, total := info.Size, info.Size
	cr := header.Get("Content-Range")
	if cr == "" && size < 0 {
		// The object sent without its length (chunked): its length is
		// asked of the store, so that a body cut short in transit is
		// still told from an object stored short, and a range beyond
		// the end from a transfer cut. Asked of the object this GET
		// returned (its ETag), not of a version (which a policy granting
		// s3:GetObject alone does not allow).
		n, err := s.length(ctx, bucket, key, info.ETag)
		if err != nil {
			body.Close()
			return nil, err
		}
		size, total = n, n
	}
	switch {
	case cr != "":
		total = -1
		span, t, ok := strings.Cut(strings.TrimPrefix(cr, "bytes "), "/")
		if ok {
			if n, err := strconv.ParseInt(t, 10, 64); err == nil {
				total = n
			}
		}
		// The range's own length, from the range the store says it
		// sent, whether or not it was sent with a length: one stored
		// short says so in its range.
		if a, b, ok := strings.Cut(span, "-"); ok {
			from, err1 := strconv.ParseInt(a, 10, 64)
			to, err2 := strconv.ParseInt(b, 10, 64)
			// Another range than the one asked for (starting elsewhere,
			// or ending short of the object's end and of the range) is
			// the store's mistake, not the object's damage.
			if err1 == nil && err2 == nil && length >= 0 && (from != off || total >= 0 && to < min(off+length, total)-1) {
				body.Close()
				return nil, &crypto.SourceError{Err: fmt.Errorf("blobs: get %s/%s: asked for bytes %d-%d, sent %s", bucket, key, off, off+length-1, cr)}
			}
			if err1 == nil && err2 == nil && to >= from {
				size = to - from + 1
			}
		}
	case length >= 0:
		// The whole object, for a range: its bytes before the range are
		// dropped here, so the body is the range the caller asked for.
		if off >= total {
			body.Close()
			return nil, ErrBeyondEnd
		}
		if _, err := io.CopyN(io.Discard, body, off); err != nil {
			body.Close()
			if err == io.EOF {
				err = io.ErrUnexpectedEOF // shorter than the store said: cut in transit
			}
			return nil, &crypto.SourceError{Err: fmt.Errorf("blobs: get %s/%s: before the range: %w", bucket, key, err)}
		}
		size = min(length, total-off)
		body = struct {
			io.Reader
			io.Closer
		}{io.LimitReader(body, size), body}
	}
	if size >= 0 {
		// A body that ends before the length the store gave was cut in
		// transit: a failure of the store, not a shorter object.
		body = struct {
			io.Reader
			io.Closer
		}{&sized{r: body, left: size}, body}
	}
	return sourceReader{body, size, total}, nil
}

// length is the length of the object as the store gives it (HEAD), of the
// object with this ETag when there is one (a precondition: 412 when the
// object changed since).
func (s *Store) length(ctx context.Context, bucket, key, etag string) (int64, error) {
	opts := minio.StatObjectOptions{}
	if etag != "" {
		if err := opts.SetMatchETag(etag); err != nil {
			return 0, fmt.Errorf("blobs: stat %s/%s: %w", bucket, key, err)
		}
	}
	st, err := s.c.StatObject(ctx, bucket, key, opts)
	if err != nil {
		if resp := minio.ToErrorResponse(err); resp.StatusCode == http.StatusNotFound || resp.Code == "NoSuchKey" {
			return 0, ErrMissing
		}
		return 0, fmt.Errorf("blobs: stat %s/%s: %w", bucket, key, err)
	}
	if st.Size < 0 {
		return 0, fmt.Errorf("blobs: stat %s/%s: the store gives no length", bucket, key)
	}
	return st.Size, nil
}

// sized reads a body the store said is left bytes long: one that ends
// before was cut in transit, a failure of the store (crypto.SourceError),
// not a shorter object.
type sized struct {
	r    io.Reader
	left int64
}

func (z *sized) Read(p []byte) (int, error) {
	n, err := z.r.Read(p)
	z.left -= int64(n)
	if err == io.EOF && z.left > 0 {
		err = &crypto.SourceError{Err: io.ErrUnexpectedEOF}
	}
	return n, err
}

// sourceReader marks the store's read errors as the source's (not
// corruption), and knows how long the body is (Size) and the object
// (ObjectSize).
type sourceReader struct {
	io.ReadCloser
	size, total int64
}

// Size is the length of the body the store announced (or, for a whole
// object it sent without one, the object's length as the store gives it),
// or -1 when it did not say.
func (r sourceReader) Size() int64 { return r.size }

// ObjectSize is the length of the whole object the store announced (for a
// range, from its Content-Range), or -1 when it did not say.
func (r sourceReader) ObjectSize() int64 { return r.total }

func (r sourceReader) Read(p []byte) (int, error) {
	n, err := r.ReadCloser.Read(p)
	if err != nil && err != io.EOF {
		err = &crypto.SourceError{Err: err}
	}
	return n, err
}

// Version is one object version, or delete marker, as listed.
type Version struct {
	Key, VersionID string
	DeleteMarker   bool
	Modified       time.Time // when the store wrote it
}

// versionID normalises a listed version id: some servers (VersityGW, and
// any for an unversioned bucket) list "null", which means no version and
// must not be sent back as one.
func versionID(id string) string {
	if id == "null" {
		return ""
	}
	return id
}

// Versions lists every object version and delete marker under prefix
// ("" for the whole bucket). A bucket that is gone has none.
func (s *Store) Versions(ctx context.Context, bucket, prefix string) ([]Version, error) {
	var out []Version
	for obj := range s.c.ListObjects(ctx, bucket, minio.ListObjectsOptions{Prefix: prefix, Recursive: true, WithVersions: true}) {
		if obj.Err != nil {
			if minio.ToErrorResponse(obj.Err).Code == "NoSuchBucket" {
				return nil, nil
			}
			return nil, fmt.Errorf("blobs: list %s/%s: %w", bucket, prefix, obj.Err)
		}
		out = append(out, Version{Key: obj.Key, VersionID: versionID(obj.VersionID), DeleteMarker: obj.IsDeleteMarker, Modified: obj.LastModified})
	}
	return out, nil
}

// RemovePrefix deletes every version of every object under prefix, so
// nothing of it can be restored from the bucket.
func (s *Store) RemovePrefix(ctx context.Context, bucket, prefix string) error {
	_, err := s.removeAll(ctx, bucket, prefix)
	return err
}

// removeRounds bounds how often a listing is emptied and taken again: a
// server's lifecycle can add delete markers while we delete, but a bucket
// that will not empty (a hold the portal did not set) must end in an
// error, not a loop.
const removeRounds = 8

// removeAll deletes every version and delete marker under prefix until a
// listing finds none, and says how many it deleted.
func (s *Store) removeAll(ctx context.Context, bucket, prefix string) (int, error) {
	n := 0
	for round := 0; round < removeRounds; round++ {
		vs, err := s.Versions(ctx, bucket, prefix)
		if err != nil {
			return n, err
		}
		if len(vs) == 0 {
			return n, nil
		}
		var firstErr error
		for _, v := range vs {
			err := s.c.RemoveObject(ctx, bucket, v.Key, minio.RemoveObjectOptions{VersionID: v.VersionID})
			switch {
			case err == nil:
				n++
			case minio.ToErrorResponse(err).Code == "NoSuchKey" || minio.ToErrorResponse(err).Code == "NoSuchVersion":
			case firstErr == nil:
				firstErr = fmt.Errorf("blobs: remove %s/%s: %w", bucket, v.Key, err)
			}
		}
		if firstErr != nil && round >= 2 {
			return n, firstErr
		}
	}
	return n, fmt.Errorf("blobs: %s/%s still holds objects after %d rounds of deletion", bucket, prefix, removeRounds)
}

// RemoveKeys deletes every version of each of these exact keys (the
// objects a failed upload wrote, whatever a listing of its prefix showed
// at the time).
func (s *Store) RemoveKeys(ctx context.Context, bucket string, keys []string) error {
	for _, k := range keys {
		vs, err := s.Versions(ctx, bucket, k)
		if err != nil {
			return err
		}
		for _, v := range vs {
			if v.Key != k {
				continue
			}
			err := s.c.RemoveObject(ctx, bucket, k, minio.RemoveObjectOptions{VersionID: v.VersionID})
			if err != nil && minio.ToErrorResponse(err).Code != "NoSuchKey" && minio.ToErrorResponse(err).Code != "NoSuchVersion" {
				return fmt.Errorf("blobs: remove %s/%s: %w", bucket, k, err)
			}
		}
	}
	return nil
}

// SetLegalHold puts an S3 legal hold on (or off) every object version in the
// bucket. It does nothing where the bucket has no object lock.
func (s *Store) SetLegalHold(ctx context.Context, bucket string, on bool) error {
	return s.SetLegalHoldUnder(ctx, bucket, "", on)
}

// SetLegalHoldUnder is SetLegalHold for the object versions under prefix
// alone (one file's segments).
func (s *Store) SetLegalHoldUnder(ctx context.Context, bucket, prefix string, on bool) error {
	if locked, err := s.lockOn(ctx, bucket); err != nil || !locked {
		return err
	}
	st := minio.LegalHoldDisabled
	if on {
		st = minio.LegalHoldEnabled
	}
	for obj := range s.c.ListObjects(ctx, bucket, minio.ListObjectsOptions{Prefix: prefix, Recursive: true, WithVersions: true}) {
		if obj.Err != nil {
			return fmt.Errorf("blobs: list %s: %w", bucket, obj.Err)
		}
		if obj.IsDeleteMarker {
			continue
		}
		if err := s.c.PutObjectLegalHold(ctx, bucket, obj.Key, minio.PutObjectLegalHoldOptions{VersionID: versionID(obj.VersionID), Status: &st}); err != nil {
			return fmt.Errorf("blobs: legal hold %s/%s: %w", bucket, obj.Key, err)
		}
	}
	return nil
}

// RemoveBucket deletes every object version and delete marker in a
// bucket, listing again until it is empty, then the bucket, and says how
// many it deleted. A bucket already gone is success.
func (s *Store) RemoveBucket(ctx context.Context, bucket string) (int, error) {
	n := 0
	for round := 0; round < removeRounds; round++ {
		m, err := s.removeAll(ctx, bucket, "")
		n += m
		if err != nil {
			return n, err
		}
		err = s.c.RemoveBucket(ctx, bucket)
		switch code := minio.ToErrorResponse(err).Code; {
		case err == nil, code == "NoSuchBucket":
			return n, nil
		case code == "BucketNotEmpty":
			continue // something landed after the listing: list again
		default:
			return n, fmt.Errorf("blobs: remove bucket %s: %w", bucket, err)
		}
	}
	return n, fmt.Errorf("blobs: bucket %s did not stay empty after %d rounds", bucket, removeRounds)
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
		cfg.Rules = []lifecycle.Rule{{
			ID:                          "portal-retention-backstop",
			Status:                      "Enabled",
			RuleFilter:                  lifecycle.Filter{Prefix: ""},
			Expiration:                  lifecycle.Expiration{Date: lifecycle.ExpirationDate{Time: ExpiryDay(date)}},
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

// ExpiryDay is the rule SetExpiry sets for date as the store keeps it and
// Expiry reads it: midnight UTC of date's calendar day; zero for none.
func ExpiryDay(date time.Time) time.Time {
	if date.IsZero() {
		return date
	}
	y, m, d := date.Date()
	return time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
}

// ErrNoLifecycle is a store without bucket lifecycle rules.
var ErrNoLifecycle = errors.New("blobs: the object store has no bucket lifecycle rules")

// Expiry returns the backstop date, or zero when there is none
// (ErrNoLifecycle: the store has no lifecycle rules at all).
func (s *Store) Expiry(ctx context.Context, bucket string) (time.Time, error) {
	cfg, err := s.c.GetBucketLifecycle(ctx, bucket)
	if err != nil {
		switch minio.ToErrorResponse(err).Code {
		case "NoSuchLifecycleConfiguration":
			return time.Time{}, nil
		case "NotImplemented":
			return time.Time{}, ErrNoLifecycle
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

// Features are what the object store offers that the portal relies on or
// uses when it can.
type Features struct {
	ObjectLock bool // object lock on versioned buckets: S3 legal holds
	Lifecycle  bool // bucket lifecycle rules: the destruction backstop
	// Left is why the self-test's bucket could not be removed, naming it
	// (nil: removed): the store keeps it, one more each self-test.
	Left error
}

// SelfTest creates a bucket (named from prefix) in the configured region,
// as visit creation does, finds what the store offers on it, and removes
// it. An error says visits cannot be created: a wrong region, or
// credentials that may not create buckets. A bucket the store refuses to
// remove is reported in Features.Left.
func (s *Store) SelfTest(ctx context.Context, prefix string) (f Features, err error) {
	return s.SelfTestIn(ctx, SelfTestBucket(prefix))
}

// selfTestName is the form of a self-test's bucket's name after the
// prefix: never a visit's (the prefix and 32 hex digits).
var selfTestName = regexp.MustCompile(`^selftest-[0-9a-f]{12}$`)

// SelfTestBucket is a new name for a self-test's bucket, for a caller that
// records it before SelfTestIn makes it.
func SelfTestBucket(prefix string) string {
	var rnd [6]byte
	rand.Read(rnd[:])
	return prefix + "selftest-" + hex.EncodeToString(rnd[:])
}

// RemoveSelfTestBucket removes a bucket a self-test left (named by
// SelfTestBucket with prefix), which is empty: no object is deleted, so a
// bucket holding any is refused by the store, and a name of any other
// form is refused here. A bucket already gone is success.
func (s *Store) RemoveSelfTestBucket(ctx context.Context, prefix, name string) error {
	rest, ok := strings.CutPrefix(name, prefix)
	if !ok || !selfTestName.MatchString(rest) {
		return fmt.Errorf("blobs: %q is not a self-test's bucket", name)
	}
	err := s.c.RemoveBucket(ctx, name)
	if err != nil && minio.ToErrorResponse(err).Code != "NoSuchBucket" {
		return fmt.Errorf("blobs: remove bucket %s: %w", name, err)
	}
	return nil
}

// SelfTestIn is SelfTest in the bucket name (SelfTestBucket).
func (s *Store) SelfTestIn(ctx context.Context, name string) (f Features, err error) {
	// Removed even when creation failed part way (made, but its lock
	// could not be read): a bucket that was never made is NoSuchBucket.
	defer func() {
		err := s.c.RemoveBucket(context.WithoutCancel(ctx), name)
		if err != nil && minio.ToErrorResponse(err).Code != "NoSuchBucket" {
			f.Left = fmt.Errorf("blobs: remove bucket %s: %w", name, err)
		}
	}()
	locking, err := s.CreateBucket(ctx, name)
	if err != nil {
		return f, err
	}
	f.ObjectLock = locking
	when := time.Now().AddDate(1, 0, 0)
	if err := s.SetExpiry(ctx, name, when); err == nil {
		if got, err := s.Expiry(ctx, name); err == nil && !got.IsZero() {
			f.Lifecycle = true
		}
	}
	return f, nil
}

// EnsureLockedBucket creates a bucket with object lock if it is not there,
// and reports whether object lock works in it.
func (s *Store) EnsureLockedBucket(ctx context.Context, name string) (bool, error) {
	ok, err := s.c.BucketExists(ctx, name)
	if err != nil {
		return false, fmt.Errorf("blobs: bucket %s: %w", name, err)
	}
	if !ok {
		return s.CreateBucket(ctx, name)
	}
	return s.lockOn(ctx, name)
}

// PutRetained stores a small object that nobody, not even the account that
// wrote it, can delete or overwrite until retainUntil (object lock in
// compliance mode).
func (s *Store) PutRetained(ctx context.Context, bucket, key string, data []byte, retainUntil time.Time) error {
	_, err := s.c.PutObject(ctx, bucket, key, bytes.NewReader(data), int64(len(data)), minio.PutObjectOptions{
		ContentType: "application/json", Mode: minio.Compliance, RetainUntilDate: retainUntil, DisableMultipart: true,
	})
	if err != nil {
		return fmt.Errorf("blobs: put %s/%s: %w", bucket, key, err)
	}
	return nil
}

// LastKey returns the greatest key under prefix that has a version, delete
// markers aside ("" when there is none), listing names only: for keys that
// sort as what they number. A delete marker hides nothing here: under
// object lock it is allowed over a version that cannot be deleted.
func (s *Store) LastKey(ctx context.Context, bucket, prefix string) (string, error) {
	last := ""
	for obj := range s.c.ListObjects(ctx, bucket, minio.ListObjectsOptions{Prefix: prefix, Recursive: true, WithVersions: true}) {
		if obj.Err != nil {
			if minio.ToErrorResponse(obj.Err).Code == "NoSuchBucket" {
				return "", nil
			}
			return "", fmt.Errorf("blobs: list %s/%s: %w", bucket, prefix, obj.Err)
		}
		if !obj.IsDeleteMarker {
			last = max(last, obj.Key)
		}
	}
	return last, nil
}

// Object is one version of a small object, read whole.
type Object struct {
	Key, VersionID string
	Body           []byte
}

// maxRecord is the most a record kept outside the database may hold: a
// destruction certificate lists every file destroyed (a few hundred bytes
// each), so a visit of 200,000 files has one of tens of MiB.
const maxRecord = 64 << 20

// ReadVersions returns every version of every object under prefix, delete
// markers aside, each read whole: what a bucket under object lock holds,
// whatever was put or deleted over it since. An object over maxRecord is
// an error, never a record cut short (which would not verify, and be
// taken for none).
func (s *Store) ReadVersions(ctx context.Context, bucket, prefix string) ([]Object, error) {
	vs, err := s.Versions(ctx, bucket, prefix)
	if err != nil {
		return nil, err
	}
	out := make([]Object, 0, len(vs))
	for _, v := range vs {
		if v.DeleteMarker {
			continue
		}
		r, err := s.c.GetObject(ctx, bucket, v.Key, minio.GetObjectOptions{VersionID: v.VersionID})
		if err != nil {
			return nil, fmt.Errorf("blobs: get %s/%s: %w", bucket, v.Key, err)
		}
		b, err := readRecord(r)
		r.Close()
		if err != nil {
			return nil, fmt.Errorf("blobs: get %s/%s (version %s): %w", bucket, v.Key, v.VersionID, err)
		}
		out = append(out, Object{Key: v.Key, VersionID: v.VersionID, Body: b})
	}
	return out, nil
}

// readRecord reads a record whole, or fails when it is over maxRecord.
func readRecord(r io.Reader) ([]byte, error) {
	b, err := io.ReadAll(io.LimitReader(r, maxRecord+1))
	if err == nil && len(b) > maxRecord {
		return nil, fmt.Errorf("larger than the %d MiB a record may hold", maxRecord>>20)
	}
	return b, err
}

// ReadAll returns every object under prefix (current versions), by key.
func (s *Store) ReadAll(ctx context.Context, bucket, prefix string) (map[string][]byte, error) {
	out := map[string][]byte{}
	for obj := range s.c.ListObjects(ctx, bucket, minio.ListObjectsOptions{Prefix: prefix, Recursive: true}) {
		if obj.Err != nil {
			if minio.ToErrorResponse(obj.Err).Code == "NoSuchBucket" {
				return out, nil
			}
			return nil, fmt.Errorf("blobs: list %s/%s: %w", bucket, prefix, obj.Err)
		}
		r, err := s.c.GetObject(ctx, bucket, obj.Key, minio.GetObjectOptions{})
		if err != nil {
			return nil, err
		}
		b, err := readRecord(r)
		r.Close()
		if err != nil {
			return nil, fmt.Errorf("blobs: get %s/%s: %w", bucket, obj.Key, err)
		}
		out[obj.Key] = b
	}
	return out, nil
}

// EnsurePlainBucket creates a bucket without object lock if it is not there
// (keys kept in it must be deletable at once, every version of them).
func (s *Store) EnsurePlainBucket(ctx context.Context, name string) error {
	err := s.c.MakeBucket(ctx, name, minio.MakeBucketOptions{Region: s.region})
	if err != nil && minio.ToErrorResponse(err).Code != "BucketAlreadyOwnedByYou" {
		return fmt.Errorf("blobs: create bucket %s: %w", name, err)
	}
	return nil
}

// PutSmall stores a small object in one request.
func (s *Store) PutSmall(ctx context.Context, bucket, key string, data []byte) error {
	_, err := s.c.PutObject(ctx, bucket, key, bytes.NewReader(data), int64(len(data)), minio.PutObjectOptions{
		ContentType: "application/octet-stream", DisableMultipart: true,
	})
	if err != nil {
		return fmt.Errorf("blobs: put %s/%s: %w", bucket, key, full(err))
	}
	return nil
}

// ErrNoObject says an object does not exist.
var ErrNoObject = errors.New("blobs: no such object")

// GetSmall returns a small object (at most 1 MiB) whole; ErrNoObject when
// it does not exist.
func (s *Store) GetSmall(ctx context.Context, bucket, key string) ([]byte, error) {
	r, err := s.c.GetObject(ctx, bucket, key, minio.GetObjectOptions{})
	if err != nil {
		return nil, fmt.Errorf("blobs: get %s/%s: %w", bucket, key, err)
	}
	defer r.Close()
	b, err := io.ReadAll(io.LimitReader(r, 1<<20))
	if err != nil {
		if c := minio.ToErrorResponse(err).Code; c == "NoSuchKey" || c == "NoSuchBucket" {
			return nil, ErrNoObject
		}
		return nil, fmt.Errorf("blobs: get %s/%s: %w", bucket, key, err)
	}
	return b, nil
}
