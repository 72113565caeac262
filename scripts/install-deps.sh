#!/usr/bin/env bash
# Installs, from Debian 12's packages, what building, running and testing veza-health needs.
# Does nothing when everything is there already; uses sudo when not run as root.
set -euo pipefail

packages=(
	build-essential meson ninja-build pkg-config
	libevent-dev libhiredis-dev libpq-dev libjansson-dev
	libcriterion-dev python3 python3-pytest
	postgresql redis-server curl clang-format valgrind
	prometheus help2man yamllint systemd binutils
	clang libclang-rt-14-dev libfaketime
	iproute2 iptables
	docker.io docker-compose debootstrap
)
# The deploy checks need kubectl (for kustomize) and Node.js with npm (for kubernetes-models).
# Machines that have them from another repository keep theirs: Debian's npm would conflict with
# a nodejs package that bundles its own npm.
command -v kubectl >/dev/null || packages+=(kubernetes-client)
command -v node >/dev/null || packages+=(nodejs)
command -v npm >/dev/null || packages+=(npm)

missing=()
for p in "${packages[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
echo "installing: ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -q >/dev/null
# Where no policy says otherwise, keep maintainer scripts from starting the services they
# install: on a machine without systemd, docker.io's would start a dockerd with iptables rules
# and a bridge; the container suite starts its own, isolated one.
if [ ! -e /usr/sbin/policy-rc.d ]; then
	trap '$sudo rm -f /usr/sbin/policy-rc.d' EXIT
	printf '#!/bin/sh\nexit 101\n' | $sudo tee /usr/sbin/policy-rc.d >/dev/null
	$sudo chmod 755 /usr/sbin/policy-rc.d
fi
$sudo apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null
# The Debian packages start their own servers; the tests start private ones on free ports.
if [ -d /run/systemd/system ]; then
	$sudo systemctl disable --now redis-server postgresql prometheus \
		docker docker.socket containerd >/dev/null 2>&1 || true
fi
