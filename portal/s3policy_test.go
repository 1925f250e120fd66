package portal_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
	"github.com/minio/minio-go/v7/pkg/lifecycle"

	"github.com/ofsted-portal/evidence/deploy"
	"github.com/ofsted-portal/evidence/deploy/devstack"
	"github.com/ofsted-portal/evidence/policy"
	"github.com/ofsted-portal/evidence/portal"
)

// s3Calls sits between the portal and its store and keeps what the store
// refused (a refusal the portal only logs, a self-test's or a rule read
// back, would otherwise pass unseen) and what each request needs of an
// IAM policy as AWS S3 evaluates one (awsActions): MinIO asks less (a
// version's GET or delete needs only s3:GetObject or s3:DeleteObject
// there), and the policy is for AWS as much as for MinIO.
type s3Calls struct {
	mu      sync.Mutex
	refused []string
	needs   map[needed]string // what a request needs: one request that did
}

// needed is an action on a resource (arn:aws:s3:::bucket[/key]).
type needed struct{ action, resource string }

func (c *s3Calls) record(r *http.Request, status int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if status == http.StatusForbidden {
		c.refused = append(c.refused, r.Method+" "+r.URL.Path+"?"+r.URL.RawQuery)
	}
	if status >= 300 && status != http.StatusNotFound {
		return // a failure needs no right it was not given
	}
	resource := "arn:aws:s3:::" + strings.TrimPrefix(r.URL.Path, "/")
	if r.URL.Path == "/" {
		resource = "*"
	}
	for _, a := range awsActions(r) {
		c.needs[needed{a, resource}] = r.Method + " " + r.URL.Path + "?" + r.URL.RawQuery
	}
}

// awsActions is what AWS S3 asks of a policy for a request (the S3 user
// guide's "Actions, resources, and condition keys for Amazon S3"), for the
// requests the portal makes; an unknown request is "unknown", for the test
// to fail on. x-amz-bypass-governance-retention is left out: it needs
// s3:BypassGovernanceRetention only where a version is under governance
// retention, which the portal never sets.
func awsActions(r *http.Request) []string {
	q := r.URL.Query()
	path := strings.TrimPrefix(r.URL.Path, "/")
	versioned := q.Get("versionId") != "" && q.Get("versionId") != "null"
	h := func(k string) bool { return r.Header.Get(k) != "" }
	switch bucket, key, _ := strings.Cut(path, "/"); {
	case path == "" && r.Method == http.MethodGet:
		return []string{"s3:ListAllMyBuckets"}
	case key == "" && q.Has("versions") && r.Method == http.MethodGet:
		return []string{"s3:ListBucketVersions"}
	case key == "" && q.Has("versioning"):
		return []string{map[string]string{"GET": "s3:GetBucketVersioning", "PUT": "s3:PutBucketVersioning"}[r.Method]}
	case key == "" && q.Has("object-lock"):
		return []string{map[string]string{"GET": "s3:GetBucketObjectLockConfiguration", "PUT": "s3:PutBucketObjectLockConfiguration"}[r.Method]}
	case key == "" && q.Has("lifecycle"):
		return []string{map[string]string{"GET": "s3:GetLifecycleConfiguration", "PUT": "s3:PutLifecycleConfiguration", "DELETE": "s3:PutLifecycleConfiguration"}[r.Method]}
	case key == "" && len(q) == 0 && r.Method == http.MethodPut:
		if r.Header.Get("X-Amz-Bucket-Object-Lock-Enabled") == "true" {
			return []string{"s3:CreateBucket", "s3:PutBucketObjectLockConfiguration", "s3:PutBucketVersioning"}
		}
		return []string{"s3:CreateBucket"}
	case key == "" && len(q) == 0 && r.Method == http.MethodDelete:
		return []string{"s3:DeleteBucket"}
	case key == "" && len(q) == 0 && r.Method == http.MethodHead,
		key == "" && r.Method == http.MethodGet && !q.Has("location") && !q.Has("policy") && !q.Has("uploads"):
		return []string{"s3:ListBucket"}
	case bucket == "" || key == "":
	case q.Has("legal-hold"):
		return []string{map[string]string{"GET": "s3:GetObjectLegalHold", "PUT": "s3:PutObjectLegalHold"}[r.Method]}
	case q.Has("retention"):
		return []string{map[string]string{"GET": "s3:GetObjectRetention", "PUT": "s3:PutObjectRetention"}[r.Method]}
	case r.Method == http.MethodPut && !q.Has("uploadId") && !q.Has("partNumber") && !h("X-Amz-Copy-Source"):
		out := []string{"s3:PutObject"}
		if h("X-Amz-Object-Lock-Mode") || h("X-Amz-Object-Lock-Retain-Until-Date") {
			out = append(out, "s3:PutObjectRetention")
		}
		if h("X-Amz-Object-Lock-Legal-Hold") {
			out = append(out, "s3:PutObjectLegalHold")
		}
		return out
	case (r.Method == http.MethodGet || r.Method == http.MethodHead) && len(q) == 0:
		return []string{"s3:GetObject"}
	case (r.Method == http.MethodGet || r.Method == http.MethodHead) && q.Has("versionId") && len(q) == 1:
		if versioned {
			return []string{"s3:GetObjectVersion"}
		}
		return []string{"s3:GetObject"}
	case r.Method == http.MethodDelete && len(q) == 0:
		return []string{"s3:DeleteObject"}
	case r.Method == http.MethodDelete && q.Has("versionId") && len(q) == 1:
		if versioned {
			return []string{"s3:DeleteObjectVersion"}
		}
		return []string{"s3:DeleteObject"}
	}
	return []string{"unknown: " + r.Method + " " + r.URL.Path + "?" + r.URL.RawQuery}
}

func (c *s3Calls) take() (refused []string, needs map[needed]string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	needs = maps.Clone(c.needs)
	refused, c.refused = c.refused, nil
	return refused, needs
}

// iamPolicy is an IAM policy's Allow statements, as far as the portal's
// policy uses them.
type iamPolicy struct {
	Statement []struct {
		Sid, Effect      string
		Action, Resource []string
	}
}

// matches is IAM's wildcard match: * is any run of characters, "/"
// included.
func matches(pattern, s string) bool {
	re := "^" + strings.ReplaceAll(regexp.QuoteMeta(pattern), `\*`, ".*") + "$"
	return regexp.MustCompile(re).MatchString(s)
}

// s3PolicyUnexercised are the actions the policy grants that the test does
// not make the portal use, each with why it is granted all the same.
var s3PolicyUnexercised = map[string]string{
	"Visits s3:DeleteObject": "MinIO asks it of a version's delete (AWS asks s3:DeleteObjectVersion), and a store without " +
		"versioning lists no version ids, so its objects are deleted plainly",
	"AuditAnchorsWriteOnce s3:GetObject": "MinIO asks it of a version's GET (AWS asks s3:GetObjectVersion)",
	"KeyEpochs s3:DeleteObjectVersion": "the janitor deletes by version should the key bucket have been versioned against the rule " +
		"(docs/operating.md), so that the key is still destroyed, not kept in an old version",
}

// TestPortalUnderItsS3Policy runs the portal under the S3 policy
// docs/operating.md gives operators (deploy/s3-policy.json), as the
// session policy of MinIO temporary credentials: a visit's bucket made,
// files uploaded and downloaded, a legal hold set and lifted (with a file
// uploaded under it), the retention run reading its rules back and
// destroying the visit, the key epoch retired from the key bucket,
// checkpoints and a destruction's records anchored and read back, and
// readiness with its self-test. None of it may be refused: a policy that
// lacks an action the portal needs breaks a deployment that follows it.
// Then what the policy must not allow is tried with the same credentials
// and must be refused: the anchors deleted or hidden (a delete, a version
// delete, a lifecycle rule, a new lock configuration, a bucket policy),
// the key bucket versioned, and any bucket outside the portal's own.
func TestPortalUnderItsS3Policy(t *testing.T) {
	bin, err := devstack.FindMinIO()
	if err != nil {
		if os.Getenv("PORTAL_REQUIRE_INTEGRATION") != "" {
			t.Fatal(err)
		}
		t.Skipf("skipping: %v", err)
	}
	ctx := context.Background()
	const rootKey, rootSecret, region = "policy-root", "policy-root-secret", "us-east-1"
	const prefix, anchorBucket, keyBucket, elsewhere = "pv-", "pa-anchors", "pk-epochs", "elsewhere"
	m, err := devstack.StartMinIO(ctx, devstack.MinIOOptions{Binary: bin, DataDir: t.TempDir(), AccessKey: rootKey, SecretKey: rootSecret})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Stop() })
	root, err := minio.New(m.Endpoint, &minio.Options{Creds: credentials.NewStaticV4(rootKey, rootSecret, ""), Region: region})
	if err != nil {
		t.Fatal(err)
	}
	// As the operator does before the first start: the anchor bucket,
	// with object lock. And a bucket that is not the portal's.
	if err := root.MakeBucket(ctx, anchorBucket, minio.MakeBucketOptions{Region: region, ObjectLocking: true}); err != nil {
		t.Fatal(err)
	}
	if err := root.MakeBucket(ctx, elsewhere, minio.MakeBucketOptions{Region: region}); err != nil {
		t.Fatal(err)
	}
	if _, err := root.PutObject(ctx, elsewhere, "kept", strings.NewReader("x"), 1, minio.PutObjectOptions{DisableMultipart: true}); err != nil {
		t.Fatal(err)
	}

	// The portal's credentials: whatever the policy allows, no more.
	sts, err := credentials.NewSTSAssumeRole("http://"+m.Endpoint, credentials.STSAssumeRoleOptions{
		AccessKey: rootKey, SecretKey: rootSecret, Location: region, DurationSeconds: 3600,
		Policy: deploy.S3Policy(prefix, anchorBucket, keyBucket),
	})
	if err != nil {
		t.Fatal(err)
	}
	cred, err := sts.GetWithContext(nil)
	if err != nil {
		t.Fatalf("assume role with the policy: %v", err)
	}

	calls := &s3Calls{needs: map[needed]string{}}
	rp := httputil.NewSingleHostReverseProxy(&url.URL{Scheme: "http", Host: m.Endpoint})
	rp.ModifyResponse = func(resp *http.Response) error {
		calls.record(resp.Request, resp.StatusCode)
		return nil
	}
	proxy := httptest.NewServer(rp)
	t.Cleanup(proxy.Close)
	d := startDomainWith(t, func(o *devstack.Options) {
		o.S3 = &devstack.S3Endpoint{Endpoint: strings.TrimPrefix(proxy.URL, "http://"), Region: region,
			AccessKey: cred.AccessKeyID, SecretKey: cred.SecretAccessKey, SessionToken: cred.SessionToken}
		o.Env = map[string]string{"PORTAL_SEGMENT_SIZE": "1MiB", "PORTAL_DESTRUCTION_NOTICE": "0d",
			"PORTAL_BUCKET_PREFIX": prefix, "PORTAL_AUDIT_ANCHOR_BUCKET": anchorBucket, "PORTAL_KEY_BUCKET": keyBucket}
	})
	svc := d.svc
	noneRefused := func(during string) {
		t.Helper()
		if refused, _ := calls.take(); len(refused) > 0 {
			t.Fatalf("%s: the store refused the portal, under the documented policy:\n%s", during, strings.Join(refused, "\n"))
		}
	}
	noneRefused("start-up")

	// Readiness, and its self-test finding object lock and lifecycle rules
	// (a test's PostgreSQL may be degraded in its own ways).
	var ready portal.Readiness
	storageDegraded := func() []string {
		var out []string
		for k := range ready.Degraded {
			if strings.HasPrefix(k, "storage") {
				out = append(out, k)
			}
		}
		return out
	}
	deadline := time.Now().Add(30 * time.Second)
	for ready = svc.Ready(ctx); !ready.Ready || ready.At.IsZero() || len(storageDegraded()) > 0; ready = svc.Ready(ctx) {
		if time.Now().After(deadline) {
			t.Fatalf("not ready, or the store degraded: %+v", ready)
		}
		time.Sleep(100 * time.Millisecond)
	}
	noneRefused("readiness")

	// A visit made under the policy: its bucket locked and versioned.
	v := d.demo()
	if !strings.HasPrefix(v.Bucket, prefix) {
		t.Fatalf("the demo visit's bucket %q is not under %q", v.Bucket, prefix)
	}
	if st, _, _, _, err := root.GetObjectLockConfig(ctx, v.Bucket); err != nil || st != "Enabled" {
		t.Fatalf("the visit's bucket has no object lock: %q %v", st, err)
	}

	// Files up and down.
	uploader := d.person("cafcass", "uploader@cafcass.example")
	lead := d.person("ofsted", "lead@ofsted.example")
	admin := d.person("ofsted", "admin@ofsted.example")
	upload := func(name string, n int) {
		t.Helper()
		body := bytes.Repeat([]byte(name[:4]), n/4+1)[:n]
		fv, err := d.mustAccess(uploader, policy.FileUpload).Upload(ctx, portal.NewFile{Name: name, Size: int64(n)}, bytes.NewReader(body))
		if err != nil {
			t.Fatalf("upload %s: %v", name, err)
		}
		acc, err := d.access(lead, policy.FileDownload, fv.ID)
		if err != nil {
			t.Fatal(err)
		}
		dl, err := acc.OpenDownload(ctx, 0, int64(n), false)
		if err != nil {
			t.Fatalf("download %s: %v", name, err)
		}
		got, err := io.ReadAll(dl)
		dl.Close()
		if err != nil || !bytes.Equal(got, body) {
			t.Fatalf("download %s: %d bytes, %v", name, len(got), err)
		}
	}
	upload("1.01 two segments.zip", 1<<20+1000)
	noneRefused("upload and download")

	// A legal hold: every object version is held, those of a file
	// uploaded under it too; lifted, they are free again.
	held := func() (n, of int) {
		t.Helper()
		for obj := range root.ListObjects(ctx, v.Bucket, minio.ListObjectsOptions{Recursive: true, WithVersions: true}) {
			if obj.Err != nil {
				t.Fatal(obj.Err)
			}
			st, err := root.GetObjectLegalHold(ctx, v.Bucket, obj.Key, minio.GetObjectLegalHoldOptions{VersionID: obj.VersionID})
			if err == nil && *st == minio.LegalHoldEnabled {
				n++
			}
			of++
		}
		return n, of
	}
	hold := func(on bool) {
		t.Helper()
		if _, err := d.mustAccess(admin, policy.LegalHoldSet).SetLegalHold(ctx, on, "Judicial review"); err != nil {
			t.Fatalf("legal hold %v: %v", on, err)
		}
	}
	hold(true)
	upload("1.02 under the hold.pdf", 1000)
	waitFor(t, 10*time.Second, "every object version held", func() bool { n, of := held(); return n == of && of == 3 })
	noneRefused("legal hold")
	hold(false)
	if n, _ := held(); n != 0 {
		t.Fatalf("lifted, and %d object versions still held", n)
	}
	noneRefused("lifting the legal hold")

	// Published: the bucket gets its expiry backstop, which a hold takes
	// away.
	day := d.publish(lead, v)
	if r, err := root.GetBucketLifecycle(ctx, v.Bucket); err != nil || len(r.Rules) != 1 {
		t.Fatalf("no expiry rule after publication: %v", err)
	}
	hold(true)
	if _, err := root.GetBucketLifecycle(ctx, v.Bucket); minio.ToErrorResponse(err).Code != "NoSuchLifecycleConfiguration" {
		t.Fatalf("held, and the bucket keeps an expiry rule: %v", err)
	}
	hold(false)
	noneRefused("publication, a legal hold and its lifting")

	// Another instance of the portal (or this one restarted) reads the
	// visit's key's epoch key from the key bucket.
	second, err := portal.New(ctx, d.Config, portal.WithLogger(portal.NewLogger(io.Discard, "error")))
	if err != nil {
		t.Fatal(err)
	}
	defer second.Close()
	if err := second.CheckVisitKey(ctx, v.ID); err != nil {
		t.Fatalf("the visit's key, read by another instance: %v", err)
	}
	noneRefused("another instance reading the key")

	// The retention run reads the rules back, and destroys the visit: its
	// objects, its bucket, and its key's epoch superseded in the key
	// bucket.
	d.at(day.AddDate(0, 0, 40))
	if ids, err := svc.RunRetention(ctx); err != nil || len(ids) != 1 {
		t.Fatalf("destruction: %v %v", ids, err)
	}
	noneRefused("the retention run and the destruction")
	if ok, err := root.BucketExists(ctx, v.Bucket); err != nil || ok {
		t.Fatalf("the destroyed visit's bucket is left: %v %v", ok, err)
	}
	dest, err := svc.Store().GetDestruction(ctx, v.ID)
	if err != nil || dest.KeyEpoch == "" {
		t.Fatalf("destruction record: %+v %v", dest, err)
	}

	// The epoch janitor deletes the superseded epoch's key when its time
	// has come.
	d.offset.Add(int64(d.Config.KeyEpochRetain + time.Hour))
	svc.Sweep(ctx)
	noneRefused("the key epoch janitor")
	if e, err := svc.Store().GetEpoch(ctx, dest.KeyEpoch); err != nil || e.RetiredAt.IsZero() {
		t.Fatalf("the superseded epoch was not retired: %+v %v", e, err)
	}
	for obj := range root.ListObjects(ctx, keyBucket, minio.ListObjectsOptions{Recursive: true, WithVersions: true}) {
		if strings.Contains(obj.Key, dest.KeyEpoch) {
			t.Fatalf("the retired epoch's key is left in the key bucket: %s %v", obj.Key, obj.Err)
		}
	}

	// Checkpoints and the destruction's records are anchored, and read
	// back as portal audit verify does.
	if err := svc.Checkpoint(ctx, true); err != nil {
		t.Fatal(err)
	}
	anchors, err := portal.FindAnchors(ctx, d.Config)
	if err != nil || anchors == nil || anchors.Where() != "bucket "+anchorBucket {
		t.Fatalf("anchors: %v %v", anchors, err)
	}
	cps, err := anchors.List(ctx)
	if err != nil || len(cps) == 0 {
		t.Fatalf("anchored checkpoints: %d, %v", len(cps), err)
	}
	notes, err := anchors.Records(ctx, "destructions/"+v.ID+"/")
	if err != nil || len(notes) == 0 {
		t.Fatalf("the destruction's anchored records: %d, %v", len(notes), err)
	}
	waitFor(t, 30*time.Second, "readiness after all that", func() bool { return svc.Ready(ctx).Ready })
	noneRefused("anchoring and reading anchors back")
	// Every right a request needed, AWS's way, is granted; and every
	// right granted was needed, or is known not to be used here.
	_, needs := calls.take()
	var pol iamPolicy
	if err := json.Unmarshal([]byte(deploy.S3Policy(prefix, anchorBucket, keyBucket)), &pol); err != nil {
		t.Fatal(err)
	}
	used := map[string]bool{}
	var lacking []string
	for n, req := range needs {
		granted := false
		for _, st := range pol.Statement {
			if st.Effect != "Allow" || !slices.ContainsFunc(st.Resource, func(p string) bool { return matches(p, n.resource) }) {
				continue
			}
			if slices.ContainsFunc(st.Action, func(p string) bool { return matches(p, n.action) }) {
				granted = true
				used[st.Sid+" "+n.action] = true
			}
		}
		if !granted {
			lacking = append(lacking, n.action+" on "+n.resource+" (for "+req+")")
		}
	}
	sort.Strings(lacking)
	if len(lacking) > 0 {
		t.Errorf("the policy lacks what the portal needs on AWS S3:\n%s", strings.Join(lacking, "\n"))
	}
	for _, st := range pol.Statement {
		for _, a := range st.Action {
			if why, ok := s3PolicyUnexercised[st.Sid+" "+a]; !used[st.Sid+" "+a] && !ok {
				t.Errorf("the policy grants %s in %s, which the portal did not use", a, st.Sid)
			} else if used[st.Sid+" "+a] && ok {
				t.Errorf("%s in %s is used after all (it was thought not to be: %s)", a, st.Sid, why)
			}
		}
	}

	// What the policy must not allow, tried with the portal's credentials.
	mc, err := minio.New(m.Endpoint, &minio.Options{Creds: credentials.NewStaticV4(cred.AccessKeyID, cred.SecretAccessKey, cred.SessionToken), Region: region})
	if err != nil {
		t.Fatal(err)
	}
	// An object of the anchor bucket's with no retention of its own, so
	// that only the policy stands between it and a delete.
	probe, err := root.PutObject(ctx, anchorBucket, "probe", strings.NewReader("x"), 1, minio.PutObjectOptions{DisableMultipart: true})
	if err != nil {
		t.Fatal(err)
	}
	var anchored string
	for obj := range root.ListObjects(ctx, anchorBucket, minio.ListObjectsOptions{Recursive: true}) {
		if obj.Err == nil && obj.Key != "probe" {
			anchored = obj.Key
		}
	}
	days := uint(1)
	mode, unit := minio.Governance, minio.Days
	rule := lifecycle.NewConfiguration()
	rule.Rules = []lifecycle.Rule{{ID: "gone", Status: "Enabled", Expiration: lifecycle.Expiration{Days: 1}}}
	for _, c := range []struct {
		name string
		try  func() error
	}{
		{"delete an anchor", func() error { return mc.RemoveObject(ctx, anchorBucket, anchored, minio.RemoveObjectOptions{}) }},
		{"delete an object of the anchor bucket", func() error { return mc.RemoveObject(ctx, anchorBucket, "probe", minio.RemoveObjectOptions{}) }},
		{"delete a version in the anchor bucket", func() error {
			return mc.RemoveObject(ctx, anchorBucket, "probe", minio.RemoveObjectOptions{VersionID: probe.VersionID})
		}},
		{"a lifecycle rule on the anchor bucket", func() error { return mc.SetBucketLifecycle(ctx, anchorBucket, rule) }},
		{"the anchor bucket's lifecycle removed", func() error { return mc.SetBucketLifecycle(ctx, anchorBucket, lifecycle.NewConfiguration()) }},
		{"the anchor bucket's object lock changed", func() error { return mc.SetObjectLockConfig(ctx, anchorBucket, &mode, &days, &unit) }},
		{"the anchor bucket's versioning suspended", func() error { return mc.SuspendVersioning(ctx, anchorBucket) }},
		{"a bucket policy on the anchor bucket", func() error { return mc.SetBucketPolicy(ctx, anchorBucket, `{"Version":"2012-10-17","Statement":[]}`) }},
		{"the anchor bucket deleted", func() error { return mc.RemoveBucket(ctx, anchorBucket) }},
		{"the key bucket versioned", func() error { return mc.EnableVersioning(ctx, keyBucket) }},
		{"a lifecycle rule on the key bucket", func() error { return mc.SetBucketLifecycle(ctx, keyBucket, rule) }},
		{"a bucket outside the prefix made", func() error { return mc.MakeBucket(ctx, "other-bucket", minio.MakeBucketOptions{Region: region}) }},
		{"a bucket outside the prefix listed", func() error {
			for obj := range mc.ListObjects(ctx, elsewhere, minio.ListObjectsOptions{}) {
				return obj.Err
			}
			return nil
		}},
		{"an object outside the prefix read", func() error {
			r, err := mc.GetObject(ctx, elsewhere, "kept", minio.GetObjectOptions{})
			if err == nil {
				_, err = io.ReadAll(r)
			}
			return err
		}},
		{"an object outside the prefix written", func() error {
			_, err := mc.PutObject(ctx, elsewhere, "new", strings.NewReader("x"), 1, minio.PutObjectOptions{DisableMultipart: true})
			return err
		}},
		{"an object outside the prefix deleted", func() error { return mc.RemoveObject(ctx, elsewhere, "kept", minio.RemoveObjectOptions{}) }},
		{"a bucket outside the prefix deleted", func() error { return mc.RemoveBucket(ctx, elsewhere) }},
	} {
		t.Run(c.name, func(t *testing.T) {
			err := c.try()
			if code := minio.ToErrorResponse(err).Code; code != "AccessDenied" {
				t.Errorf("not refused by the policy: %v (code %q)", err, code)
			}
		})
	}
	// And nothing of it happened.
	vs := 0
	for obj := range root.ListObjects(ctx, anchorBucket, minio.ListObjectsOptions{Recursive: true, WithVersions: true}) {
		if obj.Err != nil || obj.IsDeleteMarker {
			t.Errorf("the anchor bucket holds a delete marker, or cannot be listed: %s %v", obj.Key, obj.Err)
		}
		vs++
	}
	if vs == 0 {
		t.Error("the anchor bucket is empty")
	}
	if _, err := root.StatObject(ctx, elsewhere, "kept", minio.StatObjectOptions{}); err != nil {
		t.Errorf("the object outside the prefix: %v", err)
	}
}
