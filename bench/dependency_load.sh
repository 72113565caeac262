#!/usr/bin/env bash
# Budget 3: dependency traffic under /ready load equals the check schedule's (see README.md).
exec python3 "$(dirname "$0")/dependency_load.py" "$@"
