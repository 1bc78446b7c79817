#!/usr/bin/env python3
"""Derives the polynomial coefficients of weft's f32 math functions and
writes them to ir/src/ops/math/coefficients.rs.

    $(scripts/setup-python.sh --print-python) scripts/math/fit.py [--check]

Every approximation is a polynomial fitted on a dense grid of its reduced
argument by Lawson's algorithm (iteratively reweighted least squares, which
converges to the weighted minimax polynomial), with the weight chosen so
that the error minimized is the relative error of the function's result.
The coefficients are then rounded to f32 one at a time, lowest degree
first, refitting the higher ones after each rounding so that they absorb
the rounding of the lower ones. The reference values are Python's f64
math functions (a few f64 ulps, far below f32's resolution).

The script prints, per polynomial, the weighted error of the f32
coefficients in units of 2^-24 (f32's half-ulp at 1); the max ulp errors of
the complete functions are measured in Rust against f64 libm
(ir/src/ops/math/tests.rs) and stated in spec/numerics.md.

The output is formatted by rustfmt (the repository's rustfmt.toml), as
`cargo fmt` would. With --check it only compares the generated text with the
committed file.
"""

from __future__ import annotations

import math
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
OUT = ROOT / "ir" / "src" / "ops" / "math" / "coefficients.rs"

# The ranges of the reduced arguments; the Rust code relies on these.
ERF_SMALL = 0.875  # |x| below: erf(x) = x * P(x^2); above: 1 - erfc(|x|)
TANH_SMALL = 0.625  # |x| below: tanh(x) = x + x^3 * P(x^2)
ERFC_ZMAX = 10.5  # erfc(z) = exp(-z^2) * G(2 / (z + 2)) fitted on [ERF_SMALL, ERFC_ZMAX]
LN2_HALF = math.log(2) / 2


def f32(x: float) -> float:
    return float(np.float32(x))


def lawson(a: np.ndarray, b: np.ndarray, w: np.ndarray, iters: int = 2000) -> np.ndarray:
    """The c minimizing max |w * (a @ c - b)| (Lawson's algorithm)."""
    lw = np.ones(len(b))
    c = np.zeros(a.shape[1])
    for _ in range(iters):
        s = np.sqrt(lw) * w
        c, *_ = np.linalg.lstsq(a * s[:, None], b * s, rcond=None)
        e = np.abs((a @ c - b) * w)
        lw = lw * e
        total = lw.sum()
        if total == 0:
            break
        lw /= total
    return c


def fit(t: np.ndarray, target: np.ndarray, weight: np.ndarray, degree: int) -> tuple[list[float], float]:
    """f32 coefficients c0..c_degree of a polynomial in t approximating
    target, minimizing the weighted error; and that error."""
    a = np.vander(t, degree + 1, increasing=True)
    fixed: list[float] = []
    rest = target.copy()
    for j in range(degree + 1):
        c = lawson(a[:, j:], rest, weight)
        fixed.append(f32(c[0]))
        rest = rest - fixed[-1] * a[:, j]
    err = np.max(np.abs((a @ np.array(fixed) - target) * weight))
    return fixed, float(err)


def grid(lo: float, hi: float, n: int = 4000) -> np.ndarray:
    # Chebyshev-like clustering at the ends, where minimax errors peak.
    k = np.arange(n)
    return (lo + hi) / 2 + (hi - lo) / 2 * np.cos(np.pi * (k + 0.5) / n)[::-1]


def exp_poly():
    # exp(r) = 1 + r + r^2 * Q(r) on |r| <= ln2/2 (plus the low part of the
    # argument, < 2^-17).
    r = grid(-LN2_HALF - 2e-5, LN2_HALF + 2e-5)
    r = r[np.abs(r) > 1e-6]
    q = (np.expm1(r) - r) / (r * r)
    return fit(r, q, r * r / np.exp(r), 4)


def log_poly():
    # log1p(f) = f + f^2 * Q(f) on [sqrt(1/2) - 1, sqrt(2) - 1].
    f = grid(math.sqrt(0.5) - 1, math.sqrt(2) - 1)
    f = f[np.abs(f) > 1e-6]
    q = (np.log1p(f) - f) / (f * f)
    return fit(f, q, f * f / np.abs(np.log1p(f)), 8)


def erf_small_poly():
    # erf(x) = x * (C0 + x^2 * P(x^2)) on |x| < ERF_SMALL, where C0 = 2 / sqrt(pi)
    # is stored as hi + lo (its f32 rounding alone would be an error of 2^-24):
    # the result is [C0_HI, C0_LO, P...].
    c0 = 2 / math.sqrt(math.pi)
    hi = f32(c0)
    lo = f32(c0 - hi)
    x = grid(1e-4, ERF_SMALL)
    u = x * x
    p = np.vectorize(math.erf)(x) / x
    rest, err = fit(u, (p - c0) / u, u / p, 4)
    return [hi, lo] + rest, err


def erfc_tail_poly():
    # erfc(z) = exp(-z^2) * G(t), t = 2 / (z + 2), on ERF_SMALL <= z <= ERFC_ZMAX.
    z = grid(ERF_SMALL, ERFC_ZMAX)
    g = np.vectorize(math.erfc)(z) * np.exp(z * z)
    return fit(2 / (z + 2), g, 1 / g, 8)


def tanh_small_poly():
    # tanh(x) = x + x^3 * P(x^2) on |x| < TANH_SMALL.
    x = grid(1e-4, TANH_SMALL)
    u = x * x
    p = (np.tanh(x) - x) / (x * u)
    return fit(u, p, x * u / np.tanh(x), 4)


POLYS = [
    ("EXP", "exp(r) = 1 + r + r^2 * EXP(r), |r| <= ln(2) / 2", exp_poly),
    ("LOG", "log(1 + f) = f + f^2 * LOG(f), sqrt(1/2) - 1 <= f < sqrt(2) - 1", log_poly),
    (
        "ERF_SMALL",
        f"erf(x) = x * (ERF_SMALL[0] + ERF_SMALL[1] + x^2 * ERF_SMALL[2..](x^2)), |x| < {ERF_SMALL}",
        erf_small_poly,
    ),
    (
        "ERFC_TAIL",
        f"erfc(z) = exp(-z^2) * ERFC_TAIL(2 / (z + 2)), {ERF_SMALL} <= z <= {ERFC_ZMAX}",
        erfc_tail_poly,
    ),
    ("TANH_SMALL", f"tanh(x) = x + x^3 * TANH_SMALL(x^2), |x| < {TANH_SMALL}", tanh_small_poly),
]


def literal(x: float) -> str:
    s = np.format_float_positional(np.float32(x), unique=True, trim="-")
    if "e" not in s and "." not in s:
        s += ".0"
    # Long positional forms of tiny values read better in scientific notation.
    if len(s) > 14:
        s = np.format_float_scientific(np.float32(x), unique=True, trim="-").replace("e+", "e")
        if "." not in s.split("e")[0]:
            mant, ex = s.split("e")
            s = f"{mant}.0e{ex}"
    return s


def render() -> tuple[str, list[str]]:
    lines = [
        "//! Polynomial coefficients of weft's f32 math, lowest degree first.",
        "//! GENERATED by scripts/math/fit.py (weighted minimax fits, rounded to f32",
        "//! one coefficient at a time); do not edit by hand.",
        "//!",
        "//! Invariants: the ranges below are the ones the algorithms in this module",
        "//! reduce their arguments to (`ERF_SMALL_LIMIT`, `TANH_SMALL_LIMIT`).",
        "",
        "// Fitted values, some close to named constants (2/sqrt(pi)) on purpose.",
        "#![allow(clippy::approx_constant)]",
        "",
        "/// Below this |x|, erf uses ERF_SMALL; above, 1 - erfc.",
        f"pub(super) const ERF_SMALL_LIMIT: f32 = {literal(ERF_SMALL)};",
        "/// Below this |x|, tanh uses TANH_SMALL; above, 1 - 2 / (e^2|x| + 1).",
        f"pub(super) const TANH_SMALL_LIMIT: f32 = {literal(TANH_SMALL)};",
    ]
    report = []
    for name, doc, make in POLYS:
        coeffs, err = make()
        lines.append("")
        lines.append(f"/// {doc}")
        lines.append(f"/// (weighted error of the f32 coefficients: {err / 2**-24:.3f} * 2^-24).")
        body = ", ".join(literal(c) for c in coeffs)
        lines.append(f"pub(super) const {name}: [f32; {len(coeffs)}] = [{body}];")
        report.append(f"{name:<11} {len(coeffs):2} coefficients  error {err / 2**-24:.3f} * 2^-24")
    return "\n".join(lines) + "\n", report


def rustfmt(text: str) -> str:
    """The text as `cargo fmt` leaves it (the repository's rustfmt.toml)."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "coefficients.rs"
        path.write_text(text)
        subprocess.run(
            ["rustfmt", "--edition", "2021", "--config-path", str(ROOT / "rustfmt.toml"), str(path)],
            check=True,
        )
        return path.read_text()


def main() -> int:
    text, report = render()
    text = rustfmt(text)
    if "--check" in sys.argv[1:]:
        same = OUT.exists() and OUT.read_text() == text
        print("up to date" if same else f"{OUT} differs from what fit.py generates")
        return 0 if same else 1
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(text)
    print("\n".join(report))
    print(f"wrote {OUT.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
