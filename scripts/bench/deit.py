"""DeiT-sized ViT classifiers and fixed inputs for the run benchmark,
shared by make_deit_tiny.py and make_deit_base.py.

The graph is built by the model fixtures' generator (testsuite/models/
generate.py): the same GraphBuilder and the same ViT functions as its
vit_tiny_opset17 (Conv patch embedding, flatten/Transpose, CLS token
through the exporter's Expand chain, position embeddings, pre-norm encoder
layers with LayerNormalization, erf GELU, final LayerNorm, Gather of the
CLS token and a Gemm classifier), sized by a `Spec`: patch 16, 224x224
images (196 patches + CLS), 1000 classes, opset 17, dynamic batch. The
weights are random with a fixed seed, so the numbers mean nothing; the
shapes and the work are the point.

Each spec writes target/bench/NAME.onnx and the input
target/bench/NAME/inputs/pixel_values.npy (1x3x224x224 float32, standard
normal, fixed seed). Existing files are kept when the model has the
expected doc string, so repeated benchmark runs do not regenerate them;
--force rebuilds.
"""

from __future__ import annotations

import argparse
import io
import sys
from dataclasses import dataclass
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
OUT_DIR = ROOT / "target" / "bench"


@dataclass
class Spec:
    """One DeiT size: `name` names the files, `title` the doc string."""

    name: str
    title: str
    config: "fixtures.Config"
    script: str

    @property
    def model(self) -> Path:
        return OUT_DIR / f"{self.name}.onnx"

    @property
    def input(self) -> Path:
        return OUT_DIR / self.name / "inputs" / "pixel_values.npy"

    @property
    def doc(self) -> str:
        cfg = self.config
        return (
            f"{self.title} ViT classifier (image {IMAGE}x{IMAGE}, patch {PATCH}, "
            f"{cfg.layers} layers, hidden {cfg.hidden}, {cfg.heads} heads, "
            f"MLP {cfg.intermediate}, {LABELS} labels) shaped like torch.onnx.export of "
            f"transformers' ViTForImageClassification at opset {OPSET}; random weights "
            f"(seed {SEED}). Written by scripts/bench/{self.script} for the run benchmark."
        )


def build(spec: Spec) -> "fixtures.onnx.ModelProto":
    """fixtures.build_vit with the spec's sizes."""
    cfg = spec.config
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
    return fixtures.finish_model(b, "main_graph", inputs, outputs, OPSET, spec.doc)


def pixel_values() -> np.ndarray:
    rng = np.random.RandomState(INPUT_SEED)
    return rng.standard_normal((1, 3, IMAGE, IMAGE)).astype(np.float32)


def up_to_date(spec: Spec) -> bool:
    """True when the model and input exist and the model has this spec's settings."""
    if not (spec.model.is_file() and spec.input.is_file()):
        return False
    import onnx

    try:
        model = onnx.load(str(spec.model), load_external_data=False)
    except Exception:  # noqa: BLE001  (any unreadable file is rebuilt)
        return False
    return model.doc_string == spec.doc


def write_atomically(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_bytes(data)
    tmp.replace(path)


def npy_bytes(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, array)
    return buffer.getvalue()


def main(spec: Spec, description: str) -> int:
    """The command line of a make_deit_*.py script."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--force", action="store_true", help="rebuild even when the files are up to date")
    args = parser.parse_args()
    if not args.force and up_to_date(spec):
        print(f"{spec.model}: up to date ({spec.model.stat().st_size} bytes)", file=sys.stderr)
        return 0
    model = build(spec)
    # The input first: the model's doc string is what marks both as done.
    write_atomically(spec.input, npy_bytes(pixel_values()))
    write_atomically(spec.model, model.SerializeToString())
    params = sum(int(np.prod(t.dims)) for t in model.graph.initializer)
    print(
        f"{spec.model}: {len(model.graph.node)} nodes, {params} parameters, {spec.model.stat().st_size} bytes",
        file=sys.stderr,
    )
    return 0
