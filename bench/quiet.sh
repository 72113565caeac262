#!/usr/bin/env bash
# Waits until the machine is quiet enough to measure: the 1-minute load average at most
# BENCH_QUIET_LOAD (default 0.5) and the CPUs at least BENCH_QUIET_IDLE percent idle (default
# 75) over 10 s. Checks every BENCH_QUIET_EVERY seconds (default 120) for at most
# BENCH_QUIET_MAX seconds (default 1800). Prints each look; exits 0 when quiet, 1 when it never
# was (then measure anyway if you must, and record the load beside the figures).
set -uo pipefail
max_load=${BENCH_QUIET_LOAD:-0.5}
min_idle=${BENCH_QUIET_IDLE:-75}
every=${BENCH_QUIET_EVERY:-120}
limit=${BENCH_QUIET_MAX:-1800}
idle_percent() {
	local a b
	read -r -a a < <(head -n1 /proc/stat)
	sleep 10
	read -r -a b < <(head -n1 /proc/stat)
	local total=0 i
	for i in 1 2 3 4 5 6 7 8; do total=$((total + b[i] - a[i])); done
	echo $(((b[4] + b[5] - a[4] - a[5]) * 100 / (total > 0 ? total : 1)))
}
start=$SECONDS
while :; do
	idle=$(idle_percent)
	load=$(cut -d' ' -f1-3 /proc/loadavg)
	echo "quiet.sh $(date -u +%H:%M:%S) UTC: load average $load, ${idle}% idle over 10 s"
	if awk -v l="${load%% *}" -v m="$max_load" 'BEGIN { exit !(l <= m) }' && [ "$idle" -ge "$min_idle" ]; then
		exit 0
	fi
	if [ $((SECONDS - start + every)) -gt "$limit" ]; then
		echo "quiet.sh: not quiet within ${limit} s"
		exit 1
	fi
	sleep "$every"
done
