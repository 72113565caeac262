#!/usr/bin/env bash
# Checks deploy/prometheus and deploy/grafana with promtool: config, rules, rule unit tests,
# every dashboard query, the metric names against docs/metrics.md and, when $VH_BIN names a
# built daemon, the alerts against a real scrape of it. One line per check; non-zero on failure.
set -euo pipefail

root="${VH_SOURCE_ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}"
prom="$root/deploy/prometheus"
dash="$root/deploy/grafana/veza-health.json"
helper="$root/tests/deploy/monitoring_check.py"

command -v promtool >/dev/null || { echo "FAIL: promtool not found (Debian: prometheus)"; exit 1; }

tmp="$(mktemp -d)"
daemon_pid=""
cleanup() {
	if [ -n "$daemon_pid" ]; then
		kill "$daemon_pid" 2>/dev/null || true
		wait "$daemon_pid" 2>/dev/null || true
	fi
	rm -rf "$tmp"
}
trap cleanup EXIT

failed=0
passed=0
# run NAME CMD...: one line per check; the command's output only when it fails.
run() {
	local name="$1"
	shift
	if "$@" >"$tmp/out" 2>&1; then
		echo "ok - $name"
		passed=$((passed + 1))
	else
		echo "not ok - $name"
		sed 's/^/    /' "$tmp/out"
		failed=$((failed + 1))
	fi
}

# Debian's promtool has no Kubernetes discovery, so the config is checked on a copy whose
# kubernetes_sd_configs are swapped for file_sd_configs; the helper checks the meta labels.
check_config() {
	python3 "$helper" promtool-config "$prom" "$tmp/prometheus" &&
		promtool check config "$tmp/prometheus/prometheus.yml"
}
run "promtool check config deploy/prometheus/prometheus.yml" check_config
run "promtool check rules deploy/prometheus/rules/*.yml" promtool check rules "$prom"/rules/*.yml
run "promtool test rules deploy/prometheus/tests/*.yml" promtool test rules "$prom"/tests/*.yml
run "every alert tested firing and quiet, with severity, summary, description" \
	python3 "$helper" coverage "$prom/rules/veza-health.rules.yml" "$prom/tests/veza-health.test.yml"

dashboard_queries() {
	python3 "$helper" dashboard-rules "$dash" "$tmp/dashboard.rules.yml" &&
		promtool check rules "$tmp/dashboard.rules.yml"
}
run "dashboard queries parse (promtool check rules)" dashboard_queries
run "metric names documented in docs/metrics.md" \
	python3 "$helper" names "$root/docs/metrics.md" "$dash" "$prom"/rules/*.yml

free_port() {
	python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# Runs the daemon with a critical check of a closed port (`dead`) and one of its own port
# (`self`), waits until both have settled, and keeps one scrape in $tmp/scrape.prom.
scrape_daemon() {
	local port dead
	port="$(free_port)"
	dead="$(free_port)" # bound and closed again: nothing listens there
	cat >"$tmp/config.json" <<-EOF
		{"service": "scraped", "checks": [
		  {"name": "dead", "type": "tcp", "critical": true, "groups": ["readiness"],
		   "interval": "1s", "tcp": {"host": "127.0.0.1", "port": $dead}},
		  {"name": "self", "type": "tcp", "critical": false, "groups": [],
		   "interval": "1s", "tcp": {"host": "127.0.0.1", "port": $port}}]}
	EOF
	"$VH_BIN" -c "$tmp/config.json" --listen "127.0.0.1:$port" 2>"$tmp/daemon.log" &
	daemon_pid=$!
	for _ in $(seq 50); do
		if curl -sf "http://127.0.0.1:$port/metrics" >"$tmp/scrape.prom" 2>/dev/null &&
			grep -q '^veza_health_check_status{check="dead",status="fail"} 1$' "$tmp/scrape.prom" &&
			grep -q '^veza_health_check_status{check="self",status="pass"} 1$' "$tmp/scrape.prom"; then
			return 0
		fi
		kill -0 "$daemon_pid" 2>/dev/null || { cat "$tmp/daemon.log"; return 1; }
		sleep 0.1
	done
	echo "the checks did not settle in 5s; last scrape:"
	cat "$tmp/scrape.prom" "$tmp/daemon.log"
	return 1
}

alerts_on_scrape() {
	python3 "$helper" scrape-test "$tmp/scrape.prom" "$tmp/scrape.test.yml" \
		"$prom/rules/veza-health.rules.yml" &&
		promtool test rules "$tmp/scrape.test.yml"
}

if [ -n "${VH_BIN:-}" ]; then
	run "scrape a running veza-health" scrape_daemon
	run "promtool check metrics on the scrape" promtool check metrics <"$tmp/scrape.prom"
	run "alerts on the real scrape (promtool test rules)" alerts_on_scrape
else
	echo "skip - real scrape (set VH_BIN to a built veza-health)"
fi

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
