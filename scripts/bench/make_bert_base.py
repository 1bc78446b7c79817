#!/usr/bin/env python3
"""Generates a BERT-base-sized ONNX model for the import benchmark.

The graph is built by the model fixtures' generator (testsuite/models/
generate.py): the same GraphBuilder and the same BERT functions (exporter
node patterns and names, LayerNormalization at opset 17, the pooler), only
sized like bert-base-uncased: 12 layers, hidden 768, 12 heads, FFN 3072,
vocab 30522, 512 positions, dynamic batch and sequence. The weights are
random with a fixed seed, so the file is the same on every run with the
pinned environment (scripts/requirements.txt); about 440 MB of float32.

    $(scripts/setup-python.sh --print-python) scripts/bench/make_bert_base.py [OUT.onnx]

OUT defaults to target/bench/bert_base.onnx (target/ is not committed). An
existing file is kept when it already has the expected doc string, so
repeated benchmark runs do not regenerate it; pass --force to rebuild.
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

SEED = 4242
OPSET = 17
VOCAB = 30522
MAX_POSITIONS = 512
CONFIG = fixtures.Config(hidden=768, heads=12, layers=12, intermediate=3072)
DOC = (
    f"BERT-base-sized encoder ({CONFIG.layers} layers, hidden {CONFIG.hidden}, "
    f"{CONFIG.heads} heads, FFN {CONFIG.intermediate}, vocab {VOCAB}, "
    f"{MAX_POSITIONS} positions, LayerNormalization) shaped like torch.onnx.export "
    f"of transformers' BertModel at opset {OPSET}; random weights (seed {SEED}). "
    f"Written by scripts/bench/make_bert_base.py for the import benchmark."
)


def build() -> "fixtures.onnx.ModelProto":
    """fixtures.build_bert with bert-base's sizes."""
    cfg = CONFIG
    b = fixtures.GraphBuilder(np.random.RandomState(SEED))
    types, seq = fixtures.bert_inputs_prologue(b, "input_ids", MAX_POSITIONS)
    mask = fixtures.extended_mask(b, "attention_mask")
    x = fixtures.bert_embeddings(b, "input_ids", types, seq, cfg, VOCAB, MAX_POSITIONS, True)
    for i in range(cfg.layers):
        x = fixtures.bert_layer(b, i, x, cfg, mask, True)
    b.nodes[-1].output[0] = "last_hidden_state"
    with b.scope("pooler"):
        first = b.node("Gather", ["last_hidden_state", b.const(0, np.int64)], axis=1)
        pooled = b.gemm("pooler.dense", first, cfg.hidden, cfg.hidden)
        with b.scope("activation"):
            b.node("Tanh", [pooled])
        b.nodes[-1].output[0] = "pooler_output"
    dims = ["batch", "sequence"]
    inputs = [
        helper.make_tensor_value_info("input_ids", TensorProto.INT64, dims),
        helper.make_tensor_value_info("attention_mask", TensorProto.INT64, dims),
    ]
    outputs = [
        helper.make_tensor_value_info("last_hidden_state", TensorProto.FLOAT, dims + [cfg.hidden]),
        helper.make_tensor_value_info("pooler_output", TensorProto.FLOAT, ["batch", cfg.hidden]),
    ]
    return fixtures.finish_model(b, "main_graph", inputs, outputs, OPSET, DOC)


def up_to_date(path: Path) -> bool:
    """True when `path` is a model this script wrote with the same settings."""
    if not path.is_file():
        return False
    import onnx

    try:
        model = onnx.load(str(path), load_external_data=False)
    except Exception:  # noqa: BLE001  (any unreadable file is rebuilt)
        return False
    return model.doc_string == DOC


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("out", nargs="?", default=str(ROOT / "target" / "bench" / "bert_base.onnx"))
    parser.add_argument("--force", action="store_true", help="rebuild even when the file is up to date")
    args = parser.parse_args()
    out = Path(args.out)
    if not args.force and up_to_date(out):
        print(f"{out}: up to date ({out.stat().st_size} bytes)", file=sys.stderr)
        return 0
    model = build()
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.tmp")
    tmp.write_bytes(model.SerializeToString())
    tmp.replace(out)
    params = sum(int(np.prod(t.dims)) for t in model.graph.initializer)
    print(
        f"{out}: {len(model.graph.node)} nodes, {params} parameters, {out.stat().st_size} bytes",
        file=sys.stderr,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
