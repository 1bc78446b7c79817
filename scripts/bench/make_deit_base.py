#!/usr/bin/env python3
"""Generates a DeiT-base-sized ViT and a fixed input for the run benchmark.

Sized like facebook/deit-base-patch16-224: 12 layers, hidden 768, 12 heads,
MLP 3072, sequence 197 (about 86 million float32 parameters, 346 MB); the
graph, weights and input are made by scripts/bench/deit.py (see its doc).
It measures the JIT's compile time on a model of real size as much as
its run time.

    $(scripts/setup-python.sh --print-python) scripts/bench/make_deit_base.py [--force]

Writes target/bench/deit_base.onnx and
target/bench/deit_base/inputs/pixel_values.npy.
"""

from __future__ import annotations

import sys

import deit

SPEC = deit.Spec(
    name="deit_base",
    title="DeiT-base-sized",
    config=deit.fixtures.Config(hidden=768, heads=12, layers=12, intermediate=3072),
    script="make_deit_base.py",
)

if __name__ == "__main__":
    sys.exit(deit.main(SPEC, __doc__.split("\n\n")[0]))
