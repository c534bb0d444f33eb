#!/usr/bin/env bash
# The behaviour tests need moto in server mode. Use moto_server from PATH; else a project-local
# virtual environment (.venv-moto) with a pinned moto, created here on first use.
set -euo pipefail
cd "$(dirname "$0")/.."
MOTO_SPEC='moto[server]==5.2.1'
VENV=.venv-moto
if command -v moto_server >/dev/null 2>&1; then exit 0; fi
if [ -x "$VENV/bin/moto_server" ]; then exit 0; fi
fail() {
  echo "make test: moto_server is not on PATH and $1." >&2
  echo "  Fix: install it yourself, e.g. \`pip install '$MOTO_SPEC'\` (or pipx), then run make test again." >&2
  exit 1
}
command -v python3 >/dev/null 2>&1 || fail "python3 is not installed (Debian: apt-get install python3 python3-venv)"
echo "moto_server not found on PATH: installing $MOTO_SPEC into $VENV (once)"
python3 -m venv "$VENV" 2>/dev/null || { rm -rf "$VENV"; fail "python3 cannot create a virtual environment (Debian: apt-get install python3-venv)"; }
if ! "$VENV/bin/pip" install --quiet --disable-pip-version-check --timeout 15 --retries 1 "$MOTO_SPEC"; then
  rm -rf "$VENV"
  fail "no Python package index is reachable to install $MOTO_SPEC into $VENV"
fi
