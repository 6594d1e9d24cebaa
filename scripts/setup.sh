#!/usr/bin/env bash
# Set up a fresh Debian/Ubuntu machine: system packages, the .venv, the project.
#   scripts/setup.sh run    -> what `meter-intake demo` needs (Tesseract)
#   scripts/setup.sh test   -> plus Dovecot, Chromium, PostgreSQL and the test tools
set -euo pipefail
cd "$(dirname "$0")/.."
mode=${1:-run}

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

apt_install() {
  local missing=()
  for pkg in "$@"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  echo ">> apt-get install ${missing[*]}"
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
}

python_bin() {
  for candidate in python3.11 python3; do
    if command -v "$candidate" >/dev/null && "$candidate" -c 'import sys; sys.exit(sys.version_info < (3, 11))'; then
      echo "$candidate"; return 0
    fi
  done
  echo "Python >= 3.11 is required" >&2; return 1
}

apt_install tesseract-ocr tesseract-ocr-deu tesseract-ocr-eng
if ! python3 -c 'import venv, ensurepip' 2>/dev/null; then apt_install python3-venv; fi
if [ "$mode" = test ]; then
  apt_install dovecot-imapd chromium fonts-dejavu-core
fi

if [ ! -x .venv/bin/python ]; then
  "$(python_bin)" -m venv .venv
fi
.venv/bin/python -m pip install -q --upgrade pip
# constraints.txt: the versions the tests last passed with (a new upstream release can break)
if [ "$mode" = test ]; then
  .venv/bin/python -m pip install -q -c constraints.txt -e '.[test]'
  scripts/ensure-postgres
else
  .venv/bin/python -m pip install -q -c constraints.txt -e .
fi
