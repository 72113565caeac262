#!/usr/bin/env bash
# Runs every benchmark in BENCH_SMOKE=1 mode (1-3 s phases, few trials) to prove the scripts still
# work; fails only when a script breaks, never on the figures (the FAIL verdicts are budgets).
set -uo pipefail
here=$(dirname "$0")
failed=()
names=(throughput dependency_load memory idle_cpu detection hung_deps startup fleet peers recovery callgrind)
for name in "${names[@]}"; do
	start=$SECONDS
	if out=$(BENCH_SMOKE=1 "$here/$name.sh" 2>&1) && grep -q '^SUMMARY ' <<<"$out"; then
		echo "ok   $name ($((SECONDS - start)) s): $(grep '^SUMMARY ' <<<"$out" | cut -c 9-)"
	else
		echo "FAIL $name ($((SECONDS - start)) s):"
		sed 's/^/    /' <<<"$out" | tail -n 30
		failed+=("$name")
	fi
done
if [ ${#failed[@]} -gt 0 ]; then
	echo "broken: ${failed[*]}"
	exit 1
fi
echo "all benchmarks ran (smoke mode)"
