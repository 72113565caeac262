#!/usr/bin/env bash
# Checks deploy/ (Kubernetes, compose, Dockerfile, systemd) without a cluster or a Docker engine.
# One line per check ("ok   ..." or "FAIL ..."), then "N passed, N failed"; exits 1 on any failure.
# Needs yamllint, kubectl (kustomize), node + npm, python3-yaml, systemd-analyze, objdump, dpkg.
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
root="${VH_SOURCE_ROOT:-$(cd "$here/../.." && pwd)}"
bin="${VH_BIN:-$root/build/veza-health}"
# Debian's python3 has python3-yaml (a dependency of yamllint) whatever python3 is on PATH.
py=/usr/bin/python3
[ -x "$py" ] || py=python3

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
log="$tmp/log"
: >"$log"

ok() { echo "ok   $*" | tee -a "$log"; }
fail() { echo "FAIL $*" | tee -a "$log"; }
# Runs a checker that prints its own ok/FAIL lines; a crash without one still counts as a failure.
run_checker() {
	local what="$1"
	shift
	if ! "$@" 2>"$tmp/err" | tee -a "$log"; then
		grep -q '^FAIL' "$log" || fail "$what: $(tail -n 3 "$tmp/err" | tr '\n' ' ')"
		[ -s "$tmp/err" ] && sed 's/^/    /' "$tmp/err" >&2
		return 0
	fi
}

if [ ! -x "$bin" ]; then
	fail "the daemon binary $bin exists (set VH_BIN)"
	echo "0 passed, 1 failed"
	exit 1
fi

# npm ci only when node_modules does not hold exactly what the lock file pins (npm keeps a
# copy of what it installed in node_modules/.package-lock.json), so an offline rerun works.
installed_matches_lock() {
	node -e '
		const fs = require("fs");
		const want = JSON.parse(fs.readFileSync(process.argv[1])).packages;
		const have = JSON.parse(fs.readFileSync(process.argv[2])).packages;
		const keys = Object.keys(want).filter((k) => k !== "");
		const same = keys.length === Object.keys(have).length &&
			keys.every((k) => have[k] && have[k].version === want[k].version &&
				have[k].integrity === want[k].integrity);
		process.exit(same ? 0 : 1);
	' "$here/package-lock.json" "$here/node_modules/.package-lock.json" 2>/dev/null
}
if installed_matches_lock; then
	ok "tests/deploy/node_modules matches package-lock.json"
elif (cd "$here" && npm ci --no-audit --no-fund --prefer-offline --loglevel=error >"$tmp/npm" 2>&1); then
	ok "npm ci installed tests/deploy/package-lock.json"
else
	fail "npm ci in tests/deploy: $(tail -n 3 "$tmp/npm" | tr '\n' ' ')"
fi

cd "$root"
if yamllint -c "$here/.yamllint" -f parsable deploy/kubernetes deploy/compose >"$tmp/yl" 2>&1; then
	ok "yamllint (tests/deploy/.yamllint) passes deploy/kubernetes and deploy/compose"
else
	fail "yamllint: $(head -n 5 "$tmp/yl" | tr '\n' ' ')"
fi

# Each service's kustomization renders alone, and the top one renders the three together.
for dir in api chat stream ""; do
	out="$tmp/kustomize-${dir:-all}.yaml"
	if kubectl kustomize "deploy/kubernetes/$dir" >"$out" 2>"$tmp/kerr"; then
		ok "kubectl kustomize deploy/kubernetes/$dir renders $(grep -c '^kind:' "$out") objects"
	else
		fail "kubectl kustomize deploy/kubernetes/$dir: $(grep -v Warning "$tmp/kerr" | head -n 3)"
	fi
done
names() { grep -hE '^(kind|  name):' "$@" | sed 's/^[^:]*:[^:]*: *//' | paste - - | sort; }
if [ "$(names "$tmp"/kustomize-{api,chat,stream}.yaml)" = "$(names "$tmp/kustomize-all.yaml")" ]; then
	ok "deploy/kubernetes renders exactly the objects of api, chat and stream"
else
	fail "deploy/kubernetes renders other objects than api, chat and stream together"
fi

run_checker "kubernetes-models validation" node "$here/validate_schemas.mjs" k8s "$tmp/kustomize-all.yaml"
run_checker "compose-spec validation" node "$here/validate_schemas.mjs" compose deploy/compose/docker-compose.yml
run_checker "probe and config checks" "$py" "$here/check_probes.py" "$bin" "$tmp/kustomize-all.yaml"
run_checker "compose and Dockerfile checks" "$py" "$here/check_compose_docker.py" "$bin" "$root"

# The unit is a template: substitute the install paths as meson install does, with the built
# binary in place of @BINDIR@/veza-health. systemd-analyze verify exits 0 on an unknown key and
# only warns, so any output at all counts as a failure.
unit="$tmp/veza-health.service"
sed -e "s|@BINDIR@/veza-health|$bin|g" -e "s|@BINDIR@|$(dirname "$bin")|g" -e "s|@SYSCONFDIR@|/etc|g" \
	deploy/systemd/veza-health.service >"$unit"
if grep -q '@[A-Z]*@' "$unit"; then
	fail "deploy/systemd/veza-health.service has only @BINDIR@ and @SYSCONFDIR@ placeholders"
elif systemd-analyze verify "$unit" >"$tmp/sd" 2>&1 && [ ! -s "$tmp/sd" ]; then
	ok "systemd-analyze verify passes deploy/systemd/veza-health.service without a warning"
else
	fail "systemd-analyze verify: $(head -n 3 "$tmp/sd" | tr '\n' ' ')"
fi
# --threshold counts tenths: 20 is an exposure of at most 2.0 ("OK" in systemd's words).
if systemd-analyze security --offline=yes --threshold=20 "$unit" >"$tmp/sec" 2>&1; then
	ok "systemd-analyze security: $(grep -o 'Overall exposure level.*' "$tmp/sec" | sed 's/ for [^:]*//') (at most 2.0)"
else
	fail "systemd-analyze security: $(grep -o 'Overall exposure level.*' "$tmp/sec" || tail -n 2 "$tmp/sec")"
fi

passed=$(grep -c '^ok ' "$log" || true)
failed=$(grep -c '^FAIL ' "$log" || true)
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
