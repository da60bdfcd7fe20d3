package main

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// release makes an unpacked release archive whose "ward" is this test's
// own binary (a Go binary with build information).
func release(t *testing.T) (dir string, bin []byte) {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	if bin, err = os.ReadFile(exe); err != nil {
		t.Fatal(err)
	}
	dir = t.TempDir()
	files := map[string][]byte{"ward": bin, "LICENSE": []byte("Apache"), "NOTICE": []byte("Ward"), "THIRD_PARTY_LICENSES": []byte("MIT")}
	for name, b := range files {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return dir, bin
}

func build(t *testing.T, s Spec) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := Write(&buf, s); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// untar reads a tar's regular files and every entry's header.
func untar(t *testing.T, b []byte) (map[string][]byte, map[string]*tar.Header) {
	t.Helper()
	files, headers := map[string][]byte{}, map[string]*tar.Header{}
	tr := tar.NewReader(bytes.NewReader(b))
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return files, headers
		}
		if err != nil {
			t.Fatal(err)
		}
		headers[h.Name] = h
		if h.Typeflag == tar.TypeReg {
			body, err := io.ReadAll(tr)
			if err != nil {
				t.Fatal(err)
			}
			files[h.Name] = body
		}
	}
}

// blob reads a descriptor's blob and checks its digest and size.
func blob(t *testing.T, layout map[string][]byte, d descriptor) []byte {
	t.Helper()
	b, ok := layout[blobPath(d.Digest)]
	if !ok {
		t.Fatalf("blob %s is missing", d.Digest)
	}
	sum := sha256.Sum256(b)
	if "sha256:"+hex.EncodeToString(sum[:]) != d.Digest || len(b) != d.Size {
		t.Fatalf("blob %s: digest or size does not match its content", d.Digest)
	}
	return b
}

func TestImageLayout(t *testing.T) {
	dir, bin := release(t)
	s := Spec{Version: "v1.2.3", Epoch: time.Unix(1767225600, 0).UTC(), CACerts: []byte("CERTS"), CACertsCopyright: []byte("MPL"),
		Arches: []Arch{{Name: "amd64", Dir: dir}, {Name: "arm64", Dir: dir}}}
	image := build(t, s)
	if again := build(t, s); !bytes.Equal(image, again) {
		t.Fatal("the same inputs gave different bytes")
	}
	layout, headers := untar(t, image)
	for name, h := range headers {
		if !h.ModTime.Equal(s.Epoch) || h.Uid != 0 {
			t.Errorf("%s: time %s, owner %d; want the epoch and root", name, h.ModTime, h.Uid)
		}
	}
	if string(layout["oci-layout"]) != `{"imageLayoutVersion":"1.0.0"}` {
		t.Fatalf("oci-layout: %s", layout["oci-layout"])
	}
	var index struct {
		MediaType string
		Manifests []descriptor
	}
	if err := json.Unmarshal(layout["index.json"], &index); err != nil {
		t.Fatal(err)
	}
	if index.MediaType != mediaIndex || len(index.Manifests) != 2 {
		t.Fatalf("index: %s", layout["index.json"])
	}
	var docker []struct {
		Config   string
		RepoTags []string
		Layers   []string
	}
	if err := json.Unmarshal(layout["manifest.json"], &docker); err != nil || len(docker) != 2 {
		t.Fatalf("docker manifest: %v %s", err, layout["manifest.json"])
	}
	for i, m := range index.Manifests {
		arch := s.Arches[i].Name
		if m.Platform == nil || m.Platform.Architecture != arch || m.Platform.OS != "linux" ||
			m.Annotations["org.opencontainers.image.ref.name"] != "docker.io/wardhq/ward:1.2.3-"+arch {
			t.Fatalf("manifest %d: %+v", i, m)
		}
		var man struct {
			Config descriptor
			Layers []descriptor
		}
		if err := json.Unmarshal(blob(t, layout, m), &man); err != nil {
			t.Fatal(err)
		}
		if len(man.Layers) != 1 || man.Layers[0].MediaType != mediaLayer || man.Config.MediaType != mediaConfig {
			t.Fatalf("manifest %d: %+v", i, man)
		}
		if docker[i].Config != blobPath(man.Config.Digest) || docker[i].Layers[0] != blobPath(man.Layers[0].Digest) ||
			docker[i].RepoTags[0] != "docker.io/wardhq/ward:1.2.3-"+arch {
			t.Fatalf("docker load's manifest %d does not name the same blobs: %+v", i, docker[i])
		}
		var cfg struct {
			Architecture string
			Config       struct {
				User        string
				Entrypoint  []string
				Cmd         []string
				Env         []string
				Healthcheck struct{ Test []string }
				Labels      map[string]string
			}
			RootFS struct {
				DiffIDs []string `json:"diff_ids"`
			}
		}
		if err := json.Unmarshal(blob(t, layout, man.Config), &cfg); err != nil {
			t.Fatal(err)
		}
		c := cfg.Config
		if cfg.Architecture != arch || c.User != "65532:65532" || strings.Join(c.Entrypoint, " ") != "/usr/bin/ward" ||
			strings.Join(c.Cmd, " ") != "serve" || strings.Join(c.Healthcheck.Test, " ") != "CMD /usr/bin/ward healthcheck" ||
			!strings.Contains(strings.Join(c.Env, " "), "WARD_DATA=/var/lib/ward") || c.Labels["org.opencontainers.image.version"] != "1.2.3" {
			t.Fatalf("config %d: %+v", i, cfg)
		}
		zr, err := gzip.NewReader(bytes.NewReader(blob(t, layout, man.Layers[0])))
		if err != nil {
			t.Fatal(err)
		}
		layer, err := io.ReadAll(zr)
		if err != nil {
			t.Fatal(err)
		}
		sum := sha256.Sum256(layer)
		if len(cfg.RootFS.DiffIDs) != 1 || cfg.RootFS.DiffIDs[0] != "sha256:"+hex.EncodeToString(sum[:]) {
			t.Fatalf("config %d: diff_ids %v do not match the layer", i, cfg.RootFS.DiffIDs)
		}
		fs, fh := untar(t, layer)
		if !bytes.Equal(fs["usr/bin/ward"], bin) || fh["usr/bin/ward"].Mode != 0o755 {
			t.Errorf("layer %d: the binary is not the release's, or not executable", i)
		}
		if h := fh["var/lib/ward/"]; h == nil || h.Uid != uid || h.Typeflag != tar.TypeDir {
			t.Errorf("layer %d: the data folder is not a directory owned by the server's user: %+v", i, h)
		}
		if h := fh["tmp/"]; h == nil || h.Mode != 0o1777 {
			t.Errorf("layer %d: /tmp is not world-writable and sticky: %+v", i, h)
		}
		if !strings.Contains(string(fs["etc/passwd"]), "nonroot:x:65532:65532:") || string(fs["etc/ssl/certs/ca-certificates.crt"]) != "CERTS" ||
			string(fs["usr/share/doc/ward/NOTICE"]) != "Ward" || string(fs["usr/share/doc/ca-certificates/copyright"]) != "MPL" {
			t.Errorf("layer %d lacks the user, the CA bundle or the licence files", i)
		}
	}
}

func TestImageNeedsEveryReleaseFile(t *testing.T) {
	dir, _ := release(t)
	if err := os.Remove(filepath.Join(dir, "NOTICE")); err != nil {
		t.Fatal(err)
	}
	err := Write(io.Discard, Spec{Version: "v1.0.0", Arches: []Arch{{Name: "arm64", Dir: dir}}})
	if err == nil || !strings.Contains(err.Error(), "arm64 release") || !strings.Contains(err.Error(), "NOTICE") {
		t.Fatalf("got %v, want an error naming the arm64 release and NOTICE", err)
	}
}

func TestRunRefusesBadArguments(t *testing.T) {
	var stderr bytes.Buffer
	if code := run([]string{"-version", "v1.0.0", "-out", filepath.Join(t.TempDir(), "x.tar"), "amd64"}, "", &stderr); code != 1 ||
		!strings.Contains(stderr.String(), `"amd64" is not ARCH=DIR`) {
		t.Fatalf("%d %s", code, stderr.String())
	}
	stderr.Reset()
	if code := run([]string{"-version", "v1.0.0", "-out", filepath.Join(t.TempDir(), "x.tar"), "amd64=x"}, "yesterday", &stderr); code != 1 ||
		!strings.Contains(stderr.String(), "SOURCE_DATE_EPOCH") {
		t.Fatalf("%d %s", code, stderr.String())
	}
}
