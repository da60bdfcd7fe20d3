#!/usr/bin/env bash
# Builds Ward's release artifacts from a commit, reproducibly, into dist/
# (docs/RELEASING.md):
#
#   ward_VERSION_linux_ARCH.tar.gz   the static binary with LICENSE, NOTICE,
#                                    THIRD_PARTY_LICENSES, README.md, CHANGELOG.md
#   ward_VERSION_linux_ARCH.cdx.json its CycloneDX SBOM (the same binary is in
#                                    the packages and the container image)
#   ward_VERSION_ARCH.deb, ward-VERSION.ARCH.rpm   packages with a systemd unit (nfpm)
#   ward_VERSION_linux.oci.tar       the container image of every ARCH built, an
#                                    OCI image layout in one tar (docker load,
#                                    podman load, skopeo), made without a daemon
#   SHA256SUMS                       the SHA-256 of every file above
#   SHA256SUMS.sig                   with -k KEY: an SSH signature of SHA256SUMS
#                                    (ssh-keygen -Y sign, namespace ward-release),
#                                    and so of every file through its sum;
#                                    scripts/verify-release.sh checks both
#
# for ARCH in amd64 and arm64. It builds from a clean clone of the commit (the
# work tree's uncommitted changes never reach an artifact, and Go stamps the
# commit and its time into the binary), with CGO_ENABLED=0, -trimpath, no
# build id and file times set to the commit's time, so that the same commit
# and Go toolchain (go.mod's) give the same bytes anywhere.
#
#   scripts/release.sh [-o DIR] [-a ARCHES] [-k KEY] [--no-packages] [--no-sbom] [--no-image] VERSION [COMMIT]
#
# KEY is the release's Ed25519 SSH private key, or its public key when the
# private one is in ssh-agent (a hardware key, say); the script checks the
# signature it made against that key before it finishes. CI runs it for
# linux/amd64 and linux/arm64 on every run, packages, SBOM, image and a
# signature with a throw-away key included, to prove that the release still
# builds and verifies (it publishes nothing).
set -euo pipefail

out=dist
arches="amd64 arm64"
packages=1
sbom=1
image=1
key=
while [ $# -gt 0 ]; do
  case "$1" in
    -o) out=$2; shift 2 ;;
    -a) arches=$2; shift 2 ;;
    -k) key=$2; shift 2 ;;
    --no-packages) packages=0; shift ;;
    --no-sbom) sbom=0; shift ;;
    --no-image) image=0; shift ;;
    -h|--help) sed -n '2,32p' "$0"; exit 0 ;;
    -*) echo "release.sh: unknown option $1" >&2; exit 2 ;;
    *) break ;;
  esac
done
[ $# -ge 1 ] && [ $# -le 2 ] || { echo "usage: scripts/release.sh [-o DIR] [-a ARCHES] [-k KEY] [--no-packages] [--no-sbom] [--no-image] VERSION [COMMIT]" >&2; exit 2; }
version=$1
case "$version" in
  v[0-9]*.[0-9]*.[0-9]*) ;;
  *) echo "release.sh: VERSION must be a semantic version such as v1.2.3, not $version" >&2; exit 2 ;;
esac

if [ -n "$key" ]; then
  [ -r "$key" ] || { echo "release.sh: cannot read the signing key $key" >&2; exit 2; }
  key=$(cd "$(dirname "$key")" && pwd)/$(basename "$key")
  # The public half: from a .pub beside the private key, from the key itself
  # when it is the public one (ssh-agent holds the private), or derived.
  if [ -r "$key.pub" ]; then
    pubkey=$(cat "$key.pub")
  elif grep -q '^ssh-' "$key"; then
    pubkey=$(cat "$key")
  else
    pubkey=$(ssh-keygen -y -f "$key")
  fi
  case "$pubkey" in
    ssh-ed25519\ * | sk-ssh-ed25519@openssh.com\ *) ;;
    *) echo "release.sh: the signing key must be an Ed25519 SSH key (ssh-keygen -t ed25519, or ed25519-sk)" >&2; exit 2 ;;
  esac
fi

root=$(git rev-parse --show-toplevel)
commit=$(git -C "$root" rev-parse --verify "${2:-HEAD}^{commit}")
mkdir -p "$out"
out=$(cd "$out" && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# A clean clone: a .git directory (not a worktree's .git file), so that Go
# stamps vcs.revision and vcs.time.
git clone --quiet --no-checkout "$root" "$work/src"
git -C "$work/src" checkout --quiet --detach "$commit"
cd "$work/src"
export SOURCE_DATE_EPOCH
SOURCE_DATE_EPOCH=$(git log -1 --format=%ct)
# The toolchain go.mod names, fetched from the module proxy if need be: the
# same commit then builds the same bytes anywhere.
want_go=$(go mod edit -json | sed -n 's/^\t"Toolchain": "\(.*\)",*$/\1/p')
[ -n "$want_go" ] || { echo "release.sh: go.mod names no toolchain" >&2; exit 1; }
export CGO_ENABLED=0 GOFLAGS="-mod=readonly -trimpath -buildvcs=true" GOTOOLCHAIN=$want_go
have_go=$(go env GOVERSION)
if [ "$have_go" != "$want_go" ]; then
  echo "release.sh: building with $have_go, but go.mod names $want_go" >&2
  exit 1
fi
ldflags="-s -w -buildid= -X main.version=$version"
v=${version#v}

go run ./internal/tools/licensecheck -bundle "$work/THIRD_PARTY_LICENSES" ./cmd/ward >/dev/null
if [ "$sbom" = 1 ]; then
  GOBIN="$work/bin" go install github.com/CycloneDX/cyclonedx-gomod/cmd/cyclonedx-gomod@v1.10.0
fi

# tar with fixed names, order, owners and times, gzip without a timestamp.
reproducible_tgz() { # DIR NAME OUT
  tar --sort=name --mtime="@$SOURCE_DATE_EPOCH" --owner=0 --group=0 --numeric-owner \
      -C "$1" -cf - "$2" | gzip -9 -n >"$3"
}

for arch in $arches; do
  name="ward_${v}_linux_${arch}"
  mkdir -p "$work/$name"
  GOOS=linux GOARCH=$arch go build -ldflags "$ldflags" -o "$work/$name/ward" ./cmd/ward
  cp LICENSE NOTICE README.md CHANGELOG.md "$work/THIRD_PARTY_LICENSES" "$work/$name/"
  touch -d "@$SOURCE_DATE_EPOCH" "$work/$name"/*
  if [ "$arch" = "$(go env GOHOSTARCH)" ]; then
    # The binary says what it is.
    "$work/$name/ward" version | tee "$work/version.txt"
    grep -qx "ward $version" "$work/version.txt"
    grep -q "^commit: $commit\$" "$work/version.txt"
  fi
  reproducible_tgz "$work" "$name" "$out/$name.tar.gz"
  if [ "$sbom" = 1 ]; then
    GOOS=linux GOARCH=$arch "$work/bin/cyclonedx-gomod" app \
      -json -licenses -noserial -notimestamp -main cmd/ward -output "$out/$name.cdx.json" .
  fi
  if [ "$packages" = 1 ]; then
    if ! command -v nfpm >/dev/null 2>&1; then
      echo "release.sh: nfpm is not installed (go install github.com/goreleaser/nfpm/v2/cmd/nfpm@v2.48.0), or give --no-packages" >&2
      exit 1
    fi
    mkdir -p build
    cp "$work/$name/ward" "$work/THIRD_PARTY_LICENSES" build/
    for packager in deb rpm; do
      WARD_VERSION=$v WARD_ARCH=$arch nfpm package --config packaging/nfpm.yaml --packager "$packager" --target "$out/" >/dev/null
    done
  fi
done

if [ "$image" = 1 ]; then
  # The CA bundle and its licence come from the build machine's Debian
  # ca-certificates package.
  releases=()
  for arch in $arches; do releases+=("$arch=$work/ward_${v}_linux_${arch}"); done
  go run ./internal/tools/ociimage -version "$version" -out "$out/ward_${v}_linux.oci.tar" "${releases[@]}"
fi

cd "$out"
rm -f SHA256SUMS SHA256SUMS.sig
sha256sum -- * >"$work/SHA256SUMS"
mv "$work/SHA256SUMS" SHA256SUMS
cat SHA256SUMS

if [ -n "$key" ]; then
  # An SSH signature (the SSHSIG format git uses for signed commits) in the
  # namespace ward-release, so that no signature made for another purpose
  # with the same key verifies as a release's.
  ssh-keygen -q -Y sign -f "$key" -n ward-release SHA256SUMS
  printf 'release@wardhq namespaces="ward-release" %s\n' "$pubkey" >"$work/allowed_signers"
  "$root/scripts/verify-release.sh" -s "$work/allowed_signers" "$out"
fi
