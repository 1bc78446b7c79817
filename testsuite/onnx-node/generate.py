#!/usr/bin/env python3
"""Generates the ONNX backend node test cases for the operators weft supports.

Uses the onnx package's own test-case generators (onnx.backend.test.case.node,
the same `expect` mechanism that `onnx/backend/test/cmd_tools.py generate-data`
uses) and writes, for each case of a supported operator, the standard layout:

    testsuite/onnx-node/<case>/model.onnx
    testsuite/onnx-node/<case>/test_data_set_0/input_<i>.pb
    testsuite/onnx-node/<case>/test_data_set_0/output_<i>.pb

plus two generated lists:

    cases.txt    one line per kept case: `<case> <op_type> <opset>`, followed by
                 `rtol=<r> atol=<a>` only when the case's tolerance differs from
                 the node-test default (rtol 1e-3, atol 1e-7)
    skipped.txt  one line per case of a supported operator that is not kept:
                 `<case> <op_type> <reason>`

Run with the pinned environment (scripts/setup-python.sh):

    $(scripts/setup-python.sh --print-python) testsuite/onnx-node/generate.py

With `--check-onnxruntime` it also runs every kept case with onnxruntime and
reports (on stderr) the cases where onnxruntime disagrees with the expected
outputs; that changes no file.

The output is deterministic: numpy's global random state is seeded once before
the generators run (they draw from it in import order), every case directory is
rewritten from scratch, and stale case directories are removed.
"""

from __future__ import annotations

import os
import shutil
import sys
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, numpy_helper

HERE = Path(__file__).resolve().parent

SUPPORTED_OPS = frozenset(
    """
    Add Sub Mul Div Pow Sqrt Exp Log Erf Tanh Sigmoid Relu Neg Abs Reciprocal
    Max Min Clip Where Equal Less Greater LessOrEqual GreaterOrEqual And Or Not
    IsNaN Cast CastLike MatMul Gemm Conv ConvTranspose BatchNormalization Softmax
    LogSoftmax LayerNormalization Gelu ReduceMean ReduceSum ReduceMax Reshape
    Transpose Gather GatherND Concat Split Slice Squeeze Unsqueeze Flatten Expand
    Shape Size ConstantOfShape Constant Range Identity Resize Einsum HardSigmoid
    HardSwish Softplus QuantizeLinear DequantizeLinear DynamicQuantizeLinear
    MatMulInteger QLinearMatMul
    """.split()
)

# The opsets weft imports.
MIN_OPSET = 11
MAX_OPSET = 21

SUPPORTED_ELEM_TYPES = frozenset(
    {
        TensorProto.FLOAT,
        TensorProto.DOUBLE,
        TensorProto.FLOAT16,
        TensorProto.BFLOAT16,
        TensorProto.INT8,
        TensorProto.INT16,
        TensorProto.INT32,
        TensorProto.INT64,
        TensorProto.UINT8,
        TensorProto.UINT16,
        TensorProto.UINT32,
        TensorProto.UINT64,
        TensorProto.BOOL,
        TensorProto.INT4,
        TensorProto.UINT4,
    }
)

# Node-test tolerances that onnx's TestCase carries by default.
DEFAULT_RTOL = 1e-3
DEFAULT_ATOL = 1e-7

# A case whose files (model + data) exceed this is skipped as "too large".
MAX_CASE_BYTES = 256 * 1024

# onnx 1.16 exports two different cases under each of these names (a
# copy-paste slip in resize.py); the second one gets the name later onnx
# releases give it. Other duplicates would get a numeric suffix.
SECOND_OCCURRENCE_NAMES = {
    "test_resize_tf_crop_and_resize": "test_resize_tf_crop_and_resize_extrapolation_value",
    "test_resize_upsample_sizes_nearest_not_larger": "test_resize_upsample_sizes_nearest_not_smaller",
}

# Files in this directory that are not case directories.
OWN_FILES = {"generate.py", "cases.txt", "skipped.txt", "README.md", ".gitattributes"}


@dataclass
class Case:
    """One node test case: its name, tested operator and onnx TestCase."""

    name: str
    op_type: str
    test: object  # onnx.backend.test.case.test_case.TestCase


def collect_cases() -> list[Case]:
    """Runs every node test generator once, with a fixed seed, in import order."""
    np.random.seed(0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from onnx.backend.test.case import node as node_cases

        tests = node_cases.collect_testcases(None)
    cases = []
    base_op = {}
    seen = set()
    for test in tests:
        if test.kind != "node":
            continue
        op_type = tested_op_type(test, base_op)
        if "_expanded" not in test.name:
            base_op[test.name] = op_type
        name = unique_name(test.name, seen)
        test.model.graph.name = name
        seen.add(name)
        cases.append(Case(name, op_type, test))
    return cases


def unique_name(name: str, seen: set[str]) -> str:
    """The case's name, or a new one if an earlier case already took it."""
    if name not in seen:
        return name
    renamed = SECOND_OCCURRENCE_NAMES.get(name)
    if renamed is not None and renamed not in seen:
        return renamed
    k = 2
    while f"{name}_{k}" in seen:
        k += 1
    return f"{name}_{k}"


def tested_op_type(test, base_op: dict[str, str]) -> str:
    """The operator a case tests.

    A plain case has one node. An `<name>_expanded[_verN]` case is the
    function body of the operator tested by case `<name>`, which `expect`
    emits right before it.
    """
    if "_expanded" in test.name:
        base = test.name.split("_expanded", 1)[0]
        if base in base_op:
            return base_op[base]
    nodes = test.model.graph.node
    return nodes[0].op_type if len(nodes) == 1 else "?"


def model_opset(model: onnx.ModelProto) -> int | None:
    for opset in model.opset_import:
        if opset.domain in ("", "ai.onnx"):
            return opset.version
    return None


def raise_old_opset(model: onnx.ModelProto) -> None:
    """Raises a model's ai.onnx opset below MIN_OPSET to MIN_OPSET when that
    does not change any of its operators.

    `expect` exports a model at its operator's since_version, e.g. Not at opset
    1 or And at opset 7. Those operators are unchanged up to opset 21, so the
    same model is valid, with the same meaning, at opset 11 (which weft
    imports). A model whose operators did change is left alone (and skipped).
    """
    old = model_opset(model)
    if old is None or old >= MIN_OPSET:
        return
    for node in model.graph.node:
        try:
            before = onnx.defs.get_schema(node.op_type, old, node.domain)
            after = onnx.defs.get_schema(node.op_type, MIN_OPSET, node.domain)
        except onnx.defs.SchemaError:
            return
        if before.since_version != after.since_version:
            return
    for opset in model.opset_import:
        if opset.domain in ("", "ai.onnx"):
            opset.version = MIN_OPSET
    model.ir_version = max(
        model.ir_version, onnx.helper.find_min_ir_version_for(model.opset_import)
    )


def type_problem(type_proto: onnx.TypeProto) -> str | None:
    """Why a value of this type cannot be represented in weft, if it cannot."""
    kind = type_proto.WhichOneof("value")
    if kind != "tensor_type":
        return f"{kind or 'untyped'} value"
    elem = type_proto.tensor_type.elem_type
    if elem not in SUPPORTED_ELEM_TYPES:
        return f"{TensorProto.DataType.Name(elem).lower()} tensor"
    return None


def attribute_type_problems(graph: onnx.GraphProto) -> list[str]:
    """Unsupported element types named by node attributes (Cast `to`, tensors)."""
    problems = []
    for node in graph.node:
        for attr in node.attribute:
            if attr.type == onnx.AttributeProto.TENSOR:
                if attr.t.data_type not in SUPPORTED_ELEM_TYPES:
                    name = TensorProto.DataType.Name(attr.t.data_type).lower()
                    problems.append(f"{name} tensor attribute")
            elif attr.type == onnx.AttributeProto.GRAPH:
                problems.append("subgraph attribute")
            elif node.op_type in ("Cast", "CastLike") and attr.name == "to":
                if attr.i not in SUPPORTED_ELEM_TYPES:
                    name = TensorProto.DataType.Name(attr.i).lower()
                    problems.append(f"cast to {name}")
    return problems


def skip_reason(case: Case) -> str | None:
    """Why a case of a supported operator is not kept, or None to keep it."""
    model = case.test.model
    raise_old_opset(model)
    graph = model.graph
    opset = model_opset(model)
    if opset is None:
        return "no ai.onnx opset import"
    if not MIN_OPSET <= opset <= MAX_OPSET:
        return f"opset {opset} outside {MIN_OPSET}..{MAX_OPSET}"
    other_domains = sorted(
        {o.domain for o in model.opset_import if o.domain not in ("", "ai.onnx")}
    )
    if other_domains:
        return "imports domain " + ",".join(other_domains)
    unsupported_ops = sorted(
        {n.op_type for n in graph.node if n.op_type not in SUPPORTED_OPS}
    )
    if unsupported_ops:
        return "uses unsupported ops " + ",".join(unsupported_ops)
    problems = []
    for value in list(graph.input) + list(graph.output):
        problem = type_problem(value.type)
        if problem:
            problems.append(problem)
    for init in graph.initializer:
        if init.data_type not in SUPPORTED_ELEM_TYPES:
            problems.append(TensorProto.DataType.Name(init.data_type).lower())
    problems += attribute_type_problems(graph)
    if problems:
        return "unsupported types: " + ",".join(sorted(set(problems)))
    onnx.checker.check_model(model, full_check=True)
    return None


def to_proto(value, value_info: onnx.ValueInfoProto) -> TensorProto:
    """The TensorProto of one input or output, named after its graph value."""
    if isinstance(value, TensorProto):
        return value
    return numpy_helper.from_array(np.asarray(value), value_info.name)


def case_files(case: Case) -> dict[str, bytes]:
    """Relative path -> contents of every file of a case."""
    model = case.test.model
    files = {"model.onnx": model.SerializeToString()}
    [(inputs, outputs)] = case.test.data_sets
    for i, (value, info) in enumerate(zip(inputs, model.graph.input)):
        proto = to_proto(value, info)
        files[f"test_data_set_0/input_{i}.pb"] = proto.SerializeToString()
    for i, (value, info) in enumerate(zip(outputs, model.graph.output)):
        proto = to_proto(value, info)
        files[f"test_data_set_0/output_{i}.pb"] = proto.SerializeToString()
    return files


def write_case(directory: Path, files: dict[str, bytes]) -> None:
    if directory.exists():
        shutil.rmtree(directory)
    for rel, data in files.items():
        path = directory / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)


def tolerance_suffix(case: Case) -> str:
    rtol, atol = case.test.rtol, case.test.atol
    if rtol == DEFAULT_RTOL and atol == DEFAULT_ATOL:
        return ""
    return f" rtol={rtol!r} atol={atol!r}"


def remove_stale(keep: set[str]) -> None:
    for entry in sorted(os.listdir(HERE)):
        if entry in OWN_FILES or entry in keep:
            continue
        path = HERE / entry
        if path.is_dir():
            shutil.rmtree(path)


def check_with_onnxruntime(directory: Path) -> str | None:
    """Runs a written case with onnxruntime; a message when it disagrees."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    model = onnx.load(directory / "model.onnx")
    data = directory / "test_data_set_0"

    def load(kind: str, count: int) -> list[np.ndarray]:
        return [
            numpy_helper.to_array(onnx.load_tensor(data / f"{kind}_{i}.pb"))
            for i in range(count)
        ]

    inputs = load("input", len(model.graph.input))
    expected = load("output", len(model.graph.output))
    try:
        session = ort.InferenceSession(
            str(directory / "model.onnx"), options, providers=["CPUExecutionProvider"]
        )
        feeds = {i.name: v for i, v in zip(model.graph.input, inputs)}
        actual = session.run(None, feeds)
    except Exception as error:  # onnxruntime raises many kinds
        return f"onnxruntime fails: {str(error).splitlines()[0][:160]}"
    for i, (want, got) in enumerate(zip(expected, actual)):
        if want.shape != np.shape(got):
            return f"output {i}: shape {np.shape(got)} != {want.shape}"
        if not np.allclose(got, want, rtol=DEFAULT_RTOL, atol=DEFAULT_ATOL, equal_nan=True):
            return f"output {i}: values differ beyond rtol={DEFAULT_RTOL} atol={DEFAULT_ATOL}"
    return None


def main() -> int:
    check_ort = "--check-onnxruntime" in sys.argv[1:]
    cases = [c for c in collect_cases() if c.op_type in SUPPORTED_OPS]
    cases.sort(key=lambda c: c.name)
    kept_lines, skipped_lines, kept = [], [], set()
    total_bytes = 0
    for case in cases:
        reason = skip_reason(case)
        files = None
        if reason is None:
            files = case_files(case)
            size = sum(len(data) for data in files.values())
            if size > MAX_CASE_BYTES:
                reason = f"too large ({size} bytes)"
        if reason is not None:
            skipped_lines.append(f"{case.name} {case.op_type} {reason}\n")
            continue
        write_case(HERE / case.name, files)
        total_bytes += size
        kept.add(case.name)
        opset = model_opset(case.test.model)
        kept_lines.append(f"{case.name} {case.op_type} {opset}{tolerance_suffix(case)}\n")
        if check_ort:
            problem = check_with_onnxruntime(HERE / case.name)
            if problem:
                print(f"{case.name}: {problem}", file=sys.stderr)
    remove_stale(kept)
    (HERE / "cases.txt").write_text("".join(kept_lines), encoding="utf-8")
    (HERE / "skipped.txt").write_text("".join(skipped_lines), encoding="utf-8")
    print(
        f"onnx {onnx.__version__}, numpy {np.__version__}: "
        f"{len(kept_lines)} cases ({total_bytes} bytes), {len(skipped_lines)} skipped",
        file=sys.stderr,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
