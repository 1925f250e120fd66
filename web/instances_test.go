package web_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ofsted-portal/evidence/deploy/devstack"
	"github.com/ofsted-portal/evidence/deploy/pgserver"
	"github.com/ofsted-portal/evidence/portal"
	"github.com/ofsted-portal/evidence/portal/store"
)

// balancer is a round-robin reverse proxy in front of several instances,
// as a load balancer would be: each request goes to the next instance that
// is up; one that refuses a connection is taken out. X-Instance says which
// instance answered.
type balancer struct {
	names   []string
	proxies []*httputil.ReverseProxy
	down    []atomic.Bool
	next    atomic.Uint64
	mu      sync.Mutex
	last    string // the instance the latest request went to
}

func startBalancer(t *testing.T, addr string, names []string, urls []string) *balancer {
	t.Helper()
	lb := &balancer{names: names, down: make([]atomic.Bool, len(names))}
	lb.proxies = make([]*httputil.ReverseProxy, len(urls))
	for i, u := range urls {
		lb.set(i, u)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: lb, ReadHeaderTimeout: 10 * time.Second}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return lb
}

func (lb *balancer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	for range lb.names {
		i := int(lb.next.Add(1)-1) % len(lb.names)
		if lb.down[i].Load() {
			continue
		}
		lb.mu.Lock()
		lb.last = lb.names[i]
		p := lb.proxies[i]
		lb.mu.Unlock()
		w.Header().Set("X-Instance", lb.names[i])
		p.ServeHTTP(w, r)
		return
	}
	http.Error(w, "no instance is up", http.StatusServiceUnavailable)
}

// set points slot i at an instance (a restarted one) and takes it as up.
func (lb *balancer) set(i int, u string) {
	target, _ := url.Parse(u)
	p := httputil.NewSingleHostReverseProxy(target)
	p.FlushInterval = -1
	p.ErrorHandler = func(w http.ResponseWriter, r *http.Request, err error) {
		var op *net.OpError
		if errors.As(err, &op) && op.Op == "dial" {
			lb.down[i].Store(true)
		}
		w.WriteHeader(http.StatusBadGateway)
	}
	lb.mu.Lock()
	lb.proxies[i] = p
	lb.mu.Unlock()
	lb.down[i].Store(false)
}

func (lb *balancer) lastInstance() string {
	lb.mu.Lock()
	defer lb.mu.Unlock()
	return lb.last
}

// TestTwoInstances runs two portal instances on one PostgreSQL database and
// one MinIO behind a round-robin balancer, and shows they act as one
// service: sessions, resumable uploads, destruction and the audit trail.
func TestTwoInstances(t *testing.T) {
	if !pgserver.TestDatabaseWanted() {
		t.Skip("several instances share a PostgreSQL database: this runs in make test's PostgreSQL pass (PORTAL_TEST_DATABASE=postgres)")
	}
	ctx := context.Background()
	pub, err := devstack.FreeAddr()
	if err != nil {
		t.Fatal(err)
	}
	ts := startStackSetup(t, func(o *devstack.Options) {
		o.PublicAddr = pub
		o.Env = map[string]string{"PORTAL_SEGMENT_SIZE": "1MiB"}
	})
	second, err := ts.StartInstance(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(second.Stop)
	lb := startBalancer(t, pub, []string{"A", "B"}, []string{ts.InstanceURL, second.URL})
	seg := ts.Config.SegmentSize

	uploader := ts.signIn(t, "cafcass", "uploader@cafcass.example")
	lead := ts.signIn(t, "ofsted", "lead@ofsted.example")
	v := ts.demoVisit(t)

	t.Run("sessions", func(t *testing.T) {
		var seen []string
		for i := 0; i < 6; i++ {
			resp := lead.get("/api/v1/visits/" + v.ID)
			readAll(t, resp)
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("request %d through %s: %d", i, resp.Header.Get("X-Instance"), resp.StatusCode)
			}
			seen = append(seen, resp.Header.Get("X-Instance"))
		}
		for i := 1; i < len(seen); i++ {
			if seen[i] == seen[i-1] || seen[i] == "" {
				t.Fatalf("requests did not alternate between the instances: %v", seen)
			}
		}
	})

	t.Run("one PATCH per offset across instances", func(t *testing.T) {
		// Two clients send different bytes for the same offset, one to each
		// instance, at the same moment: the upload must end up holding
		// exactly the bytes of the one that committed.
		bodies := [][]byte{randomBytes(t, seg), randomBytes(t, seg)}
		rest := randomBytes(t, seg)
		loc := uploader.tusCreate(v.ID, "1.02 Concurrent.pdf", 2*seg)
		type result struct {
			i      int
			status int
			err    error
		}
		results := make(chan result, 2)
		var writers []*io.PipeWriter
		for i, base := range []string{ts.InstanceURL, second.URL} {
			pr, pw := io.Pipe()
			writers = append(writers, pw)
			req, _ := http.NewRequest("PATCH", base+loc, pr)
			req.ContentLength = seg
			req.Header.Set("Tus-Resumable", "1.0.0")
			req.Header.Set("Content-Type", "application/offset+octet-stream")
			req.Header.Set("Upload-Offset", "0")
			go func() {
				resp, err := uploader.c.Do(req)
				if err != nil {
					results <- result{i: i, err: err}
					return
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				results <- result{i: i, status: resp.StatusCode}
			}()
		}
		// Half of each body, so both requests are in their instance at once.
		for i, w := range writers {
			go w.Write(bodies[i][:seg/2])
		}
		time.Sleep(500 * time.Millisecond)
		for i, w := range writers {
			go func() {
				w.Write(bodies[i][seg/2:])
				w.Close()
			}()
		}
		got, winner := map[int]int{}, -1
		for range 2 {
			r := <-results
			if r.err != nil {
				got[0]++ // the refused request's body was not read to the end
				continue
			}
			got[r.status]++
			if r.status == http.StatusNoContent {
				winner = r.i
			}
		}
		if got[http.StatusNoContent] != 1 || got[http.StatusConflict]+got[0] != 1 {
			t.Fatalf("two PATCHes at offset 0 on two instances: %v, want one 204 and one 409", got)
		}
		t.Logf("two PATCHes at offset 0: %v (0: the refused request's body was cut)", got)
		if off := uploader.tusOffset(loc); off != seg {
			t.Fatalf("offset %d after the race, want %d", off, seg)
		}
		resp := uploader.tus("PATCH", loc, bytes.NewReader(rest), seg, map[string]string{"Upload-Offset": strconv.FormatInt(seg, 10)})
		readAll(t, resp)
		if resp.StatusCode != http.StatusNoContent {
			t.Fatalf("last PATCH: %d", resp.StatusCode)
		}
		checkDownload(t, lead, v.ID, resp.Header.Get("Evidence-File-Id"), append(append([]byte(nil), bodies[winner]...), rest...))
	})

	t.Run("clients on both instances", func(t *testing.T) {
		load(t, ts, lead, v.ID)
	})

	var victim string
	t.Run("an instance killed mid-upload", func(t *testing.T) {
		data := randomBytes(t, 5*seg+seg/3)
		loc := uploader.tusCreate(v.ID, "1.03 Killed.pdf", int64(len(data)))
		var via []string
		patch := func(off int64, body io.Reader, n int64) (*http.Response, error) {
			req, _ := http.NewRequest("PATCH", uploader.base+loc, body)
			req.ContentLength = n
			req.Header.Set("Tus-Resumable", "1.0.0")
			req.Header.Set("Content-Type", "application/offset+octet-stream")
			req.Header.Set("Upload-Offset", strconv.FormatInt(off, 10))
			return uploader.c.Do(req)
		}
		for off := int64(0); off < 2*seg; off += seg {
			resp, err := patch(off, bytes.NewReader(data[off:off+seg]), seg)
			if err != nil || resp.StatusCode != http.StatusNoContent {
				t.Fatalf("PATCH at %d: %v %v", off, resp, err)
			}
			resp.Body.Close()
			via = append(via, resp.Header.Get("X-Instance"))
		}
		if via[0] == via[1] {
			t.Fatalf("PATCHes did not alternate: %v", via)
		}
		// The third PATCH stops half-way; the instance receiving it dies.
		pr, pw := io.Pipe()
		done := make(chan error, 1)
		go func() {
			resp, err := patch(2*seg, pr, seg)
			if err == nil {
				resp.Body.Close()
				if resp.StatusCode == http.StatusNoContent {
					err = errors.New("the cut PATCH succeeded")
				}
			}
			done <- err
		}()
		pw.Write(data[2*seg : 2*seg+seg/2])
		victim = lb.lastInstance()
		if victim == "A" {
			ts.Web.Kill()
		} else {
			second.Kill()
		}
		pw.CloseWithError(errors.New("client gave up"))
		if err := <-done; err == nil {
			t.Log("the cut PATCH ended without an error response")
		}
		// The client asks where to resume, then sends the rest; the
		// balancer finds the dead instance and sends everything to the
		// other. Uploads wait (409) while the dead instance's lease runs.
		off := int64(-1)
		deadline := time.Now().Add(time.Minute)
		for time.Now().Before(deadline) {
			if off < 0 {
				resp := uploader.tus("HEAD", loc, nil, 0, nil)
				resp.Body.Close()
				if resp.StatusCode != http.StatusOK {
					time.Sleep(200 * time.Millisecond)
					continue
				}
				off, _ = strconv.ParseInt(resp.Header.Get("Upload-Offset"), 10, 64)
				if off != 2*seg {
					t.Fatalf("resume at %d, want %d (the two committed segments)", off, 2*seg)
				}
			}
			if off == int64(len(data)) {
				break
			}
			n := min(seg, int64(len(data))-off)
			resp, err := patch(off, bytes.NewReader(data[off:off+n]), n)
			if err != nil {
				t.Fatal(err)
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			switch {
			case resp.StatusCode == http.StatusNoContent:
				if resp.Header.Get("X-Instance") == victim {
					t.Fatalf("a PATCH succeeded on the killed instance %s", victim)
				}
				off += n
				if id := resp.Header.Get("Evidence-File-Id"); id != "" {
					checkDownload(t, lead, v.ID, id, data)
					return
				}
			case resp.StatusCode == http.StatusConflict || resp.StatusCode == http.StatusBadGateway:
				off = -1
				time.Sleep(200 * time.Millisecond)
			default:
				t.Fatalf("PATCH at %d: %d", off, resp.StatusCode)
			}
		}
		t.Fatal("the upload did not finish on the surviving instance")
	})

	t.Run("sweepers on both instances", func(t *testing.T) {
		// The killed instance comes back, as an orchestrator would restart it.
		other := second
		switch victim {
		case "A":
			if err := ts.RestartPortal(ctx, false); err != nil {
				t.Fatal(err)
			}
			lb.set(0, ts.InstanceURL)
		case "B":
			third, err := ts.StartInstance(ctx)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(third.Stop)
			lb.set(1, third.URL)
			other = third
		}
		admin := ts.signIn(t, "ofsted", "admin@ofsted.example")
		sv := setUpVisit(t, ts, admin, "FV-TWO-INSTANCES")
		lead := ts.signIn(t, "ofsted", "lead@ofsted.example")
		publish(t, ts, lead, sv, 60)
		ts.Portal.RunRetention(ctx) // gives the notice
		decode[visitResp](t, admin.sendJSON("POST", "/api/v1/visits/"+sv.ID+"/destruction/approve", nil), http.StatusOK)
		var wg sync.WaitGroup
		for _, p := range []*portal.Service{ts.Portal, other.Portal} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := 0; i < 3; i++ {
					p.RunRetention(ctx)
				}
			}()
		}
		wg.Wait()
		recs, err := ts.Portal.Store().AuditRecords(ctx, store.AuditFilter{VisitID: sv.ID})
		if err != nil {
			t.Fatal(err)
		}
		count := map[string]int{}
		for _, r := range recs {
			count[r.Action]++
		}
		for _, a := range []string{"destruction.started", "destruction.key_destroyed", "key.epoch_started", "destruction.key_epoch_superseded",
			"destruction.objects_deleted", "destruction.certificate_issued", "visit.destroyed"} {
			if count[a] != 1 {
				t.Errorf("%d %s records, want exactly 1 (%v)", count[a], a, count)
			}
		}
		d, err := ts.Portal.Store().GetDestruction(ctx, sv.ID)
		if err != nil || len(d.Certificate) == 0 {
			t.Fatalf("certificate: %v", err)
		}
	})
}

func randomBytes(t *testing.T, n int64) []byte {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return b
}

func checkDownload(t *testing.T, who *browser, visitID, fileID string, want []byte) {
	t.Helper()
	if fileID == "" {
		t.Fatal("no file id")
	}
	resp := who.get("/api/v1/visits/" + visitID + "/files/" + fileID + "/content")
	h := sha256.New()
	io.Copy(h, resp.Body)
	resp.Body.Close()
	if got, w := hex.EncodeToString(h.Sum(nil)), fmt.Sprintf("%x", sha256.Sum256(want)); resp.StatusCode != http.StatusOK || got != w {
		t.Fatalf("download: %d, SHA-256 %s, want %s", resp.StatusCode, got, w)
	}
}

// load runs 8 clients through the balancer for PORTAL_SOAK (15s unless
// set: make soak runs longer), 4 uploading and 4 downloading, and then
// checks the audit trail: it verifies, with its anchors, and holds exactly
// one record per upload and per download.
func load(t *testing.T, ts *testStack, lead *browser, visitID string) {
	ctx := context.Background()
	dur := 15 * time.Second
	if s := os.Getenv("PORTAL_SOAK"); s != "" {
		var err error
		if dur, err = time.ParseDuration(s); err != nil {
			t.Fatal(err)
		}
	}
	st := ts.Portal.Store()
	before, _, err := st.AuditHead(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var uploads, downloads, failures atomic.Int64
	var files sync.Map // id -> sha256
	stop := time.Now().Add(dur)
	var wg sync.WaitGroup
	for c := 0; c < 8; c++ {
		var b *browser
		if c%2 == 0 {
			b = ts.signIn(t, "cafcass", []string{"uploader@cafcass.example", "coordinator@cafcass.example"}[c/2%2])
		} else {
			b = ts.signIn(t, "ofsted", "lead@ofsted.example")
		}
		wg.Add(1)
		go func(c int, b *browser) {
			defer wg.Done()
			for n := 0; time.Now().Before(stop); n++ {
				if c%2 == 0 {
					size := int64(64<<10 + (n%8)*100_000)
					data := make([]byte, size)
					rand.Read(data)
					req, _ := http.NewRequest("POST", b.base+"/api/v1/visits/"+visitID+"/files?name="+url.QueryEscape(fmt.Sprintf("1.04 Load %d-%d.pdf", c, n)), bytes.NewReader(data))
					req.Header.Set("Content-Type", "application/octet-stream")
					resp, err := b.c.Do(req)
					if err != nil || resp.StatusCode != http.StatusCreated {
						failures.Add(1)
						if err == nil {
							t.Errorf("upload: %d %s", resp.StatusCode, readAll(t, resp))
						}
						continue
					}
					f := decode[fileResp](t, resp, http.StatusCreated)
					files.Store(f.ID, fmt.Sprintf("%x", sha256.Sum256(data)))
					uploads.Add(1)
					continue
				}
				var id, sum string
				files.Range(func(k, v any) bool { id, sum = k.(string), v.(string); return n%3 != 0 })
				if id == "" {
					time.Sleep(50 * time.Millisecond)
					continue
				}
				resp, err := b.c.Get(b.base + "/api/v1/visits/" + visitID + "/files/" + id + "/content")
				if err != nil {
					failures.Add(1)
					continue
				}
				h := sha256.New()
				io.Copy(h, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != http.StatusOK || hex.EncodeToString(h.Sum(nil)) != sum {
					failures.Add(1)
					t.Errorf("download %s: %d", id, resp.StatusCode)
					continue
				}
				downloads.Add(1)
			}
		}(c, b)
	}
	wg.Wait()
	if failures.Load() > 0 {
		t.Fatalf("%d failed requests", failures.Load())
	}
	if uploads.Load() == 0 || downloads.Load() == 0 {
		t.Fatalf("%d uploads, %d downloads", uploads.Load(), downloads.Load())
	}
	recs, err := st.AuditRecords(ctx, store.AuditFilter{AfterSeq: before})
	if err != nil {
		t.Fatal(err)
	}
	count := map[string]int{}
	for _, r := range recs {
		if r.Outcome == "success" || r.Outcome == "started" {
			count[r.Action]++
		}
	}
	if count["upload.completed"] != int(uploads.Load()) || count["upload.started"] != int(uploads.Load()) || count["file.download"] != int(downloads.Load()) {
		t.Fatalf("%d uploads and %d downloads left %v", uploads.Load(), downloads.Load(), count)
	}
	// Both instances' checkpoints, then the whole chain and its anchors.
	ts.Portal.Checkpoint(ctx, true)
	anchors, err := portal.FindAnchors(ctx, ts.Config)
	if err != nil {
		t.Fatal(err)
	}
	sum, err := portal.VerifyAudit(ctx, st, anchors, ts.Portal.SigningPublicKey())
	if err != nil {
		t.Fatalf("audit verify after the load: %v", err)
	}
	t.Logf("%s of load: %d uploads, %d downloads; trail intact: %d records, %d checkpoints, %d anchored",
		dur, uploads.Load(), downloads.Load(), sum.Records, sum.Checkpoints, sum.Anchors)
}
