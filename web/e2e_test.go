package web_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"hash"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"

	"github.com/ofsted-portal/evidence/crypto"
	"github.com/ofsted-portal/evidence/portal/calendar"
	"github.com/ofsted-portal/evidence/portal/retention"
)

const marker = "EVIDENCE-PLAINTEXT-MARKER-7d1f0c"

// evidenceReader yields size deterministic pseudo-random bytes with the
// marker written every MiB, hashing what it yields.
type evidenceReader struct {
	rng  *rand.ChaCha8
	left int64
	pos  int64
	h    hash.Hash
}

func newEvidence(seed byte, size int64) *evidenceReader {
	var s [32]byte
	s[0] = seed
	return &evidenceReader{rng: rand.NewChaCha8(s), left: size, h: sha256.New()}
}

func (r *evidenceReader) Read(p []byte) (int, error) {
	if r.left == 0 {
		return 0, io.EOF
	}
	if int64(len(p)) > r.left {
		p = p[:r.left]
	}
	r.rng.Read(p)
	// Write the marker wherever a MiB boundary falls inside p.
	for off := (r.pos + (1<<20 - 1)) &^ (1<<20 - 1); off < r.pos+int64(len(p)); off += 1 << 20 {
		copy(p[off-r.pos:], marker)
	}
	r.pos += int64(len(p))
	r.left -= int64(len(p))
	r.h.Write(p)
	return len(p), nil
}

func (r *evidenceReader) sum() string { return hex.EncodeToString(r.h.Sum(nil)) }

func evidenceBytes(seed byte, size int64) []byte {
	b, _ := io.ReadAll(newEvidence(seed, size))
	return b
}

// setUpVisit creates a visit as the administrator and adds the uploader and
// the lead inspector by email, as an administrator would.
func setUpVisit(t *testing.T, ts *testStack, admin *browser, ref string) visitResp {
	t.Helper()
	cal, err := calendar.New()
	if err != nil {
		t.Fatal(err)
	}
	y, m, d := time.Now().In(london).Date()
	nd := calendar.Date(y, m, d)
	if !cal.IsWorkingDay(nd) {
		nd = cal.PreviousWorkingDay(nd)
	}
	v := decode[visitResp](t, admin.sendJSON("POST", "/api/v1/visits", map[string]any{
		"reference": ref, "title": "Focused visit " + ref, "provider": "Cafcass",
		"notification_date": nd.Format(time.DateOnly), "fieldwork_start": cal.AddWorkingDays(nd, 5).Format(time.DateOnly),
	}), http.StatusCreated)
	if v.State != "collecting" || !strings.HasPrefix(v.Bucket, "portal-visit-") {
		t.Fatalf("new visit: %+v", v)
	}
	for email, role := range map[string]string{"uploader@cafcass.example": "provider_uploader", "lead@ofsted.example": "lead_inspector"} {
		decode[map[string]any](t, admin.sendJSON("PUT", "/api/v1/visits/"+v.ID+"/members", map[string]string{"email": email, "role": role}), http.StatusCreated)
	}
	return v
}

// fieldworkEnd is the visit's last day of fieldwork, as its timeline says.
func fieldworkEnd(t *testing.T, who *browser, v visitResp) time.Time {
	t.Helper()
	tl := decode[struct {
		Timeline struct {
			FieldworkEnd string `json:"fieldwork_end"`
		} `json:"timeline"`
	}](t, who.get("/api/v1/visits/"+v.ID), http.StatusOK)
	end, err := calendar.ParseDate(tl.Timeline.FieldworkEnd)
	if err != nil {
		t.Fatal(err)
	}
	return end
}

// publish moves the clock on by days and has the lead inspector record the
// letter events: the draft and the final letter on the two days after
// fieldwork ended, the publication on the first day after Cafcass's time to
// complain (publishedOn). It returns the end of fieldwork.
func publish(t *testing.T, ts *testStack, lead *browser, v visitResp, days int) time.Time {
	t.Helper()
	end := fieldworkEnd(t, lead, v)
	ts.offset.Store(int64(time.Duration(days) * 24 * time.Hour))
	for _, ev := range []struct {
		event string
		on    time.Time
	}{{"draft_sent", end.AddDate(0, 0, 1)}, {"final_sent", end.AddDate(0, 0, 2)}, {"published", publishedOn(ts, end.AddDate(0, 0, 2))}} {
		decode[visitResp](t, lead.sendJSON("POST", "/api/v1/visits/"+v.ID+"/events", map[string]string{"event": ev.event, "date": ev.on.Format(time.DateOnly)}), http.StatusOK)
	}
	return end
}

// publishedOn is the first day a letter whose final version was sent on
// final can be recorded as published: the day after Cafcass's time to
// complain.
func publishedOn(ts *testStack, final time.Time) time.Time {
	return retention.ComplaintsUntil(ts.Portal.Calendar(), final).AddDate(0, 0, 1)
}

func TestEvidenceEndToEnd(t *testing.T) {
	ts := startStack(t)
	admin := ts.signIn(t, "ofsted", "admin@ofsted.example")
	v := setUpVisit(t, ts, admin, "FV-E2E-1")
	// Members bind at their next sign-in.
	uploader := ts.signIn(t, "cafcass", "uploader@cafcass.example")
	lead := ts.signIn(t, "ofsted", "lead@ofsted.example")
	outsider := ts.signIn(t, "ofsted", "outsider@ofsted.example")

	const size = 100 << 20
	const name = "1.03 MI report Whitfield child.xlsx"
	src := newEvidence(1, size)
	f := decode[fileResp](t, uploader.upload(v.ID, name, src, size), http.StatusCreated)
	if f.Size != size || f.SHA256 != src.sum() || f.Name != name || f.Item != "1.03" {
		t.Fatalf("upload answered %+v, want size %d sha %s item 1.03", f, size, src.sum())
	}

	t.Run("objects are age files with opaque keys and no plaintext", func(t *testing.T) {
		mc := ts.Portal.Blobs().Client()
		ctx := context.Background()
		n := 0
		for obj := range mc.ListObjects(ctx, v.Bucket, minio.ListObjectsOptions{Recursive: true, WithVersions: true, WithMetadata: true}) {
			if obj.Err != nil {
				t.Fatal(obj.Err)
			}
			n++
			for _, part := range []string{"MI report", "Whitfield", "xlsx", "1.03"} {
				if strings.Contains(obj.Key, part) {
					t.Errorf("object key %q contains %q", obj.Key, part)
				}
				for k, val := range obj.UserMetadata {
					if strings.Contains(k+val, part) {
						t.Errorf("object %s metadata %s=%s contains %q", obj.Key, k, val, part)
					}
				}
			}
			o, err := mc.GetObject(ctx, v.Bucket, obj.Key, minio.GetObjectOptions{VersionID: obj.VersionID})
			if err != nil {
				t.Fatal(err)
			}
			data, err := io.ReadAll(o)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.HasPrefix(data, []byte("age-encryption.org/v1\n")) {
				t.Errorf("object %s does not start with the age header: %q", obj.Key, data[:min(len(data), 30)])
			}
			if bytes.Contains(data, []byte(marker)) {
				t.Errorf("object %s contains the plaintext marker", obj.Key)
			}
		}
		if n != 4 { // 100 MiB in 32 MiB segments
			t.Errorf("%d objects, want 4 segments", n)
		}
	})

	t.Run("lead inspector downloads exactly what was uploaded", func(t *testing.T) {
		resp := lead.get("/api/v1/visits/" + v.ID + "/files/" + f.ID + "/content")
		defer resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("status %d: %s", resp.StatusCode, readAll(t, resp))
		}
		h := sha256.New()
		n, err := io.Copy(h, resp.Body)
		if err != nil || n != size {
			t.Fatalf("read %d bytes, err %v", n, err)
		}
		if got := hex.EncodeToString(h.Sum(nil)); got != f.SHA256 {
			t.Fatalf("downloaded sha256 %s, uploaded %s", got, f.SHA256)
		}
		sum, _ := hex.DecodeString(f.SHA256)
		for k, want := range map[string]string{
			"Repr-Digest":            "sha-256=:" + base64.StdEncoding.EncodeToString(sum) + ":",
			"X-Content-Type-Options": "nosniff",
			"Cache-Control":          "no-store",
			"Content-Disposition":    `attachment; filename="1.03 MI report Whitfield child.xlsx"; filename*=UTF-8''1.03%20MI%20report%20Whitfield%20child.xlsx`,
		} {
			if got := resp.Header.Get(k); got != want {
				t.Errorf("%s = %q, want %q", k, got, want)
			}
		}
	})

	t.Run("range requests return exactly the bytes asked for", func(t *testing.T) {
		plain := evidenceBytes(1, size)
		for _, tc := range []struct {
			header     string
			start, end int64 // inclusive
		}{
			{"bytes=0-99", 0, 99},
			{"bytes=33554000-33555000", 33554000, 33555000}, // across the first segment boundary
			{"bytes=70000-", 70000, size - 1},
			{"bytes=-1000", size - 1000, size - 1},
			{"bytes=1048570-1048600", 1048570, 1048600}, // across the marker at 1 MiB
		} {
			req, _ := http.NewRequest("GET", lead.base+"/api/v1/visits/"+v.ID+"/files/"+f.ID+"/content", nil)
			req.Header.Set("Range", tc.header)
			resp := lead.do(req)
			body := readAll(t, resp)
			if resp.StatusCode != http.StatusPartialContent {
				t.Fatalf("%s: status %d", tc.header, resp.StatusCode)
			}
			if want := fmt.Sprintf("bytes %d-%d/%d", tc.start, tc.end, size); resp.Header.Get("Content-Range") != want {
				t.Errorf("%s: Content-Range %q, want %q", tc.header, resp.Header.Get("Content-Range"), want)
			}
			if !bytes.Equal([]byte(body), plain[tc.start:tc.end+1]) {
				t.Errorf("%s: %d bytes differ from the plaintext", tc.header, len(body))
			}
		}
		req, _ := http.NewRequest("GET", lead.base+"/api/v1/visits/"+v.ID+"/files/"+f.ID+"/content", nil)
		req.Header.Set("Range", fmt.Sprintf("bytes=%d-", size))
		if resp := lead.do(req); resp.StatusCode != http.StatusRequestedRangeNotSatisfiable {
			t.Errorf("range past the end: status %d, want 416", resp.StatusCode)
		}
	})

	t.Run("outsider and administrator cannot read evidence", func(t *testing.T) {
		content := "/api/v1/visits/" + v.ID + "/files/" + f.ID + "/content"
		for who, b := range map[string]*browser{"outsider": outsider, "admin": admin} {
			for _, path := range []string{content, "/api/v1/visits/" + v.ID + "/files"} {
				resp := b.get(path)
				body := readAll(t, resp)
				if resp.StatusCode != http.StatusForbidden && resp.StatusCode != http.StatusNotFound {
					t.Errorf("%s GET %s: status %d, want 403 or 404", who, path, resp.StatusCode)
				}
				if strings.Contains(body, marker) || strings.Contains(body, "Whitfield") {
					t.Errorf("%s GET %s: response leaks evidence", who, path)
				}
			}
		}
		signedOut := ts.newBrowser(t)
		if resp := signedOut.get(content); resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("signed out: status %d, want 401", resp.StatusCode)
		}
	})

	t.Run("a corrupted object is refused, never served", func(t *testing.T) {
		small := evidenceBytes(2, 300_000)
		g := decode[fileResp](t, uploader.upload(v.ID, "audit.pdf", bytes.NewReader(small), int64(len(small))), http.StatusCreated)
		mc := ts.Portal.Blobs().Client()
		ctx := context.Background()
		key := g.ID + "/0"
		o, err := mc.GetObject(ctx, v.Bucket, key, minio.GetObjectOptions{})
		if err != nil {
			t.Fatal(err)
		}
		data, _ := io.ReadAll(o)
		data[len(data)/2] ^= 0x01
		if _, err := mc.PutObject(ctx, v.Bucket, key, bytes.NewReader(data), int64(len(data)), minio.PutObjectOptions{}); err != nil {
			t.Fatal(err)
		}
		resp := lead.get("/api/v1/visits/" + v.ID + "/files/" + g.ID + "/content")
		e := decode[apiError](t, resp, http.StatusInternalServerError)
		if e.Code != "corrupt" {
			t.Fatalf("code %q, want corrupt", e.Code)
		}
	})

	t.Run("corruption past the first 4 MiB cuts the download before any byte of it", func(t *testing.T) {
		const n = 70 << 20 // segments of 32, 32 and 6 MiB
		plain := evidenceBytes(3, n)
		g := decode[fileResp](t, uploader.upload(v.ID, "1.05 Later.pdf", bytes.NewReader(plain), n), http.StatusCreated)
		mc := ts.Portal.Blobs().Client()
		ctx := context.Background()
		// flipChunk flips a byte in chunk c of a 32 MiB segment (its header
		// is what is left of the size).
		flipChunk := func(c int64) func([]byte) []byte {
			return func(ct []byte) []byte {
				h := int64(len(ct)) - 16 - 32<<20 - 512*16
				ct[h+16+c*crypto.EncryptedChunkSize+7] ^= 1
				return ct
			}
		}
		for _, tc := range []struct {
			name    string
			segment int
			spoil   func(ct []byte) []byte
			// the plaintext offset of the first byte that must not arrive;
			// 0: the download is refused before its response starts
			before int64
		}{
			{"flipped in the first 4 MiB: refused", 0, flipChunk(10), 0},
			{"flipped later in the first segment", 0, flipChunk(200), 200 * crypto.ChunkSize},
			{"flipped in a middle chunk of segment 1", 1, flipChunk(200), 32<<20 + 200*crypto.ChunkSize},
			{"segment 1 a chunk short", 1, func(ct []byte) []byte { return ct[:len(ct)-crypto.EncryptedChunkSize] }, 32 << 20},
		} {
			key := fmt.Sprintf("%s/%d", g.ID, tc.segment)
			o, err := mc.GetObject(ctx, v.Bucket, key, minio.GetObjectOptions{})
			if err != nil {
				t.Fatal(err)
			}
			good, _ := io.ReadAll(o)
			bad := tc.spoil(bytes.Clone(good))
			if _, err := mc.PutObject(ctx, v.Bucket, key, bytes.NewReader(bad), int64(len(bad)), minio.PutObjectOptions{}); err != nil {
				t.Fatal(err)
			}
			resp := lead.get("/api/v1/visits/" + v.ID + "/files/" + g.ID + "/content")
			if tc.before == 0 {
				if e := decode[apiError](t, resp, http.StatusInternalServerError); e.Code != "corrupt" {
					t.Fatalf("%s: code %q, want corrupt", tc.name, e.Code)
				}
			} else {
				got, err := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode != http.StatusOK || err == nil {
					t.Fatalf("%s: status %d, read error %v: want 200 and a connection cut short", tc.name, resp.StatusCode, err)
				}
				if int64(len(got)) > tc.before || !bytes.Equal(got, plain[:len(got)]) {
					t.Fatalf("%s: %d bytes arrived, want at most the %d before the damage, all as uploaded", tc.name, len(got), tc.before)
				}
			}
			if _, err := mc.PutObject(ctx, v.Bucket, key, bytes.NewReader(good), int64(len(good)), minio.PutObjectOptions{}); err != nil {
				t.Fatal(err)
			}
		}
		resp := lead.get("/api/v1/visits/" + v.ID + "/files/" + g.ID + "/content")
		if got := readAll(t, resp); resp.StatusCode != http.StatusOK || got != string(plain) {
			t.Fatalf("restored: status %d, %d bytes, equal %v", resp.StatusCode, len(got), got == string(plain))
		}
	})

	t.Run("refused uploads read nothing and store nothing", func(t *testing.T) {
		objectsBefore := objectCount(t, ts, v.Bucket)
		u, _ := url.Parse(uploader.base)
		var cookies []string
		for _, c := range uploader.c.Jar.Cookies(u) {
			cookies = append(cookies, c.Name+"="+c.Value)
		}
		for _, tc := range []struct {
			name, query string
			length      int64
			status      int
		}{
			{"too large, answered before the body", "name=big.bin", 21 << 30, http.StatusRequestEntityTooLarge},
			{"path separator in the name", "name=" + url.QueryEscape("../etc/passwd"), 10, http.StatusBadRequest},
			{"bidi override in the name", "name=" + url.QueryEscape("invoice\u202Efdp.exe"), 10, http.StatusBadRequest},
			{"bad item", "name=a.pdf&item=drop+table", 10, http.StatusBadRequest},
		} {
			conn, err := net.Dial("tcp", u.Host)
			if err != nil {
				t.Fatal(err)
			}
			// Headers, and a body only when it is small: a refusal of a
			// large upload must not wait for the body.
			fmt.Fprintf(conn, "POST /api/v1/visits/%s/files?%s HTTP/1.1\r\nHost: %s\r\nCookie: %s\r\nContent-Length: %d\r\n\r\n",
				v.ID, tc.query, u.Host, strings.Join(cookies, "; "), tc.length)
			if tc.length <= 10 {
				conn.Write(make([]byte, tc.length))
			}
			conn.SetReadDeadline(time.Now().Add(10 * time.Second))
			resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
			if err != nil {
				t.Fatalf("%s: %v", tc.name, err)
			}
			resp.Body.Close()
			conn.Close()
			if resp.StatusCode != tc.status {
				t.Errorf("%s: status %d, want %d", tc.name, resp.StatusCode, tc.status)
			}
		}
		if n := objectCount(t, ts, v.Bucket); n != objectsBefore {
			t.Fatalf("%d objects after refusals, want %d", n, objectsBefore)
		}
		if n := pendingUploads(t, ts); n != 0 {
			t.Fatalf("%d pending uploads after refusals", n)
		}
	})

	t.Run("an upload cut off mid-way leaves no row and no object", func(t *testing.T) {
		before := listFileIDs(t, lead, v.ID)
		objectsBefore := objectCount(t, ts, v.Bucket)
		u, _ := url.Parse(uploader.base)
		conn, err := net.Dial("tcp", u.Host)
		if err != nil {
			t.Fatal(err)
		}
		var cookies []string
		for _, c := range uploader.c.Jar.Cookies(u) {
			cookies = append(cookies, c.Name+"="+c.Value)
		}
		const declared = 80 << 20
		fmt.Fprintf(conn, "POST /api/v1/visits/%s/files?name=cut.bin HTTP/1.1\r\nHost: %s\r\nCookie: %s\r\nContent-Length: %d\r\n\r\n",
			v.ID, u.Host, strings.Join(cookies, "; "), declared)
		w := bufio.NewWriter(conn)
		io.CopyN(w, newEvidence(3, declared), 45<<20) // more than one segment
		w.Flush()
		conn.Close()
		deadline := time.Now().Add(30 * time.Second)
		for {
			left := objectCount(t, ts, v.Bucket)
			pending := pendingUploads(t, ts)
			if left == objectsBefore && pending == 0 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("after the cut: %d objects (want %d), %d pending uploads (want 0)", left, objectsBefore, pending)
			}
			time.Sleep(100 * time.Millisecond)
		}
		if after := listFileIDs(t, lead, v.ID); len(after) != len(before) {
			t.Fatalf("files before %v, after %v", before, after)
		}
	})
}

var london, _ = time.LoadLocation("Europe/London")

func listFileIDs(t *testing.T, b *browser, visitID string) []string {
	t.Helper()
	l := decode[struct {
		Files []fileResp `json:"files"`
	}](t, b.get("/api/v1/visits/"+visitID+"/files"), http.StatusOK)
	var ids []string
	for _, f := range l.Files {
		ids = append(ids, f.ID)
	}
	return ids
}

func objectCount(t *testing.T, ts *testStack, bucket string) int {
	t.Helper()
	n := 0
	for obj := range ts.Portal.Blobs().Client().ListObjects(context.Background(), bucket, minio.ListObjectsOptions{Recursive: true, WithVersions: true}) {
		if obj.Err != nil {
			t.Fatal(obj.Err)
		}
		n++
	}
	return n
}

func pendingUploads(t *testing.T, ts *testStack) int {
	t.Helper()
	var n int
	if err := ts.Portal.Store().DB().QueryRow(`SELECT COUNT(*) FROM pending_uploads`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}
