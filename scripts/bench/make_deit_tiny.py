#!/usr/bin/env python3
"""Generates a DeiT-tiny-sized ViT and a fixed input for the run benchmark.

The graph is built by the model fixtures' generator (testsuite/models/
generate.py): the same GraphBuilder and the same ViT functions as its
vit_tiny_opset17 (Conv patch embedding, flatten/Transpose, CLS token
through the exporter's Expand chain, position embeddings, pre-norm encoder
layers with LayerNormalization, erf GELU, final LayerNorm, Gather of the
CLS token and a Gemm classifier), only sized like DeiT-tiny
(facebook/deit-tiny-patch16-224): 12 layers, hidden 192, 3 heads, MLP 768,
patch 16, 224x224 images (196 patches + CLS), 1000 classes, opset 17,
dynamic batch. The weights are random with a fixed seed (about 5.7 million
float32 parameters, 23 MB), so the numbers mean nothing; the shapes and
the work are the point.

    $(scripts/setup-python.sh --print-python) scripts/bench/make_deit_tiny.py [--force]

Writes target/bench/deit_tiny.onnx and the input
target/bench/deit_tiny/inputs/pixel_values.npy (1x3x224x224 float32,
standard normal, fixed seed). Existing files are kept when the model has
the expected doc string, so repeated benchmark runs do not regenerate
them; --force rebuilds.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
from onnx import TensorProto, helper

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "testsuite" / "models"))

import generate as fixtures  # noqa: E402  (the fixture generator, see above)

SEED = 2024
INPUT_SEED = 3024
OPSET = 17
IMAGE = 224
PATCH = 16
LABELS = 1000
CONFIG = fixtures.Config(hidden=192, heads=3, layers=12, intermediate=768)
DOC = (
    f"DeiT-tiny-sized ViT classifier (image {IMAGE}x{IMAGE}, patch {PATCH}, "
    f"{CONFIG.layers} layers, hidden {CONFIG.hidden}, {CONFIG.heads} heads, "
    f"MLP {CONFIG.intermediate}, {LABELS} labels) shaped like torch.onnx.export of "
    f"transformers' ViTForImageClassification at opset {OPSET}; random weights "
    f"(seed {SEED}). Written by scripts/bench/make_deit_tiny.py for the run benchmark."
)
OUT_DIR = ROOT / "target" / "bench"
MODEL = OUT_DIR / "deit_tiny.onnx"
INPUT = OUT_DIR / "deit_tiny" / "inputs" / "pixel_values.npy"


def build() -> "fixtures.onnx.ModelProto":
    """fixtures.build_vit with DeiT-tiny's sizes."""
    cfg = CONFIG
    patches = (IMAGE // PATCH) ** 2
    b = fixtures.GraphBuilder(np.random.RandomState(SEED))
    with b.scope("vit"):
        x = fixtures.vit_patches(b, "pixel_values", cfg, PATCH, patches)
        for i in range(cfg.layers):
            x = fixtures.vit_layer(b, i, x, cfg)
        b.layer_norm("vit.layernorm", x, cfg.hidden, cfg.eps, True)
        b.nodes[-1].output[0] = "last_hidden_state"
    first = b.node("Gather", ["last_hidden_state", b.const(0, np.int64)], axis=1)
    b.gemm("classifier", first, cfg.hidden, LABELS)
    b.nodes[-1].output[0] = "logits"
    inputs = [
        helper.make_tensor_value_info("pixel_values", TensorProto.FLOAT, ["batch", 3, IMAGE, IMAGE])
    ]
    outputs = [
        helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["batch", LABELS]),
        helper.make_tensor_value_info(
            "last_hidden_state", TensorProto.FLOAT, ["batch", patches + 1, cfg.hidden]
        ),
    ]
    return fixtures.finish_model(b, "main_graph", inputs, outputs, OPSET, DOC)


def pixel_values() -> np.ndarray:
    rng = np.random.RandomState(INPUT_SEED)
    return rng.standard_normal((1, 3, IMAGE, IMAGE)).astype(np.float32)


def up_to_date() -> bool:
    """True when the model and input exist and the model has this script's settings."""
    if not (MODEL.is_file() and INPUT.is_file()):
        return False
    import onnx

    try:
        model = onnx.load(str(MODEL), load_external_data=False)
    except Exception:  # noqa: BLE001  (any unreadable file is rebuilt)
        return False
    return model.doc_string == DOC


def write_atomically(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_bytes(data)
    tmp.replace(path)


def npy_bytes(array: np.ndarray) -> bytes:
    import io

    buffer = io.BytesIO()
    np.save(buffer, array)
    return buffer.getvalue()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--force", action="store_true", help="rebuild even when the files are up to date")
    args = parser.parse_args()
    if not args.force and up_to_date():
        print(f"{MODEL}: up to date ({MODEL.stat().st_size} bytes)", file=sys.stderr)
        return 0
    model = build()
    # The input first: the model's doc string is what marks both as done.
    write_atomically(INPUT, npy_bytes(pixel_values()))
    write_atomically(MODEL, model.SerializeToString())
    params = sum(int(np.prod(t.dims)) for t in model.graph.initializer)
    print(
        f"{MODEL}: {len(model.graph.node)} nodes, {params} parameters, {MODEL.stat().st_size} bytes",
        file=sys.stderr,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
