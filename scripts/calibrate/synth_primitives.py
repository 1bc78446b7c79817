#!/usr/bin/env python3
"""Synthesizes each nl primitive of the resource model (ir/src/hwcost) with
yosys for UltraScale+ (synth_xilinx -family xcup) and prints the model's
LUT / FF / DSP next to yosys's, with their ratio.

Usage: scripts/calibrate/synth_primitives.py [--markdown] [--jobs N]
Needs yosys on PATH (scripts/calibrate/install.sh) and builds the model's
side with `cargo run --release -p weft-ir --example primitive_cost`.

Each case is one registered primitive as the model sees it: its inputs
come from ports (registers of the producer in a real unit), its output is
registered. yosys counts LUT1..LUT6 one each (it does not pack two LUT5
into a LUT6_2 as Vivado does), CARRY4/CARRY8 and MUXF7/F8 not at all; the
model counts one LUT per adder bit for the carry chain's LUT. This is an
independent check with an open synthesizer, not Vivado's numbers.
"""
import argparse
import concurrent.futures
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def clog2(n):
    return 0 if n <= 1 else (n - 1).bit_length()


def module(ports, body):
    return f"module top(input clk, {ports});\n{body}\nendmodule\n"


def adder(a, b, out):
    v = module(
        f"input signed [{a-1}:0] x, input signed [{b-1}:0] z, output reg signed [{out-1}:0] y",
        "always @(posedge clk) y <= x + z;",
    )
    return f"adder {a} {b} {out} 2", v


def adder_muxed(w):
    """An adder with a 2:1 mode mux on each operand (one select)."""
    v = module(
        f"input s, input signed [{w-1}:0] x0, x1, z0, z1, output reg signed [{w}:0] y",
        "always @(posedge clk) y <= (s ? x1 : x0) + (s ? z1 : z0);",
    )
    return [f"adder {w} {w} {w+1} 2", f"mode-mux {w} 2", f"mode-mux {w} 2"], v


def comparator(w):
    v = module(
        f"input signed [{w-1}:0] x, z, output reg signed [{w-1}:0] y",
        "always @(posedge clk) y <= (x > z) ? x : z;",
    )
    return f"comparator {w} {w} {w} 2", v


def sign_mux(w):
    v = module(
        f"input signed [{w-1}:0] c, t, e, output reg signed [{w-1}:0] y",
        f"always @(posedge clk) y <= c[{w-1}] ? t : e;",
    )
    return f"mux {w} {w} {w} 3", v


def saturate(a, out):
    hi, lo = (1 << (out - 1)) - 1, -(1 << (out - 1))
    v = module(
        f"input signed [{a-1}:0] x, output reg signed [{out-1}:0] y",
        f"always @(posedge clk) y <= (x > {hi}) ? {hi} : (x < {lo}) ? {lo} : x[{out-1}:0];",
    )
    return f"saturate {a} 0 {out} 1", v


def rounding_shift(a, k, out):
    """x >> k rounded to nearest (the round bit x[k-1] added to the kept
    bits), then saturated to `out` bits when narrower."""
    kept = a - k
    hi, lo = (1 << (out - 1)) - 1, -(1 << (out - 1))
    sat = f"(r > {hi}) ? {hi} : (r < {lo}) ? {lo} : r[{out-1}:0]" if out < kept + 1 else "r"
    v = module(
        f"input signed [{a-1}:0] x, output reg signed [{out-1}:0] y",
        f"wire signed [{kept}:0] r = (x >>> {k}) + x[{k-1}];\nalways @(posedge clk) y <= {sat};",
    )
    return f"rounding-shift {a} {kept} {out} 1", v


def barrel(w, s):
    v = module(
        f"input [{w-1}:0] x, input [{s-1}:0] n, output reg [{w-1}:0] y",
        "always @(posedge clk) y <= x << n;",
    )
    return f"barrel-shifter {w} {s} {w} 2", v


def lod(w):
    o = clog2(w) + 1
    body = f"""reg [{o-1}:0] p; integer i;
always @* begin p = 0; for (i = 0; i < {w}; i = i + 1) if (x[i]) p = i + 1; end
always @(posedge clk) y <= p;"""
    return f"lod {w} 0 {o} 1", module(f"input [{w-1}:0] x, output reg [{o-1}:0] y", body)


def multiplier(a, b):
    v = module(
        f"input signed [{a-1}:0] x, input signed [{b-1}:0] z, output reg signed [{a+b-1}:0] y",
        "always @(posedge clk) y <= x * z;",
    )
    return f"multiplier {a} {b} {a+b} 2", v


def table(entries, out):
    a = clog2(entries)
    # Deterministic contents (a xorshift), so that no output bit is constant.
    x, words = 0x2545F491, []
    for _ in range(entries):
        x ^= (x << 13) & 0xFFFFFFFF
        x ^= x >> 17
        x ^= (x << 5) & 0xFFFFFFFF
        words.append(x & ((1 << out) - 1))
    cases = "\n".join(f"  {a}'d{i}: y <= {out}'d{w};" for i, w in enumerate(words))
    body = f"always @(posedge clk) case (x)\n{cases}\n  default: y <= 0;\nendcase"
    return f"table {a} {entries} {out} 1", module(f"input [{a-1}:0] x, output reg [{out-1}:0] y", body)


def mode_mux(w, n):
    """An n:1 mux of w bits, registered (the model's mux is combinational
    and feeds the primitive's register: compare LUTs only)."""
    s = clog2(n)
    ins = ", ".join(f"input [{w-1}:0] i{k}" for k in range(n))
    cases = "\n".join(f"  {k}: y <= i{k};" for k in range(n))
    body = f"always @(posedge clk) case (s)\n{cases}\n  default: y <= i0;\nendcase"
    return f"mode-mux {w} {n}", module(f"input [{s-1}:0] s, {ins}, output reg [{w-1}:0] y", body)


def add_tree(lanes, w, out):
    """The sum of `lanes` lanes of `w` bits, one pipeline level of
    registered adders after another (a row's sum across the lanes)."""
    level = [f"x[{(i + 1) * w - 1}:{i * w}]" for i in range(lanes)]
    body, n, width = [], 0, w
    while len(level) > 1:
        width += 1
        nxt = []
        for i in range(0, len(level) - 1, 2):
            body.append(f"reg signed [{width - 1}:0] s{n}; always @(posedge clk) s{n} <= $signed({level[i]}) + $signed({level[i + 1]});")
            nxt.append(f"s{n}")
            n += 1
        if len(level) % 2:
            nxt.append(level[-1])
        level = nxt
    body.append(f"always @(posedge clk) y <= $signed({level[0]});")
    return f"add-tree {w} 0 {out} 1 {lanes}", module(f"input [{lanes * w - 1}:0] x, output reg signed [{out - 1}:0] y", "\n".join(body))


def coefficient_rows(rows):
    """`rows` rows of three 18-bit coefficients (deterministic values in
    the range of the fitted tables: c0 near 2^16, c1 near 0.69 2^16, c2
    near 0.24 2^16)."""
    return [(15700 + 37 * r, 45000 + 911 * r, 65536 - 977 * r) for r in range(rows)]


def rom_case(name, rows):
    words = coefficient_rows(rows)
    lines = [f"  {clog2(rows) or 1}'d{r}: begin c2 <= {c2}; c1 <= {c1}; c0 <= {c0}; end" for r, (c2, c1, c0) in enumerate(words)]
    return "always @(posedge clk) case (row)\n" + "\n".join(lines) + "\n  default: begin c2 <= 0; c1 <= 0; c0 <= 0; end\nendcase"


def exp2_unit(a, rows, out):
    """QUARK's Appro-Exp as spec/nl.md defines nl.exp2 (t at 16 fractional
    bits): the ceil split; the segment of -qf (its complemented top bits
    plus a zero test of the rest) and the quadratic's argument (the rest,
    sign-extended by that test); the coefficient ROM; the quadratic by
    Horner (two multiply-adds); the output shift by the integer part,
    rounded to nearest and saturated; each stage registered."""
    rb = clog2(rows)
    sb = clog2(out + 18)
    lo = 16 - rb
    if rb:
        split = f"""wire lz = |t[{lo - 1}:0];
wire [{rb - 1}:0] row = ~t[15:{lo}] + !lz;
wire signed [16:0] f = {{{{{17 - lo}{{lz}}}}, t[{lo - 1}:0]}};"""
    else:
        split = """wire [0:0] row = 1'b0;
wire signed [16:0] f = {|t[15:0], t[15:0]};"""
    body = f"""wire signed [{a-17}:0] qi = (t >>> 16) + (|t[15:0]);
{split}
reg signed [17:0] c2, c1, c0;
{rom_case("exp2", rows)}
reg signed [16:0] f1; reg signed [{a-17}:0] q1;
always @(posedge clk) begin f1 <= f; q1 <= qi; end
reg signed [35:0] m1; reg signed [16:0] f2; reg signed [17:0] d0; reg signed [{a-17}:0] q2;
always @(posedge clk) begin m1 <= c2 * f1 + (c1 <<< 16); f2 <= f1; d0 <= c0; q2 <= q1; end
reg signed [35:0] m2; reg signed [{a-17}:0] q3;
always @(posedge clk) begin m2 <= (m1 >>> 16) * f2 + (d0 <<< 16); q3 <= q2; end
wire [{sb-1}:0] sh = (q3 < -{out + 17}) ? {out + 18} : -q3;
wire [{out + 17}:0] wide = {{m2[33:16], {out}'d0}};
wire [{out + 17}:0] moved = wide >> sh;
wire [{out}:0] rounded = moved[{out + 17}:18] + moved[17];
always @(posedge clk) y <= (q3 > 0 || rounded[{out}]) ? {{{out}{{1'b1}}}} : rounded[{out - 1}:0];"""
    return f"exp2 {a} {rows} {out} 1", module(f"input signed [{a-1}:0] t, output reg [{out-1}:0] y", body)


def log2_unit(a, rows, out):
    """QUARK's Appro-LN as spec/nl.md defines nl.log2: the leading-one
    detector, the normalizing shift to a 16-bit mantissa fraction, the
    coefficient ROM, the quadratic, and the adder of the exponent; each
    stage registered."""
    rb = clog2(rows)
    kb = clog2(a) + 1
    row = f"f1[15:{16 - rb}]" if rb else "1'b0"
    body = f"""reg [{kb-1}:0] k; integer i;
always @* begin k = 0; for (i = 0; i < {a}; i = i + 1) if (x[i]) k = i; end
reg [{a-1}:0] x1; reg [{kb-1}:0] k1;
always @(posedge clk) begin x1 <= x; k1 <= k; end
wire [{a + 15}:0] m = {{x1, 16'd0}} >> k1;
reg signed [16:0] f1; reg [{kb-1}:0] k2;
always @(posedge clk) begin f1 <= m[15:0]; k2 <= k1; end
wire [{max(rb, 1) - 1}:0] row = {row};
reg signed [17:0] c2, c1, c0;
{rom_case("log2", rows)}
reg signed [16:0] f2; reg [{kb-1}:0] k3;
always @(posedge clk) begin f2 <= f1 - (row << {16 - rb}); k3 <= k2; end
reg signed [35:0] m1; reg signed [16:0] f3; reg signed [17:0] d0; reg [{kb-1}:0] k4;
always @(posedge clk) begin m1 <= c2 * f2 + (c1 <<< 16); f3 <= f2; d0 <= c0; k4 <= k3; end
reg signed [35:0] m2; reg [{kb-1}:0] k5;
always @(posedge clk) begin m2 <= (m1 >>> 16) * f3 + (d0 <<< 16); k5 <= k4; end
always @(posedge clk) y <= (m2 >>> 16) + (k5 <<< 16);"""
    return f"log2 {a} {rows} {out} 1", module(f"input [{a-1}:0] x, output reg signed [{out-1}:0] y", body)


CASES = (
    [("adder", adder(w, w, w + 1)) for w in (8, 16, 24, 32)]
    + [("adder + 2:1 muxes", adder_muxed(w)) for w in (8, 16, 24)]
    + [("comparator (max)", comparator(w)) for w in (8, 16, 24)]
    + [("sign mux", sign_mux(w)) for w in (8, 24)]
    + [("saturate", saturate(a, o)) for a, o in ((12, 8), (24, 16), (30, 8))]
    + [("rounding shift", rounding_shift(a, k, o)) for a, k, o in ((24, 8, 17), (30, 16, 8), (35, 16, 11))]
    + [("barrel shifter", barrel(w, s)) for w, s in ((16, 4), (24, 5), (32, 6))]
    + [("leading-one detector", lod(w)) for w in (16, 24, 41)]
    + [("multiplier", multiplier(a, b)) for a, b in ((17, 10), (18, 17), (27, 18), (29, 17), (35, 35))]
    + [("table", table(e, o)) for e, o in ((64, 8), (256, 8), (256, 16))]
    + [("mode mux", mode_mux(w, n)) for w, n in ((24, 2), (24, 3), (24, 4), (24, 8))]
    + [("add tree (8 lanes)", add_tree(8, w, w + 3)) for w in (17, 31)]
    + [("exp2 unit", exp2_unit(a, r, o)) for a, r, o in ((24, 4, 18), (27, 4, 31), (24, 1, 18))]
    + [("log2 unit", log2_unit(a, r, o)) for a, r, o in ((18, 4, 24), (41, 4, 24), (18, 1, 24))]
)

CELLS = {
    "lut": re.compile(r"^LUT[1-6]$"),
    "ff": re.compile(r"^FD[RSCP]E$"),
    "dsp": re.compile(r"^DSP48E[12]$"),
    "bram18": re.compile(r"^RAMB18E[12]$"),
}


def synthesize(verilog):
    with tempfile.TemporaryDirectory() as d:
        src, stat = os.path.join(d, "top.v"), os.path.join(d, "stat.txt")
        with open(src, "w") as f:
            f.write(verilog)
        script = f"read_verilog {src}; synth_xilinx -family xcup -flatten -noiopad -top top; tee -q -o {stat} stat"
        subprocess.run(["yosys", "-q", "-p", script], check=True, capture_output=True)
        counts = {k: 0 for k in CELLS}
        for line in open(stat):
            words = line.split()
            if len(words) == 2 and words[1].isdigit():
                for key, pattern in CELLS.items():
                    if pattern.match(words[0]):
                        counts[key] += int(words[1])
            if len(words) == 2 and words[0].startswith("RAMB36") and words[1].isdigit():
                counts["bram18"] += 2 * int(words[1])
        return counts


def model_costs(lines):
    cmd = ["cargo", "run", "-q", "--release", "-p", "weft-ir", "--example", "primitive_cost"]
    out = subprocess.run(cmd, input="\n".join(lines) + "\n", capture_output=True, text=True, cwd=ROOT)
    if out.returncode != 0:
        sys.exit(f"primitive_cost failed:\n{out.stdout}{out.stderr}")
    return [dict(zip(("lut", "ff", "dsp", "bram18"), map(int, l.split()))) for l in out.stdout.splitlines()]


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--markdown", action="store_true", help="print a markdown table")
    ap.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    args = ap.parse_args()
    if shutil.which("yosys") is None:
        sys.exit("yosys not found: run scripts/calibrate/install.sh")
    # The model side: one or more primitive lines per case, summed.
    specs = [spec if isinstance(spec, list) else [spec] for _, (spec, _) in CASES]
    flat = model_costs([line for s in specs for line in s])
    model, i = [], 0
    for s in specs:
        model.append({k: sum(c[k] for c in flat[i : i + len(s)]) for k in flat[0]})
        i += len(s)
    with concurrent.futures.ThreadPoolExecutor(args.jobs) as pool:
        synth = list(pool.map(synthesize, [v for _, (_, v) in CASES]))
    head = ("primitive", "model line", "LUT model", "LUT yosys", "FF model", "FF yosys", "DSP model", "DSP yosys")
    rows, ratios = [], {}
    for (name, _), s, m, y in zip(CASES, specs, model, synth):
        rows.append((name, " + ".join(s), m["lut"], y["lut"], m["ff"], y["ff"], m["dsp"], y["dsp"]))
        for k in ("lut", "ff"):
            # The model's mode mux is combinational (the register is the
            # primitive's behind it): its FFs are not compared.
            if y[k] > 0 and not (k == "ff" and name == "mode mux"):
                ratios.setdefault((name, k), []).append(m[k] / y[k])
    if args.markdown:
        print("| " + " | ".join(head) + " |")
        print("|" + "---|" * len(head))
        for r in rows:
            print("| " + " | ".join(str(x) for x in r) + " |")
    else:
        print(f"{head[0]:<22} {head[1]:<48} " + " ".join(f"{h:>9}" for h in head[2:]))
        for r in rows:
            print(f"{r[0]:<22} {r[1]:<48} " + " ".join(f"{x:>9}" for x in r[2:]))
    print()
    for (name, k), rs in ratios.items():
        print(f"model / yosys {k:<3} {name:<22} median {statistics.median(rs):.2f}")
    total = {k: (sum(m[k] for m in model), sum(y[k] for y in synth)) for k in ("lut", "ff", "dsp")}
    print("total: " + ", ".join(f"{k} model {a} yosys {b} ({a / b:.2f})" for k, (a, b) in total.items() if b))


if __name__ == "__main__":
    main()
