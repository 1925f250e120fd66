// Package owned gives the servers the development stack and the tests
// start (MinIO, clamd, mailpit, Hydra, VersityGW, PostgreSQL) the process
// attributes that keep them their starter's.
package owned

import "syscall"

// SysProcAttr is a server's process attributes: a process group of its
// own, so that a Ctrl-C in a terminal reaches only its starter, which
// stops its servers in order; and SIGTERM when its starter dies without
// stopping them (SIGKILL, the out-of-memory killer, a crash), so that no
// server outlives it holding its ports and folders, and the next start
// finds them free.
//
// The signal is the kernel's (PR_SET_PDEATHSIG), sent when the thread
// that started the server ends. Go ends a thread only when a goroutine
// locked to it (runtime.LockOSThread) returns without unlocking, which
// nothing in these programs does (go.dev/issue/27505).
func SysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGTERM}
}
