package scan_test

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/ofsted-portal/evidence/deploy/devstack"
	"github.com/ofsted-portal/evidence/portal/scan"
)

func TestParseReply(t *testing.T) {
	for _, tc := range []struct {
		reply string
		want  scan.Result
		err   bool
	}{
		{"stream: OK\x00", scan.Result{}, false},
		{"stream: OK\n", scan.Result{}, false},
		{"stream: Win.Test.EICAR_HDB-1 FOUND\x00", scan.Result{Infected: true, Signature: "Win.Test.EICAR_HDB-1"}, false},
		{"INSTREAM size limit exceeded. ERROR\x00", scan.Result{}, true},
		{"stream: FOUND\x00", scan.Result{}, true},
		{"stream: two words FOUND\x00", scan.Result{}, true},
		{"stream: lstat() failed: No such file. ERROR", scan.Result{}, true},
		{"", scan.Result{}, true},
		{"OK", scan.Result{}, true},
	} {
		got, err := scan.ParseReply(tc.reply)
		if (err != nil) != tc.err || got != tc.want {
			t.Errorf("ParseReply(%q) = %+v, %v; want %+v, error %v", tc.reply, got, err, tc.want, tc.err)
		}
	}
}

// FuzzParseReply: no reply is ever taken as clean unless it says exactly
// "stream: OK", and a verdict of infected always names a signature.
func FuzzParseReply(f *testing.F) {
	for _, s := range []string{"stream: OK\x00", "stream: Eicar FOUND\x00", "ERROR", "stream:  OK", "stream: OK FOUND"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		r, err := scan.ParseReply(s)
		if err != nil {
			return
		}
		line := strings.TrimSpace(strings.TrimSuffix(s, "\x00"))
		if !r.Infected && line != "stream: OK" {
			t.Fatalf("%q taken as clean", s)
		}
		if r.Infected && (r.Signature == "" || !strings.Contains(s, r.Signature)) {
			t.Fatalf("%q: infected without its signature: %+v", s, r)
		}
	})
}

func startClamd(t *testing.T) *devstack.Clamd {
	t.Helper()
	bin, err := devstack.FindClamd()
	if err != nil {
		if os.Getenv("PORTAL_REQUIRE_INTEGRATION") != "" {
			t.Fatal(err)
		}
		t.Skip(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	c, err := devstack.StartClamd(ctx, devstack.ClamdOptions{Dir: t.TempDir(), Binary: bin, InMemory: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}

// TestStream sends streams to a real clamd in writes of every size, the
// test signature across a chunk boundary among them.
func TestStream(t *testing.T) {
	c := startClamd(t)
	cl := &scan.Client{Addr: c.Addr, Timeout: 10 * time.Second}
	ctx := context.Background()
	if err := cl.Ping(ctx); err != nil {
		t.Fatal(err)
	}
	big := bytes.Repeat([]byte("case notes, nothing to see. "), 40000) // ~1.1 MB
	eicar := devstack.EICAR()
	straddle := append(append(bytes.Clone(big[:256<<10-30]), eicar...), big[:1000]...)
	for _, tc := range []struct {
		name  string
		data  []byte
		write int
		want  scan.Result
	}{
		{"empty", nil, 1, scan.Result{}},
		{"clean, small writes", big, 777, scan.Result{}},
		{"clean, one write", big, len(big), scan.Result{}},
		{"EICAR across a chunk boundary", straddle, len(straddle), scan.Result{Infected: true, Signature: devstack.EICARSignature}},
		{"EICAR byte by byte", eicar, 1, scan.Result{Infected: true, Signature: devstack.EICARSignature}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, err := cl.Begin(ctx)
			if err != nil {
				t.Fatal(err)
			}
			for d := tc.data; len(d) > 0; {
				n := min(tc.write, len(d))
				if _, err := s.Write(d[:n]); err != nil {
					t.Fatal(err)
				}
				d = d[n:]
			}
			got, err := s.Finish()
			if err != nil || got != tc.want {
				t.Fatalf("got %+v, %v; want %+v", got, err, tc.want)
			}
			if got, err := cl.Scan(ctx, bytes.NewReader(tc.data)); err != nil || got != tc.want {
				t.Fatalf("Scan: got %+v, %v; want %+v", got, err, tc.want)
			}
		})
	}
}

// TestScannerGone: clamd killed in the middle of a stream, and a scanner
// that accepts but never answers, are errors, never clean, and come within
// the timeout.
func TestScannerGone(t *testing.T) {
	c := startClamd(t)
	cl := &scan.Client{Addr: c.Addr, Timeout: 2 * time.Second}
	s, err := cl.Begin(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	s.Write(make([]byte, 1<<20))
	c.Kill()
	var werr error
	for i := 0; i < 64 && werr == nil; i++ {
		_, werr = s.Write(make([]byte, 1<<20))
	}
	if _, err := s.Finish(); err == nil {
		t.Fatal("a killed scanner gave a verdict")
	}
	if err := cl.Ping(context.Background()); err == nil {
		t.Fatal("a killed scanner answers PING")
	}

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			defer conn.Close() // read nothing, answer nothing
		}
	}()
	mute := &scan.Client{Addr: ln.Addr().String(), Timeout: 500 * time.Millisecond}
	start := time.Now()
	_, err = mute.Scan(context.Background(), bytes.NewReader(make([]byte, 8<<20)))
	if err == nil || time.Since(start) > 10*time.Second {
		t.Fatalf("a mute scanner: %v after %s", err, time.Since(start))
	}
	if err := mute.Ping(context.Background()); err == nil {
		t.Fatal("a mute scanner answers PING")
	}
}

// fakeClamd answers every INSTREAM, once the stream has ended, with reply
// and closes the connection.
func fakeClamd(t *testing.T, reply string) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer conn.Close()
				cmd := make([]byte, len("zINSTREAM\x00"))
				if _, err := io.ReadFull(conn, cmd); err != nil {
					return
				}
				var hdr [4]byte
				for {
					if _, err := io.ReadFull(conn, hdr[:]); err != nil {
						return
					}
					n := binary.BigEndian.Uint32(hdr[:])
					if n == 0 {
						break
					}
					if _, err := io.CopyN(io.Discard, conn, int64(n)); err != nil {
						return
					}
				}
				conn.Write([]byte(reply))
			}()
		}
	}()
	return ln.Addr().String()
}

// TestReplyCutShort: with the z prefix, clamd ends every reply with a NUL.
// A reply without it was cut off (the connection closed before clamd, or
// whatever stands between, had finished): it is no verdict, even when
// what arrived reads "stream: OK".
func TestReplyCutShort(t *testing.T) {
	for _, reply := range []string{"stream: OK", "stream: OK\n", "stream: O", ""} {
		cl := &scan.Client{Addr: fakeClamd(t, reply), Timeout: 2 * time.Second}
		got, err := cl.Scan(context.Background(), strings.NewReader("case notes"))
		if err == nil {
			t.Errorf("reply %q cut short: taken as %+v", reply, got)
		}
	}
	cl := &scan.Client{Addr: fakeClamd(t, "stream: OK\x00"), Timeout: 2 * time.Second}
	if got, err := cl.Scan(context.Background(), strings.NewReader("case notes")); err != nil || got.Infected {
		t.Fatalf("a whole reply: %+v, %v", got, err)
	}
}

// TestArchivesUnseen: archives clamd does not look inside (a zip
// encrypted with a password, zips nested deeper than its MaxRecursion, a
// zip of more files than its MaxFiles) are never called clean: with
// clamd.conf's AlertEncrypted and AlertExceedsMax each is a finding, and
// the file is kept from the inspection team like an infected one.
func TestArchivesUnseen(t *testing.T) {
	c := startClamd(t)
	cl := &scan.Client{Addr: c.Addr, Timeout: 10 * time.Second}
	eicar := devstack.EICAR()
	encrypted, err := devstack.EncryptedZip("notes.txt", eicar, "school2026")
	if err != nil {
		t.Fatal(err)
	}
	nested, err := devstack.NestedZip("notes.txt", eicar, 20)
	if err != nil {
		t.Fatal(err)
	}
	var many bytes.Buffer
	z := zip.NewWriter(&many)
	for i := range 10001 {
		w, err := z.Create(fmt.Sprintf("%05d.txt", i))
		if err != nil {
			t.Fatal(err)
		}
		if i == 10000 {
			w.Write(eicar)
		}
	}
	if err := z.Close(); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		data []byte
		sig  string
	}{
		{"encrypted zip", encrypted, "Heuristics.Encrypted.Zip"},
		{"zips nested 20 deep", nested, "Heuristics.Limits.Exceeded.MaxRecursion"},
		{"10001 files", many.Bytes(), "Heuristics.Limits.Exceeded.MaxFiles"},
	} {
		got, err := cl.Scan(context.Background(), bytes.NewReader(tc.data))
		if err != nil || !got.Infected || got.Signature != tc.sig {
			t.Errorf("%s (the test signature inside): %+v, %v; want found as %s", tc.name, got, err, tc.sig)
		}
	}
}

func TestUnreadable(t *testing.T) {
	for sig, want := range map[string]bool{
		"Heuristics.Encrypted.Zip":                true,
		"Heuristics.Encrypted.PDF":                true,
		"Heuristics.Limits.Exceeded.MaxRecursion": true,
		"Heuristics.Limits.Exceeded":              true,
		devstack.EICARSignature:                   false,
		"Heuristics.Phishing.Email.SpoofedDomain": false,
		"PUA.Win.Packer.Upx-1":                    false,
		"Win.Trojan.Heuristics.Encrypted.Zip-1":   false,
	} {
		if got := scan.Unreadable(sig); got != want {
			t.Errorf("Unreadable(%q) = %v", sig, got)
		}
	}
}

// TestStreamTooLong: a clamd whose StreamMaxLength is smaller than the
// stream answers "INSTREAM size limit exceeded. ERROR" and closes the
// connection while the stream is still being sent. That is no verdict,
// and the error says why (not only that the connection broke), so that
// whoever reads the log can set StreamMaxLength right.
func TestStreamTooLong(t *testing.T) {
	bin, err := devstack.FindClamd()
	if err != nil {
		t.Skip(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	c, err := devstack.StartClamd(ctx, devstack.ClamdOptions{Dir: t.TempDir(), Binary: bin, InMemory: true, StreamMaxLength: "1M"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	cl := &scan.Client{Addr: c.Addr, Timeout: 5 * time.Second}
	for _, n := range []int{1<<20 + 1, 64 << 20} {
		got, err := cl.Scan(context.Background(), bytes.NewReader(make([]byte, n)))
		if err == nil || !strings.Contains(err.Error(), "INSTREAM size limit exceeded") {
			t.Errorf("%d bytes past StreamMaxLength 1M: %+v, %v", n, got, err)
		}
	}
}
