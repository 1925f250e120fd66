package main

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

// Write puts img in out twice, tagged portal:version: an OCI image layout
// in out/oci (skopeo, crane, podman's oci: transport) and a docker-archive
// tarball out/portal.tar (podman load, docker load). Both are replaced.
func Write(img v1.Image, out, version string) error {
	tag, err := name.NewTag("portal:" + version)
	if err != nil {
		return fmt.Errorf("tag: %w", err)
	}
	dir := filepath.Join(out, "oci")
	if err := os.RemoveAll(dir); err != nil {
		return err
	}
	p, err := layout.Write(dir, empty.Index)
	if err != nil {
		return fmt.Errorf("OCI layout: %w", err)
	}
	if err := p.AppendImage(img, layout.WithAnnotations(map[string]string{"org.opencontainers.image.ref.name": version})); err != nil {
		return fmt.Errorf("OCI layout: %w", err)
	}
	if err := tarball.WriteToFile(filepath.Join(out, "portal.tar"), tag, img); err != nil {
		return fmt.Errorf("docker-archive: %w", err)
	}
	return nil
}
