#!/usr/bin/env bash
# Budget 6: /ready 503/200 latency after a dependency stops/restarts (see README.md).
exec python3 "$(dirname "$0")/detection.py" "$@"
