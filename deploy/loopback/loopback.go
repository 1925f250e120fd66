// Package loopback hands out free loopback addresses for the servers the
// dev stack and the tests start.
package loopback

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"syscall"
)

// given holds every address FreeAddr has handed out in this process.
// The port is closed again when FreeAddr returns, so the kernel may pick
// it for the next caller before its first one binds it: two servers of
// one stack (the portal and its metrics, say) would then share a port.
//
// Other processes are kept off them too: make test runs several test
// binaries at once (its two passes, and packages side by side), and a
// port one closed was the kernel's to give to another before the first
// one's server bound it. The second server then failed to start, or a
// readiness check reached the first one's, and the test failed against
// a server that was not its own. Ports are therefore taken from a range
// the kernel never picks for an outgoing connection or a ":0" listener
// (below its ephemeral range), and each is locked in a file every such
// process shares (a POSIX record lock on the port's byte, released by the
// kernel when the process ends).
var given = struct {
	sync.Mutex
	addrs map[string]bool
}{addrs: map[string]bool{}}

// locks is the shared lock file, opened at first use; nil when the range
// is not below the ephemeral one or the file cannot be opened (the kernel
// picks, as before).
var locks = sync.OnceValue(func() *os.File {
	if low, _ := ephemeralLow(); low < rangeHigh {
		return nil
	}
	f, err := os.OpenFile(LockFile, os.O_RDWR|os.O_CREATE|syscall.O_NOFOLLOW, 0o666)
	if err != nil {
		return nil
	}
	return f
})

// The range ports are taken from when it lies below the kernel's
// ephemeral range (32768-60999 by default): above every port the dev
// stack and make run use (8080, 9000, 5432, ...).
const (
	rangeLow  = 20000
	rangeHigh = 32768 // exclusive
)

// LockFile is where the ports handed out are locked: one place for every
// process, whatever its TMPDIR (a test may set its own).
const LockFile = "/tmp/portal-loopback-ports.lock"

// FreeAddr returns a free loopback address, never one it has returned
// before in this process, nor one another process holds through it.
func FreeAddr() (string, error) {
	given.Lock()
	defer given.Unlock()
	if f := locks(); f != nil {
		for range 1000 {
			port := rangeLow + rand.IntN(rangeHigh-rangeLow)
			a := "127.0.0.1:" + strconv.Itoa(port)
			if given.addrs[a] || !lockPort(f, port) {
				continue
			}
			// Locked: no other process of ours takes it. Something else
			// may listen there.
			l, err := net.Listen("tcp", a)
			if err != nil {
				continue // the lock is kept: the port is not used again
			}
			l.Close()
			given.addrs[a] = true
			return a, nil
		}
		return "", errors.New("no free loopback port in the range that other processes had not taken")
	}
	for range 100 {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return "", err
		}
		a := l.Addr().String()
		l.Close()
		if !given.addrs[a] {
			given.addrs[a] = true
			return a, nil
		}
	}
	return "", errors.New("no free loopback port that was not handed out already")
}

// lockPort takes the record lock on port's byte of f, without waiting.
// A lock this process holds already is granted again (POSIX locks are the
// process's); given keeps those apart.
func lockPort(f *os.File, port int) bool {
	lk := syscall.Flock_t{Type: syscall.F_WRLCK, Whence: 0, Start: int64(port), Len: 1}
	return syscall.FcntlFlock(f.Fd(), syscall.F_SETLK, &lk) == nil
}

// ephemeralLow is the lowest port of the kernel's ephemeral range.
func ephemeralLow() (int, error) {
	b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range")
	if err != nil {
		return 0, err
	}
	f := strings.Fields(string(b))
	if len(f) != 2 {
		return 0, fmt.Errorf("ip_local_port_range: %q", b)
	}
	return strconv.Atoi(f[0])
}
