#!/usr/bin/env python3
"""Generates a DeiT-tiny-sized ViT and a fixed input for the run benchmark.

Sized like facebook/deit-tiny-patch16-224: 12 layers, hidden 192, 3 heads,
MLP 768 (about 5.7 million float32 parameters, 23 MB); the graph, weights
and input are made by scripts/bench/deit.py (see its doc).

    $(scripts/setup-python.sh --print-python) scripts/bench/make_deit_tiny.py [--force]

Writes target/bench/deit_tiny.onnx and
target/bench/deit_tiny/inputs/pixel_values.npy.
"""

from __future__ import annotations

import sys

import deit

SPEC = deit.Spec(
    name="deit_tiny",
    title="DeiT-tiny-sized",
    config=deit.fixtures.Config(hidden=192, heads=3, layers=12, intermediate=768),
    script="make_deit_tiny.py",
)

if __name__ == "__main__":
    sys.exit(deit.main(SPEC, __doc__.split("\n\n")[0]))
