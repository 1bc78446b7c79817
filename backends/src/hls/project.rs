//! The files of a generated project, and writing them atomically.
//!
//! Layout: kernel.h, kernel.cpp, weft_ops.h, weft_pack.h, weft_types.h, weft_int.h,
//! tb.cpp, weights.bin (+ weights.manifest), golden/in_NAME.bin and
//! golden/out_NAME.bin (little-endian int64 or f32 per element), Makefile,
//! run_hls.tcl, README.md.
//!
//! Invariants: the testbench compares every output bit and prints PASS or
//! the first mismatch (output, index, both values) with a non-zero exit
//! status; a project directory appears complete or not at all.

use super::emit::Emitter;
use super::storage::Class;
use super::{Golden, HlsOptions, Port, Project};
use std::fmt::Write as _;
use std::path::Path;
use weft_ir::{Tensor, TensorData};

const WEFT_INT_H: &str = include_str!("cpp/weft_int.h");
const WEFT_OPS_H: &str = include_str!("cpp/weft_ops.h");
const WEFT_PACK_H: &str = include_str!("cpp/weft_pack.h");
const WEFT_TYPES_H: &str = include_str!("cpp/weft_types.h");

pub(super) fn assemble(
    e: Emitter,
    inputs: &[Port],
    outputs: &[Port],
    golden: &Golden,
    opts: &HlsOptions,
) -> Result<Project, String> {
    let mut files: Vec<(String, Vec<u8>)> = Vec::new();
    let ports: Vec<String> = inputs
        .iter()
        .map(|p| format!("const {} *{}", ctype(p.class), p.name))
        .chain(outputs.iter().map(|p| format!("{} *{}", ctype(p.class), p.name)))
        .chain(["const weft_word *weights".to_string(), "weft_word *act_i".into(), "float *act_f".into()])
        .collect();
    let signature = format!("void weft_top({})", ports.join(", "));
    let (ai, af, ww) = (e.storage.act_i.size().max(1), e.storage.act_f.size().max(1), e.storage.weight_words().max(1));
    let header = kernel_h(&signature, inputs, outputs, (ai, af, ww), e.tiling.word_bits);
    let mut kernel =
        String::from("// kernel.cpp: written by weft. The accelerator's top function, engines and units.\n");
    kernel.push_str("#include \"kernel.h\"\n#include \"weft_ops.h\"\n#include <cmath>\n#include <limits>\n\n");
    kernel.push_str("// ---- constants (small ones; the others are in weights.bin) ----\n");
    kernel.push_str(&e.storage.inline_defs);
    kernel.push_str("\n// ---- per-op tables ----\n");
    kernel.push_str(&e.statics);
    kernel.push_str("\n// ---- nonlinear units and their ROMs ----\n");
    kernel.push_str(&e.units.definitions());
    kernel.push_str("\n// ---- engines ----\n");
    kernel.push_str(&e.engines.definitions(&e.tiling));
    kernel.push_str(&format!("{signature} {{\n"));
    for p in inputs.iter().chain(outputs) {
        let bundle = if inputs.iter().any(|i| i.name == p.name) { "gmem_in" } else { "gmem_out" };
        let _ = writeln!(
            kernel,
            "#pragma HLS INTERFACE m_axi port={} offset=slave bundle={bundle} depth={}",
            p.name,
            p.elements.max(1)
        );
    }
    let _ = writeln!(kernel, "#pragma HLS INTERFACE m_axi port=weights offset=slave bundle=gmem_w depth={ww}");
    let _ = writeln!(kernel, "#pragma HLS INTERFACE m_axi port=act_i offset=slave bundle=gmem_act depth={ai}");
    let _ = writeln!(kernel, "#pragma HLS INTERFACE m_axi port=act_f offset=slave bundle=gmem_actf depth={af}");
    let _ = writeln!(kernel, "#pragma HLS INTERFACE s_axilite port=return");
    kernel.push_str(&e.units.allocation_pragmas());
    for f in e.engines.functions() {
        let _ = writeln!(kernel, "#pragma HLS ALLOCATION function instances={f} limit=1");
    }
    kernel.push_str("  (void)weights; (void)act_i; (void)act_f;\n");
    kernel.push_str(&e.body);
    kernel.push_str("}\n");
    files.push(("kernel.h".into(), header.into_bytes()));
    files.push(("kernel.cpp".into(), directives_as_macros(&kernel).into_bytes()));
    files.push(("weft_ops.h".into(), WEFT_OPS_H.as_bytes().to_vec()));
    files.push(("weft_pack.h".into(), WEFT_PACK_H.as_bytes().to_vec()));
    files.push(("weft_types.h".into(), WEFT_TYPES_H.as_bytes().to_vec()));
    files.push(("weft_int.h".into(), WEFT_INT_H.as_bytes().to_vec()));
    files.push(("tb.cpp".into(), testbench(inputs, outputs).into_bytes()));
    let weights: Vec<u8> = e.storage.weights.iter().flat_map(|w| w.to_le_bytes()).collect();
    files.push(("weights.bin".into(), weights));
    files.push(("weights.manifest".into(), manifest(&e).into_bytes()));
    if golden.inputs.len() != inputs.len() || golden.outputs.len() != outputs.len() {
        return Err(format!(
            "golden vectors: {} inputs and {} outputs for a function of {} and {}",
            golden.inputs.len(),
            golden.outputs.len(),
            inputs.len(),
            outputs.len()
        ));
    }
    for (p, t) in inputs.iter().zip(&golden.inputs).chain(outputs.iter().zip(&golden.outputs)) {
        files.push((format!("golden/{}.bin", p.name), tensor_bytes(t, p)?));
    }
    files.push(("Makefile".into(), MAKEFILE.as_bytes().to_vec()));
    files.push(("run_hls.tcl".into(), tcl(opts).into_bytes()));
    let summary = summary(&e);
    files.push(("README.md".into(), readme(opts, inputs, outputs, &summary, &e.tiling.pragma_table()).into_bytes()));
    Ok(Project { files, summary })
}

/// Every `#pragma HLS ...` line as `WEFT_PRAGMA(HLS ...)` (weft_types.h),
/// so that plain C++ compilers see no unknown pragma.
fn directives_as_macros(code: &str) -> String {
    let mut out = String::with_capacity(code.len());
    for line in code.lines() {
        let body = line.trim_start();
        match body.strip_prefix("#pragma HLS ") {
            Some(rest) => {
                let indent = &line[..line.len() - body.len()];
                out.push_str(&format!("{indent}WEFT_PRAGMA(HLS {rest})\n"));
            }
            None => {
                out.push_str(line);
                out.push('\n');
            }
        }
    }
    out
}

fn ctype(c: Class) -> &'static str {
    match c {
        Class::Int => "int64_t",
        Class::F32 => "float",
    }
}

fn kernel_h(
    signature: &str,
    inputs: &[Port],
    outputs: &[Port],
    (ai, af, ww): (u64, u64, u64),
    word_bits: u32,
) -> String {
    let mut s = String::from("// kernel.h: written by weft. The top function and its buffer sizes.\n#ifndef WEFT_KERNEL_H\n#define WEFT_KERNEL_H\n\n#include <cstdint>\n\n");
    let _ = writeln!(
        s,
        "// The activation arena's AXI word (tile-and-pack's choice).\n#define WEFT_WORD_BITS {word_bits}\n#include \"weft_pack.h\"\n"
    );
    let _ = writeln!(
        s,
        "#define WEFT_ACT_I_WORDS {ai}LL  // weft_words\n#define WEFT_ACT_F_WORDS {af}LL\n#define WEFT_WEIGHT_WORDS {ww}LL"
    );
    for p in inputs.iter().chain(outputs) {
        let _ = writeln!(s, "#define WEFT_{}_ELEMENTS {}LL  // '{}'", p.name.to_uppercase(), p.elements, p.external);
    }
    let _ = writeln!(s, "\n{signature};\n\n#endif");
    s
}

fn tensor_bytes(t: &Tensor, p: &Port) -> Result<Vec<u8>, String> {
    if t.numel() != p.elements {
        return Err(format!("golden '{}' has {} elements, the port {}", p.external, t.numel(), p.elements));
    }
    Ok(match (&t.data, p.class) {
        (TensorData::F32(v), Class::F32) => v.iter().flat_map(|f| f.to_le_bytes()).collect(),
        (TensorData::Int(v), Class::Int) => v.iter().flat_map(|x| x.to_le_bytes()).collect(),
        _ => return Err(format!("golden '{}' has {} data, the port expects {}", p.external, t.elem, ctype(p.class))),
    })
}

fn testbench(inputs: &[Port], outputs: &[Port]) -> String {
    let mut s = String::from(TB_PRELUDE);
    s.push_str("int main() {\n  bool ok = true;\n");
    s.push_str("  std::vector<weft_word> weights(WEFT_WEIGHT_WORDS);\n  ok = read_file(\"weights.bin\", weights.data(), sizeof(weft_word) * weights.size(), true) && ok;\n");
    s.push_str("  std::vector<weft_word> act_i(WEFT_ACT_I_WORDS);\n  std::vector<float> act_f(WEFT_ACT_F_WORDS);\n");
    let mut args = Vec::new();
    for p in inputs {
        let _ = writeln!(s, "  std::vector<{t}> {n}({e});\n  ok = read_file(\"golden/{n}.bin\", {n}.data(), sizeof({t}) * {n}.size(), false) && ok;", t = ctype(p.class), n = p.name, e = p.elements.max(1));
        args.push(format!("{}.data()", p.name));
    }
    for p in outputs {
        let _ = writeln!(s, "  std::vector<{t}> {n}({e}), want_{n}({e});\n  ok = read_file(\"golden/{n}.bin\", want_{n}.data(), sizeof({t}) * want_{n}.size(), false) && ok;", t = ctype(p.class), n = p.name, e = p.elements.max(1));
        args.push(format!("{}.data()", p.name));
    }
    s.push_str("  if (!ok) return 2;\n");
    let _ = writeln!(s, "  weft_top({}, weights.data(), act_i.data(), act_f.data());", args.join(", "));
    for p in outputs {
        let f = if p.class == Class::F32 { "compare_f32" } else { "compare_i64" };
        let _ = writeln!(
            s,
            "  if (!{f}(\"{}\", {n}.data(), want_{n}.data(), {})) return 1;",
            p.external.replace('"', "'"),
            p.elements,
            n = p.name
        );
    }
    s.push_str("  std::printf(\"PASS\\n\");\n  return 0;\n}\n");
    s
}

const TB_PRELUDE: &str = r#"// tb.cpp: written by weft. Runs the top function on the golden inputs and
// compares every output bit with the golden outputs of weft's reference.
#include "kernel.h"
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <vector>

static bool read_file(const char *path, void *dst, size_t bytes, bool allow_short) {
  std::FILE *f = std::fopen(path, "rb");
  if (!f) { std::printf("cannot open %s\n", path); return false; }
  const size_t got = std::fread(dst, 1, bytes, f);
  std::fclose(f);
  if (got != bytes && !(allow_short && got % 8 == 0)) { std::printf("%s: expected %zu bytes, read %zu\n", path, bytes, got); return false; }
  return true;
}

static inline bool compare_f32(const char *name, const float *got, const float *want, long long n) {
  for (long long i = 0; i < n; ++i) {
    uint32_t g, w;
    std::memcpy(&g, &got[i], 4);
    std::memcpy(&w, &want[i], 4);
    if (g != w) {
      std::printf("MISMATCH output '%s' index %lld: got %.9g (0x%08x), expected %.9g (0x%08x)\n", name, i, (double)got[i], g, (double)want[i], w);
      return false;
    }
  }
  return true;
}

static inline bool compare_i64(const char *name, const int64_t *got, const int64_t *want, long long n) {
  for (long long i = 0; i < n; ++i) {
    if (got[i] != want[i]) {
      std::printf("MISMATCH output '%s' index %lld: got %lld, expected %lld\n", name, i, (long long)got[i], (long long)want[i]);
      return false;
    }
  }
  return true;
}

"#;

const MAKEFILE: &str = "# Makefile: written by weft. `make csim` builds the C simulation with plain g++ and runs it.\nCXX ?= g++\nCXXFLAGS ?= -std=c++17 -O2 -Wall -Wextra -ffp-contract=off\n\n.PHONY: csim clean\n\ncsim: csim.bin\n\t./csim.bin\n\ncsim.bin: kernel.cpp tb.cpp kernel.h weft_ops.h weft_pack.h weft_types.h weft_int.h\n\t$(CXX) $(CXXFLAGS) -o $@ kernel.cpp tb.cpp\n\nclean:\n\trm -f csim.bin\n";

fn tcl(opts: &HlsOptions) -> String {
    format!(
        "# run_hls.tcl: written by weft. vitis_hls -f run_hls.tcl\nopen_project -reset {name}\nset_top weft_top\nadd_files kernel.cpp -cflags \"-std=c++17\"\nadd_files -tb tb.cpp -cflags \"-std=c++17\"\nadd_files -tb weights.bin\nadd_files -tb golden\nopen_solution -reset solution1 -flow_target vivado\nset_part {{{part}}}\ncreate_clock -period {clock:.3} -name default\ncsim_design\ncsynth_design\ncosim_design\nexport_design -format ip_catalog\nexit\n",
        name = opts.name,
        part = opts.part,
        clock = opts.clock_ns
    )
}

fn manifest(e: &Emitter) -> String {
    let mut s = format!(
        "# weights.bin: {}-bit words (little-endian 64-bit lanes, lowest first); name word_offset words element_type shape\n",
        e.storage.word_bits
    );
    for m in &e.storage.manifest {
        let shape: Vec<String> = m.shape.iter().map(u64::to_string).collect();
        let _ = writeln!(s, "{}\t{}\t{}\t{}\t{}", m.name, m.word, m.words, m.elem, shape.join("x"));
    }
    s
}

fn summary(e: &Emitter) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "engine calls: {}", e.engine_calls.len());
    for c in &e.engine_calls {
        let _ = writeln!(s, "  {c}");
    }
    let _ = writeln!(s, "nonlinear units: {}", e.units.used().join(", "));
    let t = &e.tiling;
    let _ = writeln!(
        s,
        "engines: fc t_in={} t_out={} t_m={}; attn t_in={} t_out={}; nonlinear lanes={}; {}-bit words",
        t.fc.t_in, t.fc.t_out, t.fc.t_m, t.attn.t_in, t.attn.t_out, t.lanes, t.word_bits
    );
    let _ = writeln!(
        s,
        "weights.bin: {} words; activations: {} packed {}-bit words ({} without reuse) + {} f32 ({} without reuse)",
        e.storage.weight_words(),
        e.storage.act_i.size(),
        t.word_bits,
        e.storage.act_i.requested,
        e.storage.act_f.size(),
        e.storage.act_f.requested
    );
    s
}

fn readme(opts: &HlsOptions, inputs: &[Port], outputs: &[Port], summary: &str, pragmas: &str) -> String {
    let ports = |ps: &[Port]| {
        ps.iter()
            .map(|p| format!("- `{}` ('{}'): {} x {}", p.name, p.external, p.elements, ctype(p.class)))
            .collect::<Vec<_>>()
            .join("\n")
    };
    format!(
        "# {name}\n\nWritten by weft ({desc}) for the {board} ({part}).\n\n- `make csim`: builds the C simulation with g++ (`-std=c++17 -O2 -Wall -Wextra`) and runs it: the testbench feeds `golden/in_*.bin` to `weft_top` and compares every output bit with `golden/out_*.bin`, printing PASS or the first mismatch.\n- `vitis_hls -f run_hls.tcl`: C simulation, synthesis, co-simulation and IP export for the part.\n\nFiles: `kernel.cpp`/`kernel.h` (the top function `weft_top`, the FC and attention engines, the nonlinear units), `weft_ops.h` (the integer rules of weft's quant and nl ops), `weft_pack.h` (packed activations), `weft_types.h` + `weft_int.h` (ap_int: the vendor's when `<ap_int.h>` is found, else weft's), `weights.bin` + `weights.manifest` (packed constants), `tb.cpp`, `golden/`.\n\nInputs:\n{}\n\nOutputs:\n{}\n\nDDR buffers: `weights` (read-only), `act_i` and `act_f` (activations; sizes in kernel.h). Integer activations are packed in `act_i`'s `weft_word`s at their own width (weft_pack.h); regions are reused once their value is dead.\n\n## Engine parameters\n\nChosen by tile-and-pack (`hw.engine`, the report) and used by the code:\n\n{pragmas}\n```\n{summary}```\n",
        ports(inputs),
        ports(outputs),
        name = opts.name,
        desc = opts.description,
        board = opts.board,
        part = opts.part,
    )
}

/// Writes the project to `dir` (which must not exist): into a temporary
/// sibling directory first, renamed at the end.
pub fn write_project(dir: &Path, project: &Project, replace: bool) -> Result<(), String> {
    if dir.exists() {
        if !replace {
            return Err(format!(
                "'{}' already exists; choose a new output directory, remove it, or give --force",
                dir.display()
            ));
        }
        if !is_weft_project(dir) {
            return Err(format!(
                "'{}' exists and is not a project weft wrote (no kernel.cpp and run_hls.tcl); not replacing it",
                dir.display()
            ));
        }
    }
    let parent = dir.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    std::fs::create_dir_all(parent).map_err(|e| format!("cannot create '{}': {e}", parent.display()))?;
    let stem = dir.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| "project".into());
    let tmp = parent.join(format!(".{stem}.weft-tmp-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&tmp);
    let result = (|| {
        for (rel, bytes) in &project.files {
            let path = tmp.join(rel);
            if let Some(p) = path.parent() {
                std::fs::create_dir_all(p).map_err(|e| format!("cannot create '{}': {e}", p.display()))?;
            }
            std::fs::write(&path, bytes).map_err(|e| format!("cannot write '{}': {e}", path.display()))?;
        }
        if dir.exists() {
            let old = parent.join(format!(".{stem}.weft-old-{}", std::process::id()));
            std::fs::rename(dir, &old).map_err(|e| format!("cannot move '{}' aside: {e}", dir.display()))?;
            std::fs::rename(&tmp, dir).map_err(|e| format!("cannot rename to '{}': {e}", dir.display()))?;
            return std::fs::remove_dir_all(&old).map_err(|e| format!("cannot remove '{}': {e}", old.display()));
        }
        std::fs::rename(&tmp, dir).map_err(|e| format!("cannot rename to '{}': {e}", dir.display()))
    })();
    if result.is_err() {
        let _ = std::fs::remove_dir_all(&tmp);
    }
    result
}

/// Whether `dir` holds a project weft wrote (the only kind `--force`
/// replaces).
fn is_weft_project(dir: &Path) -> bool {
    dir.is_dir() && dir.join("kernel.cpp").is_file() && dir.join("run_hls.tcl").is_file()
}
