#!/bin/sh
# Install the Debian 12 packages that smsgw needs to build, test and run.
#
# Idempotent: packages already present are left alone and, when nothing is
# missing, apt is not touched at all.  Package lists on a fresh machine are
# stale, so "apt-get update" runs before the first install.
set -eu

PACKAGES="
	build-essential
	pkg-config
	libserialport-dev
	libsqlite3-dev
	libmicrohttpd-dev
	libconfig-dev
	libjansson-dev
	libcurl4-openssl-dev
	libcmocka-dev
	curl
	clang
	libclang-rt-14-dev
"

missing=""
for pkg in $PACKAGES; do
	if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null |
	    grep -q "install ok installed"; then
		missing="$missing $pkg"
	fi
done

if [ -z "$missing" ]; then
	exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
	echo "install-deps: missing packages:$missing" >&2
	echo "install-deps: run as root, or: sudo apt-get install$missing" >&2
	exit 1
fi

echo "install-deps: installing:$missing"
export DEBIAN_FRONTEND=noninteractive
apt-get update -q
# shellcheck disable=SC2086
apt-get install -y -q --no-install-recommends $missing
