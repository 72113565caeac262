#!/usr/bin/env bash
# Budget 9: N sidecars (BENCH_FLEET, default 200) against one PostgreSQL and Redis (README.md).
exec python3 "$(dirname "$0")/fleet.py" "$@"
