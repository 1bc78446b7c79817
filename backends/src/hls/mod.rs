//! The HLS backend: a Vitis HLS C++ project from a quantized, lowered
//! function (quant and nl dialects, with the float ops around the integer
//! core), whose C simulation reproduces the reference bits.
//!
//! [`generate`] translates the function ([`emit`]) into the files of a
//! project ([`project`]): kernel.cpp/.h (the top function over DDR buffers,
//! the FC and attention [`engines`] with the parameters tile-and-pack chose
//! ([`Tiling`]), one function per nonlinear unit), the C++ rules of every
//! op (weft_ops.h), packed activations ([`storage`], weft_pack.h) and arbitrary-width integers
//! (weft_types.h: the vendor's ap_int, else weft_int.h), weights.bin (packed
//! constants, [`storage`]) with its manifest, tb.cpp with golden inputs and
//! outputs, run_hls.tcl, a Makefile (`make csim`) and a README.
//! [`write_project`] writes them under a temporary name and renames the
//! directory at the end. spec/hls.md describes the layout and conventions.
//!
//! Invariants: an op the backend cannot execute is a diagnostic at the op
//! and no file is written; output is deterministic (same module, same
//! bytes); the generated C++ compiles with `g++ -std=c++17 -Wall -Wextra`
//! without warnings.

pub mod emit;
pub mod engines;
mod project;
pub mod storage;
pub mod text;

#[cfg(test)]
mod tests;

pub use engines::{AttnTiling, FcTiling, Tiling};
pub use project::write_project;

use storage::{class_of, Class, Place};
use weft_ir::interp::{input_names, output_names};
use weft_ir::{Diagnostic, Function, Module, Span, Tensor};

/// What to build.
#[derive(Debug, Clone)]
pub struct HlsOptions {
    /// The project's name (the directory's, in run_hls.tcl).
    pub name: String,
    /// The board and its FPGA part (run_hls.tcl's `set_part`).
    pub board: String,
    pub part: String,
    /// Clock period in ns.
    pub clock_ns: f64,
    pub tiling: Tiling,
    /// How the model was compiled, for the README (scheme, method, ...).
    pub description: String,
}

/// Golden vectors: the inputs the testbench feeds and the outputs the
/// reference engine computed on them.
#[derive(Debug, Clone)]
pub struct Golden {
    pub inputs: Vec<Tensor>,
    pub outputs: Vec<Tensor>,
}

/// A generated project: relative paths and contents.
#[derive(Debug, Clone)]
pub struct Project {
    pub files: Vec<(String, Vec<u8>)>,
    /// One line per engine call and unit, for the user.
    pub summary: String,
}

/// One port of the top function.
#[derive(Debug, Clone)]
pub(crate) struct Port {
    pub name: String,
    pub class: Class,
    pub elements: u64,
    pub external: String,
}

/// Translates `func` into a project.
pub fn generate(
    module: &Module,
    func: &Function,
    golden: &Golden,
    opts: &HlsOptions,
) -> Result<Project, Vec<Diagnostic>> {
    opts.tiling.check().map_err(|m| vec![Diagnostic::error(m, func.span)])?;
    let mut e = emit::Emitter::new(module, func, opts.tiling);
    let inputs = input_ports(&mut e, func).map_err(|d| vec![d])?;
    let body = func.blocks.get(func.body).map(|b| b.ops.clone()).unwrap_or_default();
    let mut errors = Vec::new();
    let mut ret = None;
    for op in body {
        if func.ops[op].name() == "builtin.return" {
            ret = Some(op);
            continue;
        }
        if let Err(d) = e.emit_op(op) {
            errors.push(d);
        }
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    let ret = ret.ok_or_else(|| vec![Diagnostic::error(format!("@{} has no return", func.name), func.span)])?;
    let outputs = output_ports(&mut e, func, ret).map_err(|d| vec![d])?;
    project::assemble(e, &inputs, &outputs, golden, opts).map_err(|m| vec![Diagnostic::error(m, Span::NONE)])
}

fn input_ports(e: &mut emit::Emitter, func: &Function) -> Result<Vec<Port>, Diagnostic> {
    let names = input_names(func);
    let mut ports = Vec::new();
    for (i, &v) in func.args().iter().enumerate() {
        let external = names.get(i).cloned().unwrap_or_else(|| format!("arg{i}"));
        let (shape, elem) = e.tensor(v).map_err(|m| arg_error(func, &external, m))?;
        let class = class_of(elem).map_err(|m| arg_error(func, &external, m))?;
        let name = e.storage.names.fresh("in_", &external);
        e.storage.set(v, Place::Input { class, name: name.clone() });
        ports.push(Port { name, class, elements: shape.iter().product(), external });
    }
    Ok(ports)
}

fn output_ports(e: &mut emit::Emitter, func: &Function, ret: weft_ir::Op) -> Result<Vec<Port>, Diagnostic> {
    let names = output_names(func);
    let data = &func.ops[ret];
    let mut ports = Vec::new();
    let mut copies = String::new();
    for (i, &v) in data.operands.iter().enumerate() {
        let external = names.get(i).cloned().unwrap_or_else(|| format!("result{i}"));
        let (shape, elem) = e.tensor(v).map_err(|m| arg_error(func, &external, m))?;
        let class = class_of(elem).map_err(|m| arg_error(func, &external, m))?;
        let name = e.storage.names.fresh("out_", &external);
        let n: u64 = shape.iter().product();
        let read = e.read(v, "i").map_err(|m| arg_error(func, &external, m))?;
        copies.push_str(&format!(
            "  for (long long i = 0; i < {n}LL; ++i) {{\n#pragma HLS PIPELINE II=1\n    {name}[i] = {read};\n  }}\n"
        ));
        ports.push(Port { name, class, elements: n, external });
    }
    e.body.push_str("  // outputs\n");
    e.body.push_str(&copies);
    Ok(ports)
}

fn arg_error(func: &Function, name: &str, message: impl std::fmt::Display) -> Diagnostic {
    Diagnostic::error(format!("'{name}' of @{}: {message}", func.name), func.span).with_loc(func.loc.clone())
}
