// Package scan is a client of ClamAV's scanning daemon (clamd): it sends a
// plaintext stream with the INSTREAM command and reads the verdict.
//
// Invariants:
//   - The stream goes to clamd as it is written, in chunks framed as
//     INSTREAM wants them (a 4-byte big-endian length, then the bytes; a
//     zero length ends the stream). Nothing is buffered here beyond one
//     write: a scanner slower than the writer slows the writer, through the
//     socket's own bounded buffer, and memory stays flat in the file's size.
//   - Every read and write carries a deadline, so a scanner that hangs turns
//     into an error, never into a request that waits for ever.
//   - Only "stream: OK" is clean and only "stream: <name> FOUND" is
//     infected, each ended by the NUL of a z-command's reply. Anything else
//     (a closed connection, a reply cut short, a size limit, an ERROR line)
//     is an error: the caller must not take it as clean.
//
// clamd itself writes a stream it receives to its TemporaryDirectory before
// it scans it: that folder should be memory-backed (tmpfs), so that the
// plaintext is not written to a disk there either (README, Scanning).
package scan

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"time"
)

// Result is a verdict on a whole stream.
type Result struct {
	Infected  bool
	Signature string // the signature found, when infected
}

// MaxSize is the largest stream the portal sends: ClamAV skips larger
// files as if they were clean ("scanning files greater than 2 GiB - 1 is
// not supported"), so no verdict on one is believed. clamd's
// StreamMaxLength and MaxFileSize must be at least this (2047M).
const MaxSize = 2047 << 20

// ErrTooLarge is returned for a stream longer than MaxSize: no scanner
// verdict can be had for it.
var ErrTooLarge = errors.New("scan: larger than the scanner can scan")

// Client reaches one clamd.
type Client struct {
	// Addr is "host:port" (TCP) or a path, or "unix:PATH" (clamd's local
	// socket).
	Addr string
	// Timeout bounds the dial, each write, and the wait for the verdict
	// after the stream ends.
	Timeout time.Duration
}

func (c *Client) network() (string, string) {
	switch {
	case strings.HasPrefix(c.Addr, "unix:"):
		return "unix", strings.TrimPrefix(c.Addr, "unix:")
	case strings.HasPrefix(c.Addr, "/"):
		return "unix", c.Addr
	}
	return "tcp", c.Addr
}

func (c *Client) timeout() time.Duration {
	if c.Timeout <= 0 {
		return 2 * time.Minute
	}
	return c.Timeout
}

func (c *Client) dial(ctx context.Context) (net.Conn, error) {
	network, addr := c.network()
	d := net.Dialer{Timeout: min(c.timeout(), 10*time.Second)}
	conn, err := d.DialContext(ctx, network, addr)
	if err != nil {
		return nil, fmt.Errorf("scan: reach clamd at %s: %w", c.Addr, err)
	}
	return conn, nil
}

// Ping asks clamd whether it is there (zPING, PONG).
func (c *Client) Ping(ctx context.Context) error {
	conn, err := c.dial(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	deadline := time.Now().Add(min(c.timeout(), 5*time.Second))
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	conn.SetDeadline(deadline)
	if _, err := conn.Write([]byte("zPING\x00")); err != nil {
		return fmt.Errorf("scan: ping: %w", err)
	}
	reply, err := bufio.NewReader(conn).ReadString(0)
	if err != nil || reply != "PONG\x00" {
		return fmt.Errorf("scan: ping answered %q: %w", strings.TrimSuffix(reply, "\x00"), err)
	}
	return nil
}

// Stream is one INSTREAM scan in progress: write the plaintext to it, then
// Finish for the verdict (or Close to give up).
type Stream struct {
	c    *Client
	conn net.Conn
	n    int64
	hdr  [4]byte
	err  error
}

// Begin opens a scan. The context bounds only the dial: the stream's life
// is bounded by the deadlines of its writes.
func (c *Client) Begin(ctx context.Context) (*Stream, error) {
	conn, err := c.dial(ctx)
	if err != nil {
		return nil, err
	}
	s := &Stream{c: c, conn: conn}
	conn.SetWriteDeadline(time.Now().Add(c.timeout()))
	if _, err := conn.Write([]byte("zINSTREAM\x00")); err != nil {
		conn.Close()
		return nil, fmt.Errorf("scan: begin: %w", err)
	}
	return s, nil
}

// maxChunk keeps each INSTREAM chunk well under clamd's buffer.
const maxChunk = 256 << 10

// Write sends p as INSTREAM chunks. After an error every write fails with
// it; the caller may go on without the scanner (the verdict is then an
// error).
func (s *Stream) Write(p []byte) (int, error) {
	if s.err != nil {
		return 0, s.err
	}
	written := 0
	for len(p) > 0 {
		n := min(len(p), maxChunk)
		if s.n+int64(n) > MaxSize {
			s.err = ErrTooLarge
			return written, s.err
		}
		binary.BigEndian.PutUint32(s.hdr[:], uint32(n))
		s.conn.SetWriteDeadline(time.Now().Add(s.c.timeout()))
		bufs := net.Buffers{s.hdr[:], p[:n]}
		if _, err := bufs.WriteTo(s.conn); err != nil {
			s.err = s.sendFailed(err)
			return written, s.err
		}
		s.n += int64(n)
		written += n
		p = p[n:]
	}
	return written, nil
}

// sendFailed is the error of a send that failed. clamd may have said why
// before it closed the connection ("INSTREAM size limit exceeded. ERROR"
// for a stream past its StreamMaxLength): its reply, read for a moment,
// is then the error, so that the log names the cause.
func (s *Stream) sendFailed(err error) error {
	s.conn.SetReadDeadline(time.Now().Add(time.Second))
	reply, _ := bufio.NewReader(io.LimitReader(s.conn, 4096)).ReadString(0)
	if reply = strings.TrimSpace(strings.TrimSuffix(reply, "\x00")); reply != "" {
		if len(reply) > 200 {
			reply = reply[:200]
		}
		return fmt.Errorf("scan: clamd answered %q (send: %w)", reply, err)
	}
	return fmt.Errorf("scan: send: %w", err)
}

// VerdictWait is how long a verdict on n bytes is waited for once they are
// sent: clamd receives a whole stream before it scans it, at some tens of
// MB/s, so the wait grows with the size (the timeout plus a second for
// every 4 MiB).
func (c *Client) VerdictWait(n int64) time.Duration {
	return c.timeout() + time.Duration(n/(4<<20))*time.Second
}

// Finish ends the stream and waits for the verdict, for at most the
// client's timeout. It closes the stream.
func (s *Stream) Finish() (Result, error) {
	defer s.conn.Close()
	if s.err != nil {
		return Result{}, s.err
	}
	s.conn.SetWriteDeadline(time.Now().Add(s.c.timeout()))
	if _, err := s.conn.Write([]byte{0, 0, 0, 0}); err != nil {
		return Result{}, fmt.Errorf("scan: end stream: %w", err)
	}
	s.conn.SetReadDeadline(time.Now().Add(s.c.VerdictWait(s.n)))
	// A z-command's reply ends with a NUL: one without it was cut off,
	// and is no verdict even when what arrived reads "stream: OK".
	reply, err := bufio.NewReader(io.LimitReader(s.conn, 4096)).ReadString(0)
	if err != nil {
		if len(reply) > 200 {
			reply = reply[:200]
		}
		return Result{}, fmt.Errorf("scan: no whole verdict (%q): %w", reply, err)
	}
	return ParseReply(reply)
}

// Close gives the scan up.
func (s *Stream) Close() error { return s.conn.Close() }

// Scanned is how many bytes were sent.
func (s *Stream) Scanned() int64 { return s.n }

// Scan sends all of r and returns the verdict.
func (c *Client) Scan(ctx context.Context, r io.Reader) (Result, error) {
	s, err := c.Begin(ctx)
	if err != nil {
		return Result{}, err
	}
	buf := make([]byte, maxChunk)
	for {
		if err := ctx.Err(); err != nil {
			s.Close()
			return Result{}, err
		}
		n, rerr := io.ReadFull(r, buf)
		if n > 0 {
			if _, err := s.Write(buf[:n]); err != nil {
				s.Close()
				return Result{}, err
			}
		}
		if rerr == io.EOF || rerr == io.ErrUnexpectedEOF {
			break
		}
		if rerr != nil {
			s.Close()
			return Result{}, fmt.Errorf("scan: read: %w", rerr)
		}
	}
	return s.Finish()
}

// Unreadable reports whether a finding is clamd's word that it could not
// look inside the stream (clamd.conf's AlertEncrypted: an archive or
// document encrypted with a password; AlertExceedsMax: an archive past its
// limits), rather than a signature found in it. The file is kept as
// infected all the same: nothing in it was checked.
func Unreadable(signature string) bool {
	return strings.HasPrefix(signature, "Heuristics.Encrypted.") || strings.HasPrefix(signature, "Heuristics.Limits.Exceeded")
}

// ParseReply reads clamd's answer to INSTREAM: "stream: OK" or
// "stream: <signature> FOUND"; anything else is an error.
func ParseReply(reply string) (Result, error) {
	line := strings.TrimSpace(strings.TrimSuffix(reply, "\x00"))
	rest, ok := strings.CutPrefix(line, "stream: ")
	switch {
	case ok && rest == "OK":
		return Result{}, nil
	case ok && strings.HasSuffix(rest, " FOUND"):
		sig := strings.TrimSpace(strings.TrimSuffix(rest, " FOUND"))
		if sig == "" || strings.ContainsAny(sig, " \t\n") {
			break
		}
		return Result{Infected: true, Signature: sig}, nil
	}
	if len(line) > 200 {
		line = line[:200]
	}
	return Result{}, fmt.Errorf("scan: clamd answered %q", line)
}
