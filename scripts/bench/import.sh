#!/usr/bin/env bash
# The import benchmark: `weft import` of a BERT-base-sized model against the
# time onnxruntime takes to create an InferenceSession on the same file, in
# the same run.
#
#   scripts/bench/import.sh [--runs N]      (default N=5)
#
# Steps: installs GNU time (/usr/bin/time) with apt-get if it is missing,
# builds weft in release, sets up the pinned Python environment
# (scripts/setup-python.sh), generates target/bench/bert_base.onnx if needed
# (scripts/bench/make_bert_base.py), then runs scripts/bench/measure.py,
# which alternates the measurements N times and prints medians and ratios.
set -euo pipefail

root="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$root"

if [ ! -x /usr/bin/time ]; then
  echo "import.sh: installing GNU time (/usr/bin/time)" >&2
  sudo_cmd=()
  if [ "$(id -u)" -ne 0 ]; then sudo_cmd=(sudo); fi
  "${sudo_cmd[@]}" apt-get update -qq
  "${sudo_cmd[@]}" apt-get install -y -qq time >/dev/null
fi

cargo build --release -p weft --quiet
python="$(scripts/setup-python.sh --print-python)"
"$python" scripts/bench/make_bert_base.py
exec "$python" scripts/bench/measure.py --weft target/release/weft --model target/bench/bert_base.onnx "$@"
