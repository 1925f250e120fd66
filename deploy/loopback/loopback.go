// Package loopback hands out free loopback addresses for the servers the
// dev stack and the tests start.
package loopback

import (
	"errors"
	"net"
	"sync"
)

// given holds every address FreeAddr has handed out in this process.
// The port is closed again when FreeAddr returns, so the kernel may pick
// it for the next caller before its first one binds it: two servers of
// one stack (the portal and its metrics, say) would then share a port.
var given = struct {
	sync.Mutex
	addrs map[string]bool
}{addrs: map[string]bool{}}

// FreeAddr returns a free loopback address, never one it has returned
// before in this process.
func FreeAddr() (string, error) {
	given.Lock()
	defer given.Unlock()
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
