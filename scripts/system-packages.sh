#!/bin/sh
# Installs the Debian packages Mayday needs to build and test, when they are missing:
# venv support for Python, the MariaDB client library mysqlclient compiles against,
# and Chromium for the browser tests. As root it installs them; otherwise it says what to run.
set -e
PYTHON=${1:-python3.11}
missing=""
$PYTHON -c "import ensurepip, venv" 2>/dev/null || missing="$missing python3-venv"
pkg-config --exists mariadb 2>/dev/null || pkg-config --exists mysqlclient 2>/dev/null || missing="$missing libmariadb-dev pkg-config"
command -v cc >/dev/null 2>&1 || missing="$missing build-essential"
[ -e /usr/include/python3.11/Python.h ] || $PYTHON -c "import sysconfig, os, sys; sys.exit(not os.path.exists(os.path.join(sysconfig.get_paths()['include'], 'Python.h')))" || missing="$missing python3-dev"
[ -x /usr/bin/chromium ] || missing="$missing chromium"
[ -z "$missing" ] && exit 0
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "Installing system packages:$missing"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $missing >/dev/null
else
  echo "Missing system packages. Install them with:"
  echo "  sudo apt-get install$missing"
  exit 1
fi
