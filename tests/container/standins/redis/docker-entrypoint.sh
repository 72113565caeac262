#!/bin/sh
# docker-entrypoint.sh - the stand-in redis image's start, as the official image's: options
# alone run redis-server; redis-server as root is dropped to the redis user; anything else (the
# compose file's `sh -c 'exec redis-server ...'`) runs as given.
set -eu
if [ "${1#-}" != "$1" ]; then
	set -- redis-server "$@"
fi
if [ "$1" = redis-server ] && [ "$(id -u)" = 0 ]; then
	chown -R redis:redis .
	exec setpriv --reuid=redis --regid=redis --init-groups "$@"
fi
exec "$@"
