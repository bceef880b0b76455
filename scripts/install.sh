#!/usr/bin/env bash
# Everything fix502 and its lab need on a fresh Debian 12 / Ubuntu 24.04 machine (run as root).
# fix502 itself goes into a virtual environment (.venv): the system Python refuses `pip install`
# (PEP 668), and a venv keeps the project's libraries apart from the distribution's.
set -euo pipefail
cd "$(dirname "$0")/.."
export DEBIAN_FRONTEND=noninteractive
# Package installs must not start services on the machine itself: the lab starts them per host.
if [ ! -e /usr/sbin/policy-rc.d ]; then
  printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d
  trap 'rm -f /usr/sbin/policy-rc.d' EXIT
fi
PKGS="nginx apache2 libapache2-mod-php8.2 php8.2-fpm php8.2-cli php8.2-mysql php8.2-xdebug openssh-server
      openssh-client mariadb-server mariadb-client wordpress curl procps iproute2 psmisc util-linux
      python3 python3-venv prometheus-alertmanager sudo redis-server"
missing=""
for p in $PKGS; do dpkg -s "$p" >/dev/null 2>&1 || missing="$missing $p"; done
if [ -n "$missing" ]; then
  apt-get update -qq
  apt-get install -y -qq $missing >/dev/null
fi
# The packages' scripts enable mod_php (with prefork) and xdebug machine-wide.  This machine is the
# lab's controller, not one of its hosts: give back what this run's installs switched on.  Lab faults
# enable them inside a host's own copy of /etc only.
case " $missing " in *" libapache2-mod-php8.2 "*)
  a2dismod -q -f php8.2 >/dev/null 2>&1 || true
  a2dismod -q mpm_prefork >/dev/null 2>&1 && a2enmod -q mpm_event >/dev/null 2>&1 || true ;;
esac
case " $missing " in *" php8.2-xdebug "*) phpdismod -v 8.2 -s ALL xdebug >/dev/null 2>&1 || true ;; esac
# Alertmanager is for the `fix502 serve` tests, which run their own on loopback: not a boot service.
case " $missing " in *" prometheus-alertmanager "*)
  systemctl disable prometheus-alertmanager >/dev/null 2>&1 ||
    rm -f /etc/systemd/system/multi-user.target.wants/prometheus-alertmanager.service ;;
esac
# redis-server is for the --executor tests, which start their own on loopback: not a boot service.
case " $missing " in *" redis-server "*)
  systemctl disable redis-server >/dev/null 2>&1 ||
    rm -f /etc/systemd/system/multi-user.target.wants/redis-server.service /etc/systemd/system/redis.service ;;
esac

PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv
fi
.venv/bin/python -m pip install -q --disable-pip-version-check -e '.[dev,distributed]'
