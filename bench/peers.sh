#!/usr/bin/env bash
# Issue 12: what asking peers costs: CPU per round, /ready req/s, requests per round vs N (README.md).
exec python3 "$(dirname "$0")/peers.py" "$@"
