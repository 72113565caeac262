#!/usr/bin/env bash
# Runs every benchmark in full mode, one after another (they would disturb each other), printing
# each one's output; takes about ten minutes. RESULTS.md records one such run.
set -euo pipefail
here=$(dirname "$0")
names=(throughput dependency_load memory idle_cpu detection hung_deps startup fleet peers recovery callgrind)
for name in "${names[@]}"; do
	echo "\$ bench/$name.sh"
	"$here/$name.sh"
	echo
done
