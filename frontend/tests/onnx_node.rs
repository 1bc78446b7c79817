//! ONNX backend node conformance: every case of testsuite/onnx-node/cases.txt
//! is read, imported (default options, no bound shapes), verified and run by
//! the reference interpreter on its `test_data_set_0` inputs; each output
//! must match the expected `output_<i>.pb` (same element type and shape,
//! floats within rtol 1e-3 / atol 1e-7 with NaN equal to NaN, integers and
//! bools exactly). Every case also goes once through weft text: the
//! imported module is printed, parsed back with the onnx dialect, verified
//! and run again: it must print the same text and give the same outputs bit
//! for bit. onnx writes bfloat16 test data as UINT16 tensors of the same
//! bits; where the model declares bf16, such data is read as bf16.
//!
//! A case listed in testsuite/onnx-node/exclusions.txt (`<case> <reason>`)
//! is expected to fail and counted as excluded; it is still run, and an
//! excluded case that passes is a failure, so the list only names known
//! limitations. The test prints one
//! line per failure and then `N passed, M failed, K excluded`.

use half::bf16;
use std::collections::BTreeMap;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use weft_frontend::import::{import_model, ImportOptions};
use weft_frontend::onnx::{read_model, read_tensor_pb, OnnxModel};
use weft_ir::diag::render_all;
use weft_ir::interp::run_function;
use weft_ir::parser::parse_str;
use weft_ir::printer::print_module;
use weft_ir::resources::Resources;
use weft_ir::tensor::Scalar;
use weft_ir::verify::verify_module;
use weft_ir::{Context, Diagnostic, ElemType, Module, SourceMap, Tensor, TensorData, Type};

const RTOL: f64 = 1e-3;
const ATOL: f64 = 1e-7;

fn suite_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../testsuite/onnx-node")
}

fn context() -> Context {
    let mut ctx = Context::default();
    ctx.register(&weft_frontend::dialect::DIALECT);
    ctx
}

/// The case names of cases.txt (first word of each line).
fn read_cases(dir: &Path) -> Vec<String> {
    let text = fs::read_to_string(dir.join("cases.txt")).unwrap_or_else(|e| panic!("cannot read cases.txt: {e}"));
    text.lines().filter_map(|l| l.split_whitespace().next()).map(str::to_string).collect()
}

/// exclusions.txt: case name -> reason; `#` lines and blank lines ignored.
fn read_exclusions(dir: &Path) -> BTreeMap<String, String> {
    let text = fs::read_to_string(dir.join("exclusions.txt")).unwrap_or_default();
    let mut map = BTreeMap::new();
    for line in text.lines().map(str::trim).filter(|l| !l.is_empty() && !l.starts_with('#')) {
        let (case, reason) = line.split_once(char::is_whitespace).unwrap_or((line, ""));
        let reason = reason.trim();
        assert!(!reason.is_empty(), "exclusions.txt: '{case}' has no reason");
        assert!(map.insert(case.to_string(), reason.to_string()).is_none(), "exclusions.txt: '{case}' listed twice");
    }
    map
}

fn diag_text(diags: &[Diagnostic], sources: &SourceMap) -> String {
    render_all(diags, sources).lines().next().unwrap_or_default().to_string()
}

/// The tensors `test_data_set_0/<prefix>_<i>.pb`, i = 0, 1, ... in order.
fn read_data(case_dir: &Path, prefix: &str) -> Result<Vec<Tensor>, String> {
    let data = case_dir.join("test_data_set_0");
    let mut tensors = Vec::new();
    loop {
        let path = data.join(format!("{prefix}_{}.pb", tensors.len()));
        if !path.exists() {
            return Ok(tensors);
        }
        let (_, t) = read_tensor_pb(&path).map_err(|d| d.message)?;
        tensors.push(t);
    }
}

/// onnx stores bfloat16 test data as UINT16 tensors of the same bits
/// (numpy has no bfloat16): such a tensor where the model declares bf16 is
/// read as bf16.
fn as_declared(tensors: Vec<Tensor>, declared: &[Type]) -> Vec<Tensor> {
    let u16_elem = ElemType::Int { width: 16, signed: false };
    tensors
        .into_iter()
        .zip(declared.iter().map(Some).chain(std::iter::repeat(None)))
        .map(|(t, ty)| match (ty.and_then(Type::as_tensor), &t.data) {
            (Some(ty), TensorData::Int(bits)) if ty.elem == ElemType::BF16 && t.elem == u16_elem => {
                let data = TensorData::BF16(bits.iter().map(|&b| bf16::from_bits(b as u16)).collect());
                Tensor { elem: ElemType::BF16, shape: t.shape, data }
            }
            _ => t,
        })
        .collect()
}

fn run(module: &Module, inputs: Vec<Tensor>, what: &str) -> Result<Vec<Tensor>, String> {
    let func = module.funcs.first().ok_or_else(|| format!("{what}: no function"))?;
    run_function(module, func, inputs).map_err(|d| format!("{what}: run: {}", d.message))
}

/// Runs one case; Err is the reason it fails.
fn run_case(ctx: &Context, case_dir: &Path) -> Result<(), String> {
    let model = read_model(&case_dir.join("model.onnx")).map_err(|d| format!("read: {}", d.message))?;
    let module = import_model(&model, ctx, &ImportOptions::default())
        .map_err(|d| format!("import: {}", diag_text(&d, &SourceMap::default())))?;
    verify_module(&module).map_err(|d| format!("verify: {}", diag_text(&d, &SourceMap::default())))?;
    let func = module.funcs.first().ok_or("the imported module has no function")?;
    let inputs = as_declared(read_data(case_dir, "input")?, &func.arg_types());
    let expected = as_declared(read_data(case_dir, "output")?, &func.results);
    let actual = run(&module, inputs.clone(), "imported module")?;
    compare_outputs(&actual, &expected)?;
    let reparsed = text_round_trip(ctx, module)?;
    let again = run(&reparsed, inputs.clone(), "module parsed from text")?;
    same_outputs(&actual, &again)?;
    let from_resources = resources_round_trip(ctx, &model, case_dir)?;
    let again = run(&from_resources, inputs, "module with every initializer as a resource")?;
    same_outputs(&actual, &again)
}

/// Imports with every initializer as a resource (none inline), writes the
/// resources to a safetensors file and reads them back: what `weft import`
/// and `weft run model.weft` do with real weights.
fn resources_round_trip(ctx: &Context, model: &OnnxModel, case_dir: &Path) -> Result<Module, String> {
    let opts = ImportOptions { inline_limit: 0, ..ImportOptions::default() };
    let mut module = import_model(model, ctx, &opts)
        .map_err(|d| format!("import (resources): {}", diag_text(&d, &SourceMap::default())))?;
    if module.resources.is_empty() {
        return Ok(module);
    }
    let name = case_dir.file_name().and_then(|n| n.to_str()).unwrap_or("case");
    let path = std::env::temp_dir().join(format!("weft-onnx-node-{}-{name}.safetensors", std::process::id()));
    module.resources.save(&path)?;
    let loaded = Resources::load(&path);
    let _ = std::fs::remove_file(&path);
    module.resources = loaded?;
    verify_module(&module).map_err(|d| format!("verify (resources): {}", diag_text(&d, &SourceMap::default())))?;
    Ok(module)
}

/// Prints `module`, parses and verifies the text; the parsed module takes
/// over the original's resources (weft text refers to them by name).
fn text_round_trip(ctx: &Context, mut module: Module) -> Result<Module, String> {
    let text = print_module(&module);
    let (sources, parsed) = parse_str(ctx, "roundtrip.weft", &text);
    let mut parsed = parsed.map_err(|d| format!("text round trip: parse: {}", diag_text(&d, &sources)))?;
    verify_module(&parsed).map_err(|d| format!("text round trip: verify: {}", diag_text(&d, &sources)))?;
    if print_module(&parsed) != text {
        return Err("text round trip: the parsed module prints differently from the imported one".to_string());
    }
    parsed.resources = std::mem::take(&mut module.resources);
    Ok(parsed)
}

fn compare_outputs(actual: &[Tensor], expected: &[Tensor]) -> Result<(), String> {
    if actual.len() != expected.len() {
        return Err(format!("{} outputs, expected {}", actual.len(), expected.len()));
    }
    for (i, (a, e)) in actual.iter().zip(expected).enumerate() {
        compare_tensor(a, e).map_err(|m| format!("output {i}: {m}"))?;
    }
    Ok(())
}

fn compare_tensor(a: &Tensor, e: &Tensor) -> Result<(), String> {
    if a.elem != e.elem {
        return Err(format!("element type {}, expected {}", a.elem, e.elem));
    }
    if a.shape != e.shape {
        return Err(format!("shape {:?}, expected {:?}", a.shape, e.shape));
    }
    if a.data.len() != e.data.len() {
        return Err(format!("{} elements, expected {}", a.data.len(), e.data.len()));
    }
    let mut bad = Vec::new();
    for i in 0..a.data.len() {
        if !close(a.data.get(i), e.data.get(i)) {
            bad.push(i);
        }
    }
    match bad.first() {
        None => Ok(()),
        Some(&i) => Err(format!(
            "{} of {} elements differ; first at flat index {i}: {:?}, expected {:?}",
            bad.len(),
            a.data.len(),
            a.data.get(i),
            e.data.get(i)
        )),
    }
}

/// `|a - e| <= atol + rtol * |e|` for floats (NaN equals NaN, infinities
/// equal only themselves), equality for integers.
fn close(a: Scalar, e: Scalar) -> bool {
    match (a, e) {
        (Scalar::Int(a), Scalar::Int(e)) => a == e,
        (Scalar::Float(a), Scalar::Float(e)) => {
            if a.is_nan() || e.is_nan() {
                a.is_nan() && e.is_nan()
            } else if a.is_infinite() || e.is_infinite() {
                a == e
            } else {
                (a - e).abs() <= ATOL + RTOL * e.abs()
            }
        }
        _ => false,
    }
}

/// The outputs of the two runs must agree bit for bit.
fn same_outputs(first: &[Tensor], second: &[Tensor]) -> Result<(), String> {
    let same = first.len() == second.len()
        && first.iter().zip(second).all(|(a, b)| a.elem == b.elem && a.shape == b.shape && same_bits(&a.data, &b.data));
    if same {
        Ok(())
    } else {
        Err("text round trip: the module parsed from its text gives different outputs".to_string())
    }
}

fn same_bits(a: &TensorData, b: &TensorData) -> bool {
    fn eq<T>(a: &[T], b: &[T], bits: impl Fn(&T) -> u64) -> bool {
        a.len() == b.len() && a.iter().zip(b).all(|(x, y)| bits(x) == bits(y))
    }
    match (a, b) {
        (TensorData::F16(a), TensorData::F16(b)) => eq(a, b, |x| x.to_bits().into()),
        (TensorData::BF16(a), TensorData::BF16(b)) => eq(a, b, |x| x.to_bits().into()),
        (TensorData::F32(a), TensorData::F32(b)) => eq(a, b, |x| x.to_bits().into()),
        (TensorData::F64(a), TensorData::F64(b)) => eq(a, b, |x| x.to_bits()),
        (TensorData::Int(a), TensorData::Int(b)) => a == b,
        _ => false,
    }
}

#[test]
fn onnx_backend_node_cases() {
    let dir = suite_dir();
    let ctx = context();
    let cases = read_cases(&dir);
    let mut exclusions = read_exclusions(&dir);
    let (mut passed, mut failed, mut excluded) = (0, 0, 0);
    // Written to stdout directly, not through the test harness's capture,
    // so that the summary shows in every run.
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out);
    for case in &cases {
        let result = run_case(&ctx, &dir.join(case));
        match (exclusions.remove(case), result) {
            (None, Ok(())) => passed += 1,
            (None, Err(reason)) => {
                failed += 1;
                let _ = writeln!(out, "FAIL {case}: {reason}");
            }
            (Some(_), Ok(())) => {
                failed += 1;
                let _ = writeln!(out, "FAIL {case}: excluded but passes: remove it from exclusions.txt");
            }
            (Some(_), Err(_)) => excluded += 1,
        }
    }
    for case in exclusions.keys() {
        failed += 1;
        let _ = writeln!(out, "FAIL {case}: listed in exclusions.txt but not in cases.txt");
    }
    let _ = writeln!(out, "{passed} passed, {failed} failed, {excluded} excluded");
    drop(out);
    assert_eq!(failed, 0, "{failed} ONNX node cases failed (see the lines above)");
}
