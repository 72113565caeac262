#!/usr/bin/env bash
# Budget 1 and 2: /ready req/s, p99 and CPU/request of veza-health vs nginx (see README.md).
exec python3 "$(dirname "$0")/throughput.py" "$@"
