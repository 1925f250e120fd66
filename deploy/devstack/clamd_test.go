package devstack_test

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/binary"
	"io"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/ofsted-portal/evidence/deploy/devstack"
)

func TestClamd(t *testing.T) {
	bin := need(t, devstack.FindClamd)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	start := time.Now()
	c, err := devstack.StartClamd(ctx, devstack.ClamdOptions{Dir: t.TempDir(), Binary: bin, Output: logWriter{t}})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Stop()
	t.Logf("clamd ready in %s on %s", time.Since(start).Round(time.Millisecond), c.Addr)

	if got := clamdCommand(t, c.Addr, "zPING\x00", nil); got != "PONG" {
		t.Fatalf("PING: %q", got)
	}
	eicar := devstack.EICAR()
	if len(eicar) != 68 {
		t.Fatalf("EICAR is %d bytes; want 68", len(eicar))
	}
	found := "stream: " + devstack.EICARSignature + " FOUND"
	for _, tc := range []struct {
		name, want string
		data       []byte
	}{
		{"clean", "stream: OK", bytes.Repeat([]byte("case record, nothing to see. "), 10000)},
		{"EICAR alone", found, eicar},
		{"EICAR inside", found, append(append([]byte("a report\n"), eicar...), "\nthe end"...)},
		{"EICAR in a zip", found, zipOf(t, map[string][]byte{"notes.txt": []byte("fine"), "1.03/eicar.com": eicar})},
		{"clean zip", "stream: OK", zipOf(t, map[string][]byte{"notes.txt": []byte("fine")})},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := clamdCommand(t, c.Addr, "zINSTREAM\x00", tc.data); got != tc.want {
				t.Fatalf("INSTREAM: %q; want %q", got, tc.want)
			}
		})
	}
}

// clamdCommand sends a z-command (and, for INSTREAM, data in chunks) and
// returns clamd's answer without its NUL.
func clamdCommand(t *testing.T, addr, cmd string, data []byte) string {
	t.Helper()
	conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(30 * time.Second))
	var req bytes.Buffer
	req.WriteString(cmd)
	if data != nil {
		for len(data) > 0 {
			n := min(len(data), 64<<10)
			binary.Write(&req, binary.BigEndian, uint32(n))
			req.Write(data[:n])
			data = data[n:]
		}
		binary.Write(&req, binary.BigEndian, uint32(0))
	}
	if _, err := conn.Write(req.Bytes()); err != nil {
		t.Fatal(err)
	}
	reply, err := io.ReadAll(conn)
	if err != nil {
		t.Fatal(err)
	}
	return string(bytes.TrimSuffix(reply, []byte{0}))
}

func zipOf(t *testing.T, files map[string][]byte) []byte {
	var b bytes.Buffer
	z := zip.NewWriter(&b)
	for name, data := range files {
		w, err := z.Create(name)
		if err != nil {
			t.Fatal(err)
		}
		w.Write(data)
	}
	if err := z.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// TestClamdRestartClearsSpool: clamd writes a stream to its
// TemporaryDirectory as it receives it and removes the file when the scan
// ends, but a clamd killed mid-stream (a crash) leaves the plaintext
// there. Starting it again empties the folder, as a tmpfs mounted for each
// start would.
func TestClamdRestartClearsSpool(t *testing.T) {
	bin := need(t, devstack.FindClamd)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	dir := t.TempDir()
	c, err := devstack.StartClamd(ctx, devstack.ClamdOptions{Dir: dir, Binary: bin, Output: logWriter{t}})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	conn, err := net.DialTimeout("tcp", c.Addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	secret := []byte("case notes about a child, mid-stream")
	var req bytes.Buffer
	req.WriteString("zINSTREAM\x00")
	binary.Write(&req, binary.BigEndian, uint32(len(secret)))
	req.Write(secret)
	if _, err := conn.Write(req.Bytes()); err != nil {
		t.Fatal(err)
	}
	spool := filepath.Join(dir, "tmp")
	spooled := func() []string {
		var found []string
		filepath.WalkDir(spool, func(p string, d fs.DirEntry, err error) error {
			if err == nil && !d.IsDir() {
				if b, _ := os.ReadFile(p); bytes.Contains(b, secret) {
					found = append(found, p)
				}
			}
			return nil
		})
		return found
	}
	for deadline := time.Now().Add(10 * time.Second); len(spooled()) == 0; time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("clamd did not spool the stream")
		}
	}
	c.Kill()
	if len(spooled()) == 0 {
		t.Fatal("a killed clamd left nothing behind: the test shows nothing")
	}
	if err := c.Restart(ctx); err != nil {
		t.Fatal(err)
	}
	if left := spooled(); len(left) > 0 {
		t.Fatalf("plaintext of a stream left in clamd's TemporaryDirectory after a restart: %v", left)
	}
}
