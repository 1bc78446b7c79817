#!/usr/bin/env python3
"""Measures `weft run` against onnxruntime on whole models, single thread.

Run through scripts/bench/run.sh, which builds weft and prepares the models:

    scripts/bench/run.sh [--runs N] [--engine E] [--models a,b,...]

For each model, in one run of this script and on the same inputs:

  weft   `weft run MODEL --input NAME=FILE ... --bench N [--engine E]`;
         the `median: X ms` line it prints (N timed runs after a warm-up
         run; the import of the model is not timed), and with the JIT the
         compile time of its `jit: compiled N kernels in X ms` line.
  ort    onnxruntime, CPUExecutionProvider, intra_op_num_threads=1,
         inter_op_num_threads=1, sequential execution, default graph
         optimizations: one warm-up `sess.run`, then the median of N timed
         `sess.run` calls (time.perf_counter around each call).

The engine flag is passed only if `weft run --help` shows --engine; by
default the script picks `jit` when the help lists it, else it leaves the
engine to weft's default.

FLOPs are counted from the ONNX graph, with the shapes of one run on the
same inputs (onnxruntime, every needed intermediate made a graph output):
MatMul 2*M*N*K per batch element, Gemm 2*M*N*K, Conv 2*N*C_out*H_out*W_out*
(C_in/group)*kH*kW; every other op is ignored. GFLOP/s = that count / median.

Prints a table: model, GFLOP per run, the JIT's compile time, weft median,
ort median, ratio weft/ort, and the GFLOP/s of each.
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort

ROOT = Path(__file__).resolve().parents[2]
MODELS_DIR = Path(os.environ.get("WEFT_MODELS_DIR", ROOT / "target" / "models"))


@dataclass
class Model:
    name: str
    onnx: Path
    inputs_dir: Path

    def inputs(self) -> dict[str, Path]:
        """The input files: every NAME.npy of the inputs directory."""
        return {p.stem: p for p in sorted(self.inputs_dir.glob("*.npy"))}


MODELS = [
    Model(
        "minilm-l3 (seq 128)",
        MODELS_DIR / "minilm" / "paraphrase_minilm_l3_v2.onnx",
        MODELS_DIR / "minilm" / "paraphrase_minilm_l3_v2" / "inputs" / "batch1",
    ),
    Model(
        "vit_tiny (testsuite)",
        ROOT / "testsuite" / "models" / "vit_tiny_opset17.onnx",
        ROOT / "testsuite" / "models" / "vit_tiny_opset17" / "inputs" / "batch1",
    ),
    Model(
        "deit_tiny (224x224)",
        ROOT / "target" / "bench" / "deit_tiny.onnx",
        ROOT / "target" / "bench" / "deit_tiny" / "inputs",
    ),
    Model(
        "deit_base (224x224)",
        ROOT / "target" / "bench" / "deit_base.onnx",
        ROOT / "target" / "bench" / "deit_base" / "inputs",
    ),
]

MEDIAN = re.compile(r"^median: ([0-9.]+) ms$", re.MULTILINE)
COMPILED = re.compile(r"^jit: compiled [0-9]+ kernels in ([0-9.]+) ms", re.MULTILINE)
POSSIBLE = re.compile(r"--engine <ENGINE>[^\n]*\[possible values: ([^\]]*)\]")


# --- weft ---------------------------------------------------------------------


def engines(weft: str) -> list[str] | None:
    """The engines weft lists: None when `weft run --help` has no --engine
    (the values are read from the one-line form, `weft run -h`)."""
    long_help = subprocess.run([weft, "run", "--help"], capture_output=True, text=True, check=True)
    if "--engine" not in long_help.stdout:
        return None
    short_help = subprocess.run([weft, "run", "-h"], capture_output=True, text=True, check=True)
    found = POSSIBLE.search(short_help.stdout)
    return [e.strip() for e in found.group(1).split(",")] if found else []


def engine_flag(weft: str, asked: str | None) -> list[str]:
    """`--engine E` for the weft command line, or nothing (see the module doc)."""
    known = engines(weft)
    if asked is not None:
        if known is None:
            sys.exit(f"run.py: --engine {asked}: `weft run --help` shows no --engine flag")
        if known and asked not in known:
            sys.exit(f"run.py: --engine {asked}: weft knows {', '.join(known)}")
        return ["--engine", asked]
    if known and "jit" in known:
        return ["--engine", "jit"]
    return []


def weft_median(weft: str, model: Model, runs: int, engine: list[str]) -> tuple[float, float | None]:
    """The median seconds of one `weft run` of the model over `runs` runs,
    and the JIT's compile seconds (None for another engine)."""
    cmd = [weft, "run", str(model.onnx), "--bench", str(runs), *engine]
    for name, path in model.inputs().items():
        cmd += ["--input", f"{name}={path}"]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        sys.exit(f"run.py: {' '.join(cmd)} failed ({proc.returncode}):\n{proc.stderr}")
    found = MEDIAN.search(proc.stdout)
    if not found:
        sys.exit(f"run.py: no 'median: X ms' line in the output of {' '.join(cmd)}:\n{proc.stdout}")
    compiled = COMPILED.search(proc.stdout)
    return float(found.group(1)) / 1e3, float(compiled.group(1)) / 1e3 if compiled else None


# --- onnxruntime --------------------------------------------------------------


def session(model_bytes: bytes, optimize: bool) -> ort.InferenceSession:
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    opts.inter_op_num_threads = 1
    opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    if not optimize:
        opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    return ort.InferenceSession(model_bytes, opts, providers=["CPUExecutionProvider"])


def feeds(model: Model) -> dict[str, np.ndarray]:
    return {name: np.load(path) for name, path in model.inputs().items()}


def ort_median(model: Model, runs: int) -> float:
    """The median seconds of `sess.run` over `runs` calls after a warm-up."""
    sess = session(model.onnx.read_bytes(), optimize=True)
    inputs = feeds(model)
    sess.run(None, inputs)
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        sess.run(None, inputs)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


# --- FLOPs --------------------------------------------------------------------

COUNTED = {"MatMul", "Gemm", "Conv"}


def needed_values(graph: onnx.GraphProto) -> set[str]:
    """The values whose shapes the FLOP count needs."""
    names = set()
    for node in graph.node:
        if node.op_type in COUNTED:
            names.update(node.input[:2])
            if node.op_type == "Conv":
                names.add(node.output[0])
    return names


def shapes_of_one_run(model: Model) -> dict[str, tuple[int, ...]]:
    """The shapes of the values the FLOP count needs, from one onnxruntime
    run (no graph optimizations) with those values as extra outputs."""
    proto = onnx.load(str(model.onnx))
    graph = proto.graph
    shapes = {t.name: tuple(t.dims) for t in graph.initializer}
    inputs = feeds(model)
    shapes.update({name: tuple(a.shape) for name, a in inputs.items()})
    wanted = sorted(needed_values(graph) - shapes.keys())
    inferred = onnx.shape_inference.infer_shapes(proto)
    elem = {v.name: v.type.tensor_type.elem_type for v in inferred.graph.value_info}
    elem.update({v.name: v.type.tensor_type.elem_type for v in graph.output})
    present = {o.name for o in graph.output}
    for name in wanted:
        if name not in present:
            graph.output.append(helper_value_info(name, elem.get(name) or onnx.TensorProto.FLOAT))
    sess = session(proto.SerializeToString(), optimize=False)
    names = [o.name for o in sess.get_outputs()]
    for name, value in zip(names, sess.run(None, inputs)):
        shapes[name] = tuple(np.shape(value))
    return shapes


def helper_value_info(name: str, elem_type: int) -> onnx.ValueInfoProto:
    return onnx.helper.make_tensor_value_info(name, elem_type, None)


def matmul_flops(a: tuple[int, ...], b: tuple[int, ...]) -> int:
    """2*M*N*K per element of the broadcast batch (1-d operands as numpy)."""
    a2 = (1, *a) if len(a) == 1 else a
    b2 = (*b, 1) if len(b) == 1 else b
    m, k = a2[-2], a2[-1]
    n = b2[-1]
    batch = np.broadcast_shapes(a2[:-2], b2[:-2])
    return 2 * m * n * k * int(np.prod(batch, dtype=np.int64))


def node_flops(node: onnx.NodeProto, shapes: dict[str, tuple[int, ...]]) -> int:
    attrs = {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}
    a, b = shapes[node.input[0]], shapes[node.input[1]]
    if node.op_type == "MatMul":
        return matmul_flops(a, b)
    if node.op_type == "Gemm":
        m, k = (a[1], a[0]) if attrs.get("transA", 0) else (a[0], a[1])
        n = b[0] if attrs.get("transB", 0) else b[1]
        return 2 * m * n * k
    # Conv: X [N, C, ...], W [C_out, C/group, k...], Y [N, C_out, out...].
    y = shapes[node.output[0]]
    return 2 * int(np.prod(y, dtype=np.int64)) * int(np.prod(b[1:], dtype=np.int64))


def count_flops(model: Model) -> int:
    shapes = shapes_of_one_run(model)
    graph = onnx.load(str(model.onnx), load_external_data=False).graph
    return sum(node_flops(n, shapes) for n in graph.node if n.op_type in COUNTED)


# --- Report -------------------------------------------------------------------


def cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--weft", default=str(ROOT / "target" / "release" / "weft"))
    parser.add_argument("--runs", type=int, default=10, help="timed runs per tool and model (default 10)")
    parser.add_argument("--engine", help="weft's engine (default: jit if weft has it, else weft's default)")
    parser.add_argument(
        "--models",
        help="comma-separated substrings of model names to run (default: all)",
    )
    args = parser.parse_args()
    if args.runs < 1:
        sys.exit("run.py: --runs must be at least 1")
    engine = engine_flag(args.weft, args.engine)
    chosen = MODELS
    if args.models:
        keys = [k.strip() for k in args.models.split(",") if k.strip()]
        chosen = [m for m in MODELS if any(k in m.name for k in keys)]
    engine_text = " ".join(engine) if engine else "(weft's default engine)"
    print(f"weft run {engine_text} --bench {args.runs} vs onnxruntime {ort.__version__} "
          f"(1 intra-op thread, 1 inter-op thread, sequential, default optimizations)")
    print(f"{cpu_name()}, {os.cpu_count()} logical CPUs; medians of {args.runs} runs after a warm-up")
    print("FLOPs: MatMul/Gemm/Conv only (2*M*N*K); other ops ignored")
    header = (
        f"{'model':<22} {'GFLOP':>7} {'compile ms':>11} {'weft ms':>11} {'ort ms':>9} {'weft/ort':>9} "
        f"{'weft GFLOP/s':>13} {'ort GFLOP/s':>12}"
    )
    print(header)
    print("-" * len(header))
    for model in chosen:
        if not model.onnx.is_file() or not model.inputs():
            print(f"{model.name:<22} (missing: {model.onnx} or its inputs; skipped)")
            continue
        flops = count_flops(model)
        weft_s, compile_s = weft_median(args.weft, model, args.runs, engine)
        ort_s = ort_median(model, args.runs)
        gflop = flops / 1e9
        compile_text = f"{compile_s * 1e3:.1f}" if compile_s is not None else "-"
        print(
            f"{model.name:<22} {gflop:>7.3f} {compile_text:>11} {weft_s * 1e3:>11.2f} {ort_s * 1e3:>9.2f} "
            f"{weft_s / ort_s:>8.1f}x {gflop / weft_s:>13.2f} {gflop / ort_s:>12.2f}",
            flush=True,
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
