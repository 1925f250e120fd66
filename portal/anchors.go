package portal

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
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

// Anchors keeps checkpoints outside the database.
type Anchors interface {
	Put(ctx context.Context, c store.Checkpoint) error
	List(ctx context.Context) ([]store.Checkpoint, error)
	Where() string
	// PutRecord keeps a small signed record (a destruction's note or
	// certificate) under name, write-once like the checkpoints; Records
	// returns those under a prefix, by name.
	PutRecord(ctx context.Context, name string, body []byte) error
	Records(ctx context.Context, prefix string) (map[string][]byte, error)
	// Last returns the latest checkpoint alone (false when there is
	// none), reading one object rather than all of them.
	Last(ctx context.Context) (store.Checkpoint, bool, error)
}

func anchorName(seq int64) string { return fmt.Sprintf("checkpoint-%020d.json", seq) }

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
	objs, err := a.blobs.ReadAll(ctx, a.bucket, "checkpoints/")
	if err != nil {
		return nil, err
	}
	return decodeAnchors(objs)
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
	objs, err := a.blobs.ReadAll(ctx, a.bucket, last)
	if err != nil {
		return store.Checkpoint{}, false, err
	}
	return lastDecoded(objs)
}

func lastDecoded(objs map[string][]byte) (store.Checkpoint, bool, error) {
	cps, err := decodeAnchors(objs)
	if err != nil || len(cps) == 0 {
		return store.Checkpoint{}, false, err
	}
	return cps[len(cps)-1], true, nil
}

func (a bucketAnchors) Records(ctx context.Context, prefix string) (map[string][]byte, error) {
	return a.blobs.ReadAll(ctx, a.bucket, prefix)
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
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o400)
	if errors.Is(err, os.ErrExist) {
		return nil // written once already
	}
	if err != nil {
		return err
	}
	if _, err := f.Write(b); err != nil {
		f.Close()
		return err
	}
	if err := syncFile(f); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	// The record's name is on disk too, with every folder MkdirAll may
	// have made for it (a destruction's, the anchor folder itself): a
	// power cut must not take back a tombstone written before the
	// destruction it announces.
	return syncPaths(foldersUp(filepath.Dir(path), a.dir)...)
}

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
	objs := map[string][]byte{}
	for _, e := range ents {
		if !strings.HasPrefix(e.Name(), "checkpoint-") {
			continue
		}
		b, err := os.ReadFile(filepath.Join(a.dir, e.Name()))
		if err != nil {
			return nil, err
		}
		objs[e.Name()] = b
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
	return lastDecoded(map[string][]byte{last: b})
}

func (a dirAnchors) Records(_ context.Context, prefix string) (map[string][]byte, error) {
	out := map[string][]byte{}
	err := filepath.WalkDir(a.dir, func(path string, e os.DirEntry, err error) error {
		if errors.Is(err, os.ErrNotExist) {
			return filepath.SkipAll
		}
		if err != nil || e.IsDir() {
			return err
		}
		rel, err := filepath.Rel(a.dir, path)
		if name := filepath.ToSlash(rel); err == nil && strings.HasPrefix(name, prefix) {
			out[name], err = os.ReadFile(path)
		}
		return err
	})
	return out, err
}

func decodeAnchors(objs map[string][]byte) ([]store.Checkpoint, error) {
	out := make([]store.Checkpoint, 0, len(objs))
	for name, b := range objs {
		var c store.Checkpoint
		if err := json.Unmarshal(b, &c); err != nil {
			return nil, fmt.Errorf("anchor %s: %w", name, err)
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
