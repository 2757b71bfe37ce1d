#!/usr/bin/env bash
# The tuning tests run two workers against a real PostgreSQL server, which the tests start themselves
# (tests/pg.py: a throw-away cluster on 127.0.0.1). Here we only make sure Debian's server binaries are
# installed. Quick when they already are.
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 && exit 0
command -v initdb >/dev/null 2>&1 && exit 0
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "installing postgresql for the tuning tests (once)..."
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null) \
    || { echo "error: could not install postgresql (apt-get install postgresql)"; exit 1; }
else
  echo "error: PostgreSQL's server is not installed and we are not root: install it (Debian: apt-get install postgresql)"
  exit 1
fi
