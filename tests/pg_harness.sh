#!/usr/bin/env bash
# pg_harness.sh PROGRAM [ARGS...]: run PROGRAM against a throwaway PostgreSQL server.
#
# Starts a fresh server (initdb + postgres in the foreground) in a new directory under /tmp,
# listening on a Unix socket in that directory only (no TCP port), trust authentication,
# superuser "hpsweep"; exports HPS_TEST_STORE_URL (a postgresql:// URL naming that socket) and
# HPS_TEST_PG_DIR (the directory: bin, data, socket), runs PROGRAM, then stops the server and
# removes the directory, whatever PROGRAM's outcome (EXIT trap; the server runs under
# --pdeathsig, so even a killed harness leaves no server behind). PROGRAM's exit status is
# the harness's. No test touches a server it did not start.
#
# PostgreSQL refuses to run as root: as root the server runs as the user "postgres" (the
# Debian package creates it) or HPS_PG_USER; otherwise as the current user.
# Without the server binaries: exit 77 (Meson's "skipped"), except when CI is set (then 1).
set -uo pipefail

if [ "${HPS_PG_BUILT:-1}" = 0 ]; then
  if [ -n "${CI:-}" ]; then
    echo "pg_harness: hpsweep was built without libpq (install libpq-dev, .ci/deps)" >&2
    exit 1
  fi
  echo "pg_harness: hpsweep was built without libpq: skipped" >&2
  exit 77
fi

bindir=""
if command -v pg_config >/dev/null 2>&1 && [ -x "$(pg_config --bindir)/initdb" ]; then
  bindir=$(pg_config --bindir)
else
  for d in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V -r); do
    if [ -x "$d/initdb" ] && [ -x "$d/postgres" ]; then bindir=$d; break; fi
  done
fi
if [ -z "$bindir" ] || [ ! -x "$bindir/postgres" ]; then
  if [ -n "${CI:-}" ]; then
    echo "pg_harness: no PostgreSQL server binaries (initdb, postgres): install postgresql-15 (.ci/deps)" >&2
    exit 1
  fi
  echo "pg_harness: no PostgreSQL server binaries (initdb, postgres): skipped" >&2
  exit 77
fi

# Run a command as the server's user.
as_server=()
if [ "$(id -u)" = 0 ]; then
  pguser=${HPS_PG_USER:-postgres}
  if ! id "$pguser" >/dev/null 2>&1; then
    echo "pg_harness: running as root and there is no user '$pguser' to run PostgreSQL as (set HPS_PG_USER)" >&2
    exit 1
  fi
  as_server=(setpriv --reuid="$pguser" --regid="$(id -g "$pguser")" --clear-groups --)
fi

# Short: the socket path (DIR/.s.PGSQL.5432) must stay under 107 bytes.
dir=$(mktemp -d /tmp/hpspg.XXXXXX) || exit 1
server_pid=""
cleanup() {
  # A server restarted by HPS_TEST_PG_RESTART runs detached (pg_ctl): stop it by its data directory.
  if [ -f "$dir/data/postmaster.pid" ] && ! kill -0 "$server_pid" 2>/dev/null; then
    "${as_server[@]}" "$bindir/pg_ctl" -D "$dir/data" stop -m immediate >/dev/null 2>&1
  fi
  if [ -n "$server_pid" ] && kill -0 "$server_pid" 2>/dev/null; then
    kill -INT "$server_pid" 2>/dev/null # fast shutdown; SIGKILL if it takes over 10 s
    (sleep 10; kill -KILL "$server_pid" 2>/dev/null) &
    local killer=$!
    wait "$server_pid" 2>/dev/null
    kill "$killer" 2>/dev/null
    wait "$killer" 2>/dev/null
  fi
  rm -rf "$dir"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

chmod 755 "$dir"
[ ${#as_server[@]} -gt 0 ] && chown "$pguser" "$dir"
"${as_server[@]}" "$bindir/initdb" -D "$dir/data" -U hpsweep -A trust -E UTF8 --no-locale \
  >"$dir/initdb.log" 2>&1 || { echo "pg_harness: initdb failed:" >&2; cat "$dir/initdb.log" >&2; exit 1; }
# Small and quick: no TCP, the socket in our directory, no fsync (a test server; crash safety of
# the server itself is not under test; HPS_PG_FSYNC=on for benchmarks), enough connections for
# several runners and workers.
"${as_server[@]}" setpriv --pdeathsig KILL -- "$bindir/postgres" -D "$dir/data" -k "$dir" -c listen_addresses= \
  -c fsync="${HPS_PG_FSYNC:-off}" -c synchronous_commit="${HPS_PG_FSYNC:-off}" \
  -c full_page_writes="${HPS_PG_FSYNC:-off}" -c max_connections=100 \
  >"$dir/server.log" 2>&1 &
server_pid=$!
ready=0
for _ in $(seq 1 300); do
  if "$bindir/pg_isready" -q -h "$dir" -U hpsweep -d postgres; then ready=1; break; fi
  kill -0 "$server_pid" 2>/dev/null || break
  sleep 0.1
done
if [ "$ready" != 1 ]; then
  echo "pg_harness: the server did not start:" >&2
  cat "$dir/server.log" >&2
  exit 1
fi

# A test may restart the server (fast shutdown: every session is cut, then a new server on the same
# data and socket): HPS_TEST_PG_RESTART is a script doing that; the new server runs detached.
{
  echo '#!/bin/sh'
  printf 'exec'
  printf ' %q' "${as_server[@]}" "$bindir/pg_ctl" -D "$dir/data" -w -t 60 -m fast -l "$dir/restart.log" restart
  echo
} >"$dir/restart.sh"
chmod 755 "$dir/restart.sh"

export HPS_TEST_STORE_URL="postgresql://hpsweep@/postgres?host=$dir"
export HPS_TEST_PG_DIR="$dir"
export HPS_TEST_PG_RESTART="$dir/restart.sh"
"$@"
status=$?
if [ "$status" != 0 ] && [ -s "$dir/server.log" ]; then
  echo "pg_harness: the server's log (last 30 lines):" >&2
  tail -n 30 "$dir/server.log" >&2
fi
exit "$status"
