package main

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"debug/buildinfo"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"
)

// Spec is what an image is made of.
type Spec struct {
	Version          string
	Epoch            time.Time
	CACerts          []byte
	CACertsCopyright []byte
	Arches           []Arch
}

// Arch is one platform's unpacked release archive.
type Arch struct {
	Name string
	Dir  string
}

// The user the server runs as: distroless's "nonroot", so that volumes
// prepared for either image fit both.
const (
	uid     = 65532
	dataDir = "/var/lib/ward"
)

// The media types of the OCI image specification v1.1.
const (
	mediaIndex    = "application/vnd.oci.image.index.v1+json"
	mediaManifest = "application/vnd.oci.image.manifest.v1+json"
	mediaConfig   = "application/vnd.oci.image.config.v1+json"
	mediaLayer    = "application/vnd.oci.image.layer.v1.tar+gzip"
)

type descriptor struct {
	MediaType   string            `json:"mediaType"`
	Digest      string            `json:"digest"`
	Size        int               `json:"size"`
	Platform    *platform         `json:"platform,omitempty"`
	Annotations map[string]string `json:"annotations,omitempty"`
}

type platform struct {
	Architecture string `json:"architecture"`
	OS           string `json:"os"`
	Variant      string `json:"variant,omitempty"`
}

// file is one entry of a tar archive.
type file struct {
	name string
	mode int64
	uid  int
	dir  bool
	body []byte
}

// Tag is the tag of an architecture's image.
func Tag(version, arch string) string {
	return strings.TrimPrefix(version, "v") + "-" + arch
}

// Repository is the name the images are loaded under: in docker load's
// manifest, and in the layout's org.opencontainers.image.ref.name, which
// podman load takes as the whole name (a bare tag there came out as
// localhost/1.2.3-amd64:latest) and umoci and skopeo select the image by.
const Repository = "docker.io/wardhq/ward"

// Write writes the image layout of every architecture in s as a tar file.
func Write(w io.Writer, s Spec) error {
	blobs := map[string][]byte{}
	put := func(b []byte) string {
		sum := sha256.Sum256(b)
		d := "sha256:" + hex.EncodeToString(sum[:])
		blobs[d] = b
		return d
	}
	var manifests []descriptor
	type dockerEntry struct {
		Config   string
		RepoTags []string
		Layers   []string
	}
	var docker []dockerEntry
	for _, a := range s.Arches {
		layer, err := rootFS(s, a)
		if err != nil {
			return err
		}
		diffSum := sha256.Sum256(layer)
		gz, err := gzipped(layer)
		if err != nil {
			return err
		}
		layerDigest := put(gz)
		cfg, err := config(s, a, "sha256:"+hex.EncodeToString(diffSum[:]))
		if err != nil {
			return err
		}
		cfgDigest := put(cfg)
		man, err := json.Marshal(map[string]any{
			"schemaVersion": 2,
			"mediaType":     mediaManifest,
			"config":        descriptor{MediaType: mediaConfig, Digest: cfgDigest, Size: len(cfg)},
			"layers":        []descriptor{{MediaType: mediaLayer, Digest: layerDigest, Size: len(gz)}},
		})
		if err != nil {
			return err
		}
		tag := Tag(s.Version, a.Name)
		manifests = append(manifests, descriptor{MediaType: mediaManifest, Digest: put(man), Size: len(man),
			Platform:    platformOf(a.Name),
			Annotations: map[string]string{"org.opencontainers.image.ref.name": Repository + ":" + tag}})
		docker = append(docker, dockerEntry{Config: blobPath(cfgDigest), RepoTags: []string{Repository + ":" + tag},
			Layers: []string{blobPath(layerDigest)}})
	}
	index, err := json.Marshal(map[string]any{"schemaVersion": 2, "mediaType": mediaIndex, "manifests": manifests})
	if err != nil {
		return err
	}
	dockerManifest, err := json.Marshal(docker)
	if err != nil {
		return err
	}
	files := []file{
		{name: "index.json", mode: 0o644, body: index},
		{name: "manifest.json", mode: 0o644, body: dockerManifest},
		{name: "oci-layout", mode: 0o644, body: []byte(`{"imageLayoutVersion":"1.0.0"}`)},
	}
	for d, b := range blobs {
		files = append(files, file{name: blobPath(d), mode: 0o644, body: b})
	}
	return writeTar(w, files, s.Epoch)
}

func blobPath(digest string) string {
	return "blobs/sha256/" + strings.TrimPrefix(digest, "sha256:")
}

func platformOf(arch string) *platform {
	p := &platform{Architecture: arch, OS: "linux"}
	if arch == "arm64" {
		p.Variant = "v8"
	}
	return p
}

// rootFS is the image's one layer, uncompressed.
func rootFS(s Spec, a Arch) ([]byte, error) {
	read := func(name string) ([]byte, error) {
		b, err := os.ReadFile(filepath.Join(a.Dir, name))
		if err != nil {
			return nil, fmt.Errorf("%s release: %w", a.Name, err)
		}
		return b, nil
	}
	files := []file{
		{name: "etc/", mode: 0o755, dir: true},
		{name: "etc/group", mode: 0o644, body: []byte("root:x:0:\nnonroot:x:65532:\n")},
		{name: "etc/passwd", mode: 0o644, body: []byte("root:x:0:0:root:/root:/sbin/nologin\nnonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\n")},
		{name: "etc/ssl/", mode: 0o755, dir: true},
		{name: "etc/ssl/certs/", mode: 0o755, dir: true},
		{name: "etc/ssl/certs/ca-certificates.crt", mode: 0o644, body: s.CACerts},
		{name: "home/", mode: 0o755, dir: true},
		{name: "home/nonroot/", mode: 0o700, uid: uid, dir: true},
		{name: "tmp/", mode: 0o1777, dir: true},
		{name: "usr/", mode: 0o755, dir: true},
		{name: "usr/bin/", mode: 0o755, dir: true},
		{name: "usr/share/", mode: 0o755, dir: true},
		{name: "usr/share/doc/", mode: 0o755, dir: true},
		{name: "usr/share/doc/ca-certificates/", mode: 0o755, dir: true},
		{name: "usr/share/doc/ca-certificates/copyright", mode: 0o644, body: s.CACertsCopyright},
		{name: "usr/share/doc/ward/", mode: 0o755, dir: true},
		{name: "var/", mode: 0o755, dir: true},
		{name: "var/lib/", mode: 0o755, dir: true},
		{name: strings.TrimPrefix(dataDir, "/") + "/", mode: 0o700, uid: uid, dir: true},
	}
	bin, err := read("ward")
	if err != nil {
		return nil, err
	}
	files = append(files, file{name: "usr/bin/ward", mode: 0o755, body: bin})
	for _, doc := range []string{"LICENSE", "NOTICE", "THIRD_PARTY_LICENSES"} {
		b, err := read(doc)
		if err != nil {
			return nil, err
		}
		files = append(files, file{name: "usr/share/doc/ward/" + doc, mode: 0o644, body: b})
	}
	var buf bytes.Buffer
	if err := writeTar(&buf, files, s.Epoch); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// config is the image configuration: what the Dockerfile in packaging/
// sets, and the commit the binary was built from.
func config(s Spec, a Arch, diffID string) ([]byte, error) {
	labels := map[string]string{
		"org.opencontainers.image.title":       "Ward",
		"org.opencontainers.image.description": "HIPAA security incident response and breach notification",
		"org.opencontainers.image.version":     strings.TrimPrefix(s.Version, "v"),
		"org.opencontainers.image.licenses":    "Apache-2.0",
		"org.opencontainers.image.source":      "https://github.com/wardhq/ward",
		"org.opencontainers.image.created":     s.Epoch.Format(time.RFC3339),
	}
	info, err := buildinfo.ReadFile(filepath.Join(a.Dir, "ward"))
	if err != nil {
		return nil, fmt.Errorf("%s release: the binary has no Go build information: %w", a.Name, err)
	}
	for _, st := range info.Settings {
		if st.Key == "vcs.revision" {
			labels["org.opencontainers.image.revision"] = st.Value
		}
	}
	created := s.Epoch.Format(time.RFC3339)
	cfg := map[string]any{
		"created":      created,
		"architecture": a.Name,
		"os":           "linux",
		"config": map[string]any{
			"User":         fmt.Sprintf("%d:%d", uid, uid),
			"Env":          []string{"PATH=/usr/bin", "WARD_DATA=" + dataDir, "WARD_LISTEN=0.0.0.0:8443"},
			"Entrypoint":   []string{"/usr/bin/ward"},
			"Cmd":          []string{"serve"},
			"WorkingDir":   dataDir,
			"ExposedPorts": map[string]any{"8443/tcp": map[string]any{}},
			"Volumes":      map[string]any{dataDir: map[string]any{}},
			"Labels":       labels,
			// Docker's extension of the configuration; podman reads it
			// from images it loads in Docker's format.
			"Healthcheck": map[string]any{
				"Test":        []string{"CMD", "/usr/bin/ward", "healthcheck"},
				"Interval":    30 * time.Second,
				"Timeout":     10 * time.Second,
				"StartPeriod": 30 * time.Second,
				"Retries":     3,
			},
		},
		"rootfs":  map[string]any{"type": "layers", "diff_ids": []string{diffID}},
		"history": []map[string]any{{"created": created, "created_by": "ward " + s.Version + " release build"}},
	}
	if v := platformOf(a.Name).Variant; v != "" {
		cfg["variant"] = v
	}
	return json.Marshal(cfg)
}

// writeTar writes files sorted by name with numeric owners and one time.
func writeTar(w io.Writer, files []file, at time.Time) error {
	sort.Slice(files, func(i, j int) bool { return files[i].name < files[j].name })
	tw := tar.NewWriter(w)
	for _, f := range files {
		h := &tar.Header{Name: f.name, Mode: f.mode, Uid: f.uid, Gid: f.uid, ModTime: at, Format: tar.FormatUSTAR,
			Typeflag: tar.TypeReg, Size: int64(len(f.body))}
		if f.dir {
			h.Typeflag, h.Size = tar.TypeDir, 0
		}
		if err := tw.WriteHeader(h); err != nil {
			return err
		}
		if _, err := tw.Write(f.body); err != nil {
			return err
		}
	}
	return tw.Close()
}

// gzipped compresses b with no name or time in the header.
func gzipped(b []byte) ([]byte, error) {
	var buf bytes.Buffer
	zw, err := gzip.NewWriterLevel(&buf, gzip.DefaultCompression)
	if err != nil {
		return nil, err
	}
	if _, err := zw.Write(b); err != nil {
		return nil, err
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}
