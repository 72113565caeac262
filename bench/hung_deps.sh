#!/usr/bin/env bash
# Budget 7: /live and /ready latency and time to 503 with black-holed dependencies (README.md).
exec python3 "$(dirname "$0")/hung_deps.py" "$@"
