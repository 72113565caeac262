#!/usr/bin/env bash
# Budget 5: idle CPU with 5 checks at a 1 s interval, over 60 s (see README.md).
exec python3 "$(dirname "$0")/idle_cpu.py" "$@"
