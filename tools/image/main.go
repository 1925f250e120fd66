// Command image builds the portal's container image without a Docker
// daemon or a base image (make image): go-containerregistry's empty image
// plus two layers, written as an OCI image layout and a docker-archive
// tarball, since no registry is reachable from where it is built.
//
// Invariants:
//   - The image holds exactly: /portal (the statically linked binary,
//     owned by root, not writable by the user it runs as), the CA bundle
//     at /etc/ssl/certs/ca-certificates.crt, /etc/passwd and /etc/group
//     naming the portal user, and /data (the only folder that user owns,
//     for a SQLite database when there is no PostgreSQL). No shell, no
//     package manager, nothing else to run.
//   - It runs as UID:GID 10001:10001, never root, and needs no writable
//     root file system: the portal writes only where it is configured to.
//   - Reproducible: every file time, the image's created time and its
//     labels come from SOURCE_DATE_EPOCH; tar entries are in a fixed order
//     with fixed owners; so the same inputs give the same digest.
package main

import (
	"archive/tar"
	"bytes"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// The user the portal runs as; the Helm chart and compose file use it.
const (
	UID = 10001
	GID = 10001
)

// Spec is what goes into the image.
type Spec struct {
	Binary  string    // the portal, statically linked (CGO_ENABLED=0)
	CACerts string    // the CA bundle (Debian's ca-certificates)
	Epoch   time.Time // SOURCE_DATE_EPOCH: every time in the image
	Arch    string    // GOARCH of the binary

	Version, Source, Revision string // OCI labels
}

// file is one entry of a layer.
type file struct {
	path     string
	mode     int64
	uid, gid int
	dir      bool
	data     []byte
}

// Build makes the image.
func Build(s Spec) (v1.Image, error) {
	bin, err := os.ReadFile(s.Binary)
	if err != nil {
		return nil, fmt.Errorf("portal binary: %w", err)
	}
	ca, err := os.ReadFile(s.CACerts)
	if err != nil {
		return nil, fmt.Errorf("CA certificates: %w", err)
	}
	s.Epoch = s.Epoch.UTC()
	// The base layer changes rarely (certificates, the user); the binary
	// changes with every release, so it comes last.
	base, err := layer(s.Epoch, []file{
		{path: "data/", mode: 0o700, uid: UID, gid: GID, dir: true},
		{path: "etc/", mode: 0o755, dir: true},
		{path: "etc/group", mode: 0o644, data: []byte("root:x:0:\nportal:x:" + strconv.Itoa(GID) + ":\n")},
		{path: "etc/passwd", mode: 0o644, data: []byte("root:x:0:0:root:/nonexistent:/nonexistent\nportal:x:" +
			strconv.Itoa(UID) + ":" + strconv.Itoa(GID) + ":evidence portal:/nonexistent:/nonexistent\n")},
		{path: "etc/ssl/", mode: 0o755, dir: true},
		{path: "etc/ssl/certs/", mode: 0o755, dir: true},
		{path: "etc/ssl/certs/ca-certificates.crt", mode: 0o644, data: ca},
	})
	if err != nil {
		return nil, err
	}
	app, err := layer(s.Epoch, []file{{path: "portal", mode: 0o555, data: bin}})
	if err != nil {
		return nil, err
	}
	created := v1.Time{Time: s.Epoch}
	img := mutate.MediaType(empty.Image, types.OCIManifestSchema1)
	img = mutate.ConfigMediaType(img, types.OCIConfigJSON)
	img, err = mutate.ConfigFile(img, &v1.ConfigFile{
		Architecture: s.Arch,
		OS:           "linux",
		Created:      created,
		Config: v1.Config{
			User:       fmt.Sprintf("%d:%d", UID, GID),
			Entrypoint: []string{"/portal", "serve"},
			// Listen on every interface inside the container; the
			// database defaults to the one writable folder.
			Env:          []string{"PORTAL_ADDR=0.0.0.0:8080", "PORTAL_DB_PATH=/data/portal.db"},
			WorkingDir:   "/data",
			ExposedPorts: map[string]struct{}{"8080/tcp": {}},
			StopSignal:   "SIGTERM",
			Labels: map[string]string{
				"org.opencontainers.image.title":    "evidence portal",
				"org.opencontainers.image.version":  s.Version,
				"org.opencontainers.image.source":   s.Source,
				"org.opencontainers.image.revision": s.Revision,
				"org.opencontainers.image.created":  s.Epoch.Format(time.RFC3339),
			},
		},
		RootFS: v1.RootFS{Type: "layers"},
	})
	if err != nil {
		return nil, err
	}
	img, err = mutate.Append(img,
		mutate.Addendum{Layer: base, MediaType: types.OCILayer, History: v1.History{Created: created, CreatedBy: "tools/image: CA certificates, the portal user, /data"}},
		mutate.Addendum{Layer: app, MediaType: types.OCILayer, History: v1.History{Created: created, CreatedBy: "tools/image: /portal"}},
	)
	if err != nil {
		return nil, err
	}
	return mutate.CreatedAt(img, created)
}

// layer is a gzipped tar of files, in the order given, every time the
// epoch.
func layer(epoch time.Time, files []file) (v1.Layer, error) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, f := range files {
		h := &tar.Header{Name: f.path, Mode: f.mode, Uid: f.uid, Gid: f.gid, ModTime: epoch, Format: tar.FormatPAX}
		if f.dir {
			h.Typeflag = tar.TypeDir
		} else {
			h.Typeflag, h.Size = tar.TypeReg, int64(len(f.data))
		}
		if err := tw.WriteHeader(h); err != nil {
			return nil, err
		}
		if _, err := tw.Write(f.data); err != nil {
			return nil, err
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	b := buf.Bytes()
	return tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(b)), nil },
		tarball.WithMediaType(types.OCILayer), tarball.WithCompressedCaching)
}

func main() {
	var s Spec
	var epoch int64
	out := flag.String("out", "bin/image", "folder for the OCI layout (oci/) and the docker-archive tarball (portal.tar)")
	flag.StringVar(&s.Binary, "binary", "", "the portal binary, built with CGO_ENABLED=0")
	flag.StringVar(&s.CACerts, "ca", "/etc/ssl/certs/ca-certificates.crt", "CA bundle")
	flag.StringVar(&s.Arch, "arch", runtime.GOARCH, "the binary's architecture")
	flag.StringVar(&s.Version, "version", "dev", "org.opencontainers.image.version, and the tag")
	flag.StringVar(&s.Source, "source", "", "org.opencontainers.image.source")
	flag.StringVar(&s.Revision, "revision", "", "org.opencontainers.image.revision")
	flag.Int64Var(&epoch, "epoch", envEpoch(), "seconds since 1970 for every time in the image (default: $SOURCE_DATE_EPOCH)")
	flag.Parse()
	s.Epoch = time.Unix(epoch, 0)
	if err := run(s, *out); err != nil {
		fmt.Fprintln(os.Stderr, "image:", err)
		os.Exit(1)
	}
}

func envEpoch() int64 {
	n, _ := strconv.ParseInt(os.Getenv("SOURCE_DATE_EPOCH"), 10, 64)
	return n
}

func run(s Spec, out string) error {
	if s.Binary == "" {
		return fmt.Errorf("-binary is required")
	}
	img, err := Build(s)
	if err != nil {
		return err
	}
	if err := Write(img, out, s.Version); err != nil {
		return err
	}
	d, _ := img.Digest()
	m, _ := img.Manifest()
	var size int64
	for _, l := range m.Layers {
		size += l.Size
	}
	fmt.Printf("image %s (%.1f MiB compressed, created %s)\n  OCI layout:     %s\n  docker-archive: %s\n",
		d, float64(size)/(1<<20), s.Epoch.UTC().Format(time.RFC3339), filepath.Join(out, "oci"), filepath.Join(out, "portal.tar"))
	return nil
}
