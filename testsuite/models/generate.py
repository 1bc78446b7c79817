#!/usr/bin/env python3
"""Generates small Transformer models shaped like PyTorch's ONNX exports, their
inputs, and onnxruntime's outputs for them.

The graphs follow, node for node, what `torch.onnx.export` (TorchScript
exporter, eval mode, dynamic batch/sequence axes) emits for Hugging Face's
BertModel and ViTForImageClassification: Gather embeddings, Slice of the
position-id buffer, the Shape/Gather/Unsqueeze/Concat chains that compute
Reshape and Expand shapes from symbolic dims (Expand with the exporter's
ConstantOfShape/Mul/Equal/Where handling of -1), the attention-mask chain
(Unsqueeze, Unsqueeze, Cast, Sub from 1, Mul by float32's lowest value),
MatMul+Add projections, Reshape/Transpose to heads, Div by sqrt(head size),
Softmax, Erf GELU, LayerNormalization (opset 17) or its decomposition
(opset 14), residual Adds, Gather+Gemm(+Tanh) heads. Names follow the
exporter's scheme (`/encoder/layer.0/attention/self/query/MatMul`,
`<node>_output_0`, parameters named after the module path). The weights are
random (fixed seeds), so the numbers mean nothing; the structure is the point.

Writes, under testsuite/models/:

    <model>.onnx
    <model>/inputs/<case>/<input>.npy      (case: batch1, batch2)
    <model>/expected/<case>/<output>.npy   (onnxruntime, 1 thread, no graph
                                            optimizations)
    models.json                            the manifest

Run with the pinned environment (scripts/setup-python.sh):

    $(scripts/setup-python.sh --print-python) testsuite/models/generate.py

Deterministic: the same pinned versions produce the same bytes.
"""

from __future__ import annotations

import json
import shutil
import sys
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto, helper, numpy_helper

HERE = Path(__file__).resolve().parent

RTOL = 1e-4
ATOL = 1e-5

FLOAT32_LOWEST = float(np.finfo(np.float32).min)


class GraphBuilder:
    """Builds an ONNX graph with the TorchScript exporter's naming scheme.

    Node names are `<scope>/<OpType>` with `_<k>` appended for the k-th
    repeat of an op type in a scope; a node's outputs are
    `<node name>_output_<i>`. Scalars and shape constants are Constant nodes,
    parameters are initializers, module buffers are unscoped Constant nodes, as
    the exporter does.
    """

    def __init__(self, rng: np.random.RandomState):
        self.rng = rng
        self.nodes: list[onnx.NodeProto] = []
        self.initializers: list[TensorProto] = []
        self.scopes: list[str] = []
        self.counts: dict[str, int] = {}
        self.matmul_weights = 0
        self.buffers = 0

    @contextmanager
    def scope(self, name: str):
        self.scopes.append(name)
        try:
            yield
        finally:
            self.scopes.pop()

    def node(self, op_type: str, inputs: list[str], outputs: int = 1, **attrs) -> str | list[str]:
        base = "/" + "/".join(self.scopes + [op_type]) if self.scopes else f"/{op_type}"
        k = self.counts.get(base, 0)
        self.counts[base] = k + 1
        name = base if k == 0 else f"{base}_{k}"
        outs = [f"{name}_output_{i}" for i in range(outputs)]
        self.nodes.append(helper.make_node(op_type, inputs, outs, name=name, **attrs))
        return outs[0] if outputs == 1 else outs

    def const(self, value, dtype) -> str:
        array = np.array(value, dtype=dtype)
        return self.node("Constant", [], value=numpy_helper.from_array(array))

    def ints(self, *values: int) -> str:
        return self.const(list(values), np.int64)

    def scalar(self, value: float) -> str:
        return self.const(value, np.float32)

    def buffer(self, array: np.ndarray, consumer: str) -> str:
        """A module buffer (not a parameter): the exporter emits an unscoped
        Constant node whose output is named `onnx::<consumer op>_<n>`."""
        self.buffers += 1
        name = f"Constant_{self.buffers}"
        output = f"onnx::{consumer}_{self.buffers}"
        value = numpy_helper.from_array(array)
        self.nodes.append(helper.make_node("Constant", [], [output], name=name, value=value))
        return output

    def param(self, name: str, array: np.ndarray) -> str:
        self.initializers.append(numpy_helper.from_array(array, name))
        return name

    def random(self, name: str, shape: tuple[int, ...], scale: float, mean: float = 0.0) -> str:
        array = (mean + scale * self.rng.standard_normal(shape)).astype(np.float32)
        return self.param(name, array)

    # --- Exporter patterns -------------------------------------------------

    def dim(self, tensor: str, index: int) -> str:
        """`x.size(i)`: Shape, Gather of a scalar index (a 0-d int64)."""
        shape = self.node("Shape", [tensor])
        return self.node("Gather", [shape, self.const(index, np.int64)], axis=0)

    def unsqueeze0(self, scalar: str) -> str:
        return self.node("Unsqueeze", [scalar, self.ints(0)])

    def shape_of(self, parts: list[str | int]) -> str:
        """A 1-d shape from traced scalar dims (str) and literal ints: Concat."""
        pieces = [self.unsqueeze0(p) if isinstance(p, str) else self.ints(p) for p in parts]
        return self.node("Concat", pieces, axis=0)

    def expand(self, tensor: str, parts: list[str | int]) -> str:
        """`x.expand(*sizes)` as exported: -1 sizes become 1 through Where."""
        sizes = self.node("Reshape", [self.shape_of(parts), self.ints(-1)])
        ones = self.node(
            "ConstantOfShape",
            [self.node("Shape", [sizes])],
            value=numpy_helper.from_array(np.array([1], dtype=np.int64)),
        )
        neg_ones = self.node("Mul", [ones, self.const(-1, np.int64)])
        is_neg = self.node("Equal", [sizes, neg_ones])
        sizes = self.node("Where", [is_neg, ones, sizes])
        return self.node("Expand", [tensor, sizes])

    def linear(self, module: str, x: str, fan_in: int, fan_out: int) -> str:
        """nn.Linear on a 3-d input: MatMul by the transposed weight, Add bias."""
        with self.scope(module.split(".")[-1]):
            self.matmul_weights += 1
            weight = self.random(
                f"onnx::MatMul_{self.matmul_weights}", (fan_in, fan_out), fan_in**-0.5
            )
            bias = self.random(f"{module}.bias", (fan_out,), 0.05)
            product = self.node("MatMul", [x, weight])
            return self.node("Add", [bias, product])

    def gemm(self, module: str, x: str, fan_in: int, fan_out: int) -> str:
        """nn.Linear on a 2-d input: Gemm with transB=1."""
        with self.scope(module.split(".")[-1]):
            weight = self.random(f"{module}.weight", (fan_out, fan_in), fan_in**-0.5)
            bias = self.random(f"{module}.bias", (fan_out,), 0.05)
            return self.node("Gemm", [x, weight, bias], alpha=1.0, beta=1.0, transB=1)

    def layer_norm(self, module: str, x: str, width: int, eps: float, fused: bool) -> str:
        with self.scope(module.split(".")[-1]):
            gamma = self.random(f"{module}.weight", (width,), 0.1, mean=1.0)
            beta = self.random(f"{module}.bias", (width,), 0.1)
            if fused:
                return self.node("LayerNormalization", [x, gamma, beta], axis=-1, epsilon=eps)
            # What the exporter emits below opset 17.
            mean = self.node("ReduceMean", [x], axes=[-1], keepdims=1)
            centered = self.node("Sub", [x, mean])
            square = self.node("Pow", [centered, self.scalar(2.0)])
            var = self.node("ReduceMean", [square], axes=[-1], keepdims=1)
            std = self.node("Sqrt", [self.node("Add", [var, self.scalar(eps)])])
            normed = self.node("Div", [centered, std])
            return self.node("Add", [self.node("Mul", [normed, gamma]), beta])

    def gelu(self, x: str) -> str:
        """The erf GELU: x * 0.5 * (1 + erf(x / sqrt(2)))."""
        scaled = self.node("Div", [x, self.scalar(1.4142135381698608)])
        shifted = self.node("Add", [self.node("Erf", [scaled]), self.scalar(1.0)])
        return self.node("Mul", [self.node("Mul", [x, shifted]), self.scalar(0.5)])


@dataclass
class Config:
    hidden: int = 64
    heads: int = 4
    layers: int = 2
    intermediate: int = 256
    eps: float = 1e-12

    @property
    def head_size(self) -> int:
        return self.hidden // self.heads


def split_heads(b: GraphBuilder, x: str, cfg: Config, key: bool) -> str:
    """transpose_for_scores: Reshape to [b, s, heads, head], Transpose.

    The key is transposed further for QK^T; the exporter folds the two
    transposes into one perm.
    """
    batch, seq = b.dim(x, 0), b.dim(x, 1)
    shaped = b.node("Reshape", [x, b.shape_of([batch, seq, cfg.heads, cfg.head_size])])
    return b.node("Transpose", [shaped], perm=[0, 2, 3, 1] if key else [0, 2, 1, 3])


def sdpa_scores(b: GraphBuilder, qh: str, kh: str) -> str:
    """`scaled_dot_product_attention`'s scores as torch.onnx exports them
    (opset 14 symbolic): the scale 1/sqrt(d) from the query's traced shape
    (Shape, Slice of the last dim, Cast, Sqrt, Div, Cast), the key's last two
    axes swapped, and each operand multiplied by Sqrt(scale) before MatMul."""
    shape = b.node("Shape", [qh])
    last = b.node("Slice", [shape, b.ints(-1), b.ints(np.iinfo(np.int64).max)])
    size = b.node("Cast", [last], to=TensorProto.FLOAT)
    scale = b.node("Div", [b.const([1.0], np.float32), b.node("Sqrt", [size])])
    scale = b.node("Cast", [scale], to=TensorProto.FLOAT)
    kt = b.node("Transpose", [kh], perm=[0, 1, 3, 2])
    q_scaled = b.node("Mul", [qh, b.node("Sqrt", [scale])])
    k_scaled = b.node("Mul", [kt, b.node("Sqrt", [scale])])
    return b.node("MatMul", [q_scaled, k_scaled])


def self_attention(
    b: GraphBuilder, module: str, x: str, cfg: Config, mask: str | None, sdpa: bool = False
) -> str:
    """Multi-head self-attention of `module` (e.g. `encoder.layer.0.attention.self`),
    built in the current scope; `mask` is added to the scaled scores. With
    `sdpa`, the scores are exported as `scaled_dot_product_attention`'s."""
    q = b.linear(f"{module}.query", x, cfg.hidden, cfg.hidden)
    k = b.linear(f"{module}.key", x, cfg.hidden, cfg.hidden)
    v = b.linear(f"{module}.value", x, cfg.hidden, cfg.hidden)
    qh = split_heads(b, q, cfg, key=False)
    kh = split_heads(b, k, cfg, key=not sdpa)
    vh = split_heads(b, v, cfg, key=False)
    if sdpa:
        scores = sdpa_scores(b, qh, kh)
    else:
        scores = b.node("MatMul", [qh, kh])
        scores = b.node("Div", [scores, b.scalar(float(np.sqrt(cfg.head_size)))])
    if mask is not None:
        scores = b.node("Add", [scores, mask])
    probs = b.node("Softmax", [scores], axis=-1)
    context = b.node("MatMul", [probs, vh])
    context = b.node("Transpose", [context], perm=[0, 2, 1, 3])
    batch, seq = b.dim(context, 0), b.dim(context, 1)
    return b.node("Reshape", [context, b.shape_of([batch, seq, cfg.hidden])])


def bert_inputs_prologue(b: GraphBuilder, ids: str, max_pos: int) -> tuple[str, str]:
    """BertModel.forward before the embeddings: the sizes of input_ids and the
    default token_type_ids, a slice of a buffer expanded to [batch, seq].

    Returns (token type ids, the sequence length as a 1-d [seq])."""
    batch, seq = b.dim(ids, 0), b.dim(ids, 1)
    type_buffer = b.buffer(np.zeros((1, max_pos), dtype=np.int64), "Slice")
    seq_end = b.unsqueeze0(seq)
    types = b.node("Slice", [type_buffer, b.ints(0), seq_end, b.ints(1), b.ints(1)])
    return b.expand(types, [batch, seq]), seq


def bert_embeddings(
    b: GraphBuilder, ids: str, types: str, seq: str, cfg: Config, vocab: int, max_pos: int, fused: bool
) -> str:
    with b.scope("embeddings"):
        pos_buffer = b.buffer(np.arange(max_pos, dtype=np.int64)[None, :], "Slice")
        seq_end = b.unsqueeze0(seq)
        positions = b.node("Slice", [pos_buffer, b.ints(0), seq_end, b.ints(1), b.ints(1)])
        with b.scope("word_embeddings"):
            table = b.random("embeddings.word_embeddings.weight", (vocab, cfg.hidden), 0.5)
            words = b.node("Gather", [table, ids])
        with b.scope("token_type_embeddings"):
            table = b.random("embeddings.token_type_embeddings.weight", (2, cfg.hidden), 0.5)
            type_emb = b.node("Gather", [table, types])
        x = b.node("Add", [words, type_emb])
        with b.scope("position_embeddings"):
            table = b.random("embeddings.position_embeddings.weight", (max_pos, cfg.hidden), 0.5)
            pos_emb = b.node("Gather", [table, positions])
        x = b.node("Add", [x, pos_emb])
        return b.layer_norm("embeddings.LayerNorm", x, cfg.hidden, cfg.eps, fused)


def extended_mask(b: GraphBuilder, mask: str) -> str:
    """get_extended_attention_mask: (1 - mask[:, None, None, :]) * lowest."""
    expanded = b.node("Unsqueeze", [mask, b.ints(1)])
    expanded = b.node("Unsqueeze", [expanded, b.ints(2)])
    as_float = b.node("Cast", [expanded], to=TensorProto.FLOAT)
    inverted = b.node("Sub", [b.scalar(1.0), as_float])
    return b.node("Mul", [inverted, b.scalar(FLOAT32_LOWEST)])


def bert_layer(b: GraphBuilder, i: int, x: str, cfg: Config, mask: str, fused: bool) -> str:
    prefix = f"encoder.layer.{i}"
    with b.scope("encoder"), b.scope(f"layer.{i}"):
        with b.scope("attention"), b.scope("self"):
            attn = self_attention(b, f"{prefix}.attention.self", x, cfg, mask)
        with b.scope("attention"), b.scope("output"):
            dense = b.linear(f"{prefix}.attention.output.dense", attn, cfg.hidden, cfg.hidden)
            x = b.node("Add", [dense, x])
            x = b.layer_norm(f"{prefix}.attention.output.LayerNorm", x, cfg.hidden, cfg.eps, fused)
        with b.scope("intermediate"):
            h = b.linear(f"{prefix}.intermediate.dense", x, cfg.hidden, cfg.intermediate)
            with b.scope("intermediate_act_fn"):
                h = b.gelu(h)
        with b.scope("output"):
            dense = b.linear(f"{prefix}.output.dense", h, cfg.intermediate, cfg.hidden)
            x = b.node("Add", [dense, x])
            return b.layer_norm(f"{prefix}.output.LayerNorm", x, cfg.hidden, cfg.eps, fused)


def build_bert(seed: int, opset: int, fused_layer_norm: bool) -> onnx.ModelProto:
    cfg = Config()
    vocab, max_pos = 100, 64
    b = GraphBuilder(np.random.RandomState(seed))
    types, seq = bert_inputs_prologue(b, "input_ids", max_pos)
    mask = extended_mask(b, "attention_mask")
    x = bert_embeddings(b, "input_ids", types, seq, cfg, vocab, max_pos, fused_layer_norm)
    for i in range(cfg.layers):
        x = bert_layer(b, i, x, cfg, mask, fused_layer_norm)
    # The exporter names the graph outputs' producing values after them.
    b.nodes[-1].output[0] = "last_hidden_state"
    with b.scope("pooler"):
        first = b.node("Gather", ["last_hidden_state", b.const(0, np.int64)], axis=1)
        pooled = b.gemm("pooler.dense", first, cfg.hidden, cfg.hidden)
        with b.scope("activation"):
            b.node("Tanh", [pooled])
        b.nodes[-1].output[0] = "pooler_output"
    inputs = [
        helper.make_tensor_value_info("input_ids", TensorProto.INT64, ["batch", "sequence"]),
        helper.make_tensor_value_info("attention_mask", TensorProto.INT64, ["batch", "sequence"]),
    ]
    outputs = [
        helper.make_tensor_value_info(
            "last_hidden_state", TensorProto.FLOAT, ["batch", "sequence", cfg.hidden]
        ),
        helper.make_tensor_value_info("pooler_output", TensorProto.FLOAT, ["batch", cfg.hidden]),
    ]
    ln = "LayerNormalization" if fused_layer_norm else "decomposed LayerNorm"
    doc = (
        f"BERT-like encoder ({cfg.layers} layers, hidden {cfg.hidden}, {cfg.heads} heads, "
        f"vocab {vocab}, {ln}) shaped like torch.onnx.export of transformers' BertModel "
        f"at opset {opset}; random weights (seed {seed})."
    )
    return finish_model(b, "main_graph", inputs, outputs, opset, doc)


def vit_patches(b: GraphBuilder, pixels: str, cfg: Config, patch: int, patches: int) -> str:
    with b.scope("embeddings"):
        with b.scope("patch_embeddings"), b.scope("projection"):
            weight = b.random(
                "vit.embeddings.patch_embeddings.projection.weight",
                (cfg.hidden, 3, patch, patch),
                (3 * patch * patch) ** -0.5,
            )
            bias = b.random("vit.embeddings.patch_embeddings.projection.bias", (cfg.hidden,), 0.05)
            conv = b.node(
                "Conv",
                [pixels, weight, bias],
                dilations=[1, 1],
                group=1,
                kernel_shape=[patch, patch],
                pads=[0, 0, 0, 0],
                strides=[patch, patch],
            )
        with b.scope("patch_embeddings"):
            # flatten(2): Reshape to shape[:2] + [-1].
            leading = b.node("Slice", [b.node("Shape", [conv]), b.ints(0), b.ints(2), b.ints(0)])
            flat_shape = b.node("Concat", [leading, b.ints(-1)], axis=0)
            flat = b.node("Reshape", [conv, flat_shape])
            tokens = b.node("Transpose", [flat], perm=[0, 2, 1])
        batch = b.dim(pixels, 0)
        cls = b.random("vit.embeddings.cls_token", (1, 1, cfg.hidden), 0.5)
        cls_tokens = b.expand(cls, [batch, -1, -1])
        x = b.node("Concat", [cls_tokens, tokens], axis=1)
        pos = b.random("vit.embeddings.position_embeddings", (1, patches + 1, cfg.hidden), 0.5)
        return b.node("Add", [x, pos])


def vit_layer(b: GraphBuilder, i: int, x: str, cfg: Config, sdpa: bool) -> str:
    prefix = f"vit.encoder.layer.{i}"
    with b.scope("encoder"), b.scope(f"layer.{i}"):
        h = b.layer_norm(f"{prefix}.layernorm_before", x, cfg.hidden, cfg.eps, True)
        with b.scope("attention"), b.scope("attention"):
            attn = self_attention(b, f"{prefix}.attention.attention", h, cfg, None, sdpa)
        with b.scope("attention"), b.scope("output"):
            attn = b.linear(f"{prefix}.attention.output.dense", attn, cfg.hidden, cfg.hidden)
        x = b.node("Add", [attn, x])
        h = b.layer_norm(f"{prefix}.layernorm_after", x, cfg.hidden, cfg.eps, True)
        with b.scope("intermediate"):
            h = b.linear(f"{prefix}.intermediate.dense", h, cfg.hidden, cfg.intermediate)
            with b.scope("intermediate_act_fn"):
                h = b.gelu(h)
        with b.scope("output"):
            h = b.linear(f"{prefix}.output.dense", h, cfg.intermediate, cfg.hidden)
            return b.node("Add", [h, x])


def build_vit(seed: int, sdpa: bool = False) -> onnx.ModelProto:
    cfg = Config()
    image, patch, labels = 32, 8, 10
    patches = (image // patch) ** 2
    b = GraphBuilder(np.random.RandomState(seed))
    with b.scope("vit"):
        x = vit_patches(b, "pixel_values", cfg, patch, patches)
        for i in range(cfg.layers):
            x = vit_layer(b, i, x, cfg, sdpa)
        b.layer_norm("vit.layernorm", x, cfg.hidden, cfg.eps, True)
        b.nodes[-1].output[0] = "last_hidden_state"
    first = b.node("Gather", ["last_hidden_state", b.const(0, np.int64)], axis=1)
    b.gemm("classifier", first, cfg.hidden, labels)
    b.nodes[-1].output[0] = "logits"
    inputs = [
        helper.make_tensor_value_info(
            "pixel_values", TensorProto.FLOAT, ["batch", 3, image, image]
        )
    ]
    outputs = [
        helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["batch", labels]),
        helper.make_tensor_value_info(
            "last_hidden_state", TensorProto.FLOAT, ["batch", patches + 1, cfg.hidden]
        ),
    ]
    doc = (
        f"ViT-like classifier (image {image}x{image}, patch {patch}, {cfg.layers} layers, "
        f"hidden {cfg.hidden}, {cfg.heads} heads, {labels} labels) shaped like "
        f"torch.onnx.export of transformers' ViTForImageClassification at opset 17"
        + (" with attn_implementation=\"sdpa\" (scaled_dot_product_attention)" if sdpa else "")
        + f"; random weights (seed {seed})."
    )
    return finish_model(b, "main_graph", inputs, outputs, 17, doc)


def finish_model(b: GraphBuilder, name, inputs, outputs, opset: int, doc: str) -> onnx.ModelProto:
    graph = helper.make_graph(b.nodes, name, inputs, outputs, initializer=b.initializers)
    opsets = [helper.make_opsetid("", opset)]
    model = helper.make_model(
        graph,
        opset_imports=opsets,
        producer_name="weft-testsuite",
        producer_version="1",
        doc_string=doc,
        ir_version=helper.find_min_ir_version_for(opsets),
    )
    onnx.checker.check_model(model, full_check=True)
    return model


# --- Inputs and reference outputs ---------------------------------------------


def bert_inputs(seed: int) -> dict[str, dict[str, np.ndarray]]:
    """batch1: one sequence of 7; batch2: lengths 10 and 6 (padded to 10).

    Token ids: CLS=1, SEP=2, PAD=0, the rest random in [3, 100).
    """
    rng = np.random.RandomState(seed)

    def sequence(length: int, padded: int) -> tuple[list[int], list[int]]:
        ids = [1] + list(rng.randint(3, 100, size=length - 2)) + [2]
        pad = padded - length
        return ids + [0] * pad, [1] * length + [0] * pad

    def batch(lengths: list[int]) -> dict[str, np.ndarray]:
        longest = max(lengths)
        rows = [sequence(n, longest) for n in lengths]
        return {
            "input_ids": np.array([r[0] for r in rows], dtype=np.int64),
            "attention_mask": np.array([r[1] for r in rows], dtype=np.int64),
        }

    return {"batch1": batch([7]), "batch2": batch([10, 6])}


def vit_inputs(seed: int) -> dict[str, dict[str, np.ndarray]]:
    rng = np.random.RandomState(seed)

    def images(n: int) -> dict[str, np.ndarray]:
        return {"pixel_values": rng.standard_normal((n, 3, 32, 32)).astype(np.float32)}

    return {"batch1": images(1), "batch2": images(2)}


def session(model: onnx.ModelProto) -> ort.InferenceSession:
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    return ort.InferenceSession(
        model.SerializeToString(), options, providers=["CPUExecutionProvider"]
    )


def run(sess: ort.InferenceSession, feeds: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    names = [o.name for o in sess.get_outputs()]
    return dict(zip(names, sess.run(names, feeds)))


def check_padding_is_masked(sess: ort.InferenceSession, cases) -> None:
    """The padded row of batch2 must match that sequence run alone: checks
    that the attention-mask chain masks what it should."""
    feeds = cases["batch2"]
    length = int(feeds["attention_mask"][1].sum())
    alone = {name: value[1:2, :length] for name, value in feeds.items()}
    padded = run(sess, feeds)["last_hidden_state"][1, :length]
    single = run(sess, alone)["last_hidden_state"][0]
    if not np.allclose(padded, single, rtol=1e-5, atol=1e-5):
        raise AssertionError("padding changes the unpadded positions' outputs")


@dataclass
class ModelSpec:
    name: str
    build: object
    inputs: object
    checks: list = field(default_factory=list)


MODELS = [
    ModelSpec("bert_tiny_opset17", lambda: build_bert(17, 17, True), lambda: bert_inputs(1017),
              [check_padding_is_masked]),
    ModelSpec("vit_tiny_opset17", lambda: build_vit(2017), lambda: vit_inputs(3017)),
    ModelSpec("bert_tiny_opset14", lambda: build_bert(17, 14, False), lambda: bert_inputs(1017),
              [check_padding_is_masked]),
    ModelSpec("vit_tiny_sdpa_opset17", lambda: build_vit(2017, sdpa=True), lambda: vit_inputs(3017)),
]


def value_info_json(value: onnx.ValueInfoProto) -> dict:
    tensor = value.type.tensor_type
    dims = [d.dim_param if d.HasField("dim_param") else d.dim_value for d in tensor.shape.dim]
    dtype = helper.tensor_dtype_to_np_dtype(tensor.elem_type).name
    return {"name": value.name, "dtype": dtype, "shape": dims}


def save_npy(path: Path, array: np.ndarray) -> str:
    path.parent.mkdir(parents=True, exist_ok=True)
    np.save(path, np.ascontiguousarray(array), allow_pickle=False)
    return path.relative_to(HERE).as_posix()


def generate(spec: ModelSpec) -> dict:
    model = spec.build()
    model_path = HERE / f"{spec.name}.onnx"
    model_path.write_bytes(model.SerializeToString())
    out_dir = HERE / spec.name
    if out_dir.exists():
        shutil.rmtree(out_dir)
    sess = session(model)
    cases = spec.inputs()
    for check in spec.checks:
        check(sess, cases)
    case_entries = []
    for case, feeds in cases.items():
        outputs = run(sess, feeds)
        case_entries.append(
            {
                "name": case,
                "inputs": {n: save_npy(out_dir / "inputs" / case / f"{n}.npy", v) for n, v in feeds.items()},
                "expected": {n: save_npy(out_dir / "expected" / case / f"{n}.npy", v) for n, v in outputs.items()},
            }
        )
    size = model_path.stat().st_size
    print(f"{spec.name}: {len(model.graph.node)} nodes, {size} bytes", file=sys.stderr)
    return {
        "name": spec.name,
        "model": model_path.name,
        "opset": model.opset_import[0].version,
        "doc": model.doc_string,
        "inputs": [value_info_json(v) for v in model.graph.input],
        "outputs": [value_info_json(v) for v in model.graph.output],
        "rtol": RTOL,
        "atol": ATOL,
        "cases": case_entries,
    }


def main() -> int:
    entries = [generate(spec) for spec in MODELS]
    manifest = {
        "generator": "testsuite/models/generate.py",
        "reference": f"onnxruntime {ort.__version__} (CPU, 1 thread, ORT_DISABLE_ALL)",
        "comparison": "|actual - expected| <= atol + rtol * |expected|, elementwise",
        "models": entries,
    }
    text = json.dumps(manifest, indent=2) + "\n"
    (HERE / "models.json").write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
