#!/usr/bin/env bash
# Install the real backends the test suite starts, each only if missing (idempotent; Debian,
# run as root or with sudo): the Prometheus server, Chromium and its driver (HTML report
# tests), and Arize Phoenix in its own virtual environment (it pins many packages, so never
# into the system site). The tests start and stop them on 127.0.0.1; nothing runs afterwards.
set -euo pipefail
cd "$(dirname "$0")/.."

PHOENIX_VENV="${MLCOST_PHOENIX_VENV:-.venv-phoenix}"  # the tests look here (or $MLCOST_PHOENIX_PYTHON)
PHOENIX_SPEC="arize-phoenix==20.26.1"                  # the version the REST reader is tested on

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi

missing=()
command -v prometheus >/dev/null 2>&1 || missing+=(prometheus)
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
command -v chromedriver >/dev/null 2>&1 || missing+=(chromium-driver)
if [ "${#missing[@]}" -gt 0 ]; then
  echo "services: apt-get install ${missing[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends \
    "${missing[@]}" >/dev/null
  # The package starts a system-wide Prometheus where systemd runs; the tests need none.
  if [[ " ${missing[*]} " == *" prometheus "* ]] && [ -d /run/systemd/system ]; then
    $SUDO systemctl disable --now prometheus >/dev/null 2>&1 || true
  fi
fi

if ! "$PHOENIX_VENV/bin/python" -c "import importlib.metadata as m; m.version('arize-phoenix')" \
    >/dev/null 2>&1; then
  echo "services: creating the Phoenix environment in $PHOENIX_VENV ($PHOENIX_SPEC)"
  python3 -m venv "$PHOENIX_VENV"
  "$PHOENIX_VENV/bin/python" -m pip install -qq --disable-pip-version-check "$PHOENIX_SPEC"
  "$PHOENIX_VENV/bin/python" -c "import phoenix.server.main"
fi

# The FinOps Foundation's FOCUS validator (Python 3.12, own venv under .cache/): the FOCUS test.
echo "services: focus-validator in $(python3 tests/reports/focus_validator.py)"
