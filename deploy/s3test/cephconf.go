package s3test

import (
	"io/fs"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// cephConf is the cluster's whole configuration. @DIR@, @FSID@, @MON@ and
// @RGW@ are filled in; $cluster, $id and $name are Ceph's own metavariables.
// Every path is under the cluster's folder, so nothing is read from or
// written to /etc/ceph, /var/lib/ceph, /var/run/ceph or /var/log/ceph.
const cephConf = `[global]
fsid = @FSID@
# One monitor, messenger v2 only, on loopback.
mon host = [v2:@MON@]
public addr = 127.0.0.1
ms bind msgr1 = false
ms bind ipv6 = false
auth cluster required = cephx
auth service required = cephx
auth client required = cephx
auth allow insecure global id reclaim = false
keyring = @DIR@/admin.keyring
run dir = @DIR@/run
log file = @DIR@/log/$name.log
crash dir = @DIR@/crash
client mount timeout = 30
# One OSD holds the only copy of everything; few placement groups each.
osd pool default size = 1
osd pool default min size = 1
osd pool default pg num = 8
osd pool default pgp num = 8
osd pool default pg autoscale mode = off
osd crush chooseleaf type = 0
mon allow pool size one = true
mon warn on pool no redundancy = false
mon max pg per osd = 1000

[mon]
mon data = @DIR@/mon/$cluster-$id
# Commit map changes at once rather than batching them for a second: the
# gateway creates its pools one after another at start-up and waits for
# each (about 12 s of a 14 s start with the defaults, 1 s with these).
paxos propose interval = 0.05
paxos min wait = 0.01
admin socket = @DIR@/run/$name.asok

[osd]
osd data = @DIR@/osd/$cluster-$id
keyring = @DIR@/osd/$cluster-$id/keyring
admin socket = @DIR@/run/$name.asok
# Objects live in memory (and the folder when the OSD stops): no disk to
# prepare, and a ceiling on what the tests may store.
osd objectstore = memstore
memstore device bytes = 1073741824

[client.rgw.s3test]
keyring = @DIR@/rgw/keyring
admin socket = @DIR@/run/$name.asok
rgw data = @DIR@/rgw
rgw frontends = beast endpoint=@RGW@
rgw thread pool size = 32
`

func writeCephConf(path, dir, fsid, mon, rgw string) error {
	conf := strings.NewReplacer("@DIR@", dir, "@FSID@", fsid, "@MON@", mon, "@RGW@", rgw).Replace(cephConf)
	return os.WriteFile(path, []byte(conf), 0o600)
}

// cephUser is the unprivileged account the daemons run as when the tests
// run as root: Debian's ceph user, if it exists and can reach dir (every
// folder above it searchable). Otherwise the daemons run as the caller.
type cephUser struct {
	uid, gid int
}

func lookupCephUser(dir string) *cephUser {
	if os.Geteuid() != 0 {
		return nil
	}
	u, err := user.Lookup("ceph")
	if err != nil {
		return nil
	}
	uid, err1 := strconv.Atoi(u.Uid)
	gid, err2 := strconv.Atoi(u.Gid)
	if err1 != nil || err2 != nil {
		return nil
	}
	for d := filepath.Dir(dir); ; d = filepath.Dir(d) {
		if !searchable(d, uid, gid) {
			return nil
		}
		if d == filepath.Dir(d) {
			return &cephUser{uid: uid, gid: gid}
		}
	}
}

func searchable(dir string, uid, gid int) bool {
	st, err := os.Stat(dir)
	if err != nil {
		return false
	}
	mode := st.Mode().Perm()
	own, grp := ownerOf(st)
	switch {
	case own == uid:
		return mode&0o100 != 0
	case grp == gid:
		return mode&0o010 != 0
	default:
		return mode&0o001 != 0
	}
}

// args are the daemons' options that drop root for the ceph user.
func (u *cephUser) args() []string {
	if u == nil {
		return nil
	}
	return []string{"--setuser", strconv.Itoa(u.uid), "--setgroup", strconv.Itoa(u.gid)}
}

// own gives the ceph user everything under dir, so that the daemons,
// once they have dropped root, can read their keys and write their data.
func (u *cephUser) own(dir string) error {
	if u == nil {
		return nil
	}
	return filepath.WalkDir(dir, func(p string, _ fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		return os.Lchown(p, u.uid, u.gid)
	})
}

func ownerOf(st fs.FileInfo) (uid, gid int) {
	if sys, ok := st.Sys().(*syscall.Stat_t); ok {
		return int(sys.Uid), int(sys.Gid)
	}
	return -1, -1
}
