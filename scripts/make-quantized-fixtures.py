#!/usr/bin/env python3
"""Writes models quantized by onnxruntime's own tools, with onnxruntime's
outputs, for the test of weft's quantized imports (tests/quant_imports.rs).

    usage: make-quantized-fixtures.py [DEST_ROOT]   (default: target/models)

From the testsuite's BERT (testsuite/models/bert_tiny_opset17.onnx) it writes
DEST_ROOT/quantized/:

    bert_tiny_qdq.onnx       quantize_static, QDQ format: QuantizeLinear /
                             DequantizeLinear pairs around the ops, int8
                             activations, int8 weights per channel
    bert_tiny_dynamic.onnx   quantize_dynamic: int8 weights,
                             DynamicQuantizeLinear + MatMulInteger
    <model>/expected/batch1/<output>.npy
                             onnxruntime's outputs (CPU, 1 thread,
                             ORT_DISABLE_ALL) on the testsuite's batch1 inputs

Calibration (QDQ) uses 8 random sequences of 7 tokens drawn with seed 0. On
any failure (no onnxruntime.quantization, which needs ml_dtypes) it prints a
warning and exits 0 without leaving a partial directory.
"""

from __future__ import annotations

import shutil
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SOURCE = ROOT / "testsuite/models/bert_tiny_opset17.onnx"
INPUTS = ROOT / "testsuite/models/bert_tiny_opset17/inputs/batch1"


def main() -> int:
    dest_root = Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "target/models"
    try:
        import numpy as np
        import onnxruntime as ort
        from onnxruntime.quantization import (
            CalibrationDataReader,
            QuantFormat,
            QuantType,
            quantize_dynamic,
            quantize_static,
        )
    except ImportError as e:
        print(f"warning: make-quantized-fixtures: {e}; fixtures not written", file=sys.stderr)
        return 0

    class Reader(CalibrationDataReader):
        def __init__(self) -> None:
            rng = np.random.default_rng(0)
            self.samples = [
                {
                    "input_ids": rng.integers(3, 100, size=(1, 7)).astype(np.int64),
                    "attention_mask": np.ones((1, 7), np.int64),
                }
                for _ in range(8)
            ]

        def get_next(self):
            return self.samples.pop() if self.samples else None

    feeds = {name: np.load(INPUTS / f"{name}.npy") for name in ["input_ids", "attention_mask"]}
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    with tempfile.TemporaryDirectory(dir=dest_root if dest_root.exists() else None) as tmp:
        out = Path(tmp) / "quantized"
        out.mkdir()
        models = {
            "bert_tiny_qdq": lambda p: quantize_static(
                str(SOURCE),
                str(p),
                Reader(),
                quant_format=QuantFormat.QDQ,
                per_channel=True,
                activation_type=QuantType.QInt8,
                weight_type=QuantType.QInt8,
            ),
            "bert_tiny_dynamic": lambda p: quantize_dynamic(str(SOURCE), str(p), weight_type=QuantType.QInt8),
        }
        for name, make in models.items():
            path = out / f"{name}.onnx"
            make(path)
            session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
            expected = out / name / "expected/batch1"
            expected.mkdir(parents=True)
            for meta, value in zip(session.get_outputs(), session.run(None, feeds)):
                np.save(expected / f"{meta.name}.npy", value)
        dest_root.mkdir(parents=True, exist_ok=True)
        final = dest_root / "quantized"
        if final.exists():
            shutil.rmtree(final)
        shutil.move(str(out), str(final))
    print(f"wrote {final}")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except Exception as e:  # noqa: BLE001 - never fail the caller
        print(f"warning: make-quantized-fixtures: {e}; fixtures not written", file=sys.stderr)
        sys.exit(0)
