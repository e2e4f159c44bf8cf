#!/usr/bin/env bash
# Installs Debian's PostgreSQL server binaries when none are present. The tests marked `postgres`
# (tests/pg.py) start their own throwaway cluster with them (initdb into a temporary directory, trust
# auth, 127.0.0.1 on a free port); no PostgreSQL service is started or configured here.
set -euo pipefail
if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq postgresql >/dev/null
fi
ls /usr/lib/postgresql/*/bin/initdb
