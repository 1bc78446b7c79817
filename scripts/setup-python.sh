#!/usr/bin/env bash
# Creates (or reuses) the Python virtual environment that the fixture
# generators and the onnxruntime reference runs use, with exactly the
# versions pinned in scripts/requirements.txt.
#
#   scripts/setup-python.sh                  install if needed; silent when up to date
#   scripts/setup-python.sh --print-python   same, then print the venv's python path
#
# The venv lives in $WEFT_PYTHON_VENV, by default target/python (ignored by git).
# The base interpreter is $PYTHON, by default python3 (3.11 or newer: onnxruntime
# 1.31 needs it). Idempotent: a second run with nothing to do prints nothing.
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
requirements="$root/scripts/requirements.txt"
venv="${WEFT_PYTHON_VENV:-$root/target/python}"
base_python="${PYTHON:-python3}"

print_python=false
case "${1:-}" in
  "") ;;
  --print-python) print_python=true ;;
  *) echo "usage: $0 [--print-python]" >&2; exit 2 ;;
esac

# Exit status 0 when every `name==version` line of requirements.txt is installed
# in the venv at exactly that version.
pins_satisfied() {
  "$venv/bin/python" - "$requirements" <<'PY' 2>/dev/null
import sys
from importlib import metadata

for line in open(sys.argv[1], encoding="utf-8"):
    line = line.split("#", 1)[0].strip()
    if not line:
        continue
    name, _, version = line.partition("==")
    try:
        if metadata.version(name.strip()) != version.strip():
            sys.exit(1)
    except metadata.PackageNotFoundError:
        sys.exit(1)
PY
}

if [ ! -x "$venv/bin/python" ] || ! pins_satisfied; then
  if [ ! -x "$venv/bin/python" ]; then
    if ! "$base_python" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
      echo "setup-python: $base_python is missing or older than 3.11" >&2
      exit 1
    fi
    "$base_python" -m venv "$venv"
  fi
  echo "setup-python: installing scripts/requirements.txt into $venv" >&2
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check \
    --no-input -r "$requirements"
  if ! pins_satisfied; then
    echo "setup-python: installed versions do not match scripts/requirements.txt" >&2
    exit 1
  fi
fi

if $print_python; then
  echo "$venv/bin/python"
fi
