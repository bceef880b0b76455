#!/usr/bin/env bash
# Everything fix502 and its lab need on a fresh Debian 12 machine (run as root).
set -euo pipefail
cd "$(dirname "$0")/.."
export DEBIAN_FRONTEND=noninteractive
# Package installs must not start services on the machine itself: the lab starts them per host.
if [ ! -e /usr/sbin/policy-rc.d ]; then
  printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d
  trap 'rm -f /usr/sbin/policy-rc.d' EXIT
fi
PKGS="nginx apache2 libapache2-mod-php8.2 php8.2-fpm php8.2-cli php8.2-mysql php8.2-xdebug openssh-server
      openssh-client mariadb-server mariadb-client wordpress curl procps iproute2 psmisc util-linux"
missing=""
for p in $PKGS; do dpkg -s "$p" >/dev/null 2>&1 || missing="$missing $p"; done
if [ -n "$missing" ]; then
  apt-get update -qq
  apt-get install -y -qq $missing >/dev/null
fi
python3 -m pip install -q --disable-pip-version-check -e '.[dev]'
