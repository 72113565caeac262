#!/usr/bin/env bash
# Checks deploy/prometheus and deploy/grafana with promtool: config, rules, rule unit tests,
# every dashboard query, the metric names against docs/metrics.md and, when $VH_BIN names a
# built daemon, the alerts against a real scrape of it alone and of two peered daemons in a
# shared outage. One line per check; non-zero on failure.
set -euo pipefail

root="${VH_SOURCE_ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}"
prom="$root/deploy/prometheus"
dash="$root/deploy/grafana/veza-health.json"
helper="$root/tests/deploy/monitoring_check.py"

command -v promtool >/dev/null || { echo "FAIL: promtool not found (Debian: prometheus)"; exit 1; }

tmp="$(mktemp -d)"
daemon_pid=""
fleet_pids=()
cleanup() {
	local pid
	for pid in $daemon_pid "${fleet_pids[@]}"; do
		kill "$pid" 2>/dev/null || true
		wait "$pid" 2>/dev/null || true
	done
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

# free_port [HOST]: a port nothing listens on at HOST (127.0.0.1 by default).
free_port() {
	python3 -c 'import socket, sys; s = socket.socket(); s.bind((sys.argv[1], 0)); print(s.getsockname()[1])' \
		"${1:-127.0.0.1}"
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

# Runs two daemons that are each other's peers (127.0.0.2 and 127.0.0.3, one port) with a
# critical shared check `dead` of one closed port, and keeps a scrape of each, in
# $tmp/fleet-2.prom and $tmp/fleet-3.prom, once both call it a shared outage.
scrape_fleet() {
	local port dead h ok pid
	port="$(free_port 127.0.0.2)"
	dead="$(free_port)"
	for h in 2 3; do
		cat >"$tmp/fleet-$h.json" <<-EOF
			{"service": "scraped-fleet",
			 "peers": {"addresses": ["127.0.0.2:$port", "127.0.0.3:$port"],
			           "interval": "100ms", "timeout": "50ms"},
			 "checks": [
			  {"name": "dead", "type": "tcp", "critical": true, "groups": ["readiness"],
			   "scope": "shared", "interval": "200ms", "timeout": "100ms",
			   "tcp": {"host": "127.0.0.1", "port": $dead}}]}
		EOF
		"$VH_BIN" -c "$tmp/fleet-$h.json" --listen "127.0.0.$h:$port" 2>"$tmp/fleet-$h.log" &
		fleet_pids+=($!)
	done
	for _ in $(seq 100); do
		ok=0
		for h in 2 3; do
			if curl -sf "http://127.0.0.$h:$port/metrics" >"$tmp/fleet-$h.prom" 2>/dev/null &&
				grep -q '^veza_health_check_shared_outage{check="dead"} 1$' "$tmp/fleet-$h.prom"; then
				ok=$((ok + 1))
			fi
		done
		[ "$ok" -eq 2 ] && return 0
		for pid in "${fleet_pids[@]}"; do
			kill -0 "$pid" 2>/dev/null || { cat "$tmp"/fleet-*.log; return 1; }
		done
		sleep 0.1
	done
	echo "no shared outage on both daemons in 10s; last scrapes and logs:"
	cat "$tmp"/fleet-*.prom "$tmp"/fleet-*.log
	return 1
}

fleet_lint() {
	promtool check metrics <"$tmp/fleet-2.prom" && promtool check metrics <"$tmp/fleet-3.prom"
}

alerts_on_fleet() {
	python3 "$helper" fleet-scrape-test "$tmp/fleet.test.yml" \
		"$prom/rules/veza-health.rules.yml" "$tmp/fleet-2.prom" "$tmp/fleet-3.prom" &&
		promtool test rules "$tmp/fleet.test.yml"
}

if [ -n "${VH_BIN:-}" ]; then
	run "scrape a running veza-health" scrape_daemon
	run "promtool check metrics on the scrape" promtool check metrics <"$tmp/scrape.prom"
	run "alerts on the real scrape (promtool test rules)" alerts_on_scrape
	run "scrape two peered veza-health in a shared outage" scrape_fleet
	run "promtool check metrics on the peered scrapes" fleet_lint
	run "alerts on the peered scrapes: one VezaHealthSharedOutage" alerts_on_fleet
else
	echo "skip - real scrape (set VH_BIN to a built veza-health)"
fi

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
