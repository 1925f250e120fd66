package main

import (
	"archive/tar"
	"bytes"
	"errors"
	"io"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

const (
	repoRoot = "../.."
	caBundle = "/etc/ssl/certs/ca-certificates.crt"
	// maxCompressed bounds the image: the portal (about 36 MB stripped,
	// 14 MiB gzipped) and the CA bundle. A base image or a toolchain
	// slipping in would pass it.
	maxCompressed = 24 << 20
)

// requireIntegration is set by make test: a missing part fails instead of
// skipping.
var requireIntegration = os.Getenv("PORTAL_REQUIRE_INTEGRATION") != ""

func skipOrFail(t *testing.T, format string, args ...any) {
	t.Helper()
	if requireIntegration {
		t.Fatalf(format, args...)
	}
	t.Skipf(format, args...)
}

var (
	binOnce sync.Once
	binDir  string
	binErr  error
)

// portalBinary builds the portal as make image does, once per test run.
func portalBinary(t *testing.T, name string) string {
	t.Helper()
	binOnce.Do(func() { binDir, binErr = os.MkdirTemp("", "portal-image-") })
	if binErr != nil {
		t.Fatal(binErr)
	}
	out := filepath.Join(binDir, name)
	if _, err := os.Stat(out); err == nil {
		return out
	}
	cmd := exec.Command("go", "build", "-trimpath", "-buildvcs=false", "-ldflags", "-s -w", "-o", out, "./cmd/portal")
	cmd.Dir, cmd.Env = repoRoot, append(os.Environ(), "CGO_ENABLED=0")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build the portal: %v\n%s", err, b)
	}
	return out
}

func TestMain(m *testing.M) {
	code := m.Run()
	if binDir != "" {
		os.RemoveAll(binDir)
	}
	os.Exit(code)
}

func testSpec(t *testing.T, binary string) Spec {
	t.Helper()
	if _, err := os.Stat(caBundle); err != nil {
		skipOrFail(t, "no CA bundle (make image installs Debian's ca-certificates): %v", err)
	}
	return Spec{Binary: binary, CACerts: caBundle, Epoch: time.Unix(1767225600, 0), Arch: "amd64",
		Version: "1.2.3", Source: "https://example.org/portal", Revision: "0123abc"}
}

// TestImage checks what the image holds and how it runs.
func TestImage(t *testing.T) {
	s := testSpec(t, portalBinary(t, "portal"))
	img, err := Build(s)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	c := cfg.Config
	if !slices.Equal(c.Entrypoint, []string{"/portal", "serve"}) || len(c.Cmd) != 0 {
		t.Errorf("entrypoint %q cmd %q", c.Entrypoint, c.Cmd)
	}
	if c.User != "10001:10001" {
		t.Errorf("user %q, want 10001:10001 (never root)", c.User)
	}
	if _, ok := c.ExposedPorts["8080/tcp"]; !ok || len(c.ExposedPorts) != 1 {
		t.Errorf("exposed ports %v", c.ExposedPorts)
	}
	for k, want := range map[string]string{
		"org.opencontainers.image.version": "1.2.3", "org.opencontainers.image.source": "https://example.org/portal",
		"org.opencontainers.image.revision": "0123abc", "org.opencontainers.image.created": "2026-01-01T00:00:00Z",
	} {
		if c.Labels[k] != want {
			t.Errorf("label %s = %q, want %q", k, c.Labels[k], want)
		}
	}
	if !cfg.Created.Equal(s.Epoch) || cfg.OS != "linux" || cfg.Architecture != "amd64" {
		t.Errorf("created %s, platform %s/%s", cfg.Created, cfg.OS, cfg.Architecture)
	}
	for _, h := range cfg.History {
		if !h.Created.Equal(s.Epoch) {
			t.Errorf("history %q created %s", h.CreatedBy, h.Created)
		}
	}

	layers, err := img.Layers()
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	var size int64
	for _, l := range layers {
		n, _ := l.Size()
		size += n
		for _, h := range layerEntries(t, l) {
			got = append(got, h.Name)
			if !h.ModTime.Equal(s.Epoch) {
				t.Errorf("%s: time %s, want SOURCE_DATE_EPOCH", h.Name, h.ModTime)
			}
			if isShell(h.Name) {
				t.Errorf("%s: a shell in the image", h.Name)
			}
			if h.Typeflag == tar.TypeReg && h.Mode&0o111 != 0 && h.Name != "portal" {
				t.Errorf("%s: an executable other than the portal", h.Name)
			}
			if h.Name == "portal" && (h.Uid != 0 || h.Mode&0o222 != 0) {
				t.Errorf("/portal is writable by its user (uid %d, mode %o)", h.Uid, h.Mode)
			}
			if strings.HasPrefix(h.Name, "data") && (h.Uid != UID || h.Gid != GID) {
				t.Errorf("/data is owned by %d:%d, want the portal user", h.Uid, h.Gid)
			}
		}
	}
	want := []string{"data/", "etc/", "etc/group", "etc/passwd", "etc/ssl/", "etc/ssl/certs/", "etc/ssl/certs/ca-certificates.crt", "portal"}
	if !slices.Equal(got, want) {
		t.Errorf("layers hold %q, want exactly %q", got, want)
	}
	if size > maxCompressed {
		t.Errorf("image is %d MiB compressed, over the %d MiB bound", size>>20, maxCompressed>>20)
	}
	t.Logf("%d layers, %.1f MiB compressed", len(layers), float64(size)/(1<<20))

	bin, err := os.ReadFile(s.Binary)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(bin, []byte("Europe/London")) {
		t.Error("the binary has no embedded time-zone data (time/tzdata): the image has no /usr/share/zoneinfo")
	}
}

// isShell reports names of shells and of programs that are one (busybox).
func isShell(name string) bool {
	switch path.Base(strings.TrimSuffix(name, "/")) {
	case "sh", "bash", "dash", "ash", "zsh", "ksh", "mksh", "csh", "tcsh", "fish", "busybox", "toybox":
		return true
	}
	return false
}

func layerEntries(t *testing.T, l v1.Layer) []*tar.Header {
	t.Helper()
	rc, err := l.Uncompressed()
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	tr := tar.NewReader(rc)
	var out []*tar.Header
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, h)
	}
}

// TestReproducible: two builds of the image are byte for byte the same, as
// are the files written. (Go builds the binary reproducibly with -trimpath
// and no VCS stamp; the builder must add nothing that varies.)
func TestReproducible(t *testing.T) {
	var digests []v1.Hash
	var archives, indexes [][]byte
	for range 2 {
		s := testSpec(t, portalBinary(t, "portal"))
		img, err := Build(s)
		if err != nil {
			t.Fatal(err)
		}
		out := t.TempDir()
		if err := Write(img, out, s.Version); err != nil {
			t.Fatal(err)
		}
		d, err := img.Digest()
		if err != nil {
			t.Fatal(err)
		}
		digests = append(digests, d)
		archive, _ := os.ReadFile(filepath.Join(out, "portal.tar"))
		index, _ := os.ReadFile(filepath.Join(out, "oci", "index.json"))
		archives, indexes = append(archives, archive), append(indexes, index)

		// What was written reads back as the same image.
		p, err := layout.FromPath(filepath.Join(out, "oci"))
		if err != nil {
			t.Fatal(err)
		}
		if back, err := p.Image(d); err != nil {
			t.Errorf("OCI layout: %v", err)
		} else if err := sameDigest(back, d); err != nil {
			t.Errorf("OCI layout: %v", err)
		}
		if back, err := tarball.ImageFromPath(filepath.Join(out, "portal.tar"), nil); err != nil {
			t.Errorf("docker-archive: %v", err)
		} else if cfg, err := back.ConfigName(); err != nil || cfg != mustConfigName(t, img) {
			t.Errorf("docker-archive holds config %s (%v)", cfg, err)
		}
	}
	if digests[0] != digests[1] {
		t.Errorf("two builds, two digests: %s and %s", digests[0], digests[1])
	}
	if !bytes.Equal(archives[0], archives[1]) || !bytes.Equal(indexes[0], indexes[1]) {
		t.Error("two builds wrote different files")
	}
	t.Logf("digest %s, both builds", digests[0])
}

func sameDigest(img v1.Image, want v1.Hash) error {
	d, err := img.Digest()
	if err == nil && d != want {
		err = errors.New("digest " + d.String() + ", want " + want.String())
	}
	return err
}

func mustConfigName(t *testing.T, img v1.Image) v1.Hash {
	t.Helper()
	h, err := img.ConfigName()
	if err != nil {
		t.Fatal(err)
	}
	return h
}
