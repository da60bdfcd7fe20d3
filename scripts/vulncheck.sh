#!/usr/bin/env bash
# Checks Ward, and the Go toolchain that builds it, for known vulnerabilities
# with govulncheck (docs/RELEASING.md, SECURITY.md).
#
#   scripts/vulncheck.sh            offline: the Go vulnerability database as
#                                   of the golang.org/x/vulndb version pinned
#                                   below, fetched from the Go module proxy
#   scripts/vulncheck.sh --online   the live database at vuln.go.dev
#
# Exit 0 when no vulnerable code is reachable from Ward, 3 when some is
# (govulncheck's own codes), anything else on an error. It runs with the
# toolchain named in go.mod, since the standard library is checked too.
set -euo pipefail
cd "$(dirname "$0")/.."

GOVULNCHECK_VERSION=v1.9.0
# The database snapshot: refresh it at every release (docs/RELEASING.md).
VULNDB_VERSION=v0.0.0-20261105234957-e22db6528018

online=0
if [ "${1:-}" = "--online" ]; then
  online=1
elif [ $# -gt 0 ]; then
  echo "usage: scripts/vulncheck.sh [--online]" >&2
  exit 2
fi

export GOTOOLCHAIN
GOTOOLCHAIN=$(go mod edit -json | sed -n 's/^\t"Toolchain": "\(.*\)",*$/\1/p')
[ -n "$GOTOOLCHAIN" ] || { echo "vulncheck.sh: go.mod names no toolchain" >&2; exit 2; }

args=()
if [ "$online" = 0 ]; then
  # The database is built once per pinned version from the OSV files in
  # the x/vulndb module, with that module's own indexer.
  dir="$(go env GOCACHE)/ward-vulndb-$VULNDB_VERSION"
  if [ ! -f "$dir/index/db.json" ]; then
    src=$(GOFLAGS=-mod=mod go mod download -json "golang.org/x/vulndb@$VULNDB_VERSION" | sed -n 's/^\t"Dir": "\(.*\)",*$/\1/p')
    rm -rf "$dir.tmp"
    GOFLAGS=-mod=mod go run "golang.org/x/vulndb/cmd/indexdb@$VULNDB_VERSION" -vulns "$src/data/osv" -out "$dir.tmp"
    rm -rf "$dir"
    mv "$dir.tmp" "$dir"
  fi
  args=(-db "file://$dir")
  echo "govulncheck $GOVULNCHECK_VERSION with $GOTOOLCHAIN, database golang.org/x/vulndb@$VULNDB_VERSION"
else
  echo "govulncheck $GOVULNCHECK_VERSION with $GOTOOLCHAIN, database vuln.go.dev"
fi
go run "golang.org/x/vuln/cmd/govulncheck@$GOVULNCHECK_VERSION" "${args[@]}" ./...
