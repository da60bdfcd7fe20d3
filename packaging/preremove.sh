#!/bin/sh
# Stops and disables the service when the package is removed (deb: remove,
# rpm: 0 packages left), not when it is upgraded; the data in /var/lib/ward
# stays.
set -e
case "$1" in
  remove|0)
    if command -v systemctl >/dev/null 2>&1 && [ -d /run/systemd/system ]; then
      systemctl disable --now ward >/dev/null 2>&1 || true
    fi
    ;;
esac
