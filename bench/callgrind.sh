#!/usr/bin/env bash
# Instructions per /ready request under valgrind --tool=callgrind (see README.md).
exec python3 "$(dirname "$0")/callgrind.py" "$@"
