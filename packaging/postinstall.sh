#!/bin/sh
# Tells systemd about the unit; does not start it: configure
# /etc/ward/ward.env first, then systemctl enable --now ward. On upgrade a
# running service is restarted, and its ExecStartPre migrates the schema.
set -e
if command -v systemctl >/dev/null 2>&1 && [ -d /run/systemd/system ]; then
  systemctl daemon-reload
  if systemctl is-active --quiet ward; then
    systemctl restart ward
  fi
fi
