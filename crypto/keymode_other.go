//go:build !unix

package crypto

import "io/fs"

// keyFileMode: without Unix owners, only a file with no group or other
// permission bits is accepted.
func keyFileMode(fi fs.FileInfo) bool { return fi.Mode().Perm()&0o077 == 0 }
