package portal

import (
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime/debug"
	"time"

	"github.com/ofsted-portal/evidence/portal/store"
)

// A backup is a folder: the database copy and manifest.json. It holds the
// wrapped visit keys (useless without the master key) and no session.
// The object store needs no copy of its own: the evidence in it is
// readable only with keys the database holds.

// RecordBackup records a backup taken (backup.taken) as a's act, with
// what its manifest says of the copy: it holds every wrapped visit key, and
// what a restore of it can bring back. The record follows the records the
// copy holds, and names the manifest by its signature: two copies of a
// portal that did not change between them hash alike, and each is
// recorded on its own.
func RecordBackup(ctx context.Context, st *store.Store, a Actor, m Manifest) error {
	return st.Audit(ctx, operatorRec(a, "backup.taken", map[string]any{"database": m.Database, "sha256": m.SHA256, "size": m.Size,
		"audit_seq": m.AuditSeq, "schema_version": m.SchemaVersion, "created_at": m.CreatedAt.UTC().Format(time.RFC3339),
		"manifest_signature": m.Signature}))
}

// BackupRecorded reports whether the trail holds the record of the backup
// m (RecordBackup): a record whose answer was lost may have been written.
// It is read among the backups recorded since the copy was taken, by the
// manifest's signature: another backup may have been recorded since.
func BackupRecorded(ctx context.Context, st *store.Store, m Manifest) bool {
	if m.Signature == "" {
		return false
	}
	recs, err := st.AuditRecords(ctx, store.AuditFilter{Action: "backup.taken", AfterSeq: m.AuditSeq})
	if err != nil {
		return false
	}
	for _, r := range recs {
		var d struct {
			SHA256    string `json:"sha256"`
			Signature string `json:"manifest_signature"`
		}
		if json.Unmarshal([]byte(r.Detail), &d) == nil && d.SHA256 == m.SHA256 && d.Signature == m.Signature {
			return true
		}
	}
	return false
}

// BackupManifestName is the manifest's file name in a backup folder.
const BackupManifestName = "manifest.json"

// ManifestFormat is the manifest's format version.
const ManifestFormat = 1

// Manifest describes a backup: when, of what, and what it must hash to.
type Manifest struct {
	Format        int       `json:"format"`
	CreatedAt     time.Time `json:"created_at"`
	PortalVersion string    `json:"portal_version"`
	Database      string    `json:"database"` // "sqlite" or "postgres"
	File          string    `json:"file"`     // in the folder
	Size          int64     `json:"size"`
	SHA256        string    `json:"sha256"`
	SchemaVersion int       `json:"schema_version"`
	// The audit trail's head in the copy, and its last signed checkpoint.
	AuditSeq       int64             `json:"audit_seq"`
	AuditHash      string            `json:"audit_hash"`
	LastCheckpoint *store.Checkpoint `json:"last_checkpoint,omitempty"`
	// The portal's signing key (base64) and its Ed25519 signature
	// (base64) over message(). Backups written before they were signed
	// have neither.
	SigningKey string `json:"signing_key,omitempty"`
	Signature  string `json:"signature,omitempty"`
}

// message is what a manifest's signature covers: every field but the
// signature, each string quoted (so that none can run into the next).
func (m Manifest) message() []byte {
	var cpSeq int64
	var cpHash string
	if m.LastCheckpoint != nil {
		cpSeq, cpHash = m.LastCheckpoint.Seq, m.LastCheckpoint.Hash
	}
	return fmt.Appendf(nil, "backup-manifest:%d:%s:%q:%q:%q:%d:%q:%d:%d:%q:%d:%q:%q", m.Format, m.CreatedAt.UTC().Format(time.RFC3339Nano),
		m.PortalVersion, m.Database, m.File, m.Size, m.SHA256, m.SchemaVersion, m.AuditSeq, m.AuditHash, cpSeq, cpHash, m.SigningKey)
}

// ErrUnsignedBackup is returned by VerifyManifest for a manifest without
// a signature: one written before backups were signed, or stripped of it.
var ErrUnsignedBackup = errors.New("the backup's manifest is not signed")

// VerifyManifest checks m's signature against the trusted keys (the
// signing key, and earlier ones): a backup changed after it was taken (its
// trail rewritten, the digests made to match) or another deployment's is
// refused before anything is restored.
func VerifyManifest(m Manifest, trusted ...ed25519.PublicKey) error {
	if m.Signature == "" && m.SigningKey == "" {
		return ErrUnsignedBackup
	}
	sig, err := base64.StdEncoding.DecodeString(m.Signature)
	if err == nil {
		for _, k := range trusted {
			if base64.StdEncoding.EncodeToString(k) == m.SigningKey && ed25519.Verify(k, m.message(), sig) {
				return nil
			}
		}
	}
	return errors.New("the backup's manifest signature does not verify with the signing key or a key given with --trust-key: " +
		"the backup was changed after it was taken (its trail, its copy or its manifest), or it is another deployment's. Nothing was restored")
}

// Version is the portal's build: its module version and, when the build
// recorded it, the commit.
func Version() string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "unknown"
	}
	v := bi.Main.Version
	for _, s := range bi.Settings {
		if s.Key == "vcs.revision" {
			v += " " + s.Value
		}
	}
	return v
}

// DescribeCopy fills the manifest's audit head, checkpoint and schema
// version from st, the copy itself (or the snapshot it was dumped from).
func DescribeCopy(ctx context.Context, st *store.Store, m *Manifest) error {
	var err error
	if m.AuditSeq, m.AuditHash, err = st.AuditHead(ctx); err != nil {
		return err
	}
	if m.SchemaVersion, err = st.SchemaVersion(ctx); err != nil {
		return err
	}
	c, err := st.LastCheckpoint(ctx)
	if err == nil {
		m.LastCheckpoint = &c
	} else if !errors.Is(err, store.ErrNotFound) {
		return err
	}
	return nil
}

// BackupSQLite writes a consistent copy of the SQLite database st into
// dir (created; it must be empty or absent), with its manifest.
func BackupSQLite(ctx context.Context, st *store.Store, dir string, key ed25519.PrivateKey) (Manifest, error) {
	m := Manifest{Format: ManifestFormat, CreatedAt: time.Now().UTC(), PortalVersion: Version(), Database: "sqlite", File: "portal.db"}
	if err := emptyDir(dir); err != nil {
		return m, err
	}
	path := filepath.Join(dir, m.File)
	// VACUUM INTO writes into an empty file as it finds it.
	if err := newPrivateFile(path); err != nil {
		return m, err
	}
	if err := st.BackupTo(ctx, path); err != nil {
		return m, err
	}
	cp, err := store.Open(ctx, path)
	if err != nil {
		return m, err
	}
	err = DescribeCopy(ctx, cp, &m)
	if cerr := cp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return m, err
	}
	return m, WriteManifest(dir, &m, key)
}

// WriteManifest hashes the copy m names, signs the manifest with key and
// writes it beside the copy.
func WriteManifest(dir string, m *Manifest, key ed25519.PrivateKey) error {
	sum, size, err := hashFile(filepath.Join(dir, m.File))
	if err != nil {
		return err
	}
	m.SHA256, m.Size = sum, size
	m.SigningKey = base64.StdEncoding.EncodeToString(key.Public().(ed25519.PublicKey))
	m.Signature = base64.StdEncoding.EncodeToString(ed25519.Sign(key, m.message()))
	b, _ := json.MarshalIndent(m, "", "  ")
	name := filepath.Join(dir, BackupManifestName)
	if err := os.WriteFile(name, append(b, '\n'), 0o600); err != nil {
		return err
	}
	// A backup reported done is on disk, whatever happens to the host
	// next: the copy, the manifest, their names in the folder, and the
	// folder's in its parent (emptyDir may have made it).
	return syncPaths(filepath.Join(dir, m.File), name, dir, filepath.Dir(dir))
}

// syncFile flushes an open file or folder to disk (tests watch it).
var syncFile = (*os.File).Sync

// syncPaths flushes each file or folder at paths to disk, in order. A
// folder that may not be opened for reading (a parent owned by another
// user) is left to the file system.
func syncPaths(paths ...string) error {
	for _, p := range paths {
		f, err := os.Open(p)
		if errors.Is(err, fs.ErrPermission) {
			continue
		} else if err != nil {
			return err
		}
		err = syncFile(f)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return fmt.Errorf("flush %s to disk: %w", p, err)
		}
	}
	return nil
}

// ReadManifest reads a backup's manifest and checks the copy against it.
func ReadManifest(dir string) (Manifest, error) {
	var m Manifest
	b, err := os.ReadFile(filepath.Join(dir, BackupManifestName))
	if err != nil {
		return m, err
	}
	if err := json.Unmarshal(b, &m); err != nil {
		return m, fmt.Errorf("%s: %w", BackupManifestName, err)
	}
	if m.Format != ManifestFormat || m.File == "" || filepath.Base(m.File) != m.File {
		return m, fmt.Errorf("%s: not a backup manifest this portal reads (format %d)", BackupManifestName, m.Format)
	}
	sum, size, err := hashFile(filepath.Join(dir, m.File))
	if err != nil {
		return m, err
	}
	if sum != m.SHA256 || size != m.Size {
		return m, fmt.Errorf("backup %s: the copy does not match its manifest (SHA-256 %s, %d bytes; manifest %s, %d bytes)", dir, sum, size, m.SHA256, m.Size)
	}
	return m, nil
}

func hashFile(path string) (string, int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", 0, err
	}
	defer f.Close()
	h := sha256.New()
	n, err := io.Copy(h, f)
	return hex.EncodeToString(h.Sum(nil)), n, err
}

// emptyDir makes dir, or accepts it if it exists and is empty, so that a
// backup never mixes with another. Either way it is left 0700: a backup
// holds every wrapped visit key, and an empty folder that others may
// enter is tightened (its files would be 0600 anyway, so nothing that
// worked before stops). One the portal cannot tighten is refused.
func emptyDir(dir string) error {
	if err := store.MkdirPrivate(dir); err != nil {
		return err
	}
	ents, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	if len(ents) > 0 {
		return fmt.Errorf("backup folder %s is not empty", dir)
	}
	return PrivateBackupDir(dir)
}

// PrivateBackupDir makes the backup folder dir, which exists, private
// (mode 0700), or refuses one open to others that cannot be made so.
func PrivateBackupDir(dir string) error {
	fi, err := os.Stat(dir)
	if err != nil {
		return err
	}
	if fi.Mode().Perm()&0o077 != 0 {
		if err := os.Chmod(dir, 0o700); err != nil {
			return fmt.Errorf("backup folder %s is open to others (mode %v) and cannot be made private (%w): give a folder of your own, or a new one", dir, fi.Mode().Perm(), err)
		}
	}
	return nil
}

// newPrivateFile creates path, empty and readable by its owner only
// (whatever the umask), for a copy to be written into: the copy is never
// readable by others, not even while it is written.
func newPrivateFile(path string) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	if err := f.Chmod(0o600); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// RestoreSQLite puts the copy of a backup in place as the SQLite database
// at path, with its restore pending as id (so that nothing serves it
// before FinishRestore): it is copied beside path, opened (its schema
// brought up to date, with d for what a migration needs), marked, and only
// then renamed over path. A database at path is refused unless it is
// empty, or force.
func RestoreSQLite(ctx context.Context, dir string, m Manifest, path, id string, d store.Defaults, force bool) error {
	if _, err := os.Stat(path); err == nil && !force {
		st, err := store.OpenWith(ctx, path, d)
		if err != nil {
			return err
		}
		empty, err := st.Empty(ctx)
		st.Close()
		if err != nil {
			return err
		}
		if !empty {
			return fmt.Errorf("the database %s is not empty: restore into an empty deployment, or give --force to replace it", path)
		}
	}
	tmp := path + ".restoring"
	for _, p := range []string{tmp, tmp + "-wal", tmp + "-shm"} {
		if err := os.Remove(p); err != nil && !errors.Is(err, os.ErrNotExist) {
			return err
		}
	}
	// Hashed again as it is copied: what is put in place is what the
	// signed manifest names, whatever the folder held when it was read.
	if err := copyChecked(filepath.Join(dir, m.File), tmp, m); err != nil {
		os.Remove(tmp)
		return err
	}
	st, err := store.OpenWith(ctx, tmp, d)
	if err != nil {
		return err
	}
	err = BeginRestore(ctx, st, id, m.CreatedAt)
	if cerr := st.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	// Closed, the copy holds all of it: a log left beside it would not
	// move with the rename.
	if fi, err := os.Stat(tmp + "-wal"); err == nil && fi.Size() > 0 {
		return fmt.Errorf("restore: %s-wal was not checkpointed on close", tmp)
	}
	for _, p := range []string{path + "-wal", path + "-shm"} {
		if err := os.Remove(p); err != nil && !errors.Is(err, os.ErrNotExist) {
			return err
		}
	}
	if err := os.Rename(tmp, path); err != nil {
		return err
	}
	// The rename is on disk once the folder is: until then a power cut
	// could bring back the database the restore replaced.
	return syncPaths(filepath.Dir(path))
}

// copyChecked copies a backup's copy from to a new file to (0600), and
// fails unless what it copied is what m says: its SHA-256 and size.
func copyChecked(from, to string, m Manifest) error {
	in, err := os.Open(from)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(to, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	h := sha256.New()
	n, err := io.Copy(io.MultiWriter(out, h), in)
	if err != nil {
		out.Close()
		return err
	}
	if sum := hex.EncodeToString(h.Sum(nil)); sum != m.SHA256 || n != m.Size {
		out.Close()
		return fmt.Errorf("backup: the copy changed after it was checked, and no longer matches its manifest (SHA-256 %s, %d bytes; manifest %s, %d bytes): nothing was restored", sum, n, m.SHA256, m.Size)
	}
	if err := out.Sync(); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}
