#!/usr/bin/env bash
# Budget 4: RSS idle, under /ready load and over repeated runs, with the idle figure broken down
# per mapping (Rss, Pss, private pages; see README.md and MEMORY.md). VH_ENV adds daemon environment.
exec python3 "$(dirname "$0")/memory.py" "$@"
