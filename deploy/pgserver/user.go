package pgserver

import (
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"syscall"

	"github.com/ofsted-portal/evidence/deploy/owned"
)

// serverAccount is who runs initdb and postgres: nil for the current user,
// else the system user postgres (when we are root, which PostgreSQL refuses
// to run as).
type serverAccount struct {
	uid, gid uint32
	home     string
}

// serverUser returns the account for a cluster in dir, giving it dir and a
// way to reach dir.
func serverUser(dir string) (*serverAccount, error) {
	if os.Geteuid() != 0 {
		return nil, nil
	}
	u, err := user.Lookup("postgres")
	if err != nil {
		return nil, fmt.Errorf("postgres: running as root needs the system user postgres (Debian's postgresql package creates it): %w", err)
	}
	uid, _ := strconv.ParseUint(u.Uid, 10, 32)
	gid, _ := strconv.ParseUint(u.Gid, 10, 32)
	a := &serverAccount{uid: uint32(uid), gid: uint32(gid), home: u.HomeDir}
	if err := a.chown(dir); err != nil {
		return nil, err
	}
	// Temporary folders (t.TempDir) are 0700 root: search permission alone
	// lets postgres pass through without listing what else is there. Only
	// our own folders are changed.
	for d := filepath.Dir(dir); ; d = filepath.Dir(d) {
		fi, err := os.Stat(d)
		if err != nil {
			return nil, err
		}
		st, ok := fi.Sys().(*syscall.Stat_t)
		if ok && st.Uid == 0 && fi.Mode().Perm()&0o001 == 0 {
			if err := os.Chmod(d, fi.Mode().Perm()|0o001); err != nil {
				return nil, err
			}
		}
		if d == filepath.Dir(d) {
			return a, nil
		}
	}
}

func (a *serverAccount) chown(path string) error {
	if a == nil {
		return nil
	}
	return os.Chown(path, int(a.uid), int(a.gid))
}

// apply makes cmd run as the account.
func (a *serverAccount) apply(cmd *exec.Cmd) {
	// Own process group: Ctrl-C in a terminal reaches us, and we stop the
	// server ourselves.
	cmd.SysProcAttr = owned.SysProcAttr()
	if a != nil {
		cmd.SysProcAttr.Credential = &syscall.Credential{Uid: a.uid, Gid: a.gid}
		// The server's own HOME and USER, not root's.
		cmd.Env = append(os.Environ(), "HOME="+a.home, "USER=postgres", "LOGNAME=postgres")
	}
}

// run runs a short command (initdb) as the account and returns its output.
func (a *serverAccount) run(cmd *exec.Cmd) ([]byte, error) {
	a.apply(cmd)
	return cmd.CombinedOutput()
}
