package blobs

import (
	"errors"
	"io"
	"net/http"
	"net/url"
	"strings"
)

// S3 operations as OnError names them: a fixed set, so a count by operation
// never carries a bucket or a key.
const (
	OpGet    = "get"    // GET of an object
	OpPut    = "put"    // PUT of an object
	OpDelete = "delete" // DELETE of an object or version, or a batch delete
	OpHead   = "head"   // HEAD of an object or a bucket
	OpList   = "list"   // listing buckets, objects or versions
	OpBucket = "bucket" // creating or removing a bucket, or its settings (versioning, lock, lifecycle)
	OpObject = "object" // an object's settings (legal hold, retention)
)

// observed passes every exchange with the server through and tells onError
// of those that failed on the server's side or on the way: no answer (the
// connection failed), a 5xx other than 501 (a feature the server does not
// have, which the self-test probes for), or 401/403 (credentials or
// permissions). Other 4xx answers are the portal asking about something
// absent (no such key, a bucket that exists already) and are handled where
// they arise. A request whose own context ended, or whose body (an upload
// from a client) failed, is not the server's failure.
type observed struct {
	next    http.RoundTripper
	host    string // the configured endpoint: other hosts are virtual-hosted buckets
	onError func(op string)
}

func (o observed) RoundTrip(r *http.Request) (*http.Response, error) {
	var body *bodyErr
	if r.Body != nil && r.Body != http.NoBody {
		r = r.Clone(r.Context())
		body = &bodyErr{ReadCloser: r.Body}
		r.Body = body
	}
	resp, err := o.next.RoundTrip(r)
	switch {
	case err != nil:
		if r.Context().Err() == nil && (body == nil || body.err == nil) {
			o.onError(o.operation(r))
		}
	case resp.StatusCode >= 500 && resp.StatusCode != http.StatusNotImplemented,
		resp.StatusCode == http.StatusUnauthorized, resp.StatusCode == http.StatusForbidden:
		o.onError(o.operation(r))
	}
	return resp, err
}

// bodyErr remembers a request body's read failure (EOF is not one).
type bodyErr struct {
	io.ReadCloser
	err error
}

func (b *bodyErr) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	if err != nil && !errors.Is(err, io.EOF) {
		b.err = err
	}
	return n, err
}

// operation names what r asks of the server, from its method, path and
// sub-resource (path-style "/bucket/key", or virtual-hosted "/key").
func (o observed) operation(r *http.Request) string {
	path := strings.TrimPrefix(r.URL.Path, "/")
	hasKey := strings.Contains(strings.TrimSuffix(path, "/"), "/")
	if r.URL.Host != o.host {
		hasKey = path != ""
	}
	q := r.URL.Query()
	if !hasKey {
		return bucketOperation(r.Method, q)
	}
	switch {
	case q.Has("legal-hold"), q.Has("retention"), q.Has("tagging"):
		return OpObject
	case r.Method == http.MethodGet:
		return OpGet
	case r.Method == http.MethodPut, r.Method == http.MethodPost:
		return OpPut
	case r.Method == http.MethodDelete:
		return OpDelete
	}
	return OpHead
}

func bucketOperation(method string, q url.Values) string {
	switch {
	case method == http.MethodPost && q.Has("delete"):
		return OpDelete
	case method == http.MethodHead:
		return OpHead
	case method == http.MethodGet && (len(q) == 0 || q.Has("list-type") || q.Has("versions") || q.Has("prefix")):
		return OpList
	}
	return OpBucket
}
