#!/usr/bin/env bash
# Budget 8: process start to the first 200 on /ready (see README.md).
exec python3 "$(dirname "$0")/startup.py" "$@"
