//go:build unix

package crypto

import (
	"io/fs"
	"os"
	"syscall"
)

// keyFileMode reports whether a key file's mode keeps it to the portal:
// nothing for others, never writable by its group, and readable by its
// group only when that group is the process's own. The last case is how
// Kubernetes mounts a secret for a pod with an fsGroup (root:fsGroup,
// 0440): the group is the pod's, and the portal's user is not the owner.
func keyFileMode(fi fs.FileInfo) bool {
	perm := fi.Mode().Perm()
	switch {
	case perm&0o007 != 0, perm&0o020 != 0:
		return false
	case perm&0o040 == 0:
		return true
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	return ok && int(st.Gid) == os.Getegid()
}
