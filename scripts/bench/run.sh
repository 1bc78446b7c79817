#!/usr/bin/env bash
# The run benchmark: `weft run --bench N` against onnxruntime (1 thread) on
# paraphrase-MiniLM-L3-v2 (seq 128), the testsuite ViT and DeiT-tiny- and
# DeiT-base-sized ViTs, in the same run.
#
#   scripts/bench/run.sh [--runs N] [--engine E] [--models a,b,...]   (default N=10)
#
# Steps: builds weft in release, sets up the pinned Python environment
# (scripts/setup-python.sh), fetches MiniLM (scripts/fetch-minilm.sh; when it
# cannot, MiniLM is listed as skipped), generates target/bench/deit_tiny.onnx,
# target/bench/deit_base.onnx and their inputs if needed
# (scripts/bench/make_deit_{tiny,base}.py), then runs scripts/bench/run.py,
# which prints the table.
set -euo pipefail

root="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$root"

cargo build --release -p weft --quiet
python="$(scripts/setup-python.sh --print-python)"
scripts/fetch-minilm.sh
"$python" scripts/bench/make_deit_tiny.py
"$python" scripts/bench/make_deit_base.py
exec "$python" scripts/bench/run.py --weft target/release/weft "$@"
