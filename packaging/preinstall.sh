#!/bin/sh
# Creates the ward system user and group that the service runs as.
set -e
if ! getent group ward >/dev/null; then
  groupadd --system ward
fi
if ! getent passwd ward >/dev/null; then
  useradd --system --gid ward --home-dir /var/lib/ward --no-create-home --shell /usr/sbin/nologin ward
fi
