#!/usr/bin/env bash
# Issue 13: /ready 200 again after PostgreSQL or Redis comes back (stop/start, black hole/heal).
exec python3 "$(dirname "$0")/recovery.py" "$@"
