#!/usr/bin/env bash
# The README's run command: installs what is missing, builds, starts a throwaway PostgreSQL and
# Redis on free loopback ports, and runs veza-health against them with config/local.json in the
# foreground. Ctrl-C stops everything and deletes the throwaway data.
#   VH_PORT=8099 scripts/run-local.sh    pick the sidecar's port (default 8099)
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
scripts/install-deps.sh
[ -f build/build.ninja ] || meson setup build >/dev/null
ninja -C build veza-health >/dev/null

free_port() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}
pg_bin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)
work=$(mktemp -d /tmp/veza-health-local.XXXXXX)
chmod 755 "$work"
pg_port=$(free_port)
redis_port=$(free_port)
vh_port=${VH_PORT:-8099}

# PostgreSQL refuses to run as root, so as root it runs as the `postgres` user.
as_pg=()
if [ "$(id -u)" -eq 0 ]; then
	as_pg=(runuser -u postgres --)
	chown postgres "$work"
fi

cleanup() {
	trap - EXIT INT TERM
	[ -n "${vh_pid:-}" ] && kill "$vh_pid" 2>/dev/null && wait "$vh_pid" 2>/dev/null
	[ -n "${redis_pid:-}" ] && kill "$redis_pid" 2>/dev/null && wait "$redis_pid" 2>/dev/null
	"${as_pg[@]}" "$pg_bin/pg_ctl" -D "$work/pg" -m fast stop >/dev/null 2>&1 || true
	rm -rf "$work"
	echo "stopped; removed $work"
}
trap cleanup EXIT INT TERM

echo "starting PostgreSQL on 127.0.0.1:$pg_port and Redis on 127.0.0.1:$redis_port (data in $work)"
"${as_pg[@]}" "$pg_bin/initdb" -D "$work/pg" -U postgres -A trust >"$work/initdb.log" 2>&1 ||
	{ cat "$work/initdb.log"; exit 1; }
"${as_pg[@]}" "$pg_bin/pg_ctl" -D "$work/pg" -l "$work/pg.log" -w \
	-o "-c listen_addresses=127.0.0.1 -c port=$pg_port -c unix_socket_directories=$work" \
	start >/dev/null
redis-server --port "$redis_port" --bind 127.0.0.1 --save '' --appendonly no \
	--dir "$work" --logfile "$work/redis.log" &
redis_pid=$!

export PGHOST=127.0.0.1 PGPORT=$pg_port PGUSER=postgres PGDATABASE=postgres
export REDIS_URL=redis://127.0.0.1:$redis_port/0
cat <<EOT

veza-health is starting on 127.0.0.1:$vh_port with config/local.json. Try, in another terminal:
  curl -s localhost:$vh_port/ready?verbose
  curl -s localhost:$vh_port/live
  curl -s localhost:$vh_port/health | python3 -m json.tool
  curl -s -H 'Accept: application/health+json' localhost:$vh_port/health
  build/veza-health probe http://127.0.0.1:$vh_port/ready && echo ready
Ctrl-C stops everything.

EOT
GNUTLS_NO_IMPLICIT_INIT=1 "$root/build/veza-health" serve -c "$root/config/local.json" --listen "127.0.0.1:$vh_port" &
vh_pid=$!
wait "$vh_pid"
