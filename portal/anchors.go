package portal

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/ofsted-portal/evidence/portal/blobs"
	"github.com/ofsted-portal/evidence/portal/store"
)

// Anchors: every signed checkpoint of the audit trail is also written
// outside the database, write-once, so that a trail cut short in the
// database (its last rows deleted, both tables emptied) is reported broken
// by `portal audit verify`, naming the last anchored record. With object
// lock, anchors are objects in PORTAL_AUDIT_ANCHOR_BUCKET under compliance
// retention (PORTAL_AUDIT_ANCHOR_RETENTION), which no one can delete or
// overwrite until it runs out; otherwise (PORTAL_AUDIT_ANCHOR_DIR, or a
// store without object lock) files created once and made read-only.
//
// Object lock keeps versions, not names: anyone with the store's
// credentials may put a delete marker over an anchor, or a new version
// under its name. So every version is read, delete markers aside, and each
// must hold the checkpoint its name numbers (errBadAnchor otherwise).

// Anchors keeps checkpoints outside the database.
type Anchors interface {
	Put(ctx context.Context, c store.Checkpoint) error
	List(ctx context.Context) ([]store.Checkpoint, error)
	Where() string
	// PutRecord keeps a small signed record (a destruction's note or
	// certificate, a restore's intent) under name, write-once like the
	// checkpoints; Records returns those under a prefix, by name, every
	// version of each (a delete marker hides none).
	PutRecord(ctx context.Context, name string, body []byte) error
	Records(ctx context.Context, prefix string) (map[string][][]byte, error)
	// Last returns the latest checkpoint alone (false when there is
	// none), reading one object rather than all of them.
	Last(ctx context.Context) (store.Checkpoint, bool, error)
}

func anchorName(seq int64) string { return fmt.Sprintf("checkpoint-%020d.json", seq) }

// errBadAnchor is an object among the anchors that is not the checkpoint
// its name numbers: written there by someone other than the portal.
var errBadAnchor = errors.New("not the checkpoint its name numbers")

// stored is one version of an object in the anchor store.
type stored struct {
	name string
	body []byte
}

// bucketAnchors are objects under compliance-mode retention.
type bucketAnchors struct {
	blobs  *blobs.Store
	bucket string
	retain time.Duration
}

func (a bucketAnchors) Put(ctx context.Context, c store.Checkpoint) error {
	b, _ := json.Marshal(c)
	return a.blobs.PutRetained(ctx, a.bucket, "checkpoints/"+anchorName(c.Seq), b, time.Now().Add(a.retain))
}

func (a bucketAnchors) List(ctx context.Context) ([]store.Checkpoint, error) {
	return a.read(ctx, "checkpoints/")
}

// read decodes every version of the anchors under prefix.
func (a bucketAnchors) read(ctx context.Context, prefix string) ([]store.Checkpoint, error) {
	objs, err := a.blobs.ReadVersions(ctx, a.bucket, prefix)
	if err != nil {
		return nil, err
	}
	all := make([]stored, len(objs))
	for i, o := range objs {
		all[i] = stored{o.Key, o.Body}
	}
	return decodeAnchors(all)
}

func (a bucketAnchors) Where() string { return "bucket " + a.bucket }

func (a bucketAnchors) PutRecord(ctx context.Context, name string, body []byte) error {
	return a.blobs.PutRetained(ctx, a.bucket, name, body, time.Now().Add(a.retain))
}

func (a bucketAnchors) Last(ctx context.Context) (store.Checkpoint, bool, error) {
	last, err := a.blobs.LastKey(ctx, a.bucket, "checkpoints/checkpoint-") // names sort as their numbers (anchorName)
	if err != nil || last == "" {
		return store.Checkpoint{}, false, err
	}
	cps, err := a.read(ctx, last)
	return lastOf(cps, err)
}

func lastOf(cps []store.Checkpoint, err error) (store.Checkpoint, bool, error) {
	if err != nil || len(cps) == 0 {
		return store.Checkpoint{}, false, err
	}
	return cps[len(cps)-1], true, nil
}

func (a bucketAnchors) Records(ctx context.Context, prefix string) (map[string][][]byte, error) {
	objs, err := a.blobs.ReadVersions(ctx, a.bucket, prefix)
	if err != nil {
		return nil, err
	}
	out := map[string][][]byte{}
	for _, o := range objs {
		out[o.Key] = append(out[o.Key], o.Body)
	}
	return out, nil
}

// dirAnchors are files created once and made read-only.
type dirAnchors struct{ dir string }

func (a dirAnchors) Put(ctx context.Context, c store.Checkpoint) error {
	b, _ := json.Marshal(c)
	return a.PutRecord(ctx, anchorName(c.Seq), b)
}

func (a dirAnchors) PutRecord(_ context.Context, name string, b []byte) error {
	path := filepath.Join(a.dir, filepath.FromSlash(name))
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	// The record is written whole under a temporary name first and then
	// given its own by a hard link, which fails if the name is taken: a
	// crash leaves a stray temporary file, never a record cut off under
	// its name (which a reader would take for the record).
	partial := filepath.Join(a.dir, partialDir)
	if err := os.MkdirAll(partial, 0o700); err != nil {
		return err
	}
	f, err := os.CreateTemp(partial, "record-*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	defer os.Remove(tmp)
	_, err = f.Write(b)
	if err == nil {
		err = f.Chmod(0o400)
	}
	if err == nil {
		err = syncFile(f)
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	switch err := os.Link(tmp, path); {
	case errors.Is(err, os.ErrExist):
		old, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		if json.Valid(old) {
			return nil // written once already
		}
		// Cut off by a crash while an earlier release wrote records in
		// place: replaced by the whole record.
		if err := os.Rename(tmp, path); err != nil {
			return err
		}
	case err != nil:
		return err
	}
	// The record's name is on disk too, with every folder MkdirAll may
	// have made for it (a destruction's, the anchor folder itself): a
	// power cut must not take back a tombstone written before the
	// destruction it announces.
	return syncPaths(foldersUp(filepath.Dir(path), a.dir)...)
}

// partialDir is the anchor folder's folder of records being written, which
// readers pass over.
const partialDir = ".partial"

// foldersUp is from, each folder above it up to top, and top's parent:
// the folders whose entries a file created under top may have changed.
func foldersUp(from, top string) []string {
	top = filepath.Clean(top)
	var out []string
	for d := filepath.Clean(from); ; d = filepath.Dir(d) {
		out = append(out, d)
		if d == top || d == filepath.Dir(d) {
			break
		}
	}
	return append(out, filepath.Dir(top))
}

func (a dirAnchors) List(context.Context) ([]store.Checkpoint, error) {
	ents, err := os.ReadDir(a.dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var objs []stored
	for _, e := range ents {
		if !strings.HasPrefix(e.Name(), "checkpoint-") {
			continue
		}
		b, err := os.ReadFile(filepath.Join(a.dir, e.Name()))
		if err != nil {
			return nil, err
		}
		objs = append(objs, stored{e.Name(), b})
	}
	return decodeAnchors(objs)
}

func (a dirAnchors) Where() string { return "folder " + a.dir }

func (a dirAnchors) Last(context.Context) (store.Checkpoint, bool, error) {
	ents, err := os.ReadDir(a.dir)
	if errors.Is(err, os.ErrNotExist) {
		return store.Checkpoint{}, false, nil
	}
	if err != nil {
		return store.Checkpoint{}, false, err
	}
	last := ""
	for _, e := range ents {
		if strings.HasPrefix(e.Name(), "checkpoint-") {
			last = max(last, e.Name())
		}
	}
	if last == "" {
		return store.Checkpoint{}, false, nil
	}
	b, err := os.ReadFile(filepath.Join(a.dir, last))
	if err != nil {
		return store.Checkpoint{}, false, err
	}
	return lastOf(decodeAnchors([]stored{{last, b}}))
}

func (a dirAnchors) Records(_ context.Context, prefix string) (map[string][][]byte, error) {
	out := map[string][][]byte{}
	err := filepath.WalkDir(a.dir, func(path string, e os.DirEntry, err error) error {
		if errors.Is(err, os.ErrNotExist) {
			return filepath.SkipAll
		}
		if err == nil && e.IsDir() && path == filepath.Join(a.dir, partialDir) {
			return filepath.SkipDir
		}
		if err != nil || e.IsDir() {
			return err
		}
		rel, err := filepath.Rel(a.dir, path)
		if name := filepath.ToSlash(rel); err == nil && strings.HasPrefix(name, prefix) {
			var b []byte
			b, err = os.ReadFile(path)
			out[name] = [][]byte{b}
		}
		return err
	})
	return out, err
}

// decodeAnchors decodes anchors, each version once (a checkpoint anchored
// again at start-up is a new version of the same bytes); each must be the
// checkpoint its name numbers, or a version put under a later name could
// stand for the checkpoint it hides.
func decodeAnchors(objs []stored) ([]store.Checkpoint, error) {
	out := make([]store.Checkpoint, 0, len(objs))
	seen := map[string]bool{}
	for _, o := range objs {
		if seen[o.name+"\x00"+string(o.body)] {
			continue
		}
		seen[o.name+"\x00"+string(o.body)] = true
		var c store.Checkpoint
		if err := json.Unmarshal(o.body, &c); err != nil {
			return nil, fmt.Errorf("anchor %s: %w: %v", o.name, errBadAnchor, err)
		}
		if path.Base(o.name) != anchorName(c.Seq) {
			return nil, fmt.Errorf("anchor %s holds the checkpoint of record %d: %w", o.name, c.Seq, errBadAnchor)
		}
		out = append(out, c)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Seq < out[j].Seq })
	return out, nil
}

// OpenAnchors chooses where checkpoints are anchored: the configured
// folder, else a bucket with object lock, else (a store without it) a
// folder beside the database.
func OpenAnchors(ctx context.Context, cfg Config, b *blobs.Store) (Anchors, error) {
	if cfg.AnchorDir != "" {
		return dirAnchors{cfg.AnchorDir}, nil
	}
	locking, err := b.EnsureLockedBucket(ctx, cfg.AnchorBucket)
	if err != nil {
		return nil, err
	}
	if locking {
		return bucketAnchors{b, cfg.AnchorBucket, cfg.AnchorRetention}, nil
	}
	return dirAnchors{filepath.Join(filepath.Dir(cfg.DBPath), "audit-anchors")}, nil
}
