package devstack

import (
	"bytes"
	"cmp"
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/ofsted-portal/evidence/deploy/owned"
	"github.com/ofsted-portal/evidence/portal"
)

// EICARSignature is the name clamd reports for the EICAR test string with
// the database StartClamd generates: "stream: Portal.Test.EICAR.UNOFFICIAL
// FOUND" (clamd marks every signature outside its official databases
// UNOFFICIAL).
const EICARSignature = "Portal.Test.EICAR.UNOFFICIAL"

// EICAR returns the industry's standard anti-virus test string (68 bytes),
// which every scanner detects and which does nothing. It is assembled here
// so that this source file is not itself detected.
func EICAR() []byte {
	return []byte(`X5O!P%@AP[4\PZX54(P^)7CC)7}$` + "EICAR-STANDARD-" + "ANTIVIRUS-TEST-FILE!$H+H*")
}

// Clamd is ClamAV's scanning daemon as a child process, listening on TCP
// with a signature database of one signature: the EICAR test string, found
// anywhere in a stream or in a file inside an archive. No real signatures
// are loaded (they cannot be downloaded here), so it proves the scanning
// path, not the detection of real malware.
type Clamd struct {
	Addr string // 127.0.0.1:port, clamd's protocol (PING, zINSTREAM, ...)

	cmd      *exec.Cmd
	done     chan error
	stopOnce sync.Once
	tempDir  string // removed by Close
	spool    string // clamd's TemporaryDirectory, emptied before each start
}

// ClamdOptions configure StartClamd.
type ClamdOptions struct {
	Dir string // holds clamd.conf, the database (db/) and scan temporaries (tmp/)
	// InMemory has clamd spool each stream (it writes a stream to a file
	// before it scans it) in a folder of its own under /dev/shm, where
	// there is one, instead of Dir/tmp: the plaintext of uploads stays
	// off the disk. Close removes the folder.
	InMemory    bool
	Addr        string    // "127.0.0.1:port"; empty or port 0 picks a free port
	Output      io.Writer // clamd's log (nil: discarded)
	Binary      string    // empty: FindClamd
	StartupWait time.Duration
	// StreamMaxLength is clamd's StreamMaxLength (empty: 2047M, the
	// largest stream the portal sends); tests of a smaller one set it.
	StreamMaxLength string
}

// FindClamd returns the clamd binary: $PORTAL_CLAMD_BIN, else Debian's
// /usr/sbin/clamd (make test installs clamav-daemon).
func FindClamd() (string, error) {
	if p := os.Getenv("PORTAL_CLAMD_BIN"); p != "" {
		return p, nil
	}
	const debian = "/usr/sbin/clamd"
	if _, err := os.Stat(debian); err != nil {
		return "", fmt.Errorf("no clamd at %s: run make clamd (make test installs it)", debian)
	}
	return debian, nil
}

// StartClamd writes the configuration and signature database into Dir,
// starts clamd in the foreground and waits until it answers PING. It runs as
// whoever we are: the configuration names no User to switch to, and no
// system configuration or local socket is used.
func StartClamd(ctx context.Context, o ClamdOptions) (_ *Clamd, err error) {
	if o.Binary == "" {
		if o.Binary, err = FindClamd(); err != nil {
			return nil, err
		}
	}
	if o.Addr == "" || strings.HasSuffix(o.Addr, ":0") {
		if o.Addr, err = FreeAddr(); err != nil {
			return nil, err
		}
	}
	host, port, err := net.SplitHostPort(o.Addr)
	if err != nil {
		return nil, fmt.Errorf("clamd: address %q: %w", o.Addr, err)
	}
	if o.StartupWait == 0 {
		o.StartupWait = 60 * time.Second
	}
	if o.Dir, err = filepath.Abs(o.Dir); err != nil {
		return nil, err
	}
	db, tmp := filepath.Join(o.Dir, "db"), filepath.Join(o.Dir, "tmp")
	memTmp := ""
	if fi, err := os.Stat("/dev/shm"); err == nil && fi.IsDir() && o.InMemory {
		if memTmp, err = os.MkdirTemp("/dev/shm", "portal-clamd-"); err != nil {
			return nil, err
		}
		tmp = memTmp
		defer func() {
			if err != nil {
				os.RemoveAll(memTmp)
			}
		}()
	}
	for _, d := range []string{db, tmp} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return nil, err
		}
	}
	if err := clearSpool(tmp); err != nil {
		return nil, err
	}
	// A body signature (.ndb: name, any file type, any offset, hex) rather
	// than a hash (.hdb): it matches the string inside a larger stream too.
	sig := strings.TrimSuffix(EICARSignature, ".UNOFFICIAL") + ":0:*:" + hex.EncodeToString(EICAR()) + "\n"
	if err := os.WriteFile(filepath.Join(db, "portal-test.ndb"), []byte(sig), 0o600); err != nil {
		return nil, err
	}
	conf := filepath.Join(o.Dir, "clamd.conf")
	if err := os.WriteFile(conf, []byte(strings.Join([]string{
		"Foreground yes",
		"DatabaseDirectory " + db,
		"TemporaryDirectory " + tmp,
		"TCPAddr " + host,
		"TCPSocket " + port,
		"LogTime yes",
		// Streams as large as the portal sends (scan.MaxSize: ClamAV
		// scans nothing larger than 2 GiB), and time to scan them.
		"StreamMaxLength " + cmp.Or(o.StreamMaxLength, "2047M"),
		"MaxScanSize 4000M",
		"MaxFileSize 2047M",
		"MaxScanTime 600000",
		"ReadTimeout 300",
		"CommandReadTimeout 30",
		// The test database has one body signature: parsers it cannot
		// use are off, which halves the time a scan of random bytes
		// takes. Archives stay on (the signature is found inside a zip).
		"ScanArchive yes",
		// What clamd cannot look inside (an encrypted archive or
		// document, an archive past its limits) is a finding, as in
		// deploy/clamd.conf, never "OK".
		"AlertEncrypted yes",
		"AlertExceedsMax yes",
		"HeuristicAlerts no",
		"ScanPE no",
		"ScanELF no",
		"ScanOLE2 no",
		"ScanPDF no",
		"ScanSWF no",
		"ScanHTML no",
		"ScanMail no",
		"ScanHWP3 no",
		"ScanOneNote no",
		"ScanImage no",
		"ScanImageFuzzyHash no",
		"Bytecode no",
		// One database in memory at a time: the database never changes.
		"ConcurrentDatabaseReload no",
		"SelfCheck 0",
		"",
	}, "\n")), 0o600); err != nil {
		return nil, err
	}

	cmd := exec.Command(o.Binary, "--config-file="+conf)
	if o.Output == nil {
		o.Output = io.Discard
	}
	cmd.Stdout, cmd.Stderr = o.Output, o.Output
	// Own process group: Ctrl-C in a terminal reaches us, and we stop it
	// ourselves, in order.
	cmd.SysProcAttr = owned.SysProcAttr()
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start clamd: %w", err)
	}
	c := &Clamd{Addr: o.Addr, cmd: cmd, done: make(chan error, 1), tempDir: memTmp, spool: tmp}
	go func() { c.done <- cmd.Wait() }()
	if err := waitChild(ctx, "clamd", o.StartupWait, c.done, c.ping); err != nil {
		c.Stop()
		return nil, err
	}
	return c, nil
}

// findScanner finds clamd for a stack that scans. Without clamd, a stack
// scans nothing (PORTAL_SCAN=off, said in the log) unless the run
// requires every integration (PORTAL_REQUIRE_INTEGRATION, as make test
// does): then it is an error.
func findScanner(o *Options) error {
	if o.Env["PORTAL_SCAN"] == portal.ScanOff || o.ClamdBinary != "" {
		return nil
	}
	bin, err := FindClamd()
	if err != nil {
		if os.Getenv("PORTAL_REQUIRE_INTEGRATION") != "" {
			return err
		}
		if o.Logger != nil {
			o.Logger.Warn("no clamd: the stack stores files unscanned (PORTAL_SCAN=off)", "err", err)
		}
		env := map[string]string{"PORTAL_SCAN": portal.ScanOff}
		for k, v := range o.Env {
			env[k] = v
		}
		o.Env = env
		return nil
	}
	o.ClamdBinary = bin
	return nil
}

// startClamd starts the stack's clamd in Dir/clamd, spooling in memory.
func startClamd(ctx context.Context, o Options) (*Clamd, error) {
	return StartClamd(ctx, ClamdOptions{Dir: filepath.Join(o.Dir, "clamd"), Addr: o.ClamdAddr, Binary: o.ClamdBinary, Output: o.MinIOOutput, InMemory: true, StreamMaxLength: o.ClamdStreamMaxLength})
}

// Restart starts clamd again on the same address, with the same
// configuration, after Stop or Kill (tests of a scanner that comes back),
// its TemporaryDirectory emptied first (clearSpool).
func (c *Clamd) Restart(ctx context.Context) error {
	if err := clearSpool(c.spool); err != nil {
		return err
	}
	cmd := exec.Command(c.cmd.Path, c.cmd.Args[1:]...)
	cmd.Stdout, cmd.Stderr = c.cmd.Stdout, c.cmd.Stderr
	cmd.SysProcAttr = owned.SysProcAttr()
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("restart clamd: %w", err)
	}
	c.cmd, c.done, c.stopOnce = cmd, make(chan error, 1), sync.Once{}
	go func() { c.done <- cmd.Wait() }()
	return waitChild(ctx, "clamd", time.Minute, c.done, c.ping)
}

// clearSpool empties clamd's TemporaryDirectory before clamd starts.
// clamd writes each stream there as it receives it and removes the file
// when the scan ends; a clamd that was killed mid-stream leaves the
// plaintext behind, which must not outlive it.
func clearSpool(dir string) error {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	for _, e := range entries {
		if err := os.RemoveAll(filepath.Join(dir, e.Name())); err != nil {
			return err
		}
	}
	return nil
}

// Kill ends clamd at once (SIGKILL), as a crash would.
func (c *Clamd) Kill() {
	c.stopOnce.Do(func() {
		_ = c.cmd.Process.Kill()
		<-c.done
	})
}

// ping sends zPING and expects PONG.
func (c *Clamd) ping(ctx context.Context) error {
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", c.Addr)
	if err != nil {
		return err
	}
	defer conn.Close()
	if deadline, ok := ctx.Deadline(); ok {
		conn.SetDeadline(deadline)
	}
	if _, err := conn.Write([]byte("zPING\x00")); err != nil {
		return err
	}
	reply, err := io.ReadAll(conn)
	if err != nil {
		return err
	}
	if !bytes.Equal(reply, []byte("PONG\x00")) {
		return errors.New("clamd: PING answered " + string(reply))
	}
	return nil
}

// Pid is clamd's process id.
func (c *Clamd) Pid() int { return c.cmd.Process.Pid }

// Stop ends clamd: SIGTERM, then SIGKILL after 10 seconds. It may be called
// more than once.
func (c *Clamd) Stop() error {
	if c == nil || c.cmd.Process == nil {
		return nil
	}
	c.stopOnce.Do(func() {
		_ = c.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-c.done:
		case <-time.After(10 * time.Second):
			_ = c.cmd.Process.Kill()
			<-c.done
		}
	})
	return nil
}

// Close stops clamd and removes its spool folder in memory, if it has one.
func (c *Clamd) Close() {
	if c == nil {
		return
	}
	c.Stop()
	if c.tempDir != "" {
		os.RemoveAll(c.tempDir)
	}
}

// StopClamd stops the stack's clamd (tests of a scanner that goes down).
func (st *Stack) StopClamd() {
	if st.Clamd != nil {
		st.Clamd.Stop()
	}
}
