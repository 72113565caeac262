#!/usr/bin/env bash
# Builds the libFuzzer targets with clang (ASan, UBSan, leak checks) and runs each one for
# VH_FUZZ_SECONDS from a copy of its seed corpus; any crash, leak, timeout or report fails.
# Usage: tests/fuzz/run.sh [NAME...]   (NAME as in fuzz_NAME.c; default: all of them)
# Environment: VH_FUZZ_SECONDS (60), VH_FUZZ_BUILDDIR (build-fuzz), VH_FUZZ_JOBS (nproc),
# VH_FUZZ_SEED (1; 0 lets libFuzzer pick), CC (clang).
set -uo pipefail
cd "$(dirname "$0")/../.." || exit 2
seconds=${VH_FUZZ_SECONDS:-60}
builddir=${VH_FUZZ_BUILDDIR:-build-fuzz}
jobs=${VH_FUZZ_JOBS:-$(nproc)}
seed=${VH_FUZZ_SEED:-1}
export CC=${CC:-clang}

targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
	for f in tests/fuzz/fuzz_*.c; do
		targets+=("$(basename "$f" .c | sed 's/^fuzz_//')")
	done
fi

# With the lead's `fuzz` option wired into meson, meson builds them (tests/fuzz/meson.build);
# until then, clang directly over the core's sources as src/meson.build lists them.
build_meson() {
	if [ ! -f "$builddir/build.ninja" ]; then
		meson setup "$builddir" -Dfuzz=true -Dtests=false -Db_sanitize=address,undefined \
			-Db_lundef=false >"$builddir.setup.log" 2>&1 || {
			cat "$builddir.setup.log"
			return 1
		}
	fi
	ninja -C "$builddir" >/dev/null || ninja -C "$builddir"
}

build_direct() {
	local out=$builddir/direct
	mkdir -p "$out/core"
	local deps
	read -ra deps <<<"$(pkg-config --libs libevent_core libevent_extra hiredis libpq jansson)" ||
		return 1
	# The commas are inside single flags (-fsanitize=a,b).
	# shellcheck disable=SC2054
	local cflags=(-std=c11 -D_POSIX_C_SOURCE=200809L -D_DEFAULT_SOURCE '-DVH_VERSION="fuzz"'
		-Iinclude -g -O1 -fno-omit-frame-pointer -Wall -Wextra -Werror -Wno-unused-parameter
		-fsanitize=address,undefined -fno-sanitize-recover=undefined)
	local sources
	mapfile -t sources < <(sed -n "s/^ *'\([a-z_]*\.c\)',$/\1/p" src/meson.build)
	local objs=()
	for s in "${sources[@]}"; do
		objs+=("$out/core/${s%.c}.o")
	done
	# pkg-config's flags are words to split.
	# shellcheck disable=SC2207
	cflags+=($(pkg-config --cflags libevent_core libevent_extra hiredis libpq jansson))
	# Compile the core in parallel, each object only when its source or a header changed.
	# shellcheck disable=SC2016
	printf '%s\n' "${sources[@]}" | xargs -P "$jobs" -I{} sh -c '
		o="$0/core/$(basename {} .c).o"
		if [ ! -f "$o" ] || [ -n "$(find src/{} include -newer "$o" -print -quit)" ]; then
			exec "$CC" "$@" -fsanitize=fuzzer-no-link -c src/{} -o "$o"
		fi' "$out" "${cflags[@]}" || return 1
	for t in "${targets[@]}"; do
		"$CC" "${cflags[@]}" -fsanitize=fuzzer "tests/fuzz/fuzz_$t.c" "${objs[@]}" "${deps[@]}" -lm \
			-o "$out/fuzz_$t" || return 1
	done
}

mkdir -p "$builddir"
if grep -q "'fuzz'" meson_options.txt 2>/dev/null; then
	bindir=$builddir/tests/fuzz
	build_meson || { echo "not ok - building the fuzz targets"; echo "0 passed, 1 failed"; exit 1; }
else
	bindir=$builddir/direct
	build_direct || { echo "not ok - building the fuzz targets"; echo "0 passed, 1 failed"; exit 1; }
fi

export ASAN_OPTIONS=detect_leaks=1:abort_on_error=0:allocator_may_return_null=1
export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1

# Runs one target in its own work dir; the seed corpus in the tree is never written to.
run_one() {
	local t=$1
	local work=$builddir/run/$t
	rm -rf "$work"
	mkdir -p "$work/corpus" "$work/artifacts"
	cp tests/fuzz/corpus/"$t"/* "$work/corpus/" 2>/dev/null
	local start=$SECONDS
	"$bindir/fuzz_$t" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
		-error_exitcode=77 -timeout_exitcode=78 -seed="$seed" -print_final_stats=1 \
		-artifact_prefix="$work/artifacts/" "$work/corpus" >"$work/log" 2>&1
	echo "$? $((SECONDS - start))" >"$work/status"
}

running=0
for t in "${targets[@]}"; do
	if [ ! -x "$bindir/fuzz_$t" ]; then
		echo "no such target: fuzz_$t" >&2
		exit 2
	fi
	run_one "$t" &
	running=$((running + 1))
	if [ "$running" -ge "$jobs" ]; then
		wait -n
		running=$((running - 1))
	fi
done
wait

passed=0
failed=0
for t in "${targets[@]}"; do
	work=$builddir/run/$t
	read -r rc took <"$work/status"
	runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$work/log")
	cov=$(grep -o 'cov: [0-9]*' "$work/log" | tail -1)
	found=$(find "$work/artifacts" -type f | head -1)
	if [ "$rc" -eq 0 ] && [ -z "$found" ] && ! grep -q 'ERROR: \|runtime error:' "$work/log"; then
		echo "ok - fuzz_$t: ${runs:-0} runs in $took s (${cov:-cov: ?})"
		passed=$((passed + 1))
	else
		echo "not ok - fuzz_$t: exit $rc after $took s; reproducer ${found:-none}; log $work/log"
		grep -m1 -A12 'ERROR: \|runtime error:\|invariant broken' "$work/log" | sed 's/^/#   /'
		failed=$((failed + 1))
	fi
done
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
