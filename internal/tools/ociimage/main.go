// Command ociimage writes Ward's container image as an OCI image layout in
// one tar file, from release binaries, without a container daemon or a
// registry. The image has no base: one layer holds the static binary, the
// licence files, a CA certificate bundle, /etc/passwd and /etc/group naming
// the non-root user 65532, the data folder /var/lib/ward owned by that user
// and a /tmp. The configuration runs `ward serve` as that user, with
// `ward healthcheck` as the health check.
//
// Every file time is the given epoch (SOURCE_DATE_EPOCH), entries are
// sorted and owners numeric, and gzip carries no time stamp, so the same
// inputs give the same bytes.
//
//	go run ./internal/tools/ociimage -version v1.2.3 -out ward_1.2.3_linux.oci.tar \
//	    [-cacerts /etc/ssl/certs/ca-certificates.crt] [-cacerts-copyright FILE] \
//	    amd64=DIR [arm64=DIR]
//
// where each DIR holds ward, LICENSE, NOTICE and THIRD_PARTY_LICENSES (an
// unpacked release archive). The file loads with `docker load`, `podman
// load` or `skopeo copy oci-archive:FILE:VERSION-ARCH ...`.
package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"
)

func main() {
	os.Exit(run(os.Args[1:], os.Getenv("SOURCE_DATE_EPOCH"), os.Stderr))
}

func run(args []string, epochEnv string, stderr io.Writer) int {
	fs := flag.NewFlagSet("ociimage", flag.ContinueOnError)
	fs.SetOutput(stderr)
	version := fs.String("version", "", "the release's semantic version, such as v1.2.3")
	out := fs.String("out", "", "the OCI image layout tar file to write")
	cacerts := fs.String("cacerts", "/etc/ssl/certs/ca-certificates.crt", "the CA certificate bundle the image carries")
	cacertsCopyright := fs.String("cacerts-copyright", "/usr/share/doc/ca-certificates/copyright", "the bundle's copyright and licence file")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	fail := func(err error) int {
		fmt.Fprintln(stderr, "ociimage:", err)
		return 1
	}
	if *version == "" || *out == "" || fs.NArg() == 0 {
		fmt.Fprintln(stderr, "usage: ociimage -version VERSION -out FILE ARCH=DIR...")
		return 2
	}
	epoch := time.Unix(0, 0).UTC()
	if epochEnv != "" {
		sec, err := strconv.ParseInt(epochEnv, 10, 64)
		if err != nil {
			return fail(fmt.Errorf("SOURCE_DATE_EPOCH %q is not a number of seconds", epochEnv))
		}
		epoch = time.Unix(sec, 0).UTC()
	}
	spec := Spec{Version: *version, Epoch: epoch}
	var err error
	if spec.CACerts, err = os.ReadFile(*cacerts); err != nil {
		return fail(err)
	}
	if spec.CACertsCopyright, err = os.ReadFile(*cacertsCopyright); err != nil {
		return fail(err)
	}
	for _, a := range fs.Args() {
		arch, dir, ok := strings.Cut(a, "=")
		if !ok || arch == "" || dir == "" {
			return fail(fmt.Errorf("%q is not ARCH=DIR", a))
		}
		spec.Arches = append(spec.Arches, Arch{Name: arch, Dir: dir})
	}
	f, err := os.Create(*out)
	if err != nil {
		return fail(err)
	}
	if err := Write(f, spec); err != nil {
		f.Close()
		os.Remove(*out)
		return fail(err)
	}
	if err := f.Close(); err != nil {
		return fail(err)
	}
	return 0
}
