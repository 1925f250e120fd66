package blobs

import (
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestOperation(t *testing.T) {
	o := observed{host: "127.0.0.1:9000"}
	for _, tc := range []struct {
		method, url, want string
	}{
		{"GET", "http://127.0.0.1:9000/", OpList},
		{"GET", "http://127.0.0.1:9000/portal-visit-x/?list-type=2&prefix=a", OpList},
		{"GET", "http://127.0.0.1:9000/portal-visit-x/?versions=", OpList},
		{"PUT", "http://127.0.0.1:9000/portal-visit-x", OpBucket},
		{"PUT", "http://127.0.0.1:9000/portal-visit-x/?versioning=", OpBucket},
		{"GET", "http://127.0.0.1:9000/portal-visit-x/?object-lock=", OpBucket},
		{"DELETE", "http://127.0.0.1:9000/portal-visit-x/", OpBucket},
		{"HEAD", "http://127.0.0.1:9000/portal-visit-x/", OpHead},
		{"POST", "http://127.0.0.1:9000/portal-visit-x/?delete=", OpDelete},
		{"PUT", "http://127.0.0.1:9000/portal-visit-x/f/0", OpPut},
		{"GET", "http://127.0.0.1:9000/portal-visit-x/f/0", OpGet},
		{"HEAD", "http://127.0.0.1:9000/portal-visit-x/f/0", OpHead},
		{"DELETE", "http://127.0.0.1:9000/portal-visit-x/f/0?versionId=1", OpDelete},
		{"PUT", "http://127.0.0.1:9000/portal-visit-x/f/0?legal-hold=", OpObject},
		// Virtual-hosted style: the bucket is in the host name.
		{"GET", "https://portal-visit-x.s3.eu-west-2.amazonaws.com/f/0", OpGet},
		{"GET", "https://portal-visit-x.s3.eu-west-2.amazonaws.com/?list-type=2", OpList},
	} {
		r := httptest.NewRequest(tc.method, tc.url, nil)
		if got := o.operation(r); got != tc.want {
			t.Errorf("%s %s: %s, want %s", tc.method, tc.url, got, tc.want)
		}
	}
}

// TestObservedCounts: the server's failures are counted, a client's
// aborted upload and ordinary 4xx answers are not.
func TestObservedCounts(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		switch r.URL.Query().Get("answer") {
		case "503":
			w.WriteHeader(http.StatusServiceUnavailable)
		case "501":
			w.WriteHeader(http.StatusNotImplemented)
		case "403":
			w.WriteHeader(http.StatusForbidden)
		case "404":
			w.WriteHeader(http.StatusNotFound)
		}
	}))
	defer srv.Close()
	var got []string
	o := observed{next: http.DefaultTransport, host: strings.TrimPrefix(srv.URL, "http://"), onError: func(op string) { got = append(got, op) }}
	send := func(method, path string, body io.Reader) {
		req, _ := http.NewRequest(method, srv.URL+path, body)
		if resp, err := o.RoundTrip(req); err == nil {
			resp.Body.Close()
		}
	}
	send("GET", "/b/k?answer=503", nil)
	send("GET", "/b/?location=&answer=403", nil)
	send("GET", "/b/k?answer=404", nil)
	send("PUT", "/b/?lifecycle=&answer=501", strings.NewReader("x"))
	send("PUT", "/b/k", io.MultiReader(strings.NewReader("part"), failing{}))
	if strings.Join(got, ",") != "get,bucket" {
		t.Fatalf("counted %v, want [get bucket]", got)
	}
	closed := httptest.NewServer(http.NotFoundHandler())
	closed.Close()
	o.host = strings.TrimPrefix(closed.URL, "http://")
	req, _ := http.NewRequest("HEAD", closed.URL+"/b/k", nil)
	if _, err := o.RoundTrip(req); err == nil {
		t.Fatal("a closed server answered")
	}
	if got[len(got)-1] != OpHead {
		t.Fatalf("no answer was not counted: %v", got)
	}
}

type failing struct{}

func (failing) Read([]byte) (int, error) { return 0, errors.New("client went away") }
