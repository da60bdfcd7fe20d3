#!/usr/bin/env bash
# Verifies a Ward release as a reviewer would (docs/RELEASING.md): the SSH
# signature of SHA256SUMS against the release key, then the SHA-256 of every
# file SHA256SUMS names.
#
#   scripts/verify-release.sh [-s ALLOWED_SIGNERS] [DIR]
#
# DIR holds SHA256SUMS, SHA256SUMS.sig and the artifacts (default: the
# current directory). ALLOWED_SIGNERS names the keys trusted to sign
# releases (default: packaging/release-signing/allowed_signers of this
# repository). It needs only ssh-keygen (OpenSSH 8.1 or later) and sha256sum,
# and exits 1 naming what failed.
set -euo pipefail

signers="$(cd "$(dirname "$0")/.." && pwd)/packaging/release-signing/allowed_signers"
while [ $# -gt 0 ]; do
  case "$1" in
    -s) signers=$2; shift 2 ;;
    -h|--help) sed -n '2,12p' "$0"; exit 0 ;;
    -*) echo "verify-release.sh: unknown option $1" >&2; exit 2 ;;
    *) break ;;
  esac
done
[ $# -le 1 ] || { echo "usage: scripts/verify-release.sh [-s ALLOWED_SIGNERS] [DIR]" >&2; exit 2; }
dir=${1:-.}
signers=$(cd "$(dirname "$signers")" && pwd)/$(basename "$signers")

if ! grep -q '^[^#[:space:]]' "$signers"; then
  echo "verify-release.sh: $signers names no key: the maintainer has not published the release key yet" >&2
  exit 1
fi
cd "$dir"
for f in SHA256SUMS SHA256SUMS.sig; do
  [ -f "$f" ] || { echo "verify-release.sh: $f is missing from $dir" >&2; exit 1; }
done
if ! ssh-keygen -Y verify -f "$signers" -I release@wardhq -n ward-release -s SHA256SUMS.sig <SHA256SUMS; then
  echo "verify-release.sh: SHA256SUMS does not carry a valid signature by a key in $signers: do not use this release" >&2
  exit 1
fi
if ! sha256sum --strict -c SHA256SUMS; then
  echo "verify-release.sh: a file does not match its signed SHA-256: do not use this release" >&2
  exit 1
fi
echo "verify-release.sh: the release in $dir is signed by the release key and every file matches"
