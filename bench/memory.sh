#!/usr/bin/env bash
# Budget 4: RSS idle, under /ready load and over repeated runs (see README.md).
exec python3 "$(dirname "$0")/memory.py" "$@"
