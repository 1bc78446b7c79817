#!/usr/bin/env python3
"""Measures `weft import` against onnxruntime's session creation on one model.

Run through scripts/bench/import.sh, which builds weft and the model first:

    scripts/bench/import.sh [--runs N]

Each round runs, in this order, every measurement once, so that the two
tools see the same machine state (page cache, load from other processes):

  weft import -o     `weft import MODEL -o DIR/bert.weft` into a fresh
                     directory (writes bert.weft and bert.safetensors)
  ort default        `ort.InferenceSession(MODEL, opts)` with
                     intra_op_num_threads=1, default graph optimizations
  ort disable_all    the same with ORT_DISABLE_ALL
  weft import -o (overwrite)  the same as the first, over the files it wrote
  weft import        without -o: module text to /dev/null, no safetensors
  weft info          `weft info MODEL`

Every command runs under `/usr/bin/time -v` (wall time and peak RSS of the
whole process); onnxruntime's session time is also measured inside its
process, around the `InferenceSession` call only (the Python and
onnxruntime start-up is not counted). One warm-up round, not reported, puts
the model in the page cache. Between rounds the output directory is removed
and `sync` runs, so dirty pages of one run do not slow the next.

Prints the medians (and min..max) of N rounds, and the ratios of the
issue's targets: weft import time / onnxruntime session time <= 1.0 and
weft import peak RSS / model file size <= 1.5.
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

ORT_SNIPPET = """
import sys, time
import onnxruntime as ort
path, level = sys.argv[1], sys.argv[2]
opts = ort.SessionOptions()
opts.intra_op_num_threads = 1
if level == "disable_all":
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
start = time.perf_counter()
session = ort.InferenceSession(path, opts, providers=["CPUExecutionProvider"])
print(f"session_seconds={time.perf_counter() - start:.6f}")
"""

TIME_WALL = re.compile(r"Elapsed \(wall clock\) time \(h:mm:ss or m:ss\): (?:(\d+):)?(\d+):([\d.]+)")
TIME_RSS = re.compile(r"Maximum resident set size \(kbytes\): (\d+)")


@dataclass
class Samples:
    """The wall seconds and peak RSS (bytes) of one measurement, per round;
    `inner` is a time measured inside the process (onnxruntime's session)."""

    wall: list[float] = field(default_factory=list)
    rss: list[int] = field(default_factory=list)
    inner: list[float] = field(default_factory=list)


def timed(cmd: list[str]) -> tuple[float, int, str]:
    """Runs `cmd` under /usr/bin/time -v: (wall seconds, peak RSS bytes, stdout)."""
    proc = subprocess.run(["/usr/bin/time", "-v", *cmd], capture_output=True, text=True)
    if proc.returncode != 0:
        sys.exit(f"measure.py: {' '.join(cmd)} failed ({proc.returncode}):\n{proc.stderr}")
    wall = TIME_WALL.search(proc.stderr)
    rss = TIME_RSS.search(proc.stderr)
    if not wall or not rss:
        sys.exit(f"measure.py: cannot read /usr/bin/time -v's report:\n{proc.stderr}")
    hours, minutes, seconds = wall.groups()
    seconds = int(hours or 0) * 3600 + int(minutes) * 60 + float(seconds)
    return seconds, int(rss.group(1)) * 1024, proc.stdout


def sync() -> None:
    subprocess.run(["sync"], check=True)


class Bench:
    def __init__(self, weft: Path, model: Path, python: str, scratch: Path):
        self.weft, self.model, self.python, self.scratch = str(weft), str(model), python, scratch
        self.samples: dict[str, Samples] = {}

    def record(self, name: str, wall: float, rss: int, inner: float | None = None) -> None:
        s = self.samples.setdefault(name, Samples())
        s.wall.append(wall)
        s.rss.append(rss)
        if inner is not None:
            s.inner.append(inner)

    def weft_import(self, out_dir: Path) -> tuple[float, int]:
        wall, rss, _ = timed([self.weft, "import", self.model, "-o", str(out_dir / "bert.weft")])
        return wall, rss

    def ort(self, level: str) -> tuple[float, int, float]:
        wall, rss, out = timed([self.python, "-c", ORT_SNIPPET, self.model, level])
        inner = re.search(r"session_seconds=([\d.]+)", out)
        if not inner:
            sys.exit(f"measure.py: the onnxruntime snippet printed no time:\n{out}")
        return wall, rss, float(inner.group(1))

    def round(self, report: bool) -> None:
        out_dir = Path(tempfile.mkdtemp(prefix="run-", dir=self.scratch))
        try:
            record = self.record if report else (lambda *a: None)
            record("weft import -o", *self.weft_import(out_dir))
            wall, rss, inner = self.ort("default")
            record("ort default", wall, rss, inner)
            wall, rss, inner = self.ort("disable_all")
            record("ort disable_all", wall, rss, inner)
            record("weft import -o (overwrite)", *self.weft_import(out_dir))
            wall, rss, _ = timed(["sh", "-c", f'exec "$0" import "$1" >/dev/null 2>&1', self.weft, self.model])
            record("weft import (no -o)", wall, rss)
            wall, rss, _ = timed([self.weft, "info", self.model])
            record("weft info", wall, rss)
        finally:
            shutil.rmtree(out_dir, ignore_errors=True)
            sync()


def median(values: list[float]) -> float:
    return statistics.median(values)


def describe_environment(model: Path, python: str) -> list[str]:
    ort_version = subprocess.run(
        [python, "-c", "import onnxruntime; print(onnxruntime.__version__)"], capture_output=True, text=True
    ).stdout.strip()
    rev = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True)
    cpu = next(
        (line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
         if line.startswith("model name")),
        platform.processor(),
    )
    return [
        f"model:       {model} ({model.stat().st_size} bytes)",
        f"weft:        {rev.stdout.strip() or '?'} (release build)",
        f"onnxruntime: {ort_version}, CPUExecutionProvider",
        f"machine:     {cpu}, {os.cpu_count()} cores, Linux {platform.release()}",
    ]


def report(bench: Bench, size: int, runs: int) -> None:
    print(f"\n{'measurement':<28} {'wall s (median, min..max)':>28} {'session s':>10} {'peak RSS MiB':>13} {'RSS/file':>9}")
    for name, s in bench.samples.items():
        wall = f"{median(s.wall):.3f} ({min(s.wall):.2f}..{max(s.wall):.2f})"
        inner = f"{median(s.inner):.3f}" if s.inner else "-"
        rss = median(s.rss)
        print(f"{name:<28} {wall:>28} {inner:>10} {rss / 2**20:>13.1f} {rss / size:>9.2f}")
    weft = bench.samples["weft import -o"]
    weft_time, weft_rss = median(weft.wall), median(weft.rss)
    print(f"\nratios (medians of {runs} rounds; weft's time is its whole process, onnxruntime's the session call):")
    for level in ("default", "disable_all"):
        ort = bench.samples[f"ort {level}"]
        print(f"  weft import -o / ort {level:<12} session time: {weft_time / median(ort.inner):.2f}x"
              f"   (target <= 1.0: {'met' if weft_time <= median(ort.inner) else 'MISSED'})")
    overwrite = median(bench.samples["weft import -o (overwrite)"].wall)
    print(f"  weft import -o (overwrite) / ort default session time: "
          f"{overwrite / median(bench.samples['ort default'].inner):.2f}x")
    print(f"  weft import -o peak RSS / file size: {weft_rss / size:.2f}"
          f"   (target <= 1.5: {'met' if weft_rss <= 1.5 * size else 'MISSED'})")
    for level in ("default", "disable_all"):
        print(f"  ort {level} peak RSS / file size: {median(bench.samples[f'ort {level}'].rss) / size:.2f}")
    no_out = median(bench.samples["weft import (no -o)"].wall)
    print(f"  weft import -o: {no_out:.3f} s reading, importing and printing, "
          f"{weft_time - no_out:.3f} s writing the files")


def main() -> int:
    parser = argparse.ArgumentParser(description="weft import vs onnxruntime session creation")
    parser.add_argument("--weft", type=Path, required=True, help="the weft binary (release)")
    parser.add_argument("--model", type=Path, required=True, help="the .onnx model")
    parser.add_argument("--runs", type=int, default=5, help="measured rounds (default 5)")
    parser.add_argument("--scratch", type=Path, default=ROOT / "target" / "bench" / "runs",
                        help="where the outputs are written (a disk, not tmpfs, to measure real writes)")
    args = parser.parse_args()
    if args.runs < 1:
        parser.error("--runs must be at least 1")
    args.scratch.mkdir(parents=True, exist_ok=True)
    bench = Bench(args.weft.resolve(), args.model.resolve(), sys.executable, args.scratch)
    for line in describe_environment(args.model, sys.executable):
        print(line)
    print(f"command:     weft import {args.model} -o <fresh dir>/bert.weft; {args.runs} rounds after 1 warm-up")
    bench.round(report=False)
    for i in range(args.runs):
        print(f"round {i + 1}/{args.runs}", file=sys.stderr)
        bench.round(report=True)
    report(bench, args.model.stat().st_size, args.runs)
    return 0


if __name__ == "__main__":
    sys.exit(main())
